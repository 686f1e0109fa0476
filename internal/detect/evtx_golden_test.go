package detect_test

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/sigma"
	"github.com/wacht-soc/wacht/sigma/sigmatest"
)

var updateEVTXGolden = flag.Bool("update", false, "rewrite testdata/evtx-golden.json")

// evtxGoldenFile holds the match count of every SigmaHQ rule that fires over
// the EVTX sets of the shared datasets (the OTRF JSON events have theirs in
// sigma/testdata/otrf-golden.json): a change in detections shows in review.
const evtxGoldenFile = "testdata/evtx-golden.json"

func sharedDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("WACHT_SHARED")
	if d == "" {
		d = filepath.Join("..", "..", "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(d, "sigma", "rules")); err != nil {
		if os.Getenv("WACHT_REQUIRE_SHARED") != "" {
			t.Fatalf("shared data not found at %s", d)
		}
		t.Skipf("shared data not found at %s", d)
	}
	return d
}

// TestAllRulesOverEVTX runs every SigmaHQ rule over every record of the two
// EVTX sets (evtx-attack-samples, deepbluecli-evtx) the way `wacht scan`
// does, and compares the matches per rule with the golden summary.
func TestAllRulesOverEVTX(t *testing.T) {
	shared := sharedDir(t)
	rs, err := detect.Load(detect.LoadOptions{Paths: []string{filepath.Join(shared, "sigma", "rules")},
		Sigma: sigma.Options{UnknownPlaceholder: sigma.PlaceholderNoMatch}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _, invalid := rs.Counts(); ok < 3700 || invalid > 0 {
		t.Fatalf("rules: %d ok, %d invalid", ok, invalid)
	}
	got := sigmatest.NewSummary()
	record := func(m sigma.Match) { got.Add(m.Rule.ID) }
	inst, err := parse.NewInstance("evtx")
	if err != nil {
		t.Fatal(err)
	}
	mp := inst.Parser.(parse.MultiParser)
	for _, set := range []string{"evtx-attack-samples.tgz", "deepbluecli-evtx.tgz"} {
		f, err := os.Open(filepath.Join(shared, "datasets", set))
		if err != nil {
			t.Fatal(err)
		}
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", set, err)
			}
			if h.Typeflag != tar.TypeReg || !strings.HasSuffix(strings.ToLower(h.Name), ".evtx") || strings.HasPrefix(filepath.Base(h.Name), "._") {
				continue
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			// Damaged samples keep the records read before the damage.
			_ = mp.ParseAll(data, event.Event{Tenant: event.DefaultTenant}, func(ev *event.Event) error {
				got.Events++
				if ls, ok := detect.RouteLogSource(ev); ok {
					ev.LogSource = ls
				}
				rs.Engine.Match(ev, record)
				return nil
			})
		}
		f.Close()
	}
	rs.Engine.Flush(time.Time{}, record)
	t.Logf("%d EVTX records, %d matches, %d distinct rules fired", got.Events, got.Matches, len(got.Rules))
	if got.Events < 10000 || len(got.Rules) < 50 {
		t.Errorf("%d records, %d rules fired: too few", got.Events, len(got.Rules))
	}
	sigmatest.Check(t, evtxGoldenFile, got, *updateEVTXGolden, "go test ./internal/detect -run TestAllRulesOverEVTX -update")
}
