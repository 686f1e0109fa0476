package detect_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/demo"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/parse"
	_ "github.com/wacht-soc/wacht/internal/parse/all"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// Starter rule ids (see starter/*.yml).
const (
	ruleSpray        = "752d2f5b-9fdd-4f45-bd31-cc1a66667a5d"
	ruleLoginAfter   = "2530a1ec-7824-4bcf-a14c-5b29c156cc8b"
	ruleWebShell     = "a3ad313e-8693-484e-835d-d3930a938a91"
	ruleWebScan      = "f95f9f0f-4a5a-480e-a599-5d8d3eb7bd23"
	ruleOfficeShell  = "6c3a73c3-285f-45a8-a469-a557134a5d63"
	ruleEncodedPS    = "178f513e-147b-4a46-a4c3-fa82b314c59e"
	ruleCradle       = "5c4aaff8-47e7-4cc8-8437-554c634d19b8"
	ruleDiscovery    = "d0902ddf-7fcd-4ce2-bf59-b70c74d06fa2"
	ruleDiscoveryRun = "71ae4d1a-6bc5-4910-91a7-43a4b17235ab"
	ruleLSASS        = "3a7eb3e6-4fde-44a0-8b3f-2d3ddc49df66"
)

// demoEvents parses the demo scenario the way the listeners do: sshd
// through the syslog parser, HEC access-log objects through the JSON
// parser with host/source/sourcetype set from the envelope, Winlogbeat
// documents through the winlog parser.
func demoEvents(t *testing.T, tenant string, now time.Time) []*event.Event {
	t.Helper()
	sc := demo.Generate(now, 7)
	var out []*event.Event
	rec := func(parser string, raw []byte) *event.Event {
		inst, err := parse.NewInstance(parser)
		if err != nil {
			t.Fatal(err)
		}
		ev := &event.Event{Tenant: tenant, IngestTime: now}
		if err := inst.Record(raw, ev); err != nil {
			t.Fatalf("%s: %v: %s", parser, err, raw)
		}
		return ev
	}
	for _, line := range sc.Syslog {
		out = append(out, rec("syslog", []byte(line)))
	}
	for _, env := range sc.Web {
		raw, _ := json.Marshal(env["event"])
		ev := rec("json", raw)
		ev.Time = time.UnixMilli(int64(env["time"].(float64) * 1000)).UTC()
		for _, k := range []string{"host", "source", "sourcetype"} {
			ev.Set(k, event.String(env[k].(string)))
		}
		out = append(out, ev)
	}
	for _, doc := range sc.Windows {
		raw, _ := json.Marshal(doc)
		out = append(out, rec("winlog", raw))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

func newService(t *testing.T, opts detect.Options) *detect.Service {
	t.Helper()
	if opts.Load.Paths == nil {
		opts.Load.Starter = true
	}
	svc, err := detect.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func byRule(ds []detect.Detection) map[string][]detect.Detection {
	out := map[string][]detect.Detection{}
	for _, d := range ds {
		out[d.RuleID] = append(out[d.RuleID], d)
	}
	return out
}

// TestStarterPackOverDemo runs the starter pack over the demo story and
// checks that every step of the intrusion is detected with its entities,
// and that the background noise is not.
func TestStarterPackOverDemo(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	b := bus.New(func() time.Time { return now })
	sub := b.Subscribe(detect.TopicMatched, 1000)
	defer sub.Close()
	svc := newService(t, detect.Options{Bus: b, Now: func() time.Time { return now }})
	if rs := svc.Ruleset(); len(rs.Problems) > 0 {
		t.Fatalf("starter pack has problems: %+v", rs.Problems)
	}
	evs := demoEvents(t, "acme", now)
	ds := svc.Process(context.Background(), evs[:len(evs)/2])
	ds = append(ds, svc.Process(context.Background(), evs[len(evs)/2:])...)
	ds = append(ds, svc.Flush(context.Background(), time.Time{})...)
	got := byRule(ds)

	want := map[string]int{ruleSpray: 3, ruleLoginAfter: 1, ruleWebShell: 4, ruleWebScan: 1, ruleOfficeShell: 1,
		ruleEncodedPS: 1, ruleCradle: 1, ruleDiscovery: 3, ruleDiscoveryRun: 1, ruleLSASS: 1}
	for id, n := range want {
		if len(got[id]) != n {
			t.Errorf("rule %s fired %d times, want %d", id, len(got[id]), n)
		}
	}
	for id, list := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("rule %s (%s) fired %d times, want never", id, list[0].Title, len(list))
		}
	}
	check := func(id, entity, value string) {
		t.Helper()
		for _, d := range got[id] {
			if d.Entities[entity] != value {
				t.Errorf("rule %s: %s = %q, want %q (entities %v)", id, entity, d.Entities[entity], value, d.Entities)
			}
		}
	}
	check(ruleSpray, "source.ip", demo.AttackerIP)
	check(ruleLoginAfter, "source.ip", demo.AttackerIP)
	check(ruleLoginAfter, "user.name", "deploy")
	check(ruleWebShell, "source.ip", demo.AttackerIP)
	check(ruleWebShell, "host.name", demo.WebHost)
	check(ruleLSASS, "host.name", demo.Workstation)
	check(ruleLSASS, "user.name", demo.User)
	check(ruleDiscoveryRun, "host.name", demo.Workstation)

	lsass := got[ruleLSASS][0]
	if lsass.Level != detect.LevelCritical || lsass.Author == "" || lsass.Tenant != "acme" ||
		len(lsass.Events) != 1 || !strings.Contains(lsass.Events[0].GetString("CommandLine"), "MiniDump") ||
		!containsStr(lsass.Attack, "t1003.001") || lsass.Source != detect.StarterSource {
		t.Errorf("lsass detection = %+v", lsass)
	}
	// A correlation carries its group and the events that built it.
	la := got[ruleLoginAfter][0]
	if la.Correlation == nil || la.Correlation.Type != "temporal_ordered" || len(la.Events) < 2 {
		t.Errorf("login-after-failures detection = %+v", la)
	}
	// Every detection went onto the bus, typed.
	n := 0
	for len(sub.C()) > 0 {
		e := <-sub.C()
		if _, ok := e.Data.(detect.Detection); !ok || e.Tenant != "acme" {
			t.Fatalf("bus event %+v", e)
		}
		n++
	}
	if n != len(ds) {
		t.Errorf("%d bus events, %d detections", n, len(ds))
	}
	// Rule health shows the matches per tenant, and nothing for another.
	st, err := svc.Rule("acme", ruleLSASS)
	if err != nil || st.Matches != 1 || st.State != detect.StateLoaded || st.Evaluated == 0 {
		t.Errorf("status = %+v, %v", st, err)
	}
	if st, _ := svc.Rule("other", ruleLSASS); st.Matches != 0 {
		t.Errorf("another tenant sees %d matches", st.Matches)
	}
	// The same match twice has the same dedup key; detections copy events.
	again := svc.Process(context.Background(), []*event.Event{lsass.Events[0]})
	if len(again) != 1 || again[0].DedupKey != lsass.DedupKey || again[0].Events[0] == lsass.Events[0] {
		t.Errorf("repeat = %+v", again)
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestCorrelationPerTenant: the same attacker address in two tenants is two
// groups; neither reaches the spray threshold alone.
func TestCorrelationPerTenant(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	svc := newService(t, detect.Options{Now: func() time.Time { return now }})
	var evs []*event.Event
	for i := 0; i < 12; i++ {
		ev := &event.Event{Tenant: []string{"a", "b"}[i%2], Time: now.Add(time.Duration(i) * time.Second),
			LogSource: event.LogSource{Product: "linux", Service: "sshd"}}
		ev.Add("event.action", event.String("ssh_login"))
		ev.Add("event.outcome", event.String("failure"))
		ev.Add("source.ip", event.String("198.51.100.9"))
		evs = append(evs, ev)
	}
	if ds := svc.Process(context.Background(), evs); len(ds) != 0 {
		t.Fatalf("6 failures per tenant fired %+v", ds)
	}
	for i := 12; i < 20; i++ {
		ev := &event.Event{Tenant: "a", Time: now.Add(time.Duration(i) * time.Second),
			LogSource: event.LogSource{Product: "linux", Service: "sshd"}}
		ev.Add("event.action", event.String("ssh_login"))
		ev.Add("event.outcome", event.String("failure"))
		ev.Add("source.ip", event.String("198.51.100.9"))
		evs = append(evs[:0], ev)
		for _, d := range svc.Process(context.Background(), evs) {
			if d.RuleID != ruleSpray || d.Tenant != "a" || i != 15 {
				t.Errorf("event %d fired %s in %s", i, d.RuleID, d.Tenant)
			}
		}
	}
}

// TestSuppression silences a rule for one host until it expires, on both
// state backends, and keeps tenants apart.
func TestSuppression(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		svc := newService(t, detect.Options{DB: db, Now: clock})
		lsass := func(tenant, host string) []*event.Event {
			ev := &event.Event{Tenant: tenant, Time: now, LogSource: event.LogSource{Product: "windows", Category: "process_creation", Service: "sysmon"}}
			ev.Add("Image", event.String(`C:\Windows\System32\rundll32.exe`))
			ev.Add("CommandLine", event.String(`rundll32.exe C:\windows\System32\comsvcs.dll, MiniDump 600 C:\t\l.dmp full`))
			ev.Add("host.name", event.String(host))
			return []*event.Event{ev}
		}
		_, err := svc.AddSuppression(ctx, "a", "alice", detect.NewSuppression{RuleID: ruleLSASS, Field: "host.name", Value: "ws-1", For: "2h", Reason: "red team exercise"})
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []detect.NewSuppression{
			{RuleID: ruleLSASS, Field: "host.name", Value: "x", Reason: "no expiry"},
			{RuleID: "nope", For: "1h", Reason: "unknown rule"},
			{RuleID: ruleLSASS, Field: "host.name", For: "1h", Reason: "field without value"},
			{RuleID: ruleLSASS, For: "1h"},
		} {
			var ue *detect.UserError
			if _, err := svc.AddSuppression(ctx, "a", "alice", bad); !asUserError(err, &ue) {
				t.Errorf("AddSuppression(%+v) = %v, want a user error", bad, err)
			}
		}
		if ds := svc.Process(ctx, lsass("a", "WS-1")); len(ds) != 0 {
			t.Errorf("suppressed host fired: %+v", ds)
		}
		if ds := svc.Process(ctx, lsass("a", "WS-2")); len(ds) != 1 {
			t.Errorf("other host: %d detections", len(ds))
		}
		if ds := svc.Process(ctx, lsass("b", "WS-1")); len(ds) != 1 {
			t.Errorf("other tenant: %d detections", len(ds))
		}
		list, err := svc.Suppressions(ctx, "a")
		if err != nil || len(list) != 1 || list[0].Hits != 1 {
			t.Fatalf("list = %+v, %v", list, err)
		}
		if other, _ := svc.Suppressions(ctx, "b"); len(other) != 0 {
			t.Errorf("tenant b sees %d suppressions", len(other))
		}
		if err := svc.DeleteSuppression(ctx, "b", list[0].ID); err != detect.ErrNotFound {
			t.Errorf("delete from another tenant: %v", err)
		}
		if st, _ := svc.Rule("a", ruleLSASS); st.Suppressed != 1 || st.Matches != 1 {
			t.Errorf("status = %+v", st)
		}
		// Expired: it fires again.
		now = now.Add(2*time.Hour + time.Second)
		if ds := svc.Process(ctx, lsass("a", "WS-1")); len(ds) != 1 {
			t.Errorf("after expiry: %d detections", len(ds))
		}
		if err := svc.DeleteSuppression(ctx, "a", list[0].ID); err != nil {
			t.Errorf("delete: %v", err)
		}
		storetest.CheckTenantColumns(t, db)
	})
}

func asUserError(err error, ue **detect.UserError) bool {
	u, ok := err.(*detect.UserError)
	*ue = u
	return ok
}

// TestReload: a changed rule file is picked up; a bad rule is reported with
// its file and the others keep running.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rule := func(id, value string) string {
		return "title: t " + id + "\nid: " + id + "\nlogsource: {product: test}\ndetection:\n  sel:\n    Cmd: " + value + "\n  condition: sel\nlevel: high\n"
	}
	write("a.yml", rule("r-a", "alpha"))
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	svc := newService(t, detect.Options{Load: detect.LoadOptions{Paths: []string{dir}}, Now: func() time.Time { return now }})
	ev := func(cmd string) []*event.Event {
		e := &event.Event{Time: now, LogSource: event.LogSource{Product: "test"}}
		e.Add("Cmd", event.String(cmd))
		return []*event.Event{e}
	}
	if ds := svc.Process(context.Background(), ev("alpha")); len(ds) != 1 || ds[0].RuleID != "r-a" || ds[0].Source != dir {
		t.Fatalf("before reload: %+v", ds)
	}
	if res, err := svc.Reload(false); err != nil || res.Changed {
		t.Fatalf("reload without change: %+v %v", res, err)
	}
	write("b.yml", rule("r-b", "beta"))
	write("bad.yml", "title: broken\nlogsource: {product: test}\ndetection:\n  sel:\n    Cmd: x\n  condition: sel and nothing\n")
	res, err := svc.Reload(false)
	if err != nil || !res.Changed || res.OK != 2 || res.Invalid != 1 || len(res.Problems) != 1 ||
		!strings.HasSuffix(res.Problems[0].File, "bad.yml") {
		t.Fatalf("reload: %+v %v", res, err)
	}
	if ds := svc.Process(context.Background(), ev("beta")); len(ds) != 1 || ds[0].RuleID != "r-b" {
		t.Errorf("after reload: %+v", ds)
	}
	var bad detect.RuleStatus
	for _, st := range svc.Status("default") {
		if st.Title == "broken" {
			bad = st
		}
	}
	if bad.State != detect.StateInvalid || bad.Error == "" {
		t.Errorf("bad rule status = %+v", bad)
	}
	if _, err := detect.New(detect.Options{Load: detect.LoadOptions{Paths: []string{filepath.Join(dir, "missing")}}}); err == nil {
		t.Error("missing rule folder: no error")
	}
}

// TestRuleCases runs the rule tests under testdata and the sigma package's
// own cases through the same runner `wacht rules test` uses.
func TestRuleCases(t *testing.T) {
	for _, root := range []string{"testdata", filepath.Join("..", "..", "sigma", "testdata")} {
		dirs, err := detect.FindCases(root)
		if err != nil {
			t.Fatal(err)
		}
		if len(dirs) == 0 {
			t.Fatalf("no cases under %s", root)
		}
		for _, dir := range dirs {
			res, err := detect.RunCase(dir)
			if err != nil {
				t.Errorf("%s: %v", dir, err)
				continue
			}
			for _, f := range res.Failures {
				t.Errorf("%s: %s", dir, f)
			}
		}
	}
}

// TestRunCaseFails proves the runner reports a wrong expectation.
func TestRunCaseFails(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rule.yml"), []byte("title: x\nid: x\nlogsource: {product: test}\ndetection:\n  s:\n    A: b\n  condition: s\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "events.jsonl"), []byte(`{"A":"b"}`+"\n"+`{"A":"c"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "want.json"), []byte(`{"matches":{"x":[1]}}`), 0o644)
	res, err := detect.RunCase(dir)
	if err != nil || res.Passed() {
		t.Fatalf("RunCase = %+v, %v; want a failure", res, err)
	}
}
