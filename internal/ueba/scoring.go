package ueba

import (
	"math"
	"path"
	"slices"
	"strings"
)

// zeta15 is 100·ζ(1.5), the limit of Σ 100/i^1.5: the ranked sum of any
// number of alerts scored 100 normalises to (almost) 100.
const zeta15 = 261.2375348685488

// ElasticRisk is an entity score computed the way Elastic Security
// documents its risk engine: alert scores sorted high to low, the i-th
// weighted 1/i^1.5, the sum normalised to 0-100, then asset criticality
// applied as a Bayesian update of the normalised score.
type ElasticRisk struct {
	Alerts      float64 `json:"alerts"`
	Criticality float64 `json:"criticality"`
	Total       float64 `json:"total"`
	Level       string  `json:"level"`
}

// Criticality weights of Elastic's asset criticality levels.
const (
	WeightLowImpact     = 0.5
	WeightMediumImpact  = 1
	WeightHighImpact    = 1.5
	WeightExtremeImpact = 2
)

// ElasticScore aggregates alert scores (0-100 each) with a criticality
// weight (1: none or medium impact).
func ElasticScore(scores []float64, weight float64) ElasticRisk {
	s := slices.Clone(scores)
	slices.SortFunc(s, func(a, b float64) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	sum := 0.0
	for i, v := range s {
		sum += min(max(v, 0), 100) / math.Pow(float64(i+1), 1.5)
	}
	alerts := 100 * sum / zeta15
	total := alerts
	if weight > 0 && weight != 1 {
		p := alerts / 100
		total = 100 * p * weight / (1 + p*(weight-1))
	}
	r := ElasticRisk{Alerts: round2(alerts), Total: round2(total), Criticality: round2(total - alerts)}
	switch {
	case r.Total > 90:
		r.Level = "critical"
	case r.Total >= 70:
		r.Level = "high"
	case r.Total >= 40:
		r.Level = "moderate"
	case r.Total >= 20:
		r.Level = "low"
	default:
		r.Level = "unknown"
	}
	return r
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// IdentityRules mark users whose risk weighs more: administrators,
// contractors and a watch list. Entries are user names or path.Match
// patterns ("adm-*", "*@contractor.example"), compared in lower case.
type IdentityRules struct {
	Admins      []string
	Contractors []string
	WatchList   []string
	// Weights (defaults 1.5, 1.25, 2).
	AdminWeight, ContractorWeight, WatchWeight float64
}

func matchAny(pats []string, v string) bool {
	for _, p := range pats {
		p = strings.ToLower(p)
		if p == v {
			return true
		}
		if ok, _ := path.Match(p, v); ok {
			return true
		}
	}
	return false
}

// Weight is the identity modifier of a user (1 neutral) and the reasons.
func (r IdentityRules) Weight(user string) (float64, []string) {
	w := 1.0
	var why []string
	def := func(v, d float64) float64 {
		if v == 0 {
			return d
		}
		return v
	}
	if matchAny(r.Admins, user) {
		w *= def(r.AdminWeight, 1.5)
		why = append(why, "admin")
	}
	if matchAny(r.Contractors, user) {
		w *= def(r.ContractorWeight, 1.25)
		why = append(why, "contractor")
	}
	if matchAny(r.WatchList, user) {
		w *= def(r.WatchWeight, 2)
		why = append(why, "watch list")
	}
	return w, why
}
