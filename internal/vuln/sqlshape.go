package vuln

import "github.com/wacht-soc/wacht/internal/store"

// The store caches prepared statements by their text, a bounded number of
// them for every domain. Statements whose length follows the data (IN
// lists, multi-row VALUES) are therefore built in a few canonical sizes:
// IN lists are padded to a power of two, and batches of rows are cut into
// full batches plus power-of-two pieces. An import then reuses about a
// dozen texts per statement instead of making a new one per chunk.

// inList returns the placeholders of an IN list for vals, padded by
// repeating the last value to a power of two (at least 8) or, above 8,192,
// to a multiple of 4,096 (a power of two would pass SQLite's limit of
// parameters), and the padded values appended to args. vals must not be
// empty.
func inList(args []any, vals []any) (string, []any) {
	n := 8
	for n < len(vals) && n < 8192 {
		n *= 2
	}
	if n < len(vals) {
		n = (len(vals) + 4095) / 4096 * 4096
	}
	args = append(args, vals...)
	for i := len(vals); i < n; i++ {
		args = append(args, vals[len(vals)-1])
	}
	return store.Placeholders(n), args
}

// batchSizes cuts n rows into batches of full rows, then the rest into
// powers of two, largest first.
func batchSizes(n, full int) []int {
	var out []int
	for ; n >= full; n -= full {
		out = append(out, full)
	}
	for p := 1 << 30; p > 0; p >>= 1 {
		if n&p != 0 {
			out = append(out, p)
		}
	}
	return out
}
