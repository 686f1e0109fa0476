package sigma

import (
	"fmt"
	"path"
	"strings"
)

// CondOp is the operator of a condition node.
type CondOp uint8

// Condition operators.
const (
	CondRef   CondOp = iota // a search identifier
	CondAnd                 // all of Args
	CondOr                  // any of Args
	CondNot                 // not Args[0]
	CondOneOf               // "1 of" / "any of" Pattern
	CondAllOf               // "all of" Pattern
)

// Cond is a parsed condition expression.
type Cond struct {
	Op CondOp
	// Name is the search identifier (CondRef) or the pattern of an "of"
	// expression ("them" for all searches).
	Name string
	Args []*Cond
}

func (c *Cond) String() string {
	switch c.Op {
	case CondRef:
		return c.Name
	case CondNot:
		return "not " + c.Args[0].String()
	case CondOneOf:
		return "1 of " + c.Name
	case CondAllOf:
		return "all of " + c.Name
	}
	op := " and "
	if c.Op == CondOr {
		op = " or "
	}
	parts := make([]string, len(c.Args))
	for i, a := range c.Args {
		parts[i] = a.String()
	}
	return "(" + strings.Join(parts, op) + ")"
}

type condToken struct {
	text string
	pos  int
}

func tokenizeCondition(s string) ([]condToken, error) {
	var toks []condToken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, condToken{string(c), i})
			i++
		case c == '|':
			return nil, fmt.Errorf("aggregation expressions (%q at %d) are not part of Sigma 2; use a correlation rule", "|", i)
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[j])) {
				j++
			}
			toks = append(toks, condToken{s[i:j], i})
			i = j
		}
	}
	return toks, nil
}

// maxCondDepth bounds the nesting of conditions so that hostile input cannot
// exhaust the stack.
const maxCondDepth = 200

type condParser struct {
	toks  []condToken
	i     int
	depth int
	src   string
}

// ParseCondition parses a Sigma condition expression.
func ParseCondition(s string) (*Cond, error) {
	toks, err := tokenizeCondition(s)
	if err != nil {
		return nil, fmt.Errorf("parse condition %q: %w", s, err)
	}
	p := &condParser{toks: toks, src: s}
	c, err := p.or()
	if err == nil && p.i < len(p.toks) {
		err = fmt.Errorf("unexpected %q at %d", p.toks[p.i].text, p.toks[p.i].pos)
	}
	if err != nil {
		return nil, fmt.Errorf("parse condition %q: %w", s, err)
	}
	return c, nil
}

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i].text
	}
	return ""
}

func (p *condParser) or() (*Cond, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxCondDepth {
		return nil, fmt.Errorf("condition nested deeper than %d", maxCondDepth)
	}
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	args := []*Cond{l}
	for strings.EqualFold(p.peek(), "or") {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		args = append(args, r)
	}
	if len(args) == 1 {
		return l, nil
	}
	return &Cond{Op: CondOr, Args: args}, nil
}

func (p *condParser) and() (*Cond, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	args := []*Cond{l}
	for strings.EqualFold(p.peek(), "and") {
		p.i++
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		args = append(args, r)
	}
	if len(args) == 1 {
		return l, nil
	}
	return &Cond{Op: CondAnd, Args: args}, nil
}

func (p *condParser) not() (*Cond, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.i++
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxCondDepth {
			return nil, fmt.Errorf("condition nested deeper than %d", maxCondDepth)
		}
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &Cond{Op: CondNot, Args: []*Cond{x}}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (*Cond, error) {
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("unexpected end of condition")
	}
	t := p.toks[p.i]
	switch {
	case t.text == "(":
		p.i++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing ) for ( at %d", t.pos)
		}
		p.i++
		return x, nil
	case t.text == ")":
		return nil, fmt.Errorf("unexpected ) at %d", t.pos)
	case isKeyword(t.text):
		return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
	}
	// "1 of x", "any of x", "all of x"
	if p.i+1 < len(p.toks) && strings.EqualFold(p.toks[p.i+1].text, "of") {
		op := CondOneOf
		switch strings.ToLower(t.text) {
		case "1", "any":
		case "all":
			op = CondAllOf
		default:
			return nil, fmt.Errorf("unsupported quantifier %q at %d (want 1, any or all)", t.text, t.pos)
		}
		if p.i+2 >= len(p.toks) {
			return nil, fmt.Errorf("missing pattern after %q at %d", t.text+" of", t.pos)
		}
		pat := p.toks[p.i+2]
		if pat.text == "(" || pat.text == ")" || isKeyword(pat.text) {
			return nil, fmt.Errorf("unexpected %q after \"of\" at %d", pat.text, pat.pos)
		}
		p.i += 3
		return &Cond{Op: op, Name: pat.text}, nil
	}
	p.i++
	return &Cond{Op: CondRef, Name: t.text}, nil
}

func isKeyword(s string) bool {
	switch strings.ToLower(s) {
	case "and", "or", "not", "of":
		return true
	}
	return false
}

// matchSearchPattern reports whether the search identifier name matches an
// "of" pattern ("them" matches all identifiers not starting with "_").
func matchSearchPattern(pattern, name string) bool {
	if pattern == "them" {
		return !strings.HasPrefix(name, "_")
	}
	// Only * is a wildcard in identifier patterns; escape the others.
	esc := strings.NewReplacer(`\`, `\\`, `?`, `\?`, `[`, `\[`).Replace(pattern)
	ok, err := path.Match(esc, name)
	if err != nil {
		return pattern == name
	}
	return ok
}
