package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/soar"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// fakeEvents answers hunts with fixed rows and records what it was asked.
type fakeEvents struct {
	mu      sync.Mutex
	queries []eventstore.Query
}

func (f *fakeEvents) Write(context.Context, []*event.Event) (eventstore.WriteResult, error) {
	return eventstore.WriteResult{}, nil
}
func (f *fakeEvents) Flush(context.Context) error { return nil }
func (f *fakeEvents) DurableAfter() time.Duration { return 0 }
func (f *fakeEvents) Stats() eventstore.Stats {
	return eventstore.Stats{Rows: 1234567, BytesOnDisk: 5 << 20}
}
func (f *fakeEvents) Close() error { return nil }
func (f *fakeEvents) Existing(context.Context, string, []string, time.Time, time.Time) (map[string]bool, error) {
	return nil, nil
}

func (f *fakeEvents) Query(_ context.Context, q eventstore.Query, fn func(eventstore.Row) error) error {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	if strings.Contains(q.LogsQL, "bad(") {
		return eventstore.ErrBadQuery
	}
	if q.Tenant != "a" {
		return nil // other tenants have no events
	}
	if strings.Contains(q.LogsQL, "| stats by (_time:") {
		for _, r := range []eventstore.Row{
			{{Name: "_time", Value: "2026-03-01T11:00:00Z"}, {Name: "hits", Value: "2"}},
			{{Name: "_time", Value: "2026-03-01T11:05:00Z"}, {Name: "hits", Value: "1"}},
		} {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}
	for i, user := range []string{"alice", "alice", `<script>x</script>`} {
		row := eventstore.Row{{Name: "_time", Value: "2026-03-01T11:0" + string(rune('0'+i)) + ":00Z"},
			{Name: "_msg", Value: "failed password for " + user}, {Name: "user.name", Value: user}}
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

var _ eventstore.EventStore = (*fakeEvents)(nil)

// tokens maps bearer tokens to identities; sessions cookies to identities
// with a CSRF secret.
type identities map[string]api.Identity

func (m identities) Authenticate(_ context.Context, tok string) (api.Identity, error) {
	if id, ok := m[tok]; ok {
		return id, nil
	}
	return api.Identity{}, api.ErrDenied
}

func (m identities) AuthenticateSession(_ context.Context, cookie, _ string) (api.Identity, error) {
	if id, ok := m["cookie:"+cookie]; ok {
		return id, nil
	}
	return api.Identity{}, api.ErrDenied
}

type fixture struct {
	srv     *httptest.Server
	events  *fakeEvents
	cases   *cases.Service
	console *Service
	now     time.Time
	soar    *soar.Service
	// incA is an incident of tenant a with one alert, alertA.
	incA, alertA string
}

var now0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	f := &fixture{events: &fakeEvents{}, now: now0}
	clock := func() time.Time { return f.now }
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	f.cases = cases.New(db, cases.Options{Now: clock, Log: log})
	users := auth.NewUsers(db, auth.UsersOptions{Now: clock, Log: log, FastHashing: true})
	tokens := auth.NewTokenStore(db, clock)
	if _, err := users.Create(context.Background(), auth.NewUser{Tenant: "a", Username: "alice", Password: "correct-horse-battery-9", Role: api.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tokens.Create(context.Background(), auth.TokenSpec{Tenant: "a", Name: "shipper-a", Role: api.RoleIngest}); err != nil {
		t.Fatal(err)
	}
	ids := identities{
		"admin-a":     {Subject: "token:admin-a", Tenant: "a", Role: api.RoleAdmin, Method: api.AuthToken},
		"analyst-a":   {Subject: "token:analyst-a", Tenant: "a", Role: api.RoleSecurityAnalyst, Method: api.AuthToken},
		"responder-b": {Subject: "token:responder-b", Tenant: "b", Role: api.RoleIncidentResponder, Method: api.AuthToken},
		"ingest-a":    {Subject: "token:ingest-a", Tenant: "a", Role: api.RoleIngest, Method: api.AuthToken},
		"auditor-a":   {Subject: "token:auditor-a", Tenant: "a", Role: api.RoleAuditor, Method: api.AuthToken},
		"responder-a": {Subject: "token:responder-a", Tenant: "a", Role: api.RoleIncidentResponder, Method: api.AuthToken},
		"engineer-a":  {Subject: "token:engineer-a", Tenant: "a", Role: api.RoleSecurityEngineer, Method: api.AuthToken},
		"cookie:s-responder-a": {Subject: "user:rita", TokenID: "ses1", Tenant: "a", Role: api.RoleIncidentResponder,
			Method: api.AuthPassword, CSRF: "csrf-secret"},
		"cookie:s-admin-a": {Subject: "user:alice", TokenID: "ses2", Tenant: "a", Role: api.RoleAdmin,
			Method: api.AuthPassword, CSRF: "csrf-secret"},
	}
	s := api.New(api.Deps{Auth: ids, Store: f.events, Log: log, PublicPaths: []string{"/healthz"}})
	s.UseAccess(api.AccessHooks{Sessions: ids, Now: clock})
	f.mountDomains(t, db, s, clock, log)
	s.Mount(api.AccessRoutes(&api.AccessService{Users: users, Tokens: tokens, DB: db, Now: clock, Log: log, Roles: auth.NewRoles(db)})...)
	ticks := make(chan time.Time)
	var err error
	f.console, err = New(Options{Events: f.events, Cases: f.cases, Users: users, Tokens: tokens, DB: db, Now: clock, Log: log, API: s,
		Health: func() Health { return Health{Version: "test", Ready: "ready", Retention: "7d", StoreRows: 42} },
		Metrics: func(w io.Writer) {
			_, _ = io.WriteString(w, `wacht_store_events_written_total 100
wacht_ingest_accepted_total{listener="syslog_tcp",format="rfc5424"} 90
`)
		},
		Tick: func() (<-chan time.Time, func()) { return ticks, func() {} },
	})
	if err != nil {
		t.Fatal(err)
	}
	s.MountPublicAssets("GET "+api.ConsolePrefix+"assets/", f.console.ServeAsset)
	s.MountPages(f.console.Routes()...)
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)

	a, err := f.cases.RaiseAlert(context.Background(), "a", cases.AlertInput{Source: "api", RuleID: "r1", RuleTitle: "Password spraying",
		Severity: cases.SevHigh, Entities: []cases.Entity{{Kind: "user", Value: "alice"}, {Kind: "host", Value: "web-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	f.alertA, f.incA = a.ID, a.IncidentID
	if f.incA == "" {
		t.Fatal("alert did not join an incident")
	}
	return f
}

type resp struct {
	status int
	body   string
	header http.Header
}

// do sends a request; who is a bearer token, "cookie:X" for a session, or
// "" for none. Redirects are not followed.
func (f *fixture) do(t *testing.T, method, path, who string, form url.Values, hdr ...string) resp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	switch {
	case strings.HasPrefix(who, "cookie:"):
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: strings.TrimPrefix(who, "cookie:")})
	case who != "":
		req.Header.Set("Authorization", "Bearer "+who)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, string(b), res.Header}
}

func TestPagesAreAuthorizedAndTenantScoped(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		inc := "/console/incidents/" + f.incA
		cases := []struct {
			name, method, path, who string
			status                  int
			contains                string
		}{
			{"no session: sign in first", "GET", "/console/overview", "", 303, ""},
			{"login page is open", "GET", "/console/login", "", 200, `id="login-form"`},
			{"overview", "GET", "/console/overview", "analyst-a", 200, "Ingest health"},
			{"ingest role may not see the overview", "GET", "/console/overview", "ingest-a", 403, "permission"},
			{"hunt", "GET", "/console/hunt?q=alice", "analyst-a", 200, "failed password for alice"},
			{"ingest role may not hunt", "GET", "/console/hunt", "ingest-a", 403, ""},
			{"alert queue", "GET", "/console/alerts", "analyst-a", 200, "Password spraying"},
			{"alert queue of another tenant is empty", "GET", "/console/alerts", "responder-b", 200, "No alerts"},
			{"incident", "GET", inc, "analyst-a", 200, "Password spraying"},
			{"incident of another tenant is not found", "GET", inc, "responder-b", 404, "Not found"},
			{"incidents", "GET", "/console/incidents", "analyst-a", 200, f.incA},
			{"analyst may not triage", "POST", "/console/alerts/triage", "analyst-a", 403, ""},
			{"auditor may not triage", "POST", "/console/alerts/triage", "auditor-a", 403, ""},
			{"settings", "GET", "/console/settings", "analyst-a", 200, "security-analyst"},
			{"users need users:read", "GET", "/console/settings/users", "analyst-a", 403, ""},
			{"users", "GET", "/console/settings/users", "admin-a", 200, "alice"},
			{"tokens need tokens:read", "GET", "/console/settings/tokens", "analyst-a", 403, ""},
			{"tokens", "GET", "/console/settings/tokens", "admin-a", 200, "shipper-a"},
			{"tokens of another tenant", "GET", "/console/settings/tokens", "responder-b", 403, ""},
			{"home sends to the first page the role has", "GET", "/console/", "analyst-a", 303, ""},
			{"assets are public", "GET", "/console/assets/app.css", "", 200, "--accent"},
			{"unknown asset", "GET", "/console/assets/nope.js", "", 404, ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var form url.Values
				if c.method == "POST" {
					form = url.Values{"action": {"ack"}, "id": {f.alertA}}
				}
				r := f.do(t, c.method, c.path, c.who, form)
				if r.status != c.status || !strings.Contains(r.body, c.contains) {
					t.Fatalf("%s %s as %q: %d, want %d containing %q\n%.600s", c.method, c.path, c.who, r.status, c.status, c.contains, r.body)
				}
				if r.status == 403 && !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
					t.Errorf("refusal is %s, want an HTML page", r.header.Get("Content-Type"))
				}
			})
		}
		// The signed-out redirect keeps where the user wanted to go.
		if r := f.do(t, "GET", "/console/hunt?q=x", "", nil); r.header.Get("Location") != "/console/login?next="+url.QueryEscape("/console/hunt?q=x") {
			t.Errorf("redirect to %q", r.header.Get("Location"))
		}
		// htmx requests are told to load the sign-in page.
		if r := f.do(t, "GET", "/console/hunt?q=x", "", nil, "HX-Request", "true"); r.status != 401 || !strings.HasPrefix(r.header.Get("HX-Redirect"), "/console/login") {
			t.Errorf("htmx signed out: %d %q", r.status, r.header.Get("HX-Redirect"))
		}
		// The hunt asked the store for the caller's tenant only.
		for _, q := range f.events.queries {
			if q.Tenant != "a" && q.Tenant != "b" {
				t.Errorf("query for tenant %q", q.Tenant)
			}
		}
	})
}

func TestTriageNeedsCSRFAndActsOnTheIncident(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		form := url.Values{"action": {"escalate"}, "id": {f.alertA}}
		if r := f.do(t, "POST", "/console/alerts/triage", "cookie:s-responder-a", form); r.status != 403 {
			t.Fatalf("without CSRF header: %d %s", r.status, r.body)
		}
		if r := f.do(t, "POST", "/console/alerts/triage", "cookie:s-responder-a", form, api.CSRFHeader, "wrong"); r.status != 403 {
			t.Fatalf("wrong CSRF header: %d", r.status)
		}
		before, err := f.cases.GetIncident(context.Background(), "a", f.incA)
		if err != nil {
			t.Fatal(err)
		}
		r := f.do(t, "POST", "/console/alerts/triage", "cookie:s-responder-a", form, api.CSRFHeader, "csrf-secret", "HX-Request", "true")
		if r.status != 204 || !strings.Contains(r.header.Get("HX-Redirect"), "Escalated") {
			t.Fatalf("triage: %d %q %s", r.status, r.header.Get("HX-Redirect"), r.body)
		}
		after, err := f.cases.GetIncident(context.Background(), "a", f.incA)
		if err != nil {
			t.Fatal(err)
		}
		if after.Status != cases.StatusTriage || after.Priority != raise(before.Priority) {
			t.Errorf("after escalate: status %s priority %s (was %s)", after.Status, after.Priority, before.Priority)
		}
		// Another tenant cannot touch it, and learns nothing.
		r = f.do(t, "POST", "/console/alerts/triage", "responder-b", url.Values{"action": {"ack"}, "id": {f.alertA}})
		if r.status != 303 || !strings.Contains(r.header.Get("Location"), "0+incident") {
			t.Errorf("other tenant: %d %q", r.status, r.header.Get("Location"))
		}
		if r := f.do(t, "POST", "/console/alerts/triage", "admin-a", url.Values{"action": {"delete"}, "id": {f.alertA}}); r.status != 400 {
			t.Errorf("unknown action: %d", r.status)
		}
	})
}

var (
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	scriptTag    = regexp.MustCompile(`<script[^>]*>`)
	styleAttr    = regexp.MustCompile(`\sstyle=`)
	handlerAttr  = regexp.MustCompile(`\son[a-z]+=`)
	styleTag     = regexp.MustCompile(`<style`)
)

func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.console.Sample()
		for _, p := range []string{"/console/login", "/console/overview", "/console/hunt?q=alice", "/console/hunt?q=bad(",
			"/console/alerts", "/console/alerts?group=host", "/console/incidents", "/console/incidents/" + f.incA,
			"/console/settings", "/console/settings/users", "/console/settings/tokens"} {
			r := f.do(t, "GET", p, "admin-a", nil)
			if r.status != 200 {
				t.Errorf("%s: %d", p, r.status)
				continue
			}
			csp := r.header.Get("Content-Security-Policy")
			if csp == "" || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("%s: CSP %q", p, csp)
			}
			for _, re := range []*regexp.Regexp{inlineScript, styleAttr, handlerAttr, styleTag} {
				if m := re.FindString(r.body); m != "" {
					t.Errorf("%s: inline code %q", p, m)
				}
			}
			for _, tag := range scriptTag.FindAllString(r.body, -1) {
				if !strings.Contains(tag, `src="/console/assets/`) {
					t.Errorf("%s: script not from the console's assets: %s", p, tag)
				}
			}
			if strings.Contains(r.body, "<script>x</script>") {
				t.Errorf("%s: event data rendered unescaped", p)
			}
		}
	})
}

func TestHuntShowsResultsHistogramAndFieldActions(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		r := f.do(t, "GET", "/console/hunt?q=alice&range=1h", "analyst-a", nil, "HX-Request", "true", "HX-Target", "hunt-results")
		if r.status != 200 || strings.Contains(r.body, "<html") {
			t.Fatalf("fragment: %d %.300s", r.status, r.body)
		}
		for _, want := range []string{
			`<b>3</b> hits in the last 1h`, // histogram total
			`data-chart="bars"`,
			`&#34;x&#34;:[1772362800,1772362860,`, // one bucket per minute from the start
			`&#34;y&#34;:[2,0,0,0,0,1,0,`,         // zeros between
			`&#34;from&#34;:1772362800,&#34;to&#34;:1772366400`,
			`user.name <span class="count">3</span>`,                                   // field sidebar
			`href="/console/hunt?q=alice&#43;user.name%3A%3D%22alice%22&amp;range=1h"`, // filter in
			`&lt;script&gt;x&lt;/script&gt;`,
		} {
			if !strings.Contains(r.body, want) {
				t.Errorf("hunt fragment lacks %s\n%s", want, r.body)
			}
		}
		if got := r.header.Get("HX-Push-Url"); got != "/console/hunt?q=alice&range=1h" {
			t.Errorf("HX-Push-Url %q", got)
		}
		var hist *eventstore.Query
		for i, q := range f.events.queries {
			if strings.HasSuffix(q.LogsQL, "| stats by (_time:1m) count() hits") {
				hist = &f.events.queries[i]
			}
		}
		if hist == nil || hist.Tenant != "a" || !hist.End.Equal(now0) || !hist.Start.Equal(now0.Add(-time.Hour)) {
			t.Errorf("histogram query %+v", hist)
		}
		r = f.do(t, "GET", "/console/hunt?q=bad(", "analyst-a", nil)
		if r.status != 200 || !strings.Contains(r.body, `data-testid="hunt-error"`) {
			t.Errorf("bad query: %d", r.status)
		}
		r = f.do(t, "GET", "/console/hunt?q=nothing", "responder-b", nil)
		if !strings.Contains(r.body, `data-testid="hunt-empty"`) {
			t.Errorf("empty result has no guidance")
		}
	})
}

func TestOverviewTilesAndLiveStream(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.console.Sample()
		r := f.do(t, "GET", "/console/overview", "analyst-a", nil)
		for _, want := range []string{"<dd>42</dd>", "syslog_tcp", "rfc5424", `href="/console/alerts?severity=high"`,
			"Open incidents", `data-testid="eps"`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("overview lacks %q", want)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/console/overview/live", nil)
		req.Header.Set("Authorization", "Bearer analyst-a")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("live: %d %s", res.StatusCode, ct)
		}
		buf := make([]byte, 4096)
		n, _ := io.ReadAtLeast(res.Body, buf, 200)
		if got := string(buf[:n]); !strings.HasPrefix(got, "event: tiles\ndata: ") {
			t.Errorf("first event %.200q", got)
		}
	})
}

func TestMetricsSamplerRates(t *testing.T) {
	text := func(written, accepted float64) func(io.Writer) {
		return func(w io.Writer) {
			_, _ = io.WriteString(w, "# HELP x\nwacht_store_events_written_total "+ftoa(written)+"\n"+
				`wacht_ingest_accepted_total{listener="http",format="json"} `+ftoa(accepted)+"\n"+
				`wacht_ingest_dropped_total{listener="syslog_udp",reason="queue_full"} 3`+"\n")
		}
	}
	s := newSampler(text(100, 50))
	t0 := time.Unix(1_700_000_000, 0)
	s.take(t0)
	s.read = text(600, 250)
	s.take(t0.Add(10 * time.Second))
	r := s.rate()
	if r.PerSecond != 50 || len(r.X) != 1 || r.X[0] != t0.Add(10*time.Second).Unix() {
		t.Errorf("rate %+v", r)
	}
	src := s.sources()
	if len(src) != 2 || src[0].Listener != "http" || src[0].PerSecond != 20 || src[1].Dropped != 3 || !src[1].Problem() {
		t.Errorf("sources %+v", src)
	}
	for i := 0; i < sampleKeep+5; i++ {
		s.take(t0.Add(time.Duration(20+i) * time.Second))
	}
	if len(s.ring) != sampleKeep {
		t.Errorf("ring holds %d", len(s.ring))
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
