package soar_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/soar"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// TestScheduleDurable: a cron trigger fires once per due time; a restart
// (a new service on the same database) neither repeats a fire nor loses
// one, fires missed while down are coalesced into one, and a changed
// cron starts over from the save.
func TestScheduleDurable(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.apply(t, "a", `name: every-quarter
on:
  schedule: { cron: "*/15 * * * *" }
inputs: { url: { type: string, default: "`+f.tg.URL+`" } }
steps:
  - { id: ping, uses: http.request, with: { method: POST, url: "${{ inputs.url }}/tick", json: { at: "${{ schedule.time }}" } } }
`)
		count := func() int {
			runs, err := f.svc.Runs(ctx, "a", soar.RunFilter{Playbook: "every-quarter"})
			if err != nil {
				t.Fatal(err)
			}
			return len(runs)
		}
		f.drain(t) // 10:00: next is 10:15
		if n := count(); n != 0 {
			t.Fatalf("%d runs before the first fire", n)
		}
		sch, err := f.svc.Schedules(ctx, "a")
		if err != nil || len(sch) != 1 || !sch[0].NextAt.Equal(time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC)) {
			t.Fatalf("schedules: %+v %v", sch, err)
		}
		f.clk.Add(15 * time.Minute)
		f.drain(t)
		f.drain(t)
		if n := count(); n != 1 {
			t.Fatalf("%d runs at 10:15, want 1", n)
		}
		if _, bodies, _ := f.tg.snapshot(); len(bodies) != 1 || bodies[0] != `{"at":"2026-03-02T10:15:00Z"}` {
			t.Fatalf("bodies: %v", bodies)
		}

		// A restarted node at 10:20 fires nothing; at 10:30 it fires once.
		f.clk.Add(5 * time.Minute)
		again := soar.New(db, soar.Options{Now: f.clk.Now, Node: "test", Deps: soar.Deps{HTTP: f.tg.Client(), AllowLoopback: true}})
		if _, err := again.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Fatalf("%d runs after restart at 10:20, want 1", n)
		}
		f.clk.Add(10 * time.Minute)
		if _, err := again.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.RunDue(ctx); err != nil { // the other node finds nothing left
			t.Fatal(err)
		}
		if n := count(); n != 2 {
			t.Fatalf("%d runs at 10:30, want 2", n)
		}

		// Down from 10:30 to 11:40: one catch-up run, next at 11:45.
		f.clk.Add(70 * time.Minute)
		if _, err := again.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 3 {
			t.Fatalf("%d runs after downtime, want 3 (missed fires coalesced)", n)
		}
		sch, _ = f.svc.Schedules(ctx, "a")
		if !sch[0].NextAt.Equal(time.Date(2026, 3, 2, 11, 45, 0, 0, time.UTC)) || !sch[0].LastAt.Equal(time.Date(2026, 3, 2, 10, 45, 0, 0, time.UTC)) {
			t.Fatalf("after catch-up: %+v", sch)
		}
		runs, _ := f.svc.Runs(ctx, "a", soar.RunFilter{Playbook: "every-quarter"})
		for _, r := range runs {
			if r.Status != soar.RunSucceeded || r.Trigger != soar.TriggerSchedule {
				t.Fatalf("run %+v", r)
			}
		}

		// A new version with another cron starts from its save.
		f.apply(t, "a", `name: every-quarter
on:
  schedule: { cron: "0 9 * * 1-5" }
steps:
  - { id: w, uses: wait, with: { duration: 1m } }
`)
		sch, _ = f.svc.Schedules(ctx, "a")
		if !sch[0].NextAt.Equal(time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)) {
			t.Fatalf("new cron: %+v", sch)
		}
		// Removing the trigger removes the schedule.
		f.apply(t, "a", `name: every-quarter
on: { manual: {} }
steps:
  - { id: w, uses: wait, with: { duration: 1m } }
`)
		if sch, _ = f.svc.Schedules(ctx, "a"); len(sch) != 0 {
			t.Fatalf("schedule kept: %+v", sch)
		}
	})
}

func TestParseCron(t *testing.T) {
	from := time.Date(2026, 3, 2, 10, 7, 0, 0, time.UTC) // a Monday
	for spec, want := range map[string]string{
		"*/15 * * * *":                         "2026-03-02T10:15:00Z",
		"0 8 * * 1-5":                          "2026-03-03T08:00:00Z",
		"@daily":                               "2026-03-03T00:00:00Z",
		"@every 1h":                            "2026-03-02T11:07:00Z",
		"CRON_TZ=Europe/Berlin 0 12 * * *":     "2026-03-02T11:00:00Z",
		"30 6 1 * *":                           "2026-04-01T06:30:00Z",
		"0 0 29 2 *":                           "2028-02-29T00:00:00Z",
		"CRON_TZ=America/New_York 0 9 * * MON": "2026-03-02T14:00:00Z",
	} {
		s, err := soar.ParseCron(spec)
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		if got := s.Next(from).UTC().Format(time.RFC3339); got != want {
			t.Errorf("%s: next %s, want %s", spec, got, want)
		}
	}
	for _, bad := range []string{"", "* * * *", "61 * * * *", "@every 5s", "0 0 30 2 *", "CRON_TZ=Mars/Base", "TZ=UTC", "* * * * * *", "@sometimes"} {
		if _, err := soar.ParseCron(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"*/15 * * * *", "CRON_TZ=Europe/Berlin 0 12 * * *", "@every 1h", "TZ=", "0-59/0 * * * *", "5-1 * * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := soar.ParseCron(spec)
		if err == nil {
			_ = s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		}
	})
}

// TestForEach: one call per item, each iteration recorded; a failed
// iteration is retried alone (the others keep their output and are not
// sent again), and concurrency bounds the calls in flight.
func TestForEach(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.tg.fail = 1 // the first request to /call answers 503
		f.apply(t, "a", `name: per-host
on: { manual: {} }
inputs: { url: { type: string }, hosts: { type: object } }
steps:
  - id: each
    uses: http.request
    for_each: inputs.hosts
    with: { method: POST, url: "${{ inputs.url }}/${{ item }}", json: { n: "${{ index }}" } }
    retry: { attempts: 2, delay: 30s }
  - id: after
    uses: http.request
    with: { method: POST, url: "${{ inputs.url }}/done", json: { ok: "${{ steps.each.output.succeeded }}" } }
`)
		run, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "per-host",
			Inputs: map[string]any{"url": f.tg.URL, "hosts": []any{"web1", "call", "web3"}}})
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		if s := stepOf(f.run(t, "a", run.ID), "each"); s.Status != soar.StepReady || s.Attempt != 2 || !strings.Contains(s.Error, "1 of 3 items failed; item 1") {
			t.Fatalf("after first attempt: %+v", s)
		}
		f.clk.Add(30 * time.Second)
		f.drain(t)
		r := f.run(t, "a", run.ID)
		if r.Status != soar.RunSucceeded {
			t.Fatalf("run: %+v", r)
		}
		keys, bodies, _ := f.tg.snapshot()
		want := map[string]int{run.ID + "/each[0]/1": 1, run.ID + "/each[1]/1": 1, run.ID + "/each[1]/2": 1, run.ID + "/each[2]/1": 1, run.ID + "/after/1": 1}
		if len(keys) != len(want) {
			t.Fatalf("keys %v, want %v", keys, want)
		}
		for k, n := range want {
			if keys[k] != n {
				t.Fatalf("key %s sent %d times; keys %v", k, keys[k], keys)
			}
		}
		if bodies[len(bodies)-1] != `{"ok":3}` {
			t.Fatalf("after: %v", bodies)
		}
		var out struct {
			Results []soar.ItemResult `json:"results"`
		}
		if err := json.Unmarshal(stepOf(r, "each").Output, &out); err != nil || len(out.Results) != 3 {
			t.Fatalf("output %s: %v", stepOf(r, "each").Output, err)
		}
		for i, res := range out.Results {
			if res.Status != soar.StepSucceeded || res.Index != i || len(res.Output) == 0 {
				t.Fatalf("result %d: %+v", i, res)
			}
		}
		if string(out.Results[1].Item) != `"call"` {
			t.Fatalf("item 1: %s", out.Results[1].Item)
		}

		// Concurrency 2: the target holds each request until two are in
		// flight, and records the most it ever saw at once.
		var mu sync.Mutex
		inflight, most := 0, 0
		both := make(chan struct{})
		var once sync.Once
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			inflight++
			most = max(most, inflight)
			if inflight == 2 {
				once.Do(func() { close(both) })
			}
			mu.Unlock()
			select {
			case <-both:
			case <-time.After(20 * time.Second):
			}
			mu.Lock()
			inflight--
			mu.Unlock()
		}))
		defer slow.Close()
		f.apply(t, "a", `name: pairs
on: { manual: {} }
inputs: { url: { type: string } }
steps:
  - { id: each, uses: http.request, for_each: "[1, 2, 3, 4, 5]", concurrency: 2, with: { method: POST, url: "${{ inputs.url }}/${{ item }}" } }
`)
		pr, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "pairs", Inputs: map[string]any{"url": slow.URL}})
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		if r := f.run(t, "a", pr.ID); r.Status != soar.RunSucceeded || most != 2 {
			t.Fatalf("pairs: most in flight %d, run %+v", most, r)
		}

		// A dry run shows each iteration's request without sending it.
		before, _, _ := f.tg.snapshot()
		dry, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "per-host", DryRun: true,
			Inputs: map[string]any{"url": f.tg.URL, "hosts": []any{"x", "y"}}})
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		after, _, _ := f.tg.snapshot()
		if r := f.run(t, "a", dry.ID); r.Status != soar.RunSucceeded || len(after) != len(before) ||
			!strings.Contains(string(stepOf(r, "each").Output), `"would":{"json":{"n":1},"method":"POST","url":"`+f.tg.URL+`/y"}`) {
			t.Fatalf("dry: %+v %s", r, stepOf(r, "each").Output)
		}
	})
}

// TestOnErrorHandler: a failing step's handler runs (and sees the error),
// steps needing the failed one are skipped, the run fails naming the
// handler; when nothing fails the handler is skipped.
func TestOnErrorHandler(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.tg.status = 400
		f.apply(t, "a", `name: guarded
on: { manual: {} }
inputs: { path: { type: string } }
steps:
  - { id: block, uses: http.request, with: { method: POST, url: "`+f.tg.URL+`/${{ inputs.path }}" }, on_error: tell }
  - { id: tell, uses: http.request, with: { method: POST, url: "`+f.tg.URL+`/tell", json: { why: "${{ steps.block.error }}" } } }
  - { id: note, uses: http.request, with: { method: POST, url: "`+f.tg.URL+`/note" } }
`)
		bad, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "guarded", Inputs: map[string]any{"path": "call"}})
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		r := f.run(t, "a", bad.ID)
		if r.Status != soar.RunFailed || !strings.Contains(r.Error, "handled by tell") || stepOf(r, "tell").Status != soar.StepSucceeded ||
			stepOf(r, "note").Status != soar.StepSkipped {
			t.Fatalf("failing run: %+v", r)
		}
		_, bodies, paths := f.tg.snapshot()
		if strings.Join(paths, ",") != "POST /call,POST /tell" || !strings.Contains(bodies[1], "400") {
			t.Fatalf("paths %v bodies %v", paths, bodies)
		}
		good, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "guarded", Inputs: map[string]any{"path": "fine"}})
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		r = f.run(t, "a", good.ID)
		if r.Status != soar.RunSucceeded || stepOf(r, "tell").Status != soar.StepSkipped || stepOf(r, "note").Status != soar.StepSucceeded {
			t.Fatalf("good run: %+v", r)
		}
		if _, err := soar.Parse([]byte(`name: x
on: { manual: {} }
steps:
  - { id: a, uses: wait, with: { duration: 1m }, on_error: nowhere }
`)); err == nil || !strings.Contains(err.Error(), `"nowhere" is not fail, continue or the id of a step`) {
			t.Fatalf("bad handler: %v", err)
		}
	})
}

// TestCancel: a cancelled run stops where it is; its waiting and pending
// steps never run, even when their timers fall due.
func TestCancel(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.apply(t, "a", `name: slowly
on: { manual: {} }
steps:
  - { id: pause, uses: wait, with: { duration: 10m } }
  - { id: call, uses: http.request, with: { method: POST, url: "`+f.tg.URL+`/x" } }
`)
		run, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "slowly", Actor: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		r, err := f.svc.Cancel(ctx, "a", run.ID, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != soar.RunCancelled || stepOf(r, "pause").Status != soar.StepCancelled || stepOf(r, "call").Status != soar.StepCancelled {
			t.Fatalf("cancelled: %+v", r)
		}
		if ev := f.events(soar.EventRunFinished); len(ev) != 1 || ev[0].Data.(soar.RunSummary).Status != soar.RunCancelled {
			t.Fatalf("events: %+v", ev)
		}
		f.clk.Add(time.Hour)
		f.drain(t)
		if _, _, paths := f.tg.snapshot(); len(paths) != 0 {
			t.Fatalf("cancelled run called %v", paths)
		}
		if _, err := f.svc.Cancel(ctx, "a", run.ID, "bob"); err == nil || !soar.IsUserError(err) {
			t.Fatalf("second cancel: %v", err)
		}
		if _, err := f.svc.Retry(ctx, "a", run.ID, "bob"); err == nil {
			t.Fatal("cancelled run retried")
		}
	})
}

// TestLinkAndIndicator: case.link and intel.add_indicator reach their
// domains with the run's incident and identity; their configuration is
// decoded strictly.
func TestLinkAndIndicator(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.apply(t, "a", `name: relate
on: { manual: {} }
steps:
  - { id: link, uses: case.link, with: { to: inc_2, reason: same actor } }
  - { id: ioc, uses: intel.add_indicator, with: { type: ip, value: 203.0.113.9, tlp: amber, valid_for: 720h } }
`)
		run, err := f.svc.RunFromIncident(ctx, "a", "inc_1", soar.StartRequest{Playbook: "relate", Actor: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		r := f.run(t, "a", run.ID)
		if r.Status != soar.RunSucceeded {
			t.Fatalf("%+v", r)
		}
		if c := f.cases.list(); len(c) != 1 || c[0] != "a/inc_1/playbook:relate: link inc_2 same actor" {
			t.Fatalf("cases: %v", c)
		}
		if out := string(stepOf(r, "ioc").Output); !strings.Contains(out, `"by":"playbook:relate"`) || !strings.Contains(out, `"valid_for":"720h0m0s"`) {
			t.Fatalf("indicator: %s", out)
		}
		for _, bad := range []string{
			`{ id: l, uses: case.link, with: { to: inc_2, why: x } }`,
			`{ id: i, uses: intel.add_indicator, with: { type: ip } }`,
			`{ id: i, uses: intel.add_indicator, with: { type: ip, value: 1.2.3.4, confidence: 101 } }`,
			`{ id: e, uses: exec, with: { command: isolate, shell: "rm -rf /" } }`,
		} {
			if _, err := soar.Parse([]byte("name: x\non: { manual: {} }\nsteps:\n  - " + bad + "\n")); err == nil {
				t.Errorf("accepted: %s", bad)
			}
		}
	})
}

// TestManualInputs: a manual run's inputs are checked against their
// declared types; defaults fill what is not given; errors name the input.
func TestManualInputs(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.apply(t, "a", `name: typed
on: { manual: {} }
inputs:
  host: { type: string, required: true }
  hours: { type: number, default: 4 }
  notify: { type: boolean }
  extra: { type: object }
steps:
  - { id: call, uses: http.request, with: { method: POST, url: "`+f.tg.URL+`/x", json: { host: "${{ inputs.host }}", hours: "${{ inputs.hours }}" } } }
`)
		for _, c := range []struct {
			in   map[string]any
			want string
		}{
			{map[string]any{}, `input "host" is required`},
			{map[string]any{"host": 7.0}, `input "host": want a string`},
			{map[string]any{"host": "pc1", "hours": "4"}, `input "hours": want a number`},
			{map[string]any{"host": "pc1", "notify": "yes"}, `input "notify": want a boolean`},
			{map[string]any{"host": "pc1", "color": "red"}, `input "color" is not declared by playbook typed`},
		} {
			_, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "typed", Inputs: c.in})
			if err == nil || !soar.IsUserError(err) || err.Error() != c.want {
				t.Errorf("%v: %v, want %q", c.in, err, c.want)
			}
		}
		run, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "typed", Inputs: map[string]any{"host": "pc1", "notify": true,
			"extra": map[string]any{"k": "v"}}})
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		if _, bodies, _ := f.tg.snapshot(); f.run(t, "a", run.ID).Status != soar.RunSucceeded || len(bodies) != 1 || bodies[0] != `{"host":"pc1","hours":4}` {
			t.Fatalf("bodies %v", bodies)
		}
		if runs, _ := f.svc.Runs(ctx, "a", soar.RunFilter{}); len(runs) != 1 {
			t.Fatalf("%d runs started, want 1 (refused inputs start none)", len(runs))
		}
	})
}
