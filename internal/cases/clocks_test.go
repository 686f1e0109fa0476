package cases

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

func (f *fixture) tick(t *testing.T) TickResult {
	t.Helper()
	r, err := f.svc.Tick(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) incident(t *testing.T, n NewIncident) Incident {
	t.Helper()
	inc, err := f.svc.CreateIncident(f.ctx, "t", n, "ana")
	if err != nil {
		t.Fatal(err)
	}
	f.drain()
	return inc
}

func breachClocks(evs []bus.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Data.(SLABreach).Clock))
	}
	return out
}

func TestSLABreachAndEscalation(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		inc := f.incident(t, NewIncident{Title: "ransomware", Priority: P1})
		start := f.clock.Now()
		if !inc.SLA.AckDue.Equal(start.Add(15 * time.Minute)) {
			t.Fatalf("ack due %v", inc.SLA.AckDue)
		}
		f.clock.Advance(14 * time.Minute)
		if r := f.tick(t); r.Breaches != 0 {
			t.Fatalf("breach before the target: %+v", r)
		}
		f.clock.Advance(2 * time.Minute)
		r := f.tick(t)
		if r.Breaches != 1 || r.Escalations != 1 {
			t.Fatalf("at 16m: %+v", r)
		}
		if got := breachClocks(f.events(EventSLABreached)); strings.Join(got, ",") != "acknowledge" {
			t.Fatalf("breaches %v", got)
		}
		got, _ := f.svc.GetIncident(f.ctx, "t", inc.ID)
		if got.SLA.EscalatedTo != "team_lead" || !got.SLA.AckBreachedAt.Equal(start.Add(15*time.Minute)) {
			t.Fatalf("after breach: %+v", got.SLA)
		}
		// Ticking again changes nothing.
		if r := f.tick(t); r != (TickResult{}) {
			t.Fatalf("second tick: %+v", r)
		}
		f.drain()
		// An hour after the first breach: the SOC manager.
		f.clock.Advance(time.Hour)
		if r := f.tick(t); r.Escalations != 1 {
			t.Fatalf("second escalation: %+v", r)
		}
		esc := f.events(EventIncidentEscalated)
		if len(esc) != 1 || esc[0].Data.(Escalation).To != "soc_manager" {
			t.Fatalf("escalation events %+v", esc)
		}
		// Containment (4h) and resolution (24h) breach in turn.
		f.clock.Advance(3 * time.Hour)
		f.tick(t)
		f.clock.Advance(21 * time.Hour)
		f.tick(t)
		if got := breachClocks(f.events(EventSLABreached)); strings.Join(got, ",") != "contain,resolve" {
			t.Fatalf("later breaches %v", got)
		}
		got, _ = f.svc.GetIncident(f.ctx, "t", inc.ID)
		if !got.SLA.nextAt.IsZero() {
			t.Fatalf("nothing left to check, next %v", got.SLA.nextAt)
		}
	})
}

func TestSLAMetClocksDoNotBreach(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		inc := f.incident(t, NewIncident{Title: "x", Priority: P2})
		f.clock.Advance(30 * time.Minute)
		who := "ana"
		if _, err := f.svc.UpdateIncident(f.ctx, "t", inc.ID, 0, IncidentPatch{Assignee: &who}, "ana"); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(2 * time.Hour)
		st := StatusEradication
		if _, err := f.svc.UpdateIncident(f.ctx, "t", inc.ID, 0, IncidentPatch{Status: &st}, "ana"); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(69 * time.Hour) // 71.5 h since opening
		if r := f.tick(t); r.Breaches != 0 {
			t.Fatalf("met clocks breached: %+v", r)
		}
		f.clock.Advance(time.Hour)
		f.tick(t)
		if got := breachClocks(f.events(EventSLABreached)); strings.Join(got, ",") != "resolve" {
			t.Fatalf("breaches %v", got)
		}
	})
}

func TestSLAPausesWhileWaiting(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		inc := f.incident(t, NewIncident{Title: "x", Priority: P3}) // ack 4h
		f.clock.Advance(3 * time.Hour)
		yes, no := true, false
		reason := "waiting for the hoster"
		u, err := f.svc.UpdateIncident(f.ctx, "t", inc.ID, 0, IncidentPatch{Waiting: &yes, WaitingReason: &reason}, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if !u.SLA.Paused || !u.SLA.AckDue.IsZero() {
			t.Fatalf("paused SLA %+v", u.SLA)
		}
		f.clock.Advance(10 * time.Hour)
		if r := f.tick(t); r.Breaches != 0 {
			t.Fatal("breached while paused")
		}
		u, err = f.svc.UpdateIncident(f.ctx, "t", inc.ID, 0, IncidentPatch{Waiting: &no}, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if want := f.clock.Now().Add(time.Hour); !u.SLA.AckDue.Equal(want) || u.SLA.Elapsed != 3*time.Hour {
			t.Fatalf("after resume: due %v want %v, elapsed %v", u.SLA.AckDue, want, u.SLA.Elapsed)
		}
		f.clock.Advance(59 * time.Minute)
		if r := f.tick(t); r.Breaches != 0 {
			t.Fatal("breached early after pause")
		}
		f.clock.Advance(2 * time.Minute)
		if r := f.tick(t); r.Breaches != 1 {
			t.Fatalf("no breach after pause ended: %+v", r)
		}
	})
}

func TestSLABusinessHours(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		pol := DefaultSLAPolicy()
		pol.Calendar = WeekdaysNineToFive(time.UTC)
		f := newFixture(t, db, func(o *Options) { o.SLA = &pol })
		f.clock.Advance(4*24*time.Hour + 6*time.Hour + 30*time.Minute) // Friday 16:30
		inc := f.incident(t, NewIncident{Title: "x", Priority: P2})    // ack 1h
		want := time.Date(2026, 3, 9, 9, 30, 0, 0, time.UTC)           // Monday 09:30
		if !inc.SLA.AckDue.Equal(want) {
			t.Fatalf("ack due %v, want %v", inc.SLA.AckDue, want)
		}
		f.clock.Advance(24 * time.Hour) // Saturday
		if r := f.tick(t); r.Breaches != 0 {
			t.Fatal("breached on the weekend")
		}
		f.clock.Advance(want.Sub(f.clock.Now()) + time.Minute)
		if r := f.tick(t); r.Breaches != 1 {
			t.Fatalf("no breach on Monday 09:31: %+v", r)
		}
	})
}

func TestBusinessHoursArithmetic(t *testing.T) {
	b := WeekdaysNineToFive(time.UTC)
	fri := time.Date(2026, 3, 6, 16, 0, 0, 0, time.UTC)
	mon := time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)
	if got := b.Between(fri, mon); got != 2*time.Hour {
		t.Fatalf("between %v", got)
	}
	if got := b.Add(fri, 10*time.Hour); !got.Equal(time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("add %v", got)
	}
	var none *BusinessHours
	if none.Between(fri, mon) != mon.Sub(fri) || !none.Add(fri, time.Hour).Equal(fri.Add(time.Hour)) {
		t.Fatal("nil calendar is 24/7")
	}
}

func stageOf(t *testing.T, sts []RegStage, regime Regime, id string) RegStage {
	t.Helper()
	for _, s := range sts {
		if s.Regime == regime && s.Stage == id {
			return s
		}
	}
	t.Fatalf("no stage %s %s in %+v", regime, id, sts)
	return RegStage{}
}

func deadlineEvents(evs []bus.Event) []string {
	var out []string
	for _, e := range evs {
		d := e.Data.(DeadlineDue)
		out = append(out, string(d.Regime)+"/"+d.Stage+"/"+string(d.Phase))
	}
	return out
}

func TestNIS2Clocks(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		inc := f.incident(t, NewIncident{Title: "outage"})
		aware := f.clock.Now().Add(-2 * time.Hour)
		yes := true
		sts, err := f.svc.Flag(f.ctx, "t", inc.ID, FlagInput{Regime: RegimeNIS2, AwareAt: aware, Facts: ReportFacts{SuspectedMalicious: &yes}}, "ciso")
		if err != nil {
			t.Fatal(err)
		}
		ew, notif, final := stageOf(t, sts, RegimeNIS2, "early_warning"), stageOf(t, sts, RegimeNIS2, "incident_notification"), stageOf(t, sts, RegimeNIS2, "final_report")
		if !ew.Due.Equal(aware.Add(24*time.Hour)) || !notif.Due.Equal(aware.Add(72*time.Hour)) || final.Status != StageAwaiting || !final.Due.IsZero() {
			t.Fatalf("stages %+v", sts)
		}
		if _, err := f.svc.Flag(f.ctx, "t", inc.ID, FlagInput{Regime: RegimeNIS2}, "ciso"); !IsUserError(err) {
			t.Fatalf("double flag: %v", err)
		}
		f.drain()
		// Early warning: warned 4 h before (a sixth of 24 h), then overdue.
		f.clock.Advance(aware.Add(20*time.Hour - time.Minute).Sub(f.clock.Now()))
		f.tick(t)
		if got := deadlineEvents(f.events(EventDeadlineDue)); len(got) != 0 {
			t.Fatalf("too early: %v", got)
		}
		f.clock.Advance(2 * time.Minute)
		f.tick(t)
		if got := strings.Join(deadlineEvents(f.events(EventDeadlineDue)), ","); got != "nis2/early_warning/upcoming" {
			t.Fatalf("upcoming: %q", got)
		}
		f.clock.Advance(4 * time.Hour)
		f.tick(t)
		f.tick(t)
		if got := strings.Join(deadlineEvents(f.events(EventDeadlineDue)), ","); got != "nis2/early_warning/overdue" {
			t.Fatalf("overdue: %q", got)
		}
		sts, _ = f.svc.Stages(f.ctx, "t", inc.ID)
		if !stageOf(t, sts, RegimeNIS2, "early_warning").Overdue {
			t.Fatal("overdue not shown")
		}
		// Submitting the notification starts the final report's month.
		if _, err := f.svc.SubmitStage(f.ctx, "t", inc.ID, RegimeNIS2, "final_report", "", "ciso"); !IsUserError(err) {
			t.Fatalf("final report before notification: %v", err)
		}
		sub, err := f.svc.SubmitStage(f.ctx, "t", inc.ID, RegimeNIS2, "incident_notification", "CSIRT-2026-17", "ciso")
		if err != nil {
			t.Fatal(err)
		}
		if sub.SubmittedBy != "ciso" || !sub.SubmittedAt.Equal(f.clock.Now()) {
			t.Fatalf("submitted %+v", sub)
		}
		sts, _ = f.svc.Stages(f.ctx, "t", inc.ID)
		final = stageOf(t, sts, RegimeNIS2, "final_report")
		if final.Status != StagePending || !final.Due.Equal(f.clock.Now().AddDate(0, 1, 0)) {
			t.Fatalf("final report %+v", final)
		}
		// Intermediate report on request.
		if _, err := f.svc.RequestStage(f.ctx, "t", inc.ID, RegimeNIS2, "intermediate_report", f.clock.Now().Add(48*time.Hour), "csirt"); err != nil {
			t.Fatal(err)
		}
		f.drain()
		f.clock.Advance(49 * time.Hour)
		f.tick(t)
		got := strings.Join(deadlineEvents(f.events(EventDeadlineDue)), ",")
		if !strings.Contains(got, "nis2/intermediate_report/overdue") {
			t.Fatalf("intermediate: %q", got)
		}
		rep, err := f.svc.DraftReport(f.ctx, "t", inc.ID, RegimeNIS2, "early_warning")
		if err != nil {
			t.Fatal(err)
		}
		md := rep.Markdown()
		if !strings.Contains(md, "Suspected unlawful or malicious act: yes") || !strings.Contains(md, "TO COMPLETE") || !strings.Contains(md, "Art. 23(4)(a)") {
			t.Fatalf("draft:\n%s", md)
		}
	})
}

func TestNIS2TrustServiceProvider(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		inc := f.incident(t, NewIncident{Title: "x"})
		sts, err := f.svc.Flag(f.ctx, "t", inc.ID, FlagInput{Regime: RegimeNIS2, Facts: ReportFacts{TrustServiceProvider: true}}, "ciso")
		if err != nil {
			t.Fatal(err)
		}
		if n := stageOf(t, sts, RegimeNIS2, "incident_notification"); !n.Due.Equal(f.clock.Now().Add(24 * time.Hour)) {
			t.Fatalf("trust service notification due %v", n.Due)
		}
	})
}

func TestGDPRClock(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		inc := f.incident(t, NewIncident{Title: "leak", Description: "S3 bucket public"})
		sts, err := f.svc.Flag(f.ctx, "t", inc.ID, FlagInput{Regime: RegimeGDPR, Facts: ReportFacts{
			DataCategories: "names, e-mail addresses", ApproxDataSubjects: "about 1,200", DPOContact: "dpo@example.eu"}}, "dpo")
		if err != nil {
			t.Fatal(err)
		}
		n := stageOf(t, sts, RegimeGDPR, "sa_notification")
		if !n.Due.Equal(f.clock.Now().Add(72 * time.Hour)) {
			t.Fatalf("gdpr due %v", n.Due)
		}
		f.clock.Advance(61 * time.Hour) // 12 h lead
		f.tick(t)
		f.clock.Advance(12 * time.Hour)
		f.tick(t)
		if got := strings.Join(deadlineEvents(f.events(EventDeadlineDue)), ","); got != "gdpr/sa_notification/upcoming,gdpr/sa_notification/overdue" {
			t.Fatalf("gdpr events %q", got)
		}
		rep, err := f.svc.DraftReport(f.ctx, "t", inc.ID, RegimeGDPR, "sa_notification")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rep.Sections[0].Content, "about 1,200") || rep.Sections[1].Content != "dpo@example.eu" ||
			!rep.Sections[2].Missing || !rep.Sections[4].Missing {
			t.Fatalf("gdpr draft %+v", rep.Sections)
		}
	})
}

func TestDORAClocks(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		now := f.clock.Now()
		cases := []struct {
			name       string
			aware, cls time.Duration // before now
			wantDue    time.Duration // after aware
		}{
			{"early classification: 4 h", 2 * time.Hour, time.Hour, 5 * time.Hour},
			{"near the cap: 24 h after awareness", 23 * time.Hour, time.Hour, 24 * time.Hour},
			{"late classification: 4 h after it", 31 * time.Hour, time.Hour, 34 * time.Hour},
		}
		for _, c := range cases {
			inc := f.incident(t, NewIncident{Title: c.name})
			aware := now.Add(-c.aware)
			sts, err := f.svc.Flag(f.ctx, "t", inc.ID, FlagInput{Regime: RegimeDORA, AwareAt: aware, ClassifiedAt: aware.Add(c.aware - c.cls)}, "ciso")
			if err != nil {
				t.Fatal(err)
			}
			if got := stageOf(t, sts, RegimeDORA, "initial_notification").Due; !got.Equal(aware.Add(c.wantDue)) {
				t.Errorf("%s: due %v, want aware + %v", c.name, got.Sub(aware), c.wantDue)
			}
		}
		inc := f.incident(t, NewIncident{Title: "chain"})
		if _, err := f.svc.Flag(f.ctx, "t", inc.ID, FlagInput{Regime: RegimeDORA}, "ciso"); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(3 * time.Hour)
		if _, err := f.svc.SubmitStage(f.ctx, "t", inc.ID, RegimeDORA, "initial_notification", "", "ciso"); err != nil {
			t.Fatal(err)
		}
		sts, _ := f.svc.Stages(f.ctx, "t", inc.ID)
		if got := stageOf(t, sts, RegimeDORA, "intermediate_report").Due; !got.Equal(f.clock.Now().Add(72 * time.Hour)) {
			t.Fatalf("intermediate due %v", got)
		}
		f.clock.Advance(70 * time.Hour)
		if _, err := f.svc.SubmitStage(f.ctx, "t", inc.ID, RegimeDORA, "intermediate_report", "", "ciso"); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(10 * 24 * time.Hour)
		// An updated intermediate report moves the final report's month.
		if _, err := f.svc.SubmitStage(f.ctx, "t", inc.ID, RegimeDORA, "intermediate_report", "update", "ciso"); err != nil {
			t.Fatal(err)
		}
		sts, _ = f.svc.Stages(f.ctx, "t", inc.ID)
		if got := stageOf(t, sts, RegimeDORA, "final_report"); got.Status != StagePending || !got.Due.Equal(f.clock.Now().AddDate(0, 1, 0)) {
			t.Fatalf("final %+v", got)
		}
	})
}

// TestCatalogMatchesSharedFacts checks our catalog's deadlines against the
// shared fact sheet.
func TestCatalogMatchesSharedFacts(t *testing.T) {
	dir := os.Getenv("WACHT_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared")
	}
	b, err := os.ReadFile(filepath.Join(dir, "compliance", "regulatory-clocks.yaml"))
	if err != nil {
		t.Skipf("shared data not available: %v", err)
	}
	var facts struct {
		Regimes []struct {
			ID     string `yaml:"id"`
			Stages []struct {
				ID                   string  `yaml:"id"`
				Anchor               string  `yaml:"anchor"`
				Deadline             *string `yaml:"deadline"`
				DeadlineTrustService *string `yaml:"deadline_trust_service_providers"`
				HardCap              *struct {
					Deadline string `yaml:"deadline"`
				} `yaml:"hard_cap"`
			} `yaml:"stages"`
		} `yaml:"regimes"`
	}
	if err := yaml.Unmarshal(b, &facts); err != nil {
		t.Fatal(err)
	}
	cat := EmbeddedCatalog()
	checked := 0
	for _, r := range facts.Regimes {
		rd, ok := cat.Regime(Regime(r.ID))
		if !ok {
			continue // e.g. de_bsig mirrors nis2
		}
		for _, st := range r.Stages {
			def, _, ok := rd.Stage(st.ID)
			if !ok {
				continue // stages without a clock we track (progress report, processor duties)
			}
			checked++
			if st.Deadline == nil {
				if def.Anchor != AnchorRequest {
					t.Errorf("%s %s: on request in the facts, anchor %s here", r.ID, st.ID, def.Anchor)
				}
				continue
			}
			want, err := ParsePeriod(*st.Deadline)
			if err != nil {
				t.Fatal(err)
			}
			if def.Deadline != want {
				t.Errorf("%s %s: deadline %+v, facts say %s", r.ID, st.ID, def.Deadline, *st.Deadline)
			}
			if st.DeadlineTrustService != nil {
				w, _ := ParsePeriod(*st.DeadlineTrustService)
				if def.DeadlineTrustService == nil || *def.DeadlineTrustService != w {
					t.Errorf("%s %s: trust-service deadline differs", r.ID, st.ID)
				}
			}
			if st.HardCap != nil {
				w, _ := ParsePeriod(st.HardCap.Deadline)
				if def.HardCap == nil || def.HardCap.Deadline != w {
					t.Errorf("%s %s: hard cap differs", r.ID, st.ID)
				}
			}
		}
	}
	if checked < 8 {
		t.Fatalf("only %d stages compared", checked)
	}
}

func TestParsePeriod(t *testing.T) {
	f := func(in string, want Period) {
		t.Helper()
		got, err := ParsePeriod(in)
		if err != nil || got != want {
			t.Fatalf("%s: %+v %v", in, got, err)
		}
	}
	f("PT24H", Period{Fixed: 24 * time.Hour})
	f("P1M", Period{Months: 1})
	f("PT0S", Period{})
	f("P1DT2H30M", Period{Fixed: 26*time.Hour + 30*time.Minute})
	if s := (Period{Months: 1, Fixed: 26*time.Hour + 30*time.Minute}).String(); s != "P1M1DT2H30M" {
		t.Fatalf("string %s", s)
	}
	for _, bad := range []string{"", "P", "24h", "PT"} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	// One calendar month from 31 January is 3 March (Go's normalisation);
	// from 15 March, 15 April.
	if got := (Period{Months: 1}).AddTo(time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)); got.Day() != 15 || got.Month() != time.April {
		t.Fatal(got)
	}
}

func TestConfigOptions(t *testing.T) {
	var c Config
	err := yaml.Unmarshal([]byte(`
grouping: {window: 2h, dedup_window: 10m, rule_entity: true, across_rules: [host]}
sla:
  targets:
    P1: {acknowledge: 5m, contain: 1h, resolve: 8h}
  business_hours: {timezone: Europe/Berlin, days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00"}
  escalation: [{level: team_lead, after: 0s}, {level: soc_manager, after: 30m}]
`), &c)
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.Options()
	if err != nil {
		t.Fatal(err)
	}
	if o.Grouping.Window != 2*time.Hour || o.SLA.Targets[P1].Acknowledge != 5*time.Minute || o.SLA.Targets[P2].Acknowledge != time.Hour ||
		o.SLA.Calendar == nil || !o.SLA.Calendar.Days[time.Friday] || o.SLA.Calendar.Days[time.Sunday] || o.SLA.Escalation[1].After != 30*time.Minute {
		t.Fatalf("options %+v %+v", o.Grouping, o.SLA)
	}
	for _, bad := range []string{
		`sla: {targets: {P9: {acknowledge: 1m}}}`,
		`sla: {business_hours: {timezone: Mars/Olympus, days: [mon], start: "08:00", end: "18:00"}}`,
		`sla: {business_hours: {timezone: UTC, days: [mon], start: "18:00", end: "08:00"}}`,
		`grouping: {across_rules: [planet]}`,
	} {
		var c Config
		if err := yaml.Unmarshal([]byte(bad), &c); err != nil {
			continue
		}
		if _, err := c.Options(); err == nil {
			t.Errorf("accepted: %s", bad)
		}
	}
}

func TestGroupKeysPruned(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.svc.RaiseAlert(f.ctx, "t", alert("r", SevLow, "host:a", "user:b"))
		count := func() int {
			var n int
			if err := db.QueryRow(f.ctx, "SELECT COUNT(*) FROM case_group_keys WHERE tenant = ?", "t").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(); n != 4 {
			t.Fatalf("keys %d", n)
		}
		f.tick(t) // prunes nothing (keys are fresh) and records the time
		f.clock.Advance(25 * time.Hour)
		f.tick(t)
		if n := count(); n != 0 {
			t.Fatalf("keys after the window: %d", n)
		}
	})
}

// TestNIS2ProgressReport: the final report falls due while the incident is
// still ongoing, so a progress report is due then and the final report one
// month after the incident is handled (Art. 23(4)(e)).
func TestNIS2ProgressReport(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		inc := f.incident(t, NewIncident{Title: "long outage"})
		if _, err := f.svc.Flag(f.ctx, "t", inc.ID, FlagInput{Regime: RegimeNIS2}, "ciso"); err != nil {
			t.Fatal(err)
		}
		for _, st := range []string{"early_warning", "incident_notification"} {
			if _, err := f.svc.SubmitStage(f.ctx, "t", inc.ID, RegimeNIS2, st, "", "ciso"); err != nil {
				t.Fatal(err)
			}
		}
		finalDue := f.clock.Now().AddDate(0, 1, 0)
		f.drain()
		f.clock.Advance(finalDue.Sub(f.clock.Now()) + time.Minute)
		f.tick(t)
		got := strings.Join(deadlineEvents(f.events(EventDeadlineDue)), ",")
		if got != "nis2/progress_report/overdue" {
			t.Fatalf("events %q", got)
		}
		sts, _ := f.svc.Stages(f.ctx, "t", inc.ID)
		if fr := stageOf(t, sts, RegimeNIS2, "final_report"); fr.Status != StageReplaced {
			t.Fatalf("final report %+v", fr)
		}
		if pr := stageOf(t, sts, RegimeNIS2, "progress_report"); pr.Status != StagePending || !pr.Due.Equal(finalDue) {
			t.Fatalf("progress report %+v", pr)
		}
		if _, err := f.svc.SubmitStage(f.ctx, "t", inc.ID, RegimeNIS2, "final_report", "", "ciso"); !IsUserError(err) {
			t.Fatalf("replaced final report submitted: %v", err)
		}
		if _, err := f.svc.SubmitStage(f.ctx, "t", inc.ID, RegimeNIS2, "progress_report", "P-1", "ciso"); err != nil {
			t.Fatal(err)
		}
		if after := stageOf(t, sts, RegimeNIS2, "final_report_after_handling"); after.Status != StageAwaiting {
			t.Fatalf("after handling %+v", after)
		}
		f.clock.Advance(10 * 24 * time.Hour)
		closed, res := StatusClosed, ResTruePositive
		if _, err := f.svc.UpdateIncident(f.ctx, "t", inc.ID, 0, IncidentPatch{Status: &closed, Resolution: &res}, "ana"); err != nil {
			t.Fatal(err)
		}
		sts, _ = f.svc.Stages(f.ctx, "t", inc.ID)
		if after := stageOf(t, sts, RegimeNIS2, "final_report_after_handling"); after.Status != StagePending || !after.Due.Equal(f.clock.Now().AddDate(0, 1, 0)) {
			t.Fatalf("after handling once closed %+v", after)
		}
	})
}
