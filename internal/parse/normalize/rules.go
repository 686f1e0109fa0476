package normalize

import (
	"fmt"

	"github.com/wacht-soc/wacht/event"
)

// Rule names an ECS field and the native fields it is read from, in order
// of preference.
type Rule struct {
	ECS  string
	From []string
}

// Rules resolves many entity rules in one pass over an event's fields. The
// result is that of calling Entity for each rule in order, as long as no
// rule reads a field another rule writes. Parsers of formats with many
// fields (CEF, LEEF, key=value, Zeek, W3C, auditd) use it: a lookup per
// field instead of a scan of the fields per candidate name.
type Rules struct {
	rules []Rule
	index map[string][]ref
}

// ref is one use of a field name: the rule, and the name's rank among the
// rule's sources (isECS for the rule's own ECS field).
type ref struct {
	rule int
	rank int
}

const (
	isECS = -1
	// maxRules bounds a rule set so Apply keeps its work on the stack.
	maxRules = 64
	// maxFrom bounds the sources of one rule (a bit each).
	maxFrom = 64
)

// NewRules compiles rules; it panics on a set too large, a programming
// error found when the parser's package loads.
func NewRules(rules ...Rule) *Rules {
	if len(rules) > maxRules {
		panic(fmt.Sprintf("normalize: %d rules, at most %d", len(rules), maxRules))
	}
	r := &Rules{rules: rules, index: map[string][]ref{}}
	for i, ru := range rules {
		if len(ru.From) > maxFrom {
			panic(fmt.Sprintf("normalize: rule %s has %d sources, at most %d", ru.ECS, len(ru.From), maxFrom))
		}
		r.index[ru.ECS] = append(r.index[ru.ECS], ref{i, isECS})
		for rank, name := range ru.From {
			r.index[name] = append(r.index[name], ref{i, rank})
		}
	}
	return r
}

// Apply adds each rule's ECS field from its best usable source, unless
// the event has the ECS field already.
func (r *Rules) Apply(ev *event.Event) {
	n := len(r.rules)
	var bestBuf [maxRules]int32
	var rankBuf [maxRules]int8
	var seenBuf [maxRules]uint64
	var haveBuf [maxRules]bool
	best, rank, seen, have := bestBuf[:n], rankBuf[:n], seenBuf[:n], haveBuf[:n]
	for i := range best {
		best[i] = -1
	}
	for i := range ev.Fields {
		refs, ok := r.index[ev.Fields[i].Name]
		if !ok {
			continue
		}
		for _, x := range refs {
			if x.rank == isECS {
				have[x.rule] = true
				continue
			}
			// Entity reads the first field of a name only.
			bit := uint64(1) << x.rank
			if seen[x.rule]&bit != 0 {
				continue
			}
			seen[x.rule] |= bit
			if best[x.rule] >= 0 && int(rank[x.rule]) < x.rank {
				continue
			}
			if !usable(ev.Fields[i].Value) {
				continue
			}
			best[x.rule], rank[x.rule] = int32(i), int8(x.rank)
		}
	}
	for k := range n {
		if !have[k] && best[k] >= 0 {
			ev.Add(r.rules[k].ECS, ev.Fields[best[k]].Value)
		}
	}
}

// usable is Entity's test of a source value.
func usable(v event.Value) bool {
	if v.IsNull() {
		return false
	}
	if v.Kind() != event.KindString {
		return true
	}
	s := v.String()
	return s != "" && s != "-"
}
