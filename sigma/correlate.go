package sigma

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// CorrelationMatch describes why a correlation rule fired.
type CorrelationMatch struct {
	Type        CorrelationType
	GroupBy     []string
	GroupValues []string
	// Value is the aggregate that met the condition: the event count, the
	// distinct value count, the sum, the average, the share in percent of
	// FieldValue (value_percentile), or the number of rules seen (temporal).
	Value      float64
	FieldValue string
	First      time.Time
	Last       time.Time
	// Events are the last events of the group (at most Options.MaxEvents).
	Events []*event.Event
}

type corrInput struct {
	rule        *Rule
	groupFields []string
	valueFields []string
}

type parentLink struct {
	k     *correlator
	input int
}

// correlator holds one correlation rule and its state, behind its own lock.
type correlator struct {
	rule    *Rule
	c       *Correlation
	opts    Options
	inputs  []corrInput
	parents []parentLink
	emit    bool
	// eager conditions only grow with more events (gt, gte): they are
	// checked on each event over a sliding window. Others are checked when
	// a window closes.
	eager bool

	mu        sync.Mutex
	groups    map[string]*corrGroup
	now       time.Time
	evictions uint64
}

type timedValue struct {
	t time.Time
	v float64
	s string
}

type corrGroup struct {
	values []string
	start  time.Time
	last   time.Time
	items  []timedValue // events (event_count), values (value_*)
	seen   []time.Time  // temporal: last match per input; ordered: chain start per step
	events []*event.Event
}

func newCorrelator(r *Rule, opts Options) *correlator {
	k := &correlator{rule: r, c: r.Correlation, opts: opts, groups: map[string]*corrGroup{}}
	switch k.c.Type {
	case Temporal, TemporalOrdered:
		k.eager = true
	case EventCount, ValueCount, ValueSum:
		k.eager = true
		for op := range k.c.Condition {
			if op != "gt" && op != "gte" {
				k.eager = false
			}
		}
	}
	return k
}

func (k *correlator) resolve(byRef map[string][]*Rule, compiled map[*Rule]*compiledRule, corrs map[*Rule]*correlator) error {
	for _, ref := range k.c.Rules {
		var target *Rule
		for _, r := range byRef[ref] {
			if (r.Kind == KindDetection && compiled[r] != nil) || (r.Kind == KindCorrelation && corrs[r] != nil && r != k.rule) {
				target = r
				break
			}
		}
		if target == nil {
			if len(byRef[ref]) > 0 {
				return fmt.Errorf("correlation references rule %q, which did not compile", ref)
			}
			return fmt.Errorf("correlation references unknown rule %q", ref)
		}
		in := corrInput{rule: target}
		alias := func(f string) string {
			if a, ok := k.c.Aliases[f]; ok {
				if v, ok := a[target.Name]; ok {
					return v
				}
				if v, ok := a[ref]; ok {
					return v
				}
				if v, ok := a[target.ID]; ok {
					return v
				}
			}
			return f
		}
		for _, g := range k.c.GroupBy {
			in.groupFields = append(in.groupFields, alias(g))
		}
		for _, f := range k.c.Fields {
			in.valueFields = append(in.valueFields, alias(f))
		}
		k.inputs = append(k.inputs, in)
	}
	return nil
}

// checkCycles rejects correlation chains that loop.
func checkCycles(corrs map[*Rule]*correlator) error {
	state := map[*correlator]uint8{}
	var visit func(k *correlator) error
	visit = func(k *correlator) error {
		switch state[k] {
		case 1:
			return fmt.Errorf("correlation chain through %s loops", k.rule.Ref())
		case 2:
			return nil
		}
		state[k] = 1
		for _, in := range k.inputs {
			if p := corrs[in.rule]; p != nil {
				if err := visit(p); err != nil {
					return err
				}
			}
		}
		state[k] = 2
		return nil
	}
	for _, k := range corrs {
		if err := visit(k); err != nil {
			return err
		}
	}
	return nil
}

func (k *correlator) condition(v float64) bool {
	for op, x := range k.c.Condition {
		ok := false
		switch op {
		case "gt":
			ok = v > x
		case "gte":
			ok = v >= x
		case "lt":
			ok = v < x
		case "lte":
			ok = v <= x
		case "eq":
			ok = v == x
		case "neq":
			ok = v != x
		}
		if !ok {
			return false
		}
	}
	return true
}

func fieldString(ev *event.Event, name string) (string, bool) {
	v, ok := ev.Get(name)
	if !ok || v.IsNull() {
		return "", false
	}
	return v.String(), true
}

// observe feeds a match of rule into the correlator.
func (k *correlator) observe(rule *Rule, ev *event.Event, out []Match) []Match {
	for i := len(k.inputs) - 1; i >= 0; i-- {
		if k.inputs[i].rule == rule {
			out = k.feed(i, ev, out)
		}
	}
	return out
}

func (k *correlator) feed(input int, ev *event.Event, out []Match) []Match {
	in := &k.inputs[input]
	vals := make([]string, len(in.groupFields))
	for i, f := range in.groupFields {
		vals[i], _ = fieldString(ev, f)
	}
	// Groups never span tenants: the same address in two tenants is two
	// groups.
	key := ev.Tenant + "\x00" + strings.Join(vals, "\x00")
	item := timedValue{}
	if k.c.Type != EventCount && k.c.Type != Temporal && k.c.Type != TemporalOrdered {
		parts := make([]string, 0, len(in.valueFields))
		any := false
		for _, f := range in.valueFields {
			s, ok := fieldString(ev, f)
			any = any || ok
			parts = append(parts, s)
		}
		if !any {
			return out
		}
		item.s = strings.Join(parts, "\x00")
		if k.c.Type == ValueSum || k.c.Type == ValueAvg {
			v, _ := ev.Get(in.valueFields[0])
			f, ok := v.Float()
			if !ok {
				return out
			}
			item.v = f
		}
	}

	var fired []*CorrelationMatch
	k.mu.Lock()
	t := ev.Time
	if t.IsZero() {
		t = k.now
	}
	if t.After(k.now) {
		k.now = t
	}
	item.t = t
	g := k.groups[key]
	if g == nil {
		if len(k.groups) >= k.opts.MaxGroups {
			fired = k.evict(fired)
		}
		g = &corrGroup{values: vals, start: t}
		if k.c.Type == Temporal || k.c.Type == TemporalOrdered {
			g.seen = make([]time.Time, len(k.inputs))
		}
		k.groups[key] = g
	}
	if !k.eager && t.Sub(g.start) > k.c.Timespan {
		fired = k.close(g, fired)
		k.resetGroup(g, t)
	}
	g.last = t
	g.events = append(g.events, ev)
	if len(g.events) > k.opts.MaxEvents {
		g.events = append(g.events[:0], g.events[len(g.events)-k.opts.MaxEvents:]...)
	}
	if m := k.add(g, input, item); m != nil {
		fired = append(fired, m)
		k.resetGroup(g, t)
	}
	k.mu.Unlock()

	for _, m := range fired {
		if k.emit {
			out = append(out, Match{Rule: k.rule, Event: ev, Correlation: m})
		}
		for _, p := range k.parents {
			out = p.k.feed(p.input, ev, out)
		}
	}
	return out
}

func (k *correlator) resetGroup(g *corrGroup, t time.Time) {
	g.start = t
	g.items = g.items[:0]
	g.events = g.events[:0]
	for i := range g.seen {
		g.seen[i] = time.Time{}
	}
}

// add records one event in an eager group and returns a match when the
// condition holds.
func (k *correlator) add(g *corrGroup, input int, item timedValue) *CorrelationMatch {
	t := item.t
	span := k.c.Timespan
	switch k.c.Type {
	case Temporal:
		g.seen[input] = t
		n := 0
		for _, s := range g.seen {
			if !s.IsZero() && t.Sub(s) <= span {
				n++
			}
		}
		ok := n == len(k.inputs)
		if len(k.c.Condition) > 0 {
			ok = k.condition(float64(n))
		}
		if ok {
			return k.matchOf(g, float64(n), "")
		}
		return nil
	case TemporalOrdered:
		last := len(k.inputs) - 1
		if input == 0 {
			g.seen[0] = t
		} else if p := g.seen[input-1]; !p.IsZero() && t.Sub(p) <= span && p.After(g.seen[input]) {
			g.seen[input] = p
		}
		if s := g.seen[last]; !s.IsZero() && t.Sub(s) <= span && input == last {
			return k.matchOf(g, float64(len(k.inputs)), "")
		}
		return nil
	}
	if k.eager {
		cut := 0
		for cut < len(g.items) && t.Sub(g.items[cut].t) > span {
			cut++
		}
		if cut > 0 {
			g.items = append(g.items[:0], g.items[cut:]...)
		}
	}
	g.items = append(g.items, item)
	if !k.eager {
		return nil
	}
	v := k.aggregate(g.items)
	if k.condition(v) {
		return k.matchOf(g, v, "")
	}
	return nil
}

func (k *correlator) aggregate(items []timedValue) float64 {
	switch k.c.Type {
	case EventCount:
		return float64(len(items))
	case ValueCount:
		set := make(map[string]struct{}, len(items))
		for _, it := range items {
			set[it.s] = struct{}{}
		}
		return float64(len(set))
	case ValueSum, ValueAvg:
		sum := 0.0
		for _, it := range items {
			sum += it.v
		}
		if k.c.Type == ValueAvg && len(items) > 0 {
			return sum / float64(len(items))
		}
		return sum
	}
	return 0
}

// close evaluates a tumbling window that has ended.
func (k *correlator) close(g *corrGroup, fired []*CorrelationMatch) []*CorrelationMatch {
	if len(g.items) == 0 && k.c.Type != EventCount {
		return fired
	}
	if k.c.Type == ValuePercentile {
		counts := map[string]int{}
		for _, it := range g.items {
			counts[it.s]++
		}
		keys := make([]string, 0, len(counts))
		for s := range counts {
			keys = append(keys, s)
		}
		sort.Strings(keys)
		for _, s := range keys {
			share := float64(counts[s]) * 100 / float64(len(g.items))
			if k.condition(share) {
				fired = append(fired, k.matchOf(g, share, s))
			}
		}
		return fired
	}
	if v := k.aggregate(g.items); k.condition(v) {
		fired = append(fired, k.matchOf(g, v, ""))
	}
	return fired
}

func (k *correlator) matchOf(g *corrGroup, v float64, fv string) *CorrelationMatch {
	m := &CorrelationMatch{
		Type: k.c.Type, GroupBy: k.c.GroupBy, GroupValues: g.values,
		Value: v, FieldValue: fv, First: g.start, Last: g.last,
		Events: append([]*event.Event(nil), g.events...),
	}
	if len(g.items) > 0 {
		m.First = g.items[0].t
	}
	return m
}

// evict makes room: expired groups first (closing their windows), then the
// least recently updated eighth.
func (k *correlator) evict(fired []*CorrelationMatch) []*CorrelationMatch {
	for key, g := range k.groups {
		if k.now.Sub(g.last) > k.c.Timespan {
			if !k.eager {
				fired = k.close(g, fired)
			}
			delete(k.groups, key)
		}
	}
	if len(k.groups) < k.opts.MaxGroups {
		return fired
	}
	type kv struct {
		key  string
		last time.Time
	}
	all := make([]kv, 0, len(k.groups))
	for key, g := range k.groups {
		all = append(all, kv{key, g.last})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].last.Before(all[j].last) })
	n := max(1, len(all)/8)
	for _, e := range all[:n] {
		delete(k.groups, e.key)
		k.evictions++
	}
	return fired
}

// flush closes the windows that ended before now (all when now is zero).
func (k *correlator) flush(now time.Time, out []Match) []Match {
	var fired []*CorrelationMatch
	var evs []*event.Event
	k.mu.Lock()
	keys := make([]string, 0, len(k.groups))
	for key := range k.groups {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		g := k.groups[key]
		if !now.IsZero() && now.Sub(g.start) <= k.c.Timespan {
			continue
		}
		if !k.eager {
			n := len(fired)
			fired = k.close(g, fired)
			for range fired[n:] {
				var last *event.Event
				if len(g.events) > 0 {
					last = g.events[len(g.events)-1]
				}
				evs = append(evs, last)
			}
		}
		delete(k.groups, key)
	}
	k.mu.Unlock()
	for i, m := range fired {
		if k.emit {
			out = append(out, Match{Rule: k.rule, Event: evs[i], Correlation: m})
		}
		if evs[i] != nil {
			for _, p := range k.parents {
				out = p.k.feed(p.input, evs[i], out)
			}
		}
	}
	return out
}

// Flush closes correlation windows that ended before now and reports the
// matches of those whose condition is only known at the end of a window
// (lt, lte, eq, neq, value_avg, value_percentile). A zero now closes every
// window; call it at the end of an offline scan.
func (e *Engine) Flush(now time.Time, fn func(Match)) {
	var out []Match
	for _, k := range e.correlators {
		out = k.flush(now, out)
	}
	for _, m := range out {
		fn(m)
	}
}

// CorrelationStats reports per correlation rule the number of live groups
// and of groups evicted to respect Options.MaxGroups.
type CorrelationStats struct {
	Rule      *Rule
	Groups    int
	Evictions uint64
}

// CorrelationStats returns the state size of every correlation rule.
func (e *Engine) CorrelationStats() []CorrelationStats {
	out := make([]CorrelationStats, 0, len(e.correlators))
	for _, k := range e.correlators {
		k.mu.Lock()
		out = append(out, CorrelationStats{Rule: k.rule, Groups: len(k.groups), Evictions: k.evictions})
		k.mu.Unlock()
	}
	return out
}
