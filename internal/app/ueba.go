package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/eventstore/vlremote"
	"github.com/wacht-soc/wacht/internal/eventstore/vlstore"
	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/ueba"
	"github.com/wacht-soc/wacht/internal/vuln"
)

func init() { registerModule("ueba", 70, startUEBA) }

// Behaviour analytics timing: how often quiet log sources are checked and
// how often the learned state is snapshotted.
const (
	uebaFlushEvery    = time.Minute
	uebaSnapshotEvery = 5 * time.Minute
	uebaQueue         = 64
)

// uebaOptions builds the service options from the configuration, the
// asset inventory (criticality, peer groups, address → host) and the
// cases (likelihood). It returns the GeoIP databases to close.
func uebaOptions(cfg config.Config, db *store.DB, b *bus.Bus, now func() time.Time, log *slog.Logger) (ueba.Options, *ueba.GeoIP, error) {
	u := cfg.UEBA
	inv := assets.New(db, nil, now, log)
	cs := cases.New(db, cases.Options{Now: now, Log: log})
	dc := ueba.Config{LearningPeriod: time.Duration(u.LearningPeriod), DailyCap: u.DailyCap, PeerFields: u.PeerFields, MinPeers: u.MinPeers}
	var geo *ueba.GeoIP
	if len(u.GeoIP) > 0 {
		g, err := ueba.OpenGeoIP(u.GeoIP...)
		if err != nil {
			return ueba.Options{}, nil, fmt.Errorf("ueba.geoip: %w", err)
		}
		geo, dc.Geo = g, g
	}
	if u.PeerFrom != "" && u.PeerFrom != "none" {
		dc.PeerOf = func(tenant, host string) string {
			a, err := inv.Lookup(context.Background(), tenant, assets.Identifier{Type: "hostname", Value: host})
			if err != nil {
				return ""
			}
			switch u.PeerFrom {
			case "business_service":
				return a.BusinessService
			case "environment":
				return a.Environment
			}
			return a.Team
		}
	}
	r := u.Risk
	return ueba.Options{
		DB: db, Bus: b, Now: now, Log: log, Config: dc,
		Risk: ueba.RiskConfig{Threshold: float64(r.Threshold), HalfLife: time.Duration(r.HalfLife), SourceCap: float64(r.SourceCap),
			SignalCap: float64(r.SignalCap), Tactics: r.Tactics, Distinct: r.Distinct, TacticWindow: time.Duration(r.TacticWindow)},
		Identity: ueba.IdentityRules{Admins: u.Identity.Admins, Contractors: u.Identity.Contractors, WatchList: u.Identity.WatchList},
		Cases:    uebaCases{cs},
		Criticality: func(ctx context.Context, tenant string, e ueba.Entity) int {
			switch e.Kind {
			case ueba.KindHost:
				return assetCriticality(ctx, inv, tenant, []cases.Entity{{Kind: "host", Value: e.Value}})
			case ueba.KindIP:
				return assetCriticality(ctx, inv, tenant, []cases.Entity{{Kind: "ip", Value: e.Value}})
			}
			return 0
		},
		HostOf: func(ctx context.Context, tenant, ip string) string {
			a, err := inv.Lookup(ctx, tenant, assets.Identifier{Type: "ip", Value: ip})
			if err != nil {
				return ""
			}
			for _, id := range a.Identifiers {
				if id.Type == "hostname" {
					return id.Value
				}
			}
			return ""
		},
	}, geo, nil
}

// uebaEventSource reads stored events for a rebuild.
func uebaEventSource(es eventstore.EventStore) ueba.EventSource {
	return func(ctx context.Context, tenant string, start, end time.Time, fn func(*event.Event) error) error {
		return es.Query(ctx, eventstore.Query{Tenant: tenant, LogsQL: "*", Start: start, End: end.Add(-time.Nanosecond)}, func(row eventstore.Row) error {
			return fn(detect.EventFromRow(row, tenant))
		})
	}
}

// uebaRebuildTenants are the tenants relearned: the configured list, else
// the syslog tenant and the tenants with their own retention.
func uebaRebuildTenants(cfg config.Config) []string {
	if len(cfg.UEBA.Rebuild.Tenants) > 0 {
		return cfg.UEBA.Rebuild.Tenants
	}
	out := []string{cfg.Syslog.Tenant}
	for t := range cfg.Store.Tenants {
		if t != cfg.Syslog.Tenant {
			out = append(out, t)
		}
	}
	return out
}

// startUEBA runs the behaviour detectors on every stored batch, turns
// detections, sightings, exposure and anomalies into entity risk, feeds
// closed cases' verdicts back to the detectors, and serves the entity,
// anomaly and likelihood API.
func startUEBA(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "ueba")
	opts, geo, err := uebaOptions(env.Config, env.DB, env.Bus, env.Now, log)
	if err != nil {
		return nil, err
	}
	svc, err := ueba.New(ctx, opts)
	if err != nil {
		geo.Close()
		return nil, err
	}
	env.API.Mount(api.UEBARoutes(svc)...)
	inv := assets.New(env.DB, nil, env.Now, log)

	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	batches := make(chan []*event.Event, uebaQueue)
	env.OnEvents(func(evs []*event.Event) {
		select {
		case batches <- evs:
		case <-ctx.Done():
		}
	})
	detections := env.Bus.Subscribe(detect.TopicMatched, 4096)
	sightings := env.Bus.Subscribe(intel.EventSighted, 4096)
	breaches := env.Bus.Subscribe(vuln.EventSLABreached, 1024)
	incidents := env.Bus.Subscribe("incident.updated", 1024)

	// Relearn tenants without a snapshot from the event store, in the
	// background: the result replaces what live events taught meanwhile.
	var rebuilding chan struct{}
	if days := env.Config.UEBA.Rebuild.Days; days > 0 && env.Events != nil {
		var todo []string
		for _, t := range uebaRebuildTenants(env.Config) {
			if !svc.HasState(t) {
				todo = append(todo, t)
			}
		}
		if len(todo) > 0 {
			rebuilding = make(chan struct{})
			go func() {
				defer close(rebuilding)
				for _, t := range todo {
					if _, err := svc.Rebuild(ctx, t, uebaEventSource(env.Events), days); err != nil {
						log.Error("ueba_rebuild_failed", "tenant", t, "err", err)
					}
				}
				if err := svc.Snapshot(ctx); err != nil {
					log.Error("ueba_snapshot_failed", "err", err)
				}
			}()
		}
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		flush := time.NewTicker(uebaFlushEvery)
		defer flush.Stop()
		snap := time.NewTicker(uebaSnapshotEvery)
		defer snap.Stop()
		for {
			select {
			case <-ctx.Done():
				if rebuilding != nil {
					<-rebuilding
				}
				for {
					select {
					case evs := <-batches:
						svc.Process(context.Background(), evs)
					default:
						if err := svc.Snapshot(context.Background()); err != nil {
							log.Error("ueba_snapshot_failed", "err", err)
						}
						return
					}
				}
			case evs := <-batches:
				svc.Process(ctx, evs)
			case e, ok := <-detections.C():
				if !ok {
					continue
				}
				var d detect.Detection
				switch v := e.Data.(type) {
				case detect.Detection:
					d = v
				case *detect.Detection:
					d = *v
				default:
					continue
				}
				svc.AddDetection(ctx, e.Tenant, ueba.DetectionSignal{RuleID: d.RuleID, Title: d.Title, Level: int(d.Level),
					Attack: d.Attack, Entities: d.Entities, Time: d.Time})
			case e, ok := <-sightings.C():
				if !ok {
					continue
				}
				if sg, ok := e.Data.(*intel.Sighted); ok && sg != nil && !sg.Retro {
					svc.AddSighting(ctx, e.Tenant, sightingSignal(sg))
				}
			case e, ok := <-breaches.C():
				if !ok {
					continue
				}
				if f, ok := findingOf(e.Data); ok {
					if x, ok := exposureSignal(ctx, inv, f); ok {
						svc.AddExposure(ctx, e.Tenant, x)
					}
				}
			case e, ok := <-incidents.C():
				if !ok {
					continue
				}
				if ch, ok := e.Data.(cases.IncidentChange); ok && ch.Incident.Status == cases.StatusClosed {
					f := uebaFacts(ch.Incident)
					if _, err := svc.Feedback(ctx, e.Tenant, ueba.Outcome{IncidentID: f.ID, Verdict: f.Verdict, Entities: f.Entities,
						From: ch.Incident.CreatedAt, To: ch.Incident.UpdatedAt}); err != nil {
						log.Error("ueba_feedback_failed", "tenant", e.Tenant, "incident", f.ID, "err", err)
					}
				}
			case <-flush.C:
				svc.Flush(ctx)
			case <-snap.C:
				if err := svc.Snapshot(ctx); err != nil {
					log.Error("ueba_snapshot_failed", "err", err)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
		detections.Close()
		sightings.Close()
		breaches.Close()
		incidents.Close()
		geo.Close()
	}, nil
}

// sightingSignal reads the entities of the event an indicator was seen in.
func sightingSignal(sg *intel.Sighted) ueba.SightingSignal {
	out := ueba.SightingSignal{IndicatorID: sg.Indicator.ID, Type: sg.Indicator.Type.String(), Value: sg.Indicator.Value,
		Confidence: sg.Indicator.Confidence, Attack: sg.Indicator.Attack, Time: sg.Sighting.Time, Entities: map[string]string{}}
	if sg.Event != nil {
		for _, f := range sg.Event.Fields {
			switch f.Name {
			case "user.name", "host.name":
				out.Entities[f.Name] = f.Value.Str()
			case "source.ip":
				// The sighted address itself is the attacker's, not ours.
				if f.Value.Str() != sg.Sighting.Observed {
					out.Entities[f.Name] = f.Value.Str()
				}
			}
		}
	}
	return out
}

func findingOf(data any) (vuln.Finding, bool) {
	switch v := data.(type) {
	case vuln.Finding:
		return v, true
	case *vuln.Finding:
		if v != nil {
			return *v, true
		}
	}
	return vuln.Finding{}, false
}

// exposureSignal describes an overdue finding with its asset's exposure.
func exposureSignal(ctx context.Context, inv *assets.Service, f vuln.Finding) (ueba.ExposureSignal, bool) {
	a, err := inv.Get(ctx, f.Tenant, f.AssetID)
	if err != nil {
		return ueba.ExposureSignal{}, false
	}
	host := ""
	for _, id := range a.Identifiers {
		if id.Type == "hostname" {
			host = id.Value
			break
		}
	}
	if host == "" {
		host = a.Name
	}
	return ueba.ExposureSignal{Host: strings.ToLower(host), VulnID: f.VulnID, Title: f.Title, Severity: max(int(f.Severity)-1, 0),
		KEV: f.KEV, EPSS: f.EPSS, Internet: a.Exposure == assets.ExposureInternet, SLABreached: true, Time: f.DueAt}, host != ""
}

// RebuildUEBA relearns the behaviour baselines of tenants from the last
// days of stored events, offline (`wacht ueba rebuild`): it opens the state
// database and the event store of cfg, so a server using the same
// embedded store must be stopped first.
func RebuildUEBA(ctx context.Context, cfg config.Config, log *slog.Logger, tenants []string, days int) ([]ueba.RebuildResult, error) {
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", cfg.Data, err)
	}
	db, err := store.Open(ctx, store.Config{Driver: cfg.State.Driver, DSN: cfg.StateDSN()}, log)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var es eventstore.EventStore
	if cfg.Store.URL != "" {
		es, err = vlremote.Open(ctx, vlremote.Config{URL: cfg.Store.URL, Retention: time.Duration(cfg.Store.Retention)}, log)
	} else {
		es, err = vlstore.Open(vlstore.Config{Path: cfg.Path("events"), Retention: time.Duration(cfg.Store.Retention),
			MemoryBytes: int64(cfg.Store.MemoryBytes), FlushInterval: time.Duration(cfg.Store.FlushInterval)}, log)
	}
	if err != nil {
		return nil, fmt.Errorf("open event store: %w", err)
	}
	defer es.Close()
	opts, geo, err := uebaOptions(cfg, db, nil, time.Now, log)
	if err != nil {
		return nil, err
	}
	defer geo.Close()
	svc, err := ueba.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	if len(tenants) == 0 {
		tenants = uebaRebuildTenants(cfg)
	}
	var out []ueba.RebuildResult
	for _, t := range tenants {
		r, err := svc.Rebuild(ctx, t, uebaEventSource(es), days)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	if err := svc.Snapshot(ctx); err != nil {
		return out, err
	}
	return out, nil
}

// uebaCases reads incidents for the likelihood model.
type uebaCases struct{ svc *cases.Service }

func uebaFacts(inc cases.Incident) ueba.IncidentFacts {
	f := ueba.IncidentFacts{ID: inc.ID, Severity: max(inc.Severity.Rank(), 0), Score: inc.Score, Alerts: inc.AlertCount,
		Rules: inc.Rules, Attack: inc.Attack, Created: inc.CreatedAt}
	for _, e := range inc.Entities {
		switch e.Kind {
		case "user":
			f.Entities = append(f.Entities, ueba.Entity{Kind: ueba.KindUser, Value: strings.ToLower(e.Value)})
		case "host":
			f.Entities = append(f.Entities, ueba.Entity{Kind: ueba.KindHost, Value: strings.ToLower(e.Value)})
		case "ip":
			f.Entities = append(f.Entities, ueba.Entity{Kind: ueba.KindIP, Value: e.Value})
		}
	}
	if inc.Status == cases.StatusClosed {
		switch inc.Resolution {
		case cases.ResTruePositive:
			f.Verdict = ueba.VerdictTrue
		case cases.ResFalsePositive, cases.ResBenignPositive:
			f.Verdict = ueba.VerdictFalse
		case cases.ResNone, cases.ResDuplicate:
		}
	}
	return f
}

func (c uebaCases) Closed(ctx context.Context, tenant string, limit int) ([]ueba.IncidentFacts, error) {
	incs, err := c.svc.ListIncidents(ctx, tenant, cases.IncidentFilter{Status: []cases.Status{cases.StatusClosed}, Limit: min(limit, 1000)})
	if err != nil {
		return nil, err
	}
	out := make([]ueba.IncidentFacts, 0, len(incs))
	for _, inc := range incs {
		out = append(out, uebaFacts(inc))
	}
	return out, nil
}

func (c uebaCases) Incident(ctx context.Context, tenant, id string) (ueba.IncidentFacts, error) {
	inc, err := c.svc.GetIncident(ctx, tenant, id)
	if errors.Is(err, cases.ErrNotFound) {
		return ueba.IncidentFacts{}, fmt.Errorf("incident %s: %w", id, ueba.ErrNotFound)
	}
	if err != nil {
		return ueba.IncidentFacts{}, err
	}
	return uebaFacts(inc), nil
}
