package detect_test

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/eventstore"
)

// TestEventFromRowCopies: the embedded store's row strings point into
// buffers it reuses after the callback; the event must not change then.
func TestEventFromRowCopies(t *testing.T) {
	buf := []byte("CommandLineminidump")
	name := unsafe.String(&buf[0], 11)
	value := unsafe.String(&buf[11], 8)
	ev := detect.EventFromRow(eventstore.Row{
		{Name: "_time", Value: "2026-03-02T10:00:00Z"},
		{Name: "logsource.product", Value: "windows"},
		{Name: name, Value: value},
	}, "a")
	copy(buf, "XXXXXXXXXXXXXXXXXXX")
	if got := ev.GetString("CommandLine"); got != "minidump" || ev.LogSource.Product != "windows" || ev.Tenant != "a" || ev.Time.IsZero() {
		t.Fatalf("event after buffer reuse: %q %+v", got, ev)
	}
}

func TestPrefilterQuery(t *testing.T) {
	rs, err := detect.Load(detect.LoadOptions{Starter: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	q := detect.PrefilterQuery(rs.Rules)
	for _, want := range []string{`(logsource.product:="linux" logsource.service:="sshd")`,
		`(logsource.product:="windows" logsource.category:="process_creation")`, `sourcetype:~"(?i)access|iis"`} {
		if !strings.Contains(q, want) {
			t.Errorf("prefilter %s lacks %s", q, want)
		}
	}
}
