package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// exfilRule is the only rule of the test folder tagged with exfiltration;
// its date lets --at leave it out.
const exfilRule = `title: Large upload to a paste site
id: 7d1f2c9e-0b51-4c41-9d0e-5a3cc8f1a001
status: test
date: 2026/03/01
logsource: { category: proxy }
detection:
  sel: { cs-host|endswith: pastebin.com, cs-bytes|gt: 1000000 }
  condition: sel
tags: [attack.exfiltration, attack.t1567.002]
level: high
`

// TestComplyCoverageFacts: the compliance facts carry the ATT&CK coverage
// of the loaded Sigma rules (starter pack plus the configured folders), and
// the built-in coverage check judges it per tactic: a tactic only a rule
// from the folder covers passes now and fails at a time before the rule's
// date (rules dated later are left out of a re-evaluation), and a tactic
// no rule covers fails.
func TestComplyCoverageFacts(t *testing.T) {
	rules := t.TempDir()
	if err := os.WriteFile(filepath.Join(rules, "exfil.yml"), []byte(exfilRule), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WACHT_RULES", "")
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Detect.Rules = []string{rules}

	src := coverageFacts(cfg.Data, cfg.Detect.Rules)
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) // after every rule's date
	var f comply.Facts
	if err := src(context.Background(), "default", now, &f); err != nil {
		t.Fatal(err)
	}
	byTactic := map[string]comply.TacticFact{}
	for _, c := range f.Coverage {
		byTactic[c.Tactic] = c
	}
	if len(byTactic) < 12 {
		t.Fatalf("coverage has %d tactics, want every enterprise tactic: %+v", len(byTactic), f.Coverage)
	}
	t.Logf("coverage of the starter pack and the test folder: %+v", f.Coverage)
	exfil := byTactic["exfiltration"]
	if exfil.Rules < 1 || exfil.Techniques < 1 {
		t.Fatalf("exfiltration: %+v, want the folder's rule and T1567", exfil)
	}
	if ex := byTactic["execution"]; ex.Rules < 1 || ex.Techniques < 1 {
		t.Fatalf("execution: %+v, want the starter pack's PowerShell rules", ex)
	}
	var before comply.Facts
	if err := src(context.Background(), "default", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), &before); err != nil {
		t.Fatal(err)
	}
	for _, c := range before.Coverage {
		if c.Tactic == "exfiltration" && c.Rules != exfil.Rules-1 {
			t.Fatalf("before the rule's date exfiltration has %d rules, want %d", c.Rules, exfil.Rules-1)
		}
	}

	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, closeSvc, err := NewComply(db, cfg, nil, func() time.Time { return now }, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer closeSvc()
		judged := func(at time.Time) map[string]comply.Result {
			t.Helper()
			_, res, err := svc.Evaluate(ctx, "default", at, comply.CauseDemand, "test")
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]comply.Result{}
			for _, r := range res {
				if r.Check == "detection.attack_coverage" {
					out[r.Subject] = r
				}
			}
			return out
		}
		res := judged(now)
		if len(res) != 12 {
			t.Fatalf("coverage check judged %d tactics, want the 12 required: %+v", len(res), res)
		}
		for tactic, r := range res {
			if r.Status == comply.StatusError {
				t.Fatalf("%s: error %q (no coverage facts?)", tactic, r.Reason)
			}
			want := comply.StatusFail
			if byTactic[tactic].Rules >= 1 {
				want = comply.StatusPass
			}
			if r.Status != want {
				t.Errorf("%s: %s (%s), want %s for %+v", tactic, r.Status, r.Reason, want, byTactic[tactic])
			}
		}
		if res["exfiltration"].Status != comply.StatusPass {
			t.Fatalf("exfiltration: %+v", res["exfiltration"])
		}
		if exfil.Rules == 1 {
			if r := judged(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))["exfiltration"]; r.Status != comply.StatusFail {
				t.Fatalf("exfiltration before the rule existed: %+v", r)
			}
		}
	})
}
