package attack

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/attack"
)

func shared(t *testing.T, elem ...string) string {
	t.Helper()
	root := os.Getenv("WACHT_SHARED")
	if root == "" {
		root = filepath.Join("..", "..", "..", "..", "shared")
	}
	p := filepath.Join(append([]string{root}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("WACHT_REQUIRE_SHARED") != "" {
			t.Fatalf("shared data %s: %v", p, err)
		}
		t.Skipf("shared data %s not available", p)
	}
	return p
}

// run executes a command line and returns what it printed on stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	g := &cli.Globals{}
	root := &cobra.Command{Use: "wacht", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().BoolVar(&g.JSON, "json", false, "")
	root.AddCommand(NewCommand(g))
	root.SetArgs(args)
	old := os.Stdout
	r, w, _ := os.Pipe()
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	err := root.Execute()
	w.Close()
	os.Stdout = old
	return string(<-done), err
}

// TestUpdateShowCoverage downloads the ATT&CK bundle from a local HTTP
// server with `wacht attack update`, then shows a tactic by the name the
// SigmaHQ tags use and prints the coverage table of two rules.
func TestUpdateShowCoverage(t *testing.T) {
	bundle, err := os.ReadFile(shared(t, "attack", "enterprise-attack.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		if r.URL.Path != "/enterprise-attack.json" {
			http.NotFound(w, r)
			return
		}
		w.Write(bundle)
	}))
	defer srv.Close()
	data := t.TempDir()

	if _, err := run(t, "attack", "update", "--url", srv.URL+"/missing.json", "--data", data); err == nil {
		t.Fatal("update from a 404 succeeded")
	}
	if _, err := os.Stat(filepath.Join(data, attack.FileName)); !os.IsNotExist(err) {
		t.Fatalf("a failed update left a catalog: %v", err)
	}
	if _, err := run(t, "attack", "update", "--url", srv.URL+"/enterprise-attack.json", "--data", data); err != nil {
		t.Fatalf("update: %v", err)
	}
	if requests != 2 {
		t.Errorf("%d requests, want 2", requests)
	}
	cat, err := attack.Load(data)
	if err != nil || cat.Counts()["technique"] < 600 {
		t.Fatalf("saved catalog: %v %v", cat, err)
	}

	for _, tactic := range []string{"stealth", "defense-impairment", "defense_evasion", "TA0005"} {
		out, err := run(t, "attack", "show", tactic, "--data", data)
		if err != nil || !strings.Contains(out, "T1027") && !strings.Contains(out, "T1562") {
			t.Errorf("show %s: %v\n%.300s", tactic, err, out)
		}
	}

	rules := t.TempDir()
	os.WriteFile(filepath.Join(rules, "obfuscation.yml"), []byte(`title: Obfuscated PowerShell
id: 3c7a1b43-9a7e-4b1f-8f2f-0f6a8d2b1e01
status: test
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: '-enc '}
  condition: sel
tags: [attack.stealth, attack.t1027]
level: high
`), 0o600)
	os.WriteFile(filepath.Join(rules, "disable.yml"), []byte(`title: Defender Disabled
id: 3c7a1b43-9a7e-4b1f-8f2f-0f6a8d2b1e02
status: test
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: 'Set-MpPreference -DisableRealtimeMonitoring'}
  condition: sel
tags: [attack.defense-impairment, attack.t1562.001]
level: high
`), 0o600)
	out, err := run(t, "attack", "coverage", "--data", data, "--rules", rules, "--starter=false")
	if err != nil {
		t.Fatalf("coverage: %v", err)
	}
	if !strings.Contains(out, "TACTIC") || !strings.Contains(out, "T1027(1)") || !strings.Contains(out, "T1562(1)") ||
		!strings.Contains(out, "by 2 of 2 rules") || strings.Contains(out, "unknown tags") {
		t.Errorf("coverage table:\n%s", out)
	}
}
