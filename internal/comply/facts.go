package comply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Facts is the snapshot a check judges: what wacht's data says about one
// tenant at one time. A nil slice means the source is not available (the
// checks that need it report "error"); an empty one means there is nothing
// to judge ("not applicable").
type Facts struct {
	Assets     []AssetFact     `json:"assets"`
	Accounts   []AccountFact   `json:"accounts"`
	Incidents  []IncidentFact  `json:"incidents"`
	Deadlines  []DeadlineFact  `json:"deadlines"`
	Findings   []FindingFact   `json:"findings"`
	Coverage   []TacticFact    `json:"coverage"`
	Backups    []BackupFact    `json:"backups"`
	Audit      *AuditFact      `json:"audit"`
	Extensions map[string]any  `json:"extensions,omitempty"`
	Missing    []MissingSource `json:"missing,omitempty"`
}

// MissingSource records a source that failed, so a result can say why.
type MissingSource struct {
	Source string `json:"source"`
	Reason string `json:"reason"`
}

// AssetFact: an inventoried asset and when it last sent events.
type AssetFact struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Critical bool   `json:"critical"`
	// LastEvent is RFC 3339, "" if it never sent events.
	LastEvent string `json:"last_event"`
}

// AccountFact: an identity that can sign in to wacht or to an ingested
// identity provider.
type AccountFact struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	Privileged bool   `json:"privileged"`
	MFA        bool   `json:"mfa"`
	Disabled   bool   `json:"disabled"`
}

// IncidentFact: an incident with its acknowledgement clock and whether
// personal data is involved (GDPR breach register).
type IncidentFact struct {
	ID           string `json:"id"`
	Title        string `json:"title"`
	Severity     string `json:"severity"`
	Priority     string `json:"priority"`
	Status       string `json:"status"`
	Created      string `json:"created"`
	Acknowledged string `json:"acknowledged,omitempty"`
	// AckDue is when the acknowledgement SLA ends ("" when none).
	AckDue       string `json:"ack_due,omitempty"`
	Resolved     string `json:"resolved,omitempty"`
	PersonalData bool   `json:"personal_data"`
	// Regimes lists the regulatory regimes flagged (nis2, gdpr, dora).
	Regimes []string `json:"regimes,omitempty"`
}

// DeadlineFact: one regulatory notification stage of an incident.
type DeadlineFact struct {
	Incident  string `json:"incident"`
	Regime    string `json:"regime"`
	Stage     string `json:"stage"`
	Due       string `json:"due"`
	Submitted string `json:"submitted,omitempty"`
}

// FindingFact: a vulnerability finding with its remediation due date.
type FindingFact struct {
	ID      string `json:"id"`
	Asset   string `json:"asset"`
	Vuln    string `json:"vuln"`
	KEV     bool   `json:"kev"`
	State   string `json:"state"`
	Due     string `json:"due,omitempty"`
	FixedAt string `json:"fixed_at,omitempty"`
}

// TacticFact: ATT&CK coverage of the loaded detection rules for one
// tactic.
type TacticFact struct {
	Tactic     string `json:"tactic"`
	Rules      int    `json:"rules"`
	Techniques int    `json:"techniques"`
}

// BackupFact: a backup target and its last successful run.
type BackupFact struct {
	Target      string `json:"target"`
	LastSuccess string `json:"last_success,omitempty"`
}

// AuditFact: the audit trail's verification.
type AuditFact struct {
	Verified         bool   `json:"verified"`
	Records          int64  `json:"records"`
	LatestCheckpoint int64  `json:"latest_checkpoint"`
	Broken           string `json:"broken,omitempty"`
}

// FactSource fills its part of a snapshot for a tenant at a time. Sources
// are adapters over the other domains (see internal/app/comply.go); each
// sets only its own field. A source must answer for past times as well as
// it can (re-evaluation with --at).
type FactSource interface {
	// Name identifies the source in Facts.Missing and logs.
	Name() string
	Collect(ctx context.Context, tenant string, at time.Time, f *Facts) error
}

// FactFunc adapts a function to FactSource.
type FactFunc struct {
	ID string
	Fn func(ctx context.Context, tenant string, at time.Time, f *Facts) error
}

// Name implements FactSource.
func (s FactFunc) Name() string { return s.ID }

// Collect implements FactSource.
func (s FactFunc) Collect(ctx context.Context, tenant string, at time.Time, f *Facts) error {
	return s.Fn(ctx, tenant, at, f)
}

var _ FactSource = FactFunc{}

// collect asks every source; a failing source is recorded in Missing and
// leaves its field nil, so its checks report "error" instead of the whole
// evaluation failing.
func collect(ctx context.Context, sources []FactSource, tenant string, at time.Time) (*Facts, error) {
	f := &Facts{}
	for _, s := range sources {
		if err := s.Collect(ctx, tenant, at, f); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			f.Missing = append(f.Missing, MissingSource{Source: s.Name(), Reason: err.Error()})
		}
	}
	f.normalize()
	return f, nil
}

// normalize sorts every list by its key so that the same data gives the
// same bytes (and the same facts hash) whatever order sources return.
func (f *Facts) normalize() {
	sort.Slice(f.Assets, func(i, j int) bool { return f.Assets[i].ID < f.Assets[j].ID })
	sort.Slice(f.Accounts, func(i, j int) bool { return f.Accounts[i].ID < f.Accounts[j].ID })
	sort.Slice(f.Incidents, func(i, j int) bool { return f.Incidents[i].ID < f.Incidents[j].ID })
	sort.Slice(f.Deadlines, func(i, j int) bool {
		a, b := f.Deadlines[i], f.Deadlines[j]
		if a.Incident != b.Incident {
			return a.Incident < b.Incident
		}
		if a.Regime != b.Regime {
			return a.Regime < b.Regime
		}
		return a.Stage < b.Stage
	})
	sort.Slice(f.Findings, func(i, j int) bool { return f.Findings[i].ID < f.Findings[j].ID })
	sort.Slice(f.Coverage, func(i, j int) bool { return f.Coverage[i].Tactic < f.Coverage[j].Tactic })
	sort.Slice(f.Backups, func(i, j int) bool { return f.Backups[i].Target < f.Backups[j].Target })
	sort.Slice(f.Missing, func(i, j int) bool { return f.Missing[i].Source < f.Missing[j].Source })
}

// Hash is the SHA-256 (hex) of the snapshot's JSON encoding.
func (f *Facts) Hash() (string, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("encode facts: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Document is the facts as the generic JSON value policies receive.
func (f *Facts) Document() (map[string]any, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode facts: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode facts: %w", err)
	}
	return m, nil
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// RFC3339 formats a fact time (UTC, seconds); "" for the zero time.
// Adapters use it so that all facts share one format.
func RFC3339(t time.Time) string { return rfc3339(t) }
