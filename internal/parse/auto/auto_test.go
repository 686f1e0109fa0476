package auto_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	_ "github.com/wacht-soc/wacht/internal/parse/all"
	"github.com/wacht-soc/wacht/internal/parse/auto"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
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

func lines(t testing.TB, path string, n int) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	var out [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && (n <= 0 || len(out) < n) {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
	}
	return out
}

func record(t *testing.T, in *parse.Instance, rec []byte) (*event.Event, error) {
	t.Helper()
	ev := &event.Event{Tenant: "t", IngestTime: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
	return ev, in.Record(rec, ev)
}

// A relay's stream mixing sshd syslog and CEF: each record is read by its
// own format and says so in event.format.
func TestMixedStream(t *testing.T) {
	ssh := lines(t, shared(t, "datasets/loghub-linux-openssh/OpenSSH/OpenSSH_2k.log"), 50)
	cef := lines(t, shared(t, "datasets/jc-cef-syslog-fixtures/cef.out"), 0)
	if len(ssh) < 50 || len(cef) == 0 {
		t.Fatalf("fixtures too small: %d ssh, %d cef", len(ssh), len(cef))
	}
	in, err := parse.NewInstance("auto")
	if err != nil {
		t.Fatal(err)
	}
	formats := map[string]int{}
	for i, rec := range ssh {
		want := "syslog/"
		if i%5 == 4 {
			rec = cef[i%len(cef)]
			want = "cef/"
		}
		ev, err := record(t, in, rec)
		if err != nil {
			t.Fatalf("record %d %q: %v", i, rec, err)
		}
		if !strings.HasPrefix(ev.Format, want) {
			t.Fatalf("record %d %q read as %s, want %s", i, rec, ev.Format, want)
		}
		formats[ev.Format]++
		if want == "cef/" && ev.GetString("cef.device_vendor")+ev.GetString("deviceVendor")+ev.GetString("DeviceVendor") == "" && len(ev.Fields) < 5 {
			t.Fatalf("cef record %d has few fields: %v", i, ev.Fields)
		}
	}
	if len(formats) != 2 {
		t.Fatalf("formats used: %v", formats)
	}
}

// A Zeek TSV log through auto: headers become state, records are Zeek
// events with the header's field names; W3C after it switches again.
func TestZeekHeaders(t *testing.T) {
	recs := lines(t, shared(t, "datasets/zeek-wrccdc-2018/zeek-default/dns.log.gz"), 60)
	in, _ := parse.NewInstance("auto")
	events := 0
	for _, rec := range recs {
		ev, err := record(t, in, rec)
		if err == parse.ErrNoEvent {
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", rec, err)
		}
		events++
		if !strings.HasPrefix(ev.Format, "zeek/") || ev.GetString("query") == "" && ev.GetString("dns.question.name") == "" {
			t.Fatalf("%q read as %s with %v", rec, ev.Format, ev.Fields)
		}
	}
	if events < 40 {
		t.Fatalf("only %d events from 60 lines", events)
	}
	w3c := []string{
		"#Software: Microsoft Internet Information Services 10.0",
		"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status",
		"2024-01-02 03:04:05 10.0.0.1 GET /index.html - 80 - 192.0.2.7 curl/8.0 200",
	}
	var last *event.Event
	for _, l := range w3c {
		ev, err := record(t, in, []byte(l))
		if err != nil && err != parse.ErrNoEvent {
			t.Fatalf("%q: %v", l, err)
		}
		last = ev
	}
	if !strings.HasPrefix(last.Format, "w3c/") || last.GetString("c-ip")+last.GetString("source.ip") == "" {
		t.Fatalf("w3c record read as %s: %v", last.Format, last.Fields)
	}
}

func TestUnknownFirstRecord(t *testing.T) {
	in, _ := parse.NewInstance("auto")
	ev, err := record(t, in, []byte("hello"))
	if err == nil || !strings.Contains(err.Error(), "cannot tell the format") {
		t.Fatalf("err = %v", err)
	}
	if len(ev.Errors) == 0 || ev.Message != "hello" {
		t.Fatalf("record not kept with its error: %+v", ev)
	}
	// After an unknown record the stream can still start.
	ev, err = record(t, in, []byte(`{"a":1}`))
	if err != nil || !strings.HasPrefix(ev.Format, "json/") {
		t.Fatalf("json after unknown: %v %s", err, ev.Format)
	}
	if p, ok := in.Parser.(*auto.Parser); !ok || p.Current() != "json" {
		t.Fatalf("current format %v", in.Parser)
	}
}

func FuzzAuto(f *testing.F) {
	for _, s := range []string{"<13>Jan  2 03:04:05 h sshd[1]: Accepted password for a from 1.2.3.4 port 2 ssh2", "CEF:0|a|b|1|2|n|3|src=1.2.3.4", `{"EventID":4624,"Channel":"Security"}`, "#fields\tts\tuid", "type=SYSCALL msg=audit(1.2:3): a=b", "x"} {
		f.Add([]byte(s), []byte(s))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		in, _ := parse.NewInstance("auto")
		for _, rec := range [][]byte{a, b, a} {
			ev := &event.Event{IngestTime: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
			err := in.Record(rec, ev)
			if err == nil && ev.Format == "auto/1" {
				t.Fatalf("event read without a real format: %q", rec)
			}
		}
	})
}
