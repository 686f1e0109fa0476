package calibrate

import (
	"math"
	"math/rand/v2"
	"testing"
)

// synth draws labels from a known logistic model: p = σ(-1 + 2·x0 - 1·x1).
func synth(n int, seed uint64) []Sample {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]Sample, n)
	for i := range out {
		x0, x1, x2 := rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		p := sigmoid(-1 + 2*x0 - x1)
		out[i] = Sample{X: []float64{x0, x1, x2}, Label: rng.Float64() < p}
	}
	return out
}

func TestLogisticRecoversWeights(t *testing.T) {
	m, err := FitLogistic([]string{"a", "b", "noise"}, synth(4000, 1), 1e-3, 5)
	if err != nil {
		t.Fatal(err)
	}
	wa := m.Weights[0] / m.Scale[0]
	wb := m.Weights[1] / m.Scale[1]
	if math.Abs(wa-2) > 0.25 || math.Abs(wb+1) > 0.2 || math.Abs(m.Weights[2]) > 0.15 {
		t.Errorf("weights a=%.2f b=%.2f noise=%.2f, want ≈2, ≈-1, ≈0", wa, wb, m.Weights[2])
	}
	_, parts := m.LogOdds([]float64{2, 0, 0})
	if parts[0].Feature != "a" || parts[0].LogOdds <= 0 {
		t.Errorf("largest contribution %+v, want a positive", parts[0])
	}
	test := synth(4000, 2)
	probs, labels := make([]float64, len(test)), make([]bool, len(test))
	for i, s := range test {
		probs[i], labels[i] = m.Predict(s.X), s.Label
	}
	rep := Evaluate(probs, labels, 10)
	if rep.ECE > 0.05 || rep.Brier > 0.17 {
		t.Errorf("held-out calibration: ECE %.3f Brier %.3f", rep.ECE, rep.Brier)
	}
}

func TestTooFew(t *testing.T) {
	data := []Sample{{X: []float64{1}, Label: true}, {X: []float64{0}, Label: false}}
	if _, err := FitLogistic([]string{"x"}, data, 1, 2); err != ErrTooFew {
		t.Errorf("err = %v, want ErrTooFew", err)
	}
}

// TestIsotonicFixesMiscalibration: a score that is a monotone but wrong
// probability (p_true = s²) is recalibrated by isotonic regression and by
// Platt scaling; both cut the calibration error on held-out data.
func TestIsotonicFixesMiscalibration(t *testing.T) {
	draw := func(n int, seed uint64) ([]float64, []bool) {
		rng := rand.New(rand.NewPCG(seed, 9))
		s, y := make([]float64, n), make([]bool, n)
		for i := range s {
			s[i] = rng.Float64()
			y[i] = rng.Float64() < s[i]*s[i]
		}
		return s, y
	}
	trS, trY := draw(5000, 1)
	teS, teY := draw(5000, 2)
	raw := Evaluate(teS, teY, 10)
	iso := FitIsotonic(trS, trY)
	pl, err := FitPlatt(trS, trY)
	if err != nil {
		t.Fatal(err)
	}
	pi, pp := make([]float64, len(teS)), make([]float64, len(teS))
	for i, s := range teS {
		pi[i], pp[i] = iso.Apply(s), pl.Apply(s)
	}
	ri, rp := Evaluate(pi, teY, 10), Evaluate(pp, teY, 10)
	if raw.ECE < 0.1 {
		t.Fatalf("raw score unexpectedly calibrated: %.3f", raw.ECE)
	}
	if ri.ECE > 0.03 || ri.Brier >= raw.Brier {
		t.Errorf("isotonic: ECE %.3f Brier %.3f (raw %.3f %.3f)", ri.ECE, ri.Brier, raw.ECE, raw.Brier)
	}
	if rp.ECE > 0.06 {
		t.Errorf("platt: ECE %.3f", rp.ECE)
	}
	for i := 1; i < len(iso.Y); i++ {
		if iso.Y[i] < iso.Y[i-1] {
			t.Fatalf("isotonic not monotone at %d: %v", i, iso.Y)
		}
	}
}

// TestBrierGolden checks the arithmetic on a hand-computed case.
func TestBrierGolden(t *testing.T) {
	rep := Evaluate([]float64{0.9, 0.2, 0.6, 0.1}, []bool{true, false, false, false}, 2)
	// (0.01 + 0.04 + 0.36 + 0.01) / 4 = 0.105
	if math.Abs(rep.Brier-0.105) > 1e-12 {
		t.Errorf("Brier %.4f, want 0.105", rep.Brier)
	}
	// bin [0,0.5): p̄=0.15 ȳ=0; bin [0.5,1]: p̄=0.75 ȳ=0.5 → 0.5·0.15 + 0.5·0.25 = 0.2
	if math.Abs(rep.ECE-0.2) > 1e-12 || len(rep.Reliability) != 2 {
		t.Errorf("ECE %.4f bins %d, want 0.2 and 2", rep.ECE, len(rep.Reliability))
	}
}
