package soar_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/soar"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/all"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// issuePlaybook is the example of the issue, verbatim.
const issuePlaybook = `name: contain-ssh-bruteforce
on:
  alert.created:
    if: alert.level in ["high", "critical"] && "attack.t1110" in alert.tags   # CEL
steps:
  - id: enrich
    uses: intel.lookup
    with: { value: "${{ alert.entities.source_ip }}" }
  - id: approve
    uses: approval
    with: { role: incident-responder, timeout: 30m, message: "Block ${{ alert.entities.source_ip }}?" }
  - id: block
    needs: [enrich, approve]
    if: steps.approve.output.approved
    uses: http.request
    with: { method: POST, url: "${{ secrets.FIREWALL_URL }}/block", json: { ip: "${{ alert.entities.source_ip }}" } }
    retry: { attempts: 5, backoff: exponential, max_delay: 1m }
  - id: note
    uses: case.comment
    with: { text: "Blocked ${{ alert.entities.source_ip }}" }
`

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeCases records case actions.
type fakeCases struct {
	mu       sync.Mutex
	comments []string
}

func (f *fakeCases) Comment(_ context.Context, tenant, inc, text, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.comments = append(f.comments, tenant+"/"+inc+"/"+actor+": "+text)
	return nil
}
func (f *fakeCases) Assign(context.Context, string, string, string, string) error      { return nil }
func (f *fakeCases) SetStatus(context.Context, string, string, string, string) error   { return nil }
func (f *fakeCases) SetPriority(context.Context, string, string, string, string) error { return nil }
func (f *fakeCases) AddTask(context.Context, string, string, string, string, string) (string, error) {
	return "task_1", nil
}
func (f *fakeCases) AddObservable(context.Context, string, string, string, string, string) error {
	return nil
}
func (f *fakeCases) Link(_ context.Context, tenant, inc, other, reason, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.comments = append(f.comments, tenant+"/"+inc+"/"+actor+": link "+other+" "+reason)
	return nil
}
func (f *fakeCases) Incident(_ context.Context, tenant, id string) (map[string]any, error) {
	if tenant != "a" || id != "inc_1" {
		return nil, store.ErrNotFound
	}
	return map[string]any{"id": id, "title": "ssh brute force", "severity": "high"}, nil
}
func (f *fakeCases) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.comments)
}

type fakeIntel struct{}

func (fakeIntel) AddIndicator(_ context.Context, tenant string, in soar.NewIndicator, actor string) (any, error) {
	return map[string]any{"tenant": tenant, "type": in.Type, "value": in.Value, "tlp": in.TLP, "by": actor,
		"valid_for": in.ValidFor.D().String()}, nil
}

func (fakeIntel) Lookup(_ context.Context, _, value string) (any, error) {
	return map[string]any{"value": value, "alerting": true}, nil
}

// target is a local HTTP server that counts requests per idempotency key.
type target struct {
	mu     sync.Mutex
	keys   map[string]int
	bodies []string
	paths  []string
	fail   int // answer 503 to this many requests to /call first
	status int // then this status to /call (0: 200)
	*httptest.Server
}

func newTarget(t *testing.T) *target {
	tg := &target{keys: map[string]int{}}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.keys[r.Header.Get("Idempotency-Key")]++
		tg.bodies = append(tg.bodies, string(b))
		tg.paths = append(tg.paths, r.Method+" "+r.URL.Path)
		fail, status := tg.fail > 0 && r.URL.Path == "/call", tg.status
		if fail {
			tg.fail--
		}
		if r.URL.Path != "/call" {
			status = 0
		}
		tg.mu.Unlock()
		if fail {
			w.WriteHeader(503)
			return
		}
		if status != 0 {
			w.WriteHeader(status)
		}
		_, _ = w.Write([]byte(`{"blocked":true}`))
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) snapshot() (map[string]int, []string, []string) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return maps(tg.keys), slices.Clone(tg.bodies), slices.Clone(tg.paths)
}

func maps(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

type fixture struct {
	svc   *soar.Service
	db    *store.DB
	clk   *clock
	cases *fakeCases
	tg    *target
	bus   *bus.Bus
	sub   *bus.Subscription
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	f := &fixture{db: db, clk: &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}, cases: &fakeCases{}, tg: newTarget(t)}
	f.bus = bus.New(f.clk.Now)
	f.sub = f.bus.Subscribe("playbook.*", 256)
	f.svc = soar.New(db, soar.Options{Bus: f.bus, Now: f.clk.Now, Log: storetest.Logger(t), SecretKey: testKey, Node: "test",
		Deps: soar.Deps{Cases: f.cases, Intel: fakeIntel{}, HTTP: f.tg.Client(), AllowLoopback: true}})
	return f
}

func (f *fixture) apply(t *testing.T, tenant, src string) soar.PlaybookVersion {
	t.Helper()
	v, err := f.svc.Apply(context.Background(), tenant, []byte(src), "eng")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) drain(t *testing.T) {
	t.Helper()
	if _, err := f.svc.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) run(t *testing.T, tenant, id string) soar.Run {
	t.Helper()
	r, err := f.svc.GetRun(context.Background(), tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) events(types ...string) []bus.Event {
	var out []bus.Event
	for {
		select {
		case e := <-f.sub.C():
			if slices.Contains(types, e.Type) {
				out = append(out, e)
			}
		default:
			return out
		}
	}
}

func stepOf(r soar.Run, id string) soar.StepState {
	for _, s := range r.Steps {
		if s.StepID == id {
			return s
		}
	}
	return soar.StepState{}
}

func alertEvent(level string, tags ...string) bus.Event {
	return bus.Event{Type: "alert.created", Tenant: "a", Subject: "alr_1", Actor: "sigma", Data: map[string]any{
		"id": "alr_1", "incident_id": "inc_1", "level": level, "tags": tags,
		"entities": map[string]any{"source_ip": "203.0.113.9", "host": "web1"}}}
}

func onlyRun(t *testing.T, f *fixture, tenant string) soar.Run {
	t.Helper()
	runs, err := f.svc.Runs(context.Background(), tenant, soar.RunFilter{})
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %v %v", runs, err)
	}
	return f.run(t, tenant, runs[0].ID)
}

// TestApprovalFlow runs the issue's playbook end to end: a matching alert
// starts it, the approval waits for the right role (not a wrong one), the
// block call reaches the firewall with the idempotency key, the secret
// never appears in history, and playbook.run.finished is published.
func TestApprovalFlow(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.apply(t, "a", issuePlaybook)
		if err := f.svc.PutSecret(ctx, "a", "FIREWALL_URL", f.tg.URL, "admin"); err != nil {
			t.Fatal(err)
		}
		// Not high enough, wrong technique: no run.
		for _, e := range []bus.Event{alertEvent("low", "attack.t1110"), alertEvent("high", "attack.t1003")} {
			if err := f.svc.Trigger(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if runs, _ := f.svc.Runs(ctx, "a", soar.RunFilter{}); len(runs) != 0 {
			t.Fatalf("condition did not hold, yet %d runs", len(runs))
		}
		if err := f.svc.Trigger(ctx, alertEvent("critical", "attack.t1110", "attack.credential_access")); err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		r := onlyRun(t, f, "a")
		if r.Status != soar.RunRunning || r.IncidentID != "inc_1" || r.AlertID != "alr_1" || r.PlaybookVersion != 1 {
			t.Fatalf("run: %+v", r)
		}
		if s := stepOf(r, "enrich"); s.Status != soar.StepSucceeded || !strings.Contains(string(s.Output), "203.0.113.9") {
			t.Fatalf("enrich: %+v", s)
		}
		if s := stepOf(r, "approve"); s.Status != soar.StepWaiting || s.Role != "incident-responder" || s.Message != "Block 203.0.113.9?" {
			t.Fatalf("approve: %+v", s)
		}
		apps, err := f.svc.Approvals(ctx, "a")
		if err != nil || len(apps) != 1 || apps[0].Deadline != f.clk.Now().Add(30*time.Minute) {
			t.Fatalf("approvals: %+v %v", apps, err)
		}
		if apps, _ := f.svc.Approvals(ctx, "b"); len(apps) != 0 {
			t.Fatal("another tenant sees the approval")
		}
		if _, err := f.svc.Decide(ctx, "a", r.ID, "approve", true, soar.Approver{Subject: "eng", Role: "security-engineer"}, ""); !errors.Is(err, soar.ErrForbidden) {
			t.Fatalf("wrong role decided: %v", err)
		}
		if _, err := f.svc.Decide(ctx, "b", r.ID, "approve", true, soar.Approver{Subject: "x", Admin: true}, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other tenant decided: %v", err)
		}
		if _, err := f.svc.Decide(ctx, "a", r.ID, "approve", true, soar.Approver{Subject: "rita", Role: "incident-responder"}, "go"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Decide(ctx, "a", r.ID, "approve", false, soar.Approver{Subject: "rita", Role: "incident-responder"}, ""); !soar.IsUserError(err) {
			t.Fatalf("second decision: %v", err)
		}
		f.drain(t)
		r = f.run(t, "a", r.ID)
		if r.Status != soar.RunSucceeded {
			t.Fatalf("run: %+v", r)
		}
		keys, bodies, paths := f.tg.snapshot()
		if len(paths) != 1 || paths[0] != "POST /block" || bodies[0] != `{"ip":"203.0.113.9"}` || keys[r.ID+"/block/1"] != 1 {
			t.Fatalf("firewall saw %v %v %v", paths, bodies, keys)
		}
		if c := f.cases.list(); len(c) != 1 || c[0] != "a/inc_1/playbook:contain-ssh-bruteforce: Blocked 203.0.113.9" {
			t.Fatalf("comments: %v", c)
		}
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), f.tg.URL) || !strings.Contains(string(b), `***/block`) {
			t.Fatalf("secret not masked in history: %s", b)
		}
		if s := stepOf(r, "approve"); s.DecidedBy != "rita" {
			t.Fatalf("approve: %+v", s)
		}
		evs := f.events(soar.EventRunFinished, soar.EventApprovalRequested, soar.EventApprovalDecided)
		var types []string
		for _, e := range evs {
			types = append(types, e.Type)
		}
		if !slices.Equal(types, []string{soar.EventApprovalRequested, soar.EventApprovalDecided, soar.EventRunFinished}) {
			t.Fatalf("events: %v", types)
		}
		if sum := evs[2].Data.(soar.RunSummary); sum.Status != soar.RunSucceeded || sum.ID != r.ID || evs[1].Actor != "rita" {
			t.Fatalf("finished: %+v", evs[2])
		}
	})
}

// TestApprovalTimeout: nobody decides; after the timeout (fake clock) the
// approval ends as not approved and the block and the note are skipped.
func TestApprovalTimeout(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.apply(t, "a", issuePlaybook)
		if err := f.svc.Trigger(ctx, alertEvent("high", "attack.t1110")); err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		f.clk.Add(29 * time.Minute)
		f.drain(t)
		if r := onlyRun(t, f, "a"); stepOf(r, "approve").Status != soar.StepWaiting {
			t.Fatalf("timed out early: %+v", stepOf(r, "approve"))
		}
		f.clk.Add(2 * time.Minute)
		f.drain(t)
		r := onlyRun(t, f, "a")
		if r.Status != soar.RunSucceeded || stepOf(r, "block").Status != soar.StepSkipped || stepOf(r, "note").Status != soar.StepSkipped ||
			!strings.Contains(string(stepOf(r, "approve").Output), `"timed_out":true`) {
			t.Fatalf("run: %+v", r)
		}
		if _, _, paths := f.tg.snapshot(); len(paths) != 0 {
			t.Fatalf("blocked without approval: %v", paths)
		}
	})
}

const retryPlaybook = `name: retry-me
on: { manual: {} }
inputs:
  ip: { type: string, required: true }
steps:
  - id: first
    uses: http.request
    with: { method: POST, url: "${{ inputs.url }}/first" }
  - id: call
    uses: http.request
    with: { method: POST, url: "${{ inputs.url }}/call", json: { ip: "${{ inputs.ip }}" } }
    retry: { attempts: 3, backoff: exponential, delay: 2s }
`

// TestRetryBackoff: a step that fails twice is retried after 2 s and 4 s
// (fake clock), each attempt with its own idempotency key.
func TestRetryBackoff(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.apply(t, "a", strings.Replace(retryPlaybook, "inputs:\n", "inputs:\n  url: { type: string, required: true }\n", 1))
		if _, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "retry-me", Inputs: map[string]any{"ip": 7.0, "url": f.tg.URL}}); !soar.IsUserError(err) {
			t.Fatalf("wrong input type accepted: %v", err)
		}
		run, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "retry-me", Actor: "ann", Inputs: map[string]any{"ip": "10.0.0.1", "url": f.tg.URL}})
		if err != nil {
			t.Fatal(err)
		}
		f.tg.mu.Lock()
		f.tg.fail = 2
		f.tg.mu.Unlock()
		f.drain(t) // first succeeds, call attempt 1 fails
		r := f.run(t, "a", run.ID)
		if s := stepOf(r, "call"); s.Status != soar.StepReady || s.Attempt != 2 || !s.RunAt.Equal(f.clk.Now().Add(2*time.Second)) {
			t.Fatalf("after attempt 1: %+v", s)
		}
		f.clk.Add(2 * time.Second)
		f.drain(t) // attempt 2 fails
		if s := stepOf(f.run(t, "a", run.ID), "call"); s.Attempt != 3 || !s.RunAt.Equal(f.clk.Now().Add(4*time.Second)) {
			t.Fatalf("after attempt 2: %+v", s)
		}
		f.clk.Add(3 * time.Second)
		f.drain(t) // not yet due
		f.clk.Add(time.Second)
		f.drain(t)
		r = f.run(t, "a", run.ID)
		if r.Status != soar.RunSucceeded {
			t.Fatalf("run: %+v", r)
		}
		keys, _, _ := f.tg.snapshot()
		for _, k := range []string{"/first/1", "/call/1", "/call/2", "/call/3"} {
			if keys[run.ID+k] != 1 {
				t.Fatalf("key %s: %v", k, keys)
			}
		}
	})
}

// TestRetryFailedRun: a run that failed on a permanent error is retried
// from the failed step (completed steps do not run again) and replayed as
// a new run of the same version.
func TestRetryFailedRun(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		src := strings.Replace(retryPlaybook, "inputs:\n", "inputs:\n  url: { type: string, required: true }\n", 1)
		f.apply(t, "a", src)
		run, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "retry-me", Actor: "ann", Inputs: map[string]any{"ip": "10.0.0.1", "url": f.tg.URL}})
		if err != nil {
			t.Fatal(err)
		}
		f.tg.mu.Lock()
		f.tg.status = 400
		f.tg.mu.Unlock()
		// A new version does not change the pinned run.
		f.apply(t, "a", strings.Replace(src, "/call", "/other", 1))
		f.drain(t)
		r := f.run(t, "a", run.ID)
		if r.Status != soar.RunFailed || stepOf(r, "call").Attempt != 1 || !strings.Contains(r.Error, "answer 400") {
			t.Fatalf("permanent error retried or run not failed: %+v", r)
		}
		f.tg.mu.Lock()
		f.tg.status = 0
		f.tg.mu.Unlock()
		if _, err := f.svc.Retry(ctx, "b", run.ID, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other tenant retried: %v", err)
		}
		if _, err := f.svc.Retry(ctx, "a", run.ID, "ann"); err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		r = f.run(t, "a", run.ID)
		if r.Status != soar.RunSucceeded || stepOf(r, "call").Attempt != 2 {
			t.Fatalf("after retry: %+v", r)
		}
		keys, _, paths := f.tg.snapshot()
		if keys[run.ID+"/first/1"] != 1 || keys[run.ID+"/call/2"] != 1 || slices.Contains(paths, "POST /other") {
			t.Fatalf("keys %v paths %v", keys, paths)
		}
		re, err := f.svc.Replay(ctx, "a", run.ID, "ann")
		if err != nil || re.PlaybookVersion != 1 || re.ReplayOf != run.ID {
			t.Fatalf("replay: %+v %v", re, err)
		}
		f.drain(t)
		if r := f.run(t, "a", re.ID); r.Status != soar.RunSucceeded {
			t.Fatalf("replay: %+v", r)
		}
		if vs, err := f.svc.Versions(ctx, "a", "retry-me"); err != nil || len(vs) != 2 || vs[0].Version != 2 {
			t.Fatalf("versions: %+v %v", vs, err)
		}
	})
}

// TestRunFromIncident: the incident is the run's context and the default
// target of case actions; an incident of another tenant is not found.
func TestRunFromIncident(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.apply(t, "a", `name: note
on: { manual: {} }
steps:
  - id: c
    uses: case.comment
    with: { text: "looking at ${{ incident.title }}" }
`)
		if _, err := f.svc.RunFromIncident(ctx, "b", "inc_1", soar.StartRequest{Playbook: "note"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other tenant: %v", err)
		}
		run, err := f.svc.RunFromIncident(ctx, "a", "inc_1", soar.StartRequest{Playbook: "note", Actor: "ann"})
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		if r := f.run(t, "a", run.ID); r.Status != soar.RunSucceeded || r.IncidentID != "inc_1" {
			t.Fatalf("%+v", r)
		}
		if c := f.cases.list(); len(c) != 1 || c[0] != "a/inc_1/playbook:note: looking at ssh brute force" {
			t.Fatalf("%v", c)
		}
	})
}

// TestSecrets: values are sealed, listed by name only, and a wrong key
// cannot open them.
func TestSecrets(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		if err := f.svc.PutSecret(ctx, "a", "TOKEN", "s3cr3t-value", "admin"); err != nil {
			t.Fatal(err)
		}
		var sealed string
		if err := db.QueryRow(ctx, "SELECT sealed FROM soar_secrets WHERE tenant = ? AND name = ?", "a", "TOKEN").Scan(&sealed); err != nil ||
			strings.Contains(sealed, "s3cr3t") {
			t.Fatalf("stored in clear: %q %v", sealed, err)
		}
		list, err := f.svc.Secrets(ctx, "a")
		if b, _ := json.Marshal(list); err != nil || len(list) != 1 || strings.Contains(string(b), "s3cr3t") {
			t.Fatalf("%s %v", b, err)
		}
		if l, _ := f.svc.Secrets(ctx, "b"); len(l) != 0 {
			t.Fatal("other tenant sees secrets")
		}
		if err := f.svc.PutSecret(ctx, "a", "1bad", "x", "admin"); !soar.IsUserError(err) {
			t.Fatalf("bad name: %v", err)
		}
		other := soar.New(db, soar.Options{SecretKey: []byte("ffffffffffffffffffffffffffffffff"), Deps: soar.Deps{HTTP: f.tg.Client(), AllowLoopback: true}, Now: f.clk.Now})
		f.apply(t, "a", `name: s
on: { manual: {} }
steps:
  - id: c
    uses: http.request
    with: { url: "${{ secrets.TOKEN }}" }
`)
		run, err := other.StartRun(ctx, "a", soar.StartRequest{Playbook: "s"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		r, _ := other.GetRun(ctx, "a", run.ID)
		if r.Status != soar.RunFailed || !strings.Contains(r.Error, "cannot be opened") {
			t.Fatalf("%+v", r)
		}
	})
}

// TestAllowList: http.request refuses hosts off the allow-list without
// sending anything.
func TestAllowList(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tg := newTarget(t)
		svc := soar.New(db, soar.Options{Deps: soar.Deps{HTTP: tg.Client(), AllowHosts: []string{"firewall.example"}}})
		if _, err := svc.Apply(ctx, "a", []byte(`name: x
on: { manual: {} }
steps:
  - id: c
    uses: http.request
    with: { url: "`+tg.URL+`" }
    retry: { attempts: 3 }
`), "eng"); err != nil {
			t.Fatal(err)
		}
		run, err := svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		r, _ := svc.GetRun(ctx, "a", run.ID)
		if _, _, paths := tg.snapshot(); r.Status != soar.RunFailed || !strings.Contains(r.Error, "allow-list") || len(paths) != 0 || r.Steps[0].Attempt != 1 {
			t.Fatalf("%+v %v", r, paths)
		}
	})
}

// TestMigrations is the store contract for the soar tables.
func TestMigrations(t *testing.T) {
	storetest.TestMigrations(t)
}
