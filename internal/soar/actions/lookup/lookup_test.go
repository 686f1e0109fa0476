package lookup_test

import (
	"context"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/soar"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/lookup"
	"github.com/wacht-soc/wacht/internal/store"
)

type fakeHunt struct {
	tenant, q string
	since     time.Time
	limit     int
}

func (f *fakeHunt) Search(_ context.Context, tenant, q string, since time.Time, limit int) ([]map[string]string, error) {
	f.tenant, f.q, f.since, f.limit = tenant, q, since, limit
	return []map[string]string{{"_msg": "Failed password", "source.ip": "198.51.100.7"}}, nil
}

type fakeAssets struct{}

func (fakeAssets) Lookup(_ context.Context, tenant, kind, value string) (map[string]any, error) {
	if tenant == "a" && kind == "hostname" && value == "web1" {
		return map[string]any{"name": "web1", "criticality": 3}, nil
	}
	return nil, store.ErrNotFound
}

func run(t *testing.T, uses string, with map[string]any, deps *soar.Deps) map[string]any {
	t.Helper()
	info, ok := soar.LookupAction(uses)
	if !ok {
		t.Fatalf("%s not registered", uses)
	}
	a, err := soar.DecodeAction(info, with)
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.Run(context.Background(), &soar.Call{Tenant: "a", Now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), Deps: deps})
	if err != nil {
		t.Fatal(err)
	}
	return out.(map[string]any)
}

// TestHuntAndAsset: the search gets the tenant, query, window and limit;
// an unknown asset is "not found", not an error.
func TestHuntAndAsset(t *testing.T) {
	h := &fakeHunt{}
	deps := &soar.Deps{Hunt: h, Assets: fakeAssets{}}
	out := run(t, "hunt.query", map[string]any{"query": `"Failed password"`, "since": "1h"}, deps)
	if out["count"] != 1 || h.tenant != "a" || h.q != `"Failed password"` || h.limit != 100 || !h.since.Equal(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("%v %+v", out, h)
	}
	if out := run(t, "asset.lookup", map[string]any{"kind": "hostname", "value": "web1"}, deps); out["found"] != true {
		t.Fatalf("%v", out)
	}
	if out := run(t, "asset.lookup", map[string]any{"kind": "hostname", "value": "nope"}, deps); out["found"] != false {
		t.Fatalf("%v", out)
	}
	info, _ := soar.LookupAction("hunt.query")
	if _, err := soar.DecodeAction(info, map[string]any{"query": "*", "limit": 5000}); err == nil {
		t.Error("limit above 1000 accepted")
	}
}
