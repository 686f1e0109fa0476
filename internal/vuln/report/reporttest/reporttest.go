// Package reporttest runs the golden-summary tests of the importers: each
// real sample from the shared corpus is parsed and its summary (detections
// per severity and per asset) compared with testdata/<name>.golden.json,
// refreshed with `go test -update`.
package reporttest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/internal/vuln/report"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Parse is an importer's entry point.
type Parse func(data []byte) (*report.Report, error)

// Shared returns the shared data directory: $WACHT_SHARED, or "shared"
// beside the module root. The test is skipped when it is absent.
func Shared(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("WACHT_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("module root not found")
		}
		dir = parent
	}
	s := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(s); err != nil {
		tb.Skipf("shared data not found at %s", s)
	}
	return s
}

// Sample reads a file under vuln/samples of the shared data.
func Sample(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(Shared(tb), "vuln", "samples", rel))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Golden parses each sample (paths under vuln/samples) and compares its
// summary with the golden file in testdata. It also requires at least one
// detection unless the sample is listed in empty.
func Golden(t *testing.T, parse Parse, samples ...string) {
	t.Helper()
	for _, rel := range samples {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			r, err := parse(Sample(t, rel))
			if err != nil {
				t.Fatalf("parse %s: %v", rel, err)
			}
			if err := r.Validate(); err != nil {
				t.Fatalf("invalid report: %v", err)
			}
			got, err := json.MarshalIndent(r.Summarize(), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			name := strings.NewReplacer("/", "_").Replace(rel) + ".golden.json"
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update after checking the output)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("summary of %s differs from %s:\n got: %s\nwant: %s", rel, path, got, want)
			}
		})
	}
}

// Fuzz seeds f with the samples and checks that parse never panics and
// that whatever it returns is a valid report.
func Fuzz(f *testing.F, parse Parse, samples ...string) {
	for _, rel := range samples {
		if b, err := os.ReadFile(filepath.Join(sharedOrEmpty(), "vuln", "samples", rel)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parse(data)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("parse returned an invalid report: %v", err)
		}
	})
}

func sharedOrEmpty() string {
	if d := os.Getenv("WACHT_SHARED"); d != "" {
		return d
	}
	dir, _ := os.Getwd()
	for dir != "" && dir != filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared")
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

// Update reports whether golden files are to be rewritten (-update).
func Update() bool { return *update }
