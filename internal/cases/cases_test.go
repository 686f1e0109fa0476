package cases

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)} // a Monday
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	svc   *Service
	clock *fakeClock
	bus   *bus.Bus
	sub   *bus.Subscription
	ctx   context.Context
}

func newFixture(t testing.TB, db *store.DB, mod ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{clock: newFakeClock(), ctx: storetest.Context(t)}
	f.bus = bus.New(f.clock.Now)
	f.sub = f.bus.Subscribe("*", 100000)
	o := Options{Bus: f.bus, Now: f.clock.Now, Log: storetest.Logger(t)}
	for _, m := range mod {
		m(&o)
	}
	f.svc = New(db, o)
	return f
}

// events drains the subscription and returns the events of a type.
func (f *fixture) events(typ string) []bus.Event {
	var out []bus.Event
	for {
		select {
		case e := <-f.sub.C():
			if e.Type == typ {
				out = append(out, e)
			}
		default:
			return out
		}
	}
}

func (f *fixture) drain() { f.events("") }

func alert(rule string, sev Severity, ents ...string) AlertInput {
	in := AlertInput{Source: "test", RuleID: rule, RuleTitle: "Rule " + rule, Severity: sev}
	for _, e := range ents {
		k, v, _ := strings.Cut(e, ":")
		in.Entities = append(in.Entities, Entity{Kind: k, Value: v})
	}
	return in
}

func TestRaiseAlertGroupsAndDeduplicates(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ev := json.RawMessage(`{"_time":"2026-03-02T09:58:00Z","_msg":"powershell -enc","host.name":"PC1"}`)
		in := alert("r1", SevHigh, "host:PC1", "user:alice")
		in.Events = []json.RawMessage{ev}
		in.Attack = []string{"attack.execution", "attack.t1059.001"}
		a1, err := f.svc.RaiseAlert(f.ctx, "t1", in)
		if err != nil {
			t.Fatal(err)
		}
		if a1.IncidentID == "" || a1.Priority == "" || len(a1.Explanation) < 3 {
			t.Fatalf("alert not grouped or scored: %+v", a1)
		}
		if !a1.EventTime.Equal(time.Date(2026, 3, 2, 9, 58, 0, 0, time.UTC)) {
			t.Errorf("event time %v, want the first event's _time", a1.EventTime)
		}
		if got := strings.Join(a1.Attack, ","); got != "T1059.001,execution" {
			t.Errorf("attack %q", got)
		}
		if len(f.events(EventAlertCreated)) != 1 {
			t.Error("want one alert.created")
		}
		// The same alert again within the dedup window only counts.
		f.clock.Advance(time.Minute)
		a2, err := f.svc.RaiseAlert(f.ctx, "t1", in)
		if err != nil {
			t.Fatal(err)
		}
		if !a2.Deduplicated || a2.ID != a1.ID || a2.Count != 2 {
			t.Fatalf("want dedup of %s with count 2, got %+v", a1.ID, a2)
		}
		// The repeat is a change: alert.updated with the new count.
		if up := f.events(EventAlertUpdated); len(up) != 1 || up[0].Subject != a1.ID || up[0].Data.(Alert).Count != 2 {
			t.Fatalf("alert.updated after the repeat: %+v", up)
		}
		// Same rule, same host, different user: joins.
		a3, err := f.svc.RaiseAlert(f.ctx, "t1", alert("r1", SevMedium, "host:pc1", "user:bob"))
		if err != nil {
			t.Fatal(err)
		}
		// Another rule on the same user: joins across rules.
		a4, err := f.svc.RaiseAlert(f.ctx, "t1", alert("r2", SevCritical, "user:bob"))
		if err != nil {
			t.Fatal(err)
		}
		if a3.IncidentID != a1.IncidentID || a4.IncidentID != a1.IncidentID {
			t.Fatalf("want one incident, got %s %s %s", a1.IncidentID, a3.IncidentID, a4.IncidentID)
		}
		// An unrelated host: a new incident.
		a5, err := f.svc.RaiseAlert(f.ctx, "t1", alert("r3", SevLow, "host:srv9"))
		if err != nil {
			t.Fatal(err)
		}
		if a5.IncidentID == a1.IncidentID {
			t.Fatal("unrelated alert joined the incident")
		}
		// After the window, the same key opens a new incident.
		f.clock.Advance(25 * time.Hour)
		a6, err := f.svc.RaiseAlert(f.ctx, "t1", alert("r1", SevHigh, "host:pc1"))
		if err != nil {
			t.Fatal(err)
		}
		if a6.IncidentID == a1.IncidentID {
			t.Fatal("alert after the grouping window joined an old incident")
		}
		inc, err := f.svc.GetIncident(f.ctx, "t1", a1.IncidentID)
		if err != nil {
			t.Fatal(err)
		}
		if inc.AlertCount != 3 || inc.Severity != SevCritical || len(inc.Rules) != 2 {
			t.Fatalf("aggregates: count %d severity %s rules %v", inc.AlertCount, inc.Severity, inc.Rules)
		}
		// The copied event survives with the alert.
		full, err := f.svc.GetAlert(f.ctx, "t1", a1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(full.Events) != 1 || !strings.Contains(string(full.Events[0]), "powershell") {
			t.Fatalf("events not kept: %s", full.Events)
		}
		// Tenants are isolated.
		if _, err := f.svc.GetIncident(f.ctx, "t2", a1.IncidentID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("other tenant sees incident: %v", err)
		}
		if as, _ := f.svc.ListAlerts(f.ctx, "t2", AlertFilter{}); len(as) != 0 {
			t.Fatal("other tenant lists alerts")
		}
		obs, err := f.svc.Observables(f.ctx, "t1", a1.IncidentID)
		if err != nil || len(obs) != 3 { // host pc1, user alice, user bob
			t.Fatalf("observables %v %v", obs, err)
		}
	})
}

func TestBatchGroupsWithinOneTransaction(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		as, err := f.svc.RaiseAlerts(f.ctx, "t1", []AlertInput{
			alert("a", SevLow, "host:h1"), alert("b", SevHigh, "host:h1"), alert("c", SevLow, "host:h2"), alert("a", SevLow, "host:h1"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if as[0].IncidentID != as[1].IncidentID || as[2].IncidentID == as[0].IncidentID {
			t.Fatalf("batch grouping wrong: %s %s %s", as[0].IncidentID, as[1].IncidentID, as[2].IncidentID)
		}
		if !as[3].Deduplicated {
			t.Fatal("repeat in a batch not de-duplicated")
		}
		if n := len(f.events(EventIncidentCreated)); n != 2 {
			t.Fatalf("incident.created %d, want 2", n)
		}
	})
}

func TestGroupingConfigurable(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, func(o *Options) {
			o.Grouping = &Grouping{Window: time.Hour, RuleEntity: true} // no grouping across rules
		})
		a, _ := f.svc.RaiseAlert(f.ctx, "t", alert("r1", SevLow, "user:x"))
		b, _ := f.svc.RaiseAlert(f.ctx, "t", alert("r2", SevLow, "user:x"))
		if a.IncidentID == "" || a.IncidentID == b.IncidentID {
			t.Fatalf("across-rules grouping should be off: %s %s", a.IncidentID, b.IncidentID)
		}
	})
}

func TestLifecycleAndOptimisticConcurrency(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		inc, err := f.svc.CreateIncident(f.ctx, "t", NewIncident{Title: "Phish", Type: "phishing", Severity: SevHigh}, "ana")
		if err != nil {
			t.Fatal(err)
		}
		tasks, _ := f.svc.Tasks(f.ctx, "t", inc.ID)
		if len(tasks) != len(taskTemplate("phishing")) {
			t.Fatalf("tasks from template: %d", len(tasks))
		}
		st := StatusTriage
		u, err := f.svc.UpdateIncident(f.ctx, "t", inc.ID, inc.Version, IncidentPatch{Status: &st}, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if u.AckAt.IsZero() || u.Version != inc.Version+1 {
			t.Fatalf("ack %v version %d", u.AckAt, u.Version)
		}
		// A second analyst with the old version loses.
		title := "other"
		if _, err := f.svc.UpdateIncident(f.ctx, "t", inc.ID, inc.Version, IncidentPatch{Title: &title}, "bob"); !errors.Is(err, ErrConflict) {
			t.Fatalf("stale update: %v, want ErrConflict", err)
		}
		closed := StatusClosed
		if _, err := f.svc.UpdateIncident(f.ctx, "t", inc.ID, 0, IncidentPatch{Status: &closed}, "ana"); err == nil || !IsUserError(err) {
			t.Fatalf("closing without resolution: %v", err)
		}
		res := ResFalsePositive
		u, err = f.svc.UpdateIncident(f.ctx, "t", inc.ID, 0, IncidentPatch{Status: &closed, Resolution: &res}, "ana")
		if err != nil || u.ResolvedAt.IsZero() || u.Resolution != ResFalsePositive {
			t.Fatalf("close: %+v %v", u, err)
		}
		cont := StatusContainment
		if _, err := f.svc.UpdateIncident(f.ctx, "t", inc.ID, 0, IncidentPatch{Status: &cont}, "ana"); !IsUserError(err) {
			t.Fatalf("closed → containment allowed: %v", err)
		}
		if n := len(f.events(EventIncidentUpdated)); n != 2 {
			t.Fatalf("incident.updated %d, want 2", n)
		}
		tl, _ := f.svc.Timeline(f.ctx, "t", inc.ID)
		if len(tl) < 4 {
			t.Fatalf("timeline too short: %+v", tl)
		}
	})
}

func TestConcurrentUpdatesOneWins(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		inc, _ := f.svc.CreateIncident(f.ctx, "t", NewIncident{Title: "x"}, "a")
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				who := string(rune('a' + i))
				_, errs[i] = f.svc.UpdateIncident(f.ctx, "t", inc.ID, inc.Version, IncidentPatch{Assignee: &who}, who)
			}()
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrConflict):
				conflicts++
			default:
				t.Errorf("unexpected: %v", err)
			}
		}
		if ok != 1 || conflicts != 7 {
			t.Fatalf("ok %d conflicts %d, want 1 and 7", ok, conflicts)
		}
	})
}

func TestMergeAndSplit(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		a1, _ := f.svc.RaiseAlert(f.ctx, "t", alert("r1", SevLow, "host:a", "ip:10.0.0.1"))
		a2, _ := f.svc.RaiseAlert(f.ctx, "t", alert("r2", SevHigh, "host:b"))
		a3, _ := f.svc.RaiseAlert(f.ctx, "t", alert("r3", SevLow, "host:b"))
		if a1.IncidentID == a2.IncidentID || a2.IncidentID != a3.IncidentID {
			t.Fatal("setup")
		}
		m, err := f.svc.MergeIncidents(f.ctx, "t", a1.IncidentID, []string{a2.IncidentID}, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if m.AlertCount != 3 || m.Severity != SevHigh {
			t.Fatalf("merged: %d alerts, %s", m.AlertCount, m.Severity)
		}
		src, _ := f.svc.GetIncident(f.ctx, "t", a2.IncidentID)
		if src.MergedInto != a1.IncidentID || src.Status != StatusClosed || src.Resolution != ResDuplicate {
			t.Fatalf("source after merge: %+v", src)
		}
		// New alerts on host b now go to the merge target.
		a4, _ := f.svc.RaiseAlert(f.ctx, "t", alert("r9", SevLow, "host:b"))
		if a4.IncidentID != a1.IncidentID {
			t.Fatalf("alert after merge went to %s", a4.IncidentID)
		}
		n, err := f.svc.SplitIncident(f.ctx, "t", a1.IncidentID, []string{a2.ID, a3.ID}, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if n.AlertCount != 2 || n.Severity != SevHigh {
			t.Fatalf("split incident: %+v", n)
		}
		rest, _ := f.svc.GetIncident(f.ctx, "t", a1.IncidentID)
		if rest.AlertCount != 2 || rest.Severity != SevLow {
			t.Fatalf("original after split: %d %s", rest.AlertCount, rest.Severity)
		}
		if _, err := f.svc.SplitIncident(f.ctx, "t", a1.IncidentID, []string{a2.ID}, "ana"); !IsUserError(err) {
			t.Fatalf("splitting a foreign alert: %v", err)
		}
		sim, err := f.svc.SimilarIncidents(f.ctx, "t", n.ID, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(sim) == 0 || sim[0].IncidentID == n.ID {
			t.Fatalf("similar: %+v", sim)
		}
	})
}

func TestPriorityExplained(t *testing.T) {
	low, _ := score(SevLow, 0, 0, nil)
	high, expl := score(SevHigh, 5, 90, []string{"impact", "execution"})
	if priorityOf(low) != P4 || priorityOf(high) != P1 {
		t.Fatalf("low %d → %s, high %d → %s", low, priorityOf(low), high, priorityOf(high))
	}
	sum := 0
	for _, f := range expl {
		sum += f.Points
	}
	if sum != high || len(expl) != 4 || !strings.Contains(expl[3].Value, "impact") {
		t.Fatalf("explanation %+v does not add up to %d", expl, high)
	}
	early, _ := score(SevHigh, 3, 0, []string{"reconnaissance"})
	late, _ := score(SevHigh, 3, 0, []string{"exfiltration"})
	if late <= early {
		t.Fatal("later tactic must score higher")
	}
}

func TestEvidenceChainOfCustody(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		inc, _ := f.svc.CreateIncident(f.ctx, "t", NewIncident{Title: "x"}, "a")
		ev, err := f.svc.AddEvidence(f.ctx, "t", inc.ID, "mem.dmp", "", "", strings.NewReader("bytes of a dump"), "ana")
		if err != nil {
			t.Fatal(err)
		}
		if ev.SHA256 != "0ae95f8b1f5f6bb8b0b1d1bb66ff6a1a3ea2fe4ec1f1d2a6c1ba1f40e0b2d2b7" && len(ev.SHA256) != 64 {
			t.Fatal("no hash")
		}
		_, body, err := f.svc.DownloadEvidence(f.ctx, "t", inc.ID, ev.ID, "bob")
		if err != nil || string(body) != "bytes of a dump" {
			t.Fatalf("download: %q %v", body, err)
		}
		// Tamper with the stored bytes: the download refuses.
		if _, err := db.Exec(f.ctx, "UPDATE case_evidence SET content = ? WHERE tenant = ? AND id = ?", []byte("evil"), "t", ev.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.DownloadEvidence(f.ctx, "t", inc.ID, ev.ID, "eve"); !errors.Is(err, ErrTampered) {
			t.Fatalf("tampered download: %v", err)
		}
		got, err := f.svc.GetEvidence(f.ctx, "t", inc.ID, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Custody) != 3 || got.Custody[0].Action != "added" || got.Custody[1].Actor != "bob" || got.Custody[2].Intact {
			t.Fatalf("custody %+v", got.Custody)
		}
		if _, _, err := f.svc.DownloadEvidence(f.ctx, "other", inc.ID, ev.ID, "x"); !errors.Is(err, ErrNotFound) {
			t.Fatal("other tenant downloads evidence")
		}
	})
}

func TestCommentsNotesObservables(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		a, _ := f.svc.RaiseAlert(f.ctx, "t", alert("r", SevLow, "host:h"))
		if _, err := f.svc.AddComment(f.ctx, "t", a.IncidentID, "looks bad", "ana"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AddAlertNote(f.ctx, "t", a.ID, "benign backup job", "ana"); err != nil {
			t.Fatal(err)
		}
		cs, _ := f.svc.Comments(f.ctx, "t", "alert", a.ID)
		if len(cs) != 1 || cs[0].Body != "benign backup job" {
			t.Fatalf("alert notes %+v", cs)
		}
		o, err := f.svc.AddObservable(f.ctx, "t", a.IncidentID, Observable{Kind: "domain", Value: "Evil.example", TLP: TLPRed}, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if o.HuntQuery == "" || !strings.Contains(o.IntelLookup, "evil.example") {
			t.Fatalf("pivots %+v", o)
		}
		if _, err := f.svc.AddObservable(f.ctx, "t", a.IncidentID, Observable{Kind: "domain", Value: "x", TLP: "purple"}, "ana"); !IsUserError(err) {
			t.Fatal("bad TLP accepted")
		}
		tasks, _ := f.svc.Tasks(f.ctx, "t", a.IncidentID)
		if err := f.svc.SetTaskDone(f.ctx, "t", a.IncidentID, tasks[0].ID, true, "ana"); err != nil {
			t.Fatal(err)
		}
		tasks, _ = f.svc.Tasks(f.ctx, "t", a.IncidentID)
		if !tasks[0].Done || tasks[0].DoneBy != "ana" {
			t.Fatalf("task %+v", tasks[0])
		}
	})
}

func TestExceptionFromAlert(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		raise := func(host, image string) Alert {
			t.Helper()
			in := alert("proc-rule", SevMedium, "host:"+host)
			in.Logsource = map[string]string{"product": "windows", "category": "process_creation"}
			in.Events = []json.RawMessage{json.RawMessage(`{"_time":"2026-03-02T09:00:00Z","Image":"C:\\` + image + `","CommandLine":"run","host.name":"` + host + `"}`)}
			a, err := f.svc.RaiseAlert(f.ctx, "t", in)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		a := raise("h1", `backup\\agent.exe`)
		raise("h2", `BACKUP\\agent.exe`)
		raise("h3", `backup\\other.exe`)
		in := ExceptionInput{AlertID: a.ID, Fields: map[string]string{"Image": `c:\backup\agent.exe`}, Reason: "backup agent", ExpiresAt: f.clock.Now().Add(48 * time.Hour)}
		p, err := f.svc.PreviewException(f.ctx, "t", in)
		if err != nil {
			t.Fatal(err)
		}
		if p.Considered != 3 || p.Suppressed != 2 {
			t.Fatalf("preview %+v, want 2 of 3", p)
		}
		if _, err := f.svc.PreviewException(f.ctx, "t", ExceptionInput{AlertID: a.ID, Fields: map[string]string{"Image": "x.exe"}, Reason: "r"}); !IsUserError(err) {
			t.Fatalf("value not in the alert accepted: %v", err)
		}
		x, err := f.svc.CreateException(f.ctx, "t", in, "eng")
		if err != nil {
			t.Fatal(err)
		}
		// The document is a Sigma filter the engine can parse.
		var doc struct {
			Logsource map[string]string `yaml:"logsource"`
			Filter    struct {
				Rules     []string          `yaml:"rules"`
				Selection map[string]string `yaml:"selection"`
				Condition string            `yaml:"condition"`
			} `yaml:"filter"`
		}
		if err := yaml.Unmarshal([]byte(x.Sigma), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Filter.Rules[0] != "proc-rule" || doc.Filter.Selection["Image"] != `c:\\backup\\agent.exe` || doc.Filter.Condition != "selection" || doc.Logsource["product"] != "windows" {
			t.Fatalf("sigma filter:\n%s", x.Sigma)
		}
		if len(f.events(EventExceptionChanged)) != 1 {
			t.Fatal("no exception.changed")
		}
		// While active, matching alerts are suppressed.
		f.clock.Advance(2 * time.Hour) // past the dedup window
		if s := raise("h9", `backup\\agent.exe`); !s.Suppressed || s.SuppressedBy != x.ID {
			t.Fatalf("not suppressed: %+v", s)
		}
		if s := raise("h9", `backup\\other.exe`); s.Suppressed {
			t.Fatal("unrelated alert suppressed")
		}
		reason := "backup agent, approved by CAB-42"
		x2, err := f.svc.UpdateException(f.ctx, "t", x.ID, x.Version, ExceptionPatch{Reason: &reason}, "eng")
		if err != nil || x2.Version != 2 {
			t.Fatalf("update: %+v %v", x2, err)
		}
		if _, err := f.svc.UpdateException(f.ctx, "t", x.ID, 1, ExceptionPatch{Reason: &reason}, "eng"); !errors.Is(err, ErrConflict) {
			t.Fatalf("stale update: %v", err)
		}
		// It expires on its own.
		f.clock.Advance(47 * time.Hour)
		if r := f.tick(t); r.Expired != 1 {
			t.Fatalf("tick %+v", r)
		}
		got, err := f.svc.GetException(f.ctx, "t", x.ID)
		if err != nil || got.Status != ExceptionExpired || len(got.History) != 3 {
			t.Fatalf("after expiry: %+v %v", got, err)
		}
		if s := raise("h8", `backup\\agent.exe`); s.Suppressed {
			t.Fatal("expired exception still suppresses")
		}
		if fs, _ := f.svc.ActiveFilters(f.ctx, "t"); len(fs) != 0 {
			t.Fatalf("active filters %v", fs)
		}
	})
}

func TestRepeatInBatchReportsIncident(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		as, err := f.svc.RaiseAlerts(f.ctx, "t", []AlertInput{alert("a", SevLow, "host:h1"), alert("a", SevLow, "host:h1"), alert("a", SevLow, "host:h1")})
		if err != nil {
			t.Fatal(err)
		}
		if as[2].IncidentID == "" || as[2].IncidentID != as[0].IncidentID || as[2].ID != as[0].ID || as[2].Count != 3 {
			t.Fatalf("repeats: %+v / %+v", as[0], as[2])
		}
		got, _ := f.svc.GetAlert(f.ctx, "t", as[0].ID)
		if got.Count != 3 {
			t.Fatalf("stored count %d", got.Count)
		}
	})
}

func TestClosedIncidentTakesNoAlerts(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		a, _ := f.svc.RaiseAlert(f.ctx, "t", alert("r", SevLow, "host:h"))
		closed, res := StatusClosed, ResFalsePositive
		if _, err := f.svc.UpdateIncident(f.ctx, "t", a.IncidentID, 0, IncidentPatch{Status: &closed, Resolution: &res}, "ana"); err != nil {
			t.Fatal(err)
		}
		b, err := f.svc.RaiseAlert(f.ctx, "t", alert("r2", SevLow, "host:h"))
		if err != nil || b.IncidentID == "" || b.IncidentID == a.IncidentID {
			t.Fatalf("alert after close went to %q (%v)", b.IncidentID, err)
		}
	})
}

// TestMigrations: the cases schema applies, has a tenant column on every
// table, and each Down undoes its Up, on every backend.
func TestMigrations(t *testing.T) {
	storetest.TestMigrations(t)
}

func TestEventsJSON(t *testing.T) {
	for _, evs := range [][]json.RawMessage{nil, {json.RawMessage(`{"a":1}`)}, {json.RawMessage(`{"a": [1, 2]}`), json.RawMessage("{\n\"b\":\"<x>\"}")}} {
		got := eventsJSON(evs)
		var back []json.RawMessage
		if err := json.Unmarshal([]byte(got), &back); err != nil || len(back) != len(evs) {
			t.Fatalf("eventsJSON(%q) = %s: %v, %d events back", evs, got, err, len(back))
		}
		for i := range evs {
			if string(back[i]) != string(evs[i]) {
				t.Fatalf("event %d: %s, want %s", i, back[i], evs[i])
			}
		}
	}
}
