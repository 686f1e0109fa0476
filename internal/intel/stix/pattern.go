// Package stix reads STIX 2.0 and 2.1: bundles (indicators, markings,
// relationships, attack patterns) and the STIX patterning language. Patterns
// are parsed into a tree (Parse) that Simple reduces to plain equality
// comparisons where it can — those become fast set lookups in the intel
// index — and that Match evaluates against one observation otherwise. A
// pattern that relates several observations (AND / FOLLOWEDBY between
// observation expressions, WITHIN, REPEATS, START/STOP; see Temporal) is
// evaluated over a stream of observations by a Window.
//
// It knows nothing of wacht's indicators or events: package intel adapts
// both sides.
package stix

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax marks a pattern that does not follow the grammar.
var ErrSyntax = errors.New("stix pattern syntax")

// Pattern is a parsed STIX pattern.
type Pattern struct {
	text string
	root obsExpr
}

// String is the pattern's source text.
func (p *Pattern) String() string { return p.text }

// Observation is what a pattern is evaluated against: the values of an
// object path ("value", "hashes.SHA-256", "src_ref.value") for an object
// type ("ipv4-addr", "file"). Path components are joined by dots with their
// quotes removed; list indexes are dropped.
type Observation interface {
	Values(objectType, path string) []string
}

// Comparison is one `type:path = 'value'` test.
type Comparison struct {
	ObjectType string
	Path       string
	Value      string
}

// Simple returns the comparisons of a pattern that is only a disjunction
// of equality tests (`[a:b = 'x' OR c:d IN ('y', 'z')] OR [..]`, no
// qualifiers, no AND, no negation): each comparison on its own is then an
// indicator. ok is false for every other pattern.
func (p *Pattern) Simple() ([]Comparison, bool) {
	var out []Comparison
	ok := simpleObs(p.root, &out)
	return out, ok && len(out) > 0
}

func simpleObs(e obsExpr, out *[]Comparison) bool {
	switch x := e.(type) {
	case *obsOr:
		return simpleObs(x.l, out) && simpleObs(x.r, out)
	case *obsComparison:
		return simpleComp(x.c, out)
	}
	return false
}

func simpleComp(e compExpr, out *[]Comparison) bool {
	switch x := e.(type) {
	case *compOr:
		for _, c := range x.terms {
			if !simpleComp(c, out) {
				return false
			}
		}
		return true
	case *compAnd:
		// "x_ref.type = 'ipv4-addr' AND x_ref.value = '1.2.3.4'" only names
		// the type of the referenced object: the value test is the
		// indicator.
		var rest []compExpr
		for _, term := range x.terms {
			if !isTypeConstraint(term) {
				rest = append(rest, term)
			}
		}
		if len(rest) == 1 {
			return simpleComp(rest[0], out)
		}
		return false
	case *propTest:
		if x.neg {
			return false
		}
		switch x.op {
		case opEQ:
			if x.lit.kind != litString {
				return false
			}
			*out = append(*out, Comparison{x.path.objectType, x.path.joined, x.lit.s})
			return true
		case opIN:
			for _, l := range x.set {
				if l.kind != litString {
					return false
				}
				*out = append(*out, Comparison{x.path.objectType, x.path.joined, l.s})
			}
			return true
		}
	}
	return false
}

func isTypeConstraint(e compExpr) bool {
	pt, ok := e.(*propTest)
	return ok && !pt.neg && pt.op == opEQ && strings.HasSuffix(pt.path.joined, "_ref.type")
}

// Match evaluates the pattern against a single observation. Operators that
// relate several observations (AND and FOLLOWEDBY between observation
// expressions, WITHIN, REPEATS, START/STOP) are evaluated over a stream by
// a Window (see Temporal); on one observation Match reads FOLLOWEDBY as
// AND and ignores qualifiers, so it may be true where the full semantics
// would wait for more events — never the other way round.
func (p *Pattern) Match(o Observation) bool { return p.root.match(o) }

type obsExpr interface{ match(Observation) bool }

type obsAnd struct{ l, r obsExpr }
type obsOr struct{ l, r obsExpr }
type obsFollowedBy struct{ l, r obsExpr }
type obsComparison struct{ c compExpr }
type obsQualified struct {
	e    obsExpr
	qual qualifier
}

type qualifier struct {
	kind        string // WITHIN, REPEATS, START
	n           float64
	start, stop time.Time
}

func (x *obsAnd) match(o Observation) bool        { return x.l.match(o) && x.r.match(o) }
func (x *obsOr) match(o Observation) bool         { return x.l.match(o) || x.r.match(o) }
func (x *obsFollowedBy) match(o Observation) bool { return x.l.match(o) && x.r.match(o) }
func (x *obsComparison) match(o Observation) bool { return x.c.match(o) }
func (x *obsQualified) match(o Observation) bool  { return x.e.match(o) }

type compExpr interface{ match(Observation) bool }

type compAnd struct{ terms []compExpr }
type compOr struct{ terms []compExpr }

func (x *compAnd) match(o Observation) bool {
	for _, t := range x.terms {
		if !t.match(o) {
			return false
		}
	}
	return true
}

func (x *compOr) match(o Observation) bool {
	for _, t := range x.terms {
		if t.match(o) {
			return true
		}
	}
	return false
}

type op uint8

const (
	opEQ op = iota
	opNE
	opGT
	opLT
	opGE
	opLE
	opIN
	opLIKE
	opMATCHES
	opSUBSET
	opSUPERSET
	opEXISTS
)

type objectPath struct {
	objectType string
	joined     string
}

type litKind uint8

const (
	litString litKind = iota
	litInt
	litFloat
	litBool
	litTime
	litHex
	litBinary
)

type literal struct {
	kind litKind
	s    string
	f    float64
	t    time.Time
}

type propTest struct {
	path objectPath
	op   op
	neg  bool
	lit  literal
	set  []literal
	re   *regexp.Regexp
	pfx  netip.Prefix
}

func (x *propTest) match(o Observation) bool {
	vals := o.Values(x.path.objectType, x.path.joined)
	if x.op == opEXISTS {
		return len(vals) > 0
	}
	for _, v := range vals {
		if x.test(v) != x.neg {
			return true
		}
	}
	return false
}

func (x *propTest) test(v string) bool {
	switch x.op {
	case opEQ:
		return equal(v, x.lit)
	case opNE:
		return !equal(v, x.lit)
	case opGT, opLT, opGE, opLE:
		c, ok := compare(v, x.lit)
		if !ok {
			return false
		}
		switch x.op {
		case opGT:
			return c > 0
		case opLT:
			return c < 0
		case opGE:
			return c >= 0
		default:
			return c <= 0
		}
	case opIN:
		for _, l := range x.set {
			if equal(v, l) {
				return true
			}
		}
		return false
	case opLIKE, opMATCHES:
		return x.re.MatchString(v)
	case opSUBSET:
		a, err := netip.ParsePrefix(v)
		if err != nil {
			ad, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return false
			}
			return x.pfx.Contains(ad)
		}
		return a.Bits() >= x.pfx.Bits() && x.pfx.Contains(a.Addr())
	case opSUPERSET:
		a, err := netip.ParsePrefix(v)
		if err != nil {
			return false
		}
		return a.Bits() <= x.pfx.Bits() && a.Contains(x.pfx.Addr())
	case opEXISTS:
		return true
	}
	return false
}

func equal(v string, l literal) bool {
	switch l.kind {
	case litString, litHex, litBinary:
		return v == l.s
	case litInt, litFloat:
		f, err := strconv.ParseFloat(v, 64)
		return err == nil && f == l.f
	case litBool:
		return strings.EqualFold(v, l.s)
	case litTime:
		t, err := time.Parse(time.RFC3339Nano, v)
		return err == nil && t.Equal(l.t)
	}
	return false
}

func compare(v string, l literal) (int, bool) {
	switch l.kind {
	case litInt, litFloat:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, false
		}
		switch {
		case f < l.f:
			return -1, true
		case f > l.f:
			return 1, true
		}
		return 0, true
	case litTime:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return 0, false
		}
		return t.Compare(l.t), true
	case litString, litHex, litBinary:
		return strings.Compare(v, l.s), true
	case litBool:
	}
	return 0, false
}

// Parse reads a pattern.
func Parse(text string) (*Pattern, error) {
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, err := p.observations()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEOF {
		return nil, p.errorf("unexpected %s after the pattern", p.peek())
	}
	return &Pattern{text: text, root: root}, nil
}

type parser struct {
	toks  []token
	pos   int
	depth int
}

const maxDepth = 100

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) unread(t token) {
	if t.kind != tEOF {
		p.pos--
	}
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", ErrSyntax, p.peek().pos, fmt.Sprintf(format, args...))
}

func (p *parser) keyword(k string) bool {
	if t := p.peek(); t.kind == tIdent && t.s == k {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(k tokKind, what string) (token, error) {
	t := p.peek()
	if t.kind != k {
		return t, p.errorf("want %s, found %s", what, t)
	}
	return p.next(), nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf("nested too deeply")
	}
	return nil
}

// observations: or (FOLLOWEDBY or)*
func (p *parser) observations() (obsExpr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	l, err := p.obsOr()
	if err != nil {
		return nil, err
	}
	for p.keyword("FOLLOWEDBY") {
		r, err := p.obsOr()
		if err != nil {
			return nil, err
		}
		l = &obsFollowedBy{l, r}
	}
	return l, nil
}

func (p *parser) obsOr() (obsExpr, error) {
	l, err := p.obsAnd()
	if err != nil {
		return nil, err
	}
	for p.keyword("OR") {
		r, err := p.obsAnd()
		if err != nil {
			return nil, err
		}
		l = &obsOr{l, r}
	}
	return l, nil
}

func (p *parser) obsAnd() (obsExpr, error) {
	l, err := p.obsQualified()
	if err != nil {
		return nil, err
	}
	for p.keyword("AND") {
		r, err := p.obsQualified()
		if err != nil {
			return nil, err
		}
		l = &obsAnd{l, r}
	}
	return l, nil
}

func (p *parser) obsQualified() (obsExpr, error) {
	var e obsExpr
	switch t := p.peek(); t.kind {
	case tLBrack:
		p.next()
		c, err := p.compOr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRBrack, "]"); err != nil {
			return nil, err
		}
		e = &obsComparison{c}
	case tLParen:
		p.next()
		inner, err := p.observations()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		e = inner
	default:
		return nil, p.errorf("want [ or (, found %s", t)
	}
	for {
		switch {
		case p.keyword("WITHIN"):
			n, err := p.number()
			if err != nil {
				return nil, err
			}
			if !p.keyword("SECONDS") {
				return nil, p.errorf("want SECONDS")
			}
			e = &obsQualified{e, qualifier{kind: "WITHIN", n: n}}
		case p.keyword("REPEATS"):
			n, err := p.number()
			if err != nil {
				return nil, err
			}
			if !p.keyword("TIMES") {
				return nil, p.errorf("want TIMES")
			}
			e = &obsQualified{e, qualifier{kind: "REPEATS", n: n}}
		case p.keyword("START"):
			start, err := p.timestamp()
			if err != nil {
				return nil, err
			}
			if !p.keyword("STOP") {
				return nil, p.errorf("want STOP")
			}
			stop, err := p.timestamp()
			if err != nil {
				return nil, err
			}
			e = &obsQualified{e, qualifier{kind: "START", start: start, stop: stop}}
		default:
			return e, nil
		}
	}
}

func (p *parser) number() (float64, error) {
	t := p.next()
	if t.kind != tInt && t.kind != tFloat {
		return 0, p.errorf("want a number, found %s", t)
	}
	return strconv.ParseFloat(t.s, 64)
}

func (p *parser) timestamp() (time.Time, error) {
	t := p.next()
	if t.kind != tTime {
		return time.Time{}, p.errorf("want t'…', found %s", t)
	}
	return time.Parse(time.RFC3339Nano, t.s)
}

func (p *parser) compOr() (compExpr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	first, err := p.compAnd()
	if err != nil {
		return nil, err
	}
	terms := []compExpr{first}
	for p.keyword("OR") {
		c, err := p.compAnd()
		if err != nil {
			return nil, err
		}
		terms = append(terms, c)
	}
	if len(terms) == 1 {
		return first, nil
	}
	return &compOr{terms}, nil
}

func (p *parser) compAnd() (compExpr, error) {
	first, err := p.propTest()
	if err != nil {
		return nil, err
	}
	terms := []compExpr{first}
	for p.keyword("AND") {
		c, err := p.propTest()
		if err != nil {
			return nil, err
		}
		terms = append(terms, c)
	}
	return &compAnd{terms}, nil
}

func (p *parser) propTest() (compExpr, error) {
	if p.peek().kind == tLParen {
		p.next()
		c, err := p.compOr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		return c, nil
	}
	if p.keyword("EXISTS") {
		path, err := p.objectPath()
		if err != nil {
			return nil, err
		}
		return &propTest{path: path, op: opEXISTS}, nil
	}
	path, err := p.objectPath()
	if err != nil {
		return nil, err
	}
	pt := &propTest{path: path}
	pt.neg = p.keyword("NOT")
	t := p.next()
	switch {
	case t.kind == tOp:
		pt.op = map[string]op{"=": opEQ, "==": opEQ, "!=": opNE, "<>": opNE, ">": opGT, "<": opLT, ">=": opGE, "<=": opLE}[t.s]
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		if (pt.op == opGT || pt.op == opLT || pt.op == opGE || pt.op == opLE) && lit.kind == litBool {
			return nil, p.errorf("booleans are not ordered")
		}
		pt.lit = lit
	case t.kind == tIdent && t.s == "IN":
		pt.op = opIN
		if _, err := p.expect(tLParen, "("); err != nil {
			return nil, err
		}
		for {
			lit, err := p.literal()
			if err != nil {
				return nil, err
			}
			pt.set = append(pt.set, lit)
			if p.peek().kind == tComma {
				p.next()
				continue
			}
			break
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
	case t.kind == tIdent && (t.s == "LIKE" || t.s == "MATCHES"):
		s, err := p.expect(tString, "a string")
		if err != nil {
			return nil, err
		}
		pt.lit = literal{kind: litString, s: s.s}
		expr := s.s
		if t.s == "LIKE" {
			pt.op = opLIKE
			expr = likeToRegexp(s.s)
		} else {
			pt.op = opMATCHES
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %q: %v", ErrSyntax, t.s, s.s, err)
		}
		pt.re = re
	case t.kind == tIdent && (t.s == "ISSUBSET" || t.s == "ISSUPERSET"):
		s, err := p.expect(tString, "a string")
		if err != nil {
			return nil, err
		}
		pfx, err := netip.ParsePrefix(s.s)
		if err != nil {
			a, aerr := netip.ParseAddr(s.s)
			if aerr != nil {
				return nil, fmt.Errorf("%w: %s %q: not a network", ErrSyntax, t.s, s.s)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		pt.pfx = pfx.Masked()
		pt.lit = literal{kind: litString, s: s.s}
		pt.op = opSUBSET
		if t.s == "ISSUPERSET" {
			pt.op = opSUPERSET
		}
	default:
		p.unread(t)
		return nil, p.errorf("want a comparison operator, found %s", t)
	}
	return pt, nil
}

func likeToRegexp(s string) string {
	var b strings.Builder
	b.WriteString("^(?s:")
	for _, r := range s {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(")$")
	return b.String()
}

func (p *parser) objectPath() (objectPath, error) {
	t := p.next()
	if t.kind != tIdent {
		p.unread(t)
		return objectPath{}, p.errorf("want an object type, found %s", t)
	}
	if _, err := p.expect(tColon, ":"); err != nil {
		return objectPath{}, err
	}
	first := p.next()
	if first.kind != tIdent && first.kind != tString {
		p.unread(first)
		return objectPath{}, p.errorf("want a property name, found %s", first)
	}
	parts := []string{first.s}
	for {
		switch p.peek().kind {
		case tDot:
			p.next()
			c := p.next()
			if c.kind != tIdent && c.kind != tString {
				p.unread(c)
				return objectPath{}, p.errorf("want a property name, found %s", c)
			}
			parts = append(parts, c.s)
			continue
		case tLBrack:
			// A list index only follows a property, never opens an
			// observation here: "[" after a path is always an index.
			p.next()
			c := p.next()
			if c.kind != tInt && c.kind != tStar {
				p.unread(c)
				return objectPath{}, p.errorf("want a list index or *, found %s", c)
			}
			if _, err := p.expect(tRBrack, "]"); err != nil {
				return objectPath{}, err
			}
			continue
		}
		break
	}
	return objectPath{objectType: t.s, joined: strings.Join(parts, ".")}, nil
}

func (p *parser) literal() (literal, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return literal{kind: litString, s: t.s}, nil
	case tInt, tFloat:
		f, err := strconv.ParseFloat(t.s, 64)
		if err != nil || math.IsInf(f, 0) {
			return literal{}, p.errorf("bad number %q", t.s)
		}
		k := litInt
		if t.kind == tFloat {
			k = litFloat
		}
		return literal{kind: k, s: t.s, f: f}, nil
	case tTime:
		tm, err := time.Parse(time.RFC3339Nano, t.s)
		if err != nil {
			return literal{}, p.errorf("bad timestamp %q", t.s)
		}
		return literal{kind: litTime, s: t.s, t: tm}, nil
	case tHex:
		return literal{kind: litHex, s: t.s}, nil
	case tBinary:
		return literal{kind: litBinary, s: t.s}, nil
	case tIdent:
		if t.s == "true" || t.s == "false" {
			return literal{kind: litBool, s: t.s}, nil
		}
	}
	p.unread(t)
	return literal{}, p.errorf("want a literal, found %s", t)
}
