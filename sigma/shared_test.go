package sigma

import (
	"archive/zip"
	"bufio"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/valyala/fastjson"
	"github.com/wacht-soc/wacht/event"
)

// sharedDir finds the shared read-only data: $WACHT_SHARED, or ../shared
// next to the module root.
func sharedDir(tb testing.TB) string {
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
	d := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(d); err != nil {
		tb.Skipf("shared data not found at %s", d)
	}
	return d
}

func loadLogSourceMap(tb testing.TB) *LogSourceMap {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(sharedDir(tb), "sigma", "tests-data", "thor.yml"))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := ParseLogSourceMap(data)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// loadAllRules parses every rules folder of the shared SigmaHQ copy.
func loadAllRules(tb testing.TB) (*Collection, []error) {
	tb.Helper()
	root := filepath.Join(sharedDir(tb), "sigma", "rules")
	return LoadFS(os.DirFS(root), ".")
}

var (
	otrfOnce   sync.Once
	otrfEvents []*event.Event
)

// otrfEventsFor decodes up to limit Windows events from the OTRF dataset
// zips (flat JSON lines) and sets their logsource.
func otrfEventsFor(tb testing.TB, limit int) []*event.Event {
	tb.Helper()
	otrfOnce.Do(func() {
		m := loadLogSourceMap(tb)
		root := filepath.Join(sharedDir(tb), "datasets", "otrf-security-datasets", "atomic", "windows")
		var zips []string
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".zip") {
				zips = append(zips, p)
			}
			return nil
		})
		sort.Strings(zips)
		var p fastjson.Parser
		for _, z := range zips {
			zr, err := zip.OpenReader(z)
			if err != nil {
				continue
			}
			for _, f := range zr.File {
				rc, err := f.Open()
				if err != nil {
					continue
				}
				sc := bufio.NewScanner(rc)
				sc.Buffer(make([]byte, 1<<20), 16<<20)
				for sc.Scan() {
					ev := &event.Event{}
					v, err := ev.ParseJSONObject(&p, sc.Bytes())
					if err != nil {
						continue
					}
					_ = v
					if m.Apply(ev) {
						otrfEvents = append(otrfEvents, ev)
					}
				}
				io.Copy(io.Discard, rc)
				rc.Close()
			}
			zr.Close()
		}
	})
	if len(otrfEvents) == 0 {
		tb.Skip("no OTRF events")
	}
	if limit > 0 && limit < len(otrfEvents) {
		return otrfEvents[:limit]
	}
	return otrfEvents
}
