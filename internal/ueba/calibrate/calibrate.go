// Package calibrate turns scores into probabilities that mean what they
// say: an L2-regularised logistic regression with per-feature
// contributions, isotonic (pool-adjacent-violators) and Platt calibration,
// and the measures that show whether it worked (Brier score, expected
// calibration error, a reliability table). Pure Go, small data: trained on
// a tenant's closed cases, not on millions of rows.
package calibrate

import (
	"errors"
	"math"
	"sort"
)

// Sample is one labelled example: features and whether it was a true
// incident.
type Sample struct {
	X     []float64
	Label bool
}

// Logistic is a trained logistic regression over named features.
type Logistic struct {
	Features []string  `json:"features"`
	Weights  []float64 `json:"weights"`
	Bias     float64   `json:"bias"`
	// Mean and Scale standardise each feature before the weights apply, so
	// contributions are comparable across features.
	Mean  []float64 `json:"mean"`
	Scale []float64 `json:"scale"`
}

// Contribution is one feature's part of a score in log-odds.
type Contribution struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"`
	LogOdds float64 `json:"log_odds"`
}

// ErrTooFew means there are not enough examples of both classes.
var ErrTooFew = errors.New("calibrate: too few labelled examples of each class")

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// FitLogistic trains by Newton's method (iteratively reweighted least
// squares) with an L2 penalty lambda on the weights (not the bias). It
// needs at least minPerClass examples of each label.
func FitLogistic(names []string, data []Sample, lambda float64, minPerClass int) (*Logistic, error) {
	pos := 0
	for _, s := range data {
		if len(s.X) != len(names) {
			return nil, errors.New("calibrate: sample width differs from feature names")
		}
		if s.Label {
			pos++
		}
	}
	if pos < minPerClass || len(data)-pos < minPerClass {
		return nil, ErrTooFew
	}
	d := len(names)
	m := &Logistic{Features: append([]string(nil), names...), Weights: make([]float64, d), Mean: make([]float64, d), Scale: make([]float64, d)}
	n := float64(len(data))
	for j := range d {
		var sum, sq float64
		for _, s := range data {
			sum += s.X[j]
		}
		m.Mean[j] = sum / n
		for _, s := range data {
			sq += (s.X[j] - m.Mean[j]) * (s.X[j] - m.Mean[j])
		}
		m.Scale[j] = math.Sqrt(sq / n)
		if m.Scale[j] == 0 {
			m.Scale[j] = 1
		}
	}
	// Parameters: bias at index 0, weights after.
	p := d + 1
	beta := make([]float64, p)
	beta[0] = math.Log(float64(pos) / float64(len(data)-pos))
	z := make([]float64, p)
	for iter := 0; iter < 100; iter++ {
		grad := make([]float64, p)
		hess := make([]float64, p*p)
		for _, s := range data {
			z[0] = 1
			for j := range d {
				z[j+1] = (s.X[j] - m.Mean[j]) / m.Scale[j]
			}
			eta := 0.0
			for k := range p {
				eta += beta[k] * z[k]
			}
			mu := sigmoid(eta)
			y := 0.0
			if s.Label {
				y = 1
			}
			w := mu * (1 - mu)
			for a := range p {
				grad[a] += (y - mu) * z[a]
				for b := range p {
					hess[a*p+b] += w * z[a] * z[b]
				}
			}
		}
		for a := 1; a < p; a++ {
			grad[a] -= lambda * beta[a]
			hess[a*p+a] += lambda
		}
		hess[0] += 1e-9
		step, ok := solve(hess, grad, p)
		if !ok {
			return nil, errors.New("calibrate: singular system while fitting")
		}
		maxStep := 0.0
		for k := range p {
			maxStep = max(maxStep, math.Abs(step[k]))
		}
		// Damped Newton: when most predictions saturate (many identical
		// rows of a rare class) the Hessian nearly vanishes and a full
		// step would throw the bias to ±10¹²; at most 2 log-odds a step.
		scale := 1.0
		if maxStep > 2 {
			scale = 2 / maxStep
		}
		for k := range p {
			beta[k] += scale * step[k]
		}
		if maxStep < 1e-8 {
			break
		}
	}
	m.Bias = beta[0]
	copy(m.Weights, beta[1:])
	return m, nil
}

// solve returns x with A·x = b by Gaussian elimination with partial
// pivoting (A is p×p, row major; small p).
func solve(a, b []float64, p int) ([]float64, bool) {
	m := append([]float64(nil), a...)
	x := append([]float64(nil), b...)
	for c := range p {
		piv := c
		for r := c + 1; r < p; r++ {
			if math.Abs(m[r*p+c]) > math.Abs(m[piv*p+c]) {
				piv = r
			}
		}
		if math.Abs(m[piv*p+c]) < 1e-12 {
			return nil, false
		}
		if piv != c {
			for k := range p {
				m[c*p+k], m[piv*p+k] = m[piv*p+k], m[c*p+k]
			}
			x[c], x[piv] = x[piv], x[c]
		}
		for r := c + 1; r < p; r++ {
			f := m[r*p+c] / m[c*p+c]
			for k := c; k < p; k++ {
				m[r*p+k] -= f * m[c*p+k]
			}
			x[r] -= f * x[c]
		}
	}
	for c := p - 1; c >= 0; c-- {
		for k := c + 1; k < p; k++ {
			x[c] -= m[c*p+k] * x[k]
		}
		x[c] /= m[c*p+c]
	}
	return x, true
}

// LogOdds is the model's log-odds for x with each feature's part.
func (m *Logistic) LogOdds(x []float64) (float64, []Contribution) {
	z := m.Bias
	parts := make([]Contribution, len(m.Features))
	for j, name := range m.Features {
		c := m.Weights[j] * (x[j] - m.Mean[j]) / m.Scale[j]
		z += c
		parts[j] = Contribution{Feature: name, Value: x[j], LogOdds: c}
	}
	sort.SliceStable(parts, func(a, b int) bool { return math.Abs(parts[a].LogOdds) > math.Abs(parts[b].LogOdds) })
	return z, parts
}

// Predict is the (uncalibrated) probability for x.
func (m *Logistic) Predict(x []float64) float64 { z, _ := m.LogOdds(x); return sigmoid(z) }

// Isotonic is a monotone step function from score to probability, fitted
// by pool-adjacent-violators.
type Isotonic struct {
	// X are the upper score bounds of the blocks, Y their probabilities.
	X []float64 `json:"x"`
	Y []float64 `json:"y"`
}

// FitIsotonic fits a non-decreasing map from scores to labels.
func FitIsotonic(scores []float64, labels []bool) *Isotonic {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	type block struct{ sum, n, hi float64 }
	var bs []block
	for _, i := range idx {
		y := 0.0
		if labels[i] {
			y = 1
		}
		bs = append(bs, block{y, 1, scores[i]})
		for len(bs) > 1 && bs[len(bs)-2].sum/bs[len(bs)-2].n >= bs[len(bs)-1].sum/bs[len(bs)-1].n {
			last := bs[len(bs)-1]
			bs = bs[:len(bs)-1]
			bs[len(bs)-1].sum += last.sum
			bs[len(bs)-1].n += last.n
			bs[len(bs)-1].hi = last.hi
		}
	}
	iso := &Isotonic{}
	for _, b := range bs {
		iso.X = append(iso.X, b.hi)
		iso.Y = append(iso.Y, b.sum/b.n)
	}
	return iso
}

// Apply maps a score to its calibrated probability, kept inside
// [0.001, 0.999] because a handful of cases never justifies certainty.
func (iso *Isotonic) Apply(s float64) float64 {
	if len(iso.X) == 0 {
		return s
	}
	i := sort.SearchFloat64s(iso.X, s)
	if i >= len(iso.Y) {
		i = len(iso.Y) - 1
	}
	return min(max(iso.Y[i], 0.001), 0.999)
}

// Platt is sigmoid calibration p = σ(A·s + B) of a score s.
type Platt struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// FitPlatt fits A and B by a one-feature logistic regression.
func FitPlatt(scores []float64, labels []bool) (Platt, error) {
	data := make([]Sample, len(scores))
	for i := range scores {
		data[i] = Sample{X: []float64{scores[i]}, Label: labels[i]}
	}
	m, err := FitLogistic([]string{"score"}, data, 1e-6, 1)
	if err != nil {
		return Platt{}, err
	}
	a := m.Weights[0] / m.Scale[0]
	return Platt{A: a, B: m.Bias - a*m.Mean[0]}, nil
}

// Apply maps a score to a probability.
func (p Platt) Apply(s float64) float64 { return sigmoid(p.A*s + p.B) }

// Bin is one row of a reliability table.
type Bin struct {
	Lo        float64 `json:"lo"`
	Hi        float64 `json:"hi"`
	N         int     `json:"n"`
	Predicted float64 `json:"predicted"`
	Observed  float64 `json:"observed"`
}

// Report is how well probabilities matched outcomes.
type Report struct {
	N     int     `json:"n"`
	Brier float64 `json:"brier"`
	// ECE is the expected calibration error: |predicted - observed| per
	// bin, weighted by the bin's share.
	ECE         float64 `json:"ece"`
	Reliability []Bin   `json:"reliability"`
}

// Evaluate measures probabilities against outcomes over bins equal-width
// bins.
func Evaluate(probs []float64, labels []bool, bins int) Report {
	r := Report{N: len(probs)}
	if len(probs) == 0 || bins <= 0 {
		return r
	}
	bs := make([]Bin, bins)
	for i := range bs {
		bs[i].Lo, bs[i].Hi = float64(i)/float64(bins), float64(i+1)/float64(bins)
	}
	for i, p := range probs {
		y := 0.0
		if labels[i] {
			y = 1
		}
		r.Brier += (p - y) * (p - y)
		b := min(int(p*float64(bins)), bins-1)
		bs[b].N++
		bs[b].Predicted += p
		bs[b].Observed += y
	}
	r.Brier /= float64(len(probs))
	for i := range bs {
		if bs[i].N == 0 {
			continue
		}
		bs[i].Predicted /= float64(bs[i].N)
		bs[i].Observed /= float64(bs[i].N)
		r.ECE += float64(bs[i].N) / float64(len(probs)) * math.Abs(bs[i].Predicted-bs[i].Observed)
		r.Reliability = append(r.Reliability, bs[i])
	}
	return r
}
