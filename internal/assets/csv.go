package assets

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// CSVHeader is the column order of ExportCSV; ImportCSV accepts these
// columns in any order (name or at least one identifier column required).
// Identifiers are "type=value" pairs separated by spaces.
var CSVHeader = []string{"id", "kind", "name", "identifiers", "owner", "team", "business_service", "environment",
	"criticality", "exposure", "data_classification", "mission_prevalence", "lifecycle", "os", "tags", "first_seen", "last_seen"}

// ImportResult counts what ImportCSV did.
type ImportResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
}

// ImportCSV reads assets from CSV (with a header row): each row is observed
// (merged by identifiers) and its attributes set. Errors name the row.
func (s *Service) ImportCSV(ctx context.Context, tenant string, r io.Reader) (ImportResult, error) {
	var res ImportResult
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return res, fmt.Errorf("%w: read csv header: %v", ErrInvalid, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	if _, ok := col["name"]; !ok {
		if _, ok := col["identifiers"]; !ok {
			return res, fmt.Errorf("%w: csv needs a name or identifiers column", ErrInvalid)
		}
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("%w: csv line %d: %v", ErrInvalid, line, err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		o := Observation{Kind: Kind(get("kind")), Name: get("name"), OS: get("os"), Source: "csv"}
		for _, pair := range strings.Fields(get("identifiers")) {
			t, v, ok := strings.Cut(pair, "=")
			if !ok {
				return res, fmt.Errorf("%w: csv line %d: identifier %q, want type=value", ErrInvalid, line, pair)
			}
			o.Identifiers = append(o.Identifiers, Identifier{Type: t, Value: v})
		}
		if o.Kind != "" && !o.Kind.Valid() {
			return res, fmt.Errorf("%w: csv line %d: kind %q", ErrInvalid, line, o.Kind)
		}
		var p Patch
		if o.Kind != "" {
			p.Kind = &o.Kind
		}
		if c := get("criticality"); c != "" {
			n, err := strconv.Atoi(c)
			if err != nil {
				return res, fmt.Errorf("%w: csv line %d: criticality %q", ErrInvalid, line, c)
			}
			cr := Criticality(n)
			p.Criticality = &cr
		}
		if e := get("exposure"); e != "" {
			x := Exposure(e)
			p.Exposure = &x
		}
		str := func(name string) *string {
			if v := get(name); v != "" {
				return &v
			}
			return nil
		}
		p.Owner, p.Team, p.BusinessService, p.Environment = str("owner"), str("team"), str("business_service"), str("environment")
		p.DataClass, p.MissionPrevalence, p.Lifecycle = str("data_classification"), str("mission_prevalence"), str("lifecycle")
		if t := get("tags"); t != "" {
			tags := strings.Split(t, ",")
			p.Tags = &tags
		}
		var a Asset
		if id := get("id"); id != "" {
			if a, err = s.Get(ctx, tenant, id); err != nil {
				return res, fmt.Errorf("csv line %d: %w", line, err)
			}
			res.Updated++
		} else {
			var created bool
			if a, created, err = s.Observe(ctx, tenant, o); err != nil {
				return res, fmt.Errorf("csv line %d: %w", line, err)
			}
			if created {
				res.Created++
			} else {
				res.Updated++
			}
		}
		if _, err := s.Update(ctx, tenant, a.ID, a.Version, p); err != nil {
			return res, fmt.Errorf("csv line %d: %w", line, err)
		}
	}
}

// ExportCSV writes every asset of tenant in CSVHeader order.
func (s *Service) ExportCSV(ctx context.Context, tenant string, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for off := 0; ; off += 1000 {
		page, err := s.List(ctx, tenant, Filter{Limit: 1000, Offset: off})
		if err != nil {
			return err
		}
		for _, a := range page {
			full, err := s.Get(ctx, tenant, a.ID)
			if err != nil {
				return err
			}
			var ids []string
			for _, x := range full.Identifiers {
				ids = append(ids, x.Type+"="+x.Value)
			}
			rec := []string{a.ID, string(a.Kind), a.Name, strings.Join(ids, " "), a.Owner, a.Team, a.BusinessService, a.Environment,
				strconv.Itoa(int(a.Criticality)), string(a.Exposure), a.DataClass, a.MissionPrevalence, a.Lifecycle, a.OS,
				strings.Join(a.Tags, ","), a.FirstSeen.Format("2006-01-02T15:04:05Z07:00"), a.LastSeen.Format("2006-01-02T15:04:05Z07:00")}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		if len(page) < 1000 {
			break
		}
	}
	cw.Flush()
	return cw.Error()
}
