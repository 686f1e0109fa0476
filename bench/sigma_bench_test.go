package bench

// Sigma engines side by side: wacht's sigma package and
// github.com/bradleyjkemp/sigma-go v0.6.6, the same SigmaHQ rules and the
// same events (OTRF Windows JSON events and the EVTX sets of
// $WACHT_SHARED/datasets), on one core and on all cores; load time and
// memory after load measured in a fresh child process per engine.
//
//	go test -run '^$' -bench 'Sigma' -benchtime 1x .
//
// sigma-go has no logsource routing of its own (that needs a backend
// config), so it is given wacht's: one sigma-go bundle per rule logsource,
// and an event is evaluated by the bundles whose logsource covers it.
// sigma-go is about four orders of magnitude slower, so it runs over a
// fixed sample of the events (WACHT_BENCH_SIGMAGO_EVENTS, default 400,
// spread over the whole set); wacht runs over all of them. Both engines'
// match counts over the sample are reported side by side.
//
// sigma-go-unrouted is sigma-go as its bundle API is documented (all rules
// in one bundle, each event against every rule), over the first
// WACHT_BENCH_SIGMAGO_UNROUTED_EVENTS (40) events of the sample.
//
// Settings:
//
//	WACHT_BENCH_SIGMAGO_EVENTS           events sigma-go evaluates per run (400)
//	WACHT_BENCH_SIGMAGO_UNROUTED_EVENTS  events of the unrouted run (40)

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sigmago "github.com/bradleyjkemp/sigma-go"
	sigmagoeval "github.com/bradleyjkemp/sigma-go/evaluator"
	"github.com/valyala/fastjson"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	_ "github.com/wacht-soc/wacht/internal/parse/all" // the evtx parser
	"github.com/wacht-soc/wacht/sigma"
)

func sigmaRulesDir() string { return filepath.Join(sharedDir(), "sigma", "rules") }

// benchPlaceholders gives the expand placeholders of rules-placeholder
// values, as a deployment would (wacht rejects a rule whose placeholder
// has no value rather than guessing).
var benchPlaceholders = map[string][]string{
	"Administrators": {"adm_*", "*-admin"}, "Admins_Workstations": {"adminws*"}, "Approved_Inviters": {"admin@example.org"},
	"COMSPEC": {`C:\Windows\System32\cmd.exe`}, "DC-MACHINE-NAME": {"DC01$"},
	"Important_AppIds": {"00000003-0000-0000-c000-000000000000"}, "KNOWN_LOCATION": {"DE"}, "Known_Location": {"DE"},
	"Legitimate_Countries": {"DE"}, "Legitimate_IP_Ranges": {"10.*"}, "dc_ip_addresses": {"10.0.0.10"},
	"dc_machine_accounts": {"DC01$"}, "domain_controller_hostnames": {"dc01*"},
	"internal_domains": {"*.corp.example.org"}, "known_cdcs": {"cdc01*"}, "legit_ips": {"10.0.0.*"},
	"legtimate_identifiers": {"*@example.org"}, "ApprovedUserUpn": {"*@example.org"}, "DomainControllers": {"dc*"},
	"HomeTenantID": {"00000000-0000-0000-0000-000000000000"}, "ServerSystems": {"srv*"},
	"UnApprovedDevice": {"unapproved-*"}, "UnApprovedIp": {"203.0.113.*"}, "UnLegitCountries": {"XX"},
	"Workstations": {"ws*"}, "userdomain": {"EXAMPLE"},
}

// ---------------------------------------------------------------------------
// Events.

var (
	sigmaEvOnce sync.Once
	sigmaEvs    []*event.Event
	sigmaEvErr  error
	sigmaEvOTRF int
)

// sigmaEvents returns the OTRF Windows events (logsource and Sigma field
// names from SigmaHQ's thor.yml mapping, as the sigma package's tests do)
// followed by every record of the two EVTX sets (parsed by wacht's evtx
// parser, which sets the logsource).
func sigmaEvents(tb testing.TB) []*event.Event {
	tb.Helper()
	sigmaEvOnce.Do(func() {
		thor, err := os.ReadFile(filepath.Join(sharedDir(), "sigma", "tests-data", "thor.yml"))
		if err != nil {
			sigmaEvErr = err
			return
		}
		m, err := sigma.ParseLogSourceMap(thor)
		if err != nil {
			sigmaEvErr = err
			return
		}
		var p fastjson.Parser
		for _, line := range loadOTRF(tb, 0) {
			ev := &event.Event{}
			if _, err := ev.ParseJSONObject(&p, line); err != nil {
				continue
			}
			if m.Apply(ev) {
				sigmaEvs = append(sigmaEvs, ev)
			}
		}
		sigmaEvOTRF = len(sigmaEvs)
		for _, set := range []string{"evtx-attack-samples.tgz", "deepbluecli-evtx.tgz"} {
			if err := eachEVTX(filepath.Join(sharedDir(), "datasets", set), func(ev *event.Event) {
				sigmaEvs = append(sigmaEvs, ev)
			}); err != nil {
				sigmaEvErr = err
				return
			}
		}
	})
	if sigmaEvErr != nil {
		tb.Fatalf("load events: %v", sigmaEvErr)
	}
	return sigmaEvs
}

// eachEVTX parses every .evtx member of a tar.gz archive.
func eachEVTX(path string, fn func(*event.Event)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("gunzip %s: %w", path, err)
	}
	inst, err := parse.NewInstance("evtx")
	if err != nil {
		return err
	}
	mp, ok := inst.Parser.(parse.MultiParser)
	if !ok {
		return errors.New("evtx parser reads whole files")
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar %s: %w", path, err)
		}
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(strings.ToLower(h.Name), ".evtx") || strings.HasPrefix(filepath.Base(h.Name), "._") {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("read %s in %s: %w", h.Name, path, err)
		}
		// A damaged sample file is skipped with the records read so far.
		_ = mp.ParseAll(data, event.Event{Tenant: event.DefaultTenant}, func(ev *event.Event) error {
			c := *ev
			fn(&c)
			return nil
		})
	}
}

// sample picks n events spread evenly over evs.
func sample(evs []*event.Event, n int) []*event.Event {
	if n >= len(evs) {
		return evs
	}
	out := make([]*event.Event, 0, n)
	for i := range n {
		out = append(out, evs[i*len(evs)/n])
	}
	return out
}

// ---------------------------------------------------------------------------
// wacht.

func loadWacht() (*sigma.Engine, error) {
	coll, errs := sigma.LoadFS(os.DirFS(sigmaRulesDir()), ".")
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d rules failed to parse, first: %w", len(errs), errs[0])
	}
	// A rule that does not compile is in eng.Problems() (reported as
	// rules-failed); the others run.
	eng, _ := sigma.Compile(coll, sigma.Options{Placeholders: benchPlaceholders})
	return eng, nil
}

// ---------------------------------------------------------------------------
// sigma-go, with a bundle per rule logsource.

type sgEngine struct {
	rules   int
	failed  int
	bundles []sgBundle
	mu      sync.Mutex
	route   map[event.LogSource][]int
}

type sgBundle struct {
	ls     sigma.LogSource
	rules  []sigmago.Rule
	bundle sigmagoeval.RuleEvaluatorBundle
}

func covers(rule, ev string) bool {
	return rule == "" || rule == ev || rule == "registry_event" && strings.HasPrefix(ev, "registry_")
}

func loadSigmaGo() (*sgEngine, error) {
	byLS := map[sigma.LogSource][]sigmago.Rule{}
	var order []sigma.LogSource
	e := &sgEngine{route: map[event.LogSource][]int{}}
	err := filepath.WalkDir(sigmaRulesDir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r, err := sigmago.ParseRule(data)
		if err != nil {
			e.failed++
			return nil
		}
		ls := sigma.LogSource{Product: strings.ToLower(r.Logsource.Product), Category: strings.ToLower(r.Logsource.Category),
			Service: strings.ToLower(r.Logsource.Service)}
		if _, ok := byLS[ls]; !ok {
			order = append(order, ls)
		}
		byLS[ls] = append(byLS[ls], r)
		e.rules++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rules for sigma-go: %w", err)
	}
	expand := sigmagoeval.WithPlaceholderExpander(func(_ context.Context, name string) ([]string, error) {
		return benchPlaceholders[name], nil
	})
	for _, ls := range order {
		e.bundles = append(e.bundles, sgBundle{ls: ls, rules: byLS[ls], bundle: sigmagoeval.ForRules(byLS[ls], expand)})
	}
	return e, nil
}

// clone gives a goroutine its own bundles: a sigma-go bundle caches
// results in maps and is not safe for concurrent use.
func (e *sgEngine) clone() (*sgEngine, error) {
	return loadSigmaGo()
}

func (e *sgEngine) covering(ls event.LogSource) []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if idx, ok := e.route[ls]; ok {
		return idx
	}
	p, c, s := strings.ToLower(ls.Product), strings.ToLower(ls.Category), strings.ToLower(ls.Service)
	var idx []int
	for i, b := range e.bundles {
		if covers(b.ls.Product, p) && covers(b.ls.Category, c) && covers(b.ls.Service, s) {
			idx = append(idx, i)
		}
	}
	e.route[ls] = idx
	return idx
}

// sgEvent is an event as sigma-go reads it: a map of field values.
type sgEvent struct {
	ls     event.LogSource
	fields map[string]any
}

func toSigmaGo(evs []*event.Event) []sgEvent {
	out := make([]sgEvent, len(evs))
	for i, ev := range evs {
		m := make(map[string]any, len(ev.Fields))
		for _, f := range ev.Fields {
			if _, ok := m[f.Name]; !ok {
				m[f.Name] = f.Value.String()
			}
		}
		out[i] = sgEvent{ls: ev.LogSource, fields: m}
	}
	return out
}

func (e *sgEngine) match(ctx context.Context, ev sgEvent) int {
	n := 0
	for _, i := range e.covering(ev.ls) {
		res, _ := e.bundles[i].bundle.Matches(ctx, ev.fields)
		for _, r := range res {
			if r.Match {
				n++
			}
		}
	}
	return n
}

// ---------------------------------------------------------------------------
// Throughput.

// BenchmarkSigma evaluates all SigmaHQ rules over the same events with both
// engines, on one core and on every core (GOMAXPROCS).
func BenchmarkSigma(b *testing.B) {
	evs := sigmaEvents(b)
	cores := runtime.GOMAXPROCS(0)
	sgN := envInt("WACHT_BENCH_SIGMAGO_EVENTS", 400)
	sampled := sample(evs, sgN)
	b.Logf("%d events: %d OTRF Windows JSON, %d EVTX records; sigma-go sample %d; %d cores",
		len(evs), sigmaEvOTRF, len(evs)-sigmaEvOTRF, len(sampled), cores)

	eng, err := loadWacht()
	if err != nil {
		b.Fatal(err)
	}
	// A first pass builds the prefilter of every event logsource (done
	// once, on first use, in a running engine); the timed runs follow.
	warm := time.Now()
	for _, ev := range evs {
		eng.Match(ev, func(sigma.Match) {})
	}
	b.Logf("wacht first pass (builds the prefilters per logsource): %v", time.Since(warm).Round(time.Millisecond))
	// Matches over the sample, for the side-by-side count.
	wachtSample := 0
	for _, ev := range sampled {
		eng.Match(ev, func(sigma.Match) { wachtSample++ })
	}
	b.Run("wacht/1core", func(b *testing.B) {
		matches := 0
		fn := func(sigma.Match) { matches++ }
		b.ResetTimer()
		cpu0 := sigmaCPUTime()
		for range b.N {
			for _, ev := range evs {
				eng.Match(ev, fn)
			}
		}
		reportRate(b, b.N*len(evs), cpu0)
		b.ReportMetric(float64(matches/b.N), "matches")
		b.ReportMetric(float64(eng.RuleCount()), "rules")
		b.ReportMetric(float64(len(eng.Problems())), "rules-failed")
	})
	b.Run(fmt.Sprintf("wacht/%dcores", cores), func(b *testing.B) {
		b.ResetTimer()
		cpu0 := sigmaCPUTime()
		for range b.N {
			parallel(cores, len(evs), func(lo, hi int) {
				for _, ev := range evs[lo:hi] {
					eng.Match(ev, func(sigma.Match) {})
				}
			})
		}
		reportRate(b, b.N*len(evs), cpu0)
	})

	sg, err := loadSigmaGo()
	if err != nil {
		b.Fatal(err)
	}
	sgEvs := toSigmaGo(sampled)
	ctx := context.Background()
	b.Run("sigma-go/1core", func(b *testing.B) {
		matches := 0
		b.ResetTimer()
		cpu0 := sigmaCPUTime()
		for range b.N {
			for _, ev := range sgEvs {
				matches += sg.match(ctx, ev)
			}
		}
		reportRate(b, b.N*len(sgEvs), cpu0)
		b.ReportMetric(float64(matches/b.N), "matches")
		b.ReportMetric(float64(wachtSample), "wacht-matches")
		b.ReportMetric(float64(sg.rules), "rules")
		b.ReportMetric(float64(sg.failed), "rules-failed")
	})
	b.Run(fmt.Sprintf("sigma-go/%dcores", cores), func(b *testing.B) {
		engines := []*sgEngine{sg}
		for len(engines) < cores {
			c, err := sg.clone()
			if err != nil {
				b.Fatal(err)
			}
			engines = append(engines, c)
		}
		b.ResetTimer()
		cpu0 := sigmaCPUTime()
		for range b.N {
			var mu sync.Mutex
			next := 0
			parallel(cores, len(sgEvs), func(lo, hi int) {
				mu.Lock()
				e := engines[next]
				next++
				mu.Unlock()
				for _, ev := range sgEvs[lo:hi] {
					e.match(ctx, ev)
				}
			})
		}
		reportRate(b, b.N*len(sgEvs), cpu0)
	})
	// sigma-go as its bundle API is documented: every rule in one bundle,
	// every event evaluated against all of them (no logsource routing).
	b.Run("sigma-go-unrouted/1core", func(b *testing.B) {
		var all []sigmago.Rule
		for _, bd := range sg.bundles {
			all = append(all, bd.rules...)
		}
		bundle := sigmagoeval.ForRules(all, sigmagoeval.WithPlaceholderExpander(func(_ context.Context, name string) ([]string, error) {
			return benchPlaceholders[name], nil
		}))
		few := sgEvs[:min(len(sgEvs), envInt("WACHT_BENCH_SIGMAGO_UNROUTED_EVENTS", 40))]
		b.ResetTimer()
		cpu0 := sigmaCPUTime()
		for range b.N {
			for _, ev := range few {
				_, _ = bundle.Matches(ctx, ev.fields)
			}
		}
		reportRate(b, b.N*len(few), cpu0)
	})
}

// reportRate reports events per wall-clock second and per CPU second of
// the process: on a shared, loaded machine the second is what one core
// achieves (for the multi-core runs, events/s is the figure that counts).
func reportRate(b *testing.B, events int, cpu0 time.Duration) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if cpu := sigmaCPUTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
	}
}

// sigmaCPUTime is the process's user and system CPU time.
func sigmaCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parallel splits [0, n) into one range per worker.
func parallel(workers, n int, fn func(lo, hi int)) {
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// ---------------------------------------------------------------------------
// Load time and memory, each engine alone in a fresh process.

const sigmaChildEnv = "WACHT_BENCH_SIGMA_CHILD"

type loadReport struct {
	Engine    string  `json:"engine"`
	Rules     int     `json:"rules"`
	LoadMS    float64 `json:"load_ms"`
	LoadCPUMS float64 `json:"load_cpu_ms"`
	WarmMS    float64 `json:"warm_ms"`
	HeapInuse uint64  `json:"heap_inuse"`
	RSS       uint64  `json:"rss"`
}

// BenchmarkSigmaLoad reports, per engine, the time to read and compile all
// rules, the heap in use and the resident set of a process that holds
// them (measured in a child process that loaded nothing else).
func BenchmarkSigmaLoad(b *testing.B) {
	for _, name := range []string{"wacht", "sigma-go"} {
		b.Run(name, func(b *testing.B) {
			var rep loadReport
			for range b.N {
				cmd := exec.Command(os.Args[0], "-test.run=^TestSigmaLoadChild$", "-test.v")
				cmd.Env = append(os.Environ(), sigmaChildEnv+"="+name)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("child %s: %v\n%s", name, err, out)
				}
				i := bytes.Index(out, []byte("REPORT "))
				if i < 0 {
					b.Fatalf("child %s printed no report:\n%s", name, out)
				}
				line, _, _ := bytes.Cut(out[i+len("REPORT "):], []byte("\n"))
				if err := json.Unmarshal(line, &rep); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(rep.LoadMS, "load-ms")
			b.ReportMetric(rep.LoadCPUMS, "load-cpu-ms")
			if rep.WarmMS > 0 {
				b.ReportMetric(rep.WarmMS, "warm-ms")
			}
			b.ReportMetric(float64(rep.HeapInuse)/(1<<20), "heap-MB")
			b.ReportMetric(float64(rep.RSS)/(1<<20), "rss-MB")
			b.ReportMetric(float64(rep.Rules), "rules")
		})
	}
}

// TestSigmaLoadChild is the child of BenchmarkSigmaLoad (skipped otherwise).
func TestSigmaLoadChild(t *testing.T) {
	name := os.Getenv(sigmaChildEnv)
	if name == "" {
		t.Skip("child of BenchmarkSigmaLoad")
	}
	rep := loadReport{Engine: name}
	start, cpu0 := time.Now(), sigmaCPUTime()
	var keep any
	switch name {
	case "wacht":
		eng, err := loadWacht()
		if err != nil {
			t.Fatal(err)
		}
		rep.LoadMS = float64(time.Since(start).Microseconds()) / 1000
		rep.LoadCPUMS = float64((sigmaCPUTime() - cpu0).Microseconds()) / 1000
		rep.Rules = eng.RuleCount()
		// Prefilters are built per event logsource on first use: build
		// them for every Windows logsource of the events, and count that
		// as warm-up.
		warm := time.Now()
		for _, ls := range windowsLogSources() {
			eng.Match(&event.Event{LogSource: ls}, func(sigma.Match) {})
		}
		rep.WarmMS = float64(time.Since(warm).Microseconds()) / 1000
		keep = eng
	case "sigma-go":
		sg, err := loadSigmaGo()
		if err != nil {
			t.Fatal(err)
		}
		rep.LoadMS = float64(time.Since(start).Microseconds()) / 1000
		rep.LoadCPUMS = float64((sigmaCPUTime() - cpu0).Microseconds()) / 1000
		rep.Rules = sg.rules
		keep = sg
	default:
		t.Fatalf("unknown engine %q", name)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.HeapInuse = ms.HeapInuse
	rep.RSS = residentBytes()
	runtime.KeepAlive(keep)
	b, _ := json.Marshal(rep)
	fmt.Printf("REPORT %s\n", b)
}

// windowsLogSources are the logsources the thor.yml mapping gives Windows
// events, plus the EVTX parser's.
func windowsLogSources() []event.LogSource {
	var out []event.LogSource
	for _, c := range []string{"process_creation", "network_connection", "image_load", "file_event", "registry_set",
		"registry_add", "registry_delete", "registry_rename", "create_remote_thread", "process_access", "dns_query",
		"pipe_created", "wmi_event", "driver_load", "file_delete", "create_stream_hash", "raw_access_thread",
		"ps_script", "ps_module", "ps_classic_start", "process_termination", "file_change", "sysmon_status"} {
		out = append(out, event.LogSource{Product: "windows", Category: c})
	}
	for _, s := range []string{"security", "system", "application", "powershell", "sysmon", "windefend", "taskscheduler", "wmi"} {
		out = append(out, event.LogSource{Product: "windows", Service: s})
	}
	return out
}

// residentBytes is the process's resident set size (VmRSS), 0 when unknown.
func residentBytes() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb uint64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}
