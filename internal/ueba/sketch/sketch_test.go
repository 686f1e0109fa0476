package sketch

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestCountMinBounds checks the sketch's guarantee on a skewed stream:
// never under the true count, over it by at most epsilon·N for nearly all
// keys.
func TestCountMinBounds(t *testing.T) {
	const eps = 0.001
	c := NewCountMin(eps, 0.01)
	truth := map[string]uint32{}
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.2, 1, 50000)
	for range 200000 {
		k := fmt.Sprintf("proc-%d.exe", zipf.Uint64())
		truth[k]++
		c.Add(k, 1)
	}
	bad := 0
	for k, n := range truth {
		est := c.Estimate(k)
		if est < n {
			t.Fatalf("%s: estimate %d below true count %d", k, est, n)
		}
		if float64(est-n) > eps*float64(c.Total) {
			bad++
		}
	}
	if frac := float64(bad) / float64(len(truth)); frac > 0.01 {
		t.Errorf("%.3f of keys exceed the error bound, want ≤ 0.01", frac)
	}
	if c.Estimate("never-seen.exe") > uint32(eps*float64(c.Total))+1 {
		t.Errorf("unseen key estimate %d too high", c.Estimate("never-seen.exe"))
	}
}

func TestCountMinHalveAndValidate(t *testing.T) {
	c := NewCountMin(0.01, 0.01)
	c.Add("a", 10)
	c.Halve()
	if got := c.Estimate("a"); got != 5 || c.Total != 5 {
		t.Errorf("after halving: estimate %d total %d, want 5 5", got, c.Total)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Counts = c.Counts[:3]
	if c.Validate() == nil {
		t.Error("truncated counters validated")
	}
	x1, x2 := "x", string([]byte{'x'})
	if Hash64(x1) != Hash64(x2) || Hash64("x") == Hash64("y") {
		t.Error("Hash64 not stable or not distinguishing")
	}
}

func BenchmarkCountMinAdd(b *testing.B) {
	c := NewCountMin(0.0005, 0.001)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf(`C:\Windows\System32\proc-%d.exe`, i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Add(keys[i&1023], 1)
	}
}
