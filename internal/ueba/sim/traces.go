package sim

import (
	"archive/zip"
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Trace is the process creations (Sysmon event 1) of one recorded attack
// from the OTRF Security Datasets, in order, with their offsets from the
// first; the simulator replays them on a victim's workstation.
type Trace struct {
	Name  string      `json:"name"`
	Steps []TraceStep `json:"steps"`
}

// TraceStep is one recorded process creation.
type TraceStep struct {
	Offset      time.Duration `json:"offset"`
	Image       string        `json:"image"`
	Parent      string        `json:"parent,omitempty"`
	CommandLine string        `json:"command_line,omitempty"`
}

// maxTraceZip skips large recordings (their process creations are the
// same few; reading them costs seconds).
const maxTraceZip = 1 << 20

// LoadTraces reads the Windows atomic recordings under datasets (the
// shared data sets folder: otrf-security-datasets/atomic/windows/**.zip)
// and returns those with 1 to 50 process creations, sorted by name. An
// error names the file.
func LoadTraces(datasets string) ([]Trace, error) {
	root := filepath.Join(datasets, "otrf-security-datasets", "atomic", "windows")
	var out []Trace
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".zip") {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > maxTraceZip {
			return nil
		}
		tr, err := readTrace(path)
		if err != nil {
			return fmt.Errorf("read trace %s: %w", path, err)
		}
		if n := len(tr.Steps); n >= 1 && n <= 50 {
			out = append(out, tr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Trace) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// sysmonRecord holds the fields read from an OTRF JSON line.
type sysmonRecord struct {
	EventID     int    `json:"EventID"`
	SourceName  string `json:"SourceName"`
	UtcTime     string `json:"UtcTime"`
	Image       string `json:"Image"`
	ParentImage string `json:"ParentImage"`
	CommandLine string `json:"CommandLine"`
}

func readTrace(path string) (Trace, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return Trace{}, err
	}
	defer zr.Close()
	tr := Trace{Name: strings.TrimSuffix(filepath.Base(path), ".zip")}
	type step struct {
		t time.Time
		TraceStep
	}
	var steps []step
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return tr, err
		}
		sc := bufio.NewScanner(io.LimitReader(rc, 64<<20))
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Bytes()
			// Cheap filter before decoding: process creations only.
			if !strings.Contains(string(line), `"EventID":1,`) {
				continue
			}
			var r sysmonRecord
			if json.Unmarshal(line, &r) != nil || r.EventID != 1 || r.Image == "" || !strings.Contains(r.SourceName, "Sysmon") {
				continue
			}
			t, err := time.Parse("2006-01-02 15:04:05.999", r.UtcTime)
			if err != nil {
				continue
			}
			steps = append(steps, step{t, TraceStep{Image: strings.ToLower(r.Image), Parent: strings.ToLower(r.ParentImage), CommandLine: r.CommandLine}})
		}
		err = sc.Err()
		rc.Close()
		if err != nil {
			return tr, err
		}
	}
	slices.SortStableFunc(steps, func(a, b step) int { return a.t.Compare(b.t) })
	for _, s := range steps {
		s.Offset = s.t.Sub(steps[0].t)
		tr.Steps = append(tr.Steps, s.TraceStep)
	}
	return tr, nil
}

// SharedDatasets is $WACHT_SHARED/datasets, or ../shared/datasets beside
// the working directory's module root; "" when absent.
func SharedDatasets() string {
	if d := os.Getenv("WACHT_SHARED"); d != "" {
		return filepath.Join(d, "datasets")
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	d := filepath.Join(dir, "..", "shared", "datasets")
	if _, err := os.Stat(d); err != nil {
		return ""
	}
	return d
}
