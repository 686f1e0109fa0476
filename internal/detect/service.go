package detect

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/sigma"
)

// Options configure a Service.
type Options struct {
	Load LoadOptions
	// Bus receives TopicMatched events (nil: none are published).
	Bus *bus.Bus
	// DB stores suppressions (nil: suppressions are unavailable).
	DB *store.DB
	// Events is searched by retro-hunts (nil: hunts are unavailable).
	Events eventstore.EventStore
	Now    func() time.Time
	Log    *slog.Logger
	// SlowRule is the mean evaluation time above which a rule is reported
	// slow. Default 50µs.
	SlowRule time.Duration
	// StateFile keeps the correlation state across restarts: restored by
	// New when it exists, written by SaveState (empty: not kept).
	StateFile string
	// Suppress are suppression windows from the configuration: matches of
	// a rule with the same group-by values within a window collapse into
	// one alert.
	Suppress []WindowRule
}

// Service runs the rules on events.
type Service struct {
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	rules atomic.Pointer[Ruleset]
	sup   *suppressions
	win   *windows

	reloadMu sync.Mutex

	mu     sync.Mutex
	counts map[string]map[string]*ruleCount // tenant → rule id → counts

	processed  atomic.Uint64
	detections atomic.Uint64
	suppressed atomic.Uint64
	collapsed  atomic.Uint64
	errors     atomic.Uint64
}

type ruleCount struct {
	matches    uint64
	suppressed uint64
	collapsed  uint64
	last       time.Time
}

// New loads and compiles the rules. Bad rules are reported (Problems) and
// the others run; only an unreadable path is an error.
func New(opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.SlowRule <= 0 {
		opts.SlowRule = 50 * time.Microsecond
	}
	for _, w := range opts.Suppress {
		if err := w.Validate(); err != nil {
			return nil, err
		}
	}
	s := &Service{opts: opts, log: opts.Log, now: opts.Now, counts: map[string]map[string]*ruleCount{},
		sup: &suppressions{db: opts.DB, now: opts.Now, ttl: 30 * time.Second, tenant: map[string]*tenantSuppressions{}, hits: map[string]uint64{}},
		win: newWindows(opts.Suppress)}
	rs, err := Load(opts.Load, opts.Now())
	if err != nil {
		return nil, err
	}
	s.rules.Store(rs)
	s.logLoaded(rs)
	if err := s.restoreState(rs); err != nil {
		// A damaged state file loses open correlation windows, not rules.
		s.log.Error("correlation_state_not_restored", "file", opts.StateFile, "err", err)
	}
	return s, nil
}

// restoreState loads opts.StateFile into rs's engine.
func (s *Service) restoreState(rs *Ruleset) error {
	if s.opts.StateFile == "" {
		return nil
	}
	f, err := os.Open(s.opts.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open correlation state %s: %w", s.opts.StateFile, err)
	}
	defer f.Close()
	st, err := rs.Engine.RestoreState(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("read correlation state %s: %w", s.opts.StateFile, err)
	}
	s.log.Info("correlation_state_restored", "file", s.opts.StateFile, "groups", st.Groups, "dropped", st.Dropped)
	return nil
}

// SaveState writes the correlation state to Options.StateFile (through a
// temporary file and a rename, so a crash leaves the previous state). It
// returns the number of open correlation groups written.
func (s *Service) SaveState() (int, error) {
	if s.opts.StateFile == "" {
		return 0, nil
	}
	if err := os.MkdirAll(filepath.Dir(s.opts.StateFile), 0o700); err != nil {
		return 0, fmt.Errorf("save correlation state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.opts.StateFile), ".correlations-*")
	if err != nil {
		return 0, fmt.Errorf("save correlation state: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<16)
	n, err := s.rules.Load().Engine.SaveState(w, s.now())
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.opts.StateFile)
	}
	if err != nil {
		return 0, fmt.Errorf("save correlation state %s: %w", s.opts.StateFile, err)
	}
	return n, nil
}

// Logger is the service's logger (the API logs failed requests with it).
func (s *Service) Logger() *slog.Logger { return s.log }

// Ruleset is the running rule set.
func (s *Service) Ruleset() *Ruleset { return s.rules.Load() }

func (s *Service) logLoaded(rs *Ruleset) {
	total, ok, unsup, invalid := rs.Counts()
	s.log.Info("rules_loaded", "rules", total, "ok", ok, "unsupported", unsup, "invalid", invalid,
		"paths", len(s.opts.Load.Paths), "took", rs.Took)
	for _, p := range rs.Problems {
		s.log.Warn("rule_not_loaded", "kind", p.Kind.String(), "file", p.File, "rule_id", p.RuleID, "reason", p.Reason)
	}
}

// carryState moves the correlation state of the running engine into rs's
// (correlations whose definition did not change keep their windows).
func (s *Service) carryState(cur, rs *Ruleset) {
	var buf bytes.Buffer
	if _, err := cur.Engine.SaveState(&buf, s.now()); err != nil {
		s.log.Error("correlation_state_not_carried", "err", err)
		return
	}
	st, err := rs.Engine.RestoreState(&buf)
	if err != nil {
		s.log.Error("correlation_state_not_carried", "err", err)
		return
	}
	if st.Groups > 0 || st.Dropped > 0 {
		s.log.Info("correlation_state_carried", "groups", st.Groups, "dropped", st.Dropped)
	}
}

// ReloadResult says what a reload did.
type ReloadResult struct {
	Changed     bool      `json:"changed"`
	Rules       int       `json:"rules"`
	OK          int       `json:"ok"`
	Unsupported int       `json:"unsupported"`
	Invalid     int       `json:"invalid"`
	Problems    []Problem `json:"problems,omitempty"`
	Loaded      time.Time `json:"loaded"`
	TookMS      float64   `json:"took_ms"`
}

// Reload re-reads the rules. Unless force, nothing happens when no rule
// file changed. The new rules replace the old ones at once; correlation
// windows in progress carry over to correlation rules whose definition
// did not change (events matched between the copy and the swap count in
// the old engine only).
func (s *Service) Reload(force bool) (ReloadResult, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.rules.Load()
	if !force {
		fp, err := Fingerprint(s.opts.Load.Paths)
		if err != nil {
			return ReloadResult{}, err
		}
		if fp == cur.Fingerprint {
			return s.result(cur, false), nil
		}
	}
	rs, err := Load(s.opts.Load, s.now())
	if err != nil {
		return ReloadResult{}, err
	}
	s.carryState(cur, rs)
	s.rules.Store(rs)
	s.logLoaded(rs)
	return s.result(rs, true), nil
}

func (s *Service) result(rs *Ruleset, changed bool) ReloadResult {
	total, ok, unsup, invalid := rs.Counts()
	return ReloadResult{Changed: changed, Rules: total, OK: ok, Unsupported: unsup, Invalid: invalid,
		Problems: rs.Problems, Loaded: rs.Loaded, TookMS: float64(rs.Took.Microseconds()) / 1000}
}

// Watch polls the rule paths every interval and reloads when a file
// changed, until ctx ends. Polling (rather than file notifications) also
// sees changes on network file systems and to mounted config maps.
func (s *Service) Watch(ctx context.Context, every time.Duration) {
	if len(s.opts.Load.Paths) == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Reload(false); err != nil {
			s.log.Error("rules_reload_failed", "err", err)
		}
	}
}

// Process evaluates a batch of stored events and publishes a detection per
// match that is not suppressed. It returns the published detections.
func (s *Service) Process(ctx context.Context, events []*event.Event) []Detection {
	rs := s.rules.Load()
	var out []Detection
	for _, ev := range events {
		if ls, ok := RouteLogSource(ev); ok {
			c := *ev
			c.LogSource = ls
			ev = &c
		}
		rs.Engine.Match(ev, func(m sigma.Match) {
			out = s.emit(ctx, rs, m, out)
		})
	}
	s.processed.Add(uint64(len(events)))
	return out
}

// Flush closes the correlation windows that ended before now (event time)
// and publishes what they produced.
func (s *Service) Flush(ctx context.Context, now time.Time) []Detection {
	rs := s.rules.Load()
	var out []Detection
	rs.Engine.Flush(now, func(m sigma.Match) { out = s.emit(ctx, rs, m, out) })
	// Suppression windows run on the service's clock; a zero now (end of
	// an offline run) closes them all.
	wnow := s.now()
	if now.IsZero() {
		wnow = time.Time{}
	}
	for _, d := range s.win.close(wnow) {
		out = s.publish(ctx, d, out)
	}
	return out
}

func (s *Service) emit(ctx context.Context, rs *Ruleset, m sigma.Match, out []Detection) []Detection {
	d := FromMatch(m, rs.Source(m.Rule))
	sup, err := s.sup.suppressed(ctx, &d)
	if err != nil {
		// Failing open: an unreadable suppression list must not hide
		// detections.
		s.errors.Add(1)
		s.log.Error("suppressions_unavailable", "tenant", d.Tenant, "err", err)
	}
	s.mu.Lock()
	byRule := s.counts[d.Tenant]
	if byRule == nil {
		byRule = map[string]*ruleCount{}
		s.counts[d.Tenant] = byRule
	}
	c := byRule[d.RuleID]
	if c == nil {
		c = &ruleCount{}
		byRule[d.RuleID] = c
	}
	publish, closed := true, (*Detection)(nil)
	if !sup {
		publish, closed = s.win.admit(&d, s.now())
	}
	switch {
	case sup:
		c.suppressed++
	case !publish:
		c.collapsed++
	default:
		c.matches++
	}
	if !sup && d.Time.After(c.last) {
		c.last = d.Time
	}
	s.mu.Unlock()
	if closed != nil {
		out = s.publish(ctx, *closed, out)
	}
	if sup {
		s.suppressed.Add(1)
		return out
	}
	if !publish {
		s.collapsed.Add(1)
		return out
	}
	return s.publish(ctx, d, out)
}

// publish sends d on the bus and appends it to out.
func (s *Service) publish(ctx context.Context, d Detection, out []Detection) []Detection {
	s.detections.Add(1)
	if s.opts.Bus != nil {
		s.opts.Bus.Publish(ctx, bus.Event{Type: TopicMatched, Tenant: d.Tenant, Time: d.Time, Subject: d.RuleID, Actor: "detect", Data: d})
	}
	return append(out, d)
}

// RuleState is whether a rule runs.
type RuleState uint8

// Rule states.
const (
	StateLoaded RuleState = iota + 1
	StateUnsupported
	StateInvalid
)

func (st RuleState) String() string {
	switch st {
	case StateLoaded:
		return "loaded"
	case StateUnsupported:
		return "unsupported"
	case StateInvalid:
		return "invalid"
	}
	return "unknown"
}

// MarshalText writes the state's name.
func (st RuleState) MarshalText() ([]byte, error) { return []byte(st.String()), nil }

// UnmarshalText reads a state's name.
func (st *RuleState) UnmarshalText(b []byte) error {
	for _, c := range []RuleState{StateLoaded, StateUnsupported, StateInvalid} {
		if c.String() == string(b) {
			*st = c
			return nil
		}
	}
	return fmt.Errorf("unknown rule state %q", b)
}

// RuleStatus is the health of one rule as a tenant sees it.
type RuleStatus struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Kind      string    `json:"kind"`
	Level     Level     `json:"level"`
	Author    string    `json:"author,omitempty"`
	Tags      []string  `json:"tags,omitempty"`
	Source    string    `json:"source"`
	File      string    `json:"file"`
	LogSource string    `json:"logsource,omitempty"`
	State     RuleState `json:"state"`
	Error     string    `json:"error,omitempty"`
	// Evaluated and EvalTime are engine-wide (rule cost, not tenant data).
	Evaluated  uint64  `json:"evaluated"`
	EvalTimeMS float64 `json:"eval_time_ms"`
	Slow       bool    `json:"slow,omitempty"`
	// Matches, Suppressed and Collapsed count this tenant's detections:
	// published, silenced by a suppression, and folded into an open
	// suppression window.
	Matches    uint64    `json:"matches"`
	Suppressed uint64    `json:"suppressed"`
	Collapsed  uint64    `json:"collapsed,omitempty"`
	LastMatch  time.Time `json:"last_match,omitzero"`
}

// Status lists every rule with its health for tenant, in file order.
func (s *Service) Status(tenant string) []RuleStatus {
	rs := s.rules.Load()
	stats := map[*sigma.Rule]sigma.RuleStats{}
	for _, st := range rs.Engine.RuleStats() {
		stats[st.Rule] = st
	}
	failed := map[string]Problem{}
	for _, p := range rs.Problems {
		if p.RuleID != "" {
			failed[p.File+"\x00"+p.RuleID] = p
		}
	}
	s.mu.Lock()
	counts := s.counts[tenant]
	out := make([]RuleStatus, 0, len(rs.Rules))
	for _, r := range rs.Rules {
		st := RuleStatus{ID: ruleID(r), Title: r.Title, Kind: r.Kind.String(), Level: ParseLevel(r.Level), Author: r.Author,
			Tags: r.Tags, Source: rs.Source(r), File: r.File, State: StateLoaded, LogSource: logsourceString(r.LogSource)}
		if p, ok := failed[r.File+"\x00"+st.ID]; ok {
			st.State, st.Error = StateInvalid, p.Reason
			if p.Kind == ProblemUnsupported {
				st.State = StateUnsupported
			}
		}
		if x, ok := stats[r]; ok {
			st.Evaluated = x.Evaluated
			st.EvalTimeMS = float64(x.EvalTime.Microseconds()) / 1000
			st.Slow = x.Evaluated >= 100 && x.EvalTime/time.Duration(x.Evaluated) > s.opts.SlowRule
		}
		if c := counts[st.ID]; c != nil {
			st.Matches, st.Suppressed, st.Collapsed, st.LastMatch = c.matches, c.suppressed, c.collapsed, c.last
		}
		out = append(out, st)
	}
	s.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}

// Rule returns one rule's status.
func (s *Service) Rule(tenant, id string) (RuleStatus, error) {
	for _, st := range s.Status(tenant) {
		if st.ID == id {
			return st, nil
		}
	}
	return RuleStatus{}, ErrNotFound
}

func logsourceString(ls sigma.LogSource) string {
	out := ""
	for _, p := range []string{ls.Product, ls.Category, ls.Service} {
		if out != "" {
			out += "/"
		}
		if p == "" {
			p = "*"
		}
		out += p
	}
	if out == "*/*/*" {
		return ""
	}
	return out
}

// Summary is the service's counters.
type Summary struct {
	Rules       int       `json:"rules"`
	OK          int       `json:"ok"`
	Unsupported int       `json:"unsupported"`
	Invalid     int       `json:"invalid"`
	Loaded      time.Time `json:"loaded"`
	Events      uint64    `json:"events"`
	Detections  uint64    `json:"detections"`
	Suppressed  uint64    `json:"suppressed"`
	// Collapsed counts matches folded into suppression windows; Windows
	// the windows open; WindowOverflow matches published unwindowed
	// because too many windows were open.
	Collapsed      uint64 `json:"collapsed"`
	Windows        int    `json:"windows"`
	WindowOverflow uint64 `json:"window_overflow,omitempty"`
	Errors         uint64 `json:"errors"`
	// CorrelationEvictions counts correlation groups dropped to bound
	// memory.
	CorrelationEvictions uint64 `json:"correlation_evictions"`
}

// Summary returns the service's counters (node-wide).
func (s *Service) Summary() Summary {
	rs := s.rules.Load()
	total, ok, unsup, invalid := rs.Counts()
	sum := Summary{Rules: total, OK: ok, Unsupported: unsup, Invalid: invalid, Loaded: rs.Loaded,
		Events: s.processed.Load(), Detections: s.detections.Load(), Suppressed: s.suppressed.Load(), Collapsed: s.collapsed.Load(), Errors: s.errors.Load()}
	sum.Windows, sum.WindowOverflow = s.win.stats()
	for _, c := range rs.Engine.CorrelationStats() {
		sum.CorrelationEvictions += c.Evictions
	}
	return sum
}

// Suppressions lists the tenant's active suppressions.
func (s *Service) Suppressions(ctx context.Context, tenant string) ([]*Suppression, error) {
	return s.sup.list(ctx, tenant)
}

// AddSuppression stores a suppression for tenant. The rule must be loaded.
func (s *Service) AddSuppression(ctx context.Context, tenant, actor string, in NewSuppression) (*Suppression, error) {
	if _, err := s.Rule(tenant, in.RuleID); errors.Is(err, ErrNotFound) {
		return nil, userErrorf("no rule with id %q is loaded", in.RuleID)
	}
	sup, err := s.sup.add(ctx, tenant, actor, in)
	if err != nil {
		return nil, err
	}
	s.log.Info("suppression_added", "tenant", tenant, "id", sup.ID, "rule_id", sup.RuleID, "field", sup.Field, "expires_at", sup.ExpiresAt, "actor", actor)
	return sup, nil
}

// DeleteSuppression removes one of tenant's suppressions.
func (s *Service) DeleteSuppression(ctx context.Context, tenant, id string) error {
	if err := s.sup.remove(ctx, tenant, id); err != nil {
		return err
	}
	s.log.Info("suppression_deleted", "tenant", tenant, "id", id)
	return nil
}

// String describes the service for logs.
func (s *Service) String() string {
	total, ok, _, _ := s.rules.Load().Counts()
	return fmt.Sprintf("detect: %d of %d rules running", ok, total)
}
