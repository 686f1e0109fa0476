package ueba

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	simcmd "github.com/wacht-soc/wacht/cmd/wacht/sim"
	"github.com/wacht-soc/wacht/internal/ueba"
	usim "github.com/wacht-soc/wacht/internal/ueba/sim"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	g := cli.NewGlobals()
	root := g.Root()
	root.AddCommand(NewCommand(g), simcmd.NewCommand(g))
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

// TestSimReplayEval: `wacht sim` writes events and the truth, `wacht ueba
// replay` finds anomalies on the injected scenarios' entities, and
// `wacht ueba eval --check` measures and checks the targets.
func TestSimReplayEval(t *testing.T) {
	dir := t.TempDir()
	events, truth := filepath.Join(dir, "events.ndjson"), filepath.Join(dir, "truth.json")
	if _, err := run(t, "sim", "--users", "60", "--days", "12", "--learn-days", "4", "--attacks", "1", "--out", events, "--truth", truth); err != nil {
		t.Fatal(err)
	}
	var tr simcmd.Truth
	b, err := os.ReadFile(truth)
	if err != nil || json.Unmarshal(b, &tr) != nil || len(tr.Scenarios) != len(usim.Kinds) || len(tr.Detections) == 0 {
		t.Fatalf("truth: %v %d scenarios", err, len(tr.Scenarios))
	}
	out, err := run(t, "ueba", "replay", events, "--json", "--learning", "72h")
	if err != nil {
		t.Fatal(err)
	}
	hit := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		var a ueba.Anomaly
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("replay line %q: %v", sc.Text(), err)
		}
		n++
		for _, s := range tr.Scenarios {
			for _, e := range s.Entities {
				if a.Entity == e || strings.HasPrefix(a.Entity.Value, e.Value+"|") {
					hit[s.Kind] = true
				}
			}
		}
	}
	if n == 0 || len(hit) < 5 {
		t.Errorf("%d anomalies, scenario kinds with anomalies: %v", n, hit)
	}
	if _, err := run(t, "ueba", "replay", filepath.Join(dir, "missing.ndjson")); err == nil || !strings.Contains(err.Error(), "missing.ndjson") {
		t.Errorf("missing file: %v", err)
	}
	text, err := run(t, "ueba", "eval", "--users", "200", "--days", "20", "--check")
	if err != nil {
		t.Fatalf("eval --check: %v\n%s", err, text)
	}
	for _, want := range []string{"scenario recall", "low-and-slow recall", "entity-day precision", "precision@10", "risk incidents/day/1000", "time to detect", "ECE"} {
		if !strings.Contains(text, want) {
			t.Errorf("eval output lacks %q:\n%s", want, text)
		}
	}
}
