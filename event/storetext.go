package event

import (
	"math"
	"strconv"
	"strings"
)

// VictoriaLogs, the engine under both event stores, keeps a column of a
// block as binary numbers when every value in it reads as one, and renders
// the numbers back as the shortest decimal. Text is then not always given
// back as it came: "10.0" returns as "10", "2.10" as "2.1", "1_000" as
// "1000", and some decimals as a neighbouring float ("0.069778" returns as
// "0.06977799999999999", because the engine's decimal reading is not
// correctly rounded). A version string, a duration or a price is evidence
// and must come back as it was sent, so the stores keep the text of such a
// value a second time, in a column the engine cannot read as a number:
// ExactName(column) holding ExactMark followed by the text. Reading a row,
// the store puts the text back in place of the rendered number (see
// eventstore.RestoreExact). Searches keep the engine's semantics: the
// number column still answers x:=2.10 and range filters.

// ExactPrefix starts the name of the column that holds a value's exact text.
const ExactPrefix = "_exact."

// ExactMark is the first byte of an exact-text value: it keeps the engine
// from reading that column as numbers too.
const ExactMark = "="

// ExactName is the column holding the exact text of the column name.
func ExactName(column string) string { return ExactPrefix + column }

// NumberTextChanges reports whether the event stores would give v back as
// other text should its column be kept as numbers: v reads as a number the
// way VictoriaLogs reads numbers (optional minus, digits with optional "_"
// separators, at most one dot with digits on both sides, no leading zero),
// and the shortest decimal of that number is not v. It errs towards true:
// a false true costs a little space, a false false a changed value.
func NumberTextChanges(v string) bool {
	if len(v) == 0 || len(v) > 27 {
		return false
	}
	s := v
	if s[0] == '-' {
		s = s[1:]
	}
	if s == "" || s[0] < '0' || s[0] > '9' {
		return false // most values: words, paths, hex
	}
	whole, frac, dot := strings.Cut(s, ".")
	w, ok := engineUint(whole)
	if !ok {
		return false
	}
	if !dot {
		// Integers are kept exactly; only their spelling can change.
		return strings.IndexByte(whole, '_') >= 0 || v == "-0"
	}
	if frac == "" {
		return false
	}
	digits := 0
	for i := 0; i < len(frac); i++ {
		if frac[i] != '_' {
			digits++
		}
	}
	// The engine skips the fraction's leading zeros before reading it as an
	// integer, so "05" is 5 here, and a lone "0" or "00" is zero.
	f, ok := engineUint(strings.TrimLeft(frac, "0"))
	if !ok {
		if strings.Trim(frac, "0") != "" {
			return false
		}
		f = 0
	}
	n := math.FMA(float64(f), math.Pow10(-digits), float64(w))
	// Fast path: a decimal of at most 15 significant digits, without "_"
	// or a trailing zero, is the shortest text of its correctly rounded
	// float, so it changes exactly when the engine's reading is another
	// float. That float is one division of exact numbers (m < 10^15 < 2^53
	// and 10^digits exact), which IEEE rounds correctly.
	if frac[len(frac)-1] != '0' && strings.IndexByte(s, '_') < 0 && digits <= 15 {
		if p := pow10(digits); w < 1e15/p {
			if m := w*p + f; m < 1e15 {
				return n != float64(m)/float64(p)
			}
		}
	}
	if v[0] == '-' {
		n = -n
	}
	return strconv.FormatFloat(n, 'f', -1, 64) != v
}

// engineUint reads s as VictoriaLogs reads an unsigned integer: digits and
// "_" separators, no leading zero, no overflow.
func engineUint(s string) (uint64, bool) {
	if s == "" || len(s) > 26 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' {
			continue
		}
		if c < '0' || c > '9' || n > math.MaxUint64/10 {
			return 0, false
		}
		next := n*10 + uint64(c-'0')
		if next < n*10 {
			return 0, false
		}
		n = next
	}
	return n, true
}

// pow10 is 10^d for 0 ≤ d ≤ 15.
func pow10(d int) uint64 {
	p := uint64(1)
	for ; d > 0; d-- {
		p *= 10
	}
	return p
}
