package comply

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Framework ids of the built-in catalogs.
const (
	FrameworkISO27001 = "iso27001-2022"
	FrameworkNIS2     = "nis2-art21"
	FrameworkGDPR     = "gdpr-art32-34"
	FrameworkTISAX    = "tisax"
)

// Catalog is a framework's list of requirements. Built-in catalogs are
// written for wacht and embedded; TISAX and OSCAL catalogs are imported by a
// tenant from its own copies.
type Catalog struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Short string `json:"short"`
	// Licence says under which terms the catalog's content is used.
	Licence string `json:"licence"`
	// NoRequirementText: the catalog must hold ids and short titles only
	// (copyrighted standards: ISO, TISAX); a test enforces it.
	NoRequirementText bool `json:"no_requirement_text,omitempty"`
	// SoA: the catalog is the basis of a Statement of Applicability.
	SoA bool `json:"soa,omitempty"`
	// Source is "builtin", "tisax-workbook" or "oscal".
	Source       string        `json:"source,omitempty"`
	Requirements []Requirement `json:"requirements"`
}

// Requirement is one control, article point or question.
type Requirement struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Group is the theme, clause or chapter.
	Group string `json:"group,omitempty"`
	// Text is the requirement's wording where its licence allows it
	// (EU law); empty for ISO and TISAX.
	Text string `json:"text,omitempty"`
	// National names the national transposition (BSIG § 30 Abs. 2 Nr. n).
	National string `json:"national,omitempty"`
	// New marks controls introduced by the catalog's revision.
	New bool `json:"new,omitempty"`
	// MaturityTarget is TISAX's target maturity level (0–5), if any.
	MaturityTarget int `json:"maturity_target,omitempty"`
}

// Find returns the requirement with id.
func (c *Catalog) Find(id string) (Requirement, bool) {
	for _, r := range c.Requirements {
		if r.ID == id {
			return r, true
		}
	}
	return Requirement{}, false
}

//go:embed catalogs/*.json
var catalogFiles embed.FS

// BuiltinCatalogs returns the embedded catalogs, sorted by id.
func BuiltinCatalogs() ([]*Catalog, error) {
	ents, err := catalogFiles.ReadDir("catalogs")
	if err != nil {
		return nil, fmt.Errorf("read embedded catalogs: %w", err)
	}
	var out []*Catalog
	for _, e := range ents {
		b, err := catalogFiles.ReadFile(path.Join("catalogs", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read catalog %s: %w", e.Name(), err)
		}
		c := new(Catalog)
		if err := json.Unmarshal(b, c); err != nil {
			return nil, fmt.Errorf("decode catalog %s: %w", e.Name(), err)
		}
		c.Source = "builtin"
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("catalog %s: %w", e.Name(), err)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Validate checks ids are present and unique and that a catalog marked
// NoRequirementText carries none.
func (c *Catalog) Validate() error {
	if c.ID == "" || c.Name == "" {
		return invalidf("catalog needs an id and a name")
	}
	if c.Licence == "" {
		return invalidf("catalog %s has no licence", c.ID)
	}
	seen := map[string]bool{}
	for _, r := range c.Requirements {
		if r.ID == "" {
			return invalidf("catalog %s: requirement without id", c.ID)
		}
		if seen[r.ID] {
			return invalidf("catalog %s: duplicate requirement %s", c.ID, r.ID)
		}
		seen[r.ID] = true
		if c.NoRequirementText {
			if err := titleOnly(r); err != nil {
				return fmt.Errorf("catalog %s requirement %s: %w", c.ID, r.ID, err)
			}
		}
	}
	return nil
}

// maxTitleWords bounds a short title: ISO's longest Annex A title has 13
// words; a control's text runs to several sentences.
const maxTitleWords = 16

// titleOnly reports requirement text in a catalog that may carry only ids
// and short titles.
func titleOnly(r Requirement) error {
	if r.Text != "" {
		return invalidf("carries requirement text")
	}
	if n := len(strings.Fields(r.Title)); n > maxTitleWords {
		return invalidf("title has %d words: looks like requirement text, keep a short title", n)
	}
	if strings.ContainsAny(r.Title, ".;") && strings.Count(r.Title, " ") > 6 {
		return invalidf("title reads like a sentence: keep a short title")
	}
	for _, w := range []string{" shall ", " should ", " must "} {
		if strings.Contains(" "+strings.ToLower(r.Title)+" ", w) {
			return invalidf("title contains %q: looks like requirement text", strings.TrimSpace(w))
		}
	}
	return nil
}
