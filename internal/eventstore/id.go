package eventstore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// The stores do not keep an event's id as a column when it can be derived
// from the stored row (event.IDDerivable): the functions here give rows their
// event.id back and turn event.id filters into what the store can answer, an
// exact-instant time filter, plus a check of the derived ids.

// RowID returns the id of a stored event row: its event.id column when the
// store kept one, else the id derived from its columns. ok is false for a
// row without _time (a stats row, say).
func RowID(r Row) (id string, ok bool) {
	var (
		h      event.IDHash
		msg    string
		t      time.Time
		hasTS  bool
		stored string
	)
	for _, f := range r {
		switch f.Name {
		case "_time":
			ts, err := time.Parse(time.RFC3339Nano, f.Value)
			if err != nil {
				return "", false
			}
			t, hasTS = ts, true
		case "_msg":
			msg = f.Value
		case event.FieldID:
			stored = f.Value
		default:
			if !event.IsReserved(f.Name) {
				h.Field(f.Name, f.Value)
			}
		}
	}
	if stored != "" {
		return stored, true
	}
	if !hasTS {
		return "", false
	}
	return h.ID(t, msg), true
}

// WithID returns r with its event.id column, derived if the store did not
// keep it. Rows that are not whole events are returned as they are.
func WithID(r Row) Row {
	if r.Get(event.FieldID) != "" {
		return r
	}
	if id, ok := RowID(r); ok {
		return append(r, Field{Name: event.FieldID, Value: id})
	}
	return r
}

// KeptVerbatim reports whether VictoriaLogs hands back every field value of
// e as it was written. It does not for some decimal numbers: a column whose
// values all look like decimals is stored as float64 and rendered back in
// shortest form, and its parser (integer and fraction digits joined with one
// fused multiply-add) is off by an ulp for some inputs: Zeek's "0.069778"
// comes back as "0.06977799999999999". Digits with underscores come back
// without them. Such an event keeps its id as a column.
func KeptVerbatim(e *event.Event) bool {
	var buf [64]byte
	for _, f := range e.Fields {
		switch f.Value.Kind() {
		case event.KindString:
			if !decimalVerbatim(f.Value.Str()) {
				return false
			}
		case event.KindFloat:
			if !decimalVerbatim(string(f.Value.AppendText(buf[:0]))) {
				return false
			}
		}
	}
	return true
}

// decimalVerbatim reports whether a float64 column would give s back.
func decimalVerbatim(s string) bool {
	v := strings.TrimPrefix(s, "-")
	if v == "" || v[0] < '0' || v[0] > '9' || len(v) > 26 {
		return true
	}
	dot := -1
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
		case c == '_':
			return false
		case c == '.' && dot < 0:
			dot = i
		default:
			return true // not a number: stored as text
		}
	}
	if dot <= 0 || dot == len(v)-1 {
		return true // an integer (kept exactly) or not a number
	}
	nInt, err1 := strconv.ParseUint(v[:dot], 10, 64)
	nFrac, err2 := strconv.ParseUint(v[dot+1:], 10, 64)
	if err1 != nil || err2 != nil {
		return true
	}
	f := math.FMA(float64(nFrac), math.Pow10(-(len(v) - dot - 1)), float64(nInt))
	if s[0] == '-' {
		f = -f
	}
	return strconv.FormatFloat(f, 'f', -1, 64) == s
}

// IDFilter is what SplitIDFilter took out of a query: the ids asked for.
type IDFilter struct {
	IDs map[string]bool
}

// Match reports whether a row is one of the ids asked for.
func (f *IDFilter) Match(r Row) bool {
	id, ok := RowID(r)
	return ok && f.IDs[id]
}

// TimeFilter is a LogsQL filter on the instants the ids carry.
func (f *IDFilter) TimeFilter() string {
	times := make([]int64, 0, len(f.IDs))
	for id := range f.IDs {
		t, _ := event.IDTime(id)
		times = append(times, t.UnixNano())
	}
	slices.Sort(times)
	times = slices.Compact(times)
	var b strings.Builder
	b.WriteByte('(')
	for i, ns := range times {
		if i > 0 {
			b.WriteString(" or ")
		}
		ts := time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
		b.WriteString("_time:[")
		b.WriteString(ts)
		b.WriteByte(',')
		b.WriteString(ts)
		b.WriteByte(']')
	}
	b.WriteByte(')')
	return b.String()
}

// SplitIDFilter takes the event.id filters out of a LogsQL query (forms
// event.id:X, event.id:=X, event.id:"X" and event.id:in(X, …)) and returns
// the query with each replaced by a filter on the instants the ids carry;
// the caller keeps only rows whose RowID the filter matches. A query
// without event.id filters comes back unchanged with a nil filter. Because
// the rows are checked after the store answered, event.id filters combine
// only with AND and only in queries without pipes; other uses are refused
// with ErrBadQuery.
func SplitIDFilter(q string) (string, *IDFilter, error) {
	if !strings.Contains(q, event.FieldID) {
		return q, nil, nil
	}
	var (
		out    strings.Builder
		f      = &IDFilter{IDs: map[string]bool{}}
		quoted bool
	)
	for i := 0; i < len(q); {
		c := q[i]
		if quoted {
			out.WriteByte(c)
			if c == '\\' && i+1 < len(q) {
				out.WriteByte(q[i+1])
				i += 2
				continue
			}
			if c == '"' {
				quoted = false
			}
			i++
			continue
		}
		switch {
		case c == '"':
			quoted = true
		case c == '|':
			if len(f.IDs) > 0 {
				return "", nil, fmt.Errorf("%w: event.id filters do not combine with pipes", ErrBadQuery)
			}
			return q, nil, nil // the rest are pipes: no filters there
		case strings.HasPrefix(q[i:], event.FieldID+":") && (i == 0 || strings.IndexByte(" \t\n(-!", q[i-1]) >= 0):
			if prev := strings.TrimRight(q[:i], " \t\n("); strings.HasSuffix(prev, "-") || strings.HasSuffix(prev, "!") ||
				strings.HasSuffix(strings.ToLower(prev), " not") || strings.EqualFold(prev, "not") {
				return "", nil, fmt.Errorf("%w: event.id filters cannot be negated", ErrBadQuery)
			}
			n, err := f.parse(q[i+len(event.FieldID)+1:])
			if err != nil {
				return "", nil, fmt.Errorf("%w: event.id filter at byte %d: %v", ErrBadQuery, i, err)
			}
			out.WriteString("*")
			i += len(event.FieldID) + 1 + n
			continue
		case isWordAt(q, i, "or"):
			return "", nil, fmt.Errorf("%w: event.id filters combine only with AND, not OR", ErrBadQuery)
		}
		out.WriteByte(c)
		i++
	}
	if len(f.IDs) == 0 {
		return q, nil, nil
	}
	return f.TimeFilter() + " " + out.String(), f, nil
}

// parse reads the value of one event.id filter and returns its length.
func (f *IDFilter) parse(s string) (int, error) {
	n := 0
	if strings.HasPrefix(s, "=") {
		n = 1
	}
	if strings.HasPrefix(s[n:], "in(") {
		end := strings.IndexByte(s[n:], ')')
		if end < 0 {
			return 0, fmt.Errorf("in( without )")
		}
		for _, part := range strings.Split(s[n+3:n+end], ",") {
			if err := f.add(strings.TrimSpace(part)); err != nil {
				return 0, err
			}
		}
		return n + end + 1, nil
	}
	end := n
	if strings.HasPrefix(s[n:], `"`) {
		close := strings.IndexByte(s[n+1:], '"')
		if close < 0 {
			return 0, fmt.Errorf("unterminated quote")
		}
		end = n + close + 2
	} else {
		for end < len(s) && strings.IndexByte(" \t\n)", s[end]) < 0 {
			end++
		}
	}
	return end, f.add(s[n:end])
}

func (f *IDFilter) add(v string) error {
	if uq, err := strconv.Unquote(v); err == nil {
		v = uq
	}
	if _, ok := event.IDTime(v); !ok {
		return fmt.Errorf("%q is not an event id (%d hex digits)", v, event.IDLen)
	}
	f.IDs[v] = true
	return nil
}

// isWordAt reports whether the word w (any case) stands at q[i:] on its own.
func isWordAt(q string, i int, w string) bool {
	if i+len(w) > len(q) || !strings.EqualFold(q[i:i+len(w)], w) {
		return false
	}
	before := i == 0 || strings.IndexByte(" \t\n()", q[i-1]) >= 0
	after := i+len(w) == len(q) || strings.IndexByte(" \t\n()", q[i+len(w)]) >= 0
	return before && after
}

// ExistingIDs implements EventStore.Existing for a store that derives ids:
// it asks for the ids in chunks through query and collects the rows that
// match.
func ExistingIDs(ctx context.Context, query func(context.Context, Query, func(Row) error) error, tenant string, ids []string, start, end time.Time) (map[string]bool, error) {
	out := make(map[string]bool)
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool {
		_, ok := event.IDTime(id)
		return !ok // not an id this store could hold
	})
	const chunk = 500
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		var b strings.Builder
		b.WriteString(event.FieldID)
		b.WriteString(":in(")
		for i, id := range ids[:n] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(id)
		}
		b.WriteByte(')')
		ids = ids[n:]
		err := query(ctx, Query{Tenant: tenant, LogsQL: b.String(), Start: start, End: end}, func(r Row) error {
			if id, ok := RowID(r); ok {
				out[id] = true
			}
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
