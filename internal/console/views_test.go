package console

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/sigma"
)

func TestSavedViewsArePerUserAndTenant(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		save := func(who, name, sev, group string) resp {
			t.Helper()
			h := []string{"HX-Request", "true"}
			if strings.HasPrefix(who, "cookie:") {
				h = hx
			}
			return f.do(t, "POST", "/console/alerts/views", who, url.Values{"name": {name}, "severity": {sev}, "group": {group}}, h...)
		}
		// A session without the CSRF token cannot save.
		if r := f.do(t, "POST", "/console/alerts/views", "cookie:s-admin-a", url.Values{"name": {"x"}}, "HX-Request", "true"); r.status != 403 {
			t.Fatalf("save without CSRF: %d, want 403", r.status)
		}
		r := save("cookie:s-admin-a", "High by host", "high", "host")
		loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect"))
		if r.status != 204 || !strings.Contains(loc, "severity=high") || !strings.Contains(loc, "group=host") || !strings.Contains(loc, "view=High by host") {
			t.Fatalf("save: %d %q %s", r.status, loc, r.body)
		}
		// Saving again under the same name replaces it.
		if r := save("cookie:s-admin-a", "High by host", "high", "user"); r.status != 204 {
			t.Fatalf("resave: %d %s", r.status, r.body)
		}
		if r := save("analyst-a", "Mine", "", "rule"); r.status != 204 {
			t.Fatalf("analyst save: %d %s", r.status, r.body)
		}
		page := f.do(t, "GET", "/console/alerts", "cookie:s-admin-a", nil)
		if page.status != 200 || !strings.Contains(page.body, "High by host") || strings.Contains(page.body, "Mine") {
			t.Fatalf("alice's queue: %d, want her view only:\n%s", page.status, page.body)
		}
		if !strings.Contains(page.body, `href="/console/alerts?group=user&amp;severity=high&amp;view=High&#43;by&#43;host"`) {
			t.Fatalf("the view's link does not apply its filters (the replaced grouping):\n%s", page.body)
		}
		// Applying the view: its filters group the queue.
		applied := f.do(t, "GET", "/console/alerts?group=user&severity=high&view=High+by+host", "cookie:s-admin-a", nil)
		if !strings.Contains(applied.body, `class="view current"`) || !strings.Contains(applied.body, `class="group"`) {
			t.Fatalf("applied view not marked or not grouped:\n%s", applied.body)
		}
		other := f.do(t, "GET", "/console/alerts", "analyst-a", nil)
		if !strings.Contains(other.body, "Mine") || strings.Contains(other.body, "High by host") {
			t.Fatalf("analyst's queue shows another user's views:\n%s", other.body)
		}
		// Another tenant's user with the same subject sees nothing of tenant a.
		vs, err := (viewStore{db: db, now: f.console.o.Now}).list(context.Background(), "b", "user:alice", "alerts")
		if err != nil || len(vs) != 0 {
			t.Fatalf("tenant b views of alice: %v %v", vs, err)
		}
		// Bad names are refused with a reason.
		r = save("cookie:s-admin-a", "", "", "")
		if loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect")); !strings.Contains(loc, "needs a name") {
			t.Fatalf("empty name: %d %q", r.status, loc)
		}
		r = save("cookie:s-admin-a", strings.Repeat("x", 61), "", "")
		if loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect")); !strings.Contains(loc, "longer than 60") {
			t.Fatalf("long name: %d %q", r.status, loc)
		}
		// Deleting: another user cannot delete alice's view.
		if r := f.do(t, "POST", "/console/alerts/views/delete", "analyst-a", url.Values{"name": {"High by host"}}, "HX-Request", "true"); r.status != 204 {
			t.Fatalf("analyst delete: %d", r.status)
		}
		if page := f.do(t, "GET", "/console/alerts", "cookie:s-admin-a", nil); !strings.Contains(page.body, "High by host") {
			t.Fatal("another user deleted alice's view")
		}
		r = f.do(t, "POST", "/console/alerts/views/delete", "cookie:s-admin-a", url.Values{"name": {"High by host"}}, hx...)
		if loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect")); r.status != 204 || !strings.Contains(loc, "deleted") {
			t.Fatalf("delete: %d %q", r.status, loc)
		}
		if page := f.do(t, "GET", "/console/alerts", "cookie:s-admin-a", nil); strings.Contains(page.body, "High by host") {
			t.Fatal("deleted view still listed")
		}
		// Roles without alerts:read cannot save views.
		if r := save("ingest-a", "x", "", ""); r.status != 403 {
			t.Fatalf("ingest save: %d, want 403", r.status)
		}
	})
}

func TestSavedViewLimit(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		v := viewStore{db: db, now: f.console.o.Now}
		ctx := context.Background()
		for i := range maxViews {
			if err := v.save(ctx, "a", "user:x", "alerts", "v"+string(rune('A'+i%26))+strings.Repeat("z", i/26), "group=rule"); err != nil {
				t.Fatal(err)
			}
		}
		if err := v.save(ctx, "a", "user:x", "alerts", "one more", ""); err == nil || !isUserError(err) {
			t.Fatalf("view %d: %v, want a user error", maxViews+1, err)
		}
		// Replacing an existing one is still allowed at the limit.
		if err := v.save(ctx, "a", "user:x", "alerts", "vA", "severity=low"); err != nil {
			t.Fatalf("replace at limit: %v", err)
		}
	})
}

func TestViewQueryKeepsOnlyFilters(t *testing.T) {
	got := viewQuery(url.Values{"severity": {"high"}, "group": {"none"}, "msg": {"x"}, "view": {"v"}, "name": {"n"}})
	if got != "severity=high" {
		t.Fatalf("viewQuery = %q", got)
	}
}

func TestBuildRuleDraft(t *testing.T) {
	cases := []struct {
		q                  string
		want, not, skipped []string
		logsource          string
	}{
		{q: `event.action:ssh_login event.outcome:="failure" -source.ip:10.0.0.1 | stats count()`,
			want:      []string{"event.action: ssh_login", "event.outcome: failure", "filter:", "source.ip: 10.0.0.1", "condition: selection and not filter"},
			skipped:   []string{"| stats count()"},
			logsource: "service: sshd"},
		{q: `error timeout`, want: []string{"keywords:", "- error", "- timeout", "condition: keywords"}, logsource: "product: wacht"},
		{q: `process.command_line:~"-enc [A-Za-z0-9+/=]+" process.name:powershell*`,
			want:      []string{"process.command_line|re: -enc [A-Za-z0-9+/=]+", "process.name|startswith: powershell"},
			logsource: "category: process_creation"},
		{q: `url.path:/admin OR url.path:/login _time:5m`, want: []string{"url.path:", "- /admin", "- /login"}, skipped: []string{"OR", "_time:5m"}, logsource: "category: webserver"},
		{q: `(a OR b)`, want: []string{"keywords:", "- (a OR b)"}},
	}
	for _, c := range cases {
		d, err := buildRuleDraft(c.q, "alice", "2026-11-27")
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		for _, w := range append(c.want, "status: experimental", "author: alice", "date: \"2026-11-27\"", "logsource:") {
			if !strings.Contains(d.YAML, w) {
				t.Errorf("%s: draft lacks %q:\n%s", c.q, w, d.YAML)
			}
		}
		if c.logsource != "" && !strings.Contains(d.YAML, c.logsource) {
			t.Errorf("%s: logsource is not %q:\n%s", c.q, c.logsource, d.YAML)
		}
		for _, s := range c.skipped {
			if !strings.Contains(strings.Join(d.Skipped, " "), s) {
				t.Errorf("%s: skipped %q does not name %q", c.q, d.Skipped, s)
			}
		}
		rules, err := sigma.ParseRules(d.File, []byte(d.YAML))
		if err != nil || len(rules) != 1 {
			t.Fatalf("%s: the draft is not a Sigma rule: %v\n%s", c.q, err, d.YAML)
		}
		if r := rules[0]; r.Status != "experimental" || r.Author != "alice" || r.Detection == nil {
			t.Fatalf("%s: parsed draft %+v", c.q, r)
		}
	}
	for _, bad := range []string{"", "  ", "a\nb"} {
		if _, err := buildRuleDraft(bad, "alice", "2026-11-27"); err == nil || !isUserError(err) {
			t.Errorf("query %q: %v, want a user error", bad, err)
		}
	}
}

func TestRuleDraftPage(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		q := url.Values{"q": {`user.name:alice event.outcome:failure`}, "range": {"24h"}}
		page := f.do(t, "GET", "/console/hunt/rule-draft?"+q.Encode(), "cookie:s-admin-a", nil)
		if page.status != 200 || !strings.Contains(page.body, "user.name: alice") || !strings.Contains(page.body, "author: alice") ||
			!strings.Contains(page.body, `data-copy="#rule-draft"`) {
			t.Fatalf("draft page: %d\n%s", page.status, page.body)
		}
		q.Set("download", "1")
		dl := f.do(t, "GET", "/console/hunt/rule-draft?"+q.Encode(), "analyst-a", nil)
		if dl.status != 200 || !strings.Contains(dl.header.Get("Content-Disposition"), `attachment; filename="draft_user_name_alice_event_outcome_failure.yml"`) ||
			!strings.HasPrefix(dl.body, "title: 'Hunt: user.name:alice") || !strings.Contains(dl.body, "author: analyst-a") {
			t.Fatalf("download: %d %v\n%s", dl.status, dl.header, dl.body)
		}
		if r := f.do(t, "GET", "/console/hunt/rule-draft?q=", "analyst-a", nil); r.status != 200 || !strings.Contains(r.body, "needs a hunt query") {
			t.Fatalf("empty query: %d %s", r.status, r.body)
		}
		if r := f.do(t, "GET", "/console/hunt/rule-draft?"+q.Encode(), "ingest-a", nil); r.status != 403 {
			t.Fatalf("ingest: %d, want 403", r.status)
		}
		// The hunt page offers the draft once a query ran.
		h := f.do(t, "GET", "/console/hunt?q=error", "analyst-a", nil)
		if !strings.Contains(h.body, `data-testid="rule-draft-link"`) {
			t.Fatalf("hunt page lacks the rule draft link:\n%s", h.body)
		}
	})
}

func TestCustomRolesFromTheConsole(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		name := "triager-" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-")
		t.Cleanup(func() { _ = api.UndefineRole(name) })
		list := f.do(t, "GET", "/console/settings/roles", "admin-a", nil)
		if list.status != 200 || !strings.Contains(list.body, `data-role="security-analyst"`) || !strings.Contains(list.body, `data-testid="role-form"`) {
			t.Fatalf("roles tab: %d\n%s", list.status, list.body)
		}
		put := func(who string, form url.Values) resp {
			t.Helper()
			return f.do(t, "POST", "/console/settings/roles", who, form, "HX-Request", "true")
		}
		r := put("admin-a", url.Values{"name": {name}, "description": {"triage only"}, "grants": {"alerts:read, cases:read\ncases:write"}, "denies": {"cases:delete"}})
		if loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect")); r.status != 204 || !strings.Contains(loc, "Role "+name+" saved") {
			t.Fatalf("create: %d %q %s", r.status, loc, r.body)
		}
		if !api.Allowed(name, "cases:write") || api.Allowed(name, "cases:delete") || api.Allowed(name, "users:read") {
			t.Fatal("the saved role does not grant what the form said")
		}
		edit := f.do(t, "GET", "/console/settings/roles?edit="+name, "admin-a", nil)
		if !strings.Contains(edit.body, "alerts:read cases:read cases:write</textarea>") || !strings.Contains(edit.body, ">cases:delete</textarea>") {
			t.Fatalf("edit form not filled with the role (or shows the credential denies):\n%s", edit.body)
		}
		// Bad patterns are refused before the API.
		r = put("admin-a", url.Values{"name": {name}, "grants": {"cases"}})
		if loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect")); !strings.Contains(loc, `grant pattern "cases" is not resource:verb`) {
			t.Fatalf("bad pattern: %d %q", r.status, loc)
		}
		// Built-in roles cannot be changed: the API's reason is shown.
		r = put("admin-a", url.Values{"name": {"admin"}, "grants": {"*:read"}})
		if loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect")); !strings.Contains(loc, "built in") {
			t.Fatalf("redefine admin: %d %q", r.status, loc)
		}
		// A person needs a second factor: the page asks for it.
		r = f.do(t, "POST", "/console/settings/roles", "cookie:s-admin-a", url.Values{"name": {name}, "grants": {"alerts:read"}}, hx...)
		if r.status != 200 || !strings.Contains(r.body, "Confirm it is you") || !strings.Contains(r.body, `value="alerts:read"`) {
			t.Fatalf("session change without step-up: %d\n%s", r.status, r.body)
		}
		// An analyst may not read or write roles.
		if r := f.do(t, "GET", "/console/settings/roles", "analyst-a", nil); r.status != 403 {
			t.Fatalf("analyst roles tab: %d, want 403", r.status)
		}
		r = f.do(t, "POST", "/console/settings/roles/"+name+"/delete", "admin-a", url.Values{}, "HX-Request", "true")
		if loc, _ := url.QueryUnescape(r.header.Get("HX-Redirect")); r.status != 204 || !strings.Contains(loc, "deleted") {
			t.Fatalf("delete: %d %q %s", r.status, loc, r.body)
		}
		if api.Allowed(name, "cases:read") || strings.Contains(f.do(t, "GET", "/console/settings/roles", "admin-a", nil).body, name) {
			t.Fatal("deleted role still there")
		}
	})
}

func TestTenantsTab(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		r := f.do(t, "GET", "/console/settings/tenants", "cookie:s-admin-a", nil)
		if r.status != 200 || !strings.Contains(r.body, `data-tenant="a" class="current"`) || !strings.Contains(r.body, "<td>admin</td>\n<td>1</td><td>1</td>") {
			t.Fatalf("tenants tab of alice: %d\n%s", r.status, r.body)
		}
		// A token sees its own tenant, without counts its role may not see.
		r = f.do(t, "GET", "/console/settings/tenants", "analyst-a", nil)
		if r.status != 200 || !strings.Contains(r.body, `data-tenant="a"`) || strings.Contains(r.body, `data-tenant="b"`) ||
			!strings.Contains(r.body, "may not list users") {
			t.Fatalf("tenants tab of an analyst token: %d\n%s", r.status, r.body)
		}
	})
}

// FuzzBuildRuleDraft: any one-line query gives a draft that is a Sigma
// rule, or a user error; never a panic.
func FuzzBuildRuleDraft(f *testing.F) {
	for _, s := range []string{`event.action:ssh_login -source.ip:10.0.0.1 | stats count()`, `error`, `a:~"x(" OR (b:c)`,
		`"quoted: colon" x:'y z'`, `-`, `_msg:"a\"b"`, `*:*`, `f:=`, `a:b* c:>5`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		d, err := buildRuleDraft(q, "fuzz", "2026-11-27")
		if err != nil {
			if !isUserError(err) {
				t.Fatalf("query %q: %v is not a user error", q, err)
			}
			return
		}
		rules, err := sigma.ParseRules(d.File, []byte(d.YAML))
		if err != nil || len(rules) != 1 {
			t.Fatalf("query %q: draft is not one Sigma rule (%v):\n%s", q, err, d.YAML)
		}
	})
}
