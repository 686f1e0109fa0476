package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium; the test is skipped without it
// unless WACHT_REQUIRE_CHROMIUM is set (scripts/test.sh installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("WACHT_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("WACHT_REQUIRE_CHROMIUM") != "" {
		t.Fatal("chromium not found: apt-get install -y chromium chromium-driver")
	}
	t.Skip("chromium not installed (apt-get install -y chromium chromium-driver)")
	return ""
}

// TestConsoleInChromium signs in to the console in a real browser, runs a
// hunt and sees its results and histogram, triages an alert with the
// keyboard, opens its incident, and checks that no page broke the
// Content-Security-Policy or logged an error. Screenshots of each page go
// to $WACHT_TEST_SCREENSHOTS (else a temporary folder).
func TestConsoleInChromium(t *testing.T) {
	chrome := chromiumPath(t)
	n := newNode(t)
	addUser(t, n, "alice", "correct-horse-battery-9", "admin")
	n.start()
	auth := "Bearer " + n.token

	var lines strings.Builder
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&lines, `{"message":"failed password for alice from 10.0.0.%d","user":{"name":"alice"},"host":{"name":"web-%d"},"i":%d}`+"\n", i%7, i%3, i)
	}
	if st, b, _ := n.do("POST", "/api/v1/ingest", auth, []byte(lines.String())); st != 200 {
		t.Fatalf("ingest: %d %s", st, b)
	}
	alert := `{"source":"api","rule_id":"brute-force","rule_title":"Password spraying","severity":"high",
		"entities":[{"kind":"user","value":"alice"},{"kind":"host","value":"web-1"}]}`
	if st, b, _ := n.do("POST", "/api/v1/alerts", auth, []byte(alert)); st != 200 && st != 201 {
		t.Fatalf("raise alert: %d %s", st, b)
	}
	// The ingested events are searchable once the store flushed them.
	deadline := time.Now().Add(30 * time.Second)
	for len(n.search(`alice`)) < 60 {
		if time.Now().After(deadline) {
			t.Fatal("events not searchable after 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}

	shots := os.Getenv("WACHT_TEST_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 180*time.Second)
	defer cancelT()

	// Collect what the browser complains about: CSP violations arrive as
	// log entries and as securitypolicyviolation events (recorded by a
	// script the test injects through the protocol, which CSP does not
	// govern), errors as console calls and exceptions.
	var mu sync.Mutex
	var problems []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			if e.Entry.Level == log.LevelError || strings.Contains(e.Entry.Text, "Content Security Policy") {
				problems = append(problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				problems = append(problems, "console.error: "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Error())
		}
	})
	base := "http://" + n.httpAddr
	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var png []byte
			if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	var violations []string
	var text, url string
	// csp gathers the page's securitypolicyviolation records.
	csp := chromedp.ActionFunc(func(ctx context.Context) error {
		var v []string
		if err := chromedp.Evaluate(`window.__csp || []`, &v).Do(ctx); err != nil {
			return err
		}
		violations = append(violations, v...)
		return nil
	})
	err := chromedp.Run(ctx,
		log.Enable(),
		runtime.Enable(),
		chromedp.ActionFunc(func(ctx context.Context) error {
			_, err := page.AddScriptToEvaluateOnNewDocument(`window.__csp = [];
				document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`).Do(ctx)
			return err
		}),
		// Signed out: the console sends the browser to the sign-in page.
		chromedp.Navigate(base+"/console/overview"),
		chromedp.WaitVisible(`#login-form`),
		chromedp.Location(&url),
		shot("01-login"), csp,
		chromedp.SendKeys(`input[name=username]`, "alice"),
		chromedp.SendKeys(`input[name=password]`, "correct-horse-battery-9"),
		chromedp.Click(`#login-form button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=eps]`),
		chromedp.WaitVisible(`[data-testid=ingest-health]`),
		shot("02-overview"), csp,
	)
	if err != nil {
		t.Fatalf("sign in: %v (problems %v)", err, problems)
	}
	if !strings.Contains(url, "/console/login?next=") {
		t.Errorf("signed-out overview went to %s, want the sign-in page", url)
	}

	// Hunt: type a query, run it in place (htmx), see rows and a chart.
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/hunt"),
		chromedp.WaitVisible(`#hunt-q`),
		chromedp.SendKeys(`#hunt-q`, `alice`),
		chromedp.Click(`#hunt-form button[type=submit]`),
		chromedp.WaitVisible(`#hunt-histogram canvas`),
		chromedp.WaitVisible(`#hunt-table tbody tr`),
		chromedp.Text(`[data-testid=hunt-summary]`, &text),
		chromedp.Location(&url),
		shot("03-hunt"), csp,
	)
	if err != nil {
		t.Fatalf("hunt: %v (problems %v)", err, problems)
	}
	if !strings.Contains(text, "60 hits") {
		t.Errorf("hunt summary %q, want 60 hits", text)
	}
	if !strings.Contains(url, "q=alice") {
		t.Errorf("hunt did not push its query into the address: %s", url)
	}

	// Alert queue: j selects the first row, a acknowledges it.
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/alerts"),
		chromedp.WaitVisible(`table.queue tbody tr`),
		chromedp.KeyEvent("j"),
		chromedp.KeyEvent("a"),
		chromedp.WaitVisible(`[data-testid=alerts-message]`),
		chromedp.Text(`[data-testid=alerts-message]`, &text),
		shot("04-alerts"), csp,
	)
	if err != nil {
		t.Fatalf("alert queue: %v (problems %v)", err, problems)
	}
	if !strings.Contains(text, "Acknowledged: 1 incident") {
		t.Errorf("triage said %q", text)
	}

	// The incident of that alert, now in triage.
	err = chromedp.Run(ctx,
		chromedp.Click(`table.queue a.open-incident`),
		chromedp.WaitVisible(`ol.timeline`),
		chromedp.Text(`p.meta`, &text),
		shot("05-incident"), csp,
		chromedp.Navigate(base+"/console/settings/users"),
		chromedp.WaitVisible(`[data-testid=users]`),
		shot("06-users"), csp,
	)
	if err != nil {
		t.Fatalf("incident: %v (problems %v)", err, problems)
	}
	if !strings.Contains(text, "triage") {
		t.Errorf("incident after acknowledge: %q, want status triage", text)
	}
	// Work the incident in the browser: a comment through its form (htmx
	// with the session's CSRF header) lands in the timeline.
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/incidents"),
		chromedp.Click(`table.list tbody a`),
		chromedp.WaitVisible(`form.comment textarea`),
		chromedp.SendKeys(`form.comment textarea`, "e2e: blocked 10.0.0.3 at the edge"),
		chromedp.Click(`form.comment button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=incident-message]`),
		chromedp.Text(`ol.timeline`, &text),
		shot("07-incident-edited"), csp,
	)
	if err != nil {
		t.Fatalf("comment on the incident: %v (problems %v)", err, problems)
	}
	if !strings.Contains(text, "blocked 10.0.0.3 at the edge") {
		t.Errorf("comment not in the timeline: %q", text)
	}

	// Approve a playbook step: a playbook that asks first, run by API;
	// the inbox shows the waiting step; approving asks a password-only
	// session to prove itself again, then decides.
	pb := "name: ask-first\non: { manual: {} }\nsteps:\n  - id: ask\n    uses: approval\n    with: { role: incident-responder, timeout: 1h, message: \"Block 10.0.0.3?\" }\n"
	if st, b, _ := n.do("POST", "/api/v1/playbooks", auth, []byte(pb), "Content-Type", "application/yaml"); st != 201 {
		t.Fatalf("apply playbook: %d %s", st, b)
	}
	st, b, _ := n.do("POST", "/api/v1/playbooks/ask-first/run", auth, []byte(`{}`), "Content-Type", "application/json")
	if st != 201 {
		t.Fatalf("run playbook: %d %s", st, b)
	}
	var run struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &run); err != nil || run.ID == "" {
		t.Fatalf("run playbook answered %s (%v)", b, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, b, _ := n.do("GET", "/api/v1/approvals", auth, nil); strings.Contains(string(b), "ask-first") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the approval step did not start within 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/approvals"),
		chromedp.WaitVisible(`[data-testid=approvals] [data-testid=approve]`),
		shot("08-approvals"), csp,
		chromedp.Click(`[data-testid=approvals] [data-testid=approve]`),
		chromedp.WaitVisible(`[data-testid=stepup-password]`),
		shot("09-step-up"), csp,
		chromedp.SendKeys(`[data-testid=stepup-password]`, "correct-horse-battery-9"),
		chromedp.Click(`[data-testid=stepup-submit]`),
		chromedp.WaitVisible(`[data-testid=notice]`),
		chromedp.Text(`[data-testid=notice]`, &text),
		shot("10-approved"), csp,
	)
	if err != nil {
		t.Fatalf("approve: %v (problems %v)", err, problems)
	}
	if !strings.Contains(text, "Approved: step ask") {
		t.Errorf("approval said %q", text)
	}
	if _, b, _ := n.do("GET", "/api/v1/playbook-runs/"+run.ID, auth, nil); !strings.Contains(string(b), `"decided_by":"user:alice"`) {
		t.Errorf("run after approval: %s", b)
	}

	// Revoke an API token from the settings page (alice proved her
	// password for the approval minutes ago, so no second prompt).
	if st, b, _ := n.do("POST", "/api/v1/tokens", auth, []byte(`{"name":"temp-ci","role":"ingest","ttl":"1h"}`), "Content-Type", "application/json"); st != 201 {
		t.Fatalf("create token: %d %s", st, b)
	}
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/settings/tokens"),
		chromedp.WaitVisible(`[data-testid=tokens] tr[data-name="temp-ci"] form[hx-post$="/revoke"] button`),
		chromedp.Click(`[data-testid=tokens] tr[data-name="temp-ci"] form[hx-post$="/revoke"] button`),
		chromedp.WaitVisible(`[data-testid=notice]`),
		chromedp.Text(`[data-testid=notice]`, &text),
		shot("10b-token-revoked"), csp,
	)
	if err != nil {
		t.Fatalf("revoke token: %v (problems %v)", err, problems)
	}
	if !strings.Contains(text, "revoked") {
		t.Errorf("revoke said %q", text)
	}

	// Saved views: save the queue's filters and grouping under a name,
	// open the plain queue, re-apply the view from its link, delete it.
	var viewHref string
	var grouped bool
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/alerts?severity=high&group=rule"),
		chromedp.WaitVisible(`[data-testid=saved-views] form.save-view input[name=name]`),
		chromedp.SendKeys(`[data-testid=saved-views] form.save-view input[name=name]`, "e2e high by rule"),
		chromedp.Click(`[data-testid=saved-views] form.save-view button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=alerts-message]`),
		chromedp.Text(`[data-testid=alerts-message]`, &text),
	)
	if err != nil {
		t.Fatalf("save a view: %v (problems %v)", err, problems)
	}
	if !strings.Contains(text, "View e2e high by rule saved") {
		t.Errorf("saving the view said %q", text)
	}
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/alerts"),
		chromedp.WaitVisible(`[data-testid=view-link]`),
		chromedp.AttributeValue(`[data-testid=view-link]`, "href", &viewHref, nil),
		chromedp.Click(`[data-testid=view-link]`),
		chromedp.WaitVisible(`.view.current`),
		chromedp.Location(&url),
		chromedp.Evaluate(`document.querySelectorAll("#alert-queue details.group").length > 0 &&
			document.querySelector('select[name=severity]').value === "high"`, &grouped),
		shot("10c-saved-view-applied"), csp,
		chromedp.Click(`.view.current form button`),
		chromedp.WaitVisible(`[data-testid=alerts-message]`),
		chromedp.Text(`[data-testid=alerts-message]`, &text),
	)
	if err != nil {
		t.Fatalf("apply and delete a view: %v (problems %v)", err, problems)
	}
	if !strings.Contains(url, "group=rule") || !strings.Contains(url, "severity=high") || !grouped {
		t.Errorf("the view applied %s (grouped and filtered: %v), want high alerts grouped by rule", url, grouped)
	}
	if !strings.Contains(text, "View e2e high by rule deleted") {
		t.Errorf("deleting the view said %q", text)
	}

	// Hunt: save the query as a Sigma rule draft, copy and download it.
	var draft, downloaded string
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/hunt?q=user.name%3Aalice+failed&range=24h"),
		chromedp.WaitVisible(`[data-testid=rule-draft-link]`),
		chromedp.Click(`[data-testid=rule-draft-link]`),
		chromedp.WaitVisible(`[data-testid=rule-draft]`),
		chromedp.Text(`[data-testid=rule-draft]`, &draft),
		chromedp.Click(`[data-testid=draft-copy]`),
		chromedp.Poll(`document.getElementById("copy-status").textContent !== ""`, nil),
		chromedp.Evaluate(`fetch(document.querySelector("[data-testid=draft-download]").href).then(r => r.text())`, &downloaded,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		shot("10d-rule-draft"), csp,
	)
	if err != nil {
		t.Fatalf("rule draft: %v (problems %v)", err, problems)
	}
	for _, want := range []string{"status: experimental", "author: alice", "user.name: alice", "- failed", "condition: selection and keywords"} {
		if !strings.Contains(draft, want) {
			t.Errorf("rule draft lacks %q:\n%s", want, draft)
		}
	}
	if !strings.Contains(downloaded, "user.name: alice") {
		t.Errorf("downloaded draft: %q", downloaded)
	}

	// Admin: create a custom role, see it listed, delete it (alice's
	// second factor is still fresh); the tenants view lists her tenant.
	var gone bool
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/settings/roles"),
		chromedp.WaitVisible(`[data-testid=role-form]`),
		chromedp.SendKeys(`[data-testid=role-form] input[name=name]`, "e2e-triager"),
		chromedp.SendKeys(`[data-testid=role-form] input[name=description]`, "reads alerts and incidents"),
		chromedp.SendKeys(`[data-testid=role-form] textarea[name=grants]`, "alerts:read cases:read"),
		chromedp.Click(`[data-testid=role-form] button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=roles] tr[data-role="e2e-triager"]`),
		chromedp.Text(`[data-testid=notice]`, &text),
		shot("10e-role-created"), csp,
	)
	if err != nil {
		t.Fatalf("create a role: %v (problems %v)", err, problems)
	}
	if !strings.Contains(text, "Role e2e-triager saved") {
		t.Errorf("creating the role said %q", text)
	}
	if _, b, _ := n.do("GET", "/api/v1/roles", auth, nil); !strings.Contains(string(b), `"name":"e2e-triager"`) {
		t.Errorf("the API does not list the new role: %s", b)
	}
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid=roles] tr[data-role="e2e-triager"] form button`),
		// The notice of the create is still shown until the swap: wait
		// for the row to go before reading it.
		chromedp.WaitNotPresent(`[data-testid=roles] tr[data-role="e2e-triager"]`),
		chromedp.WaitVisible(`[data-testid=notice]`),
		chromedp.Text(`[data-testid=notice]`, &text),
		chromedp.Evaluate(`document.querySelector('[data-testid=roles] tr[data-role="e2e-triager"]') === null`, &gone),
		chromedp.Navigate(base+"/console/settings/tenants"),
		chromedp.WaitVisible(`[data-testid=tenants] tr[data-tenant]`),
		shot("10f-tenants"), csp,
	)
	if err != nil {
		t.Fatalf("delete a role: %v (problems %v)", err, problems)
	}
	if !strings.Contains(text, "Role e2e-triager deleted") || !gone {
		t.Errorf("deleting the role said %q (row gone: %v)", text, gone)
	}

	// From the incident: flag it for NIS2 (the clocks start) and run the
	// playbook on it; both show on its page.
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/incidents"),
		chromedp.Click(`table.list tbody a`),
		chromedp.WaitVisible(`form[hx-post$="/regulatory"] button`),
		chromedp.Click(`form[hx-post$="/regulatory"] button`),
		chromedp.WaitVisible(`[data-testid=reg-clocks]`),
		chromedp.Click(`form[hx-post$="/run"] button`),
		chromedp.WaitVisible(`[data-testid=runs]`),
		chromedp.Text(`[data-testid=runs]`, &text),
		shot("11-incident-clocks-and-run"), csp,
	)
	if err != nil {
		t.Fatalf("incident clocks and playbook: %v (problems %v)", err, problems)
	}
	if !strings.Contains(text, "ask-first") {
		t.Errorf("incident's playbook runs: %q", text)
	}
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid=reg-clocks] a`),
		chromedp.WaitVisible(`section.report`),
		chromedp.Text(`h1`, &text),
		shot("11b-report-draft"), csp,
	)
	if err != nil {
		t.Fatalf("report draft: %v (problems %v)", err, problems)
	}
	if !strings.Contains(text, "report draft") {
		t.Errorf("report draft heading %q", text)
	}

	// Threat intel: an indicator imported by API is found by the lookup.
	if st, b, _ := n.do("POST", "/api/v1/intel/import?format=plain&source=e2e-feed", auth, []byte("198.51.100.23\n"), "Content-Type", "text/plain"); st != 200 && st != 201 {
		t.Fatalf("intel import: %d %s", st, b)
	}
	if err := chromedp.Run(ctx, chromedp.Navigate(base+"/console/intel?lookup=198.51.100.23"), chromedp.WaitVisible(`[data-testid=lookup]`),
		chromedp.Text(`[data-testid=lookup]`, &text), shot("12-intel-lookup"), csp); err != nil {
		t.Fatalf("intel lookup: %v (problems %v)", err, problems)
	}
	if !strings.Contains(text, "e2e-feed") {
		t.Errorf("intel lookup shows %q, want the e2e-feed indicator", text)
	}

	// Compliance: after an evaluation, the ISO 27001 dashboard shows its
	// coverage and all 93 controls, each with its status.
	if st, b, _ := n.do("POST", "/api/v1/compliance/evaluate", auth, []byte(`{}`), "Content-Type", "application/json"); st/100 != 2 {
		t.Fatalf("compliance evaluate: %d %s", st, b)
	}
	var controls int
	if err := chromedp.Run(ctx, chromedp.Navigate(base+"/console/compliance"), chromedp.WaitVisible(`[data-testid=frameworks] tr[data-framework="iso27001-2022"]`),
		shot("12b-compliance"), csp,
		chromedp.Click(`[data-testid=frameworks] tr[data-framework="iso27001-2022"] a`),
		chromedp.WaitVisible(`[data-testid=compliance-dashboard]`),
		chromedp.Evaluate(`document.querySelectorAll('[data-testid=requirements] tr[data-requirement]').length`, &controls),
		chromedp.Text(`[data-testid=compliance-dashboard]`, &text), shot("12c-compliance-iso27001"), csp); err != nil {
		t.Fatalf("compliance dashboard: %v (problems %v)", err, problems)
	}
	if controls != 93 || !strings.Contains(text, "requirements have automated checks") {
		t.Errorf("ISO 27001 dashboard: %d controls, text %q", controls, text)
	}

	// The other pages render without breaking the CSP.
	for i, pg := range []struct{ path, wait string }{
		{"/console/playbooks/runs", `[data-testid=runs]`},
		{"/console/rules", `[data-testid=rules]`},
		{"/console/attack", `[data-testid=attack-matrix]`},
		{"/console/intel", `[data-testid=indicators]`},
		{"/console/audit", `[data-testid=audit]`},
		{"/console/risk", `[data-testid=risk], main .empty`},
		{"/console/overview", `[data-testid=reg-deadlines]`},
	} {
		name := fmt.Sprintf("%02d-%s", 13+i, strings.ReplaceAll(strings.TrimPrefix(pg.path, "/console/"), "/", "-"))
		if err := chromedp.Run(ctx, chromedp.Navigate(base+pg.path), chromedp.WaitVisible(pg.wait), shot(name), csp); err != nil {
			t.Fatalf("%s: %v (problems %v)", pg.path, err, problems)
		}
	}
	// The ? overlay lists the shortcuts.
	var overlay string
	if err := chromedp.Run(ctx, chromedp.KeyEvent("?"), chromedp.WaitVisible(`#shortcuts`), chromedp.Text(`#shortcuts`, &overlay), shot("19-shortcuts")); err != nil {
		t.Fatalf("shortcut overlay: %v", err)
	}
	if !strings.Contains(overlay, "approvals inbox") {
		t.Errorf("overlay: %q", overlay)
	}
	// The other theme, chosen with t (kept in the browser).
	var theme string
	if err := chromedp.Run(ctx, chromedp.KeyEvent("\x1b"), chromedp.Navigate(base+"/console/alerts"), chromedp.WaitVisible(`table.queue`),
		chromedp.KeyEvent("t"), chromedp.Evaluate(`document.documentElement.dataset.theme || ""`, &theme), shot("20-alerts-other-theme")); err != nil {
		t.Fatalf("theme: %v", err)
	}
	if theme != "dark" && theme != "light" {
		t.Errorf("t did not switch the theme: %q", theme)
	}

	time.Sleep(200 * time.Millisecond) // let late log events arrive
	mu.Lock()
	defer mu.Unlock()
	if len(violations) > 0 {
		t.Errorf("CSP violations: %v", violations)
	}
	if len(problems) > 0 {
		t.Errorf("browser problems:\n%s", strings.Join(problems, "\n"))
	}
	t.Logf("screenshots in %s", shots)
}

// addUser creates a person with the CLI (the password on stdin).
func addUser(t *testing.T, n *node, name, password, role string) {
	t.Helper()
	cmd := exec.Command(wachtBin, "users", "add", name, "--data", n.data, "--role", role)
	cmd.Env = append(os.Environ(), n.env...)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("users add: %v\n%s", err, out)
	}
}
