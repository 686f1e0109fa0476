package rules

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	g := cli.NewGlobals()
	root := g.Root()
	root.AddCommand(NewCommand(g))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestCheck: a folder with a good, an invalid and an unsupported rule is
// summarised, each problem named with its file, and the command fails.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("good.yml", "title: good\nid: g\nlogsource: {product: test}\ndetection:\n  s:\n    A: b\n  condition: s\n")
	write("bad.yml", "title: bad\nid: b\nlogsource: {product: test}\ndetection:\n  s:\n    A: b\n  condition: s and missing\n")
	write("placeholder.yml", "title: ph\nid: p\nlogsource: {product: test}\ndetection:\n  s:\n    A|expand: '%admins%'\n  condition: s\n")
	out, err := run(t, "rules", "check", dir)
	if err == nil || !strings.Contains(out, "3 rules: 1 ok, 1 unsupported, 1 invalid") ||
		!strings.Contains(out, filepath.Join(dir, "bad.yml")+" (b): invalid") ||
		!strings.Contains(out, filepath.Join(dir, "placeholder.yml")+" (p): unsupported") {
		t.Fatalf("check: %v\n%s", err, out)
	}
	os.Remove(filepath.Join(dir, "bad.yml"))
	pf := filepath.Join(t.TempDir(), "ph.yml")
	os.WriteFile(pf, []byte("admins: [adm_*]\n"), 0o644)
	if out, err := run(t, "rules", "check", "--placeholders", pf, dir); err != nil || !strings.Contains(out, "2 rules: 2 ok, 0 unsupported, 0 invalid") {
		t.Fatalf("check with placeholders: %v\n%s", err, out)
	}
}

// TestTestAndList: the detect package's rule tests pass through the
// command, and list shows the starter pack.
func TestTestAndList(t *testing.T) {
	out, err := run(t, "rules", "test", filepath.Join("..", "..", "..", "internal", "detect", "testdata"))
	if err != nil || !strings.Contains(out, "passed, 0 failed") {
		t.Fatalf("test: %v\n%s", err, out)
	}
	out, err = run(t, "rules", "list")
	if err != nil || !strings.Contains(out, "LSASS memory dump through comsvcs.dll MiniDump") {
		t.Fatalf("list: %v\n%s", err, out)
	}
}
