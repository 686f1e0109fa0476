// Package sketch holds the bounded-memory counters behind behaviour
// analytics: a count-min sketch that answers "how often has this value been
// seen across the fleet" in fixed space, whatever the number of values.
package sketch

import (
	"errors"
	"math"
)

// CountMin is a count-min sketch (Cormode and Muthukrishnan): Depth rows of
// Width counters; an estimate is the minimum over the rows, never below the
// true count and above it by at most e·N/Width with probability
// 1-exp(-Depth).
type CountMin struct {
	Width, Depth int
	// Counts holds Depth rows of Width counters, row after row.
	Counts []uint32
	// Total is the number of additions (N).
	Total uint64
	// Seed keeps hashing stable across snapshots and restarts.
	Seed uint64
}

// NewCountMin sizes a sketch for an additive error of epsilon·N with
// probability 1-delta (Width = ⌈e/epsilon⌉, Depth = ⌈ln 1/delta⌉).
func NewCountMin(epsilon, delta float64) *CountMin {
	w := int(math.Ceil(math.E / epsilon))
	d := int(math.Ceil(math.Log(1 / delta)))
	return &CountMin{Width: w, Depth: max(d, 1), Counts: make([]uint32, w*max(d, 1)), Seed: 0x9e3779b97f4a7c15}
}

// Validate checks a sketch read back from a snapshot.
func (c *CountMin) Validate() error {
	if c.Width <= 0 || c.Depth <= 0 || len(c.Counts) != c.Width*c.Depth {
		return errors.New("count-min sketch: inconsistent dimensions")
	}
	return nil
}

// index derives Depth indexes from two 64-bit hashes (Kirsch-Mitzenmacher).
func (c *CountMin) index(row int, h1, h2 uint64) int {
	return row*c.Width + int((h1+uint64(row)*h2)%uint64(c.Width))
}

func (c *CountMin) hash(key string) (uint64, uint64) {
	h := fnv64(key, c.Seed)
	return h, fnv64(key, c.Seed^0xbf58476d1ce4e5b9) | 1
}

// random seed, so a persisted sketch stays valid after a restart.
func fnv64(s string, seed uint64) uint64 {
	h := uint64(14695981039346656037) ^ seed
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	// Final avalanche (splitmix64) so that short keys spread over rows.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// Add counts key n times and returns the new estimate.
func (c *CountMin) Add(key string, n uint32) uint32 {
	h1, h2 := c.hash(key)
	est := uint32(math.MaxUint32)
	for r := 0; r < c.Depth; r++ {
		i := c.index(r, h1, h2)
		v := c.Counts[i]
		if v <= math.MaxUint32-n {
			v += n
		} else {
			v = math.MaxUint32
		}
		c.Counts[i] = v
		est = min(est, v)
	}
	c.Total += uint64(n)
	return est
}

// Estimate returns the (over-)estimated count of key.
func (c *CountMin) Estimate(key string) uint32 {
	h1, h2 := c.hash(key)
	est := uint32(math.MaxUint32)
	for r := 0; r < c.Depth; r++ {
		est = min(est, c.Counts[c.index(r, h1, h2)])
	}
	return est
}

// Halve divides every counter by two: an exponential forgetting step so
// that what was common a month ago does not stay common forever.
func (c *CountMin) Halve() {
	for i := range c.Counts {
		c.Counts[i] >>= 1
	}
	c.Total >>= 1
}

// Bytes is the memory the counters use.
func (c *CountMin) Bytes() int { return 4 * len(c.Counts) }

// Hash64 is the stable 64-bit hash used by the sketches, exported for
// callers that key small bounded sets by hash instead of by string.
func Hash64(s string) uint64 { return fnv64(s, 0x243f6a8885a308d3) }
