package sim

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/ueba"
	"github.com/wacht-soc/wacht/internal/ueba/calibrate"
)

// EvalOptions tune an evaluation. Zero fields take the defaults.
type EvalOptions struct {
	// Detectors and Risk configure the engine and the ledger (every
	// detector runs in production).
	Detectors ueba.Config
	Risk      ueba.RiskConfig
	// NoGeo and NoPeers switch off the simulation's GeoIP and peer groups.
	NoGeo, NoPeers bool
	// NoDetections leaves the simulated SOC's Sigma detections out: risk
	// then comes from behaviour anomalies alone.
	NoDetections bool
	// Shadow lists detectors run in shadow mode: their anomalies are
	// counted and listed but add no risk.
	Shadow []ueba.Detector
}

// DetectorResult counts one detector's anomalies, and those on an entity
// of a scenario while it ran (or within a day).
type DetectorResult struct {
	Detector   string `json:"detector"`
	Shadow     bool   `json:"shadow,omitempty"`
	Anomalies  int    `json:"anomalies"`
	OnScenario int    `json:"on_scenario"`
}

// KindResult is the recall of one scenario kind.
type KindResult struct {
	Kind     string  `json:"kind"`
	Injected int     `json:"injected"`
	Detected int     `json:"detected"`
	Recall   float64 `json:"recall"`
}

// ScenarioResult says whether and when a scenario was caught.
type ScenarioResult struct {
	Scenario
	Detected bool `json:"detected"`
	// TTD is from the scenario's start to the first risk incident on one
	// of its entities.
	TTD time.Duration `json:"ttd,omitempty"`
	// Anomalies are the detectors that reported on its entities.
	Anomalies []string `json:"anomalies,omitempty"`
}

// Report is an evaluation's measurements.
type Report struct {
	Seed      uint64 `json:"seed"`
	Users     int    `json:"users"`
	Entities  int    `json:"entities"`
	Days      int    `json:"days"`
	EvalDays  int    `json:"eval_days"`
	Events    int    `json:"events"`
	Anomalies int    `json:"anomalies"`
	// Incidents are risk alerts (threshold or tactics); FalseIncidents
	// those on entity-days outside any scenario.
	Incidents      int `json:"incidents"`
	FalseIncidents int `json:"false_incidents"`

	Recall float64 `json:"scenario_recall"`
	// AnomalyRecall is the share of scenarios with at least one anomaly
	// on their entities while they ran (or within a day).
	AnomalyRecall    float64      `json:"anomaly_recall"`
	RecallLowAndSlow float64      `json:"recall_low_and_slow"`
	ByKind           []KindResult `json:"by_kind"`
	// EntityDayPrecision: of the entity-days with a risk incident, the
	// share that belong to a scenario.
	EntityDayPrecision float64 `json:"entity_day_precision"`
	// PrecisionAt10: of the ten entity-days with the highest peak risk,
	// the share that belong to a scenario.
	PrecisionAt10 float64 `json:"precision_at_10"`
	// IncidentsPer1000: false incidents per day per 1,000 entities over
	// the evaluated (post-learning) days.
	IncidentsPer1000 float64 `json:"incidents_per_day_per_1000_entities"`
	MedianTTD        Dur     `json:"median_ttd"`
	P90TTD           Dur     `json:"p90_ttd"`
	// Calibration of the 7-day incident likelihood forecast for every
	// user, host and address on every evaluated day (logistic regression
	// with isotonic calibration, cross-fitted by entity); CalibrationRisky
	// the same forecasts restricted to entity-days that had any risk.
	Calibration      calibrate.Report `json:"calibration"`
	CalibrationRisky calibrate.Report `json:"calibration_risky"`
	LikelihoodPos    int              `json:"likelihood_positives"`

	Scenarios []ScenarioResult `json:"scenarios"`
	Detectors []DetectorResult `json:"detectors"`
	Elapsed   Dur              `json:"elapsed"`
}

// Dur prints as a Go duration in JSON.
type Dur time.Duration

// MarshalText writes the duration.
func (d Dur) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

type entDay struct {
	ent ueba.Entity
	day int
}

type dayStats struct {
	peak      float64
	anomalies int
	dets      int
	sources   map[string]bool
	tactics   int
}

// Evaluate simulates cfg and runs the detectors and the risk ledger over
// it, then measures recall, precision, incident rate, time to detect and
// the calibration of the incident likelihood.
func Evaluate(cfg Config, opt EvalOptions) (Report, error) {
	began := time.Now()
	s := New(cfg)
	cfg = s.cfg
	dc := opt.Detectors
	if !opt.NoGeo {
		dc.Geo = s.Geo()
	}
	if !opt.NoPeers {
		dc.PeerOf = s.PeerOf
	}
	en := ueba.NewEngine(dc)
	risk := ueba.NewRisk(opt.Risk)
	ident := ueba.IdentityRules{Admins: s.Admins()}
	rep := Report{Seed: cfg.Seed, Users: cfg.Users, Entities: s.Entities(), Days: cfg.Days, EvalDays: cfg.Days - cfg.LearnDays}

	// truth: entity-days that belong to a scenario (its days and the day
	// after, when the risk it caused is still there).
	truth := map[entDay]int{}
	for i, sc := range s.scenarios {
		for _, e := range sc.Entities {
			for d := dayOf(cfg, sc.Start); d <= dayOf(cfg, sc.End)+1; d++ {
				truth[entDay{e, d}] = i
			}
		}
	}
	results := make([]ScenarioResult, len(s.scenarios))
	for i, sc := range s.scenarios {
		results[i].Scenario = sc
	}
	stats := map[entDay]*dayStats{}
	incidentDays := map[entDay]bool{}
	modifier := func(e ueba.Entity) float64 {
		if e.Kind == ueba.KindUser {
			w, _ := ident.Weight(e.Value)
			return w
		}
		return 1
	}
	record := func(sig ueba.Signal, now time.Time) {
		sig.Modifier = modifier(sig.Entity)
		al := risk.Add(cfg.Tenant, sig, now)
		k := entDay{sig.Entity, dayOf(cfg, now)}
		st := stats[k]
		if st == nil {
			st = &dayStats{sources: map[string]bool{}}
			stats[k] = st
		}
		if sig.Kind == ueba.SignalAnomaly {
			st.anomalies++
		} else {
			st.dets++
		}
		st.sources[sig.Source] = true
		if r, ok := risk.Get(cfg.Tenant, sig.Entity, now); ok {
			st.peak = max(st.peak, r.Score)
			st.tactics = max(st.tactics, len(r.Tactics))
		}
		if al == nil {
			return
		}
		rep.Incidents++
		incidentDays[k] = true
		if i, ok := truth[k]; ok {
			if !results[i].Detected && !now.Before(results[i].Start) {
				results[i].Detected = true
				results[i].TTD = now.Sub(results[i].Start)
			}
		} else if k.day >= cfg.LearnDays {
			rep.FalseIncidents++
		}
	}
	var out []ueba.Anomaly
	endScore := map[entDay]float64{}
	byDet := map[ueba.Detector]*DetectorResult{}
	for _, d := range ueba.Detectors {
		byDet[d] = &DetectorResult{Detector: d.String(), Shadow: slices.Contains(opt.Shadow, d)}
	}
	err := s.Run(func(t0 time.Time, evs []*event.Event, dets []Detection) error {
		rep.Events += len(evs)
		// Detections and events of one hour interleave by time.
		di := 0
		flushDets := func(until time.Time) {
			for ; di < len(dets) && !dets[di].Time.After(until); di++ {
				for _, sig := range ueba.DetectionSignals(dets[di].DetectionSignal) {
					record(sig, dets[di].Time)
				}
			}
		}
		if opt.NoDetections {
			dets = nil
		}
		slices.SortStableFunc(dets, func(a, b Detection) int { return a.Time.Compare(b.Time) })
		const chunk = 512
		for i := 0; i < len(evs); i += chunk {
			batch := evs[i:min(i+chunk, len(evs))]
			flushDets(batch[0].Time)
			out = en.Process(batch, out[:0])
			for j := range out {
				a := &out[j]
				rep.Anomalies++
				dr := byDet[a.Detector]
				dr.Anomalies++
				on := false
				for k, sc := range s.scenarios {
					if touches(sc, a.Entity) && !a.Time.Before(sc.Start) && a.Time.Before(sc.End.Add(24*time.Hour)) {
						results[k].Anomalies = appendUnique(results[k].Anomalies, a.Detector.String())
						on = true
					}
				}
				if on {
					dr.OnScenario++
				}
				if dr.Shadow {
					continue
				}
				sig := ueba.AnomalySignal(a)
				if sig.Entity.Kind == ueba.KindIP {
					if host := s.HostOf(sig.Entity.Value); host != "" {
						sig.Entity = ueba.Entity{Kind: ueba.KindHost, Value: host}
					}
				}
				record(sig, a.Time)
			}
		}
		flushDets(time.Unix(1<<40, 0))
		if t0.Hour() == 23 {
			end := t0.Add(time.Hour)
			for _, r := range risk.Top(cfg.Tenant, end, 0) {
				endScore[entDay{r.Entity, dayOf(cfg, t0)}] = r.Score
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}

	// Recall and time to detect.
	byKind := map[string]*KindResult{}
	var ttds []time.Duration
	found, lsFound, lsN, anom := 0, 0, 0, 0
	for _, r := range results {
		if len(r.Anomalies) > 0 {
			anom++
		}
		kr := byKind[r.Kind]
		if kr == nil {
			kr = &KindResult{Kind: r.Kind}
			byKind[r.Kind] = kr
		}
		kr.Injected++
		if r.Kind == LowAndSlow {
			lsN++
		}
		if r.Detected {
			kr.Detected++
			found++
			ttds = append(ttds, r.TTD)
			if r.Kind == LowAndSlow {
				lsFound++
			}
		}
	}
	for _, k := range Kinds {
		if kr := byKind[k]; kr != nil {
			kr.Recall = ratio(kr.Detected, kr.Injected)
			rep.ByKind = append(rep.ByKind, *kr)
		}
	}
	rep.Recall = ratio(found, len(results))
	rep.AnomalyRecall = ratio(anom, len(results))
	rep.RecallLowAndSlow = ratio(lsFound, lsN)
	slices.Sort(ttds)
	rep.MedianTTD, rep.P90TTD = Dur(quantile(ttds, 0.5)), Dur(quantile(ttds, 0.9))

	// Entity-day precision over post-learning days.
	tp, all := 0, 0
	for k := range incidentDays {
		if k.day < cfg.LearnDays {
			continue
		}
		all++
		if _, ok := truth[k]; ok {
			tp++
		}
	}
	rep.EntityDayPrecision = ratio(tp, all)
	// Precision@10 of entity-days by peak risk.
	type ranked struct {
		k    entDay
		peak float64
	}
	var rs []ranked
	for k, st := range stats {
		if k.day >= cfg.LearnDays && st.peak > 0 {
			rs = append(rs, ranked{k, st.peak})
		}
	}
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].peak != rs[j].peak {
			return rs[i].peak > rs[j].peak
		}
		return rs[i].k.ent.String() < rs[j].k.ent.String() || rs[i].k.ent == rs[j].k.ent && rs[i].k.day < rs[j].k.day
	})
	hits := 0
	for i := 0; i < min(10, len(rs)); i++ {
		if _, ok := truth[rs[i].k]; ok {
			hits++
		}
	}
	rep.PrecisionAt10 = ratio(hits, min(10, len(rs)))
	rep.IncidentsPer1000 = float64(rep.FalseIncidents) / float64(max(rep.EvalDays, 1)) / (float64(rep.Entities) / 1000)

	rep.Calibration, rep.CalibrationRisky, rep.LikelihoodPos = likelihood(cfg, s, stats, endScore)
	rep.Scenarios = results
	for _, d := range ueba.Detectors {
		rep.Detectors = append(rep.Detectors, *byDet[d])
	}
	rep.Elapsed = Dur(time.Since(began))
	return rep, nil
}

// likelihood fits the 7-day incident likelihood per entity-day on half
// the entities and measures it on the other half (and the reverse).
func likelihood(cfg Config, s *Sim, stats map[entDay]*dayStats, endScore map[entDay]float64) (all, risky calibrate.Report, positives int) {
	// Label: the entity is part of a scenario that is under way on this
	// day or starts within the next 7 days.
	active := map[entDay]bool{}
	for _, sc := range s.scenarios {
		for _, e := range sc.Entities {
			for d := dayOf(cfg, sc.Start) - 7; d <= dayOf(cfg, sc.End); d++ {
				active[entDay{e, d}] = true
			}
		}
	}
	names := []string{"peak_risk", "end_of_day_risk", "anomalies", "detections", "sources", "tactics"}
	type row struct {
		x     []float64
		y     bool
		fold  int
		risky bool
	}
	var rows []row
	for _, ent := range s.universe() {
		fold := 0
		if hashf(cfg.Seed, uint64(fnv(ent.String()))) < 0.5 {
			fold = 1
		}
		for day := cfg.LearnDays; day < cfg.Days; day++ {
			k := entDay{ent, day}
			st := stats[k]
			if st == nil {
				st = &dayStats{}
			}
			end := endScore[k]
			y := active[k]
			if y {
				positives++
			}
			rows = append(rows, row{x: []float64{math.Log1p(st.peak), math.Log1p(end), float64(st.anomalies), float64(st.dets), float64(len(st.sources)), float64(st.tactics)},
				y: y, fold: fold, risky: st.peak > 0 || end > 0})
		}
	}
	var probs, rprobs []float64
	var labels, rlabels []bool
	for fold := range 2 {
		var train []calibrate.Sample
		for _, r := range rows {
			if r.fold != fold {
				train = append(train, calibrate.Sample{X: r.x, Label: r.y})
			}
		}
		lr, iso, err := fitCalibrated(names, train)
		if err != nil {
			continue
		}
		for _, r := range rows {
			if r.fold == fold {
				p := iso.Apply(lr.Predict(r.x))
				probs, labels = append(probs, p), append(labels, r.y)
				if r.risky {
					rprobs, rlabels = append(rprobs, p), append(rlabels, r.y)
				}
			}
		}
	}
	return calibrate.Evaluate(probs, labels, 10), calibrate.Evaluate(rprobs, rlabels, 10), positives
}

// fitCalibrated fits the regression on train and an isotonic map on
// out-of-fold scores of train (each half scored by a regression fitted on
// the other), so the map never sees a score of its own example.
func fitCalibrated(names []string, train []calibrate.Sample) (*calibrate.Logistic, *calibrate.Isotonic, error) {
	lr, err := calibrate.FitLogistic(names, train, 1, 3)
	if err != nil {
		return nil, nil, err
	}
	scores := make([]float64, len(train))
	labels := make([]bool, len(train))
	for k := range 2 {
		var part []calibrate.Sample
		for i, s := range train {
			if i%2 != k {
				part = append(part, s)
			}
		}
		sub, err := calibrate.FitLogistic(names, part, 1, 3)
		if err != nil {
			sub = lr
		}
		for i, s := range train {
			if i%2 == k {
				scores[i], labels[i] = sub.Predict(s.X), s.Label
			}
		}
	}
	iso := calibrate.FitIsotonic(scores, labels)
	return lr, iso, nil
}

func fnv(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func touches(sc Scenario, e ueba.Entity) bool {
	for _, x := range sc.Entities {
		if x == e {
			return true
		}
		if e.Kind == ueba.KindProcess && x.Kind == ueba.KindHost && strings.HasPrefix(e.Value, x.Value+"|") {
			return true
		}
	}
	return false
}

func appendUnique(xs []string, x string) []string {
	if slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

func dayOf(cfg Config, t time.Time) int { return int(t.Sub(cfg.Start) / (24 * time.Hour)) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(float64(a)/float64(b)*1000) / 1000
}

func quantile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

// Print writes the report as text.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "seed %d: %d users, %d entities, %d days (%d evaluated), %d events, %d anomalies, %d risk incidents (%d false), %s\n",
		r.Seed, r.Users, r.Entities, r.Days, r.EvalDays, r.Events, r.Anomalies, r.Incidents, r.FalseIncidents, time.Duration(r.Elapsed).Round(time.Millisecond))
	fmt.Fprintf(w, "scenario recall            %.3f   (target ≥ 0.9; a risk incident on a scenario entity)\n", r.Recall)
	fmt.Fprintf(w, "  low-and-slow recall      %.3f   (target ≥ 0.6)\n", r.RecallLowAndSlow)
	for _, k := range r.ByKind {
		fmt.Fprintf(w, "  %-24s %d/%d\n", k.Kind, k.Detected, k.Injected)
	}
	fmt.Fprintf(w, "  with any anomaly         %.3f\n", r.AnomalyRecall)
	fmt.Fprintf(w, "entity-day precision       %.3f\n", r.EntityDayPrecision)
	fmt.Fprintf(w, "precision@10               %.3f\n", r.PrecisionAt10)
	fmt.Fprintf(w, "risk incidents/day/1000    %.3f   (false incidents; target ≤ 1)\n", r.IncidentsPer1000)
	fmt.Fprintf(w, "time to detect             median %s, p90 %s   (target median ≤ 1h)\n", time.Duration(r.MedianTTD), time.Duration(r.P90TTD))
	fmt.Fprintf(w, "likelihood calibration     ECE %.4f, Brier %.4f over %d entity-days (%d positive)   (target ECE ≤ 0.05)\n",
		r.Calibration.ECE, r.Calibration.Brier, r.Calibration.N, r.LikelihoodPos)
	fmt.Fprintf(w, "  entity-days with risk    ECE %.4f, Brier %.4f over %d\n", r.CalibrationRisky.ECE, r.CalibrationRisky.Brier, r.CalibrationRisky.N)
	for _, d := range r.Detectors {
		mode := ""
		if d.Shadow {
			mode = " (shadow)"
		}
		fmt.Fprintf(w, "  %-24s %5d anomalies, %4d on scenario entities%s\n", d.Detector, d.Anomalies, d.OnScenario, mode)
	}
	for _, sc := range r.Scenarios {
		state := "missed"
		if sc.Detected {
			state = "caught after " + time.Duration(sc.TTD).String()
		}
		fmt.Fprintf(w, "  %-26s %-7s %s; anomalies: %s\n", sc.ID, sc.Start.Format("Jan 02 15h"), state, strings.Join(sc.Anomalies, ", "))
	}
}
