package eventstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// The stores keep an event's id without its time part (event.IDHashPart):
// the row's _time is that part. The functions here give rows their whole
// event.id back and turn event.id filters into filters on what is stored.

// RowID returns the id of a stored event row: its time joined with the
// stored hash part, or a stored id of another form as it is. ok is false for
// a row without an id.
func RowID(r Row) (id string, ok bool) {
	stored, ts := "", ""
	for _, f := range r {
		switch f.Name {
		case event.FieldID:
			stored = f.Value
		case "_time":
			ts = f.Value
		}
	}
	if stored == "" {
		return "", false
	}
	if len(stored) != event.IDLen-event.IDTimeLen || ts == "" {
		return stored, true
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return stored, true
	}
	return event.JoinID(t, stored), true
}

// WithID returns r with its whole event.id.
func WithID(r Row) Row {
	id, ok := RowID(r)
	if !ok {
		return r
	}
	for i := range r {
		if r[i].Name == event.FieldID {
			r[i].Value = id
		}
	}
	return r
}

// RewriteIDFilters turns the event.id filters of a LogsQL query (forms
// event.id:X, event.id:=X, event.id:"X" and event.id:in(X, …)) into filters
// on what the store keeps: the instant the id carries and its hash part. A
// value that is not an id made by event.ComputeID is left alone (stored
// ids of other forms are kept whole).
func RewriteIDFilters(q string) string {
	if !strings.Contains(q, event.FieldID) {
		return q
	}
	var out strings.Builder
	quoted := false
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
			out.WriteString(q[i:]) // pipes: no filters to rewrite there
			return out.String()
		case strings.HasPrefix(q[i:], event.FieldID+":") && (i == 0 || strings.IndexByte(" \t\n(-!", q[i-1]) >= 0):
			if ids, others, n, ok := parseIDFilter(q[i+len(event.FieldID)+1:]); ok {
				out.WriteString(idFilter(ids, others))
				i += len(event.FieldID) + 1 + n
				continue
			}
		}
		out.WriteByte(c)
		i++
	}
	return out.String()
}

// idFilter is the stored form of a filter on ids (and on other values).
func idFilter(ids, others []string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, id := range ids {
		if i > 0 {
			b.WriteString(" or ")
		}
		t, _ := event.IDTime(id)
		ts := t.Format(time.RFC3339Nano)
		fmt.Fprintf(&b, "(_time:[%s,%s] %s:=%s)", ts, ts, event.FieldID, event.IDHashPart(id))
	}
	if len(others) > 0 {
		fmt.Fprintf(&b, " or %s:in(%s)", event.FieldID, strings.Join(others, ","))
	}
	b.WriteByte(')')
	return b.String()
}

// parseIDFilter reads the value of one event.id filter: the ids in it and
// the other values (ids of another form, kept whole by the store).
func parseIDFilter(s string) (ids, others []string, n int, ok bool) {
	if strings.HasPrefix(s, "=") {
		n = 1
	}
	var vals []string
	if strings.HasPrefix(s[n:], "in(") {
		end := strings.IndexByte(s[n:], ')')
		if end < 0 {
			return nil, nil, 0, false
		}
		vals = strings.Split(s[n+3:n+end], ",")
		n += end + 1
	} else {
		end := n
		if strings.HasPrefix(s[n:], `"`) {
			close := strings.IndexByte(s[n+1:], '"')
			if close < 0 {
				return nil, nil, 0, false
			}
			end = n + close + 2
		} else {
			for end < len(s) && strings.IndexByte(" \t\n)", s[end]) < 0 {
				end++
			}
		}
		vals = []string{s[n:end]}
		n = end
	}
	for _, v := range vals {
		v = strings.TrimSpace(v)
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		if event.IDHashPart(v) != "" {
			ids = append(ids, v)
		} else if v != "" {
			others = append(others, strconv.Quote(v))
		}
	}
	return ids, others, n, len(ids) > 0
}

// ExistingIDs implements EventStore.Existing through query: it asks for
// the ids in chunks and collects the rows that come back.
func ExistingIDs(ctx context.Context, query func(context.Context, Query, func(Row) error) error, tenant string, ids []string, start, end time.Time) (map[string]bool, error) {
	out := make(map[string]bool)
	const chunk = 500
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		quoted := make([]string, n)
		for i, id := range ids[:n] {
			quoted[i] = strconv.Quote(id)
		}
		ids = ids[n:]
		q := event.FieldID + ":in(" + strings.Join(quoted, ",") + ")"
		err := query(ctx, Query{Tenant: tenant, LogsQL: q, Start: start, End: end, Unordered: true}, func(r Row) error {
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
