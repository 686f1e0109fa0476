package app

import (
	"context"
	"errors"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/cases"
)

func init() { registerModule("cases", 20, startCases) }

// casesTickEvery is how often SLA and regulatory clocks are advanced; a
// breach is noticed at most this late.
const casesTickEvery = 15 * time.Second

// startCases runs incident response: the alerts and incidents API, and
// the clock sweeper that breaches SLAs, escalates and warns of regulatory
// deadlines on the node's clock.
func startCases(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "cases")
	inv := assets.New(env.DB, nil, env.Now, log)
	svc := cases.New(env.DB, cases.Options{
		Bus: env.Bus, Now: env.Now, Log: log,
		AssetCriticality: func(ctx context.Context, tenant string, ents []cases.Entity) int {
			return assetCriticality(ctx, inv, tenant, ents)
		},
	})
	env.API.Mount(api.CasesRoutes(svc)...)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(casesTickEvery)
		defer t.Stop()
		for {
			if _, err := svc.Tick(ctx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("cases_tick_failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }, nil
}

// assetCriticality rates an alert by its most critical known host or
// address (inventory 1-4 onto the score's 1-5).
func assetCriticality(ctx context.Context, inv *assets.Service, tenant string, ents []cases.Entity) int {
	best := 0
	for _, e := range ents {
		var id assets.Identifier
		switch e.Kind {
		case "host":
			id = assets.Identifier{Type: "hostname", Value: e.Value}
		case "ip":
			id = assets.Identifier{Type: "ip", Value: e.Value}
		default:
			continue
		}
		a, err := inv.Lookup(ctx, tenant, id)
		if err != nil || a.Criticality <= 0 {
			continue
		}
		best = max(best, [...]int{0, 1, 3, 4, 5}[min(int(a.Criticality), 4)])
	}
	return best
}
