package evtx

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sharedDir finds the shared data: $WACHT_SHARED, else ../shared next to
// the directory holding go.mod.
func sharedDir() (string, error) {
	if d := os.Getenv("WACHT_SHARED"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test directory")
		}
		dir = parent
	}
}

// archiveFile is one file from a dataset archive.
type archiveFile struct {
	name string // path inside the archive, without the top folder
	data []byte
}

// readArchive returns the .evtx files and labels.csv counts of a dataset
// archive, skipping the test when the data is not there.
func readArchive(t testing.TB, name string) ([]archiveFile, map[string]int) {
	t.Helper()
	files, labels, err := readArchiveIfPresent(name)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("dataset not available: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return files, labels
}

func readArchiveIfPresent(name string) (files []archiveFile, labels map[string]int, err error) {
	dir, err := sharedDir()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", fs.ErrNotExist, err)
	}
	f, err := os.Open(filepath.Join(dir, "datasets", name))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, err
	}
	tr := tar.NewReader(zr)
	labels = map[string]int{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		rel := h.Name
		if i := strings.IndexByte(rel, '/'); i >= 0 {
			rel = rel[i+1:]
		}
		switch {
		case strings.HasSuffix(rel, ".evtx"):
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, nil, err
			}
			files = append(files, archiveFile{name: rel, data: b})
		case rel == "labels.csv":
			rows, err := csv.NewReader(tr).ReadAll()
			if err != nil {
				return nil, nil, fmt.Errorf("labels.csv: %w", err)
			}
			col, fileCol := slicesIndex(rows[0], "records"), slicesIndex(rows[0], "file")
			if col < 0 || fileCol < 0 {
				return nil, nil, fmt.Errorf("labels.csv: no file or records column")
			}
			for _, r := range rows[1:] {
				n, err := strconv.Atoi(r[col])
				if err != nil {
					return nil, nil, fmt.Errorf("labels.csv: %w", err)
				}
				labels[r[fileCol]] = n
			}
		}
	}
	return files, labels, nil
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// countExceptions lists files whose record count deliberately differs from
// labels.csv, with the reason. Keep it empty unless a file is known to be
// damaged on purpose.
var countExceptions = map[string]string{}

func TestArchiveRecordCounts(t *testing.T) {
	for _, archive := range []string{"evtx-attack-samples.tgz", "deepbluecli-evtx.tgz"} {
		t.Run(archive, func(t *testing.T) {
			files, labels := readArchive(t, archive)
			if len(files) == 0 || len(files) != len(labels) {
				t.Fatalf("%d evtx files, %d labels", len(files), len(labels))
			}
			total, matched, decodeErrs := 0, 0, 0
			for _, af := range files {
				want, ok := labels[af.name]
				if !ok {
					t.Errorf("%s: not in labels.csv", af.name)
					continue
				}
				f, err := Open(bytes.NewReader(af.data), int64(len(af.data)))
				if err != nil {
					t.Errorf("%s: %v", af.name, err)
					continue
				}
				got := 0
				problems := f.Records(func(r Record) error {
					got++
					if r.Err != nil {
						decodeErrs++
						t.Errorf("%s: %v", af.name, r.Err)
					}
					return nil
				})
				if problems != nil {
					t.Logf("%s: %v", af.name, problems)
				}
				total += got
				if got == want {
					matched++
					continue
				}
				if reason, ok := countExceptions[af.name]; ok {
					t.Logf("%s: %d records, labels say %d: %s", af.name, got, want, reason)
					continue
				}
				t.Errorf("%s: %d records, labels.csv says %d", af.name, got, want)
			}
			t.Logf("%s: %d files, %d match labels.csv, %d records, %d decode errors", archive, len(files), matched, total, decodeErrs)
		})
	}
}
