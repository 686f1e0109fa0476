package comply

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Catalog sources.
const (
	SourceBuiltin = "builtin"
	SourceTISAX   = "tisax-workbook"
	SourceOSCAL   = "oscal"
)

// MaxImportSize bounds an imported workbook or OSCAL catalog.
const MaxImportSize = 64 << 20

var isaQuestionID = regexp.MustCompile(`^\d{1,2}(\.\d{1,2}){1,3}$`)

// ImportTISAX reads the tenant's own copy of the VDA ISA workbook (which
// may not be redistributed) and stores a catalog with question ids, short
// titles (the question cut to maxTitleWords words) and target maturity
// levels; the requirement texts ("must", "should", "for high protection
// needs") are never read. Where the workbook holds the tenant's maturity
// levels, they become assessments. It returns the catalog and how many
// assessments it set.
func (s *Service) ImportTISAX(ctx context.Context, tenant string, r io.Reader, actor string) (*Catalog, int, error) {
	cat, levels, err := ParseTISAX(r)
	if err != nil {
		return nil, 0, err
	}
	if err := s.SaveCatalog(ctx, tenant, cat, actor); err != nil {
		return nil, 0, err
	}
	existing, err := s.Assessments(ctx, tenant, cat.ID)
	if err != nil {
		return nil, 0, err
	}
	n := 0
	for _, q := range cat.Requirements {
		lvl, ok := levels[q.ID]
		if !ok {
			continue
		}
		a := existing[q.ID]
		if a.Version == 0 {
			a = Assessment{Framework: cat.ID, Requirement: q.ID, Applicable: true}
		}
		a.Maturity = lvl
		if _, err := s.SetAssessment(ctx, tenant, a, actor); err != nil {
			return nil, n, err
		}
		n++
	}
	return cat, n, nil
}

// ParseTISAX reads a VDA ISA workbook: on every sheet it looks for a header
// row naming the question id column ("Control number", "ISA-ID",
// "Kontrollnummer", "ID") and the question column ("Control question",
// "Kontrollfrage", "Question"), with optional "Target maturity level" /
// "Ziel-Reifegrad" and "Maturity level" / "Reifegrad" columns. It returns
// the catalog and the tenant's maturity levels by question id.
func ParseTISAX(r io.Reader) (*Catalog, map[string]int, error) {
	f, err := excelize.OpenReader(io.LimitReader(r, MaxImportSize))
	if err != nil {
		return nil, nil, invalidf("read TISAX workbook: %v", err)
	}
	defer f.Close()
	cat := &Catalog{ID: FrameworkTISAX, Name: "TISAX / VDA ISA (imported from the tenant's workbook)", Short: "TISAX",
		Licence: "Imported from the tenant's own copy of the VDA ISA workbook, which the VDA does not allow to be " +
			"redistributed: question ids and short titles only, kept in this tenant, never shipped with wacht.",
		NoRequirementText: true, Source: SourceTISAX}
	levels := map[string]int{}
	seen := map[string]bool{}
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet)
		if err != nil {
			return nil, nil, invalidf("read sheet %s: %v", sheet, err)
		}
		cols, start := tisaxHeader(rows)
		if start < 0 {
			continue
		}
		for _, row := range rows[start:] {
			id := strings.TrimSpace(cell(row, cols.id))
			if !isaQuestionID.MatchString(id) || seen[id] {
				continue
			}
			seen[id] = true
			q := Requirement{ID: id, Title: shortTitle(cell(row, cols.question)), Group: sheet}
			if v, err := strconv.Atoi(strings.TrimSpace(cell(row, cols.target))); err == nil && v >= 0 && v <= 5 {
				q.MaturityTarget = v
			}
			if v, err := strconv.Atoi(strings.TrimSpace(cell(row, cols.level))); err == nil && v >= 0 && v <= 5 {
				levels[id] = v
			}
			cat.Requirements = append(cat.Requirements, q)
		}
	}
	if len(cat.Requirements) == 0 {
		return nil, nil, invalidf("no ISA questions found: want a sheet with columns \"Control number\" and \"Control question\"")
	}
	return cat, levels, nil
}

type tisaxCols struct{ id, question, target, level int }

func tisaxHeader(rows [][]string) (tisaxCols, int) {
	for i, row := range rows {
		if i > 50 {
			break
		}
		c := tisaxCols{-1, -1, -1, -1}
		for j, v := range row {
			h := strings.ToLower(strings.Join(strings.Fields(v), " "))
			switch {
			case h == "control number" || h == "isa-id" || h == "kontrollnummer" || h == "id" || h == "nr." || h == "number":
				c.id = j
			case strings.Contains(h, "control question") || strings.Contains(h, "kontrollfrage") || h == "question":
				c.question = j
			case strings.Contains(h, "target maturity") || strings.Contains(h, "ziel-reifegrad") || strings.Contains(h, "zielreifegrad"):
				c.target = j
			case strings.Contains(h, "maturity level") || h == "reifegrad" || h == "result" || h == "ergebnis":
				c.level = j
			}
		}
		if c.id >= 0 && c.question >= 0 {
			return c, i + 1
		}
	}
	return tisaxCols{}, -1
}

func cell(row []string, i int) string {
	if i < 0 || i >= len(row) {
		return ""
	}
	return row[i]
}

// shortTitle keeps a question's first maxTitleWords words.
func shortTitle(s string) string {
	w := strings.Fields(s)
	if len(w) > maxTitleWords {
		w = append(w[:maxTitleWords-1], "…")
	}
	return strings.Join(w, " ")
}

// ImportOSCAL reads an OSCAL catalog (JSON) and stores it as the catalog
// id (derived from the title when empty). Controls keep their ids, titles
// and group; prose is not copied, so that licensing stays with the
// catalog's publisher.
func (s *Service) ImportOSCAL(ctx context.Context, tenant, id string, r io.Reader, actor string) (*Catalog, error) {
	cat, err := ParseOSCALCatalog(r, id)
	if err != nil {
		return nil, err
	}
	if err := s.SaveCatalog(ctx, tenant, cat, actor); err != nil {
		return nil, err
	}
	return cat, nil
}

type oscalControl struct {
	ID       string         `json:"id"`
	Title    string         `json:"title"`
	Controls []oscalControl `json:"controls"`
}

type oscalGroup struct {
	ID       string         `json:"id"`
	Title    string         `json:"title"`
	Groups   []oscalGroup   `json:"groups"`
	Controls []oscalControl `json:"controls"`
}

// ParseOSCALCatalog decodes an OSCAL catalog document.
func ParseOSCALCatalog(r io.Reader, id string) (*Catalog, error) {
	var doc struct {
		Catalog *struct {
			UUID     string `json:"uuid"`
			Metadata struct {
				Title   string `json:"title"`
				Version string `json:"version"`
				Remarks string `json:"remarks"`
			} `json:"metadata"`
			Groups   []oscalGroup   `json:"groups"`
			Controls []oscalControl `json:"controls"`
		} `json:"catalog"`
	}
	if err := json.NewDecoder(io.LimitReader(r, MaxImportSize)).Decode(&doc); err != nil {
		return nil, invalidf("decode OSCAL catalog: %v", err)
	}
	if doc.Catalog == nil {
		return nil, invalidf("not an OSCAL catalog: no \"catalog\" object")
	}
	md := doc.Catalog.Metadata
	if id == "" {
		id = "oscal-" + slug(md.Title)
	}
	if !checkID.MatchString(id) {
		return nil, invalidf("catalog id %q: lower-case letters, digits, '.', '_', '-'", id)
	}
	name := md.Title
	if md.Version != "" {
		name += " " + md.Version
	}
	cat := &Catalog{ID: id, Name: name, Short: md.Title, Source: SourceOSCAL,
		Licence: fmt.Sprintf("Imported by the tenant from an OSCAL catalog (uuid %s); terms as set by its publisher. Control prose is not copied.", doc.Catalog.UUID)}
	var walkControls func(group string, cs []oscalControl)
	walkControls = func(group string, cs []oscalControl) {
		for _, c := range cs {
			cat.Requirements = append(cat.Requirements, Requirement{ID: c.ID, Title: c.Title, Group: group})
			walkControls(group, c.Controls)
		}
	}
	var walkGroups func(gs []oscalGroup)
	walkGroups = func(gs []oscalGroup) {
		for _, g := range gs {
			title := g.Title
			if title == "" {
				title = g.ID
			}
			walkControls(title, g.Controls)
			walkGroups(g.Groups)
		}
	}
	walkControls("", doc.Catalog.Controls)
	walkGroups(doc.Catalog.Groups)
	if len(cat.Requirements) == 0 {
		return nil, invalidf("OSCAL catalog has no controls")
	}
	if err := cat.Validate(); err != nil {
		return nil, err
	}
	return cat, nil
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	s = strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	if s == "" {
		s = "catalog"
	}
	return s
}
