package sigma

import (
	"encoding/base64"
	"net/netip"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/wacht-soc/wacht/event"
)

// This file proves that no rule is skipped silently: for every SigmaHQ rule
// it synthesizes an event from the rule's own detection (the searches its
// condition needs true, values built from the modifiers), routes it through
// the engine loaded with all rules at once, and requires the rule to fire.
// A rule whose condition holds for the synthesized event (evaluated
// directly, bypassing routing and the prefilter) but that the engine does
// not report would be a rule skipped silently: there must be none. Rules
// for which no matching event could be synthesized are listed by reason.

// assignment says which searches must be true (true) or false (false).
type assignment map[string]bool

const maxAssignments = 64

func merge(a, b assignment) (assignment, bool) {
	out := make(assignment, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if w, ok := out[k]; ok && w != v {
			return nil, false
		}
		out[k] = v
	}
	return out, true
}

// satisfy lists assignments of search truth values that make c evaluate to
// want, most direct first.
func satisfy(c *Cond, want bool, names []string) []assignment {
	switch c.Op {
	case CondRef:
		return []assignment{{c.Name: want}}
	case CondNot:
		return satisfy(c.Args[0], !want, names)
	case CondOneOf, CondAllOf:
		var args []*Cond
		for _, n := range names {
			if matchSearchPattern(c.Name, n) {
				args = append(args, &Cond{Op: CondRef, Name: n})
			}
		}
		op := CondOr
		if c.Op == CondAllOf {
			op = CondAnd
		}
		return satisfy(&Cond{Op: op, Args: args}, want, names)
	}
	conj := (c.Op == CondAnd) == want // every argument must be want
	if !conj {
		var out []assignment
		for _, a := range c.Args {
			out = append(out, satisfy(a, want, names)...)
			if len(out) >= maxAssignments {
				return out[:maxAssignments]
			}
		}
		return out
	}
	out := []assignment{{}}
	for _, a := range c.Args {
		var next []assignment
		for _, x := range out {
			for _, y := range satisfy(a, want, names) {
				if m, ok := merge(x, y); ok && len(next) < maxAssignments {
					next = append(next, m)
				}
			}
		}
		out = next
	}
	return out
}

// fieldBuild collects the constraints on one field of the event.
type fieldBuild struct {
	exact    *string
	prefix   string
	middle   []string
	suffix   string
	num      *float64
	absent   bool
	fieldref string
}

// value composes the field's value; pad puts filler between the parts,
// for filters that exclude the bare value (endswith x but not equal x).
func (f *fieldBuild) value(pad bool) string {
	if f.exact != nil {
		return *f.exact
	}
	if pad {
		return f.prefix + "zz" + strings.Join(f.middle, "zz") + "zz" + f.suffix
	}
	return f.prefix + strings.Join(f.middle, " ") + f.suffix
}

// synthError is why no event could be built; its reason is the category.
type synthError struct{ reason string }

func (e *synthError) Error() string { return e.reason }

// renderPattern turns a Sigma value into a string it matches.
func renderPattern(p pattern) (string, error) {
	var b strings.Builder
	for _, t := range p {
		switch t.kind {
		case tokLit:
			b.WriteString(t.s)
		case tokOne:
			b.WriteByte('x')
		case tokPlace:
			vals := testPlaceholders[t.s]
			if len(vals) == 0 {
				return "", &synthError{"placeholder without value"}
			}
			s, err := renderPattern(parsePattern(vals[0], false))
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		}
	}
	return b.String(), nil
}

// regexSample builds a string the regular expression matches.
func regexSample(expr string, fold bool) (string, error) {
	flags := syntax.Perl
	if fold {
		flags |= syntax.FoldCase
	}
	re, err := syntax.Parse(expr, flags)
	if err != nil {
		return "", &synthError{"regular expression RE2 cannot parse"}
	}
	var b strings.Builder
	var gen func(r *syntax.Regexp)
	gen = func(r *syntax.Regexp) {
		switch r.Op {
		case syntax.OpLiteral:
			b.WriteString(string(r.Rune))
		case syntax.OpCharClass:
			b.WriteRune(classSample(r.Rune))
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			b.WriteByte('a')
		case syntax.OpCapture:
			gen(r.Sub[0])
		case syntax.OpPlus:
			gen(r.Sub[0])
		case syntax.OpRepeat:
			for range r.Min {
				gen(r.Sub[0])
			}
		case syntax.OpConcat:
			for _, s := range r.Sub {
				gen(s)
			}
		case syntax.OpAlternate:
			gen(r.Sub[0])
		}
	}
	gen(re.Simplify())
	return b.String(), nil
}

func classSample(ranges []rune) rune {
	in := func(c rune) bool {
		for i := 0; i+1 < len(ranges); i += 2 {
			if c >= ranges[i] && c <= ranges[i+1] {
				return true
			}
		}
		return false
	}
	for _, c := range "a0A_ -.\\/:" {
		if in(c) {
			return c
		}
	}
	for i := 0; i+1 < len(ranges); i += 2 {
		for c := ranges[i]; c <= ranges[i+1] && c < ranges[i]+256; c++ {
			if unicode.IsPrint(c) {
				return c
			}
		}
	}
	if len(ranges) > 0 {
		return ranges[0]
	}
	return 'a'
}

func utf16Bytes(s string, be bool) string { return utf16Encode(s, be) }

// applySpec adds the constraints of one field specification, choosing
// value index pick among its values.
func applySpec(fields map[string]*fieldBuild, order *[]string, keywords *[]string, fs FieldSpec, pick int) error {
	mods := map[string]bool{}
	var encodings []string
	for _, m := range fs.Modifiers {
		switch m {
		case "base64", "base64offset", "utf16le", "utf16be", "utf16", "wide":
			encodings = append(encodings, m)
		case "minute", "hour", "day", "week", "month", "year":
			return &synthError{"time part modifier"}
		}
		mods[m] = true
	}
	var vals []RawValue
	for _, v := range fs.Values {
		if !v.Null || len(fs.Values) == 1 {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return &synthError{"no value"}
	}
	if !mods["all"] {
		vals = []RawValue{vals[pick%len(vals)]}
	}
	if fs.Field == "" {
		for _, v := range vals {
			s, err := renderPattern(parsePattern(v.Text, mods["expand"]))
			if err != nil {
				return err
			}
			*keywords = append(*keywords, s)
		}
		return nil
	}
	f := fields[fs.Field]
	if f == nil {
		f = &fieldBuild{}
		fields[fs.Field] = f
		*order = append(*order, fs.Field)
	}
	for _, v := range vals {
		switch {
		case v.Null:
			f.absent = true
			continue
		case mods["exists"]:
			if v.Text == "false" || (v.Bool && v.Text != "true") {
				f.absent = true
			} else if f.exact == nil && len(f.middle) == 0 && f.prefix == "" && f.suffix == "" {
				f.middle = append(f.middle, "x")
			}
			continue
		case mods["fieldref"]:
			f.fieldref = v.Text
			continue
		case mods["gt"], mods["gte"], mods["lt"], mods["lte"]:
			n, err := strconv.ParseFloat(v.Text, 64)
			if err != nil {
				return &synthError{"numeric comparison with a non-number"}
			}
			switch {
			case mods["gt"]:
				n++
			case mods["lt"]:
				n--
			}
			f.num = &n
			continue
		case mods["cidr"]:
			p, err := netip.ParsePrefix(v.Text)
			if err != nil {
				return &synthError{"bad cidr"}
			}
			s := p.Masked().Addr().String()
			f.exact = &s
			continue
		case mods["re"]:
			s, err := regexSample(v.Text, mods["i"])
			if err != nil {
				return err
			}
			f.middle = append(f.middle, s)
			continue
		}
		s, err := renderPattern(parsePattern(v.Text, mods["expand"]))
		if err != nil {
			return err
		}
		for _, enc := range encodings {
			switch enc {
			case "utf16le", "wide":
				s = utf16Bytes(s, false)
			case "utf16be":
				s = utf16Bytes(s, true)
			case "utf16":
				s = "\xff\xfe" + utf16Bytes(s, false)
			case "base64", "base64offset":
				s = base64.StdEncoding.EncodeToString([]byte(s))
			}
		}
		if mods["neq"] {
			s = "not-" + s + "-other"
			f.exact = &s
			continue
		}
		switch {
		case mods["contains"]:
			f.middle = append(f.middle, s)
		case mods["startswith"]:
			f.prefix = s + f.prefix
		case mods["endswith"]:
			f.suffix += s
		default:
			if f.exact != nil && !strings.EqualFold(*f.exact, s) {
				return &synthError{"two exact values for one field"}
			}
			f.exact = &s
		}
	}
	return nil
}

// synthesize builds an event for rule r that satisfies assignment a, taking
// alternative alt of each search that must be true and value pick of each
// specification.
func synthesize(r *Rule, a assignment, alt, pick int, pad bool) (*event.Event, error) {
	byName := map[string]*Search{}
	for _, s := range r.Detection.Searches {
		byName[s.Name] = s
	}
	fields := map[string]*fieldBuild{}
	var order, keywords []string
	names := make([]string, 0, len(a))
	for n, want := range a {
		if want {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		s := byName[n]
		if s == nil || len(s.Alternatives) == 0 {
			return nil, &synthError{"empty search"}
		}
		for _, fs := range s.Alternatives[alt%len(s.Alternatives)] {
			if err := applySpec(fields, &order, &keywords, fs, pick); err != nil {
				return nil, err
			}
		}
	}
	// A search that must be false and tests a field for null ("filter:
	// Field: null") needs the field present.
	for n, want := range a {
		s := byName[n]
		if want || s == nil {
			continue
		}
		for _, alt := range s.Alternatives {
			for _, fs := range alt {
				if len(fs.Values) == 1 && fs.Values[0].Null && len(fs.Modifiers) == 0 && fields[fs.Field] == nil {
					fields[fs.Field] = &fieldBuild{middle: []string{"zz-present-" + fs.Field}}
					order = append(order, fs.Field)
				}
			}
		}
	}
	ev := &event.Event{LogSource: event.LogSource{Product: r.LogSource.Product, Category: r.LogSource.Category, Service: r.LogSource.Service}}
	ev.Message = strings.Join(keywords, " ")
	for _, name := range order {
		f := fields[name]
		switch {
		case f.absent:
		case f.num != nil:
			ev.Add(name, event.Float(*f.num))
		case f.fieldref != "":
			ref := "same-value"
			if g := fields[f.fieldref]; g != nil && !g.absent {
				ref = g.value(pad)
			} else {
				ev.Add(f.fieldref, event.String(ref))
			}
			ev.Add(name, event.String(ref))
		default:
			ev.Add(name, event.String(f.value(pad)))
		}
	}
	return ev, nil
}

// diagnose says why the synthesized event does not satisfy the condition:
// a search that must be true is false (named by its modifiers), or one
// that must be false (a filter) is true.
func diagnose(e *Engine, cr *compiledRule, a assignment, ev *event.Event) string {
	c := e.pool.Get().(*evalCtx)
	c.reset(ev)
	defer func() { c.ev = nil; e.pool.Put(c) }()
	truth := map[string]bool{}
	for _, s := range cr.sels {
		truth[s.name] = s.node.eval(c)
	}
	byName := map[string]*Search{}
	for _, s := range cr.rule.Detection.Searches {
		byName[s.Name] = s
	}
	for _, n := range sortedKeys(a) {
		if a[n] && !truth[n] {
			return "a needed search is false: " + searchKind(byName[n])
		}
	}
	for _, n := range sortedKeys(a) {
		if !a[n] && truth[n] {
			return "an excluding search (filter) matches the values of the selection"
		}
	}
	return "condition false for another reason"
}

func sortedKeys(a assignment) []string {
	out := make([]string, 0, len(a))
	for k := range a {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// searchKind names the modifiers of a search, for the report.
func searchKind(s *Search) string {
	if s == nil {
		return "unknown search"
	}
	seen := map[string]bool{}
	for _, alt := range s.Alternatives {
		for _, fs := range alt {
			for _, m := range fs.Modifiers {
				seen[m] = true
			}
			if len(fs.Modifiers) == 0 {
				seen["equals"] = true
			}
		}
	}
	return strings.Join(sortedKeys(seen), "|")
}

// condTrue evaluates r's compiled condition on ev directly.
func (e *Engine) condTrue(cr *compiledRule, ev *event.Event) bool {
	c := e.pool.Get().(*evalCtx)
	c.reset(ev)
	ok := cr.cond.eval(c)
	c.ev = nil
	e.pool.Put(c)
	return ok
}

// TestEveryRuleCanFire: see the top of this file.
func TestEveryRuleCanFire(t *testing.T) {
	coll, errs := loadAllRules(t)
	if len(errs) > 0 {
		t.Fatalf("%d rules failed to load: %v", len(errs), errs[0])
	}
	eng, _ := Compile(coll, Options{Placeholders: testPlaceholders})
	detections := 0
	for _, r := range coll.Rules {
		if r.Kind == KindDetection {
			detections++
		}
	}
	// Every detection rule that parsed is compiled into the engine: none
	// lost between loading and indexing.
	if got := eng.RuleCount() + len(eng.Problems()); got != detections {
		t.Errorf("%d detection rules parsed, engine holds %d (+%d problems)", detections, eng.RuleCount(), len(eng.Problems()))
	}
	compiled := map[*Rule]*compiledRule{}
	for _, g := range eng.groups {
		for _, cr := range g.rules {
			if compiled[cr.rule] != nil {
				t.Errorf("rule %s indexed twice", cr.rule.Ref())
			}
			compiled[cr.rule] = cr
		}
	}
	fired, skipped := 0, 0
	cannot := map[string][]string{}
	for _, r := range coll.Rules {
		cr := compiled[r]
		if r.Kind != KindDetection || cr == nil {
			continue
		}
		var names []string
		for _, s := range r.Detection.Searches {
			names = append(names, s.Name)
		}
		var cands []assignment
		for _, cs := range r.Detection.Conditions {
			c, err := ParseCondition(cs)
			if err != nil {
				t.Fatalf("%s: %v", r.Ref(), err)
			}
			cands = append(cands, satisfy(c, true, names)...)
		}
		reason := "no assignment of the searches satisfies the condition"
		ok := false
	search:
		for _, a := range cands {
			for variant := range 8 {
				ev, err := synthesize(r, a, variant/4, variant/2%2, variant%2 == 1)
				if err != nil {
					reason = err.Error()
					continue
				}
				hit := false
				eng.Match(ev, func(m Match) {
					if m.Rule == r {
						hit = true
					}
				})
				if hit {
					ok = true
					break search
				}
				if eng.condTrue(cr, ev) {
					// The condition holds but the engine did not report
					// the rule: routing or the prefilter lost it.
					skipped++
					t.Errorf("rule %s skipped: its condition holds for %v (logsource %+v) but the engine did not report it",
						r.Ref(), ev.Fields, ev.LogSource)
					ok = true
					break search
				}
				reason = diagnose(eng, cr, a, ev)
			}
		}
		if ok {
			fired++
			continue
		}
		cannot[reason] = append(cannot[reason], r.Ref())
	}
	total := fired
	for _, list := range cannot {
		total += len(list)
	}
	t.Logf("%d detection rules: %d fired on an event synthesized from their detection, %d skipped silently, %d could not be synthesized",
		total, fired-skipped, skipped, total-fired)
	reasons := make([]string, 0, len(cannot))
	for k := range cannot {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		list := cannot[k]
		sort.Strings(list)
		t.Logf("  %4d %s, e.g. %s", len(list), k, strings.Join(list[:min(3, len(list))], "; "))
	}
	if total < 3000 {
		t.Errorf("only %d rules checked", total)
	}
	// What the synthesizer cannot build must be explained rule by rule.
	for _, list := range cannot {
		for _, ref := range list {
			id := ref[strings.LastIndex(ref, "(")+1 : len(ref)-1]
			if _, ok := unsatisfiable[id]; !ok {
				t.Errorf("rule %s: no event could be synthesized and the reason is not explained in unsatisfiable", ref)
			}
		}
	}
	for id, why := range unsatisfiable {
		found := false
		for _, list := range cannot {
			for _, ref := range list {
				found = found || strings.Contains(ref, "("+id+")")
			}
		}
		if !found {
			t.Errorf("rule %s is listed as unsatisfiable (%s) but fired: remove it from the list", id, why)
		}
	}
}

// unsatisfiable lists the SigmaHQ rules no event can match, with the
// reason; every other rule must fire on an event synthesized from it.
var unsatisfiable = map[string]string{
	// selection: CommandLine equals 'RunWizard' and CommandLine|re needs a
	// {GUID} in the same value: the two conditions contradict each other
	// (the rule presumably meant CommandLine|contains: 'RunWizard').
	"53d4bb30-3f36-4e8a-b078-69d36c4a79ff": "exact value contradicts the regular expression on the same field",
}
