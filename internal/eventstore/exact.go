package eventstore

import (
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
