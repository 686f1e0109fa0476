package cases

import (
	"testing"

	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// Two services on one database (the cases and alerting modules, or two
// nodes on PostgreSQL) each keep an in-memory copy of the group keys; each
// must still see the keys the other wrote, and merges.
func TestGroupKeyIndexAcrossServices(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		other := New(db, Options{Now: f.clock.Now, Log: storetest.Logger(t)})
		raise := func(svc *Service, rule, ent string) Alert {
			t.Helper()
			a, err := svc.RaiseAlert(f.ctx, "t", alert(rule, SevMedium, ent))
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		a1 := raise(f.svc, "r1", "host:a")
		a2 := raise(f.svc, "r2", "host:b")
		// The first service wrote every key: its index is the table.
		var gen int64
		if err := db.QueryRow(f.ctx, "SELECT gen FROM case_group_gen WHERE tenant = ?", "t").Scan(&gen); err != nil {
			t.Fatal(err)
		}
		idx := f.svc.keys.tenants["t"]
		if idx == nil || idx.gen != gen || idx.keys["host:a"].incident != a1.IncidentID || idx.keys["host:b"].incident != a2.IncidentID {
			t.Fatalf("index after own writes: %+v (table generation %d)", idx, gen)
		}
		// The other service groups onto keys it never wrote.
		if b := raise(other, "r3", "host:a"); b.IncidentID != a1.IncidentID {
			t.Fatalf("other service opened %s instead of joining %s", b.IncidentID, a1.IncidentID)
		}
		a4 := raise(other, "r4", "host:c")
		// ...and the first one onto keys the other wrote.
		if b := raise(f.svc, "r5", "host:c"); b.IncidentID != a4.IncidentID {
			t.Fatalf("first service opened %s instead of joining %s", b.IncidentID, a4.IncidentID)
		}
		// A merge by one service repoints the keys for both.
		if _, err := other.MergeIncidents(f.ctx, "t", a1.IncidentID, []string{a4.IncidentID}, "ana"); err != nil {
			t.Fatal(err)
		}
		for _, svc := range []*Service{f.svc, other} {
			if b := raise(svc, "r6", "host:c"); b.IncidentID != a1.IncidentID {
				t.Fatalf("alert on host c after the merge went to %s, want %s", b.IncidentID, a1.IncidentID)
			}
		}
		if b := raise(f.svc, "r7", "host:b"); b.IncidentID != a2.IncidentID {
			t.Fatalf("host b moved to %s", b.IncidentID)
		}
	})
}
