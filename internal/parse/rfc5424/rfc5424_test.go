package rfc5424_test

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
	"github.com/wacht-soc/wacht/internal/parse/rfc5424"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "rfc5424", "log") }

func TestFields(t *testing.T) {
	f := func(line, field, want string) {
		t.Helper()
		ev := parsetest.NewEvent()
		if err := rfc5424.New().Parse([]byte(line), &ev); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got := ev.GetString(field); got != want {
			t.Fatalf("%s: %s = %q, want %q", line, field, got, want)
		}
	}
	f(`<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% x`, "syslog.facility", "20")
	f(`<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% x`, "syslog.severity", "5")
	f(`<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% x`, "host.name", "192.0.2.1")
	f(`<1>1 - h a p m [a@1 k="x\]y"]`, "sd.a@1.k", "x]y")
	f(`<38>1 - h sshd 1 - - Failed password for root from 2001:db8::1 port 22 ssh2`, "source.ip", "2001:db8::1")
}

func TestErrorsNameOffset(t *testing.T) {
	f := func(line, want string) {
		t.Helper()
		ev := parsetest.NewEvent()
		err := rfc5424.New().Parse([]byte(line), &ev)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%q: error %v, want it to contain %q", line, err, want)
		}
	}
	f(`<34>1 2025-02-01T08:30:01Z h a p m [x@1 a="b`, "structured data at byte 42")
	f(`<34>1 20X5-02-01T08:30:01Z h a p m -`, "timestamp at byte 6")
	f("<34>1 - h a p m - \xff", "message at byte 18: invalid UTF-8")
	f(`<34>1 - h`, "app-name at byte 9: message truncated")
	f(`<999>1 - h a p m -`, "PRI at byte 0")
}

// TestJCFixtures checks the RFC 5424 lines of the jc project against its
// expected parse.
func TestJCFixtures(t *testing.T) {
	dir := filepath.Join(parsetest.Shared(t), "datasets", "jc-cef-syslog-fixtures")
	raw, err := os.ReadFile(filepath.Join(dir, "syslog-5424.out"))
	if err != nil {
		t.Skip(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, "syslog-5424.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []map[string]any
	if err := stdjson.Unmarshal(js, &want); err != nil {
		t.Fatal(err)
	}
	lines := parsetest.Lines(raw)
	if len(lines) != len(want) {
		t.Fatalf("%d lines, %d expectations", len(lines), len(want))
	}
	str := func(v any) string {
		switch x := v.(type) {
		case nil:
			return ""
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case string:
			return x
		}
		return ""
	}
	for i, line := range lines {
		ev := parsetest.NewEvent()
		err := rfc5424.New().Parse(line, &ev)
		w := want[i]
		if _, bad := w["unparsable"]; bad {
			if err == nil {
				t.Errorf("line %d: parsed, jc finds it unparsable: %s", i+1, line)
			}
			continue
		}
		if err != nil {
			t.Errorf("line %d: %v", i+1, err)
			continue
		}
		check := func(jcKey, field string) {
			if g, w := ev.GetString(field), str(w[jcKey]); g != w {
				t.Errorf("line %d: %s = %q, jc %q", i+1, field, g, w)
			}
		}
		check("priority", "syslog.priority")
		check("version", "syslog.version")
		check("hostname", "host.name")
		check("appname", "syslog.appname")
		check("proc_id", "syslog.procid")
		check("msg_id", "syslog.msgid")
		if g, w := ev.Message, str(w["message"]); g != w {
			t.Errorf("line %d: message %q, jc %q", i+1, g, w)
		}
		if sd, ok := w["structured_data"].([]any); ok {
			for _, el := range sd {
				m := el.(map[string]any)
				for k, v := range m["parameters"].(map[string]any) {
					name := "sd." + m["identity"].(string) + "." + k
					if g := ev.GetString(name); g != v {
						t.Errorf("line %d: %s = %q, jc %q", i+1, name, g, v)
					}
				}
			}
		}
		if ts, ok := w["timestamp_epoch_utc"].(float64); ok && ev.Time.Unix() != int64(ts) {
			t.Errorf("line %d: time %v, jc epoch %v", i+1, ev.Time, ts)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("testdata", "basic.log"))
	for _, l := range parsetest.Lines(data) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev := event.Event{}
		if err := rfc5424.New().Parse(b, &ev); err == nil && !utf8.ValidString(ev.Message) {
			t.Fatalf("invalid UTF-8 message accepted: %q", ev.Message)
		}
	})
}

func TestHugeAndBinary(t *testing.T) {
	huge := append([]byte("<34>1 - h a p m - "), bytes.Repeat([]byte("A"), 10<<20)...)
	ev := event.Event{}
	if err := rfc5424.New().Parse(huge, &ev); err != nil || len(ev.Message) != 10<<20 {
		t.Fatalf("10 MB message: %v", err)
	}
	bin := make([]byte, 4096)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	ev = event.Event{}
	if err := rfc5424.New().Parse(bin, &ev); err == nil {
		t.Fatal("binary accepted")
	}
}

func BenchmarkParse(b *testing.B) {
	lines, size := benchLines()
	b.SetBytes(int64(size))
	p := rfc5424.New()
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			ev := event.Event{Fields: make([]event.Field, 0, 16)}
			if err := p.Parse(l, &ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "events/s")
}

// benchLines makes 2,000 varied messages, a third with structured data.
func benchLines() ([][]byte, int) {
	apps := []string{"sshd", "sudo", "nginx", "kernel", "cron", "systemd", "postfix/smtpd"}
	var out [][]byte
	size := 0
	for i := range 2000 {
		app := apps[i%len(apps)]
		sd := "-"
		if i%3 == 0 {
			sd = fmt.Sprintf(`[origin ip="10.0.%d.%d" software="wacht-bench"][meta sequenceId="%d"]`, i%250, i%200, i)
		}
		msg := fmt.Sprintf("session %d opened for user svc%d by (uid=0) with some longer text to look like a real line", i, i%17)
		if app == "sshd" {
			msg = fmt.Sprintf("Failed password for user%d from 10.1.%d.%d port %d ssh2", i, i%250, i%199, 1024+i)
		}
		l := fmt.Sprintf("<%d>1 2025-02-%02dT%02d:%02d:%02d.%06dZ host%d.example.org %s %d ID%d %s %s",
			i%192, 1+i%28, i%24, i%60, i%60, i*37%1000000, i%50, app, 1000+i, i%40, sd, msg)
		out = append(out, []byte(l))
		size += len(l) + 1
	}
	return out, size
}
