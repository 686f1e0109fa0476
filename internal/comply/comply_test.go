package comply_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

func sharedDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("WACHT_SHARED"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared")
}

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

// fakeEngine judges access_mfa_privileged in Go (the Rego policies have
// their own tests in package rego) and answers "not applicable" for every
// other package.
type fakeEngine struct{}

func (fakeEngine) Compile(context.Context, []comply.PolicyModule) (comply.Compiled, error) {
	return fakeCompiled{}, nil
}

func (fakeEngine) Test(context.Context, []comply.PolicyModule) ([]comply.TestResult, error) {
	return []comply.TestResult{{Package: "data.fake_test", Name: "test_ok", Pass: true}}, nil
}

type fakeCompiled struct{}

func (fakeCompiled) Results(_ context.Context, pkg string, input map[string]any) ([]any, error) {
	if pkg != "wacht.checks.access_mfa_privileged" {
		return []any{map[string]any{"subject": "*", "status": "not_applicable", "reason": "fake"}}, nil
	}
	facts := input["facts"].(map[string]any)
	accts, ok := facts["accounts"].([]any)
	if !ok {
		return []any{map[string]any{"subject": "*", "status": "error", "reason": "accounts not available"}}, nil
	}
	var out []any
	for _, a := range accts {
		m := a.(map[string]any)
		st := "fail"
		if m["mfa"] == true {
			st = "pass"
		}
		out = append(out, map[string]any{"subject": m["id"], "status": st, "observed": map[string]any{"mfa": m["mfa"]}})
	}
	return out, nil
}

type env struct {
	svc   *comply.Service
	clock *clock
	accts *[]comply.AccountFact
}

func newEnv(t *testing.T, db *store.DB) env {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	accts := &[]comply.AccountFact{{ID: "u1", Name: "alice", Role: "admin", Privileged: true, MFA: true},
		{ID: "u2", Name: "bob", Role: "admin", Privileged: true, MFA: false}}
	src := comply.FactFunc{ID: "accounts", Fn: func(_ context.Context, _ string, _ time.Time, f *comply.Facts) error {
		f.Accounts = append([]comply.AccountFact{}, *accts...)
		return nil
	}}
	broken := comply.FactFunc{ID: "assets", Fn: func(context.Context, string, time.Time, *comply.Facts) error {
		return errors.New("inventory offline")
	}}
	svc, err := comply.New(db, comply.Options{Engine: fakeEngine{}, Sources: []comply.FactSource{src, broken}, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return env{svc, c, accts}
}

func TestBuiltinCatalogs(t *testing.T) {
	cats, err := comply.BuiltinCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{comply.FrameworkISO27001: 93, comply.FrameworkNIS2: 10, comply.FrameworkGDPR: 7}
	for _, c := range cats {
		if n, ok := want[c.ID]; !ok || len(c.Requirements) != n {
			t.Errorf("catalog %s: %d requirements, want %d", c.ID, len(c.Requirements), want[c.ID])
		}
		if c.Licence == "" {
			t.Errorf("catalog %s has no licence", c.ID)
		}
		delete(want, c.ID)
	}
	if len(want) != 0 {
		t.Fatalf("missing catalogs %v", want)
	}
	var nis2 *comply.Catalog
	for _, c := range cats {
		if c.ID == comply.FrameworkNIS2 {
			nis2 = c
		}
	}
	if r, _ := nis2.Find("21.2.j"); r.National != "BSIG § 30 Abs. 2 Nr. 10" {
		t.Fatalf("NIS2 (j) BSIG mapping = %q", r.National)
	}
}

// TestISOCatalogMatchesFacts compares ids and titles with the shared fact
// listing (read there, never copied).
func TestISOCatalogMatchesFacts(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(sharedDir(t), "compliance", "iso27001-2022-annex-a.yaml"))
	if err != nil {
		t.Skipf("shared data not available: %v", err)
	}
	re := regexp.MustCompile(`\{id: "([^"]+)", title: "([^"]+)", theme: (\w+)`)
	rows := re.FindAllStringSubmatch(string(raw), -1)
	cats, _ := comply.BuiltinCatalogs()
	var iso *comply.Catalog
	for _, c := range cats {
		if c.ID == comply.FrameworkISO27001 {
			iso = c
		}
	}
	if len(rows) != 93 || len(iso.Requirements) != 93 {
		t.Fatalf("shared %d rows, catalog %d", len(rows), len(iso.Requirements))
	}
	for i, r := range rows {
		got := iso.Requirements[i]
		if got.ID != r[1] || got.Title != r[2] || got.Group != r[3] {
			t.Errorf("row %d: %+v, facts say %v", i, got, r[1:])
		}
	}
}

// TestNoRequirementTextInISOOrTISAX fails when an ISO or TISAX catalog
// carries requirement text, and shows the guard catches text.
func TestNoRequirementTextInISOOrTISAX(t *testing.T) {
	cats, err := comply.BuiltinCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cats {
		if strings.HasPrefix(c.ID, "iso") || strings.HasPrefix(c.ID, "tisax") {
			if !c.NoRequirementText {
				t.Errorf("catalog %s must be marked no_requirement_text", c.ID)
			}
			for _, r := range c.Requirements {
				if r.Text != "" {
					t.Errorf("%s %s carries requirement text", c.ID, r.ID)
				}
			}
			if err := c.Validate(); err != nil {
				t.Error(err)
			}
		}
	}
	bad := []comply.Requirement{
		{ID: "A.5.1", Title: "Policies", Text: "Information security policy shall be defined"},
		{ID: "A.5.2", Title: "Information security policy and topic-specific policies shall be defined, approved by management, published"},
		{ID: "A.5.3", Title: "The organization must keep roles apart"},
	}
	for _, r := range bad {
		c := &comply.Catalog{ID: "iso-x", Name: "x", Licence: "x", NoRequirementText: true, Requirements: []comply.Requirement{r}}
		if err := c.Validate(); err == nil {
			t.Errorf("requirement text not caught: %+v", r)
		}
	}
}

func TestBuiltinChecksMapAcrossFrameworks(t *testing.T) {
	b, err := comply.BuiltinBundle()
	if err != nil {
		t.Fatal(err)
	}
	cats, _ := comply.BuiltinCatalogs()
	if err := b.Validate(cats); err != nil {
		t.Fatal(err)
	}
	if len(b.Checks) < 8 {
		t.Fatalf("want at least 8 built-in checks, got %d", len(b.Checks))
	}
	for _, c := range b.Checks {
		fws := map[string]bool{}
		for _, m := range c.Maps {
			fws[m.Framework] = true
		}
		if len(fws) < 3 {
			t.Errorf("check %s maps to %d frameworks, want ISO, NIS2 and GDPR at least", c.ID, len(fws))
		}
	}
	h1 := b.Hash()
	b.Modules[0].Source += " "
	if b.Hash() == h1 {
		t.Fatal("bundle hash ignores module content")
	}
}

func TestEvaluateAppendOnlyAndDeterministic(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		run, res, err := e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseDemand, "alice")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]comply.Status{}
		for _, r := range res {
			if r.Check == "access.mfa_privileged" {
				got[r.Subject] = r.Status
			}
			if r.PolicyHash != run.PolicyHash || r.FactsHash != run.FactsHash || r.FactsHash == "" {
				t.Fatalf("result not stamped: %+v", r)
			}
		}
		if got["u1"] != comply.StatusPass || got["u2"] != comply.StatusFail {
			t.Fatalf("mfa results %v", got)
		}
		// Same time, same facts: the recorded run, nothing appended.
		again, res2, err := e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseDemand, "bob")
		if err != nil || !again.Existing || again.ID != run.ID || len(res2) != len(res) {
			t.Fatalf("re-evaluation: %+v %v", again, err)
		}
		// Facts change: a new run; history keeps both.
		(*e.accts)[1].MFA = true
		e.clock.Add(time.Hour)
		run2, _, err := e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseSchedule, "system")
		if err != nil || run2.ID == run.ID || run2.FactsHash == run.FactsHash {
			t.Fatalf("second run %+v %v", run2, err)
		}
		hist, err := e.svc.History(ctx, "a", comply.FrameworkISO27001, "A.8.5", time.Time{}, time.Time{})
		if err != nil || len(hist) != 2 || hist[0].Status != comply.StatusFail || hist[1].Status != comply.StatusPass {
			t.Fatalf("history %+v %v", hist, err)
		}
		// --at a past time gives the status then.
		_, sts, err := e.svc.StatusOf(ctx, "a", comply.FrameworkISO27001, run.At.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range sts {
			if st.Requirement == "A.8.5" && st.Status != comply.StatusFail {
				t.Fatalf("status at first run: %+v", st)
			}
		}
		// Other tenants see nothing.
		if runs, _ := e.svc.Runs(ctx, "b", time.Time{}, time.Time{}, 0); len(runs) != 0 {
			t.Fatalf("tenant b sees %d runs", len(runs))
		}
		// A failing source marks its checks, not the run.
		res3, _ := e.svc.Results(ctx, "a", comply.ResultFilter{RunID: run.ID, Check: "logging.critical_assets"})
		if len(res3) != 1 {
			t.Fatalf("want one logging result, got %+v", res3)
		}
	})
}

func TestWaiversWithFakeClock(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		in := comply.WaiverInput{Check: "access.mfa_privileged", Subject: "u2", Justification: "break-glass account in a safe",
			ExpiresAt: e.clock.Now().Add(30 * 24 * time.Hour)}
		for _, bad := range []comply.WaiverInput{
			{Check: in.Check, Subject: "u2", Justification: in.Justification},
			{Check: in.Check, Subject: "u2", Justification: "short", ExpiresAt: in.ExpiresAt},
			{Check: in.Check, Subject: "u2", Justification: in.Justification, ExpiresAt: e.clock.Now().Add(400 * 24 * time.Hour)},
			{Check: "nope", Subject: "u2", Justification: in.Justification, ExpiresAt: in.ExpiresAt},
		} {
			if _, err := e.svc.RequestWaiver(ctx, "a", bad, "rita"); !errors.Is(err, comply.ErrInvalid) {
				t.Errorf("request %+v: want invalid, got %v", bad, err)
			}
		}
		w, err := e.svc.RequestWaiver(ctx, "a", in, "rita")
		if err != nil || w.State != comply.WaiverRequested {
			t.Fatalf("request: %+v %v", w, err)
		}
		// Not yet approved: still failing.
		_, res, _ := e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseDemand, "x")
		if st := statusOf(res, "u2"); st != comply.StatusFail {
			t.Fatalf("unapproved waiver changed status to %s", st)
		}
		if _, err := e.svc.DecideWaiver(ctx, "a", w.ID, comply.WaiverDecision{Approve: true}, "rita"); !errors.Is(err, comply.ErrInvalid) {
			t.Fatalf("self-approval: %v", err)
		}
		if _, err := e.svc.DecideWaiver(ctx, "b", w.ID, comply.WaiverDecision{Approve: true}, "mia"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other tenant approves: %v", err)
		}
		e.clock.Add(time.Minute)
		w, err = e.svc.DecideWaiver(ctx, "a", w.ID, comply.WaiverDecision{Approve: true}, "mia")
		if err != nil || w.State != comply.WaiverApproved {
			t.Fatalf("approve: %+v %v", w, err)
		}
		e.clock.Add(time.Minute)
		_, res, _ = e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseDemand, "x")
		if st := statusOf(res, "u2"); st != comply.StatusWaived {
			t.Fatalf("approved waiver: status %s, want waived", st)
		}
		if st := statusOf(res, "u1"); st != comply.StatusPass {
			t.Fatalf("u1 status %s", st)
		}
		// Warned once, 14 days before expiry.
		if n, _ := e.svc.WarnExpiring(ctx, "a"); n != 0 {
			t.Fatalf("warned %d waivers 30 days before expiry", n)
		}
		e.clock.Add(17 * 24 * time.Hour)
		if n, _ := e.svc.WarnExpiring(ctx, "a"); n != 1 {
			t.Fatalf("warned %d, want 1", n)
		}
		if n, _ := e.svc.WarnExpiring(ctx, "a"); n != 0 {
			t.Fatalf("warned twice")
		}
		// Expired: failing again; history before expiry stays waived.
		e.clock.Add(14 * 24 * time.Hour)
		_, res, _ = e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseDemand, "x")
		if st := statusOf(res, "u2"); st != comply.StatusFail {
			t.Fatalf("expired waiver: status %s", st)
		}
		got, _ := e.svc.GetWaiver(ctx, "a", w.ID)
		if got.State != comply.WaiverExpired {
			t.Fatalf("state %s", got.State)
		}
	})
}

func statusOf(res []comply.Result, subject string) comply.Status {
	for _, r := range res {
		if r.Check == "access.mfa_privileged" && r.Subject == subject {
			return r.Status
		}
	}
	return ""
}

func TestEvidenceRevisionsAndSoA(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		eff := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
		ev, err := e.svc.AddEvidence(ctx, "a", comply.EvidenceInput{Title: "Backup policy", Kind: comply.EvidenceFile,
			Framework: comply.FrameworkISO27001, Requirement: "A.8.13", Name: "backup-policy.pdf", MediaType: "application/pdf",
			Content: []byte("%PDF-1.4 policy"), EffectiveAt: eff, RenewBy: eff.AddDate(1, 0, 0)}, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256([]byte("%PDF-1.4 policy")); ev.Latest.SHA256 != hex.EncodeToString(sum[:]) || ev.Latest.Size != 15 {
			t.Fatalf("sha %q", ev.Latest.SHA256)
		}
		if !ev.Latest.EffectiveAt.Equal(eff) || ev.Latest.UploadedAt.Equal(eff) {
			t.Fatalf("effective %v uploaded %v", ev.Latest.EffectiveAt, ev.Latest.UploadedAt)
		}
		rev, err := e.svc.AddRevision(ctx, "a", ev.ID, comply.EvidenceInput{Name: "backup-policy-v2.pdf", Content: []byte("%PDF v2")}, "alice")
		if err != nil || rev.Revision != 2 {
			t.Fatalf("revision %+v %v", rev, err)
		}
		if _, data, err := e.svc.Content(ctx, "a", ev.ID, 1); err != nil || string(data) != "%PDF-1.4 policy" {
			t.Fatalf("content r1 %q %v", data, err)
		}
		if _, _, err := e.svc.Content(ctx, "b", ev.ID, 1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other tenant reads evidence: %v", err)
		}
		if _, err := e.svc.AddEvidence(ctx, "a", comply.EvidenceInput{Title: "x", Kind: comply.EvidenceLink, Framework: comply.FrameworkISO27001,
			Requirement: "A.99", URL: "https://x"}, "alice"); !errors.Is(err, comply.ErrInvalid) {
			t.Fatalf("unknown requirement accepted: %v", err)
		}
		due, err := e.svc.ListEvidence(ctx, "a", comply.EvidenceFilter{RenewWithin: 400 * 24 * time.Hour})
		if err != nil || len(due) != 0 {
			t.Fatalf("revision 2 has no renew date; due: %+v %v", due, err)
		}
		if _, err := e.svc.SetAssessment(ctx, "a", comply.Assessment{Framework: comply.FrameworkISO27001, Requirement: "A.7.4",
			Applicable: false}, "alice"); !errors.Is(err, comply.ErrInvalid) {
			t.Fatalf("exclusion without justification: %v", err)
		}
		a, err := e.svc.SetAssessment(ctx, "a", comply.Assessment{Framework: comply.FrameworkISO27001, Requirement: "A.7.4",
			Applicable: false, Justification: "no own premises: cloud only"}, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetAssessment(ctx, "a", comply.Assessment{Framework: comply.FrameworkISO27001, Requirement: "A.7.4",
			Applicable: true, Version: a.Version + 5}, "alice"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale version: %v", err)
		}
		if _, _, err := e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseDemand, "x"); err != nil {
			t.Fatal(err)
		}
		v, err := e.svc.FrameworkView(ctx, "a", comply.FrameworkISO27001, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Rows) != 93 {
			t.Fatalf("SoA has %d rows, want 93", len(v.Rows))
		}
		for _, r := range v.Rows {
			switch r.ID {
			case "A.7.4":
				if r.Applicable || r.Justification == "" || r.Status != comply.StatusNotApplicable {
					t.Errorf("excluded row %+v", r)
				}
			case "A.8.13":
				if len(r.Evidence) != 1 || r.Evidence[0] != ev.ID {
					t.Errorf("evidence not linked: %+v", r)
				}
			case "A.8.5":
				if r.Status != comply.StatusFail || r.Source != "checks" {
					t.Errorf("A.8.5 %+v", r)
				}
			}
		}
	})
}

func testSigner(t testing.TB) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(nil, "wacht-test")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

func TestExportDeterministicAndTamperEvident(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		if _, err := e.svc.AddEvidence(ctx, "a", comply.EvidenceInput{Title: "Restore test", Kind: comply.EvidenceFile,
			Framework: comply.FrameworkISO27001, Requirement: "A.8.13", Name: "restore.txt", Content: []byte("restored ok")}, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseDemand, "x"); err != nil {
			t.Fatal(err)
		}
		signer, vkey := testSigner(t)
		from, to := e.clock.Now().Add(-24*time.Hour), e.clock.Now().Add(time.Hour)
		var b1, b2 bytes.Buffer
		m, err := e.svc.Export(ctx, "a", from, to, &b1, comply.ExportOptions{Signer: signer, VerifierKey: vkey})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Hour) // the wall clock must not show in the bundle
		if _, err := e.svc.Export(ctx, "a", from, to, &b2, comply.ExportOptions{Signer: signer, VerifierKey: vkey}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
			t.Fatal("two exports of the same data differ")
		}
		if m.Results == 0 || m.Evidence != 1 || m.Runs != 1 {
			t.Fatalf("manifest %+v", m)
		}
		rep, err := comply.VerifyBundle(bytes.NewReader(b1.Bytes()), int64(b1.Len()), vkey)
		if err != nil || !rep.OK {
			t.Fatalf("verify: %+v %v", rep, err)
		}
		// Any changed byte of any file is detected and the file named.
		for _, name := range []string{"results.jsonl", "soa.json", "evidence/index.json", "manifest.json", "reports/iso27001-soa.de.html"} {
			mod := rewriteZip(t, b1.Bytes(), func(n string, data []byte) []byte {
				if n == name {
					data = append([]byte(nil), data...)
					data[len(data)/2] ^= 1
				}
				return data
			}, nil)
			rep, _ := comply.VerifyBundle(bytes.NewReader(mod), int64(len(mod)), vkey)
			if rep.OK || !strings.Contains(strings.Join(rep.Problems, "\n"), name) {
				t.Errorf("tampered %s: %+v", name, rep.Problems)
			}
		}
		// A removed and an added entry are named.
		mod := rewriteZip(t, b1.Bytes(), func(n string, data []byte) []byte {
			if n == "waivers.json" {
				return nil
			}
			return data
		}, map[string][]byte{"evidence/extra.txt": []byte("x")})
		rep, _ = comply.VerifyBundle(bytes.NewReader(mod), int64(len(mod)), vkey)
		all := strings.Join(rep.Problems, "\n")
		if rep.OK || !strings.Contains(all, "waivers.json: listed in the manifest but missing") || !strings.Contains(all, "evidence/extra.txt: not listed") {
			t.Fatalf("removed/added entries: %v", rep.Problems)
		}
		// Another key: the signature fails.
		_, other := testSigner(t)
		rep, _ = comply.VerifyBundle(bytes.NewReader(b1.Bytes()), int64(b1.Len()), other)
		if rep.OK {
			t.Fatal("bundle verified with a foreign key")
		}
	})
}

func matches(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
