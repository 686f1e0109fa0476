package sigma

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// PlaceholderPolicy says what to do with an expand placeholder that has no
// configured values.
type PlaceholderPolicy uint8

// Placeholder policies.
const (
	// PlaceholderReject reports the rule as unsupported (the specification's
	// default: a tool that cannot resolve a placeholder rejects the rule).
	PlaceholderReject PlaceholderPolicy = iota
	// PlaceholderWildcard replaces the placeholder with *.
	PlaceholderWildcard
	// PlaceholderNoMatch makes the value match nothing.
	PlaceholderNoMatch
)

// Options configure Compile.
type Options struct {
	// Placeholders gives the values of expand placeholders by name
	// (without the percent signs), e.g. "Administrators": {"adm_*"}.
	Placeholders       map[string][]string
	UnknownPlaceholder PlaceholderPolicy
	// MaxGroups bounds the group-by keys kept per correlation rule; the
	// oldest are evicted (and counted) beyond it. Default 100,000.
	MaxGroups int
	// MaxEvents bounds the events kept per correlation group and returned
	// with a correlation match. Default 16.
	MaxEvents int
}

// RuleError is a rule that did not compile.
type RuleError struct {
	Rule *Rule
	Err  error
}

func (e *RuleError) Error() string { return "compile rule " + e.Rule.Ref() + ": " + e.Err.Error() }
func (e *RuleError) Unwrap() error { return e.Err }

// Unsupported reports whether the rule is valid Sigma that the engine cannot
// evaluate, rather than an invalid rule.
func (e *RuleError) Unsupported() bool { return errors.Is(e.Err, ErrUnsupported) }

// node is a compiled condition.
type node interface {
	eval(c *evalCtx) bool
}

type andN []node
type orN []node
type notN struct{ x node }

// selN is a compiled search: an OR of alternatives, each an AND of field
// matchers.
type selN [][]*fieldMatcher

func (n andN) eval(c *evalCtx) bool {
	for _, x := range n {
		if !x.eval(c) {
			return false
		}
	}
	return true
}

func (n orN) eval(c *evalCtx) bool {
	for _, x := range n {
		if x.eval(c) {
			return true
		}
	}
	return false
}

func (n notN) eval(c *evalCtx) bool { return !n.x.eval(c) }
func (n selN) eval(c *evalCtx) bool {
	for _, alt := range n {
		ok := true
		for _, m := range alt {
			if !m.eval(c) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// compiledSearch keeps a search's matchers with their literal requirements.
type compiledSearch struct {
	node selN
	reqs []literalReq // nil: no requirement
}

type compiler struct {
	opts     Options
	fieldIdx map[string]int
}

func (cc *compiler) fieldID(name string) int {
	if id, ok := cc.fieldIdx[name]; ok {
		return id
	}
	id := len(cc.fieldIdx)
	cc.fieldIdx[name] = id
	return id
}

// costOf orders field matchers inside a selection: cheap and selective first.
func costOf(m *fieldMatcher) int {
	switch m.op {
	case opExists, opNull:
		return 0
	case opString:
		c := 1
		for _, s := range m.strs {
			switch s.(type) {
			case exactM, setM:
			case regexM:
				c += 100
			case globM:
				c += 10
			default:
				c += 2
			}
		}
		if m.field < 0 {
			c += 200
		}
		return c
	}
	return 5
}

func (cc *compiler) compileSearch(s *Search) (*compiledSearch, error) {
	out := &compiledSearch{}
	reqOK := true
	for _, alt := range s.Alternatives {
		var ms []*fieldMatcher
		var best []literalReq
		bestScore := -1
		for _, fs := range alt {
			m, reqs, err := cc.compileField(fs)
			if err != nil {
				return nil, fmt.Errorf("search %s: %w", s.Name, err)
			}
			ms = append(ms, m)
			if sc := reqScore(reqs); reqs != nil && sc > bestScore {
				best, bestScore = reqs, sc
			}
		}
		sort.SliceStable(ms, func(i, j int) bool { return costOf(ms[i]) < costOf(ms[j]) })
		out.node = append(out.node, ms)
		if best == nil {
			reqOK = false
		}
		out.reqs = append(out.reqs, best...)
	}
	if !reqOK {
		out.reqs = nil
	}
	return out, nil
}

// reqScore rates a requirement: the shortest literal, exact matches
// counting a little more; fewer alternatives are better.
func reqScore(reqs []literalReq) int {
	if len(reqs) == 0 {
		return -1
	}
	m := 1 << 30
	for _, r := range reqs {
		l := len(r.lit)
		if r.exact {
			l += 4
		}
		m = min(m, l)
	}
	return m*4 - len(reqs)/8
}

// compileCondition resolves a parsed condition against searches. It returns
// the node and its literal requirement (nil: none).
func compileCondition(c *Cond, searches map[string]*compiledSearch, order []string) (node, []literalReq, error) {
	switch c.Op {
	case CondRef:
		s, ok := searches[c.Name]
		if !ok {
			return nil, nil, fmt.Errorf("condition names unknown search %q", c.Name)
		}
		return s.node, s.reqs, nil
	case CondNot:
		x, _, err := compileCondition(c.Args[0], searches, order)
		if err != nil {
			return nil, nil, err
		}
		return notN{x}, nil, nil
	case CondOneOf, CondAllOf:
		var args []*Cond
		for _, name := range order {
			if matchSearchPattern(c.Name, name) {
				args = append(args, &Cond{Op: CondRef, Name: name})
			}
		}
		if len(args) == 0 {
			return nil, nil, fmt.Errorf("%q matches no search", c.String())
		}
		op := CondOr
		if c.Op == CondAllOf {
			op = CondAnd
		}
		return compileCondition(&Cond{Op: op, Args: args}, searches, order)
	case CondAnd, CondOr:
		nodes := make([]node, 0, len(c.Args))
		var reqs []literalReq
		reqOK := c.Op == CondOr
		bestScore := -1
		for _, a := range c.Args {
			n, r, err := compileCondition(a, searches, order)
			if err != nil {
				return nil, nil, err
			}
			nodes = append(nodes, n)
			if c.Op == CondOr {
				if r == nil {
					reqOK = false
				}
				reqs = append(reqs, r...)
			} else if r != nil {
				if sc := reqScore(r); sc > bestScore {
					reqs, bestScore, reqOK = r, sc, true
				}
			}
		}
		if !reqOK {
			reqs = nil
		}
		if c.Op == CondAnd {
			return andN(nodes), reqs, nil
		}
		return orN(nodes), reqs, nil
	}
	return nil, nil, fmt.Errorf("invalid condition")
}

// namedSel is a compiled search under its identifier, kept to tell which
// selections of a matching rule evaluated true.
type namedSel struct {
	name string
	node selN
}

// compileDetection compiles a detection section's searches and conditions.
// It also returns the searches by name, in document order.
func (cc *compiler) compileDetection(d *Detection) (node, []literalReq, []namedSel, error) {
	searches := make(map[string]*compiledSearch, len(d.Searches))
	order := make([]string, 0, len(d.Searches))
	for _, s := range d.Searches {
		cs, err := cc.compileSearch(s)
		if err != nil {
			return nil, nil, nil, err
		}
		if _, dup := searches[s.Name]; !dup {
			order = append(order, s.Name)
		}
		searches[s.Name] = cs
	}
	sels := make([]namedSel, 0, len(order))
	for _, name := range order {
		sels = append(sels, namedSel{name, searches[name].node})
	}
	var nodes []node
	var reqs []literalReq
	reqOK := true
	for _, cs := range d.Conditions {
		c, err := ParseCondition(cs)
		if err != nil {
			return nil, nil, nil, err
		}
		n, r, err := compileCondition(c, searches, order)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("condition %q: %w", cs, err)
		}
		nodes = append(nodes, n)
		if r == nil {
			reqOK = false
		}
		reqs = append(reqs, r...)
	}
	if !reqOK {
		reqs = nil
	}
	if len(nodes) == 1 {
		return nodes[0], reqs, sels, nil
	}
	return orN(nodes), reqs, sels, nil
}

// logsourceCovers reports whether a rule logsource value applies to an
// event's: equal, empty (any) or an umbrella category.
func logsourceCovers(rule, ev string) bool {
	if rule == "" || rule == ev {
		return true
	}
	if rule == "registry_event" {
		return strings.HasPrefix(ev, "registry_")
	}
	return false
}
