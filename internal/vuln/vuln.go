// Package vuln is vulnerability management over the asset inventory:
// scanner reports (see the importer subpackages) are de-duplicated into
// findings per asset × vulnerability × component, enriched with CVSS, EPSS
// and CISA KEV, prioritized with CISA's SSVC coordinator tree and the BOD
// 26-04 remediation timelines (reasons kept with each finding), and given
// due dates. A full rescan closes what disappeared and reopens what came
// back; accepted risk expires. Sweep, run on an injected clock, publishes
// vuln.sla_breached and reopens expired acceptances.
package vuln

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

//go:embed migrations/*.sql
var migrations embed.FS

func init() {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("vuln", sub, "assets")
}

// Domain events.
const (
	EventSLABreached       = "vuln.sla_breached"
	EventAcceptanceExpired = "vuln.acceptance_expired"
	EventImported          = "vuln.imported"
)

// FeedTenant holds the KEV and EPSS rows every tenant shares.
const FeedTenant = "*"

// State is where a finding is in its life.
type State string

// States.
const (
	StateOpen          State = "open"
	StateInTriage      State = "in_triage"
	StateAccepted      State = "accepted"
	StateFalsePositive State = "false_positive"
	StateNotAffected   State = "not_affected"
	StateFixed         State = "fixed"
	StateReopened      State = "reopened"
)

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	switch s {
	case StateOpen, StateInTriage, StateAccepted, StateFalsePositive, StateNotAffected, StateFixed, StateReopened:
		return true
	}
	return false
}

// Active is a state that still needs remediation (SLA clocks run).
func (s State) Active() bool {
	switch s {
	case StateOpen, StateInTriage, StateReopened:
		return true
	case StateAccepted, StateFalsePositive, StateNotAffected, StateFixed:
		return false
	}
	return false
}

// Finding is one vulnerability in one component of one asset.
type Finding struct {
	ID               string          `json:"id"`
	Tenant           string          `json:"tenant"`
	AssetID          string          `json:"asset_id"`
	VulnID           string          `json:"vuln_id"`
	Aliases          []string        `json:"aliases,omitempty"`
	Component        string          `json:"component"`
	Source           string          `json:"source"`
	Title            string          `json:"title,omitempty"`
	Description      string          `json:"description,omitempty"`
	Package          string          `json:"package,omitempty"`
	PkgVersion       string          `json:"package_version,omitempty"`
	FixedVersion     string          `json:"fixed_version,omitempty"`
	Location         string          `json:"location,omitempty"`
	Severity         report.Severity `json:"severity"`
	CVSS3Vector      string          `json:"cvss3_vector,omitempty"`
	CVSS3Score       float64         `json:"cvss3_score,omitempty"`
	CVSS4Vector      string          `json:"cvss4_vector,omitempty"`
	CVSS4Score       float64         `json:"cvss4_score,omitempty"`
	EPSS             float64         `json:"epss,omitempty"`
	EPSSPercentile   float64         `json:"epss_percentile,omitempty"`
	KEV              bool            `json:"kev"`
	ExploitAvailable bool            `json:"exploit_available,omitempty"`
	Priority         Decision        `json:"priority"`
	Timeline         Timeline        `json:"timeline,omitempty"`
	Reasons          []string        `json:"reasons,omitempty"`
	DueAt            time.Time       `json:"due_at,omitzero"`
	SLABreached      bool            `json:"sla_breached"`
	State            State           `json:"state"`
	StateReason      string          `json:"state_reason,omitempty"`
	Approver         string          `json:"approver,omitempty"`
	AcceptedUntil    time.Time       `json:"accepted_until,omitzero"`
	FirstSeen        time.Time       `json:"first_seen"`
	LastSeen         time.Time       `json:"last_seen"`
	FixedAt          time.Time       `json:"fixed_at,omitzero"`
	LastScan         string          `json:"last_scan,omitempty"`
	UpdatedAt        time.Time       `json:"updated_at"`
	Version          int64           `json:"version"`
	// cve is the stored CVE record used while prioritizing.
	cve *CVERecord
}

// Options configure the service.
type Options struct {
	Profile Profile
	// KeepMissing leaves findings a full rescan no longer shows as they
	// are; by default they are closed as fixed.
	KeepMissing bool
	Log         *slog.Logger
	// Now is the clock for due dates, expiry and breaches.
	Now func() time.Time
}

// Service manages findings.
type Service struct {
	db      *store.DB
	assets  *assets.Service
	bus     *bus.Bus
	now     func() time.Time
	log     *slog.Logger
	profile Profile
	keep    bool

	bulkMu sync.Mutex
	bulkN  int
}

// New returns the service. b may be nil (offline tools).
func New(db *store.DB, inv *assets.Service, b *bus.Bus, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Profile.SeverityDays == nil {
		o.Profile = DefaultProfile()
	}
	s := &Service{db: db, assets: inv, bus: b, now: o.Now, log: o.Log, profile: o.Profile, keep: o.KeepMissing}
	inv.OnMerge(s.repoint)
	return s
}

// Profile returns the SLA profile in use.
func (s *Service) Profile() Profile { return s.profile }

// Errors callers branch on; their messages are safe to show.
var (
	ErrInvalid = errors.New("invalid request")
)

// FindingID is the de-duplication key: tenant × asset × vulnerability ×
// component.
func FindingID(tenant, assetID, vulnID, component string) string {
	h := sha256.New()
	for _, s := range []string{tenant, assetID, vulnID, component} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "vf_" + hex.EncodeToString(h.Sum(nil)[:16])
}

func (s *Service) publish(ctx context.Context, e bus.Event) {
	if s.bus != nil {
		s.bus.Publish(ctx, e)
	}
}

// repoint moves findings of a merged asset (assets.MergeHook). Their ids
// are the de-duplication key, so they are re-keyed to the surviving asset;
// a finding both assets had keeps the survivor's record and the earlier
// first seen.
func (s *Service) repoint(ctx context.Context, tx *store.Tx, tenant, from, into string) error {
	rows, err := tx.Query(ctx, `SELECT id, vuln_id, component FROM vuln_findings`+s.hint("vuln_findings_asset_list")+` WHERE tenant = ? AND asset_id = ?`, tenant, from)
	if err != nil {
		return fmt.Errorf("repoint findings of asset %s: %w", from, err)
	}
	type move struct{ old, vulnID, component string }
	var moves []move
	for rows.Next() {
		var m move
		if err := rows.Scan(&m.old, &m.vulnID, &m.component); err != nil {
			rows.Close()
			return err
		}
		moves = append(moves, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range moves {
		id := FindingID(tenant, into, m.vulnID, m.component)
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM vuln_findings WHERE tenant = ? AND id = ?`, tenant, id).Scan(&one)
		switch {
		case err == nil:
			if _, err := tx.Exec(ctx, `UPDATE vuln_findings SET first_seen = (SELECT MIN(first_seen) FROM vuln_findings WHERE tenant = ? AND id IN (?, ?))
				WHERE tenant = ? AND id = ?`, tenant, id, m.old, tenant, id); err != nil {
				return fmt.Errorf("merge finding %s: %w", m.old, err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM vuln_findings WHERE tenant = ? AND id = ?`, tenant, m.old); err != nil {
				return fmt.Errorf("merge finding %s: %w", m.old, err)
			}
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.Exec(ctx, `UPDATE vuln_findings SET id = ?, asset_id = ? WHERE tenant = ? AND id = ?`, id, into, tenant, m.old); err != nil {
				return fmt.Errorf("re-key finding %s: %w", m.old, err)
			}
		default:
			return fmt.Errorf("repoint finding %s: %w", m.old, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE vuln_detections SET finding_id = ?, asset_id = ? WHERE tenant = ? AND asset_id = ? AND finding_id = ?`,
			id, into, tenant, from, m.old); err != nil {
			return fmt.Errorf("repoint detections of %s: %w", m.old, err)
		}
	}
	return nil
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Logger is the service's logger (for the HTTP layer's error lines).
func (s *Service) Logger() *slog.Logger { return s.log }
