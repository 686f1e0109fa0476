package auditd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/auditd"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.GoldenWhole(t, "auditd", "log") }

// TestLibaudit reads the go-libaudit sample logs: every line is a record,
// records join into events, hex proctitles decode.
func TestLibaudit(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(parsetest.Shared(t), "datasets", "auditd-go-libaudit", "auparse", "testdata", "*.log"))
	if len(files) == 0 {
		t.Skip("no auditd data")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := len(parsetest.Lines(data))
		n, bad := 0, 0
		err = (&auditd.Parser{}).ParseAll(data, parsetest.NewEvent(), func(ev *event.Event) error {
			n++
			if len(ev.Errors) > 0 {
				// "type=UNKNOWN[1329] msg=?" has no audit stamp at all
				bad++
				if !strings.Contains(string(ev.Raw), "msg=?") {
					t.Errorf("%s: %v", filepath.Base(f), ev.Errors)
				}
				return nil
			}
			if ev.LogSource.Product != "linux" || ev.Time.IsZero() {
				t.Errorf("%s: not normalized", filepath.Base(f))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d lines, %d events, %d errors", filepath.Base(f), lines, n, bad)
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Fuzz(f, "auditd", filepath.Join("testdata", "basic.log"))
}

func BenchmarkParse(b *testing.B) {
	parsetest.Bench(b, "auditd", parsetest.Repeat(1000,
		`type=SYSCALL msg=audit(1740736800.123:%d): arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 items=2 ppid=900 pid=%d auid=1000 uid=0 gid=0 comm="curl" exe="/usr/bin/curl" key="net_tools"`,
		`type=PROCTITLE msg=audit(1740736800.123:%d): proctitle=6375726C002D6F002F746D702F6120622E7368`))
}
