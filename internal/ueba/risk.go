package ueba

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// RiskConfig tunes risk-based alerting. Zero fields take the defaults.
type RiskConfig struct {
	// HalfLife is how long until a contribution counts half (default 24h).
	HalfLife time.Duration
	// Threshold raises a risk alert when an entity's score crosses it
	// (default 100); the alert re-arms when the score falls below half.
	Threshold float64
	// SourceCap bounds the decayed sum from one source (rule or detector)
	// per entity (default 60), so one noisy rule repeating cannot reach
	// the threshold alone.
	SourceCap float64
	// Tactics and Distinct: several ATT&CK tactics and distinct
	// detections on one entity within TacticWindow (default 3, 3, 7 days)
	// also raise an alert.
	Tactics      int
	Distinct     int
	TacticWindow time.Duration
	// SignalCap bounds what one signal adds after its modifier (default
	// 100): one critical detection on a crown-jewel asset counts, but no
	// single signal counts for more than the default threshold.
	SignalCap float64
}

func (c RiskConfig) withDefaults() RiskConfig {
	if c.HalfLife == 0 {
		c.HalfLife = 24 * time.Hour
	}
	if c.Threshold == 0 {
		c.Threshold = 100
	}
	if c.SourceCap == 0 {
		c.SourceCap = 60
	}
	if c.Tactics == 0 {
		c.Tactics = 3
	}
	if c.Distinct == 0 {
		c.Distinct = 3
	}
	if c.TacticWindow == 0 {
		c.TacticWindow = 7 * 24 * time.Hour
	}
	if c.SignalCap == 0 {
		c.SignalCap = 100
	}
	return c
}

// SignalKind is where risk came from.
type SignalKind uint8

// Signal kinds.
const (
	SignalDetection SignalKind = iota + 1
	SignalAnomaly
	// SignalIntel: a threat-intel indicator sighted in the entity's events.
	SignalIntel
	// SignalVuln: a vulnerability or exposure of the asset.
	SignalVuln
)

func (k SignalKind) String() string {
	switch k {
	case SignalDetection:
		return "detection"
	case SignalAnomaly:
		return "anomaly"
	case SignalIntel:
		return "intel"
	case SignalVuln:
		return "vulnerability"
	}
	return "unknown"
}

// MarshalText writes the kind's name.
func (k SignalKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name (API clients decode contributions).
func (k *SignalKind) UnmarshalText(b []byte) error {
	for c := SignalDetection; c <= SignalVuln; c++ {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("unknown signal kind %q", b)
}

// Signal is one piece of evidence against an entity.
type Signal struct {
	Kind   SignalKind
	Source string // rule id or detector name
	Title  string
	Entity Entity
	Time   time.Time
	// Impact (0-100) and Confidence (0-1): risk = impact × confidence ×
	// modifier.
	Impact     float64
	Confidence float64
	// Modifier scales for asset criticality and identity (1 = neutral).
	Modifier float64
	Tactics  []string
}

// Contribution is one source's part of an entity's current score.
type Contribution struct {
	Kind   SignalKind `json:"kind"`
	Source string     `json:"source"`
	Title  string     `json:"title"`
	// Points is the decayed, capped value now; Count how many signals.
	Points float64   `json:"points"`
	Count  int       `json:"count"`
	Last   time.Time `json:"last"`
	Capped bool      `json:"capped,omitempty"`
}

// EntityRisk is an entity's score with the contributions that make it.
type EntityRisk struct {
	Entity Entity  `json:"entity"`
	Score  float64 `json:"score"`
	// Normalized is the contributions ranked and normalised to 0-100 the
	// way Elastic's risk engine does (see ElasticScore), for comparison.
	Normalized    float64        `json:"normalized"`
	Contributions []Contribution `json:"contributions"`
	Tactics       []string       `json:"tactics,omitempty"`
	Updated       time.Time      `json:"updated"`
}

// RiskAlert is raised when an entity's risk crosses the threshold or
// accumulates several tactics.
type RiskAlert struct {
	Tenant string     `json:"tenant"`
	Reason string     `json:"reason"`
	Risk   EntityRisk `json:"risk"`
}

// sourceState is one source's decayed sum on one entity.
type sourceState struct {
	Kind  SignalKind
	Title string
	Value float64 // decayed to At
	At    time.Time
	Count int
	Last  time.Time
}

// RiskState is one entity's risk (exported for the snapshot codec).
type RiskState struct {
	Sources map[string]*sourceState
	Tactics map[string]time.Time
	Armed   bool // true once an alert fired, until the score falls below half
	TacArm  bool
}

// Risk accumulates signals per entity with exponential decay.
type Risk struct {
	cfg     RiskConfig
	tenants map[string]map[Entity]*RiskState
}

// NewRisk returns an empty risk ledger.
func NewRisk(cfg RiskConfig) *Risk {
	return &Risk{cfg: cfg.withDefaults(), tenants: map[string]map[Entity]*RiskState{}}
}

func (r *Risk) decay(v float64, from, to time.Time) float64 {
	dt := to.Sub(from)
	if dt <= 0 {
		return v
	}
	return v * math.Exp2(-float64(dt)/float64(r.cfg.HalfLife))
}

// Add records a signal at now and returns an alert when it made the
// entity cross a threshold.
func (r *Risk) Add(tenant string, s Signal, now time.Time) *RiskAlert {
	m := r.tenants[tenant]
	if m == nil {
		m = map[Entity]*RiskState{}
		r.tenants[tenant] = m
	}
	st := m[s.Entity]
	if st == nil {
		st = &RiskState{Sources: map[string]*sourceState{}, Tactics: map[string]time.Time{}}
		m[s.Entity] = st
	}
	if s.Modifier == 0 {
		s.Modifier = 1
	}
	if s.Confidence == 0 {
		s.Confidence = 1
	}
	pts := min(s.Impact*s.Confidence*s.Modifier, r.cfg.SignalCap)
	key := s.Kind.String() + ":" + s.Source
	src := st.Sources[key]
	if src == nil {
		src = &sourceState{Kind: s.Kind, Title: s.Title, At: now}
		st.Sources[key] = src
	}
	src.Value = min(r.decay(src.Value, src.At, now)+pts, r.cfg.SourceCap*s.Modifier)
	src.At, src.Count, src.Last = now, src.Count+1, s.Time
	for _, t := range s.Tactics {
		st.Tactics[t] = now
	}
	risk := r.view(s.Entity, st, now)
	switch {
	case risk.Score >= r.cfg.Threshold && !st.Armed:
		st.Armed = true
		return &RiskAlert{Tenant: tenant, Reason: "score crossed the threshold", Risk: risk}
	case risk.Score < r.cfg.Threshold/2:
		st.Armed = false
	}
	distinct := 0
	for _, src := range st.Sources {
		if src.Kind == SignalDetection && now.Sub(src.Last) <= r.cfg.TacticWindow {
			distinct++
		}
	}
	if len(risk.Tactics) >= r.cfg.Tactics && distinct >= r.cfg.Distinct && !st.TacArm {
		st.TacArm = true
		return &RiskAlert{Tenant: tenant, Reason: "several ATT&CK tactics and distinct detections within the window", Risk: risk}
	}
	return nil
}

func (r *Risk) view(ent Entity, st *RiskState, now time.Time) EntityRisk {
	out := EntityRisk{Entity: ent, Updated: now}
	for key, src := range st.Sources {
		v := r.decay(src.Value, src.At, now)
		if v < 0.05 {
			continue
		}
		_, name, _ := cutKind(key)
		out.Contributions = append(out.Contributions, Contribution{Kind: src.Kind, Source: name, Title: src.Title,
			Points: math.Round(v*10) / 10, Count: src.Count, Last: src.Last, Capped: src.Value >= r.cfg.SourceCap-1e-9})
		out.Score += v
	}
	out.Score = math.Round(out.Score*10) / 10
	if len(out.Contributions) > 0 {
		pts := make([]float64, len(out.Contributions))
		for i, c := range out.Contributions {
			pts[i] = c.Points
		}
		out.Normalized = ElasticScore(pts, 1).Total
	}
	for t, at := range st.Tactics {
		if now.Sub(at) <= r.cfg.TacticWindow {
			out.Tactics = append(out.Tactics, t)
		} else {
			delete(st.Tactics, t)
		}
	}
	sort.Strings(out.Tactics)
	sort.Slice(out.Contributions, func(i, j int) bool { return out.Contributions[i].Points > out.Contributions[j].Points })
	return out
}

func cutKind(key string) (string, string, bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == ':' {
			return key[:i], key[i+1:], true
		}
	}
	return "", key, false
}

// Top returns the riskiest entities of a tenant now (score > 0), at most
// limit.
func (r *Risk) Top(tenant string, now time.Time, limit int) []EntityRisk {
	var out []EntityRisk
	for ent, st := range r.tenants[tenant] {
		v := r.view(ent, st, now)
		if v.Score > 0 {
			out = append(out, v)
		} else if len(v.Contributions) == 0 && len(v.Tactics) == 0 {
			delete(r.tenants[tenant], ent)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Entity.String() < out[j].Entity.String()
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Get returns one entity's risk now; ok is false when it has none.
func (r *Risk) Get(tenant string, ent Entity, now time.Time) (EntityRisk, bool) {
	st := r.tenants[tenant][ent]
	if st == nil {
		return EntityRisk{}, false
	}
	return r.view(ent, st, now), true
}
