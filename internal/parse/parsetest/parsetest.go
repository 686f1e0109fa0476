// Package parsetest holds what the parser tests share: golden files that
// `go test -update` rewrites, the path of the shared data sets, and a fixed
// ingest time so that year-less timestamps parse the same on every run.
package parsetest

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Ingest is the ingest time given to every test event; year-less
// timestamps are placed relative to it.
func Ingest() time.Time { return time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC) }

// Update reports whether -update was given.
func Update() bool { return *update }

// Golden compares got with the file at path, or writes it with -update.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("write golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w []byte
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if !bytes.Equal(g, w) {
				t.Fatalf("%s line %d differs (run go test -update after checking):\n got: %s\nwant: %s", path, i+1, g, w)
			}
		}
	}
}

// Shared returns the shared data directory: $WACHT_SHARED, or the folder
// "shared" beside the module root. The test is skipped when it is absent.
func Shared(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("WACHT_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found")
		}
		dir = parent
	}
	s := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(s); err != nil {
		t.Skipf("shared data not found at %s", s)
	}
	return s
}

// NewEvent returns an event as a listener hands it to a parser.
func NewEvent() event.Event {
	return event.Event{Tenant: event.DefaultTenant, IngestTime: Ingest(), Source: event.Source{Listener: "test"}}
}

// Render parses rec with the named parser and renders the event as one JSON
// line, raw record excluded.
func Render(t testing.TB, in *parse.Instance, rec []byte) []byte {
	t.Helper()
	ev := NewEvent()
	_ = in.Record(rec, &ev)
	return append(ev.AppendJSON(nil), '\n')
}

// GoldenLines parses every line of each testdata/*.<ext> file with the
// named parser and compares the events with testdata/<file>.golden.
func GoldenLines(t *testing.T, name, ext string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*."+ext))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.%s", ext)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := parse.NewInstance(name)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if len(sc.Bytes()) == 0 {
					continue
				}
				rec := append([]byte(nil), sc.Bytes()...)
				out = append(out, Render(t, in, rec)...)
			}
			Golden(t, f+".golden", out)
		})
	}
}

// GoldenWhole parses each testdata/*.<ext> file as one input with the
// named parser's MultiParser capability and compares the events.
func GoldenWhole(t *testing.T, name, ext string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*."+ext))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.%s", ext)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := parse.NewInstance(name)
			if err != nil {
				t.Fatal(err)
			}
			mp, ok := in.Parser.(parse.MultiParser)
			if !ok {
				t.Fatalf("%s is not a MultiParser", name)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			err = mp.ParseAll(data, NewEvent(), func(ev *event.Event) error {
				ev.Format = in.Info.Format()
				if ev.Time.IsZero() {
					ev.Time = ev.IngestTime
				}
				ev.ComputeID()
				out = append(append(out, ev.AppendJSON(nil)...), '\n')
				return nil
			})
			if err != nil {
				out = append(out, "error: "+err.Error()+"\n"...)
			}
			Golden(t, f+".golden", out)
		})
	}
}

// Lines splits data into non-empty lines without copying.
func Lines(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var l []byte
		if i < 0 {
			l, data = data, nil
		} else {
			l, data = data[:i], data[i+1:]
		}
		l = bytes.TrimRight(l, "\r")
		if len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// ZipLines calls fn for every non-empty line of every file in a zip
// archive (the OTRF data sets are zipped JSON lines).
func ZipLines(t testing.TB, path string, fn func(line []byte)) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || strings.HasPrefix(f.Name, "__MACOSX/") || strings.HasPrefix(filepath.Base(f.Name), "._") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("open %s in %s: %v", f.Name, path, err)
		}
		sc := bufio.NewScanner(rc)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
				fn(l)
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("read %s in %s: %v", f.Name, path, err)
		}
		rc.Close()
	}
}

// Fuzz adds every line of the seed files as a corpus entry and checks that
// the named parser never panics and always leaves valid JSON output.
func Fuzz(f *testing.F, name string, seeds ...string) {
	for _, s := range seeds {
		data, _ := os.ReadFile(s)
		for _, l := range Lines(data) {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := parse.NewInstance(name)
		if err != nil {
			t.Fatal(err)
		}
		ev := NewEvent()
		_ = in.Record(b, &ev)
		if out := ev.AppendJSON(nil); !json.Valid(out) {
			t.Fatalf("invalid JSON output: %s", out)
		}
	})
}

// FuzzAll adds each seed file whole as a corpus entry and checks that the
// named parser reads whole inputs (ReadAll: documents, arrays, lines)
// without panicking and that every event it emits renders as valid JSON.
func FuzzAll(f *testing.F, name string, seeds ...string) {
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := parse.NewInstance(name)
		if err != nil {
			t.Fatal(err)
		}
		_ = in.ReadAll(b, NewEvent(), 0, func(ev *event.Event) error {
			if out := ev.AppendJSON(nil); !json.Valid(out) {
				t.Fatalf("invalid JSON output: %s", out)
			}
			return nil
		})
	})
}

// Bench measures the named parser on lines, reporting MB/s and events/s.
func Bench(b *testing.B, name string, lines [][]byte) {
	in, err := parse.NewInstance(name)
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, l := range lines {
		size += len(l) + 1
	}
	b.SetBytes(int64(size))
	ref := Ingest()
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			ev := event.Event{IngestTime: ref, Fields: make([]event.Field, 0, 24)}
			if err := in.Parser.Parse(l, &ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "events/s")
}

// Repeat returns n copies of the lines, each copy's lines varied by a
// counter substituted for every "%d" so that no two lines are equal.
func Repeat(n int, lines ...string) [][]byte {
	out := make([][]byte, 0, n*len(lines))
	for i := range n {
		for _, l := range lines {
			out = append(out, []byte(strings.ReplaceAll(l, "%d", strconv.Itoa(i))))
		}
	}
	return out
}

// PantherLogs returns the "log" objects of a Panther rule-test file (one
// test case per line) in datasets/panther-rule-tests, skipping the test
// when the file is absent.
func PantherLogs(t testing.TB, file string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Shared(t), "datasets", "panther-rule-tests", file))
	if err != nil {
		t.Skip(err)
	}
	var out [][]byte
	for _, l := range Lines(data) {
		var c struct {
			Log json.RawMessage `json:"log"`
		}
		if err := json.Unmarshal(l, &c); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(c.Log) > 0 && c.Log[0] == '{' {
			out = append(out, c.Log)
		}
	}
	return out
}

// RepeatFile returns the lines of a testdata file that parse without error,
// n times over.
func RepeatFile(b testing.TB, path string, n int) [][]byte {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var good [][]byte
	for _, l := range Lines(data) {
		if json.Valid(l) || l[0] != '{' {
			good = append(good, l)
		}
	}
	out := make([][]byte, 0, n*len(good))
	for range n {
		out = append(out, good...)
	}
	return out
}

// Check parses each record with the named parser and fails the test on a
// parse error or when want is not met; it returns the events.
func Check(t testing.TB, name string, recs [][]byte, want func(ev *event.Event) string) []*event.Event {
	t.Helper()
	in, err := parse.NewInstance(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []*event.Event
	for i, r := range recs {
		ev := NewEvent()
		if err := in.Record(r, &ev); err != nil {
			t.Errorf("record %d: %v: %.300s", i+1, err, r)
			continue
		}
		if want != nil {
			if msg := want(&ev); msg != "" {
				t.Errorf("record %d: %s: %.500s", i+1, msg, ev.AppendJSON(nil))
			}
		}
		out = append(out, &ev)
	}
	return out
}

// Count returns how many events have a non-empty value for field.
func Count(evs []*event.Event, field string) int {
	n := 0
	for _, ev := range evs {
		if ev.GetString(field) != "" {
			n++
		}
	}
	return n
}

// GzipFile returns the first max bytes (0: all) of a gzipped file; a
// truncated stream ends the data rather than the test.
func GzipFile(t testing.TB, path string, max int64) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var r io.Reader = zr
	if max > 0 {
		r = io.LimitReader(zr, max)
	}
	b, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// TarFile returns the content of the first file in a .tgz archive whose
// name ends in suffix, skipping the test when the archive is absent.
func TarFile(t testing.TB, archive, suffix string) []byte {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", archive, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no file ending in %q: %v", archive, suffix, err)
		}
		if h.Typeflag == tar.TypeReg && strings.HasSuffix(h.Name, suffix) {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("%s: %s: %v", archive, h.Name, err)
			}
			return b
		}
	}
}

// DiffEvents describes the first difference between two events, "" if
// none: id, time, message, logsource, format, raw record, errors, then
// the fields in order with their values exactly. Tests that check that
// two ways of parsing agree use it.
func DiffEvents(a, b *event.Event) string {
	switch {
	case a.ID != b.ID:
		return fmt.Sprintf("id %s != %s", a.ID, b.ID)
	case !a.Time.Equal(b.Time):
		return fmt.Sprintf("time %s != %s", a.Time, b.Time)
	case a.Message != b.Message:
		return fmt.Sprintf("message %q != %q", a.Message, b.Message)
	case a.LogSource != b.LogSource:
		return fmt.Sprintf("logsource %+v != %+v", a.LogSource, b.LogSource)
	case a.Format != b.Format:
		return fmt.Sprintf("format %q != %q", a.Format, b.Format)
	case !bytes.Equal(a.Raw, b.Raw):
		return fmt.Sprintf("raw\n%s\n!=\n%s", a.Raw, b.Raw)
	case a.ErrorText() != b.ErrorText():
		return fmt.Sprintf("errors %q != %q", a.ErrorText(), b.ErrorText())
	case len(a.Fields) != len(b.Fields):
		return fmt.Sprintf("fields\n%s\n!=\n%s", a.AppendJSON(nil), b.AppendJSON(nil))
	}
	for i := range a.Fields {
		fa, fb := a.Fields[i], b.Fields[i]
		if fa.Name != fb.Name || !fa.Value.Equal(fb.Value) {
			return fmt.Sprintf("field %d: %s=%s != %s=%s", i, fa.Name, fa.Value.AppendJSON(nil), fb.Name, fb.Value.AppendJSON(nil))
		}
	}
	return ""
}
