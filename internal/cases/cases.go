// Package cases is wacht's incident response: alerts, their grouping into
// incidents, risk-based priority, the NIST SP 800-61 lifecycle, tasks,
// comments, observables, evidence with chain of custody, a timeline, SLA
// clocks that escalate by themselves, the regulatory reporting clocks of
// NIS2 (Art. 23), GDPR (Art. 33) and DORA (Art. 19), and exceptions that
// tune false positives out as Sigma filters.
//
// # Raising alerts from Go
//
// Detectors (Sigma, threat intel, anomaly detectors) call
//
//	a, err := svc.RaiseAlert(ctx, tenant, cases.AlertInput{
//		Source: "sigma", RuleID: rule.ID, RuleTitle: rule.Title,
//		Severity: cases.Severity(rule.Level), Attack: rule.Tags,
//		Entities: []cases.Entity{{Kind: "host", Value: "pc1"}, {Kind: "user", Value: "alice"}},
//		Events:   cases.CopyEvents(matched),
//		Logsource: map[string]string{"product": "windows", "category": "process_creation"},
//	})
//
// or RaiseAlerts for a batch: one transaction with a fixed number of
// statements, the way to go above a few hundred alerts a second. Each alert
// is checked against the active exceptions (a match comes back Suppressed
// and is not stored), de-duplicated (DedupKey, default source + rule +
// entities, within Grouping.DedupWindow: the stored alert's count rises),
// scored (the explanation lists each factor), stored with a copy of its
// events (so evidence outlives the event store's retention), and grouped
// into an open incident — same rule and entity, or the same host or user
// across rules, within Grouping.Window — or a new one. alert.created,
// incident.created and incident.updated are published on the bus after the
// transaction commits. IndicatorConfidence (threat intel) and
// AssetCriticality (or Options.AssetCriticality, the inventory lookup) raise
// the score. External tools send the same fields as JSON to
// POST /api/v1/alerts.
//
// # Clocks
//
// Time comes from the injected clock (Options.Now). Tick, called every few
// seconds by the module (and by tests after moving a fake clock), breaches
// SLA clocks (sla.breached), walks the escalation chain
// (incident.escalated), warns of regulatory deadlines (deadline.due, phase
// "upcoming" then "overdue"), expires exceptions (exception.changed) and
// prunes old grouping keys. Breaches are marked through the incident's
// version column, so several nodes may tick at once and each event is
// published once. SLA clocks pause while an incident waits on a third
// party and, with a business-hours calendar, run only in business hours.
//
// # Storage
//
// Everything lives in the state database (SQLite or PostgreSQL), evidence
// included, with a tenant on every row. Grouping looks its keys up in an
// in-memory copy of the group-key table, valid while the table's change
// counter is the one the copy last saw (keyindex.go), so several services,
// processes and nodes can share the database. Concurrent edits use optimistic
// concurrency: every incident carries a version; an update naming an older
// version fails with store.ErrConflict (HTTP 409).
package cases

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

//go:embed evidence_migrations
var evidenceMigrations embed.FS

//go:embed grouping_migrations
var groupingMigrations embed.FS

func init() {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("cases", sub)
	esub, err := fs.Sub(evidenceMigrations, "evidence_migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("cases_evidence", esub, "cases")
	gsub, err := fs.Sub(groupingMigrations, "grouping_migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("cases_grouping", gsub, "cases")
}

// Errors callers branch on.
var (
	ErrNotFound = store.ErrNotFound
	ErrConflict = store.ErrConflict
)

// Domain event types published on the bus.
const (
	EventAlertCreated      = "alert.created"
	EventAlertUpdated      = "alert.updated"
	EventIncidentCreated   = "incident.created"
	EventIncidentUpdated   = "incident.updated"
	EventIncidentEscalated = "incident.escalated"
	EventSLABreached       = "sla.breached"
	EventDeadlineDue       = "deadline.due"
	EventExceptionChanged  = "exception.changed"
)

// SystemActor is the actor of changes the service makes by itself.
const SystemActor = "system"

// Grouping configures how alerts join incidents.
type Grouping struct {
	// Window: an alert joins an open incident that took an alert with a
	// shared key within this time (default 24h).
	Window time.Duration `yaml:"window" json:"window"`
	// DedupWindow: a repeat of an alert's dedup key within this time
	// raises its count instead of a new alert (default 1h).
	DedupWindow time.Duration `yaml:"dedup_window" json:"dedup_window"`
	// RuleEntity groups alerts of the same rule about the same entity.
	RuleEntity bool `yaml:"rule_entity" json:"rule_entity"`
	// AcrossRules lists the entity kinds that group alerts of different
	// rules (default host and user).
	AcrossRules []string `yaml:"across_rules" json:"across_rules"`
}

// DefaultGrouping is used when Options.Grouping is zero.
func DefaultGrouping() Grouping {
	return Grouping{Window: 24 * time.Hour, DedupWindow: time.Hour, RuleEntity: true, AcrossRules: []string{"host", "user"}}
}

// Options configure a Service.
type Options struct {
	Bus *bus.Bus
	// Now is the clock; tests pass a fake one.
	Now func() time.Time
	Log *slog.Logger
	// Grouping (zero: DefaultGrouping).
	Grouping *Grouping
	// SLA policy (zero: DefaultSLAPolicy).
	SLA *SLAPolicy
	// AssetCriticality looks up 1-5 for an alert's entities when the
	// detector did not say (the asset inventory plugs in here).
	AssetCriticality func(ctx context.Context, tenant string, entities []Entity) int
	// MaxEvidenceBytes bounds one attachment (default 32 MiB).
	MaxEvidenceBytes int64
}

// Service is the incident response domain over the state database.
type Service struct {
	db          *store.DB
	bus         *bus.Bus
	now         func() time.Time
	log         *slog.Logger
	group       Grouping
	sla         SLAPolicy
	catalog     *Catalog
	assetCrit   func(ctx context.Context, tenant string, entities []Entity) int
	maxEvidence int64

	mu       sync.Mutex
	prunedAt time.Time // last pruning of group keys

	keys keyIndexes // in-memory group keys (keyindex.go)
}

// New returns the service. The database must have the cases migrations
// applied (store.Open does it for registered sets).
func New(db *store.DB, o Options) *Service {
	s := &Service{db: db, bus: o.Bus, now: o.Now, log: o.Log, assetCrit: o.AssetCriticality, maxEvidence: o.MaxEvidenceBytes}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.group = DefaultGrouping()
	if o.Grouping != nil {
		s.group = *o.Grouping
		if s.group.Window <= 0 {
			s.group.Window = 24 * time.Hour
		}
	}
	s.sla = DefaultSLAPolicy()
	if o.SLA != nil {
		s.sla = *o.SLA
	}
	if s.maxEvidence <= 0 {
		s.maxEvidence = 32 << 20
	}
	s.catalog = EmbeddedCatalog()
	return s
}

// Catalog returns the regulatory catalog in use.
func (s *Service) Catalog() *Catalog { return s.catalog }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// publish sends events collected during a committed transaction.
func (s *Service) publish(ctx context.Context, evs []bus.Event) {
	if s.bus == nil {
		return
	}
	for _, e := range evs {
		s.bus.Publish(ctx, e)
	}
}

// newID returns prefix + 16 hex digits of the wall clock + 12 random:
// ids sort by creation, which orders rows written within one fake-clock
// instant (custody, timeline) as they were written.
func newID(prefix string) string {
	var b [14]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixNano()))
	_, _ = rand.Read(b[8:])
	return prefix + hex.EncodeToString(b[:])
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("cases: marshal %T: %v", v, err))
	}
	return string(b)
}

func fromJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func validTenant(tenant string) (string, error) {
	if tenant == "" {
		return event.DefaultTenant, nil
	}
	if len(tenant) > 128 {
		return "", userErrorf("tenant too long")
	}
	return tenant, nil
}

// CopyEvents renders events as the JSON copies an alert keeps.
func CopyEvents(evs []*event.Event) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(evs))
	for _, e := range evs {
		out = append(out, json.RawMessage(e.AppendJSON(nil)))
	}
	return out
}

// IsUserError reports whether err's message may be shown to the caller.
func IsUserError(err error) bool {
	var ue *UserError
	return errors.As(err, &ue)
}

func tsOrNil(t time.Time) store.Timestamp { return store.TimeOf(t) }

func unionStrings(a []string, b ...string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func unionEntities(a []Entity, b []Entity, limit int) []Entity {
	seen := make(map[Entity]bool, len(a)+len(b))
	out := make([]Entity, 0, len(a)+len(b))
	for _, e := range append(slices.Clone(a), b...) {
		if seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	slices.SortFunc(out, func(x, y Entity) int {
		if c := strings.Compare(x.Kind, y.Kind); c != 0 {
			return c
		}
		return strings.Compare(x.Value, y.Value)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Logger is the service's logger (the HTTP layer logs internal errors
// with it).
func (s *Service) Logger() *slog.Logger { return s.log }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.clock() }
