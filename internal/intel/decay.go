package intel

import (
	"math"
	"time"
)

// DecayModel is MISP's scoring model: an indicator's score falls from its
// base score to 0 over Lifetime,
//
//	score(t) = base × (1 − (t / Lifetime)^(1 / Speed))
//
// where t is the time since it was last seen. Below Threshold it stops
// alerting. A zero Lifetime means the type does not decay (file hashes).
type DecayModel struct {
	Lifetime  time.Duration
	Speed     float64
	Threshold float64
}

// DefaultDecay holds the per-type defaults: addresses change hands within
// weeks, domains within months, hashes never stop being the same file.
func DefaultDecay() map[Type]DecayModel {
	day := 24 * time.Hour
	return map[Type]DecayModel{
		TypeIP:      {Lifetime: 30 * day, Speed: 2, Threshold: 30},
		TypeIPPort:  {Lifetime: 30 * day, Speed: 2, Threshold: 30},
		TypeCIDR:    {Lifetime: 90 * day, Speed: 1, Threshold: 30},
		TypeDomain:  {Lifetime: 180 * day, Speed: 1, Threshold: 30},
		TypeURL:     {Lifetime: 90 * day, Speed: 1, Threshold: 30},
		TypeEmail:   {Lifetime: 365 * day, Speed: 1, Threshold: 30},
		TypeMD5:     {},
		TypeSHA1:    {},
		TypeSHA256:  {},
		TypeSHA512:  {},
		TypePattern: {Lifetime: 365 * day, Speed: 1, Threshold: 30},
	}
}

// Score is the decayed score of base after elapsed.
func (m DecayModel) Score(base float64, elapsed time.Duration) float64 {
	if m.Lifetime <= 0 || elapsed <= 0 {
		return base
	}
	if elapsed >= m.Lifetime {
		return 0
	}
	speed := m.Speed
	if speed <= 0 {
		speed = 1
	}
	return base * (1 - math.Pow(float64(elapsed)/float64(m.Lifetime), 1/speed))
}

// Horizon is how long after being seen an indicator with base score stays
// at or above the threshold: the inverse of Score at Threshold. It is
// negative when base is below the threshold already and +Inf (as the
// maximum duration) when the model does not decay.
func (m DecayModel) Horizon(base float64) time.Duration {
	if m.Lifetime <= 0 {
		return time.Duration(math.MaxInt64)
	}
	if base < m.Threshold || base <= 0 {
		return -1
	}
	speed := m.Speed
	if speed <= 0 {
		speed = 1
	}
	frac := math.Pow(1-m.Threshold/base, speed)
	return time.Duration(frac * float64(m.Lifetime))
}

// AlertUntil is the last moment ind may alert: the earlier of its
// valid_until and the moment its decayed confidence crosses the threshold,
// counted from when it was last seen (or valid from, or first seen).
func AlertUntil(ind *Indicator, m DecayModel) time.Time {
	end := time.Unix(math.MaxUint32, 0) // the index keeps 32-bit Unix seconds
	if !ind.ValidUntil.IsZero() && ind.ValidUntil.Before(end) {
		end = ind.ValidUntil
	}
	seen := ind.LastSeen
	if seen.IsZero() {
		seen = ind.ValidFrom
	}
	if seen.IsZero() {
		seen = ind.FirstSeen
	}
	h := m.Horizon(float64(ind.Confidence))
	if h < 0 {
		return time.Time{}
	}
	if m.Lifetime > 0 && !seen.IsZero() {
		if d := seen.Add(h); d.Before(end) {
			end = d
		}
	}
	return end
}
