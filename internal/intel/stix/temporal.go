package stix

import (
	"slices"
	"sync"
	"time"
)

// Temporal says whether the pattern relates several observations: it has
// an observation-level AND or FOLLOWEDBY, or a WITHIN, REPEATS or
// START/STOP qualifier. Such a pattern needs a Window; Match on a single
// observation only approximates it.
func (p *Pattern) Temporal() bool { return temporal(p.root) }

func temporal(e obsExpr) bool {
	switch x := e.(type) {
	case *obsOr:
		return temporal(x.l) || temporal(x.r)
	case *obsAnd, *obsFollowedBy, *obsQualified:
		return true
	}
	return false
}

// Window evaluates a pattern over a stream of observations, the way the
// STIX 2.1 patterning semantics read it:
//
//   - [A] AND [B]: A and B are matched by two different observations;
//   - [A] OR [B]: either;
//   - A FOLLOWEDBY B: different observations, B's no earlier than A's;
//   - A WITHIN n SECONDS: every observation of the match within n seconds
//     of each other;
//   - A REPEATS n TIMES: n matches of A on pairwise different observations;
//   - A START t1 STOP t2: every observation of the match at or after t1
//     and before t2.
//
// It keeps the observations that matched any of the pattern's bracketed
// comparison expressions, within a sliding window of time (the pattern's
// outer WITHIN, else the configured span) and of count. Observe reports a
// match the moment an observation completes one; the observations of that
// match are then consumed, so one set of events is reported once.
//
// A Window is safe for concurrent use.
type Window struct {
	p      *Pattern
	leaves []*obsComparison
	span   time.Duration
	max    int

	mu     sync.Mutex
	obs    []windowObs
	latest time.Time
}

type windowObs struct {
	t      time.Time
	id     string
	leaves []bool // which bracketed expressions the observation matched
}

// Default bounds of a Window.
const (
	DefaultWindowSpan = 24 * time.Hour
	DefaultWindowObs  = 1000
	// maxBindings bounds the partial matches one node of the pattern tree
	// keeps while a pattern is evaluated over the window.
	maxBindings = 4096
)

// NewWindow starts an empty window for p. span bounds how far apart the
// observations of one match may be when the pattern's outermost operator
// is not WITHIN (0: DefaultWindowSpan); maxObs bounds the observations
// kept (0: DefaultWindowObs): the oldest go first.
func NewWindow(p *Pattern, span time.Duration, maxObs int) *Window {
	if span <= 0 {
		span = DefaultWindowSpan
	}
	if maxObs <= 0 {
		maxObs = DefaultWindowObs
	}
	w := &Window{p: p, span: span, max: maxObs}
	if q, ok := p.root.(*obsQualified); ok && q.qual.kind == "WITHIN" {
		w.span = time.Duration(q.qual.n * float64(time.Second))
	}
	collectLeaves(p.root, &w.leaves)
	return w
}

// Pattern is the pattern the window evaluates.
func (w *Window) Pattern() *Pattern { return w.p }

func collectLeaves(e obsExpr, out *[]*obsComparison) {
	switch x := e.(type) {
	case *obsOr:
		collectLeaves(x.l, out)
		collectLeaves(x.r, out)
	case *obsAnd:
		collectLeaves(x.l, out)
		collectLeaves(x.r, out)
	case *obsFollowedBy:
		collectLeaves(x.l, out)
		collectLeaves(x.r, out)
	case *obsQualified:
		collectLeaves(x.e, out)
	case *obsComparison:
		*out = append(*out, x)
	}
}

// Len is the number of observations held.
func (w *Window) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.obs)
}

// Observe adds one observation taken at t, known by id, and reports
// whether it completes a match of the pattern; ids are then the
// observations of the match in time order, this one among them.
func (w *Window) Observe(t time.Time, id string, o Observation) (ids []string, matched bool) {
	var hit []bool
	for i, l := range w.leaves {
		if l.c.match(o) {
			if hit == nil {
				hit = make([]bool, len(w.leaves))
			}
			hit[i] = true
		}
	}
	if hit == nil {
		return nil, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.After(w.latest) {
		w.latest = t
	}
	w.prune()
	if len(w.obs) >= w.max {
		w.obs = slices.Delete(w.obs, 0, len(w.obs)-w.max+1)
	}
	// Kept in time order (events arrive nearly sorted).
	at := len(w.obs)
	for at > 0 && w.obs[at-1].t.After(t) {
		at--
	}
	w.obs = slices.Insert(w.obs, at, windowObs{t: t, id: id, leaves: hit})
	ev := evaluator{w: w}
	for _, b := range ev.eval(w.p.root) {
		if !slices.Contains(b.set, at) {
			continue // matched before without this observation
		}
		ids = make([]string, 0, len(b.set))
		for _, k := range b.set {
			ids = append(ids, w.obs[k].id)
		}
		w.consume(b.set)
		return ids, true
	}
	return nil, false
}

// prune drops observations older than the span before the latest one.
func (w *Window) prune() {
	cut := w.latest.Add(-w.span)
	n := 0
	for n < len(w.obs) && w.obs[n].t.Before(cut) {
		n++
	}
	if n > 0 {
		w.obs = slices.Delete(w.obs, 0, n)
	}
}

// consume removes the observations of a reported match (set is sorted).
func (w *Window) consume(set []int) {
	for i := len(set) - 1; i >= 0; i-- {
		w.obs = slices.Delete(w.obs, set[i], set[i]+1)
	}
}

// binding is one way a sub-expression is matched: the observations used
// (indexes into the window, sorted) and their first and last time.
type binding struct {
	set         []int
	first, last time.Time
}

type evaluator struct {
	w    *Window
	leaf int
}

func (ev *evaluator) eval(e obsExpr) []binding {
	switch x := e.(type) {
	case *obsComparison:
		i := ev.leaf
		ev.leaf++
		// Newest first: when the caps below cut, they keep the bindings
		// that can include the observation just added.
		var out []binding
		for k := len(ev.w.obs) - 1; k >= 0; k-- {
			if o := &ev.w.obs[k]; o.leaves[i] {
				out = append(out, binding{set: []int{k}, first: o.t, last: o.t})
			}
		}
		return out
	case *obsOr:
		l := ev.eval(x.l)
		r := ev.eval(x.r)
		return capBindings(append(l, r...))
	case *obsAnd:
		return combine(ev.eval(x.l), ev.eval(x.r), false)
	case *obsFollowedBy:
		return combine(ev.eval(x.l), ev.eval(x.r), true)
	case *obsQualified:
		inner := ev.eval(x.e)
		q := x.qual
		switch q.kind {
		case "WITHIN":
			d := time.Duration(q.n * float64(time.Second))
			return slices.DeleteFunc(inner, func(b binding) bool { return b.last.Sub(b.first) > d })
		case "START":
			return slices.DeleteFunc(inner, func(b binding) bool { return b.first.Before(q.start) || !b.last.Before(q.stop) })
		case "REPEATS":
			return repeats(inner, int(q.n))
		}
		return inner
	}
	return nil
}

// combine joins every binding of l with every binding of r that uses other
// observations; ordered asks that r's observations come no earlier than
// l's (FOLLOWEDBY).
func combine(l, r []binding, ordered bool) []binding {
	var out []binding
	for _, a := range l {
		for _, b := range r {
			if ordered && b.first.Before(a.last) {
				continue
			}
			set, ok := union(a.set, b.set)
			if !ok {
				continue
			}
			out = append(out, binding{set: set, first: minTime(a.first, b.first), last: maxTime(a.last, b.last)})
			if len(out) >= maxBindings {
				return out
			}
		}
	}
	return out
}

// repeats finds n matches on pairwise different observations. Matches are
// taken newest first and grouped greedily with the next older ones from
// each starting one, so the groups found are the tightest in time (what a
// WITHIN around the REPEATS asks for) without trying every combination.
func repeats(in []binding, n int) []binding {
	if n <= 1 {
		return in
	}
	slices.SortStableFunc(in, func(a, b binding) int { return b.last.Compare(a.last) })
	var out []binding
	for i := range in {
		acc := in[i]
		count := 1
		for j := i + 1; j < len(in) && count < n; j++ {
			set, ok := union(acc.set, in[j].set)
			if !ok {
				continue
			}
			acc = binding{set: set, first: minTime(acc.first, in[j].first), last: maxTime(acc.last, in[j].last)}
			count++
		}
		if count < n {
			break // older starts have fewer matches left
		}
		out = append(out, acc)
		if len(out) >= maxBindings {
			break
		}
	}
	return out
}

// union merges two sorted sets; ok is false when they share an element.
func union(a, b []int) ([]int, bool) {
	out := make([]int, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			return nil, false
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		default:
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...), true
}

func capBindings(b []binding) []binding {
	if len(b) > maxBindings {
		return b[:maxBindings]
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
