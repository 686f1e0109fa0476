package syslog_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wacht-soc/wacht/internal/parse/parsetest"
	"github.com/wacht-soc/wacht/internal/parse/rfc3164"
	"github.com/wacht-soc/wacht/internal/parse/syslog"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "syslog", "log") }

func TestDetect(t *testing.T) {
	f := func(in string, want bool) {
		t.Helper()
		if got := syslog.Is5424([]byte(in)); got != want {
			t.Fatalf("Is5424(%q) = %v", in, got)
		}
	}
	f("<34>1 - h a p m -", true)
	f("<34>12 - h a p m -", true)
	f("<34>Jan  1 00:00:00 h a: m", false)
	f("<34>0 x", false)
	f("1 2025-01-01T00:00:00Z h a p m -", true)
	f("2025-01-01T00:00:00Z h a: m", false)
	f("<999>1 x", false)
	f("", false)
}

// TestShared parses the jc syslog fixtures and the loghub files through the
// detecting parser: the same lines must parse as with the specific parsers.
func TestShared(t *testing.T) {
	dir := filepath.Join(parsetest.Shared(t), "datasets")
	for _, name := range []string{"jc-cef-syslog-fixtures/syslog-5424.out", "jc-cef-syslog-fixtures/syslog-3164.out", "loghub-linux-openssh/OpenSSH/OpenSSH_2k.log"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Skip(err)
		}
		p := syslog.New(rfc3164.Options{})
		ok, bad := 0, 0
		for _, l := range parsetest.Lines(data) {
			ev := parsetest.NewEvent()
			if err := p.Parse(l, &ev); err != nil {
				bad++
			} else {
				ok++
			}
		}
		t.Logf("%s: %d parsed, %d errors", name, ok, bad)
		if ok == 0 {
			t.Errorf("%s: nothing parsed", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("testdata", "mixed.log"))
	for _, l := range parsetest.Lines(data) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev := parsetest.NewEvent()
		_ = syslog.New(rfc3164.Options{}).Parse(b, &ev)
	})
}
