package ueba

import (
	"bytes"
	"context"
	"embed"
	"encoding/gob"
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

func init() {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("ueba", sub)
}

// ErrNotFound is returned for an unknown entity, incident or detector.
var ErrNotFound = errors.New("not found")

// Options configure a Service.
type Options struct {
	DB  *store.DB
	Bus *bus.Bus
	Now func() time.Time
	Log *slog.Logger
	// Config tunes the detectors, Risk the risk ledger.
	Config Config
	Risk   RiskConfig
	// Cases feeds the likelihood model (nil: likelihood unavailable).
	Cases Cases
	// Criticality rates an entity 1 (low) … 5 (crown jewel), 0 unknown.
	Criticality func(ctx context.Context, tenant string, e Entity) int
	// ModelTTL is how long a trained likelihood model is reused (1h).
	ModelTTL time.Duration
	// Identity weighs the risk of administrators, contractors and
	// watch-listed users.
	Identity IdentityRules
	// HostOf names the host an internal address belongs to (the asset
	// inventory); anomalies of that address then add risk to the host.
	HostOf func(ctx context.Context, tenant, ip string) string
}

// Service runs behaviour analytics and risk scoring for every tenant.
type Service struct {
	opts   Options
	log    *slog.Logger
	mu     sync.Mutex
	engine *Engine
	risk   *Risk
	modes  map[string]map[Detector]Mode
	models map[string]*Model
	// feedback counts analysts' verdicts (true, false) per detector.
	feedback map[string]map[Detector][2]int
	// allow holds each tenant's allow-list entries.
	allow map[string][]AllowEntry
}

// New loads the snapshots and modes and returns a ready service.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ModelTTL == 0 {
		o.ModelTTL = time.Hour
	}
	s := &Service{opts: o, log: o.Log, engine: NewEngine(o.Config), risk: NewRisk(o.Risk),
		modes: map[string]map[Detector]Mode{}, models: map[string]*Model{}, feedback: map[string]map[Detector][2]int{}, allow: map[string][]AllowEntry{}}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	if err := s.loadAllow(ctx); err != nil {
		return nil, err
	}
	if err := s.loadFeedback(ctx, ""); err != nil {
		return nil, err
	}
	return s, nil
}

// Logger is the service's logger (for the API's error lines).
func (s *Service) Logger() *slog.Logger { return s.log }

func (s *Service) load(ctx context.Context) error {
	rows, err := s.opts.DB.Query(ctx, `SELECT tenant, engine, risk FROM ueba_state`)
	if err != nil {
		return fmt.Errorf("load ueba state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tenant string
		var eb, rb []byte
		if err := rows.Scan(&tenant, &eb, &rb); err != nil {
			return fmt.Errorf("load ueba state: %w", err)
		}
		ts := newTenantState()
		var rs map[Entity]*RiskState
		if err := gob.NewDecoder(bytes.NewReader(eb)).Decode(ts); err != nil || ts.Rare == nil || ts.Rare.Validate() != nil {
			// A broken snapshot costs the baselines, not the node.
			s.log.Warn("ueba_snapshot_unreadable", "tenant", tenant, "err", err)
			continue
		}
		if err := gob.NewDecoder(bytes.NewReader(rb)).Decode(&rs); err != nil {
			s.log.Warn("ueba_risk_snapshot_unreadable", "tenant", tenant, "err", err)
			rs = nil
		}
		ts.fix()
		s.engine.tenants[tenant] = ts
		if rs != nil {
			for _, st := range rs {
				if st.Sources == nil {
					st.Sources = map[string]*sourceState{}
				}
				if st.Tactics == nil {
					st.Tactics = map[string]time.Time{}
				}
			}
			s.risk.tenants[tenant] = rs
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load ueba state: %w", err)
	}
	mrows, err := s.opts.DB.Query(ctx, `SELECT tenant, detector, mode FROM ueba_modes`)
	if err != nil {
		return fmt.Errorf("load ueba modes: %w", err)
	}
	defer mrows.Close()
	for mrows.Next() {
		var tenant, det, mode string
		if err := mrows.Scan(&tenant, &det, &mode); err != nil {
			return fmt.Errorf("load ueba modes: %w", err)
		}
		d, err1 := ParseDetector(det)
		m, err2 := ParseMode(mode)
		if err1 != nil || err2 != nil {
			continue
		}
		if s.modes[tenant] == nil {
			s.modes[tenant] = map[Detector]Mode{}
		}
		s.modes[tenant][d] = m
	}
	return mrows.Err()
}

// Snapshot writes every tenant's state to the database.
func (s *Service) Snapshot(ctx context.Context) error {
	type blob struct {
		tenant string
		e, r   []byte
	}
	s.mu.Lock()
	var blobs []blob
	for tenant, ts := range s.engine.tenants {
		var eb, rb bytes.Buffer
		if err := gob.NewEncoder(&eb).Encode(ts); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("encode ueba state %s: %w", tenant, err)
		}
		rs := s.risk.tenants[tenant]
		if rs == nil {
			rs = map[Entity]*RiskState{}
		}
		if err := gob.NewEncoder(&rb).Encode(rs); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("encode ueba risk %s: %w", tenant, err)
		}
		blobs = append(blobs, blob{tenant, eb.Bytes(), rb.Bytes()})
	}
	s.mu.Unlock()
	now := s.opts.Now()
	q := store.Upsert("ueba_state", []string{"tenant", "engine", "risk", "updated_at"}, []string{"tenant"}, []string{"engine", "risk", "updated_at"})
	for _, b := range blobs {
		if _, err := s.opts.DB.Exec(ctx, q, b.tenant, b.e, b.r, store.TimeOf(now)); err != nil {
			return fmt.Errorf("save ueba state %s: %w", b.tenant, err)
		}
	}
	return nil
}

func (s *Service) mode(tenant string, d Detector) Mode { return s.modes[tenant][d] }

// Process runs the detectors over a stored batch, records and publishes
// the anomalies, and adds production anomalies to the entities' risk.
func (s *Service) Process(ctx context.Context, events []*event.Event) []Anomaly {
	s.mu.Lock()
	anoms := s.engine.Process(events, nil)
	s.mu.Unlock()
	return s.handle(ctx, anoms)
}

// Flush notices log sources that went quiet and saves nothing; call
// Snapshot for that.
func (s *Service) Flush(ctx context.Context) []Anomaly {
	s.mu.Lock()
	anoms := s.engine.Flush(s.opts.Now())
	s.mu.Unlock()
	return s.handle(ctx, anoms)
}

func (s *Service) handle(ctx context.Context, anoms []Anomaly) []Anomaly {
	if len(anoms) == 0 {
		return nil
	}
	now := s.opts.Now()
	var alerts []*RiskAlert
	s.mu.Lock()
	for i := range anoms {
		a := &anoms[i]
		a.Mode = s.mode(a.Tenant, a.Detector)
		if a.Mode != ModeProduction {
			continue
		}
		sig := AnomalySignal(a)
		if sig.Entity.Kind == KindIP && s.opts.HostOf != nil {
			if host := s.opts.HostOf(ctx, a.Tenant, sig.Entity.Value); host != "" {
				sig.Entity = Entity{KindHost, strings.ToLower(host)}
			}
		}
		if e := s.allowed(a, sig.Entity, now); e != nil {
			a.AllowedBy = e.ID + ": " + e.Reason
			continue
		}
		sig.Confidence *= s.precisionWeight(a.Tenant, a.Detector)
		sig.Modifier = s.modifier(ctx, a.Tenant, sig.Entity)
		if al := s.risk.Add(a.Tenant, sig, now); al != nil {
			alerts = append(alerts, al)
		}
	}
	s.mu.Unlock()
	for i := range anoms {
		a := &anoms[i]
		if err := s.saveAnomaly(ctx, a); err != nil {
			s.log.Error("ueba_anomaly_save_failed", "tenant", a.Tenant, "err", err)
		}
		if s.opts.Bus != nil && a.AllowedBy == "" {
			s.opts.Bus.Publish(ctx, bus.Event{Type: TopicAnomaly, Tenant: a.Tenant, Time: a.Time, Subject: a.Entity.String(), Actor: "ueba", Data: a})
		}
	}
	s.publishAlerts(ctx, alerts)
	return anoms
}

func (s *Service) publishAlerts(ctx context.Context, alerts []*RiskAlert) {
	for _, al := range alerts {
		s.log.Info("ueba_risk_alert", "tenant", al.Tenant, "entity", al.Risk.Entity.String(), "score", al.Risk.Score)
		if s.opts.Bus != nil {
			s.opts.Bus.Publish(ctx, bus.Event{Type: TopicRiskAlert, Tenant: al.Tenant, Subject: al.Risk.Entity.String(), Actor: "ueba", Data: al})
		}
	}
}

// modifier scales risk by asset criticality (3 is neutral); called with
// s.mu held, so the lookup must not call back into the service.
func (s *Service) modifier(ctx context.Context, tenant string, e Entity) float64 {
	m := 1.0
	if s.opts.Criticality != nil {
		if c := s.opts.Criticality(ctx, tenant, e); c > 0 {
			m = 0.4 + 0.2*float64(min(c, 5))
		}
	}
	switch e.Kind {
	case KindUser:
		w, _ := s.opts.Identity.Weight(e.Value)
		m *= w
	case KindCloud:
		_, user, _ := strings.Cut(e.Value, "/")
		w, _ := s.opts.Identity.Weight(user)
		m *= w
	}
	return min(m, 3)
}

func (s *Service) saveAnomaly(ctx context.Context, a *Anomaly) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	q := store.Upsert("ueba_anomalies", []string{"tenant", "id", "detector", "mode", "entity_kind", "entity_value", "at", "score", "body"},
		[]string{"tenant", "id"}, nil)
	_, err = s.opts.DB.Exec(ctx, q, a.Tenant, a.ID, a.Detector.String(), a.Mode.String(), a.Entity.Kind.String(), a.Entity.Value,
		store.TimeOf(a.Time), a.Score, string(body))
	return err
}

// DetectionSignal is a detection as risk sees it.
type DetectionSignal struct {
	RuleID, Title string
	// Level is the Sigma level 1 informational … 5 critical.
	Level    int
	Attack   []string
	Entities map[string]string
	Time     time.Time
}

// levelImpact is the risk a detection of each Sigma level adds: Elastic's
// default rule risk scores for low (21), medium (47), high (73) and
// critical (99), 5 for informational.
var levelImpact = [...]float64{0, 5, 21, 47, 73, 99}

// AddDetection adds a detection's risk to each entity it names.
func (s *Service) AddDetection(ctx context.Context, tenant string, d DetectionSignal) []*RiskAlert {
	return s.addSignals(ctx, tenant, DetectionSignals(d))
}

// DetectionSignals turns a detection into one risk signal per entity it
// names: impact by Sigma level, full confidence, the ATT&CK tactics.
func DetectionSignals(d DetectionSignal) []Signal {
	tactics := tacticsOf(d.Attack)
	var out []Signal
	for field, v := range d.Entities {
		ent, ok := entityOfField(field, v)
		if !ok {
			continue
		}
		out = append(out, Signal{Kind: SignalDetection, Source: d.RuleID, Title: d.Title, Entity: ent, Time: d.Time,
			Impact: levelImpact[min(max(d.Level, 0), 5)], Confidence: 1, Tactics: tactics})
	}
	slices.SortFunc(out, func(a, b Signal) int { return strings.Compare(a.Entity.String(), b.Entity.String()) })
	return out
}

// AnomalySignal is the risk signal of an anomaly: impact 40 at score 100,
// landing on the host for a process anomaly.
func AnomalySignal(a *Anomaly) Signal {
	ent := a.Entity
	if ent.Kind == KindProcess {
		// Risk lands on the host the process ran on.
		host, _, _ := strings.Cut(ent.Value, "|")
		ent = Entity{KindHost, host}
	}
	return Signal{Kind: SignalAnomaly, Source: a.Detector.String(), Title: a.What, Entity: ent, Time: a.Time,
		Impact: anomalyImpact, Confidence: a.Score / 100}
}

// Entities lists the riskiest entities of a tenant.
func (s *Service) Entities(tenant string, limit int) []EntityRisk {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.risk.Top(tenant, s.opts.Now(), limit)
	if out == nil {
		out = []EntityRisk{}
	}
	return out
}

// EntityProfile is an entity's risk with its learned baseline summary.
type EntityProfile struct {
	Risk      EntityRisk `json:"risk"`
	FirstSeen time.Time  `json:"first_seen,omitzero"`
	LastSeen  time.Time  `json:"last_seen,omitzero"`
	// HourlyMedian is the median of the last day's hourly event counts.
	HourlyMedian float64   `json:"hourly_median"`
	Anomalies    []Anomaly `json:"anomalies"`
}

// Entity explains one entity: its score with contributions, what is known
// of its behaviour and its recent anomalies.
func (s *Service) Entity(ctx context.Context, tenant string, ent Entity) (EntityProfile, error) {
	s.mu.Lock()
	r, hasRisk := s.risk.Get(tenant, ent, s.opts.Now())
	var p EntityProfile
	es := s.engine.tenants[tenant].entityOrNil(ent)
	if es != nil {
		p.FirstSeen = time.Unix(es.First*3600, 0).UTC()
		p.LastSeen = time.Unix(es.Last*3600, 0).UTC()
		p.HourlyMedian = median(es.Vol.baseline(es.Vol.Hour, nil))
	}
	s.mu.Unlock()
	if !hasRisk {
		r = EntityRisk{Entity: ent, Contributions: []Contribution{}}
	}
	p.Risk = r
	anoms, err := s.Anomalies(ctx, tenant, AnomalyFilter{Entity: &ent, Limit: 20})
	if err != nil {
		return EntityProfile{}, err
	}
	if es == nil && !hasRisk && len(anoms) == 0 {
		return EntityProfile{}, fmt.Errorf("entity %s: %w", ent, ErrNotFound)
	}
	p.Anomalies = anoms
	return p, nil
}

func (ts *TenantState) entityOrNil(e Entity) *EntityState {
	if ts == nil {
		return nil
	}
	return ts.Entities[e]
}

// AnomalyFilter selects anomalies.
type AnomalyFilter struct {
	Entity   *Entity
	Detector Detector
	Since    time.Time
	Limit    int // default 100, at most 1000
}

// Anomalies lists a tenant's anomalies, newest first.
func (s *Service) Anomalies(ctx context.Context, tenant string, f AnomalyFilter) ([]Anomaly, error) {
	where, args := []string{"tenant = ?"}, []any{tenant}
	if f.Entity != nil {
		where = append(where, "entity_kind = ?", "entity_value = ?")
		args = append(args, f.Entity.Kind.String(), f.Entity.Value)
	}
	if f.Detector != 0 {
		where = append(where, "detector = ?")
		args = append(args, f.Detector.String())
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, store.TimeOf(f.Since))
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = min(max(f.Limit, 100), 1000)
	}
	rows, err := s.opts.DB.Query(ctx, "SELECT body FROM ueba_anomalies WHERE "+strings.Join(where, " AND ")+
		fmt.Sprintf(" ORDER BY at DESC, id LIMIT %d", f.Limit), args...)
	if err != nil {
		return nil, fmt.Errorf("list anomalies: %w", err)
	}
	defer rows.Close()
	out := []Anomaly{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("list anomalies: %w", err)
		}
		var a Anomaly
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			return nil, fmt.Errorf("decode anomaly: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// DetectorStatus is one detector's state for a tenant.
type DetectorStatus struct {
	Detector      Detector  `json:"detector"`
	Mode          Mode      `json:"mode"`
	Learning      bool      `json:"learning"`
	LearningUntil time.Time `json:"learning_until,omitzero"`
	DailyCap      int       `json:"daily_cap"`
	// Feedback is what closed cases said of the detector's anomalies.
	Feedback DetectorPrecision `json:"feedback"`
}

// Detectors lists the detectors with their mode and learning state.
func (s *Service) Detectors(tenant string) []DetectorStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var until time.Time
	learning := true
	if ts := s.engine.tenants[tenant]; ts != nil && !ts.Start.IsZero() {
		until = ts.Start.Add(s.engine.cfg.LearningPeriod)
		learning = s.latest(ts).Before(until)
	}
	out := make([]DetectorStatus, 0, len(Detectors))
	for _, d := range Detectors {
		out = append(out, DetectorStatus{Detector: d, Mode: s.mode(tenant, d), Learning: learning, LearningUntil: until, DailyCap: s.engine.cfg.DailyCap,
			Feedback: precisionOf(s.feedback[tenant][d])})
	}
	return out
}

func (s *Service) latest(ts *TenantState) time.Time {
	var h int64
	for _, es := range ts.Entities {
		h = max(h, es.Last)
	}
	return time.Unix(h*3600+3599, 0).UTC()
}

// SetMode switches a detector between shadow and production for a tenant.
func (s *Service) SetMode(ctx context.Context, tenant string, d Detector, m Mode, actor string) error {
	q := store.Upsert("ueba_modes", []string{"tenant", "detector", "mode", "updated_by", "updated_at"},
		[]string{"tenant", "detector"}, []string{"mode", "updated_by", "updated_at"})
	if _, err := s.opts.DB.Exec(ctx, q, tenant, d.String(), m.String(), actor, store.TimeOf(s.opts.Now())); err != nil {
		return fmt.Errorf("set mode of %s: %w", d, err)
	}
	s.mu.Lock()
	if s.modes[tenant] == nil {
		s.modes[tenant] = map[Detector]Mode{}
	}
	s.modes[tenant][d] = m
	s.mu.Unlock()
	s.log.Info("ueba_mode_changed", "tenant", tenant, "detector", d.String(), "mode", m.String(), "actor", actor)
	return nil
}

// IncidentLikelihood is the calibrated probability that an incident is a
// true positive, from a model trained on the tenant's closed cases.
func (s *Service) IncidentLikelihood(ctx context.Context, tenant, id string) (Likelihood, error) {
	if s.opts.Cases == nil {
		return Likelihood{}, userErrorf("incident likelihood needs the cases module")
	}
	f, err := s.opts.Cases.Incident(ctx, tenant, id)
	if err != nil {
		return Likelihood{}, err
	}
	m, err := s.Model(ctx, tenant)
	if err != nil {
		return Likelihood{}, err
	}
	return m.Predict(f), nil
}

// Model returns the tenant's likelihood model, trained at most ModelTTL
// ago.
func (s *Service) Model(ctx context.Context, tenant string) (*Model, error) {
	now := s.opts.Now()
	s.mu.Lock()
	m := s.models[tenant]
	s.mu.Unlock()
	if m != nil && now.Sub(m.TrainedAt) < s.opts.ModelTTL {
		return m, nil
	}
	closed, err := s.opts.Cases.Closed(ctx, tenant, 5000)
	if err != nil {
		return nil, fmt.Errorf("read closed cases: %w", err)
	}
	m = Train(closed, now)
	s.mu.Lock()
	s.models[tenant] = m
	s.mu.Unlock()
	return m, nil
}
