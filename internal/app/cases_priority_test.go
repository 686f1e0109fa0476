package app

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// Alerts on an asset are rated by its inventory criticality, raised for
// an internet-facing asset and lowered for an isolated one.
func TestAssetCriticalityUsesExposure(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, store.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "state.db")})
	inv := assets.New(db, nil, time.Now, nil)
	add := func(host string, crit assets.Criticality, exp assets.Exposure) {
		t.Helper()
		a, _, err := inv.Observe(ctx, "t", assets.Observation{Kind: assets.KindHost, Name: host, Identifiers: []assets.Identifier{{Type: "hostname", Value: host}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inv.Update(ctx, "t", a.ID, a.Version, assets.Patch{Criticality: &crit, Exposure: &exp}); err != nil {
			t.Fatal(err)
		}
	}
	add("web", 3, assets.ExposureInternet)
	add("db", 3, assets.ExposureInternal)
	add("lab", 3, assets.ExposureIsolated)
	add("crown", 4, assets.ExposureInternet)
	for host, want := range map[string]int{"web": 5, "db": 4, "lab": 3, "crown": 5, "unknown": 0} {
		if got := assetCriticality(ctx, inv, "t", []cases.Entity{{Kind: "host", Value: host}}); got != want {
			t.Errorf("%s: rated %d, want %d", host, got, want)
		}
	}
}
