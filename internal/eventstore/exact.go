package eventstore

import (
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/event"
)

// RestoreExact gives a stored row back the text of its values as they were
// written: where the store kept a value's exact text beside it (see
// event.NumberTextChanges), the text replaces the engine's rendering of the
// number, and the exact-text columns leave the row. Rows without such
// columns (most, and every row of a stats pipe) are returned as they are.
func RestoreExact(r Row) Row {
	first := -1
	for i := range r {
		if strings.HasPrefix(r[i].Name, event.ExactPrefix) {
			first = i
			break
		}
	}
	if first < 0 {
		return r
	}
	var exact []Field
	out := r[:first]
	for _, f := range r[first:] {
		name, ok := strings.CutPrefix(f.Name, event.ExactPrefix)
		if !ok {
			out = append(out, f)
			continue
		}
		if text, marked := strings.CutPrefix(f.Value, event.ExactMark); marked {
			exact = append(exact, Field{Name: name, Value: text})
		}
	}
	for _, x := range exact {
		for i := range out {
			if out[i].Name == x.Name {
				out[i].Value = x.Value
				break
			}
		}
	}
	return out
}

// KeepExactText makes the fields pipes of a query keep the exact-text
// column of every field they keep, so that RestoreExact can give those
// rows their text too. q must be in the engine's canonical form
// (logstorage.Query.String): pipes joined by " | " and a fields pipe as
// "fields a, \"b c\", d*". Quoted text and parenthesised subqueries are
// left alone. Pipes that compute new columns (stats, uniq) still show
// the engine's rendering of a number.
func KeepExactText(q string) string {
	const pipe = " | fields "
	var out strings.Builder
	last := 0
	for pos := 0; ; {
		i := nextTop(q, pos, pipe)
		if i < 0 {
			break
		}
		start := i + len(pipe)
		end := nextTop(q, start, " | ")
		if end < 0 {
			end = len(q)
		}
		if extra := exactColumns(q[start:end]); extra != "" {
			out.WriteString(q[last:end])
			out.WriteString(extra)
			last = end
		}
		pos = end
	}
	if last == 0 {
		return q
	}
	out.WriteString(q[last:])
	return out.String()
}

// nextTop returns the index of the next occurrence of s in q at or after
// from that is outside quotes and parentheses (from must be), or -1.
func nextTop(q string, from int, s string) int {
	depth, quote := 0, byte(0)
	for i := from; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && strings.HasPrefix(q[i:], s):
			return i
		}
	}
	return -1
}

// exactColumns returns ", col, …" naming the exact-text columns of the
// fields in list (the arguments of a fields pipe), or "" when there are
// none to add (a lone "*" keeps them all already).
func exactColumns(list string) string {
	var b strings.Builder
	for _, f := range strings.Split(list, ", ") {
		switch {
		case f == "" || f == "*" || strings.HasPrefix(f, event.ExactPrefix):
		case f[0] == '"':
			name, err := strconv.Unquote(f)
			if err != nil {
				return "" // not a plain list: leave the pipe as it is
			}
			b.WriteString(", " + strconv.Quote(event.ExactPrefix+name))
		case strings.ContainsAny(f, "\"'`(), |"):
			return ""
		default:
			b.WriteString(", " + event.ExactPrefix + f)
		}
	}
	return b.String()
}
