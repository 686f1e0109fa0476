package ingest

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

func TestNextCut(t *testing.T) {
	data := []byte("aaaa\nbbbb\ncccc\ndddddddddddddddd\ne\n")
	var parts []string
	for start := 0; start < len(data); {
		end := nextCut("", data, start, 11)
		parts = append(parts, string(data[start:end]))
		start = end
	}
	want := []string{"aaaa\nbbbb\n", "cccc\n", "dddddddddddddddd\n", "e\n"}
	if fmt.Sprint(parts) != fmt.Sprint(want) {
		t.Fatalf("parts %q, want %q", parts, want)
	}
	// auditd: the three lines of event 7 stay together.
	audit := []byte("type=A msg=audit(1.0:6): x\ntype=A msg=audit(1.0:7): a\ntype=B msg=audit(1.0:7): b\ntype=C msg=audit(1.0:7): c\ntype=A msg=audit(1.0:8): d\n")
	if cut := nextCut("auditd", audit, 0, 60); string(audit[:cut]) != "type=A msg=audit(1.0:6): x\n" {
		t.Fatalf("auditd cut after %q", audit[:cut])
	}
}

func TestHeaderAndSplittable(t *testing.T) {
	data := []byte("#separator \\x09\n#fields\ta\tb\nx\ty\n#fields\tc\nz\nw\n")
	h := &headers{format: "zeek", data: data}
	if got := h.at(0); got != nil {
		t.Fatalf("header at 0: %q", got)
	}
	if got := h.at(bytes.Index(data, []byte("x\t"))); string(got) != "#separator \\x09\n#fields\ta\tb\n" {
		t.Fatalf("header %q", got)
	}
	if got := h.at(bytes.Index(data, []byte("#fields\tc"))); got != nil {
		t.Fatalf("header before a header: %q", got)
	}
	if got := h.at(bytes.Index(data, []byte("z\n"))); string(got) != "#fields\tc\n" {
		t.Fatalf("header %q", got)
	}
	if got := h.at(bytes.Index(data, []byte("w\n"))); string(got) != "#fields\tc\n" {
		t.Fatalf("header %q", got)
	}
	if got := (&headers{format: "json", data: data}).at(20); got != nil {
		t.Fatalf("header for json: %q", got)
	}
	for in, want := range map[string]bool{`{"a":1}` + "\n" + `{"a":2}`: true, "[\n{}]": false, "{\n\"a\": 1}": false, "<34>Oct 11 x\n": true} {
		if ok, _ := splittable("json", []byte(in)); ok != want {
			t.Errorf("splittable(%q) = %v", in, ok)
		}
	}
	if ok, _ := splittable("evtx", []byte("ElfFile\x00")); ok {
		t.Error("EVTX splittable")
	}
}

// TestIngestLargeFilesInParts sends files many times larger than one
// request: JSON lines, a Zeek TSV log (its header repeated in each part)
// and an auditd log; every record arrives once and parses.
func TestIngestLargeFilesInParts(t *testing.T) {
	j, ts := newServer(t, 256<<10)
	dir := t.TempDir()
	var js, zeek, audit bytes.Buffer
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&js, `{"@timestamp":"2025-03-01T12:00:00Z","message":"json %d","user":"u%d"}`+"\n", i, i%50)
	}
	zeek.WriteString("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tquery\n#types\ttime\tstring\taddr\tstring\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&zeek, "1520000000.%06d\tC%d\t10.0.0.%d\tzeek%d.example\n", i, i, i%250, i)
	}
	for i := 0; i < 8000; i++ {
		fmt.Fprintf(&audit, "type=SYSCALL msg=audit(1520000000.000:%d): arch=c000003e syscall=59 success=yes exit=0 pid=%d comm=\"bash\" exe=\"/usr/bin/bash\"\n", i, i)
		fmt.Fprintf(&audit, "type=EXECVE msg=audit(1520000000.000:%d): argc=2 a0=\"ls\" a1=\"-l%d\"\n", i, i)
		fmt.Fprintf(&audit, "type=PROCTITLE msg=audit(1520000000.000:%d): proctitle=6C73\n", i)
	}
	for name, b := range map[string][]byte{"big.json": js.Bytes(), "dns.log": zeek.Bytes(), "audit.log": audit.Bytes()} {
		os.WriteFile(filepath.Join(dir, name), b, 0o600)
	}
	if err := ingest(ts.URL, "--part-bytes", "65536", "--resume-file", filepath.Join(dir, "resume.json"), dir); err != nil {
		t.Fatal(err)
	}
	got := j.counts()
	if got["big.json"] != 20000 || got["dns.log"] != 20000 || got["audit.log"] != 8000 || j.errors != 0 {
		t.Fatalf("events %v, %d with parse errors", got, j.errors)
	}
	for _, want := range []string{"json 19999", "zeek19999.example"} {
		found := false
		for m, n := range j.byMessage {
			if strings.Contains(m, want) {
				found = n == 1
			}
		}
		if !found {
			t.Errorf("no single event with %q", want)
		}
	}
}

// TestIngestResumesInsideAFile stops the server part-way through a large
// file; the next run sends the rest, and every record arrives once.
func TestIngestResumesInsideAFile(t *testing.T) {
	var requests, failAfter atomic.Int64
	failAfter.Store(5)
	flaky := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && requests.Add(1) > failAfter.Load() {
				http.Error(w, `{"error":"stopped"}`, http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	j, ts := newServer(t, 256<<10, flaky)
	dir := t.TempDir()
	var js bytes.Buffer
	for i := 0; i < 30000; i++ {
		fmt.Fprintf(&js, `{"@timestamp":"2025-03-01T12:00:00Z","message":"line %d"}`+"\n", i)
	}
	path := filepath.Join(dir, "app.json")
	os.WriteFile(path, js.Bytes(), 0o600)
	resume := filepath.Join(dir, "resume.json")
	if err := ingest(ts.URL, "--part-bytes", "65536", "--resume-file", resume, path); err == nil {
		t.Fatal("first run did not fail")
	}
	first := j.counts()["app.json"]
	if first == 0 || first >= 30000 {
		t.Fatalf("first run stored %d events", first)
	}
	failAfter.Store(1 << 30)
	if err := ingest(ts.URL, "--part-bytes", "65536", "--resume-file", resume, path); err != nil {
		t.Fatal(err)
	}
	if got := j.counts()["app.json"]; got != 30000 {
		t.Fatalf("%d events after the second run, want 30000", got)
	}
	for m, n := range j.byMessage {
		if n != 1 {
			t.Fatalf("%q stored %d times", m, n)
		}
	}
}

// TestIngestEVTXInParts cuts a real EVTX file between its chunks, each
// part with the file header: as many records arrive as the whole file
// holds, none damaged.
func TestIngestEVTXInParts(t *testing.T) {
	data := parsetest.TarFile(t, filepath.Join(parsetest.Shared(t), "datasets", "deepbluecli-evtx.tgz"), "smb-password-guessing-security.evtx")
	want := 0
	in, err := parse.NewInstance("evtx")
	if err != nil {
		t.Fatal(err)
	}
	if err := in.ReadAll(data, parsetest.NewEvent(), 0, func(*event.Event) error { want++; return nil }); err != nil {
		t.Fatal(err)
	}
	var posts atomic.Int64
	count := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			posts.Add(1)
			next.ServeHTTP(w, r)
		})
	}
	j, ts := newServer(t, 1<<20, count)
	dir := t.TempDir()
	path := filepath.Join(dir, "security.evtx")
	os.WriteFile(path, data, 0o600)
	if err := ingest(ts.URL, "--part-bytes", "266240", "--resume-file", filepath.Join(dir, "resume.json"), path); err != nil {
		t.Fatal(err)
	}
	if got := j.counts()["security.evtx"]; got != want || want < 3000 || j.errors != 0 || posts.Load() < 10 {
		t.Fatalf("%d of %d records in %d requests, %d with errors", got, want, posts.Load(), j.errors)
	}
}

// FuzzParts checks the cutting of any input: parts follow each other
// without gap or overlap, each ends at a line end (or the input's end), and
// each but a single over-long line or event stays within the size.
func FuzzParts(f *testing.F) {
	f.Add([]byte("a\nbb\nccc\n"), 4, "")
	f.Add([]byte("type=A msg=audit(1:2): x\ntype=B msg=audit(1:2): y\ntype=A msg=audit(1:3): z\n"), 30, "auditd")
	f.Add([]byte("#fields\ta\n1\n2\n#fields\tb\n3\n"), 5, "zeek")
	f.Fuzz(func(t *testing.T, data []byte, size int, format string) {
		if size < 1 || size > 1<<20 || format == "evtx" {
			return
		}
		var joined []byte
		h := &headers{format: format, data: data}
		for start, n := 0, 0; start < len(data); n++ {
			end := nextCut(format, data, start, size)
			if end <= start || end > len(data) {
				t.Fatalf("cut %d after %d (len %d)", end, start, len(data))
			}
			if end < len(data) && data[end-1] != '\n' {
				t.Fatalf("part %d ends inside a line at %d", n, end)
			}
			if end-start > size && bytes.Count(data[start:end-1], []byte("\n")) > 0 && format != "auditd" {
				t.Fatalf("part %d of %d bytes holds several lines over size %d", n, end-start, size)
			}
			_ = h.at(start)
			joined = append(joined, data[start:end]...)
			start = end
		}
		if !bytes.Equal(joined, data) {
			t.Fatal("parts do not give the input back")
		}
	})
}
