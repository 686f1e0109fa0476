package ueba

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/wacht-soc/wacht/internal/ueba/calibrate"
)

// Verdict is a closed incident's outcome as a training label.
type Verdict uint8

// Verdicts.
const (
	// VerdictUnknown: open, duplicate or unresolved; not used for training.
	VerdictUnknown Verdict = iota
	VerdictTrue
	VerdictFalse
)

// IncidentFacts is what the likelihood model reads from an incident.
type IncidentFacts struct {
	ID       string
	Severity int // 0 unknown … 4 critical
	Score    int
	Alerts   int64
	Rules    []string
	Attack   []string
	Entities []Entity
	Verdict  Verdict
	Created  time.Time
}

// Cases gives the likelihood model the tenant's incidents (the cases
// domain, through an adapter in internal/app).
type Cases interface {
	// Closed returns incidents closed with a verdict, newest first.
	Closed(ctx context.Context, tenant string, limit int) ([]IncidentFacts, error)
	// Incident returns one incident; an error wrapping ErrNotFound when
	// the tenant has none with that id.
	Incident(ctx context.Context, tenant, id string) (IncidentFacts, error)
}

var featureNames = []string{"severity", "log_alerts", "rules", "attack_tags", "entities", "score"}

func features(f IncidentFacts) []float64 {
	return []float64{float64(f.Severity), math.Log1p(float64(f.Alerts)), float64(len(f.Rules)),
		float64(len(f.Attack)), float64(len(f.Entities)), float64(f.Score)}
}

// Method is how a likelihood was computed.
type Method uint8

// Methods, from least to most data.
const (
	// MethodPrior: no labelled cases; the base rate of a uniform prior.
	MethodPrior Method = iota + 1
	// MethodBeta: few labels; a Beta prior per rule combined by noisy-OR.
	MethodBeta
	// MethodLogistic: L2-regularised logistic regression, isotonic
	// calibration.
	MethodLogistic
)

func (m Method) String() string {
	switch m {
	case MethodPrior:
		return "prior"
	case MethodBeta:
		return "beta_noisy_or"
	case MethodLogistic:
		return "logistic_isotonic"
	}
	return "unknown"
}

// MarshalText writes the method's name.
func (m Method) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// Reason is one part of a likelihood's explanation.
type Reason struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"`
	// Effect is the log-odds contribution (logistic) or the rule's own
	// probability (noisy-OR).
	Effect float64 `json:"effect"`
	Detail string  `json:"detail,omitempty"`
}

// Likelihood is the calibrated probability that an incident is a true
// positive, with its reasons and the model's measured calibration.
type Likelihood struct {
	IncidentID  string           `json:"incident_id"`
	Probability float64          `json:"probability"`
	Method      Method           `json:"method"`
	Reasons     []Reason         `json:"reasons"`
	Calibration calibrate.Report `json:"calibration"`
	Labelled    int              `json:"labelled"`
	Positives   int              `json:"positives"`
	TrainedAt   time.Time        `json:"trained_at"`
}

// Model is a trained likelihood model of one tenant.
type Model struct {
	Method      Method
	Logistic    *calibrate.Logistic
	Iso         *calibrate.Isotonic
	RuleTP      map[string][2]int // rule → (true, total)
	Base        float64
	Calibration calibrate.Report
	Labelled    int
	Positives   int
	TrainedAt   time.Time
}

// minLogistic is how many labelled cases of each verdict the regression
// needs; below it the Beta prior model is used.
const minLogistic = 10

// Train fits a model on labelled incidents.
func Train(cases []IncidentFacts, now time.Time) *Model {
	var data []calibrate.Sample
	m := &Model{RuleTP: map[string][2]int{}, TrainedAt: now}
	for _, c := range cases {
		if c.Verdict == VerdictUnknown {
			continue
		}
		y := c.Verdict == VerdictTrue
		data = append(data, calibrate.Sample{X: features(c), Label: y})
		if y {
			m.Positives++
		}
		for _, r := range c.Rules {
			v := m.RuleTP[r]
			if y {
				v[0]++
			}
			v[1]++
			m.RuleTP[r] = v
		}
	}
	m.Labelled = len(data)
	m.Base = (float64(m.Positives) + 1) / (float64(m.Labelled) + 2)
	m.Method = MethodPrior
	if m.Labelled > 0 {
		m.Method = MethodBeta
		// Leave-one-out calibration of the Beta model.
		probs, labels := make([]float64, 0, len(data)), make([]bool, 0, len(data))
		for i, c := range labelledOnly(cases) {
			probs = append(probs, m.betaLOO(c, data[i].Label))
			labels = append(labels, data[i].Label)
		}
		m.Calibration = calibrate.Evaluate(probs, labels, 10)
	}
	if m.Positives < minLogistic || m.Labelled-m.Positives < minLogistic {
		return m
	}
	// Cross-fitted raw scores: each half scored by a model of the other.
	raw := make([]float64, len(data))
	labels := make([]bool, len(data))
	for fold := 0; fold < 2; fold++ {
		var train []calibrate.Sample
		for i, s := range data {
			if i%2 != fold {
				train = append(train, s)
			}
		}
		lr, err := calibrate.FitLogistic(featureNames, train, 1, 3)
		if err != nil {
			return m
		}
		for i, s := range data {
			if i%2 == fold {
				raw[i] = lr.Predict(s.X)
			}
		}
	}
	for i, s := range data {
		labels[i] = s.Label
	}
	lr, err := calibrate.FitLogistic(featureNames, data, 1, minLogistic)
	if err != nil {
		return m
	}
	// The calibration report applies to each half an isotonic map fitted
	// on the other half: no score is judged by a map that saw its label.
	probs := make([]float64, len(data))
	for fold := 0; fold < 2; fold++ {
		var s []float64
		var y []bool
		for i := range data {
			if i%2 != fold {
				s, y = append(s, raw[i]), append(y, labels[i])
			}
		}
		iso := calibrate.FitIsotonic(s, y)
		for i := range data {
			if i%2 == fold {
				probs[i] = iso.Apply(raw[i])
			}
		}
	}
	m.Method, m.Logistic, m.Iso = MethodLogistic, lr, calibrate.FitIsotonic(raw, labels)
	m.Calibration = calibrate.Evaluate(probs, labels, 10)
	return m
}

func labelledOnly(cs []IncidentFacts) []IncidentFacts {
	out := make([]IncidentFacts, 0, len(cs))
	for _, c := range cs {
		if c.Verdict != VerdictUnknown {
			out = append(out, c)
		}
	}
	return out
}

// ruleP is a rule's posterior mean under a Beta prior centred on the base
// rate with a weight of two cases.
func (m *Model) ruleP(tp, n int) float64 {
	a0, b0 := 2*m.Base, 2*(1-m.Base)
	return (float64(tp) + a0) / (float64(n) + a0 + b0)
}

func (m *Model) betaLOO(c IncidentFacts, y bool) float64 {
	p := 1.0
	for _, r := range c.Rules {
		v := m.RuleTP[r]
		if y {
			v[0]--
		}
		v[1]--
		p *= 1 - m.ruleP(v[0], v[1])
	}
	if len(c.Rules) == 0 {
		return m.Base
	}
	return 1 - p
}

// Predict scores one incident.
func (m *Model) Predict(f IncidentFacts) Likelihood {
	out := Likelihood{IncidentID: f.ID, Method: m.Method, Calibration: m.Calibration, Labelled: m.Labelled,
		Positives: m.Positives, TrainedAt: m.TrainedAt}
	switch m.Method {
	case MethodLogistic:
		z, parts := m.Logistic.LogOdds(features(f))
		out.Probability = m.Iso.Apply(1 / (1 + math.Exp(-z)))
		for _, p := range parts {
			out.Reasons = append(out.Reasons, Reason{Feature: p.Feature, Value: p.Value, Effect: math.Round(p.LogOdds*1000) / 1000})
		}
	case MethodBeta:
		keep := 1.0
		for _, r := range f.Rules {
			v := m.RuleTP[r]
			p := m.ruleP(v[0], v[1])
			keep *= 1 - p
			out.Reasons = append(out.Reasons, Reason{Feature: "rule", Value: float64(v[1]), Effect: math.Round(p*1000) / 1000,
				Detail: fmt.Sprintf("%s: %d of %d closed cases true", r, v[0], v[1])})
		}
		out.Probability = 1 - keep
		if len(f.Rules) == 0 {
			out.Probability = m.Base
		}
		sort.Slice(out.Reasons, func(i, j int) bool { return out.Reasons[i].Effect > out.Reasons[j].Effect })
	case MethodPrior:
		out.Probability = m.Base
		out.Reasons = []Reason{{Feature: "base_rate", Value: m.Base, Effect: m.Base, Detail: "no closed cases with a verdict yet"}}
	}
	out.Probability = math.Round(out.Probability*1000) / 1000
	return out
}
