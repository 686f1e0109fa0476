package ueba

import (
	"math"
	"slices"
)

// median returns the median of xs (xs is reordered).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// medianMAD returns the median and the median absolute deviation.
func medianMAD(xs []float64) (med, mad float64) {
	tmp := append([]float64(nil), xs...)
	med = median(tmp)
	for i, x := range xs {
		tmp[i] = math.Abs(x - med)
	}
	return med, median(tmp[:len(xs)])
}

// robustZ is (x - median) / (1.4826·MAD), with a floor on the spread so a
// perfectly flat baseline does not make every +1 infinitely surprising.
func robustZ(x, med, mad float64) float64 {
	s := 1.4826 * mad
	s = max(s, math.Sqrt(max(med, 1)), 1)
	return (x - med) / s
}

// poissonUpper is P(X ≥ k) for X ~ Poisson(lambda).
func poissonUpper(k int, lambda float64) float64 {
	if k <= 0 {
		return 1
	}
	// 1 - P(X ≤ k-1), summed in log space for stability.
	sum := 0.0
	term := math.Exp(-lambda)
	for i := 0; i < k; i++ {
		if i > 0 {
			term *= lambda / float64(i)
		}
		sum += term
	}
	if sum >= 1 {
		// Rounding: fall back to the tail term itself.
		lg, _ := math.Lgamma(float64(k) + 1)
		return math.Exp(-lambda + float64(k)*math.Log(lambda) - lg)
	}
	return 1 - sum
}

// poissonLower is P(X ≤ k) for X ~ Poisson(lambda).
func poissonLower(k int, lambda float64) float64 {
	if k < 0 {
		return 0
	}
	sum := 0.0
	term := math.Exp(-lambda)
	for i := 0; i <= k; i++ {
		if i > 0 {
			term *= lambda / float64(i)
		}
		sum += term
	}
	return min(sum, 1)
}

// pScore maps a tail probability to 0-100 (p = 1e-10 or smaller → 100).
func pScore(p float64) float64 {
	if p <= 0 {
		return 100
	}
	return min(100, max(0, -math.Log10(p)*10))
}

// zScore maps a robust z to 0-100 (z = 20 or more → 100).
func zScore(z float64) float64 { return min(100, max(0, math.Abs(z)*5)) }
