package vuln

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/vuln"
)

const trivyReport = `{"SchemaVersion":2,"ArtifactName":"app:1","ArtifactType":"container_image","Results":[{"Target":"app:1 (debian 12)",
"Class":"os-pkgs","Type":"debian","Vulnerabilities":[
{"VulnerabilityID":"CVE-2024-0001","PkgName":"openssl","InstalledVersion":"1.0","Severity":"HIGH"},
{"VulnerabilityID":"CVE-2024-0002","PkgName":"zlib","InstalledVersion":"1.2","Severity":"LOW"}]}]}`

// run executes `wacht ARGS` and returns its standard output.
func run(t *testing.T, args ...string) []byte {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	g := cli.NewGlobals()
	root := g.Root()
	root.AddCommand(NewCommand(g))
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	os.Stdout = stdout
	w.Close()
	out := <-done
	if err != nil {
		t.Fatalf("wacht %v: %v", args, err)
	}
	return out
}

// The vuln: section drives the CLI: feed URLs (a local HTTP server), the
// severity SLA profile and keeping findings a rescan misses; every command
// answers --json.
func TestConfigSectionAndJSON(t *testing.T) {
	var hits []string
	mux := http.NewServeMux()
	mux.HandleFunc("/kev.json", func(w http.ResponseWriter, r *http.Request) {
		hits = append(hits, r.URL.Path)
		_, _ = io.WriteString(w, `{"vulnerabilities":[{"cveID":"CVE-2024-0001","dateAdded":"2024-01-02"}]}`)
	})
	mux.HandleFunc("/epss.csv", func(w http.ResponseWriter, r *http.Request) {
		hits = append(hits, r.URL.Path)
		_, _ = io.WriteString(w, "cve,epss,percentile\nCVE-2024-0002,0.5,0.99\n")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "wacht.yaml")
	body := "data: " + filepath.Join(dir, "data") + "\nvuln:\n  sla:\n    profile: severity\n    severity_days: {high: 10, low: 50}\n" +
		"  rescan_closes_missing: false\n  feeds:\n    kev_url: " + srv.URL + "/kev.json\n    epss_url: " + srv.URL + "/epss.csv\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WACHT_CONFIG", cfg)
	var feeds vuln.FeedsResult
	if err := json.Unmarshal(run(t, "vuln", "feeds", "update", "--json"), &feeds); err != nil || feeds != (vuln.FeedsResult{KEV: 1, EPSS: 1}) {
		t.Fatalf("feeds update: %+v %v", feeds, err)
	}
	if strings.Join(hits, " ") != "/kev.json /epss.csv" {
		t.Fatalf("server saw %v", hits)
	}
	report := filepath.Join(dir, "trivy.json")
	if err := os.WriteFile(report, []byte(trivyReport), 0o600); err != nil {
		t.Fatal(err)
	}
	var imports []vuln.ImportResult
	if err := json.Unmarshal(run(t, "vuln", "import", report, "--json"), &imports); err != nil || len(imports) != 1 || imports[0].Created != 2 {
		t.Fatalf("import: %+v %v", imports, err)
	}
	var page vuln.Page
	if err := json.Unmarshal(run(t, "vuln", "list", "--json"), &page); err != nil || len(page.Findings) != 2 {
		t.Fatalf("list: %+v %v", page, err)
	}
	for _, f := range page.Findings {
		days := map[string]int{"CVE-2024-0001": 10, "CVE-2024-0002": 50}[f.VulnID]
		if got := f.DueAt.Sub(f.FirstSeen); got != time.Duration(days)*24*time.Hour {
			t.Errorf("%s due after %v, want %d days (vuln.sla.severity_days)", f.VulnID, got, days)
		}
		if f.VulnID == "CVE-2024-0001" && !f.KEV || f.VulnID == "CVE-2024-0002" && f.EPSSPercentile != 0.99 {
			t.Errorf("%s not enriched from the configured feeds: %+v", f.VulnID, f)
		}
	}
	// rescan_closes_missing: false — a full rescan without zlib closes nothing.
	one := strings.Replace(trivyReport, `,
{"VulnerabilityID":"CVE-2024-0002","PkgName":"zlib","InstalledVersion":"1.2","Severity":"LOW"}`, "", 1)
	if err := os.WriteFile(report, []byte(one), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(run(t, "vuln", "import", report, "--json"), &imports); err != nil || imports[0].Closed != 0 || imports[0].Updated != 1 {
		t.Fatalf("rescan: %+v %v", imports, err)
	}
	var shown vuln.Finding
	if err := json.Unmarshal(run(t, "vuln", "show", page.Findings[0].ID, "--json"), &shown); err != nil || shown.ID != page.Findings[0].ID {
		t.Fatalf("show: %+v %v", shown, err)
	}
	var fp vuln.Finding
	if err := json.Unmarshal(run(t, "vuln", "false-positive", shown.ID, "--reason", "test", "--json"), &fp); err != nil || fp.State != vuln.StateFalsePositive {
		t.Fatalf("false-positive: %+v %v", fp, err)
	}
	var st vuln.Stats
	if err := json.Unmarshal(run(t, "vuln", "stats", "--json"), &st); err != nil || st.Open != 1 {
		t.Fatalf("stats: %+v %v", st, err)
	}
	var kev map[string]any
	if err := json.Unmarshal(run(t, "vuln", "import-kev", "--json"), &kev); err != nil || kev["entries"] != 1.0 {
		t.Fatalf("import-kev: %v %v", kev, err)
	}
	// A bad section is refused with its key named.
	if err := os.WriteFile(cfg, []byte("vuln:\n  sla:\n    profile: fastest\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := cli.NewGlobals()
	root := g.Root()
	root.AddCommand(NewCommand(g))
	root.SetArgs([]string{"vuln", "list", "--data", dir})
	root.SetErr(io.Discard)
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "vuln.sla.profile") {
		t.Fatalf("bad config: %v", err)
	}
}
