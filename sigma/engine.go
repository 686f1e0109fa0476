package sigma

import (
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// Collection is a set of parsed Sigma documents: detection rules,
// correlation rules and filters.
type Collection struct {
	Rules []*Rule
}

// Add appends rules to the collection.
func (c *Collection) Add(rules ...*Rule) { c.Rules = append(c.Rules, rules...) }

// Match is one rule matching one event. For a correlation rule, Correlation
// is set and Event is the event that completed it.
type Match struct {
	Rule        *Rule
	Event       *event.Event
	Correlation *CorrelationMatch
	// Selections names the search identifiers of a detection rule that
	// evaluated true on the event, in document order (filters named in
	// the condition with "not" are absent since they did not match).
	Selections []string
}

// compiledRule is a detection rule ready to run.
type compiledRule struct {
	rule  *Rule
	cond  node
	reqs  []literalReq
	sels  []namedSel
	emit  bool // false when the rule only feeds correlations
	corrs []*correlator
	stats ruleCounters
}

// group holds the rules of one logsource triple and their prefilter.
type group struct {
	ls     LogSource
	rules  []*compiledRule
	always []uint64 // bitset of rules without a literal requirement
	exact  map[int]map[string][]int32
	exacts []fieldExact
	subs   []fieldAC
	words  int
}

type fieldExact struct {
	field int
	rules map[string][]int32
}

type fieldAC struct {
	field int
	ac    *acMatcher
	rules [][]int32 // per pattern
}

// Engine evaluates compiled rules against events. Match may be called from
// many goroutines at once.
type Engine struct {
	fieldIdx    map[string]int
	groups      []*group
	routes      sync.Map // event.LogSource → *group (merged, with prefilter)
	merged      sync.Map // covering group indexes → *group
	pool        sync.Pool
	correlators []*correlator
	problems    []*RuleError
	nrules      int
}

// Compile compiles the detection, correlation and filter rules of coll. It
// always returns a usable engine with every rule that compiled; the error
// joins one *RuleError per rule that did not (see Engine.Problems).
func Compile(coll *Collection, opts Options) (*Engine, error) {
	if opts.MaxGroups <= 0 {
		opts.MaxGroups = 100_000
	}
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = 16
	}
	cc := &compiler{opts: opts, fieldIdx: map[string]int{}}
	e := &Engine{}
	byRef := map[string][]*Rule{}
	var dets, corrs, filters []*Rule
	for _, r := range coll.Rules {
		switch r.Kind {
		case KindDetection:
			dets = append(dets, r)
		case KindCorrelation:
			corrs = append(corrs, r)
		case KindFilter:
			filters = append(filters, r)
		}
		if r.Kind != KindFilter {
			if r.ID != "" {
				byRef[r.ID] = append(byRef[r.ID], r)
			}
			if r.Name != "" && r.Name != r.ID {
				byRef[r.Name] = append(byRef[r.Name], r)
			}
		}
	}
	fail := func(r *Rule, err error) { e.problems = append(e.problems, &RuleError{Rule: r, Err: err}) }

	// Filters, attached to the rules they name.
	type attached struct {
		f    *Rule
		node node
	}
	filtersOf := map[*Rule][]attached{}
	for _, f := range filters {
		n, _, _, err := cc.compileDetection(f.Filter.Detection)
		if err != nil {
			fail(f, err)
			continue
		}
		for _, ref := range f.Filter.Rules {
			for _, r := range byRef[ref] {
				if r.Kind == KindDetection && filterApplies(f.LogSource, r.LogSource) {
					filtersOf[r] = append(filtersOf[r], attached{f, n})
				}
			}
		}
	}

	compiled := map[*Rule]*compiledRule{}
	for _, r := range dets {
		n, reqs, sels, err := cc.compileDetection(r.Detection)
		if err != nil {
			fail(r, err)
			continue
		}
		if fs := filtersOf[r]; len(fs) > 0 {
			and := andN{n}
			for _, f := range fs {
				and = append(and, f.node)
			}
			n = and
		}
		compiled[r] = &compiledRule{rule: r, cond: n, reqs: reqs, sels: sels, emit: true}
	}

	// Correlations: resolve references, then decide which base rules still
	// emit matches of their own (generate).
	corrOf := map[*Rule]*correlator{}
	for _, r := range corrs {
		corrOf[r] = newCorrelator(r, opts)
	}
	generated := map[*Rule]bool{}
	referenced := map[*Rule]bool{}
	for _, r := range corrs {
		k := corrOf[r]
		if err := k.resolve(byRef, compiled, corrOf); err != nil {
			fail(r, err)
			delete(corrOf, r)
			continue
		}
		for _, in := range k.inputs {
			referenced[in.rule] = true
			if r.Correlation.Generate {
				generated[in.rule] = true
			}
		}
	}
	if err := checkCycles(corrOf); err != nil {
		for r := range corrOf {
			fail(r, err)
		}
		corrOf = nil
	}
	for _, r := range corrs {
		k, ok := corrOf[r]
		if !ok {
			continue
		}
		for i, in := range k.inputs {
			if cr := compiled[in.rule]; cr != nil {
				cr.corrs = append(cr.corrs, k)
			} else if parent := corrOf[in.rule]; parent != nil {
				parent.parents = append(parent.parents, parentLink{k, i})
			}
		}
		e.correlators = append(e.correlators, k)
		k.emit = !referenced[r] || generated[r]
	}
	for r, cr := range compiled {
		if referenced[r] && !generated[r] {
			cr.emit = false
		}
	}

	// Group by logsource, in collection order.
	byLS := map[LogSource]*group{}
	for _, r := range dets {
		cr := compiled[r]
		if cr == nil {
			continue
		}
		ls := LogSource{Product: r.LogSource.Product, Category: r.LogSource.Category, Service: r.LogSource.Service}
		g := byLS[ls]
		if g == nil {
			g = &group{ls: ls}
			byLS[ls] = g
			e.groups = append(e.groups, g)
		}
		g.rules = append(g.rules, cr)
		e.nrules++
	}
	// Prefilters are built per event logsource on first use (see route):
	// one automaton per field over every rule the event can meet, instead
	// of one per rule group, and nothing to build for logsources no event
	// has.
	e.fieldIdx = cc.fieldIdx
	e.pool.New = func() any { return newEvalCtx(e.fieldIdx) }
	errs := make([]error, len(e.problems))
	for i, p := range e.problems {
		errs[i] = p
	}
	return e, errors.Join(errs...)
}

func filterApplies(f, r LogSource) bool {
	return (f.Product == "" || f.Product == r.Product) &&
		(f.Category == "" || f.Category == r.Category) &&
		(f.Service == "" || f.Service == r.Service)
}

// Problems lists the rules that did not compile.
func (e *Engine) Problems() []*RuleError { return e.problems }

// RuleCount is the number of detection rules that compiled.
func (e *Engine) RuleCount() int { return e.nrules }

func (g *group) buildPrefilter() {
	n := len(g.rules)
	g.words = (n + 63) / 64
	g.always = make([]uint64, g.words)
	g.exact = map[int]map[string][]int32{}
	subs := map[int]map[string]int32{}
	var subFields []int
	var subPats = map[int][]string{}
	var subRules = map[int][][]int32{}
	for i, r := range g.rules {
		if r.reqs == nil {
			g.always[i/64] |= 1 << (i % 64)
			continue
		}
		for _, q := range r.reqs {
			if q.exact {
				m := g.exact[q.field]
				if m == nil {
					m = map[string][]int32{}
					g.exact[q.field] = m
				}
				m[q.lit] = appendRule(m[q.lit], int32(i))
				continue
			}
			m := subs[q.field]
			if m == nil {
				m = map[string]int32{}
				subs[q.field] = m
				subFields = append(subFields, q.field)
			}
			id, ok := m[q.lit]
			if !ok {
				id = int32(len(subPats[q.field]))
				m[q.lit] = id
				subPats[q.field] = append(subPats[q.field], q.lit)
				subRules[q.field] = append(subRules[q.field], nil)
			}
			subRules[q.field][id] = appendRule(subRules[q.field][id], int32(i))
		}
	}
	for f, m := range g.exact {
		g.exacts = append(g.exacts, fieldExact{f, m})
	}
	sort.Slice(g.exacts, func(i, j int) bool { return g.exacts[i].field < g.exacts[j].field })
	for _, f := range subFields {
		g.subs = append(g.subs, fieldAC{field: f, ac: newACMatcher(subPats[f]), rules: subRules[f]})
	}
}

func appendRule(list []int32, i int32) []int32 {
	if n := len(list); n > 0 && list[n-1] == i {
		return list
	}
	return append(list, i)
}

// route returns the rules whose logsource covers ls, merged from every
// covering group into one group with its own prefilter. It is built once
// per event logsource and cached.
func (e *Engine) route(ls event.LogSource) *group {
	if v, ok := e.routes.Load(ls); ok {
		return v.(*group)
	}
	p, c, s := strings.ToLower(ls.Product), strings.ToLower(ls.Category), strings.ToLower(ls.Service)
	var covering []*group
	var sig strings.Builder
	for i, g := range e.groups {
		if logsourceCovers(g.ls.Product, p) && logsourceCovers(g.ls.Category, c) && logsourceCovers(g.ls.Service, s) {
			covering = append(covering, g)
			sig.WriteString(strconv.Itoa(i))
			sig.WriteByte(',')
		}
	}
	// Event logsources covered by the same groups share one merged group.
	if v, ok := e.merged.Load(sig.String()); ok {
		v, _ = e.routes.LoadOrStore(ls, v)
		return v.(*group)
	}
	m := &group{ls: LogSource{Product: p, Category: c, Service: s}}
	for _, g := range covering {
		m.rules = append(m.rules, g.rules...)
	}
	m.buildPrefilter()
	v, _ := e.merged.LoadOrStore(sig.String(), m)
	v, _ = e.routes.LoadOrStore(ls, v)
	return v.(*group)
}

// Match evaluates ev against every rule whose logsource covers
// ev.LogSource and calls fn for each match, correlation matches included.
// Events should arrive in time order per group for correlations.
func (e *Engine) Match(ev *event.Event, fn func(Match)) {
	c := e.pool.Get().(*evalCtx)
	c.reset(ev)
	var corrOut []Match
	g := e.route(ev.LogSource)
	cand := g.candidates(c)
	for w, word := range cand {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &= word - 1
			r := g.rules[w*64+b]
			if !r.evalCounted(c) {
				continue
			}
			if r.emit {
				fn(Match{Rule: r.rule, Event: ev, Selections: r.selections(c)})
			}
			for _, k := range r.corrs {
				corrOut = k.observe(r.rule, ev, corrOut)
			}
		}
	}
	c.ev = nil
	e.pool.Put(c)
	for _, m := range corrOut {
		fn(m)
	}
}

// selections names the searches of a matched rule that are true for the
// event in c (the field values are cached in c; matches are rare).
func (r *compiledRule) selections(c *evalCtx) []string {
	var out []string
	for _, s := range r.sels {
		if s.node.eval(c) {
			out = append(out, s.name)
		}
	}
	return out
}

// candidates returns the bitset of rules of g that may match: those without
// a literal requirement and those one of whose literals the event has.
func (g *group) candidates(c *evalCtx) []uint64 {
	if cap(c.candidate) < g.words {
		c.candidate = make([]uint64, g.words)
	}
	cand := c.candidate[:g.words]
	copy(cand, g.always)
	for _, fe := range g.exacts {
		for _, s := range c.strings(fe.field, false) {
			for _, i := range fe.rules[s] {
				cand[i/64] |= 1 << (i % 64)
			}
		}
	}
	for k := range g.subs {
		fa := &g.subs[k]
		// Scan the values as they are (the automaton folds ASCII case);
		// only values with non-ASCII bytes are lower-cased first.
		var strs []string
		if fa.field < 0 {
			strs = c.keywordStrings(true)
		} else {
			strs = c.strings(fa.field, true)
		}
		for j, s := range strs {
			var ok bool
			c.hits, ok = fa.ac.scanFold(s, c.hits[:0])
			if !ok {
				var low []string
				if fa.field < 0 {
					low = c.keywordStrings(false)
				} else {
					low = c.strings(fa.field, false)
				}
				c.hits = fa.ac.scan(low[j], c.hits[:0])
			}
			for _, p := range c.hits {
				for _, i := range fa.rules[p] {
					cand[i/64] |= 1 << (i % 64)
				}
			}
		}
	}
	return cand
}

// String summarises the engine.
func (e *Engine) String() string {
	return fmt.Sprintf("sigma engine: %d rules in %d logsource groups, %d correlations, %d problems",
		e.nrules, len(e.groups), len(e.correlators), len(e.problems))
}

// ruleCounters are a rule's health counters. Evaluation time is sampled:
// one evaluation in timeSample is timed and counted timeSample times.
type ruleCounters struct {
	evals   atomic.Uint64
	matches atomic.Uint64
	nanos   atomic.Int64
}

const timeSample = 64

// evalCounted evaluates the rule's condition and counts it.
func (r *compiledRule) evalCounted(c *evalCtx) bool {
	n := r.stats.evals.Add(1)
	var ok bool
	if n%timeSample == 0 {
		start := time.Now()
		ok = r.cond.eval(c)
		r.stats.nanos.Add(int64(time.Since(start)) * timeSample)
	} else {
		ok = r.cond.eval(c)
	}
	if ok {
		r.stats.matches.Add(1)
	}
	return ok
}

// RuleStats is the health of one compiled detection rule since Compile.
type RuleStats struct {
	Rule *Rule
	// Evaluated counts the events the rule's condition was evaluated on
	// (after the logsource routing and the literal prefilter).
	Evaluated uint64
	// Matched counts the events that satisfied the condition (whether the
	// rule emits matches itself or only feeds correlations).
	Matched uint64
	// EvalTime estimates the time spent evaluating the condition.
	EvalTime time.Duration
}

// RuleStats returns the counters of every compiled detection rule, in
// collection order.
func (e *Engine) RuleStats() []RuleStats {
	out := make([]RuleStats, 0, e.nrules)
	for _, g := range e.groups {
		for _, r := range g.rules {
			out = append(out, RuleStats{Rule: r.rule, Evaluated: r.stats.evals.Load(), Matched: r.stats.matches.Load(),
				EvalTime: time.Duration(r.stats.nanos.Load())})
		}
	}
	return out
}

// Rules lists the rules that compiled: detection rules and correlations.
func (e *Engine) Rules() []*Rule {
	out := make([]*Rule, 0, e.nrules+len(e.correlators))
	for _, g := range e.groups {
		for _, r := range g.rules {
			out = append(out, r.rule)
		}
	}
	for _, k := range e.correlators {
		out = append(out, k.rule)
	}
	return out
}
