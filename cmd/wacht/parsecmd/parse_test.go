package parsecmd

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/internal/parse/parsetest"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
)

// shared finds rel in the shared data (skipping when it is not here).
func shared(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(parsetest.Shared(t), rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data %s: %v", rel, err)
	}
	return p
}

func run(args ...string) (stdout, stderr string, err error) {
	root := &cobra.Command{Use: "wacht", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(NewCommand(&cli.Globals{}))
	var out, errb strings.Builder
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"parse"}, args...))
	err = root.Execute()
	return out.String(), errb.String(), err
}

func TestParseFiles(t *testing.T) {
	dns := shared(t, "datasets/zeek-wrccdc-2018/zeek-default/dns.log.gz")
	cef, err := os.ReadFile(shared(t, "datasets/jc-cef-syslog-fixtures/cef.out"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zf, _ := os.Create(filepath.Join(dir, "fw.zip"))
	zw := zip.NewWriter(zf)
	w, _ := zw.Create("logs/cef.log")
	w.Write(cef)
	zw.Close()
	zf.Close()

	out, stderr, err := run(dns, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	formats := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		f, _ := ev["event.format"].(string)
		formats[strings.SplitN(f, "/", 2)[0]]++
		if strings.HasPrefix(f, "zeek/") && (ev["logsource.product"] != "zeek" || ev["source.ip"] == nil) {
			t.Fatalf("zeek event without logsource or entities: %s", sc.Text())
		}
	}
	cefLines := 0
	for _, l := range strings.Split(string(cef), "\n") {
		if strings.TrimSpace(l) != "" {
			cefLines++
		}
	}
	if formats["zeek"] < 1000 || formats["cef"] != cefLines {
		t.Fatalf("formats %v (want %d cef)", formats, cefLines)
	}
	if !strings.Contains(stderr, "fw.zip/logs/cef.log: ") || !strings.Contains(stderr, "dns.log.gz: ") {
		t.Fatalf("no per-file summary: %s", stderr)
	}
}

func TestParseBadInput(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.txt"), []byte("hello there\nsecond line\n"), 0o600)
	_, _, err := run(filepath.Join(dir, "x.txt"))
	if err == nil || !strings.Contains(err.Error(), "x.txt: cannot tell the format") {
		t.Fatalf("err = %v", err)
	}
	_, _, err = run(filepath.Join(dir, "missing.log"))
	if err == nil || !strings.Contains(err.Error(), "missing.log") {
		t.Fatalf("err = %v", err)
	}
	os.WriteFile(filepath.Join(dir, "bad.evtx"), []byte("ElfFile\x00garbage"), 0o600)
	_, _, err = run(filepath.Join(dir, "bad.evtx"))
	if err == nil || !strings.Contains(err.Error(), "bad.evtx: read as evtx") {
		t.Fatalf("err = %v", err)
	}
	_, _, err = run("--format", "nope", dir)
	if err == nil || !strings.Contains(err.Error(), "unknown parser") {
		t.Fatalf("err = %v", err)
	}
}

// TestParseCutShortFile prints the events of a gzip file cut short and
// then fails it, saying where it stopped and how many were printed.
func TestParseCutShortFile(t *testing.T) {
	var src, gz bytes.Buffer
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&src, `{"@timestamp":"2025-03-01T12:00:00Z","user":"u%d","action":"login","pad":"%s"}`+"\n", i, strings.Repeat("p", i%50))
	}
	zw := gzip.NewWriter(&gz)
	zw.Write(src.Bytes())
	zw.Close()
	path := filepath.Join(t.TempDir(), "auth.json.gz")
	os.WriteFile(path, gz.Bytes()[:gz.Len()/2], 0o600)
	out, _, err := run(path)
	printed := strings.Count(out, "\n")
	if printed < 100 || printed >= 5000 {
		t.Fatalf("%d events printed from half the file", printed)
	}
	if err == nil || !strings.Contains(err.Error(), "auth.json.gz: cut short after") || !strings.Contains(err.Error(), fmt.Sprintf("the %d events before that were printed", printed)) {
		t.Fatalf("err = %v", err)
	}
}
