package ueba

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/ueba/sketch"
)

// The histogram-based outlier score (HBOS) looks at each user's and
// host's hour as a whole: a few features of the hour are binned, each
// feature's bin is compared with the fleet's histogram of that feature
// (all the tenant's users, or all its hosts), and the hour's score is the
// sum over the features of log(1/density), the density of the bin
// relative to the feature's busiest bin. An hour whose features are each
// merely unusual can add up to an outlier that no single-feature detector
// sees. The score is also compared with the entity's own usual score, so a
// server that is always unlike the workstations is not an outlier every
// hour.

// The features of an entity-hour.
const (
	featEvents = iota
	featDistinctA
	featDistinctB
	featFailRatio
	featBytesOut
	hbosFeatures
)

// hbosBins is the number of bins of each feature's histogram.
const hbosBins = 24

// hbosKinds are the entity kinds scored, in the order of
// TenantState.HBOS.
var hbosKinds = [2]EntityKind{KindUser, KindHost}

// hbosFeatureNames names each kind's features (distinct A and B differ).
func hbosFeatureNames(k EntityKind) [hbosFeatures]string {
	if k == KindHost {
		return [hbosFeatures]string{"events", "processes", "users", "failed_ratio", "bytes_out"}
	}
	return [hbosFeatures]string{"events", "hosts", "sources", "failed_ratio", "bytes_out"}
}

// HBOSHour is one entity's current hour (about 130 bytes): counts,
// 256-bit linear-counting bitmaps for the two distinct counts, and the
// entity's usual score per hour of the day.
type HBOSHour struct {
	Hour     int64
	Events   uint32
	Fails    uint32
	BytesOut float64
	A, B     [4]uint64
	// Typical is a moving average of the entity's scores per hour of the
	// day (UTC), in eighths; Known has bit h set once hour h has one, and
	// Scored counts the hours that went into them.
	Typical [24]uint8
	Known   uint32
	Scored  uint32
}

// typical is the entity's usual score for the hour of the day of unix
// hour h: that hour's average, or the highest of the hours known when the
// entity was never active then.
func (x *HBOSHour) typical(h int64) float64 {
	hod := int(h % 24)
	if x.Known&(1<<hod) != 0 {
		return float64(x.Typical[hod]) / 8
	}
	var top uint8
	for i, v := range x.Typical {
		if x.Known&(1<<i) != 0 {
			top = max(top, v)
		}
	}
	return float64(top) / 8
}

func (x *HBOSHour) learnTypical(h int64, score float64) {
	hod := int(h % 24)
	q := min(255, math.Round(score*8))
	if x.Known&(1<<hod) == 0 {
		x.Typical[hod] = uint8(q)
		x.Known |= 1 << hod
	} else {
		x.Typical[hod] = uint8(min(255, math.Round(0.7*float64(x.Typical[hod])+0.3*q)))
	}
	x.Scored++
}

// HBOSHist is the fleet histogram of one entity kind's hours.
type HBOSHist struct {
	Bins  [hbosFeatures][hbosBins]uint32
	Total uint32
}

func setBit(bm *[4]uint64, s string) {
	h := sketch.Hash64(s)
	bm[(h>>6)&3] |= 1 << (h & 63)
}

// linearCount estimates the distinct values set in a 256-bit bitmap.
func linearCount(bm *[4]uint64) float64 {
	ones := 0
	for _, w := range bm {
		ones += bits.OnesCount64(w)
	}
	zeros := 256 - ones
	if zeros == 0 {
		return 256 * math.Log(256)
	}
	return -256 * math.Log(float64(zeros)/256)
}

// features computes the hour's feature values.
func (x *HBOSHour) features() [hbosFeatures]float64 {
	var f [hbosFeatures]float64
	f[featEvents] = float64(x.Events)
	f[featDistinctA] = max(0, math.Round(linearCount(&x.A)))
	f[featDistinctB] = max(0, math.Round(linearCount(&x.B)))
	if x.Events > 0 {
		f[featFailRatio] = float64(x.Fails) / float64(x.Events)
	}
	f[featBytesOut] = x.BytesOut
	return f
}

// hbosBin maps a feature value to its bin: logarithmic for counts and
// bytes, tenths for the failure ratio.
func hbosBin(feat int, v float64) int {
	var b float64
	switch feat {
	case featFailRatio:
		b = v * 10
	case featBytesOut:
		b = math.Log2(1+v) * 0.7
	default:
		b = math.Log2(1+v) * 2
	}
	return min(hbosBins-1, max(0, int(b)))
}

// hbosScore scores an hour against a histogram: per feature the bin,
// its density relative to the busiest bin (smoothed by one), and
// log(1/density).
func (hh *HBOSHist) score(f [hbosFeatures]float64) (total float64, bins [hbosFeatures]int, dens, contrib [hbosFeatures]float64) {
	for i := range hbosFeatures {
		b := hbosBin(i, f[i])
		var peak uint32
		for _, c := range hh.Bins[i] {
			peak = max(peak, c)
		}
		d := (float64(hh.Bins[i][b]) + 1) / (float64(peak) + 1)
		bins[i], dens[i], contrib[i] = b, d, -math.Log(d)
		total += contrib[i]
	}
	return total, bins, dens, contrib
}

func (hh *HBOSHist) add(bins [hbosFeatures]int) {
	if hh.Total >= 1<<24 {
		hh.Total = 0
		for i := range hh.Bins {
			for b := range hh.Bins[i] {
				hh.Bins[i][b] /= 2
			}
		}
		hh.Total = 1 << 23
	}
	for i, b := range bins {
		hh.Bins[i][b]++
	}
	hh.Total++
}

// hbosAdd counts an event into the entity's hour, closing (and scoring)
// the previous hour first. a and b are the values of the two distinct
// counts (host: process and user; user: host and source address).
func (en *Engine) hbosAdd(em *emitter, kind int, ent Entity, es *EntityState, o *observation, a, b string) {
	x := es.Out
	if x == nil {
		x = &HBOSHour{Hour: o.h}
		es.Out = x
	}
	if o.h > x.Hour {
		en.hbosClose(em, kind, ent, es)
		x.Hour = o.h
	}
	x.Events++
	if a != "" {
		setBit(&x.A, a)
	}
	if b != "" {
		setBit(&x.B, b)
	}
	if o.failed {
		x.Fails++
	}
	x.BytesOut += o.bytesOut
}

// hbosClose scores the entity's hour against its kind's fleet histogram,
// reports it when it is an outlier, and learns it.
func (en *Engine) hbosClose(em *emitter, kind int, ent Entity, es *EntityState) {
	x := es.Out
	if x.Events == 0 {
		return
	}
	hh := &em.ts.HBOS[kind]
	f := x.features()
	total, bins, dens, contrib := hh.score(f)
	typical := x.typical(x.Hour)
	if !em.learning && hh.Total >= uint32(en.cfg.HBOSMinHours) && en.mature(es, x.Hour) && x.Scored >= 24 &&
		total >= en.cfg.HBOSThreshold && total-typical >= en.cfg.HBOSMargin {
		names := hbosFeatureNames(ent.Kind)
		parts := make([]Part, 0, 3*hbosFeatures+3)
		var obs, top []string
		for i := range hbosFeatures {
			parts = append(parts, Part{names[i], f[i]}, Part{names[i] + "_density", dens[i]}, Part{names[i] + "_contribution", contrib[i]})
			obs = append(obs, fmt.Sprintf("%s %s (bin density %.3g, +%.1f)", names[i], fmtFeature(i, f[i]), dens[i], contrib[i]))
			if contrib[i] >= 1 {
				top = append(top, names[i])
			}
		}
		parts = append(parts, Part{"hbos", total}, Part{"threshold", en.cfg.HBOSThreshold}, Part{"entity_typical", typical})
		from := time.Unix(x.Hour*3600, 0).UTC().Format("2006-01-02 15:04")
		em.emit(DetHBOS, ent, min(100, 50*total/en.cfg.HBOSThreshold),
			fmt.Sprintf("%s %s's hour from %s is an outlier across its features (HBOS %.1f, threshold %.1f; mostly %s)", ent.Kind, ent.Value, from, total,
				en.cfg.HBOSThreshold, strings.Join(top, ", ")),
			strings.Join(obs, "; "),
			fmt.Sprintf("histograms of %d %s-hours; this %s's usual score at this hour of the day %.1f", hh.Total, ent.Kind, ent.Kind, typical),
			fmt.Sprintf("every %s of the tenant", ent.Kind), parts)
	}
	if hh.Total >= uint32(en.cfg.HBOSMinHours) {
		x.learnTypical(x.Hour, total)
	}
	hh.add(bins)
	*x = HBOSHour{Hour: x.Hour, Typical: x.Typical, Known: x.Known, Scored: x.Scored}
}

func fmtFeature(i int, v float64) string {
	switch i {
	case featFailRatio:
		return fmt.Sprintf("%.0f%%", 100*v)
	case featBytesOut:
		return fmt.Sprintf("%.0f B", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// flushHBOS closes the users' and hosts' hours that ended before hour h.
func (en *Engine) flushHBOS(em *emitter, h int64) {
	for ent, es := range em.ts.Entities {
		if es.Out == nil || es.Out.Hour >= h || es.Out.Events == 0 {
			continue
		}
		kind := 0
		if ent.Kind == KindHost {
			kind = 1
		}
		em.t = time.Unix((es.Out.Hour+1)*3600, 0).UTC()
		en.hbosClose(em, kind, ent, es)
	}
}
