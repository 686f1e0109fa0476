package scan

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/demo"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	g := cli.NewGlobals()
	root := g.Root()
	root.AddCommand(NewCommand(g))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestScanDemoWindows scans the demo's Winlogbeat documents (one JSON
// document per line, detected as such) with the starter rules: the table
// names the LSASS dump on its host, the JSON lines carry rule, author and
// ATT&CK ids.
func TestScanDemoWindows(t *testing.T) {
	sc := demo.Generate(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), 3)
	var b strings.Builder
	for _, d := range sc.Windows {
		j, _ := json.Marshal(d)
		b.Write(j)
		b.WriteByte('\n')
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ws042.json"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "scan", "--starter", "--min-level", "high", dir)
	if err != nil || !strings.Contains(out, "LSASS memory dump through comsvcs.dll MiniDump") || !strings.Contains(out, demo.Workstation) ||
		strings.Contains(out, "Account and group discovery command") {
		t.Fatalf("table: %v\n%s", err, out)
	}
	out, err = run(t, "scan", "--starter", "--json", dir)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var hit struct {
			RuleID     string            `json:"rule_id"`
			Title      string            `json:"title"`
			Author     string            `json:"author"`
			Attack     []string          `json:"attack"`
			Tags       []string          `json:"tags"`
			Level      string            `json:"level"`
			Time       time.Time         `json:"time"`
			Entities   map[string]string `json:"entities"`
			Selections []string          `json:"selections"`
			Event      map[string]any    `json:"event"`
			Corr       map[string]any    `json:"correlation"`
		}
		if err := json.Unmarshal([]byte(line), &hit); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if hit.Author == "" || hit.RuleID == "" || hit.Level == "" || len(hit.Tags) == 0 || len(hit.Attack) == 0 || hit.Time.IsZero() ||
			hit.Entities["host.name"] == "" {
			t.Errorf("hit without author, id, level, tags, ATT&CK ids, time or host: %s", line)
		}
		// A detection names the selections that matched and carries the
		// event; a correlation its group.
		if hit.Corr == nil && (len(hit.Selections) == 0 || hit.Event == nil) {
			t.Errorf("detection without selections or event: %s", line)
		}
		if hit.Title == "PowerShell with an encoded command" && !slices.Equal(hit.Selections, []string{"image", "flag"}) {
			t.Errorf("selections %v", hit.Selections)
		}
		rules[hit.Title] = true
	}
	for _, want := range []string{"Office application starts a shell or script host", "PowerShell with an encoded command",
		"Encoded PowerShell download cradle", "Burst of discovery commands on one host"} {
		if !rules[want] {
			t.Errorf("no hit of %q in %v", want, rules)
		}
	}
	if _, err := run(t, "scan", dir); err == nil {
		t.Error("scan without rules: no error")
	}
}

// TestScanArchiveMember finds the same hit inside a .tar.gz archive.
func TestScanArchiveMember(t *testing.T) {
	sc := demo.Generate(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), 3)
	var b bytes.Buffer
	for _, d := range sc.Windows {
		j, _ := json.Marshal(d)
		b.Write(append(j, '\n'))
	}
	var archive bytes.Buffer
	zw := gzip.NewWriter(&archive)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "host/ws042.json", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(b.Len())})
	tw.Write(b.Bytes())
	tw.Close()
	zw.Close()
	path := filepath.Join(t.TempDir(), "triage.tar.gz")
	if err := os.WriteFile(path, archive.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "scan", "--starter", "--min-level", "high", path)
	if err != nil || !strings.Contains(out, "LSASS memory dump through comsvcs.dll MiniDump") {
		t.Fatalf("table: %v\n%s", err, out)
	}
}
