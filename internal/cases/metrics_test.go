package cases

import (
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// MTTD, MTTA, MTTC and MTTR per priority and period, on the fake clock.
func TestMetricsPerPriorityAndPeriod(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		start := f.clock.Now()
		status := func(inc Incident, to Status, res Resolution) Incident {
			t.Helper()
			p := IncidentPatch{Status: &to}
			if res != ResNone {
				p.Resolution = &res
			}
			got, err := f.svc.UpdateIncident(f.ctx, "t", inc.ID, inc.Version, p, "ana")
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		raise := func(host string, sev Severity, lag time.Duration) Incident {
			t.Helper()
			in := alert("r-"+host, sev, "host:"+host)
			in.EventTime = f.clock.Now().Add(-lag)
			a, err := f.svc.RaiseAlert(f.ctx, "t", in)
			if err != nil {
				t.Fatal(err)
			}
			inc, err := f.svc.GetIncident(f.ctx, "t", a.IncidentID)
			if err != nil {
				t.Fatal(err)
			}
			return inc
		}
		// Two critical incidents: detected 10 and 20 minutes after their
		// events; acknowledged after 5 and 15 minutes; one contained after
		// an hour and closed after two.
		a := raise("a", SevCritical, 10*time.Minute)
		b := raise("b", SevCritical, 20*time.Minute)
		if a.Priority != b.Priority {
			t.Fatalf("priorities %s and %s", a.Priority, b.Priority)
		}
		// A low one that nobody touches.
		c := raise("c", SevLow, 0)
		if c.Priority == a.Priority {
			t.Fatalf("low and critical alerts both gave %s", c.Priority)
		}
		f.clock.Advance(5 * time.Minute)
		a = status(a, StatusTriage, ResNone)
		f.clock.Advance(10 * time.Minute)
		b = status(b, StatusTriage, ResNone)
		f.clock.Advance(45 * time.Minute)
		a = status(a, StatusEradication, ResNone)
		f.clock.Advance(time.Hour)
		status(a, StatusClosed, ResTruePositive)
		// Outside the period: an incident a day later.
		f.clock.Advance(24 * time.Hour)
		raise("d", SevCritical, time.Hour)

		ms, err := f.svc.Metrics(f.ctx, "t", start, start.Add(12*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		by := map[Priority]PriorityMetrics{}
		for _, m := range ms {
			by[m.Priority] = m
		}
		hi, lo := by[a.Priority], by[c.Priority]
		want := PriorityMetrics{Priority: a.Priority, Incidents: 2, MTTD: Seconds((15 * time.Minute).Seconds()),
			MTTA: Seconds((10 * time.Minute).Seconds()), MTTC: Seconds(time.Hour.Seconds()), MTTR: Seconds((2 * time.Hour).Seconds())}
		if hi.Incidents != want.Incidents || hi.MTTD != want.MTTD || hi.MTTA != want.MTTA || hi.MTTC != want.MTTC || hi.MTTR != want.MTTR {
			t.Fatalf("%s metrics %+v, want %+v", a.Priority, hi, want)
		}
		if lo.Incidents != 1 || lo.MTTA != 0 || lo.MTTR != 0 {
			t.Fatalf("%s metrics %+v", c.Priority, lo)
		}
		// The next day's period holds only the later incident.
		ms, err = f.svc.Metrics(f.ctx, "t", start.Add(12*time.Hour), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range ms {
			n += m.Incidents
			if m.Incidents == 1 && m.MTTD != Seconds(time.Hour.Seconds()) {
				t.Fatalf("later period: %+v", m)
			}
		}
		if n != 1 {
			t.Fatalf("later period holds %d incidents", n)
		}
	})
}
