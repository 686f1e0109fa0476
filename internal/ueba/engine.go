package ueba

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/ueba/sketch"
)

// Config tunes the detectors. Zero fields take the defaults.
type Config struct {
	// LearningPeriod: a tenant's detectors, and a new entity's own
	// baselines, report nothing until this much event time has passed
	// (default 72h).
	LearningPeriod time.Duration
	// DailyCap is how many anomalies one detector may report for one
	// entity per UTC day (default 3).
	DailyCap int
	// FirstSeenExpiry: a pair (host, process) or (user, source) unseen for
	// this long is new again (default 30 days).
	FirstSeenExpiry time.Duration
	// MaxEntities and MaxPairs bound the state per tenant (defaults
	// 100,000 and 400,000); the least recently seen are evicted first.
	MaxEntities int
	MaxPairs    int
	// RareHosts: a process seen on at most this many hosts is rare
	// (default 1) once the fleet has MinFleet hosts (default 10).
	RareHosts int
	MinFleet  int
	// SpikeZ is the robust z-score above which an hour's count is a
	// spike (default 6); SpikeP the Poisson tail probability for sparse
	// baselines (default 1e-6); MinSpike the smallest count that can be a
	// spike (default 20).
	SpikeZ   float64
	SpikeP   float64
	MinSpike float64
	// FanOutMin is the fewest distinct destinations in an hour that can be
	// a fan-out (default 20).
	FanOutMin float64
	// TimeOfWeekMin is how many events a user needs before their hours
	// are judged (default 200); TimeOfWeekP the smoothed share of an
	// hour-of-week below which activity is unusual (default 0.002).
	TimeOfWeekMin int
	TimeOfWeekP   float64
	// DropMin: a log source whose seasonal median is at least this many
	// events per hour is watched for drops (default 20).
	DropMin float64
	// Geo, when set, turns a user's new source address into a country and
	// an autonomous system for the new-country and new-ASN detectors.
	Geo Geo
	// PeerOf names a host's peer group (department, OU, role) from the
	// asset inventory; PeerFields are event fields that name it (the
	// first present wins). A host with neither has no peers.
	PeerOf     func(tenant, host string) string
	PeerFields []string
	// MinPeers is how many hosts a peer group needs before rarity within
	// it is judged (default 5).
	MinPeers int
	// HBOSThreshold is the histogram-based outlier score (a sum of
	// log(1/density) over the features) at which a user's or host's hour
	// is an outlier (default 12), HBOSMargin how far above the entity's
	// own usual score it must also be (default 6), and HBOSMinHours how
	// many entity-hours a kind's histograms need first (default 500).
	HBOSThreshold float64
	HBOSMargin    float64
	HBOSMinHours  int
}

func (c Config) withDefaults() Config {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	if c.LearningPeriod == 0 {
		c.LearningPeriod = 72 * time.Hour
	}
	if c.DailyCap == 0 {
		c.DailyCap = 3
	}
	if c.FirstSeenExpiry == 0 {
		c.FirstSeenExpiry = 30 * 24 * time.Hour
	}
	if c.MaxEntities == 0 {
		c.MaxEntities = 100000
	}
	if c.MaxPairs == 0 {
		c.MaxPairs = 400000
	}
	if c.RareHosts == 0 {
		c.RareHosts = 1
	}
	if c.MinFleet == 0 {
		c.MinFleet = 10
	}
	if c.TimeOfWeekMin == 0 {
		c.TimeOfWeekMin = 200
	}
	if c.MinPeers == 0 {
		c.MinPeers = 5
	}
	def(&c.SpikeZ, 6)
	def(&c.SpikeP, 1e-6)
	def(&c.MinSpike, 20)
	def(&c.FanOutMin, 20)
	def(&c.TimeOfWeekP, 0.002)
	def(&c.DropMin, 20)
	def(&c.HBOSThreshold, 12)
	def(&c.HBOSMargin, 6)
	if c.HBOSMinHours == 0 {
		c.HBOSMinHours = 500
	}
	return c
}

// pairKind says which first-seen relation a pair belongs to.
type pairKind uint8

const (
	pairHostProcess pairKind = iota + 1
	pairUserSource
	pairUserCountry
	pairUserASN
)

// PairKey is one first-seen relation (exported for the snapshot codec).
type PairKey struct {
	Kind pairKind
	A, B string
}

// CapKey counts one detector's anomalies for one entity today.
type CapKey struct {
	Detector Detector
	Entity   Entity
}

// EntityState is what is kept per entity: first and last hour seen, the
// hourly volume, and for users the time-of-week histogram, for sources of
// connections the fan-out.
type EntityState struct {
	First, Last int64
	Vol         Series
	// ToW counts events per hour of the week (UTC, Monday 00:00 first);
	// only users have one.
	ToW      *[weekHours]uint16
	ToWTotal uint32
	Fan      *FanOut
	// Out is the current hour of users and hosts for the outlier score.
	Out *HBOSHour
}

// FanOut counts distinct destinations per hour: the current hour's in a
// HyperLogLog sketch (exact-ish while small, never more than about a
// kilobyte), closed hours' counts in Hist.
type FanOut struct {
	Hist Series
	// HLL holds this hour's destinations (snapshotted with its
	// MarshalBinary); Inserts counts the destinations added this hour and
	// Check is the insert count at which the estimate is next worth
	// computing (the count grows by at most one per insert).
	HLL     *hyperloglog.Sketch
	Inserts uint32
	Check   uint32
}

// fanPrecision is the HyperLogLog precision of a fan-out sketch: 2^8
// registers, a 256-byte dense sketch (about 6.5 % standard error) that
// starts sparse (near exact for the small counts that are usual).
const fanPrecision = 8

func newFanSketch() *hyperloglog.Sketch {
	sk, err := hyperloglog.NewSketch(fanPrecision, true)
	if err != nil {
		// fanPrecision is within the library's bounds.
		panic(err)
	}
	return sk
}

// TenantState is one tenant's learned behaviour; it is what the snapshot
// stores.
type TenantState struct {
	Start    time.Time
	Entities map[Entity]*EntityState
	Pairs    map[PairKey]int64
	// Rare counts, per process image, the hosts it was first seen on.
	Rare    *sketch.CountMin
	Hosts   int
	Caps    map[CapKey]uint8
	CapDay  int64
	Dropped uint64 // anomalies held back by the daily cap
	// Peers maps a host to its peer group, PeerHosts counts the hosts of
	// each group, and RarePeer counts per (group, process image) the
	// group's hosts it was first seen on.
	Peers     map[string]string
	PeerHosts map[string]int
	RarePeer  *sketch.CountMin
	// HBOS holds the fleet histograms of users' and hosts' hours.
	HBOS [len(hbosKinds)]HBOSHist
}

func newTenantState() *TenantState {
	return &TenantState{Entities: map[Entity]*EntityState{}, Pairs: map[PairKey]int64{},
		Rare: sketch.NewCountMin(0.0005, 0.001), Caps: map[CapKey]uint8{},
		Peers: map[string]string{}, PeerHosts: map[string]int{}}
}

// fix fills what an older snapshot lacks.
func (ts *TenantState) fix() {
	if ts.Entities == nil {
		ts.Entities = map[Entity]*EntityState{}
	}
	if ts.Pairs == nil {
		ts.Pairs = map[PairKey]int64{}
	}
	if ts.Caps == nil {
		ts.Caps = map[CapKey]uint8{}
	}
	if ts.Peers == nil {
		ts.Peers = map[string]string{}
	}
	if ts.PeerHosts == nil {
		ts.PeerHosts = map[string]int{}
	}
	if ts.RarePeer != nil && ts.RarePeer.Validate() != nil {
		ts.RarePeer = nil
	}
}

// Engine runs the detectors over events. It is not safe for concurrent
// use; Service serialises access.
type Engine struct {
	cfg     Config
	tenants map[string]*TenantState
	buf     []float64
	closed  []closed
	// quiet learns without reporting (rebuilding state from stored events).
	quiet bool
}

// NewEngine returns an engine with empty state.
func NewEngine(cfg Config) *Engine {
	return &Engine{cfg: cfg.withDefaults(), tenants: map[string]*TenantState{}}
}

// Config is the engine's effective configuration.
func (en *Engine) Config() Config { return en.cfg }

func (en *Engine) tenant(t string) *TenantState {
	ts := en.tenants[t]
	if ts == nil {
		ts = newTenantState()
		en.tenants[t] = ts
	}
	return ts
}

// observation is one event's entities, read once.
type observation struct {
	t                          time.Time
	h                          int64
	user, host, ip, proc, dest string
	cloud, source, peer        string
	failed                     bool
	bytesOut                   float64
}

func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

func (en *Engine) read(e *event.Event) observation {
	o := observation{t: e.Time}
	if o.t.IsZero() {
		o.t = e.IngestTime
	}
	o.h = unixHour(o.t)
	var account string
	for i := range e.Fields {
		f := &e.Fields[i]
		switch f.Name {
		case "user.name":
			o.user = lower(f.Value.Str())
		case "host.name":
			o.host = lower(f.Value.Str())
		case "source.ip":
			o.ip = f.Value.Str()
		case "destination.ip":
			o.dest = f.Value.Str()
		case "process.executable":
			o.proc = lower(f.Value.Str())
		case "cloud.account.id", "cloud.project.id":
			account = f.Value.Str()
		case "event.outcome":
			o.failed = f.Value.Str() == "failure"
		case "source.bytes":
			if v, ok := f.Value.Float(); ok && v > 0 {
				o.bytesOut = v
			}
		default:
			for _, pf := range en.cfg.PeerFields {
				if f.Name == pf && o.peer == "" {
					o.peer = lower(f.Value.Str())
				}
			}
		}
	}
	if o.user == "-" || o.user == "" {
		o.user = ""
	}
	if o.ip == "-" {
		o.ip = ""
	}
	if account != "" && o.user != "" {
		o.cloud = account + "/" + o.user
	}
	ls := e.LogSource
	switch {
	case ls.Product != "" || ls.Service != "" || ls.Category != "":
		o.source = ls.Product + "/" + ls.Service + "/" + ls.Category
	case e.Format != "":
		o.source = e.Format
	}
	return o
}

// Process runs every detector over events (in order) and returns the
// anomalies found; modes are applied by the caller.
func (en *Engine) Process(events []*event.Event, out []Anomaly) []Anomaly {
	for _, e := range events {
		out = en.observe(e.Tenant, en.read(e), out)
	}
	for t, ts := range en.tenants {
		en.bound(t, ts)
	}
	return out
}

func (en *Engine) learningHours() int64 { return int64(en.cfg.LearningPeriod / time.Hour) }

func (en *Engine) observe(tenant string, o observation, out []Anomaly) []Anomaly {
	ts := en.tenant(tenant)
	if ts.Start.IsZero() || o.t.Before(ts.Start) {
		ts.Start = o.t
	}
	if day := o.h / 24; day != ts.CapDay {
		ts.CapDay = day
		clear(ts.Caps)
		// Hosts the inventory had no group for are asked again each day.
		for host, p := range ts.Peers {
			if p == "" {
				delete(ts.Peers, host)
			}
		}
	}
	learning := o.t.Sub(ts.Start) < en.cfg.LearningPeriod
	em := &emitter{en: en, ts: ts, tenant: tenant, t: o.t, out: out, learning: learning}

	if o.source != "" {
		en.volume(em, Entity{KindSource, o.source}, o.h, true)
	}
	var user, host *EntityState
	if o.user != "" {
		user = en.volume(em, Entity{KindUser, o.user}, o.h, false)
		en.timeOfWeek(em, user, Entity{KindUser, o.user}, o.t)
	}
	if o.host != "" {
		host = en.volume(em, Entity{KindHost, o.host}, o.h, false)
		if o.peer != "" && ts.Peers[o.host] != o.peer {
			ts.setPeer(o.host, o.peer)
		}
	}
	var ip *EntityState
	if o.ip != "" {
		ip = en.volume(em, Entity{KindIP, o.ip}, o.h, false)
	}
	if o.cloud != "" {
		en.volume(em, Entity{KindCloud, o.cloud}, o.h, false)
	}
	if user != nil {
		en.hbosAdd(em, 0, Entity{KindUser, o.user}, user, &o, o.host, o.ip)
	}
	if host != nil {
		en.hbosAdd(em, 1, Entity{KindHost, o.host}, host, &o, o.proc, o.user)
	}
	if host != nil && o.proc != "" {
		en.firstSeen(em, pairHostProcess, o.host, o.proc, host, o.h)
	}
	if user != nil && o.ip != "" {
		if en.firstSeen(em, pairUserSource, o.user, o.ip, user, o.h) && en.cfg.Geo != nil {
			en.geoSeen(em, o.user, o.ip, user, o.h)
		}
	}
	if ip != nil && o.dest != "" && o.dest != o.ip {
		en.fanOut(em, Entity{KindIP, o.ip}, ip, o.dest, o.h)
	}
	if user != nil && o.host != "" && o.ip != "" {
		// A user logging on to many hosts from the network.
		en.fanOut(em, Entity{KindUser, o.user}, user, o.host, o.h)
	}
	return em.out
}

func (en *Engine) entity(ts *TenantState, ent Entity, h int64) *EntityState {
	es := ts.Entities[ent]
	if es == nil {
		es = &EntityState{First: h, Last: h}
		ts.Entities[ent] = es
		if ent.Kind == KindHost {
			ts.Hosts++
		}
	}
	if h > es.Last {
		es.Last = h
	}
	return es
}

// mature reports whether the entity has its own learning period behind it.
func (en *Engine) mature(es *EntityState, h int64) bool { return h-es.First >= en.learningHours() }

// threshold computes the count above which hour h of s is a spike, and
// the baseline it came from.
func (en *Engine) threshold(s *Series, h int64, floor float64) (thr, med, mad float64, n int) {
	base := s.baseline(h, en.buf)
	en.buf = base
	if len(base) < 3 {
		return math.Inf(1), 0, 0, len(base)
	}
	med, mad = medianMAD(base)
	if med >= 10 {
		thr = med + en.cfg.SpikeZ*max(1.4826*mad, math.Sqrt(med), 1)
	} else {
		mean := 0.0
		for _, b := range base {
			mean += b
		}
		lambda := max(mean/float64(len(base)), 0.3)
		k := int(math.Ceil(lambda))
		for poissonUpper(k, lambda) >= en.cfg.SpikeP && k < 1000 {
			k++
		}
		thr = float64(k)
	}
	return max(thr, floor), med, mad, len(base)
}

// maxSpikeReports: a spike is reported at the threshold, at 4× and at
// 16× it within one hour.
const maxSpikeReports = 3

func (en *Engine) volume(em *emitter, ent Entity, h int64, source bool) *EntityState {
	es := en.entity(em.ts, ent, h)
	s := &es.Vol
	if h > s.Hour {
		en.closed = s.advance(h, en.closed[:0])
		if source {
			for _, c := range en.closed {
				en.checkDrop(em, ent, es, s, c)
			}
		}
	}
	s.Cur++
	// A spike is reported when the hour's count crosses the threshold,
	// and again (with its higher score) each time it grows fourfold, at
	// most three times an hour: an exfiltration caught at its twentieth
	// event is scored by its thousandth too.
	if s.Fired < maxSpikeReports && !em.learning && en.mature(es, h) && float64(s.Cur) >= en.cfg.MinSpike {
		if s.thrAt != s.Hour {
			s.thr, _, _, _ = en.threshold(s, s.Hour, en.cfg.MinSpike)
			s.thrAt = s.Hour
		}
		if float64(s.Cur) >= s.thr*math.Pow(4, float64(s.Fired)) {
			thr, med, mad, n := en.threshold(s, s.Hour, en.cfg.MinSpike)
			s.Fired++
			det := DetVolumeEntity
			if source {
				det = DetVolumeSource
			}
			obs := float64(s.Cur)
			var score float64
			parts := []Part{{"observed", obs}, {"median", med}, {"mad", mad}, {"threshold", thr}}
			if med >= 10 {
				z := robustZ(obs, med, mad)
				score = zScore(z)
				parts = append(parts, Part{"robust_z", z})
			} else {
				p := poissonUpper(int(obs), max(med, 0.3))
				score = pScore(p)
				parts = append(parts, Part{"poisson_tail", p})
			}
			em.emit(det, ent, score, fmt.Sprintf("%s %s sent %d events in the hour so far, far above its usual %.0f", ent.Kind, ent.Value, s.Cur, med),
				fmt.Sprintf("%d events this hour", s.Cur), fmt.Sprintf("median %.1f, MAD %.1f over the same hour of %d earlier periods", med, mad, n),
				"the entity's own history", parts)
		}
	}
	return es
}

// checkDrop looks at a closed hour of a log source for a drop.
func (en *Engine) checkDrop(em *emitter, ent Entity, es *EntityState, s *Series, c closed) {
	if em.learning || !en.mature(es, c.hour) {
		return
	}
	base := s.baseline(c.hour, en.buf)
	en.buf = base
	if len(base) < 3 {
		return
	}
	med, mad := medianMAD(base)
	// A drop needs the daily baseline and the same hour a week ago to be
	// busy: a source quiet at weekends is not a source that broke.
	week, ok := s.weekAgo(c.hour)
	if med < en.cfg.DropMin || !ok || week < en.cfg.DropMin {
		return
	}
	p := poissonLower(int(c.count), med)
	if p >= en.cfg.SpikeP || c.count > med/2 {
		return
	}
	em.emit(DetVolumeSource, ent, pScore(p),
		fmt.Sprintf("log source %s sent %.0f events in the hour from %s, far below its usual %.0f", ent.Value, c.count,
			time.Unix(c.hour*3600, 0).UTC().Format("2006-01-02 15:04"), med),
		fmt.Sprintf("%.0f events", c.count), fmt.Sprintf("median %.1f, MAD %.1f over the same hour of earlier days", med, mad),
		"the source's own history", []Part{{"observed", c.count}, {"median", med}, {"mad", mad}, {"poisson_lower_tail", p}})
}

func towBucket(t time.Time) int {
	wd := (int(t.Weekday()) + 6) % 7 // Monday first
	return wd*24 + t.Hour()
}

func (en *Engine) timeOfWeek(em *emitter, es *EntityState, ent Entity, t time.Time) {
	if es.ToW == nil {
		es.ToW = new([weekHours]uint16)
	}
	b := towBucket(t)
	// A week of the user's own history first: every hour of the week
	// must have had its chance.
	if !em.learning && int(es.ToWTotal) >= en.cfg.TimeOfWeekMin && unixHour(t)-es.First >= weekHours {
		sm := float64(es.ToW[(b+weekHours-1)%weekHours]) + float64(es.ToW[b]) + float64(es.ToW[(b+1)%weekHours])
		share := (sm + 0.1) / (float64(es.ToWTotal) + 0.1*weekHours)
		if share < en.cfg.TimeOfWeekP {
			peak, peakN := 0, uint16(0)
			for i, n := range es.ToW {
				if n > peakN {
					peak, peakN = i, n
				}
			}
			em.emit(DetTimeOfWeek, ent, min(100, 100*(1-share/en.cfg.TimeOfWeekP)+50)/1.5,
				fmt.Sprintf("user %s active on %s, an hour of the week they are almost never active", ent.Value, towName(b)),
				fmt.Sprintf("%s: %.0f of %d earlier events within ±1 hour", towName(b), sm, es.ToWTotal),
				fmt.Sprintf("busiest hour %s (%d events)", towName(peak), peakN), "the user's own history",
				[]Part{{"events_near_hour", sm}, {"events_total", float64(es.ToWTotal)}, {"smoothed_share", share}, {"threshold_share", en.cfg.TimeOfWeekP}})
		}
	}
	if es.ToW[b] == math.MaxUint16 || es.ToWTotal >= 1<<20 {
		es.ToWTotal = 0
		for i := range es.ToW {
			es.ToW[i] /= 2
			es.ToWTotal += uint32(es.ToW[i])
		}
	}
	es.ToW[b]++
	es.ToWTotal++
}

func towName(b int) string {
	days := [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	return fmt.Sprintf("%s %02d:00", days[b/24%7], b%24)
}

// firstSeen records the pair (a, b) at hour h and reports it when new; it
// returns true when the pair was new or seen in a new hour.
func (en *Engine) firstSeen(em *emitter, kind pairKind, a, b string, owner *EntityState, h int64) bool {
	ts := em.ts
	k := PairKey{kind, a, b}
	last, ok := ts.Pairs[k]
	expiry := int64(en.cfg.FirstSeenExpiry / time.Hour)
	if ok && h-last <= expiry {
		if h > last {
			ts.Pairs[k] = h
			return true
		}
		return false
	}
	ts.Pairs[k] = h
	var rareN, peerN uint32
	var peer string
	if kind == pairHostProcess && !ok {
		img := path.Base(strings.ReplaceAll(b, `\`, "/"))
		rareN = ts.Rare.Add(img, 1)
		if en.cfg.PeerOf != nil {
			if _, known := ts.Peers[a]; !known {
				ts.setPeer(a, lower(en.cfg.PeerOf(em.tenant, a)))
			}
		}
		if peer = ts.Peers[a]; peer != "" {
			if ts.RarePeer == nil {
				ts.RarePeer = sketch.NewCountMin(0.0005, 0.001)
			}
			peerN = ts.RarePeer.Add(peer+"\x00"+img, 1)
		}
	}
	if em.learning || !en.mature(owner, h) {
		return true
	}
	again := ""
	if ok {
		again = fmt.Sprintf(" (last seen %d days ago, beyond the %d-day memory)", (h-last)/24, expiry/24)
	}
	switch kind {
	case pairHostProcess:
		em.emit(DetNewProcess, Entity{KindProcess, a + "|" + b}, 60,
			fmt.Sprintf("process %s ran on host %s for the first time%s", b, a, again),
			b, fmt.Sprintf("processes seen on %s since %s", a, time.Unix(owner.First*3600, 0).UTC().Format("2006-01-02")),
			"the host's own history", []Part{{"first_seen", 1}, {"host_age_hours", float64(h - owner.First)}})
		if !ok && ts.Hosts >= en.cfg.MinFleet && int(rareN) <= en.cfg.RareHosts {
			img := path.Base(strings.ReplaceAll(b, `\`, "/"))
			em.emit(DetRareProcess, Entity{KindProcess, a + "|" + b}, 100*(1-float64(rareN)/float64(ts.Hosts)),
				fmt.Sprintf("process %s on host %s is seen on only %d of %d hosts", img, a, rareN, ts.Hosts),
				fmt.Sprintf("%d hosts", rareN), fmt.Sprintf("%d hosts in the fleet", ts.Hosts), "the fleet",
				[]Part{{"hosts_with_process", float64(rareN)}, {"fleet_hosts", float64(ts.Hosts)}})
		}
		if peer != "" && !ok && int(rareN) > en.cfg.RareHosts && int(peerN) <= en.cfg.RareHosts && ts.PeerHosts[peer] >= en.cfg.MinPeers {
			img := path.Base(strings.ReplaceAll(b, `\`, "/"))
			n := ts.PeerHosts[peer]
			em.emit(DetRarePeer, Entity{KindProcess, a + "|" + b}, 100*(1-float64(peerN)/float64(n)),
				fmt.Sprintf("process %s on host %s is seen on only %d of the %d hosts of peer group %s (on %d hosts fleet-wide)", img, a, peerN, n, peer, rareN),
				fmt.Sprintf("%d of %d peer hosts", peerN, n), fmt.Sprintf("%d hosts fleet-wide", rareN),
				fmt.Sprintf("peer group %s (%d hosts)", peer, n),
				[]Part{{"peer_hosts_with_process", float64(peerN)}, {"peer_hosts", float64(n)}, {"fleet_hosts_with_process", float64(rareN)}})
		}
	case pairUserSource:
		em.emit(DetNewLogonSource, Entity{KindUser, a}, 50,
			fmt.Sprintf("user %s seen from %s for the first time%s", a, b, again),
			b, fmt.Sprintf("sources seen for %s since %s", a, time.Unix(owner.First*3600, 0).UTC().Format("2006-01-02")),
			"the user's own history", []Part{{"first_seen", 1}, {"user_age_hours", float64(h - owner.First)}})
	}
	return true
}

func (en *Engine) fanOut(em *emitter, ent Entity, es *EntityState, dest string, h int64) {
	if es.Fan == nil {
		es.Fan = &FanOut{}
	}
	f := es.Fan
	if f.HLL == nil {
		f.HLL = newFanSketch()
	}
	if h > f.Hist.Hour {
		if f.Inserts > 0 && f.Hist.Hour != 0 {
			f.Hist.Cur = uint32(f.HLL.Estimate())
		}
		en.closed = f.Hist.advance(h, en.closed[:0])
		f.HLL.Reset()
		f.Inserts, f.Check = 0, 0
	}
	f.HLL.InsertHash(sketch.Hash64(dest))
	f.Inserts++
	if f.Hist.Fired != 0 || em.learning || !en.mature(es, h) || float64(f.Inserts) < en.cfg.FanOutMin || f.Inserts < f.Check {
		return
	}
	if f.Hist.thrAt != f.Hist.Hour {
		f.Hist.thr, _, _, _ = en.threshold(&f.Hist, f.Hist.Hour, en.cfg.FanOutMin)
		f.Hist.thrAt = f.Hist.Hour
	}
	f.Hist.Cur = uint32(f.HLL.Estimate())
	if float64(f.Hist.Cur) < f.Hist.thr {
		// The distinct count cannot reach the threshold in fewer inserts
		// than it is short of it: estimate again only then.
		f.Check = f.Inserts + uint32(max(1, math.Ceil(f.Hist.thr-float64(f.Hist.Cur))))
		return
	}
	thr, med, mad, n := en.threshold(&f.Hist, f.Hist.Hour, en.cfg.FanOutMin)
	f.Hist.Fired = 1
	obs := float64(f.Hist.Cur)
	em.emit(DetFanOut, ent, zScore(robustZ(obs, med, mad)),
		fmt.Sprintf("%s %s reached %d distinct destinations this hour, usually %.0f", ent.Kind, ent.Value, f.Hist.Cur, med),
		fmt.Sprintf("%d distinct destinations", f.Hist.Cur), fmt.Sprintf("median %.1f, MAD %.1f over %d earlier hours", med, mad, n),
		"the entity's own history", []Part{{"distinct_destinations", obs}, {"median", med}, {"mad", mad}, {"threshold", thr}})
}

// bound evicts the least recently seen entities and pairs when a tenant
// is over its limits, down to 80 % of them (ties on the last hour are
// broken arbitrarily, so a fleet seen in one hour still shrinks).
func (en *Engine) bound(_ string, ts *TenantState) {
	if len(ts.Entities) > en.cfg.MaxEntities {
		lasts := make([]int64, 0, len(ts.Entities))
		for _, es := range ts.Entities {
			lasts = append(lasts, es.Last)
		}
		slices.Sort(lasts)
		keep := en.cfg.MaxEntities * 8 / 10
		cut := lasts[len(lasts)-keep]
		drop := len(ts.Entities) - keep
		for pass := 0; pass < 2 && drop > 0; pass++ {
			for k, es := range ts.Entities {
				if drop == 0 {
					break
				}
				if es.Last < cut || (pass == 1 && es.Last == cut) {
					if k.Kind == KindHost {
						ts.Hosts--
						if p, ok := ts.Peers[k.Value]; ok {
							if p != "" {
								ts.PeerHosts[p]--
							}
							delete(ts.Peers, k.Value)
						}
					}
					delete(ts.Entities, k)
					drop--
				}
			}
		}
	}
	if len(ts.Pairs) > en.cfg.MaxPairs {
		lasts := make([]int64, 0, len(ts.Pairs))
		for _, h := range ts.Pairs {
			lasts = append(lasts, h)
		}
		slices.Sort(lasts)
		keep := en.cfg.MaxPairs * 8 / 10
		cut := lasts[len(lasts)-keep]
		drop := len(ts.Pairs) - keep
		for pass := 0; pass < 2 && drop > 0; pass++ {
			for k, h := range ts.Pairs {
				if drop == 0 {
					break
				}
				if h < cut || (pass == 1 && h == cut) {
					delete(ts.Pairs, k)
					drop--
				}
			}
		}
	}
}

// Flush closes the hours of every log source up to an hour before now, so
// a source that went silent is noticed without waiting for its next event.
func (en *Engine) Flush(now time.Time) []Anomaly {
	var out []Anomaly
	h := unixHour(now.Add(-time.Hour))
	for tenant, ts := range en.tenants {
		em := &emitter{en: en, ts: ts, tenant: tenant, t: now, learning: now.Sub(ts.Start) < en.cfg.LearningPeriod}
		en.flushHBOS(em, h)
		for ent, es := range ts.Entities {
			if ent.Kind != KindSource || es.Vol.Hour == 0 || es.Vol.Hour >= h {
				continue
			}
			en.closed = es.Vol.advance(h, en.closed[:0])
			for _, c := range en.closed {
				em.t = time.Unix((c.hour+1)*3600, 0).UTC()
				en.checkDrop(em, ent, es, &es.Vol, c)
			}
		}
		out = append(out, em.out...)
	}
	return out
}

// emitter applies the daily cap and builds anomalies.
type emitter struct {
	en       *Engine
	ts       *TenantState
	tenant   string
	t        time.Time
	learning bool
	out      []Anomaly
}

func (em *emitter) emit(det Detector, ent Entity, score float64, what, observed, baseline, peers string, parts []Part) {
	if em.en.quiet {
		return
	}
	k := CapKey{det, ent}
	if int(em.ts.Caps[k]) >= em.en.cfg.DailyCap {
		em.ts.Dropped++
		return
	}
	em.ts.Caps[k]++
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s\x00%d\x00%s", em.tenant, det, ent, em.t.UnixNano(), observed))
	em.out = append(em.out, Anomaly{
		ID: hex.EncodeToString(sum[:10]), Tenant: em.tenant, Detector: det, Entity: ent, Time: em.t.UTC(),
		Score: math.Round(score*10) / 10, What: what, Observed: observed, Baseline: baseline, Peers: peers, Parts: parts,
	})
}
