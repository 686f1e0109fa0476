package console

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/attack"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/soar"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/internal/ueba"
)

// mountDomains mounts the real APIs of the domains whose pages the
// console serves through the API: cases, playbooks, detection rules,
// ATT&CK coverage and threat intel, each over the test's database.
func (f *fixture) mountDomains(t *testing.T, db *store.DB, s *api.Server, clock func() time.Time, log *slog.Logger) {
	t.Helper()
	s.Mount(api.CasesRoutes(f.cases)...)
	f.soar = soar.New(db, soar.Options{Now: clock, Log: log, SecretKey: []byte("0123456789abcdef0123456789abcdef"), Node: "test"})
	s.Mount(api.SoarRoutes(f.soar)...)
	det, err := detect.New(detect.Options{Load: detect.LoadOptions{Starter: true}, DB: db, Events: f.events, Now: clock, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	s.Mount(api.DetectRoutes(det)...)
	cat, err := attack.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rules := func(context.Context) ([]attack.Rule, error) {
		var out []attack.Rule
		for _, r := range det.Ruleset().Rules {
			out = append(out, attack.Rule{ID: r.ID, Title: r.Title, Tags: r.Tags})
		}
		return out, nil
	}
	s.Mount(api.AttackRoutes(attack.NewService(cat, rules, log))...)
	ub, err := ueba.New(context.Background(), ueba.Options{DB: db, Now: clock, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ub.AddDetection(context.Background(), "a", ueba.DetectionSignal{RuleID: "r-spray", Title: "Password spraying", Level: 4,
		Entities: map[string]string{"user.name": "alice"}, Time: clock()})
	s.Mount(api.UEBARoutes(ub)...)
	ti := intel.New(intel.Deps{DB: db, Now: clock, Log: log}, intel.Config{})
	s.Mount(api.IntelRoutes(ti)...)
	im := ti.NewImport("a", "test-feed")
	if err := im.Add(context.Background(), intel.Indicator{Type: intel.TypeIP, Value: "203.0.113.7", Confidence: 80}); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// hx is what htmx sends with a form of a cookie session.
var hx = []string{api.CSRFHeader, "csrf-secret", "HX-Request", "true"}

func TestIncidentEditsGoThroughTheAPI(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		base := "/console/incidents/" + f.incA
		post := func(who, action string, form url.Values, extra ...string) resp {
			t.Helper()
			h := hx
			if !strings.HasPrefix(who, "cookie:") {
				h = []string{"HX-Request", "true"}
			}
			return f.do(t, "POST", base+"/"+action, who, form, append(append([]string(nil), h...), extra...)...)
		}
		ok := func(r resp, want string) {
			t.Helper()
			loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect"))
			if r.status != 204 || !strings.Contains(loc, want) {
				t.Fatalf("got %d %q %s, want a redirect saying %q", r.status, loc, r.body, want)
			}
		}
		// Without the CSRF header a session cannot change anything.
		if r := f.do(t, "POST", base+"/comment", "cookie:s-responder-a", url.Values{"body": {"x"}}); r.status != 403 {
			t.Fatalf("comment without CSRF: %d", r.status)
		}
		ok(post("cookie:s-responder-a", "status", url.Values{"status": {"containment"}}), "Status set to containment")
		ok(post("cookie:s-responder-a", "assign", url.Values{"assignee": {"rita"}}), "Assigned to rita")
		ok(post("cookie:s-responder-a", "comment", url.Values{"body": {"blocked the address at the edge"}}), "Comment added")
		ok(post("cookie:s-responder-a", "tasks", url.Values{"title": {"reset alice's password"}}), "Task added")
		ok(post("cookie:s-responder-a", "observables", url.Values{"kind": {"ip"}, "value": {"203.0.113.7"}}), "Observable 203.0.113.7 added")
		ok(post("admin-a", "regulatory", url.Values{"regime": {"nis2"}}), "Flagged for NIS2")
		ok(post("cookie:s-responder-a", "comment", url.Values{"body": {" "}}), "Not done: comment")
		ok(post("cookie:s-responder-a", "status", url.Values{"status": {"nonsense"}}), "Not done: status")

		inc, err := f.cases.GetIncident(ctx, "a", f.incA)
		if err != nil {
			t.Fatal(err)
		}
		if inc.Status != cases.StatusContainment || inc.Assignee != "rita" {
			t.Errorf("incident after edits: status %s assignee %q", inc.Status, inc.Assignee)
		}
		tasks, _ := f.cases.Tasks(ctx, "a", f.incA)
		obs, _ := f.cases.Observables(ctx, "a", f.incA)
		stages, _ := f.cases.Stages(ctx, "a", f.incA)
		task := func() (cases.Task, bool) {
			tasks, _ := f.cases.Tasks(ctx, "a", f.incA)
			for _, tk := range tasks {
				if tk.Title == "reset alice's password" {
					return tk, true
				}
			}
			return cases.Task{}, false
		}
		var sawObs bool
		for _, o := range obs {
			sawObs = sawObs || o.Value == "203.0.113.7"
		}
		tk, found := task()
		if !found || !sawObs || len(stages) == 0 {
			t.Fatalf("task %v observable %v stages %d (of %d tasks)", found, sawObs, len(stages), len(tasks))
		}
		ok(post("cookie:s-responder-a", "task", url.Values{"task": {tk.ID}, "done": {"true"}}), "Task done")
		if tk, _ = task(); !tk.Done {
			t.Error("task not done")
		}
		tl, _ := f.cases.Timeline(ctx, "a", f.incA)
		var sawComment bool
		for _, e := range tl {
			sawComment = sawComment || strings.Contains(e.Text, "blocked the address")
		}
		if !sawComment {
			t.Error("comment missing from the timeline")
		}

		// The page shows it all, with the forms the role may use.
		r := f.do(t, "GET", base, "responder-a", nil)
		for _, want := range []string{"reset alice&#39;s password", "203.0.113.7", "nis2", "report draft", `hx-post="/console/incidents/` + f.incA + `/status"`,
			"blocked the address at the edge"} {
			if !strings.Contains(r.body, want) {
				t.Errorf("incident page lacks %q", want)
			}
		}
		// An analyst reads and comments but may not change the status,
		// and the page offers no status form.
		if r := f.do(t, "GET", base, "analyst-a", nil); strings.Contains(r.body, "/status\"") || !strings.Contains(r.body, "/comment\"") {
			t.Errorf("analyst's incident page offers the wrong forms")
		}
		if r := post("analyst-a", "status", url.Values{"status": {"closed"}}); r.status != 403 {
			t.Errorf("analyst set the status: %d", r.status)
		}
		ok(post("analyst-a", "comment", url.Values{"body": {"looked at it"}}), "Comment added")
		// Another tenant cannot touch it.
		if r := post("responder-b", "status", url.Values{"status": {"closed"}}); r.status != 404 {
			t.Errorf("other tenant: %d", r.status)
		}
		// The NIS2 report draft.
		r = f.do(t, "GET", base+"/report/nis2/"+url.PathEscape(stages[0].Stage), "responder-a", nil)
		if r.status != 200 || !strings.Contains(r.body, "report draft") {
			t.Errorf("report draft: %d %.300s", r.status, r.body)
		}
	})
}

const approvalPlaybook = `name: ask-first
on: { manual: {} }
steps:
  - id: ask
    uses: approval
    with: { role: incident-responder, timeout: 1h, message: "Block 203.0.113.7?" }
`

func TestApprovalsInboxDecidesThroughTheAPI(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		if _, err := f.soar.Apply(ctx, "a", []byte(approvalPlaybook), "eng"); err != nil {
			t.Fatal(err)
		}
		run, err := f.soar.StartRun(ctx, "a", soar.StartRequest{Playbook: "ask-first", Actor: "rita", IncidentID: f.incA})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.soar.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		r := f.do(t, "GET", "/console/approvals", "responder-a", nil)
		if r.status != 200 || !strings.Contains(r.body, "Block 203.0.113.7?") || !strings.Contains(r.body, `data-testid="approve"`) {
			t.Fatalf("inbox: %d %.500s", r.status, r.body)
		}
		if r := f.do(t, "GET", "/console/approvals", "responder-b", nil); strings.Contains(r.body, "Block 203.0.113.7?") {
			t.Error("another tenant sees the approval")
		}
		if r := f.do(t, "GET", "/console/approvals", "analyst-a", nil); r.status != 403 {
			t.Errorf("analyst opened the inbox: %d", r.status)
		}
		if r := f.do(t, "GET", "/console/playbooks", "engineer-a", nil); r.status != 200 || !strings.Contains(r.body, "ask-first") {
			t.Errorf("playbooks page: %d", r.status)
		}
		if r := f.do(t, "GET", "/console/playbooks/runs/"+run.ID, "responder-a", nil); r.status != 200 || !strings.Contains(r.body, "waiting") {
			t.Errorf("run page: %d %.300s", r.status, r.body)
		}
		if r := f.do(t, "GET", "/console/incidents/"+f.incA, "responder-a", nil); !strings.Contains(r.body, run.ID) {
			t.Error("incident page does not list its playbook run")
		}
		form := url.Values{"run": {run.ID}, "step": {"ask"}, "decision": {"approve"}, "comment": {"ok"}}
		// A person signed in with a password only must prove a second
		// factor first: the inbox asks for it and nothing is decided.
		r = f.do(t, "POST", "/console/approvals/decide", "cookie:s-responder-a", form, hx...)
		if r.status != 200 || !strings.Contains(r.body, "Confirm it is you") {
			t.Fatalf("step-up: %d %.400s", r.status, r.body)
		}
		if got, _ := f.soar.GetRun(ctx, "a", run.ID); got.Steps[0].DecidedBy != "" {
			t.Fatal("decided without the second factor")
		}
		// The engineer's role denies approvals.
		if r := f.do(t, "POST", "/console/approvals/decide", "engineer-a", form, "HX-Request", "true"); r.status != 403 {
			t.Errorf("engineer decided: %d", r.status)
		}
		r = f.do(t, "POST", "/console/approvals/decide", "responder-a", form, "HX-Request", "true")
		if loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect")); r.status != 204 || !strings.Contains(loc, "Approved: step ask") {
			t.Fatalf("approve: %d %q %s", r.status, loc, r.body)
		}
		got, err := f.soar.GetRun(ctx, "a", run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Steps[0].DecidedBy != "token:responder-a" {
			t.Errorf("step decided by %q", got.Steps[0].DecidedBy)
		}
		if r := f.do(t, "GET", "/console/approvals", "responder-a", nil); strings.Contains(r.body, "Block 203.0.113.7?") {
			t.Error("decided approval still in the inbox")
		}
	})
}

func TestRulesPageDisablesAndShowsCoverage(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		const rule = "d0902ddf-7fcd-4ce2-bf59-b70c74d06fa2"
		r := f.do(t, "GET", "/console/rules", "analyst-a", nil)
		if r.status != 200 || !strings.Contains(r.body, "Account and group discovery command") || strings.Contains(r.body, "/disable\"") {
			t.Fatalf("rules as analyst: %d (disable offered: %v)", r.status, strings.Contains(r.body, "/disable\""))
		}
		if r := f.do(t, "POST", "/console/rules/"+rule+"/disable", "analyst-a", url.Values{"for": {"7d"}}, "HX-Request", "true"); r.status != 403 {
			t.Errorf("analyst disabled a rule: %d", r.status)
		}
		r = f.do(t, "POST", "/console/rules/"+rule+"/disable", "engineer-a", url.Values{"for": {"7d"}}, "HX-Request", "true")
		if loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect")); !strings.Contains(loc, "disabled for 7d") {
			t.Fatalf("disable: %d %q", r.status, loc)
		}
		r = f.do(t, "GET", "/console/rules?state=disabled", "engineer-a", nil)
		if !strings.Contains(r.body, "Account and group discovery command") || !strings.Contains(r.body, "disabled until") {
			t.Errorf("disabled rule not shown as disabled")
		}
		r = f.do(t, "POST", "/console/rules/"+rule+"/enable", "engineer-a", nil, "HX-Request", "true")
		if loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect")); !strings.Contains(loc, "enabled (1 suppression") {
			t.Fatalf("enable: %d %q", r.status, loc)
		}
		if r := f.do(t, "GET", "/console/rules?state=disabled", "engineer-a", nil); strings.Contains(r.body, "disabled until") {
			t.Error("rule still disabled")
		}
		// A test over the last 24 hours runs the retro-hunt API for the
		// analyst and shows its result on the page.
		r = f.do(t, "POST", "/console/rules/"+rule+"/test", "analyst-a", nil, "HX-Request", "true")
		if r.status != 200 || !strings.Contains(r.body, `data-testid="rule-test"`) || !strings.Contains(r.body, "over the last 24 h") {
			i := strings.Index(r.body, "<main")
			t.Errorf("rule test: %d %.600s", r.status, r.body[max(i, 0):])
		}
		if r := f.do(t, "POST", "/console/rules/"+rule+"/test", "auditor-a", nil, "HX-Request", "true"); r.status != 403 {
			t.Errorf("auditor ran a rule test: %d", r.status)
		}
		r = f.do(t, "GET", "/console/attack", "analyst-a", nil)
		if r.status != 200 || !strings.Contains(r.body, `data-testid="attack-matrix"`) || !strings.Contains(r.body, "cell h1") || !strings.Contains(r.body, "cell h0") {
			t.Errorf("coverage: %d, covered cell: %v, uncovered cell: %v", r.status, strings.Contains(r.body, "cell h1"), strings.Contains(r.body, "cell h0"))
		}
	})
}

func TestIntelPageAndFieldActions(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		r := f.do(t, "GET", "/console/intel?lookup=203.0.113.7", "analyst-a", nil)
		if r.status != 200 || !strings.Contains(r.body, `data-testid="lookup"`) || !strings.Contains(r.body, "test-feed") {
			t.Fatalf("intel lookup: %d %.400s", r.status, r.body)
		}
		if r := f.do(t, "GET", "/console/intel?lookup=198.51.100.1", "analyst-a", nil); !strings.Contains(r.body, "Not in threat intel") {
			t.Error("unknown value not said to be unknown")
		}
		if r := f.do(t, "GET", "/console/intel", "ingest-a", nil); r.status != 403 {
			t.Errorf("ingest role opened intel: %d", r.status)
		}
		// Every value of the queue offers the same actions; "create
		// exception" only to roles that may make one.
		r = f.do(t, "GET", "/console/alerts", "admin-a", nil)
		for _, want := range []string{"Filter in", "Filter out", "Hunt for", "Intel lookup", "Add as observable", "exceptions/new?alert=" + f.alertA} {
			if !strings.Contains(r.body, want) {
				t.Errorf("alert queue lacks the %q action", want)
			}
		}
		if r := f.do(t, "GET", "/console/alerts", "analyst-a", nil); strings.Contains(r.body, "exceptions/new") {
			t.Error("analyst offered to create exceptions")
		}
		// On the incident page, "add as observable" posts to it at once.
		if r := f.do(t, "GET", "/console/incidents/"+f.incA, "responder-a", nil); !strings.Contains(r.body, `hx-post="/console/incidents/`+f.incA+`/observables" hx-vals=`) {
			t.Error("incident page lacks one-click add as observable")
		}
		r = f.do(t, "GET", "/console/observe?kind=ip&value=203.0.113.7", "responder-a", nil)
		if r.status != 200 || !strings.Contains(r.body, "Password spraying") {
			t.Errorf("observe page: %d", r.status)
		}
		r = f.do(t, "GET", "/console/exceptions/new?alert="+f.alertA+"&field=user.name&value=alice", "admin-a", nil)
		if r.status != 200 || !strings.Contains(r.body, "New exception") {
			t.Errorf("exception form: %d %.300s", r.status, r.body)
		}
	})
}

func TestOverviewTrendsAndRegulatoryClocks(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		if _, err := f.cases.Flag(ctx, "a", f.incA, cases.FlagInput{Regime: cases.RegimeGDPR}, "dpo"); err != nil {
			t.Fatal(err)
		}
		r := f.do(t, "GET", "/console/overview", "admin-a", nil)
		if !strings.Contains(r.body, `hx-get="/console/overview/trends"`) {
			t.Error("overview does not load its trends")
		}
		r = f.do(t, "GET", "/console/overview/trends", "admin-a", nil)
		if r.status != 200 || !strings.Contains(r.body, `data-testid="mtta-mttr"`) || !strings.Contains(r.body, "gdpr") ||
			!strings.Contains(r.body, "/console/incidents/"+f.incA+"/report/gdpr/") {
			t.Fatalf("trends: %d %.600s", r.status, r.body)
		}
		// The chart's data: eight weeks, two series, the incident counted.
		if !strings.Contains(r.body, "MTTA (h)") || !strings.Contains(r.body, "1 incidents in 8 weeks") {
			t.Errorf("trend chart data missing: %.800s", r.body)
		}
		// Analysts do not read case metrics: no chart, but the clocks.
		r = f.do(t, "GET", "/console/overview/trends", "analyst-a", nil)
		if strings.Contains(r.body, `data-testid="mtta-mttr"`) || !strings.Contains(r.body, "gdpr") {
			t.Errorf("analyst's trends: %.400s", r.body)
		}
		// Another tenant sees none of it.
		if r := f.do(t, "GET", "/console/overview/trends", "responder-b", nil); strings.Contains(r.body, "gdpr") {
			t.Error("another tenant sees the regulatory clock")
		}
	})
}

func TestAlertsGroupByAnyEntityKind(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		for _, ip := range []string{"10.1.1.1", "10.1.1.1", "10.2.2.2"} {
			if _, err := f.cases.RaiseAlert(ctx, "a", cases.AlertInput{Source: "api", RuleID: "r2", RuleTitle: "Port scan",
				Severity: cases.SevMedium, Entities: []cases.Entity{{Kind: "ip", Value: ip}, {Kind: "host", Value: "fw-" + ip}}}); err != nil {
				t.Fatal(err)
			}
		}
		r := f.do(t, "GET", "/console/alerts?group=ip", "analyst-a", nil)
		if r.status != 200 {
			t.Fatalf("group by ip: %d", r.status)
		}
		// One group per address with its count and a select-all box for
		// the bulk actions, and a group for alerts without an address.
		for _, want := range []string{"10.1.1.1 <span class=\"count\">", "10.2.2.2 <span class=\"count\">1</span>", "(no ip)", `class="group-all"`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("grouped queue lacks %q", want)
			}
		}
	})
}

func TestAdminChangesAskForTheSecondFactor(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		toks, err := f.console.o.Tokens.List(ctx, "a")
		if err != nil || len(toks) != 1 {
			t.Fatalf("tokens %v %v", toks, err)
		}
		tok := toks[0].ID
		r := f.do(t, "GET", "/console/settings/tokens", "admin-a", nil)
		if !strings.Contains(r.body, "/console/settings/tokens/"+tok+"/revoke") {
			t.Fatal("tokens page offers no revoke")
		}
		if r := f.do(t, "GET", "/console/settings/tokens", "auditor-a", nil); strings.Contains(r.body, "/revoke") {
			t.Error("auditor offered to revoke tokens")
		}
		// A person signed in with a password only is asked to prove it
		// again; nothing changes yet.
		r = f.do(t, "POST", "/console/settings/tokens/"+tok+"/revoke", "cookie:s-responder-a", url.Values{}, hx...)
		if r.status != 403 {
			t.Errorf("responder (no tokens:read) revoked: %d", r.status)
		}
		r = f.do(t, "POST", "/console/settings/tokens/"+tok+"/revoke", "cookie:s-admin-a", url.Values{}, hx...)
		if r.status != 200 || !strings.Contains(r.body, "Confirm it is you") || !strings.Contains(r.body, `hx-post="/console/settings/tokens/`+tok+`/revoke"`) {
			t.Fatalf("step-up page: %d %.300s", r.status, r.body)
		}
		if toks, _ := f.console.o.Tokens.List(ctx, "a"); !toks[0].RevokedAt.IsZero() {
			t.Fatal("revoked without the second factor")
		}
		if r := f.do(t, "POST", "/console/settings/tokens/"+tok+"/revoke", "auditor-a", url.Values{}, "HX-Request", "true"); r.status != 204 || !strings.Contains(r.header.Get("HX-Redirect"), "Not+done") {
			t.Errorf("auditor's revoke: %d %q", r.status, r.header.Get("HX-Redirect"))
		}
		r = f.do(t, "POST", "/console/settings/tokens/"+tok+"/revoke", "admin-a", url.Values{}, "HX-Request", "true")
		if loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect")); r.status != 204 || !strings.Contains(loc, "Token "+tok+" revoked") {
			t.Fatalf("revoke: %d %q %s", r.status, loc, r.body)
		}
		toks, _ = f.console.o.Tokens.List(ctx, "a")
		if toks[0].RevokedAt.IsZero() {
			t.Error("token not revoked")
		}
	})
}

// The risk page lists the riskiest entities with what made their score,
// per tenant, for roles that may read risk; an entity's page explains it.
func TestRiskPage(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		r := f.do(t, "GET", api.ConsolePrefix+"risk", "analyst-a", nil)
		if r.status != 200 || !strings.Contains(r.body, `data-entity="user:alice"`) || !strings.Contains(r.body, "Password spraying") {
			t.Fatalf("risk page: %d %s", r.status, r.body)
		}
		if r := f.do(t, "GET", api.ConsolePrefix+"risk", "responder-b", nil); r.status != 200 || strings.Contains(r.body, "user:alice") {
			t.Errorf("tenant b sees tenant a's risk: %d", r.status)
		}
		if r := f.do(t, "GET", api.ConsolePrefix+"risk", "ingest-a", nil); r.status != 403 {
			t.Errorf("ingest role: %d", r.status)
		}
		r = f.do(t, "GET", api.ConsolePrefix+"risk/user/alice", "analyst-a", nil)
		if r.status != 200 || !strings.Contains(r.body, `data-testid="risk-entity"`) || !strings.Contains(r.body, "r-spray") {
			t.Fatalf("entity page: %d %s", r.status, r.body)
		}
	})
}
