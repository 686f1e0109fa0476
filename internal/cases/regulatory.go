package cases

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Regime is a legal reporting regime.
type Regime string

// Regimes.
const (
	RegimeNIS2 Regime = "nis2"
	RegimeGDPR Regime = "gdpr"
	RegimeDORA Regime = "dora"
)

// Valid reports a known regime.
func (r Regime) Valid() bool {
	switch r {
	case RegimeNIS2, RegimeGDPR, RegimeDORA:
		return true
	}
	return false
}

// Anchor is the event a stage's deadline runs from.
type Anchor string

// Anchors.
const (
	AnchorAware      Anchor = "aware"
	AnchorClassified Anchor = "classified"
	AnchorSubmitted  Anchor = "submitted"
	AnchorRequest    Anchor = "request"
	// AnchorOngoing: due when the After stage falls due while the
	// incident is still open, replacing it (NIS2 progress report).
	AnchorOngoing Anchor = "ongoing"
	// AnchorHandled: runs from the incident's closing.
	AnchorHandled Anchor = "handled"
)

// ContentSource names the incident fact that fills a report item.
type ContentSource string

// Content sources.
const (
	SrcSuspectedMalicious ContentSource = "suspected_malicious"
	SrcCrossBorder        ContentSource = "cross_border"
	SrcUpdate             ContentSource = "update"
	SrcInitialAssessment  ContentSource = "initial_assessment"
	SrcIOCs               ContentSource = "iocs"
	SrcStatusUpdate       ContentSource = "status_update"
	SrcDescription        ContentSource = "description"
	SrcRootCause          ContentSource = "root_cause"
	SrcMitigation         ContentSource = "mitigation"
	SrcBreachNature       ContentSource = "breach_nature"
	SrcDPOContact         ContentSource = "dpo_contact"
	SrcConsequences       ContentSource = "consequences"
	SrcMeasures           ContentSource = "measures"
	SrcDelayReason        ContentSource = "delay_reason"
)

// Period is an ISO 8601 duration with calendar months (P1M) kept apart
// from fixed time.
type Period struct {
	Months int
	Fixed  time.Duration
}

// AddTo returns t plus the period (months on the calendar, in UTC).
func (p Period) AddTo(t time.Time) time.Time { return t.AddDate(0, p.Months, 0).Add(p.Fixed) }

// Approx is the period as a duration (a month as 30 days), for warnings.
func (p Period) Approx() time.Duration { return time.Duration(p.Months)*30*24*time.Hour + p.Fixed }

// String renders the period in ISO 8601.
func (p Period) String() string {
	if p.IsZero() {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteByte('P')
	if p.Months > 0 {
		fmt.Fprintf(&b, "%dM", p.Months)
	}
	if d := p.Fixed; d > 0 {
		if days := d / (24 * time.Hour); days > 0 {
			fmt.Fprintf(&b, "%dD", days)
			d -= days * 24 * time.Hour
		}
		if d > 0 {
			b.WriteByte('T')
			if h := d / time.Hour; h > 0 {
				fmt.Fprintf(&b, "%dH", h)
				d -= h * time.Hour
			}
			if m := d / time.Minute; m > 0 {
				fmt.Fprintf(&b, "%dM", m)
				d -= m * time.Minute
			}
			if d > 0 {
				fmt.Fprintf(&b, "%dS", d/time.Second)
			}
		}
	}
	return b.String()
}

// MarshalText implements encoding.TextMarshaler (JSON shows ISO 8601).
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// IsZero reports no deadline.
func (p Period) IsZero() bool { return p.Months == 0 && p.Fixed == 0 }

var isoPeriod = regexp.MustCompile(`^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)

// ParsePeriod reads an ISO 8601 duration (PT24H, P1M, P30D).
func ParsePeriod(s string) (Period, error) {
	m := isoPeriod.FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" {
		return Period{}, fmt.Errorf("period %q: want an ISO 8601 duration like PT24H or P1M", s)
	}
	n := func(i int) int {
		v, _ := strconv.Atoi(m[i])
		return v
	}
	return Period{Months: n(1)*12 + n(2), Fixed: time.Duration(n(3))*7*24*time.Hour + time.Duration(n(4))*24*time.Hour +
		time.Duration(n(5))*time.Hour + time.Duration(n(6))*time.Minute + time.Duration(n(7))*time.Second}, nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (p *Period) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParsePeriod(n.Value)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ContentItem is one thing a report must contain.
type ContentItem struct {
	Item string        `yaml:"item" json:"item"`
	From ContentSource `yaml:"from" json:"from"`
}

// Cap bounds a deadline by a second anchor (DORA: no later than 24 h after
// awareness).
type Cap struct {
	Anchor   Anchor `yaml:"anchor" json:"anchor"`
	Deadline Period `yaml:"deadline" json:"deadline"`
}

// StageDef is one reporting stage of a regime.
type StageDef struct {
	ID                   string        `yaml:"id" json:"id"`
	Ref                  string        `yaml:"ref" json:"ref"`
	Anchor               Anchor        `yaml:"anchor" json:"anchor"`
	After                string        `yaml:"after" json:"after,omitempty"`
	Deadline             Period        `yaml:"deadline" json:"-"`
	DeadlineTrustService *Period       `yaml:"deadline_trust_service" json:"-"`
	HardCap              *Cap          `yaml:"hard_cap" json:"hard_cap,omitempty"`
	Contents             []ContentItem `yaml:"contents" json:"contents"`
}

// RegimeDef is a regime with its stages in order.
type RegimeDef struct {
	ID         Regime     `yaml:"id" json:"id"`
	Name       string     `yaml:"name" json:"name"`
	LegalBasis string     `yaml:"legal_basis" json:"legal_basis"`
	Recipient  string     `yaml:"recipient" json:"recipient"`
	Stages     []StageDef `yaml:"stages" json:"stages"`
}

// Catalog is the set of regimes.
type Catalog struct {
	Regimes []RegimeDef `yaml:"regimes" json:"regimes"`
}

//go:embed regulatory.yaml
var catalogYAML []byte

// EmbeddedCatalog is the built-in catalog; it is checked at start, so a
// broken one is a programming error.
func EmbeddedCatalog() *Catalog {
	c, err := ParseCatalog(catalogYAML)
	if err != nil {
		panic("cases: embedded regulatory catalog: " + err.Error())
	}
	return c
}

// ParseCatalog reads and checks a catalog.
func ParseCatalog(b []byte) (*Catalog, error) {
	var c Catalog
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parse regulatory catalog: %w", err)
	}
	for _, r := range c.Regimes {
		if !r.ID.Valid() {
			return nil, fmt.Errorf("regulatory catalog: unknown regime %q", r.ID)
		}
		seen := map[string]bool{}
		for _, st := range r.Stages {
			switch st.Anchor {
			case AnchorAware, AnchorClassified:
				if st.Deadline.IsZero() {
					return nil, fmt.Errorf("regulatory catalog: %s %s: deadline required", r.ID, st.ID)
				}
			case AnchorSubmitted, AnchorOngoing:
				if !seen[st.After] {
					return nil, fmt.Errorf("regulatory catalog: %s %s: after %q must name an earlier stage", r.ID, st.ID, st.After)
				}
			case AnchorHandled:
				if st.Deadline.IsZero() {
					return nil, fmt.Errorf("regulatory catalog: %s %s: deadline required", r.ID, st.ID)
				}
			case AnchorRequest:
			default:
				return nil, fmt.Errorf("regulatory catalog: %s %s: unknown anchor %q", r.ID, st.ID, st.Anchor)
			}
			for _, it := range st.Contents {
				if !it.From.valid() {
					return nil, fmt.Errorf("regulatory catalog: %s %s: unknown content source %q", r.ID, st.ID, it.From)
				}
			}
			seen[st.ID] = true
		}
	}
	return &c, nil
}

func (c ContentSource) valid() bool {
	switch c {
	case SrcSuspectedMalicious, SrcCrossBorder, SrcUpdate, SrcInitialAssessment, SrcIOCs, SrcStatusUpdate, SrcDescription,
		SrcRootCause, SrcMitigation, SrcBreachNature, SrcDPOContact, SrcConsequences, SrcMeasures, SrcDelayReason:
		return true
	}
	return false
}

// Regime returns a regime's definition.
func (c *Catalog) Regime(id Regime) (*RegimeDef, bool) {
	for i := range c.Regimes {
		if c.Regimes[i].ID == id {
			return &c.Regimes[i], true
		}
	}
	return nil, false
}

// Stage returns a stage's definition and its position (1-based).
func (r *RegimeDef) Stage(id string) (*StageDef, int, bool) {
	for i := range r.Stages {
		if r.Stages[i].ID == id {
			return &r.Stages[i], i + 1, true
		}
	}
	return nil, 0, false
}

// RegFlag is an incident's flag for one regime.
type RegFlag struct {
	Regime       Regime      `json:"regime"`
	AwareAt      time.Time   `json:"aware_at"`
	ClassifiedAt time.Time   `json:"classified_at,omitzero"`
	FlaggedBy    string      `json:"flagged_by"`
	FlaggedAt    time.Time   `json:"flagged_at"`
	Facts        ReportFacts `json:"facts"`
}

// ReportFacts are what an analyst knows for the reports; the rest of a
// draft comes from the incident.
type ReportFacts struct {
	SuspectedMalicious   *bool  `json:"suspected_malicious,omitempty"`
	CrossBorder          *bool  `json:"cross_border,omitempty"`
	CrossBorderDetail    string `json:"cross_border_detail,omitempty"`
	Impact               string `json:"impact,omitempty"`
	RootCause            string `json:"root_cause,omitempty"`
	Mitigation           string `json:"mitigation,omitempty"`
	TrustServiceProvider bool   `json:"trust_service_provider,omitempty"`
	// GDPR Art. 33(3).
	DataCategories     string `json:"data_categories,omitempty"`
	ApproxDataSubjects string `json:"approx_data_subjects,omitempty"`
	ApproxRecords      string `json:"approx_records,omitempty"`
	DPOContact         string `json:"dpo_contact,omitempty"`
	Consequences       string `json:"consequences,omitempty"`
	Measures           string `json:"measures,omitempty"`
	DelayReason        string `json:"delay_reason,omitempty"`
}

// StageStatus is where a reporting stage stands.
type StageStatus string

// Stage statuses.
const (
	// StageAwaiting: its anchor has not happened (the previous report is
	// not submitted yet), so it has no due time.
	StageAwaiting  StageStatus = "awaiting"
	StagePending   StageStatus = "pending"
	StageSubmitted StageStatus = "submitted"
	// StageReplaced: fell due while the incident was ongoing; a progress
	// report took its place (NIS2 Art. 23(4)(e)).
	StageReplaced StageStatus = "replaced"
)

// RegStage is one reporting stage of a flagged incident.
type RegStage struct {
	ID          string      `json:"id"`
	IncidentID  string      `json:"incident_id"`
	Regime      Regime      `json:"regime"`
	Stage       string      `json:"stage"`
	Ref         string      `json:"ref"`
	Position    int         `json:"position"`
	Status      StageStatus `json:"status"`
	Due         time.Time   `json:"due,omitzero"`
	SubmittedAt time.Time   `json:"submitted_at,omitzero"`
	SubmittedBy string      `json:"submitted_by,omitempty"`
	Reference   string      `json:"reference,omitempty"`
	WarnedAt    time.Time   `json:"warned_at,omitzero"`
	OverdueAt   time.Time   `json:"overdue_at,omitzero"`
	Version     int64       `json:"version"`
	// Overdue is computed at read time.
	Overdue bool `json:"overdue"`
}

// warnLead is how long before a due time deadline.due warns: a sixth of
// the stage's span, between 30 minutes and 3 days.
func warnLead(span time.Duration) time.Duration {
	return max(30*time.Minute, min(72*time.Hour, span/6))
}

// dueOf computes a stage's due time from the flag; zero if its anchor has
// not happened.
func dueOf(def *StageDef, f RegFlag, submittedAfter time.Time) time.Time {
	dl := def.Deadline
	if def.DeadlineTrustService != nil && f.Facts.TrustServiceProvider {
		dl = *def.DeadlineTrustService
	}
	var anchor time.Time
	switch def.Anchor {
	case AnchorAware:
		anchor = f.AwareAt
	case AnchorClassified:
		anchor = f.ClassifiedAt
	case AnchorSubmitted:
		anchor = submittedAfter
	case AnchorRequest, AnchorOngoing, AnchorHandled:
		return time.Time{}
	}
	if anchor.IsZero() {
		return time.Time{}
	}
	due := dl.AddTo(anchor)
	if def.HardCap != nil {
		var capAnchor time.Time
		switch def.HardCap.Anchor {
		case AnchorAware:
			capAnchor = f.AwareAt
		case AnchorClassified:
			capAnchor = f.ClassifiedAt
		case AnchorSubmitted, AnchorRequest, AnchorOngoing, AnchorHandled:
		}
		if !capAnchor.IsZero() {
			// The cap applies while it can still be met; an incident
			// classified after the cap gets the stage's own deadline
			// from classification.
			if c := def.HardCap.Deadline.AddTo(capAnchor); due.After(c) && anchor.Before(c) {
				due = c
			}
		}
	}
	return due
}
