package rfc3164_test

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
	"github.com/wacht-soc/wacht/internal/parse/rfc3164"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "rfc3164", "log") }

func TestReferenceAndLocation(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	p := rfc3164.New(rfc3164.Options{Reference: time.Date(2021, 1, 2, 0, 0, 0, 0, time.UTC), Location: berlin})
	ev := event.Event{IngestTime: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := p.Parse([]byte("Dec 31 23:00:00 h a: m"), &ev); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2020, 12, 31, 22, 0, 0, 0, time.UTC); !ev.Time.Equal(want) {
		t.Fatalf("time %v, want %v", ev.Time, want)
	}
}

func TestErrorsNameOffset(t *testing.T) {
	f := func(line, want string) {
		t.Helper()
		ev := parsetest.NewEvent()
		err := rfc3164.New(rfc3164.Options{}).Parse([]byte(line), &ev)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%q: error %v, want it to contain %q", line, err, want)
		}
	}
	f("<34>Jan  1 00:00:00 h a: \xff", "message at byte 25: invalid UTF-8")
	f("<34>Foo  1 00:00:00 h a: m", "timestamp at byte 4")
	f("<34", "PRI at byte 0")
	f("", "empty record")
	ev := event.Event{}
	if err := rfc3164.New(rfc3164.Options{}).Parse([]byte("Jan  1 00:00:00 h a: m"), &ev); err == nil {
		t.Fatal("year-less time without reference accepted")
	}
}

// TestJCFixtures checks the jc project's RFC 3164 lines.
func TestJCFixtures(t *testing.T) {
	dir := filepath.Join(parsetest.Shared(t), "datasets", "jc-cef-syslog-fixtures")
	raw, err := os.ReadFile(filepath.Join(dir, "syslog-3164.out"))
	if err != nil {
		t.Skip(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, "syslog-3164.json"))
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
	for i, line := range lines {
		ev := parsetest.NewEvent()
		err := rfc3164.New(rfc3164.Options{}).Parse(line, &ev)
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
		if p, ok := w["priority"].(float64); ok && ev.GetString("syslog.priority") != fmt.Sprint(p) {
			t.Errorf("line %d: priority %q, jc %v", i+1, ev.GetString("syslog.priority"), p)
		}
		tag, _ := w["tag"].(string)
		content := strings.TrimSpace(w["content"].(string))
		if tag == "" {
			// jc reads "avas: text" as host avas without tag; we read
			// avas as the tag, as rsyslog does. The text agrees.
			if strings.TrimSpace(ev.Message) != content {
				t.Errorf("line %d: message %q, jc %q", i+1, ev.Message, content)
			}
			continue
		}
		if h := ev.GetString("host.name"); h != w["hostname"] {
			t.Errorf("line %d: host %q, jc %q", i+1, h, w["hostname"])
		}
		// jc leaves "[pid]: " in the content; rebuild both sides alike.
		ours := ev.GetString("syslog.appname")
		if pid := ev.GetString("syslog.procid"); pid != "" {
			ours += "[" + pid + "]"
		}
		ours += ": " + strings.TrimSpace(ev.Message)
		theirs := tag + content
		if !strings.HasPrefix(content, "[") && !strings.HasPrefix(content, "(") {
			theirs = tag + ": " + content
		}
		if ours != theirs {
			t.Errorf("line %d: tag+message %q, jc %q", i+1, ours, theirs)
		}
	}
}

// TestLoghub parses the loghub Linux and OpenSSH logs (BSD syslog without
// PRI): every line must parse, and sshd/PAM lines yield user, address and
// outcome.
func TestLoghub(t *testing.T) {
	dir := filepath.Join(parsetest.Shared(t), "datasets", "loghub-linux-openssh")
	for _, name := range []string{"Linux/Linux_2k.log", "OpenSSH/OpenSSH_2k.log"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Skip(err)
		}
		p := rfc3164.New(rfc3164.Options{})
		var n, failedPw, withIP, withOutcome int
		for i, l := range parsetest.Lines(data) {
			ev := parsetest.NewEvent()
			if err := p.Parse(l, &ev); err != nil {
				t.Errorf("%s line %d: %v: %s", name, i+1, err, l)
				continue
			}
			n++
			if bytes.Contains(l, []byte("Failed password for")) {
				failedPw++
				if ev.GetString("user.name") == "" || ev.GetString("event.outcome") != "failure" {
					t.Errorf("%s line %d: no user/outcome: %s", name, i+1, l)
				}
			}
			if ev.GetString("source.ip") != "" {
				withIP++
			}
			if ev.GetString("event.outcome") != "" {
				withOutcome++
			}
		}
		t.Logf("%s: %d lines, %d failed-password, %d with source.ip, %d with outcome", name, n, failedPw, withIP, withOutcome)
		if withIP == 0 || withOutcome == 0 {
			t.Errorf("%s: no entities extracted", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("testdata", "basic.log"))
	for _, l := range parsetest.Lines(data) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev := parsetest.NewEvent()
		if err := rfc3164.New(rfc3164.Options{}).Parse(b, &ev); err == nil && !utf8.ValidString(ev.Message) {
			t.Fatalf("invalid UTF-8 message accepted: %q", ev.Message)
		}
	})
}

func TestHuge(t *testing.T) {
	huge := append([]byte("<34>Jan  1 00:00:00 h a: "), bytes.Repeat([]byte("A"), 10<<20)...)
	ev := parsetest.NewEvent()
	if err := rfc3164.New(rfc3164.Options{}).Parse(huge, &ev); err != nil || len(ev.Message) != 10<<20 {
		t.Fatalf("10 MB message: %v", err)
	}
}

func BenchmarkParse(b *testing.B) {
	apps := []string{"sshd", "sudo", "kernel", "CRON", "postfix/smtpd"}
	var lines [][]byte
	size := 0
	for i := range 2000 {
		app := apps[i%len(apps)]
		msg := fmt.Sprintf("session %d opened for user svc%d by (uid=0) with some longer text to look like a real line", i, i%17)
		if app == "sshd" {
			msg = fmt.Sprintf("Failed password for user%d from 10.1.%d.%d port %d ssh2", i, i%250, i%199, 1024+i)
		}
		l := fmt.Sprintf("<%d>Feb %2d %02d:%02d:%02d host%d %s[%d]: %s", i%192, 1+i%28, i%24, i%60, i%60, i%50, app, 1000+i, msg)
		lines = append(lines, []byte(l))
		size += len(l) + 1
	}
	b.SetBytes(int64(size))
	p := rfc3164.New(rfc3164.Options{})
	ref := parsetest.Ingest()
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			ev := event.Event{IngestTime: ref, Fields: make([]event.Field, 0, 16)}
			if err := p.Parse(l, &ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "events/s")
}
