package sigma

import (
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unsafe"

	"github.com/wacht-soc/wacht/event"
)

// strMatcher tests one (already lower-cased unless cased) string.
type strMatcher interface {
	match(s string) bool
}

type exactM string
type prefixM string
type suffixM string
type containsM string
type anyM struct{}
type globM pattern
type setM map[string]struct{}
type regexM struct{ re *regexp.Regexp }

func (m exactM) match(s string) bool    { return s == string(m) }
func (m prefixM) match(s string) bool   { return strings.HasPrefix(s, string(m)) }
func (m suffixM) match(s string) bool   { return strings.HasSuffix(s, string(m)) }
func (m containsM) match(s string) bool { return strings.Contains(s, string(m)) }
func (anyM) match(string) bool          { return true }
func (m globM) match(s string) bool     { return glob(pattern(m), s) }
func (m setM) match(s string) bool      { _, ok := m[s]; return ok }
func (m regexM) match(s string) bool    { return m.re.MatchString(s) }

// orM matches when any of its matchers does.
type orM []strMatcher

func (m orM) match(s string) bool {
	for _, x := range m {
		if x.match(s) {
			return true
		}
	}
	return false
}

// patternMatcher picks the cheapest matcher for p.
func patternMatcher(p pattern) strMatcher {
	p = p.normalize()
	switch {
	case len(p) == 0:
		return exactM("")
	case len(p) == 1 && p[0].kind == tokLit:
		return exactM(p[0].s)
	case len(p) == 1 && p[0].kind == tokStar:
		return anyM{}
	case len(p) == 2 && p[0].kind == tokLit && p[1].kind == tokStar:
		return prefixM(p[0].s)
	case len(p) == 2 && p[0].kind == tokStar && p[1].kind == tokLit:
		return suffixM(p[0+1].s)
	case len(p) == 3 && p[0].kind == tokStar && p[1].kind == tokLit && p[2].kind == tokStar:
		return containsM(p[1].s)
	}
	return globM(p)
}

// valueOp is what a field matcher does with the field's values.
type valueOp uint8

const (
	opString   valueOp = iota // string matchers (wildcards, regex)
	opNull                    // field absent or null
	opExists                  // field present (want) or absent (!want)
	opNumeric                 // gt/gte/lt/lte against numbers
	opCIDR                    // IP in prefixes
	opFieldRef                // compare with another field
	opTimePart                // minute/hour/... of a time value
)

type numCmp struct {
	op string // gt gte lt lte eq
	v  float64
}

func (c numCmp) test(f float64) bool {
	switch c.op {
	case "gt":
		return f > c.v
	case "gte":
		return f >= c.v
	case "lt":
		return f < c.v
	case "lte":
		return f <= c.v
	}
	return f == c.v
}

// fieldMatcher is one "field|modifiers: values" of a selection.
type fieldMatcher struct {
	field  int    // slot index; -1 for keywords
	name   string // field name as written
	op     valueOp
	cased  bool
	all    bool // AND of values instead of OR
	negate bool // neq
	want   bool // exists

	// opString: one matcher per original value (variants ORed inside).
	strs []strMatcher
	// opNumeric, opTimePart
	nums     []numCmp
	timePart string
	// opCIDR
	prefixes []netip.Prefix
	// opFieldRef
	refs    []int
	refMode []uint8 // 0 exact, 1 prefix, 2 suffix, 3 contains
}

func (m *fieldMatcher) eval(c *evalCtx) bool {
	r := m.evalRaw(c)
	if m.negate {
		return !r
	}
	return r
}

func (m *fieldMatcher) evalRaw(c *evalCtx) bool {
	if m.field < 0 {
		return m.matchStrings(c.keywordStrings(m.cased))
	}
	s := c.slot(m.field)
	switch m.op {
	case opExists:
		return s.present == m.want
	case opNull:
		return !s.present || s.v.IsNull()
	}
	if !s.present || s.v.IsNull() {
		return false
	}
	switch m.op {
	case opString:
		return m.matchStrings(c.strings(m.field, m.cased))
	case opNumeric:
		return m.matchNumbers(c, s.v, func(v event.Value) (float64, bool) { return v.Float() })
	case opTimePart:
		return m.matchNumbers(c, s.v, m.timeValue)
	case opCIDR:
		for _, str := range c.strings(m.field, true) {
			a, err := netip.ParseAddr(strings.Trim(str, "[]"))
			if err != nil {
				continue
			}
			a = a.Unmap().WithZone("")
			hit := 0
			for _, p := range m.prefixes {
				if p.Contains(a) {
					hit++
					if !m.all {
						return true
					}
				}
			}
			if m.all && hit == len(m.prefixes) {
				return true
			}
		}
		return false
	case opFieldRef:
		return m.matchRefs(c)
	}
	return false
}

func (m *fieldMatcher) matchStrings(vals []string) bool {
	if m.all {
		for _, sm := range m.strs {
			ok := false
			for _, v := range vals {
				if sm.match(v) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		for _, sm := range m.strs {
			if sm.match(v) {
				return true
			}
		}
	}
	return false
}

func (m *fieldMatcher) matchNumbers(c *evalCtx, v event.Value, conv func(event.Value) (float64, bool)) bool {
	elems := []event.Value{v}
	if v.Kind() == event.KindArray {
		elems = v.Array()
	}
	for _, e := range elems {
		f, ok := conv(e)
		if !ok {
			continue
		}
		hit := 0
		for _, n := range m.nums {
			if n.test(f) {
				hit++
				if !m.all {
					return true
				}
			}
		}
		if m.all && hit == len(m.nums) {
			return true
		}
	}
	return false
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02",
}

func (m *fieldMatcher) timeValue(v event.Value) (float64, bool) {
	var t time.Time
	switch v.Kind() {
	case event.KindTime:
		t = v.Time()
	case event.KindString:
		var err error
		for _, l := range timeLayouts {
			if t, err = time.Parse(l, v.Str()); err == nil {
				break
			}
		}
		if err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	switch m.timePart {
	case "minute":
		return float64(t.Minute()), true
	case "hour":
		return float64(t.Hour()), true
	case "day":
		return float64(t.Day()), true
	case "week":
		_, w := t.ISOWeek()
		return float64(w), true
	case "month":
		return float64(t.Month()), true
	case "year":
		return float64(t.Year()), true
	}
	return 0, false
}

func (m *fieldMatcher) matchRefs(c *evalCtx) bool {
	vals := c.strings(m.field, m.cased)
	hit := 0
	for i, ref := range m.refs {
		rs := c.slot(ref)
		if !rs.present || rs.v.IsNull() {
			continue
		}
		ok := false
		for _, rv := range c.strings(ref, m.cased) {
			for _, v := range vals {
				switch m.refMode[i] {
				case 0:
					ok = v == rv
				case 1:
					ok = strings.HasPrefix(v, rv)
				case 2:
					ok = strings.HasSuffix(v, rv)
				case 3:
					ok = strings.Contains(v, rv)
				}
				if ok {
					break
				}
			}
			if ok {
				break
			}
		}
		if ok {
			hit++
			if !m.all {
				return true
			}
		}
	}
	return m.all && hit == len(m.refs)
}

// slotVal is one field of the event being evaluated, with its string forms
// computed on first use.
type slotVal struct {
	gen     uint32
	present bool
	v       event.Value
	strGen  uint32
	lowGen  uint32
	raw     []string
	low     []string
	one     [2]string
}

// evalCtx is the per-event evaluation state. It is reused across events
// (generation counters avoid clearing).
type evalCtx struct {
	ev    *event.Event
	gen   uint32
	slots []slotVal
	// keyword strings: message and every string value
	kwGen     uint32
	kwLowGen  uint32
	kwRaw     []string
	kwLow     []string
	fieldIdx  map[string]int
	candidate []uint64
	hits      []int32
	// arena backs the lower-cased strings of one event; it is reused for the
	// next event, so those strings must not outlive the evaluation.
	arena []byte
}

// lower lower-cases s into the context's arena (no allocation when s is
// already lower case or the arena has room).
func (c *evalCtx) lower(s string) string {
	if !needsLower(s) {
		return s
	}
	if cap(c.arena)-len(c.arena) < len(s)*2+8 {
		c.arena = make([]byte, 0, max(2*cap(c.arena), len(s)*2+8, 4096))
	}
	start := len(c.arena)
	c.arena = appendLower(c.arena, s)
	b := c.arena[start:len(c.arena):len(c.arena)]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func newEvalCtx(fieldIdx map[string]int) *evalCtx {
	return &evalCtx{fieldIdx: fieldIdx, slots: make([]slotVal, len(fieldIdx))}
}

// reset binds the context to ev: one map lookup per event field.
func (c *evalCtx) reset(ev *event.Event) {
	c.ev = ev
	c.arena = c.arena[:0]
	c.gen++
	if c.gen == 0 {
		for i := range c.slots {
			c.slots[i] = slotVal{}
		}
		c.kwGen, c.kwLowGen = 0, 0
		c.gen = 1
	}
	for i := range ev.Fields {
		f := &ev.Fields[i]
		id, ok := c.fieldIdx[f.Name]
		if !ok {
			continue
		}
		s := &c.slots[id]
		if s.gen == c.gen {
			continue // first field of that name wins
		}
		s.gen = c.gen
		s.present = true
		s.v = f.Value
	}
}

var absent slotVal

func (c *evalCtx) slot(id int) *slotVal {
	s := &c.slots[id]
	if s.gen != c.gen {
		return &absent
	}
	return s
}

func appendScalarStrings(dst []string, v event.Value) []string {
	switch v.Kind() {
	case event.KindNull:
		return dst
	case event.KindArray:
		for _, e := range v.Array() {
			dst = appendScalarStrings(dst, e)
		}
		return dst
	}
	return append(dst, v.String())
}

// strings returns the field's values as strings, lower-cased unless cased.
func (c *evalCtx) strings(id int, cased bool) []string {
	s := &c.slots[id]
	if s.gen != c.gen {
		return nil
	}
	if s.strGen != c.gen {
		s.strGen = c.gen
		if s.v.Kind() == event.KindString {
			s.one[0] = s.v.Str()
			s.raw = s.one[:1]
		} else {
			s.raw = appendScalarStrings(s.raw[:0:0], s.v)
		}
	}
	if cased {
		return s.raw
	}
	if s.lowGen != c.gen {
		s.lowGen = c.gen
		if len(s.raw) == 1 {
			s.one[1] = c.lower(s.raw[0])
			s.low = s.one[1:2]
		} else {
			s.low = make([]string, len(s.raw))
			for i, r := range s.raw {
				s.low[i] = c.lower(r)
			}
		}
	}
	return s.low
}

// keywordStrings returns the message and all field values as strings.
func (c *evalCtx) keywordStrings(cased bool) []string {
	if c.kwGen != c.gen {
		c.kwGen = c.gen
		c.kwRaw = c.kwRaw[:0]
		if c.ev.Message != "" {
			c.kwRaw = append(c.kwRaw, c.ev.Message)
		}
		for _, f := range c.ev.Fields {
			c.kwRaw = appendScalarStrings(c.kwRaw, f.Value)
		}
	}
	if cased {
		return c.kwRaw
	}
	if c.kwLowGen != c.gen {
		c.kwLowGen = c.gen
		c.kwLow = c.kwLow[:0]
		for _, r := range c.kwRaw {
			c.kwLow = append(c.kwLow, c.lower(r))
		}
	}
	return c.kwLow
}
