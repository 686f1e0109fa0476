// Package sim is wacht's seeded behaviour simulator: an organisation of
// departments whose users and hosts follow daily and weekly rhythms, with
// benign change (travel, new hires, a software rollout, a log source going
// quiet, background detections), into which attack scenarios are
// injected: credential misuse, lateral fan-out, a rare process, a process
// rare among its peers, exfiltration, privilege change and low-and-slow.
// The same seed gives the same events. Evaluate runs the behaviour
// detectors and the risk ledger over it and measures what they find.
package sim

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/ueba"
)

// Config sizes a simulation. Zero fields take the defaults.
type Config struct {
	Seed uint64
	// Users (default 1000); each has a workstation. Departments (default
	// 8) each also run two servers.
	Users       int
	Departments int
	// Days simulated (default 28), from Start (default Monday 2026-01-05);
	// attacks start after LearnDays (default 10).
	Days      int
	Start     time.Time
	LearnDays int
	// Attacks per scenario kind (default 2; 0 with NoAttacks).
	Attacks   int
	NoAttacks bool
	Tenant    string
	// Traces are recorded attacks (LoadTraces): a rare-process scenario
	// then replays one of them on its victim instead of a synthetic
	// dropper.
	Traces []Trace `json:"-"`
}

func (c Config) withDefaults() Config {
	if c.Users == 0 {
		c.Users = 1000
	}
	if c.Departments == 0 {
		c.Departments = 8
	}
	if c.Days == 0 {
		c.Days = 28
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	}
	if c.LearnDays == 0 {
		c.LearnDays = 10
	}
	if c.Attacks == 0 {
		c.Attacks = 2
	}
	if c.NoAttacks {
		c.Attacks = 0
	}
	if c.Tenant == "" {
		c.Tenant = "sim"
	}
	return c
}

// Scenario kinds.
const (
	CredentialMisuse = "credential_misuse"
	LateralFanOut    = "lateral_fanout"
	RareProcess      = "rare_process"
	RareInPeers      = "rare_in_peers"
	Exfiltration     = "exfiltration"
	PrivilegeChange  = "privilege_change"
	LowAndSlow       = "low_and_slow"
)

// Kinds lists the scenario kinds.
var Kinds = []string{CredentialMisuse, LateralFanOut, RareProcess, RareInPeers, Exfiltration, PrivilegeChange, LowAndSlow}

// Scenario is one injected attack: its kind, the entities it touches and
// when it runs.
type Scenario struct {
	ID       string        `json:"id"`
	Kind     string        `json:"kind"`
	Entities []ueba.Entity `json:"entities"`
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
}

// Detection is a Sigma detection the simulated SOC raised (attack steps
// and background noise alike).
type Detection struct {
	ueba.DetectionSignal
	Tenant string `json:"tenant"`
}

type department struct {
	name      string
	startHour int
	hours     int
	images    []string // software only this department runs
	servers   []string
	serverIPs []string
}

type user struct {
	name, host, ip string
	dept           int
	country        string
	homeIP         string
	// offset shifts the user's working day by -1…+1 hour.
	offset   int
	vpn      float64 // share of days worked from home
	joinDay  int     // new hires start later
	admin    bool
	weekend  float64
	activity int // logons per working hour
}

// Sim is one seeded simulation.
type Sim struct {
	cfg       Config
	rng       *rand.Rand
	depts     []department
	users     []user
	common    []string
	scenarios []Scenario
	// plan holds the scheduled events of benign change and attacks.
	plan map[int][]func(h hourCtx)
	// travel maps user index → (first day, last day, country).
	travel map[int]trip
	geo    *Geo
	byIP   map[string]int
}

type trip struct {
	from, to int
	ip       string
}

// deptNames are the departments' names (then dept-N).
var deptNames = []string{"finance", "engineering", "sales", "hr", "it", "legal", "support", "marketing"}

// New lays out the organisation and schedules benign change and attacks.
func New(cfg Config) *Sim {
	cfg = cfg.withDefaults()
	s := &Sim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)), plan: map[int][]func(hourCtx){}, travel: map[int]trip{}, geo: newGeo()}
	for i := range 20 {
		s.common = append(s.common, fmt.Sprintf(`c:\windows\system32\svc%02d.exe`, i))
	}
	s.common = append(s.common, `c:\program files\office\winword.exe`, `c:\program files\office\excel.exe`, `c:\program files\browser\browser.exe`)
	for d := range cfg.Departments {
		name := fmt.Sprintf("dept-%d", d)
		if d < len(deptNames) {
			name = deptNames[d]
		}
		dep := department{name: name, startHour: 7 + s.rng.IntN(3), hours: 8 + s.rng.IntN(3)}
		for i := range 6 {
			dep.images = append(dep.images, fmt.Sprintf(`c:\program files\%s\%s-tool%d.exe`, name, name, i))
		}
		for i := range 2 {
			dep.servers = append(dep.servers, fmt.Sprintf("srv-%s-%d", name, i))
			dep.serverIPs = append(dep.serverIPs, fmt.Sprintf("10.%d.0.%d", 100+d, 10+i))
		}
		s.depts = append(s.depts, dep)
	}
	countries := []string{"DE", "DE", "DE", "FR", "GB", "NL"}
	for i := range cfg.Users {
		d := i % cfg.Departments
		u := user{name: fmt.Sprintf("u%05d", i), host: fmt.Sprintf("ws-%05d", i), ip: fmt.Sprintf("10.%d.%d.%d", d, i/250, i%250+1),
			dept: d, offset: s.rng.IntN(3) - 1, weekend: 0.02 * s.rng.Float64(), activity: 2 + s.rng.IntN(4)}
		u.country = countries[s.rng.IntN(len(countries))]
		u.homeIP = s.geo.addr(u.country, s.rng)
		if s.rng.Float64() < 0.3 {
			u.vpn = 0.2 + 0.3*s.rng.Float64()
		}
		if deptNames[d%len(deptNames)] == "it" && s.rng.Float64() < 0.3 {
			u.admin = true
		}
		// 2% are hired during the simulation.
		if s.rng.Float64() < 0.02 {
			u.joinDay = cfg.LearnDays + s.rng.IntN(max(cfg.Days-cfg.LearnDays, 1))
		}
		s.users = append(s.users, u)
	}
	s.byIP = map[string]int{}
	for i, u := range s.users {
		s.byIP[u.ip] = i
	}
	s.planBenign()
	s.planAttacks()
	return s
}

// Scenarios are the injected attacks.
func (s *Sim) Scenarios() []Scenario { return s.scenarios }

// Config is the effective configuration.
func (s *Sim) Config() Config { return s.cfg }

// Geo is the simulation's GeoIP: the public address ranges it uses, by
// country and network operator.
func (s *Sim) Geo() ueba.Geo { return s.geo }

// PeerOf names a host's department (its peer group); servers and unknown
// hosts have none.
func (s *Sim) PeerOf(_ string, host string) string {
	if strings.HasPrefix(host, "ws-") {
		var i int
		if _, err := fmt.Sscanf(host, "ws-%d", &i); err == nil && i >= 0 && i < len(s.users) {
			return s.depts[s.users[i].dept].name
		}
	}
	return ""
}

// HostOf names the workstation an internal address belongs to (what an
// asset inventory knows).
func (s *Sim) HostOf(ip string) string {
	if i, ok := s.byIP[ip]; ok {
		return s.users[i].host
	}
	return ""
}

// Admins are the users with administrative rights.
func (s *Sim) Admins() []string {
	var out []string
	for _, u := range s.users {
		if u.admin {
			out = append(out, u.name)
		}
	}
	return out
}

// Entities counts the users, hosts and addresses of the organisation.
func (s *Sim) Entities() int { return len(s.universe()) }

// universe lists the users, hosts and internal addresses.
func (s *Sim) universe() []ueba.Entity {
	out := make([]ueba.Entity, 0, 3*len(s.users)+4*len(s.depts))
	for _, u := range s.users {
		out = append(out, ueba.Entity{Kind: ueba.KindUser, Value: u.name}, ueba.Entity{Kind: ueba.KindHost, Value: u.host}, ueba.Entity{Kind: ueba.KindIP, Value: u.ip})
	}
	for _, d := range s.depts {
		for i, srv := range d.servers {
			out = append(out, ueba.Entity{Kind: ueba.KindHost, Value: srv}, ueba.Entity{Kind: ueba.KindIP, Value: d.serverIPs[i]})
		}
	}
	return out
}

// hourCtx is what a scheduled action may add to an hour.
type hourCtx struct {
	s    *Sim
	t0   time.Time
	evs  *[]*event.Event
	dets *[]Detection
}

func (h hourCtx) at(min int) time.Time { return h.t0.Add(time.Duration(min) * time.Minute) }

var (
	lsAuth  = event.LogSource{Product: "windows", Service: "security", Category: "authentication"}
	lsProc  = event.LogSource{Product: "windows", Category: "process_creation"}
	lsNet   = event.LogSource{Product: "zeek", Category: "network_connection"}
	lsAudit = event.LogSource{Product: "linux", Service: "auditd"}
	lsVPN   = event.LogSource{Product: "vpn", Category: "authentication"}
)

func (s *Sim) ev(t time.Time, ls event.LogSource, kv ...string) *event.Event {
	e := &event.Event{Time: t, Tenant: s.cfg.Tenant, LogSource: ls, Fields: make([]event.Field, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Fields = append(e.Fields, event.Field{Name: kv[i], Value: event.String(kv[i+1])})
	}
	return e
}

func (h hourCtx) add(e *event.Event) { *h.evs = append(*h.evs, e) }

func (h hourCtx) detect(t time.Time, rule, title string, level int, attack []string, ents map[string]string) {
	*h.dets = append(*h.dets, Detection{Tenant: h.s.cfg.Tenant, DetectionSignal: ueba.DetectionSignal{
		RuleID: rule, Title: title, Level: level, Attack: attack, Entities: ents, Time: t}})
}

// Run produces the simulation hour by hour, in time order: fn receives
// each hour's events (sorted by time) and detections.
func (s *Sim) Run(fn func(hour time.Time, events []*event.Event, dets []Detection) error) error {
	var evs []*event.Event
	var dets []Detection
	for hour := 0; hour < s.cfg.Days*24; hour++ {
		t0 := s.cfg.Start.Add(time.Duration(hour) * time.Hour)
		evs, dets = evs[:0], dets[:0]
		h := hourCtx{s: s, t0: t0, evs: &evs, dets: &dets}
		s.benignHour(h, hour)
		for _, f := range s.plan[hour] {
			f(h)
		}
		slices.SortStableFunc(evs, func(a, b *event.Event) int { return a.Time.Compare(b.Time) })
		if err := fn(t0, evs, dets); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sim) working(u *user, day int, t0 time.Time) bool {
	if day < u.joinDay {
		return false
	}
	hod := t0.Hour()
	dep := s.depts[u.dept]
	start := dep.startHour + u.offset
	if hod < start || hod >= start+dep.hours {
		return false
	}
	wd := t0.Weekday()
	if wd == time.Saturday || wd == time.Sunday {
		// A few work some weekend days.
		return hashf(s.cfg.Seed, uint64(day), uint64(len(u.name)+u.dept*7919), uint64(hostIndex(u.host))) < u.weekend*10
	}
	return true
}

// hashf is a deterministic uniform number in [0,1) of its inputs (choices
// that must not depend on the order of the rng's draws).
func hashf(xs ...uint64) float64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, x := range xs {
		h ^= x + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 31
	}
	return float64(h>>11) / (1 << 53)
}

func hostIndex(host string) int {
	var i int
	fmt.Sscanf(host, "ws-%d", &i)
	return i
}

// benignHour adds the organisation's normal activity of one hour.
func (s *Sim) benignHour(h hourCtx, hour int) {
	day := hour / 24
	rng := s.rng
	mins := func() int { return rng.IntN(60) }
	for i := range s.users {
		u := &s.users[i]
		if day < u.joinDay {
			continue
		}
		wsOn := s.working(u, day, h.t0)
		// Background services run on every workstation around the clock.
		for range 1 + rng.IntN(2) {
			h.add(s.ev(h.at(mins()), lsProc, "host.name", u.host, "process.executable", s.common[rng.IntN(10)]))
		}
		if !wsOn {
			continue
		}
		src := u.ip
		home := hashf(s.cfg.Seed, uint64(day), uint64(i), 7) < u.vpn
		if tr, ok := s.travel[i]; ok && day >= tr.from && day <= tr.to {
			src, home = tr.ip, true
		} else if home {
			src = u.homeIP
		}
		dep := &s.depts[u.dept]
		if home {
			h.add(s.ev(h.at(mins()), lsVPN, "user.name", u.name, "source.ip", src))
		}
		for range u.activity {
			target := u.host
			if rng.IntN(4) == 0 {
				target = dep.servers[rng.IntN(len(dep.servers))]
			}
			h.add(s.ev(h.at(mins()), lsAuth, "user.name", u.name, "host.name", target, "source.ip", src))
		}
		for range 2 + rng.IntN(4) {
			img := s.common[rng.IntN(len(s.common))]
			if rng.IntN(3) == 0 {
				img = dep.images[rng.IntN(len(dep.images))]
			}
			h.add(s.ev(h.at(mins()), lsProc, "host.name", u.host, "user.name", u.name, "process.executable", img))
		}
		for range 1 + rng.IntN(3) {
			dst := dep.serverIPs[rng.IntN(len(dep.serverIPs))]
			if rng.IntN(3) == 0 {
				dst = "10.200.0.1" // the mail server
			}
			h.add(s.ev(h.at(mins()), lsNet, "source.ip", u.ip, "destination.ip", dst, "host.name", u.host))
		}
	}
	// Servers log steadily.
	for d := range s.depts {
		for _, srv := range s.depts[d].servers {
			if s.quiet(srv, hour) {
				continue
			}
			for range 20 + rng.IntN(10) {
				h.add(s.ev(h.at(mins()), lsAudit, "host.name", srv))
			}
		}
	}
	// Background detections: low and medium rules that fire on benign
	// activity (a tenth of users a week), and now and then a high one.
	for i := range s.users {
		u := &s.users[i]
		if day < u.joinDay || h.t0.Hour() != 11 {
			continue
		}
		r := hashf(s.cfg.Seed, uint64(day), uint64(i), 99)
		switch {
		case r < 0.012:
			h.detect(h.at(30), "bg-low-"+fmt.Sprint(int(r*1000)%4), "Suspicious but common admin tool use", 2, []string{"attack.discovery"},
				map[string]string{"user.name": u.name, "host.name": u.host})
		case r < 0.016:
			h.detect(h.at(30), "bg-med-"+fmt.Sprint(int(r*10000)%3), "Unusual PowerShell command line", 3, []string{"attack.execution"},
				map[string]string{"user.name": u.name, "host.name": u.host})
		case r < 0.0165:
			h.detect(h.at(30), "bg-high-0", "Credential dumping tool name", 4, []string{"attack.credential_access"},
				map[string]string{"user.name": u.name, "host.name": u.host})
		}
	}
}

// quiet reports whether a server's log source is silent (benign change:
// an agent stopped for a few hours).
func (s *Sim) quiet(srv string, hour int) bool {
	day := s.cfg.Days * 2 / 3
	return srv == s.depts[0].servers[0] && hour >= day*24+10 && hour < day*24+15
}

// planBenign schedules travel and a software rollout.
func (s *Sim) planBenign() {
	rng := s.rng
	foreign := []string{"US", "ES", "IT", "JP", "SG"}
	// About 1% of users travel each week, for two to four days.
	for week := 0; week*7 < s.cfg.Days; week++ {
		for range max(1, len(s.users)/100) {
			i := rng.IntN(len(s.users))
			from := week*7 + rng.IntN(5)
			if _, ok := s.travel[i]; ok {
				continue
			}
			s.travel[i] = trip{from: from, to: from + 1 + rng.IntN(3), ip: s.geo.addr(foreign[rng.IntN(len(foreign))], rng)}
		}
	}
	// A new agent rolls out to every workstation over two days.
	day := s.cfg.Days / 2
	img := `c:\program files\newagent\agent.exe`
	for i := range s.users {
		hour := day*24 + 9 + (i%48)/2
		if i%2 == 1 {
			hour += 24
		}
		host := s.users[i].host
		s.plan[hour] = append(s.plan[hour], func(h hourCtx) {
			h.add(h.s.ev(h.at(5), lsProc, "host.name", host, "process.executable", img))
		})
	}
}

func (s *Sim) addAttack(sc Scenario, steps map[int]func(h hourCtx)) {
	s.scenarios = append(s.scenarios, sc)
	for hour, f := range steps {
		s.plan[hour] = append(s.plan[hour], f)
	}
}

// planAttacks schedules Attacks scenarios of each kind, on distinct
// victims, after the learning days.
func (s *Sim) planAttacks() {
	rng := s.rng
	used := map[int]bool{}
	victim := func(pred func(u *user) bool) int {
		for range 10000 {
			i := rng.IntN(len(s.users))
			if !used[i] && s.users[i].joinDay == 0 && (pred == nil || pred(&s.users[i])) {
				if _, travels := s.travel[i]; travels {
					continue
				}
				used[i] = true
				return i
			}
		}
		return -1
	}
	span := max(s.cfg.Days-s.cfg.LearnDays-8, 1)
	peerUsed := map[int]bool{}
	n := 0
	for k := 0; k < s.cfg.Attacks; k++ {
		for _, kind := range Kinds {
			n++
			day := s.cfg.LearnDays + 1 + rng.IntN(span)
			hour := day*24 + rng.IntN(24)
			var i int
			if kind == RareInPeers {
				// Each in another department: a second case in the same
				// group is no longer rare there.
				i = victim(func(u *user) bool { return s.depts[u.dept].name != "it" && !peerUsed[u.dept] })
				if i >= 0 {
					peerUsed[s.users[i].dept] = true
				}
			} else {
				i = victim(nil)
			}
			if i < 0 {
				continue
			}
			s.attack(fmt.Sprintf("s%02d-%s", n, kind), kind, i, hour)
		}
	}
}

// attack schedules one scenario against user i starting at hour.
func (s *Sim) attack(id, kind string, i, hour int) {
	u := s.users[i]
	start := s.cfg.Start.Add(time.Duration(hour) * time.Hour)
	steps := map[int]func(h hourCtx){}
	user, host, ip := ueba.Entity{Kind: ueba.KindUser, Value: u.name}, ueba.Entity{Kind: ueba.KindHost, Value: u.host}, ueba.Entity{Kind: ueba.KindIP, Value: u.ip}
	sc := Scenario{ID: id, Kind: kind, Start: start, End: start.Add(2 * time.Hour)}
	ents := map[string]string{"user.name": u.name, "host.name": u.host}
	switch kind {
	case CredentialMisuse:
		// Stolen credentials used at night from abroad against servers.
		bad := s.geo.addr("RU", s.rng)
		sc.Entities = []ueba.Entity{user}
		steps[hour] = func(h hourCtx) {
			h.add(h.s.ev(h.at(1), lsVPN, "user.name", u.name, "source.ip", bad))
			for j, srv := range h.s.allServers() {
				h.add(h.s.ev(h.at(2+j%50), lsAuth, "user.name", u.name, "host.name", srv, "source.ip", bad))
			}
			h.detect(h.at(3), "logon-explicit-creds", "Logon with explicit credentials to many servers", 3, []string{"attack.lateral_movement", "attack.t1078"},
				map[string]string{"user.name": u.name})
		}
	case LateralFanOut:
		sc.Entities = []ueba.Entity{host, ip, user}
		steps[hour] = func(h hourCtx) {
			for j := range 150 {
				h.add(h.s.ev(h.at(j*20/60), lsNet, "source.ip", u.ip, "destination.ip", fmt.Sprintf("10.%d.%d.%d", j%8, j/8, j%200+1), "host.name", u.host))
			}
			h.detect(h.at(10), "smb-remote-service", "Remote service created over SMB", 4, []string{"attack.lateral_movement", "attack.execution"}, ents)
		}
	case RareProcess:
		sc.Entities = []ueba.Entity{host, user}
		if len(s.cfg.Traces) > 0 {
			tr := s.cfg.Traces[s.rng.IntN(len(s.cfg.Traces))]
			sc.ID += "-" + tr.Name
			steps[hour] = func(h hourCtx) {
				// The recording's offsets, squeezed into 50 minutes.
				span := tr.Steps[len(tr.Steps)-1].Offset
				for _, st := range tr.Steps {
					off := st.Offset
					if span > 50*time.Minute {
						off = time.Duration(float64(st.Offset) / float64(span) * float64(50*time.Minute))
					}
					e := h.s.ev(h.t0.Add(2*time.Minute+off), lsProc, "host.name", u.host, "user.name", u.name, "process.executable", st.Image)
					if st.Parent != "" {
						e.Fields = append(e.Fields, event.Field{Name: "process.parent.executable", Value: event.String(st.Parent)})
					}
					if st.CommandLine != "" {
						e.Fields = append(e.Fields, event.Field{Name: "process.command_line", Value: event.String(st.CommandLine)})
					}
					h.add(e)
				}
				h.detect(h.at(3), "recorded-"+tr.Name, "Recorded attack "+tr.Name, 3, []string{"attack.execution", "attack.defense_evasion"}, ents)
			}
			break
		}
		steps[hour] = func(h hourCtx) {
			h.add(h.s.ev(h.at(5), lsProc, "host.name", u.host, "user.name", u.name, "process.executable", `c:\users\public\`+id+`.exe`))
			h.detect(h.at(6), "exec-from-public", "Execution from a public user folder", 3, []string{"attack.execution", "attack.defense_evasion"}, ents)
		}
	case RareInPeers:
		// An IT tool (common in IT, unknown here) on another department's
		// workstation.
		var itTool string
		for _, d := range s.depts {
			if d.name == "it" {
				itTool = d.images[0]
			}
		}
		if itTool == "" {
			itTool = s.depts[(u.dept+1)%len(s.depts)].images[0]
		}
		sc.Entities = []ueba.Entity{host, user}
		steps[hour] = func(h hourCtx) {
			h.add(h.s.ev(h.at(5), lsProc, "host.name", u.host, "user.name", u.name, "process.executable", itTool))
			h.detect(h.at(6), "remote-admin-tool", "Remote administration tool started", 3, []string{"attack.execution", "attack.command_and_control"}, ents)
		}
	case Exfiltration:
		ext := s.geo.addr("RU", s.rng)
		sc.Entities = []ueba.Entity{host, ip, user}
		steps[hour] = func(h hourCtx) {
			for j := range 1500 {
				h.add(h.s.ev(h.at(j*60/1500), lsNet, "source.ip", u.ip, "destination.ip", ext, "host.name", u.host))
			}
			h.detect(h.at(30), "archive-staging", "Archive created in a temp folder before upload", 3, []string{"attack.collection", "attack.exfiltration"}, ents)
		}
	case PrivilegeChange:
		// Group enumeration, then the user is added to the administrators.
		sc.Entities = []ueba.Entity{user, host}
		steps[hour] = func(h hourCtx) {
			h.add(h.s.ev(h.at(2), lsProc, "host.name", u.host, "user.name", u.name, "process.executable", `c:\windows\system32\net.exe`))
			h.detect(h.at(2), "group-enumeration", "Privileged group membership enumerated", 2, []string{"attack.discovery"}, ents)
			h.detect(h.at(3), "user-added-to-admins", "User added to a privileged group", 4, []string{"attack.privilege_escalation", "attack.persistence"}, ents)
		}
	case LowAndSlow:
		// One quiet step a day for six days: discovery, a new tool, a new
		// logon source, a staging rule.
		sc.Entities = []ueba.Entity{user, host}
		sc.End = start.Add(6 * 24 * time.Hour)
		rules := []struct {
			id, title string
			level     int
			attack    string
		}{
			{"ls-discovery", "Domain trust discovery", 2, "attack.discovery"},
			{"ls-tool", "Renamed system binary", 2, "attack.defense_evasion"},
			{"ls-cred", "Access to browser credential store", 3, "attack.credential_access"},
			{"ls-persist", "Scheduled task created by a user", 2, "attack.persistence"},
			{"ls-stage", "Files copied to a staging folder", 2, "attack.collection"},
			{"ls-c2", "Periodic beacon to a new domain", 3, "attack.command_and_control"},
		}
		for d, r := range rules {
			r := r
			steps[hour+24*d] = func(h hourCtx) {
				h.add(h.s.ev(h.at(7), lsProc, "host.name", u.host, "user.name", u.name, "process.executable", fmt.Sprintf(`c:\programdata\%s\%s-step%d.exe`, id, id, d)))
				h.detect(h.at(8), r.id, r.title, r.level, []string{r.attack}, ents)
			}
		}
	}
	s.addAttack(sc, steps)
}

func (s *Sim) allServers() []string {
	var out []string
	for _, d := range s.depts {
		out = append(out, d.servers...)
	}
	return out
}

// Geo is the simulation's address plan: a /16 per country and operator.
type Geo struct {
	nets map[[2]byte]ueba.GeoInfo
	by   map[string][][2]byte
}

func newGeo() *Geo {
	g := &Geo{nets: map[[2]byte]ueba.GeoInfo{}, by: map[string][][2]byte{}}
	plan := []struct {
		cc   string
		asn  uint32
		org  string
		nets [][2]byte
	}{
		{"DE", 3320, "Deutsche Telekom", [][2]byte{{80, 128}, {80, 129}}},
		{"DE", 3209, "Vodafone DE", [][2]byte{{88, 64}}},
		{"FR", 3215, "Orange", [][2]byte{{90, 1}}},
		{"GB", 2856, "BT", [][2]byte{{81, 2}}},
		{"NL", 1136, "KPN", [][2]byte{{77, 160}}},
		{"US", 7922, "Comcast", [][2]byte{{73, 10}}},
		{"ES", 3352, "Telefonica", [][2]byte{{83, 32}}},
		{"IT", 3269, "Telecom Italia", [][2]byte{{79, 20}}},
		{"JP", 2516, "KDDI", [][2]byte{{106, 128}}},
		{"SG", 9506, "Singtel", [][2]byte{{116, 88}}},
		{"RU", 64500, "Bulletproof Hosting", [][2]byte{{185, 220}}},
	}
	for _, p := range plan {
		for _, n := range p.nets {
			g.nets[n] = ueba.GeoInfo{Country: p.cc, ASN: p.asn, Org: p.org}
			g.by[p.cc] = append(g.by[p.cc], n)
		}
	}
	return g
}

func (g *Geo) addr(cc string, rng *rand.Rand) string {
	ns := g.by[cc]
	n := ns[rng.IntN(len(ns))]
	return fmt.Sprintf("%d.%d.%d.%d", n[0], n[1], rng.IntN(256), 1+rng.IntN(254))
}

// Lookup implements ueba.Geo.
func (g *Geo) Lookup(ip netip.Addr) (ueba.GeoInfo, bool) {
	if !ip.Is4() {
		return ueba.GeoInfo{}, false
	}
	b := ip.As4()
	info, ok := g.nets[[2]byte{b[0], b[1]}]
	return info, ok
}
