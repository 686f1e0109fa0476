package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/attack"
	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/pull"
	"github.com/wacht-soc/wacht/internal/intel/taxii"
)

func init() {
	registerModule("intel", 30, startIntel)
	registerModule("attack", 60, startAttack)
}

// startIntel runs threat intelligence: it compiles every tenant's
// indicators into match indexes, checks each stored batch of events
// against them on the indexer's goroutine (lookups only; matches go to a
// queue), and publishes indicator.sighted for verified matches, which the
// cases domain turns into alerts.
func startIntel(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "intel")
	cfg, err := intelConfig(env.Config.Intel)
	if err != nil {
		return nil, err
	}
	svc := intel.New(intel.Deps{DB: env.DB, Bus: env.Bus, Events: env.Events, Now: env.Now, Log: log}, cfg)
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	env.API.Mount(api.IntelRoutes(svc)...)
	env.API.Mount(api.TAXIIRoutes(taxii.NewServer(svc, env.Now))...)
	puller := pull.New(svc, nil, env.Now, log)
	env.API.Mount(api.FeedRoutes(svc, puller)...)
	env.OnEvents(svc.OnEvents)
	// Feeds are checked every minute; each is pulled when its interval
	// has passed on the node's clock.
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		puller.Run(pctx, time.Minute)
	}()
	return func() { cancel(); <-done; svc.Stop() }, nil
}

// intelConfig maps the intel section onto the service's settings.
func intelConfig(c config.Intel) (intel.Config, error) {
	out := intel.Config{
		RetroDays: c.RetroDays, RetroMaxIndicators: c.RetroMaxIndicators, RetroMaxEvents: c.RetroMaxEvents,
		SightingQueue: c.SightingQueue, DefaultConfidence: c.DefaultConfidence, ImportBatch: c.ImportBatch,
		PatternWindow: time.Duration(c.PatternWindow), PatternObservations: c.PatternObservations,
	}
	if c.RetroDays == 0 {
		out.RetroDays = -1 // the service reads 0 as its default
	}
	if len(c.Decay) > 0 {
		out.Decay = map[intel.Type]intel.DecayModel{}
		for name, d := range c.Decay {
			t, err := intel.ParseType(name)
			if err != nil {
				return out, fmt.Errorf("intel.decay: %w", err)
			}
			out.Decay[t] = intel.DecayModel{Lifetime: time.Duration(d.Lifetime), Speed: d.Speed, Threshold: d.Threshold}
		}
	}
	return out, nil
}

// startAttack serves the ATT&CK catalog (the one `wacht attack import`
// saved in the data directory, else the embedded one) and the coverage of
// the rules the detect module loads (same sources: WACHT_RULES and the
// starter pack), re-read when a rule file changes.
func startAttack(_ context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "attack")
	cat, err := attack.Load(env.Config.Data)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var fingerprint string
	var cached []attack.Rule
	rules := func(context.Context) ([]attack.Rule, error) {
		mu.Lock()
		defer mu.Unlock()
		paths := rulePaths(env)
		fp, err := detect.Fingerprint(paths)
		if err != nil {
			return nil, err
		}
		if cached != nil && fp == fingerprint {
			return cached, nil
		}
		rs, err := detect.Load(detect.LoadOptions{Paths: paths, Starter: true}, env.Now())
		if err != nil {
			return nil, fmt.Errorf("load rules for coverage: %w", err)
		}
		out := make([]attack.Rule, 0, len(rs.Rules))
		for _, r := range rs.Rules {
			out = append(out, attack.Rule{ID: r.ID, Title: r.Title, Tags: r.Tags})
		}
		cached, fingerprint = out, fp
		return out, nil
	}
	env.API.Mount(api.AttackRoutes(attack.NewService(cat, rules, log))...)
	log.Info("attack_catalog_loaded", "version", cat.Version, "techniques", cat.Counts()["technique"])
	return nil, nil
}
