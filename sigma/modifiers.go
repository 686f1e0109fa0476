package sigma

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// ErrUnsupported marks a rule that is valid Sigma but that this engine cannot
// evaluate (for example a regular expression RE2 cannot express, or a
// placeholder without a configured value).
var ErrUnsupported = errors.New("unsupported")

// literalReq is a literal that must occur in a field for a matcher to
// match: the whole lower-cased value (exact) or a substring of it.
type literalReq struct {
	field int
	lit   string
	exact bool
}

type modSet struct {
	contains, startswith, endswith bool
	all, cased, neq, exists        bool
	windash, expand, fieldref      bool
	re                             bool
	reFlags                        string
	cidr                           bool
	nums                           []string // gt gte lt lte in order
	timePart                       string
	encodings                      []string // base64, base64offset, utf16le, ... in order
}

func parseModifiers(mods []string) (modSet, error) {
	var m modSet
	for _, mod := range mods {
		switch mod {
		case "contains":
			m.contains = true
		case "startswith":
			m.startswith = true
		case "endswith":
			m.endswith = true
		case "all":
			m.all = true
		case "cased":
			m.cased = true
		case "neq":
			m.neq = true
		case "exists":
			m.exists = true
		case "windash":
			m.windash = true
		case "expand":
			m.expand = true
		case "fieldref":
			m.fieldref = true
		case "re":
			m.re = true
		case "i", "m", "s":
			if !m.re {
				return m, fmt.Errorf("modifier %q needs re before it", mod)
			}
			if !strings.Contains(m.reFlags, mod) {
				m.reFlags += mod
			}
		case "cidr":
			m.cidr = true
		case "gt", "gte", "lt", "lte":
			m.nums = append(m.nums, mod)
		case "minute", "hour", "day", "week", "month", "year":
			m.timePart = mod
		case "base64", "base64offset", "utf16le", "utf16be", "utf16", "wide":
			m.encodings = append(m.encodings, mod)
		default:
			return m, fmt.Errorf("unknown modifier %q", mod)
		}
	}
	if m.startswith && m.endswith || m.contains && (m.startswith || m.endswith) {
		return m, fmt.Errorf("conflicting modifiers %s", strings.Join(mods, "|"))
	}
	if m.re && (m.contains || m.startswith || m.endswith || m.windash || len(m.encodings) > 0) {
		return m, fmt.Errorf("modifier re cannot be combined with %s", strings.Join(mods, "|"))
	}
	return m, nil
}

// compileField turns one field specification into a matcher and, when it
// has one, the literals of which one must be present for it to match.
func (cc *compiler) compileField(fs FieldSpec) (*fieldMatcher, []literalReq, error) {
	mods, err := parseModifiers(fs.Modifiers)
	if err != nil {
		return nil, nil, err
	}
	m := &fieldMatcher{field: -1, name: fs.Field, cased: mods.cased, all: mods.all, negate: mods.neq}
	if fs.Field != "" {
		m.field = cc.fieldID(fs.Field)
	}
	if len(fs.Values) == 0 {
		return nil, nil, fmt.Errorf("field %q has no value", fs.Field)
	}
	switch {
	case mods.exists:
		if m.field < 0 {
			return nil, nil, fmt.Errorf("exists needs a field")
		}
		if len(fs.Values) != 1 || !fs.Values[0].Bool {
			return nil, nil, fmt.Errorf("exists needs true or false")
		}
		m.op, m.want = opExists, fs.Values[0].Text == "true"
		return m, nil, nil
	case len(fs.Values) == 1 && fs.Values[0].Null:
		if m.field < 0 {
			return nil, nil, fmt.Errorf("null keyword")
		}
		m.op = opNull
		return m, nil, nil
	}
	for _, v := range fs.Values {
		if v.Null {
			return nil, nil, fmt.Errorf("field %q: null cannot be part of a list of values", fs.Field)
		}
	}
	switch {
	case mods.timePart != "" || len(mods.nums) > 0:
		if m.field < 0 {
			return nil, nil, fmt.Errorf("numeric modifiers need a field")
		}
		m.op, m.timePart = opNumeric, mods.timePart
		if mods.timePart != "" {
			m.op = opTimePart
		}
		op := "eq"
		if len(mods.nums) > 0 {
			op = mods.nums[len(mods.nums)-1]
		}
		for _, v := range fs.Values {
			f, err := strconv.ParseFloat(v.Text, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("field %q: %q is not a number", fs.Field, v.Text)
			}
			m.nums = append(m.nums, numCmp{op: op, v: f})
		}
		return m, nil, nil
	case mods.cidr:
		if m.field < 0 {
			return nil, nil, fmt.Errorf("cidr needs a field")
		}
		m.op = opCIDR
		for _, v := range fs.Values {
			p, err := netip.ParsePrefix(v.Text)
			if err != nil {
				a, aerr := netip.ParseAddr(v.Text)
				if aerr != nil {
					return nil, nil, fmt.Errorf("field %q: invalid cidr %q", fs.Field, v.Text)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			m.prefixes = append(m.prefixes, p.Masked())
		}
		return m, nil, nil
	case mods.fieldref:
		if m.field < 0 {
			return nil, nil, fmt.Errorf("fieldref needs a field")
		}
		m.op = opFieldRef
		var mode uint8
		switch {
		case mods.startswith:
			mode = 1
		case mods.endswith:
			mode = 2
		case mods.contains:
			mode = 3
		}
		for _, v := range fs.Values {
			m.refs = append(m.refs, cc.fieldID(v.Text))
			m.refMode = append(m.refMode, mode)
		}
		return m, nil, nil
	case mods.re:
		for _, v := range fs.Values {
			expr := v.Text
			if mods.reFlags != "" {
				expr = "(?" + mods.reFlags + ")" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: field %q: regular expression %q: %v", ErrUnsupported, fs.Field, v.Text, err)
			}
			m.strs = append(m.strs, regexM{re})
		}
		// Regular expressions see the original case.
		m.cased = true
		return m, nil, nil
	}
	m.op = opString
	if m.field < 0 && !mods.startswith && !mods.endswith {
		// Keywords are searched anywhere in the event's text.
		mods.contains = true
	}
	var reqs []literalReq
	reqOK := !mods.neq
	bestScore := -1
	for _, v := range fs.Values {
		pats, err := cc.expandValue(fs.Field, v, mods)
		if err != nil {
			return nil, nil, err
		}
		var ms orM
		exacts := setM{}
		var vreqs []literalReq
		vOK := len(pats) > 0
		score := 1 << 30
		for _, p := range pats {
			if !mods.cased {
				p = p.mapLiterals(lower)
			}
			sm := patternMatcher(p)
			if e, ok := sm.(exactM); ok {
				exacts[string(e)] = struct{}{}
			} else {
				ms = append(ms, sm)
			}
			lit, exact := requiredLiteral(p)
			if lit == "" {
				vOK = false
			}
			score = min(score, len(lit))
			vreqs = append(vreqs, literalReq{field: m.field, lit: lower(lit), exact: exact})
		}
		if mods.all {
			if vOK && score > bestScore {
				bestScore, reqs = score, vreqs
			}
		} else {
			reqOK = reqOK && vOK
			reqs = append(reqs, vreqs...)
		}
		switch {
		case len(exacts) == 1 && len(ms) == 0:
			for e := range exacts {
				m.strs = append(m.strs, exactM(e))
			}
		case len(exacts) > 0:
			m.strs = append(m.strs, append(orM{exacts}, ms...))
		case len(ms) == 1:
			m.strs = append(m.strs, ms[0])
		default:
			m.strs = append(m.strs, ms)
		}
	}
	if mods.all && bestScore < 0 {
		reqOK = false
	}
	if !reqOK {
		reqs = nil
	}
	if !mods.all {
		m.strs = mergeExacts(m.strs)
	}
	return m, reqs, nil
}

// mergeExacts folds many exact matchers of an OR into one set lookup.
func mergeExacts(ms []strMatcher) []strMatcher {
	set := setM{}
	var out []strMatcher
	for _, m := range ms {
		if e, ok := m.(exactM); ok {
			set[string(e)] = struct{}{}
		} else {
			out = append(out, m)
		}
	}
	switch len(set) {
	case 0:
		return out
	case 1:
		for e := range set {
			return append([]strMatcher{exactM(e)}, out...)
		}
	}
	return append([]strMatcher{set}, out...)
}

// requiredLiteral returns the longest literal every match of p contains, and
// whether it is the whole value.
func requiredLiteral(p pattern) (string, bool) {
	if s, ok := p.literal(); ok {
		return s, true
	}
	best := ""
	for _, t := range p {
		if t.kind == tokLit && len(t.s) > len(best) {
			best = t.s
		}
	}
	return best, false
}

// expandValue applies the value modifiers to one rule value and returns the
// patterns it stands for (ORed).
func (cc *compiler) expandValue(field string, v RawValue, mods modSet) ([]pattern, error) {
	var pats []pattern
	if v.Number || v.Bool {
		pats = []pattern{{{kind: tokLit, s: v.Text}}}
	} else {
		pats = []pattern{parsePattern(v.Text, mods.expand)}
	}
	if mods.expand {
		var out []pattern
		for _, p := range pats {
			ex, err := cc.expandPlaceholders(p)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", field, err)
			}
			out = append(out, ex...)
		}
		pats = out
	}
	if mods.windash {
		var out []pattern
		for _, p := range pats {
			ex, err := windash(p)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", field, err)
			}
			out = append(out, ex...)
		}
		pats = out
	}
	for _, enc := range mods.encodings {
		var out []pattern
		for _, p := range pats {
			switch enc {
			case "utf16le", "wide":
				out = append(out, p.mapLiterals(func(s string) string { return utf16Encode(s, false) }))
			case "utf16be":
				out = append(out, p.mapLiterals(func(s string) string { return utf16Encode(s, true) }))
			case "utf16":
				q := p.mapLiterals(func(s string) string { return utf16Encode(s, false) })
				out = append(out, append(pattern{{kind: tokLit, s: "\xff\xfe"}}, q...).normalize())
			case "base64", "base64offset":
				s, ok := p.literal()
				if !ok {
					return nil, fmt.Errorf("field %q: %s of a value with wildcards", field, enc)
				}
				if enc == "base64" {
					out = append(out, pattern{{kind: tokLit, s: base64.StdEncoding.EncodeToString([]byte(s))}})
					continue
				}
				for _, e := range base64Offsets(s) {
					out = append(out, pattern{{kind: tokLit, s: e}})
				}
			}
		}
		pats = out
	}
	for i, p := range pats {
		pats[i] = p.withStars(mods.contains || mods.endswith, mods.contains || mods.startswith)
	}
	return pats, nil
}

// maxPlaceholderExpansion bounds the patterns one value with placeholders
// may expand into.
const maxPlaceholderExpansion = 4096

func (cc *compiler) expandPlaceholders(p pattern) ([]pattern, error) {
	out := []pattern{nil}
	for _, t := range p {
		if t.kind != tokPlace {
			for i := range out {
				out[i] = append(out[i], t)
			}
			continue
		}
		vals, ok := cc.opts.Placeholders[t.s]
		if !ok {
			switch cc.opts.UnknownPlaceholder {
			case PlaceholderWildcard:
				vals = []string{"*"}
			case PlaceholderNoMatch:
				return nil, nil
			default:
				return nil, fmt.Errorf("%w: placeholder %%%s%% has no configured values", ErrUnsupported, t.s)
			}
		}
		if len(vals) == 0 {
			return nil, nil
		}
		if len(out)*len(vals) > maxPlaceholderExpansion {
			return nil, fmt.Errorf("placeholder %%%s%% expands into too many values", t.s)
		}
		var next []pattern
		for _, o := range out {
			for _, v := range vals {
				n := append(pattern{}, o...)
				next = append(next, append(n, parsePattern(v, false)...))
			}
		}
		out = next
	}
	for i := range out {
		out[i] = out[i].normalize()
	}
	return out, nil
}
