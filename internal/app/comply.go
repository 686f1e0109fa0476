package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/attack"
	"github.com/wacht-soc/wacht/internal/audit"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/comply/pdf"
	"github.com/wacht-soc/wacht/internal/comply/rego"
	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/vuln"
	"github.com/wacht-soc/wacht/sigma"
)

// The compliance module: checks evaluated every ComplyEvery (and on
// demand through the API), waivers warned before expiry, evidence bundles
// signed with the audit trail's key and anchored in its checkpoint.
func init() { registerModule("comply", 80, startComply) }

// ComplyEvery is the compliance evaluation schedule.
const ComplyEvery = time.Hour

func startComply(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "comply")
	svc, closeSvc, err := NewComply(env.DB, env.Config, env.Bus, env.Now, log)
	if err != nil {
		return nil, err
	}
	env.API.Mount(api.ComplyRoutes(svc)...)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	ticker := time.NewTicker(ComplyEvery)
	go func() {
		defer close(done)
		svc.Run(runCtx, ticker.C, func(ctx context.Context) ([]string, error) { return tenantsOf(ctx, env.DB) })
	}()
	return func() { ticker.Stop(); cancel(); <-done; closeSvc() }, nil
}

// NewComply builds the compliance service over db with the OPA engine, the
// fact sources adapted from the other domains, the audit trail and, when
// Chromium is installed, the PDF printer (the CLI uses it too). cfg gives
// the data directory and the rule folders whose ATT&CK coverage is judged.
// close releases what it started.
func NewComply(db *store.DB, cfg config.Config, b *bus.Bus, now func() time.Time, logger *slog.Logger) (*comply.Service, func(), error) {
	if now == nil {
		now = time.Now
	}
	path := cfg.Path
	signer, vkey, err := audit.LoadOrCreateKey(path("audit"), "wacht-audit")
	if err != nil {
		return nil, nil, fmt.Errorf("compliance: %w", err)
	}
	trail := &AuditTrail{log: audit.Open(db, audit.Options{Signer: signer, Now: now, Log: logger}), db: db}
	if b == nil {
		// Offline (the CLI): no access module records the domain events,
		// so a private bus feeds them into the audit trail here.
		b = bus.New(now)
		trail.auditBus(b, logger)
	}
	inv := assets.New(db, nil, now, logger)
	vs := vuln.New(db, inv, nil, vuln.Options{Log: logger})
	cs := cases.New(db, cases.Options{Now: now, Log: logger})
	users := auth.NewUsers(db, auth.UsersOptions{Now: now, Log: logger})
	sources := []comply.FactSource{
		comply.FactFunc{ID: "assets", Fn: assetFacts(inv)},
		comply.FactFunc{ID: "accounts", Fn: accountFacts(users)},
		comply.FactFunc{ID: "cases", Fn: caseFacts(cs)},
		comply.FactFunc{ID: "vuln", Fn: findingFacts(vs)},
		comply.FactFunc{ID: "audit", Fn: auditFacts(db, vkey)},
		comply.FactFunc{ID: "backups", Fn: backupFacts(path)},
		comply.FactFunc{ID: "coverage", Fn: coverageFacts(cfg.Data, append(append([]string(nil), cfg.Detect.Rules...), detect.RulesFromEnv()...))},
	}
	var printer comply.PDFPrinter
	var noPDF error
	closePDF := func() {}
	if p, err := pdf.New(""); err == nil {
		printer, closePDF = p, p.Close
	} else {
		noPDF = err
		logger.Info("compliance_pdf_unavailable", "reason", err.Error())
	}
	svc, err := comply.New(db, comply.Options{Engine: rego.New(), Sources: sources, Bus: b, Now: now, Log: logger, PDF: printer, NoPDF: noPDF,
		Export: comply.ExportOptions{Signer: signer, VerifierKey: vkey, Trail: trail}})
	if err != nil {
		trail.Close()
		return nil, nil, err
	}
	return svc, func() { closePDF(); trail.Close() }, nil
}

// tenantsOf lists the tenants that have users or assets: the ones worth
// evaluating; "default" always.
func tenantsOf(ctx context.Context, db *store.DB) ([]string, error) {
	out := []string{"default"}
	seen := map[string]bool{"default": true}
	for _, q := range []string{`SELECT DISTINCT tenant FROM role_bindings`, `SELECT DISTINCT tenant FROM assets`} {
		rows, err := db.Query(ctx, q)
		if err != nil {
			continue // the domain's table may not exist in this build
		}
		for rows.Next() {
			var t string
			if rows.Scan(&t) == nil && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		rows.Close()
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// Fact sources. Each rebuilds what it can for a past time: records created
// after it are left out, and acknowledgements, submissions and fixes after
// it count as not yet done.

func assetFacts(inv *assets.Service) func(context.Context, string, time.Time, *comply.Facts) error {
	return func(ctx context.Context, tenant string, at time.Time, f *comply.Facts) error {
		f.Assets = []comply.AssetFact{}
		for offset := 0; ; offset += 1000 {
			as, err := inv.List(ctx, tenant, assets.Filter{Limit: 1000, Offset: offset})
			if err != nil {
				return err
			}
			for _, a := range as {
				if a.FirstSeen.After(at) {
					continue
				}
				last := a.LastSeen
				if last.After(at) {
					last = at // seen since; at least up to at
				}
				f.Assets = append(f.Assets, comply.AssetFact{ID: a.ID, Name: a.Name, Critical: a.Criticality >= 4, LastEvent: comply.RFC3339(last)})
			}
			if len(as) < 1000 {
				return nil
			}
		}
	}
}

func accountFacts(users *auth.Users) func(context.Context, string, time.Time, *comply.Facts) error {
	return func(ctx context.Context, tenant string, _ time.Time, f *comply.Facts) error {
		us, err := users.List(ctx, tenant)
		if err != nil {
			return err
		}
		f.Accounts = []comply.AccountFact{}
		for _, u := range us {
			role := u.Roles[tenant]
			f.Accounts = append(f.Accounts, comply.AccountFact{ID: u.ID, Name: u.Username, Role: role,
				Privileged: role == api.RoleAdmin || role == api.RoleSOCManager || role == api.RoleSecurityEngineer,
				MFA:        u.TOTP || u.OIDCSubject != "", Disabled: u.Disabled})
		}
		return nil
	}
}

func caseFacts(cs *cases.Service) func(context.Context, string, time.Time, *comply.Facts) error {
	return func(ctx context.Context, tenant string, at time.Time, f *comply.Facts) error {
		incs, err := cs.ListIncidents(ctx, tenant, cases.IncidentFilter{Since: at.AddDate(-1, 0, 0), Before: at.Add(time.Second), Limit: 1000})
		if err != nil {
			return err
		}
		f.Incidents, f.Deadlines = []comply.IncidentFact{}, []comply.DeadlineFact{}
		upTo := func(t time.Time) string {
			if t.After(at) {
				return ""
			}
			return comply.RFC3339(t)
		}
		for _, inc := range incs {
			fact := comply.IncidentFact{ID: inc.ID, Title: inc.Title, Severity: fmt.Sprint(inc.Severity), Priority: fmt.Sprint(inc.Priority),
				Status: string(inc.Status), Created: comply.RFC3339(inc.CreatedAt), Acknowledged: upTo(inc.AckAt),
				AckDue: comply.RFC3339(inc.SLA.AckDue), Resolved: upTo(inc.ResolvedAt)}
			stages, err := cs.Stages(ctx, tenant, inc.ID)
			if err != nil {
				return err
			}
			regimes := map[string]bool{}
			for _, st := range stages {
				regimes[string(st.Regime)] = true
				if st.Due.IsZero() {
					continue
				}
				f.Deadlines = append(f.Deadlines, comply.DeadlineFact{Incident: inc.ID, Regime: string(st.Regime), Stage: st.Stage,
					Due: comply.RFC3339(st.Due), Submitted: upTo(st.SubmittedAt)})
			}
			for r := range regimes {
				fact.Regimes = append(fact.Regimes, r)
			}
			// A GDPR flag is only set for breaches of personal data.
			fact.PersonalData = regimes["gdpr"]
			f.Incidents = append(f.Incidents, fact)
		}
		return nil
	}
}

func findingFacts(vs *vuln.Service) func(context.Context, string, time.Time, *comply.Facts) error {
	return func(ctx context.Context, tenant string, at time.Time, f *comply.Facts) error {
		f.Findings = []comply.FindingFact{}
		after := ""
		for {
			page, err := vs.List(ctx, tenant, vuln.Filter{KEV: true, Limit: 1000, After: after})
			if err != nil {
				return err
			}
			for _, fd := range page.Findings {
				if fd.FirstSeen.After(at) {
					continue
				}
				fixed := fd.FixedAt
				if fixed.After(at) {
					fixed = time.Time{}
				}
				f.Findings = append(f.Findings, comply.FindingFact{ID: fd.ID, Asset: fd.AssetID, Vuln: fd.VulnID, KEV: fd.KEV,
					State: string(fd.State), Due: comply.RFC3339(fd.DueAt), FixedAt: comply.RFC3339(fixed)})
			}
			if page.Next == "" {
				return nil
			}
			after = page.Next
		}
	}
}

func auditFacts(db *store.DB, vkey string) func(context.Context, string, time.Time, *comply.Facts) error {
	return func(ctx context.Context, _ string, _ time.Time, f *comply.Facts) error {
		rep, err := audit.Verify(ctx, db, vkey)
		if err != nil {
			return err
		}
		a := &comply.AuditFact{Verified: rep.Broken == nil, Records: rep.Records, LatestCheckpoint: rep.LatestCheckpoint}
		if rep.Broken != nil {
			a.Broken = rep.Broken.Error()
		}
		f.Audit = a
		return nil
	}
}

// backupFacts reads the state database backups `wacht backup` writes into
// the data directory.
func backupFacts(path func(...string) string) func(context.Context, string, time.Time, *comply.Facts) error {
	return func(_ context.Context, _ string, at time.Time, f *comply.Facts) error {
		files, err := filepath.Glob(path("backup-*.db"))
		if err != nil {
			return err
		}
		var last time.Time
		for _, p := range files {
			st, err := os.Stat(p)
			if err == nil && st.Size() > 0 && !st.ModTime().After(at) && st.ModTime().After(last) {
				last = st.ModTime()
			}
		}
		f.Backups = []comply.BackupFact{{Target: "state-db", LastSuccess: comply.RFC3339(last)}}
		return nil
	}
}

// coverageFacts maps the Sigma rules the detect module loads (the starter
// pack and the rule folders) onto the ATT&CK catalog the attack module
// serves (the imported one in the data directory, else the embedded one):
// per tactic, the rules that detect one of its techniques or name the
// tactic alone, and the techniques covered. Rules are global, so every
// tenant sees the same coverage. Rule files and the catalog are re-read
// only when they change. For a past time, rules dated after it are left out (wacht keeps
// no history of which files were loaded when).
func coverageFacts(dataDir string, paths []string) func(context.Context, string, time.Time, *comply.Facts) error {
	var (
		mu          sync.Mutex
		fingerprint string
		loaded      []*sigma.Rule
	)
	rules := func(now time.Time) ([]*sigma.Rule, error) {
		mu.Lock()
		defer mu.Unlock()
		fp, err := detect.Fingerprint(paths)
		if err != nil {
			return nil, fmt.Errorf("read rule folders: %w", err)
		}
		if loaded != nil && fp == fingerprint {
			return loaded, nil
		}
		rs, err := detect.Load(detect.LoadOptions{Paths: paths, Starter: true}, now)
		if err != nil {
			return nil, fmt.Errorf("load rules for coverage: %w", err)
		}
		out := make([]*sigma.Rule, 0, len(rs.Rules))
		for _, r := range rs.Rules {
			if r.Kind != sigma.KindFilter {
				out = append(out, r)
			}
		}
		loaded, fingerprint = out, fp
		return out, nil
	}
	var (
		catKey string
		cat    *attack.Catalog
	)
	catalog := func() (*attack.Catalog, error) {
		mu.Lock()
		defer mu.Unlock()
		key := "embedded"
		if st, err := os.Stat(filepath.Join(dataDir, attack.FileName)); err == nil {
			key = fmt.Sprint(st.ModTime().UnixNano(), st.Size())
		}
		if cat != nil && key == catKey {
			return cat, nil
		}
		c, err := attack.Load(dataDir)
		if err != nil {
			return nil, err
		}
		cat, catKey = c, key
		return c, nil
	}
	return func(_ context.Context, _ string, at time.Time, f *comply.Facts) error {
		cat, err := catalog()
		if err != nil {
			return err
		}
		rs, err := rules(at)
		if err != nil {
			return err
		}
		in := make([]attack.Rule, 0, len(rs))
		for _, r := range rs {
			if d, ok := sigmaDate(r.Date); ok && d.After(at) {
				continue
			}
			id := r.ID
			if id == "" {
				id = r.Ref()
			}
			in = append(in, attack.Rule{ID: id, Title: r.Title, Tags: r.Tags})
		}
		f.Coverage = TacticFacts(cat.Coverage(in))
		return nil
	}
}

// TacticFacts turns ATT&CK coverage into the compliance facts: one per
// tactic with the distinct rules on it (technique or tactic-only tags) and
// the covered techniques.
func TacticFacts(cov attack.Coverage) []comply.TacticFact {
	out := make([]comply.TacticFact, 0, len(cov.Tactics))
	for _, t := range cov.Tactics {
		rules := map[string]bool{}
		for _, tc := range t.Techniques {
			for _, r := range tc.Rules {
				rules[r] = true
			}
		}
		out = append(out, comply.TacticFact{Tactic: t.ShortName, Rules: len(rules) + t.TacticOnly, Techniques: t.Covered})
	}
	return out
}

// sigmaDate parses a Sigma rule's date (2024/01/31 or 2024-01-31).
func sigmaDate(s string) (time.Time, bool) {
	for _, layout := range []string{"2006/01/02", "2006-01-02", "2006/1/2"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// ---------------------------------------------------------------------------
// The audit trail as compliance exports see it.

// AuditTrail adapts internal/audit to comply.AuditTrail.
type AuditTrail struct {
	log  *audit.Log
	db   *store.DB
	sub  *bus.Subscription
	done chan struct{}
}

// auditBus appends every event on b to the audit trail until Close.
func (t *AuditTrail) auditBus(b *bus.Bus, logger *slog.Logger) {
	t.sub = b.Subscribe("*", 1024)
	t.done = make(chan struct{})
	go func() {
		defer close(t.done)
		for e := range t.sub.C() {
			if err := t.log.Append(context.Background(), busRecord(e)); err != nil {
				logger.Error("audit_append_failed", "event", e.Type, "err", err)
			}
		}
	}()
}

// Close drains the private bus (if any) and stops the log handle.
func (t *AuditTrail) Close() {
	if t.sub != nil {
		t.sub.Close()
		<-t.done
	}
	t.log.Close()
}

// Checkpoint implements comply.AuditTrail: it anchors the current tree.
func (t *AuditTrail) Checkpoint(ctx context.Context) (comply.SignedCheckpoint, error) {
	cp, err := t.log.Anchor(ctx)
	if err != nil {
		return comply.SignedCheckpoint{}, err
	}
	return comply.SignedCheckpoint{Size: cp.Size, Root: cp.Root, Note: cp.Note}, nil
}

// Prove implements comply.AuditTrail: proofs for the tenant's compliance
// records about subjects that the checkpoint covers.
func (t *AuditTrail) Prove(ctx context.Context, tenant string, cp comply.SignedCheckpoint, subjects map[string]bool) ([]comply.InclusionProof, error) {
	var recs []audit.Record
	err := audit.Scan(ctx, t.db, audit.Filter{Tenant: tenant}, func(r audit.Record) error {
		if subjects[r.Subject] && strings.HasPrefix(r.Action, "event compliance.") && r.Seq < cp.Size {
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := []comply.InclusionProof{}
	for _, r := range recs {
		p, err := t.log.Prove(ctx, tenant, r.Seq)
		if err != nil {
			return nil, err
		}
		if p.Checkpoint.Size != cp.Size {
			return nil, errors.New("the audit log was anchored again during the export; export again")
		}
		out = append(out, comply.InclusionProof{Seq: r.Seq, Action: r.Action, Subject: r.Subject, LeafHash: p.LeafHash, Hashes: p.Hashes})
	}
	return out, nil
}

var _ comply.AuditTrail = (*AuditTrail)(nil)
