package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/config"
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
	opts, err := casesOptions(env, log)
	if err != nil {
		return nil, err
	}
	inv := assets.New(env.DB, nil, env.Now, log)
	opts.AssetCriticality = func(ctx context.Context, tenant string, ents []cases.Entity) int {
		return assetCriticality(ctx, inv, tenant, ents)
	}
	svc := cases.New(env.DB, opts)
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
// address: inventory criticality 1-4 onto the score's 1-5, one step up for
// an internet-facing asset and one down for an isolated one (exposure is
// what makes a critical asset reachable; CISA's "publicly exposed").
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
		c := [...]int{0, 1, 3, 4, 5}[min(int(a.Criticality), 4)]
		switch a.Exposure {
		case assets.ExposureInternet:
			c = min(5, c+1)
		case assets.ExposureIsolated:
			c = max(1, c-1)
		}
		best = max(best, c)
	}
	return best
}

// casesOptions turns the `cases:` section into service options (the
// alerting module uses the same, so alerts group and clocks run alike
// whichever module raised them).
func casesOptions(env *Env, log *slog.Logger) (cases.Options, error) {
	opts, err := casesConfig(env.Config.Cases).Options()
	if err != nil {
		return opts, fmt.Errorf("config: %w", err)
	}
	opts.Bus, opts.Now, opts.Log = env.Bus, env.Now, log
	return opts, nil
}

// casesConfig maps the configuration file's section onto cases.Config.
func casesConfig(c config.Cases) cases.Config {
	g := c.Grouping
	out := cases.Config{Grouping: &cases.Grouping{Window: time.Duration(g.Window), DedupWindow: time.Duration(g.DedupWindow),
		RuleEntity: g.RuleEntity, AcrossRules: slices.Clone(g.AcrossRules)}}
	if len(c.SLA.Targets) > 0 {
		def := cases.DefaultSLAPolicy().Targets
		out.SLA.Targets = map[cases.Priority]cases.Targets{}
		for p, t := range c.SLA.Targets {
			d := def[cases.Priority(p)]
			pick := func(v config.Duration, dflt time.Duration) time.Duration {
				if v > 0 {
					return time.Duration(v)
				}
				return dflt
			}
			out.SLA.Targets[cases.Priority(p)] = cases.Targets{Acknowledge: pick(t.Acknowledge, d.Acknowledge),
				Contain: pick(t.Contain, d.Contain), Resolve: pick(t.Resolve, d.Resolve)}
		}
	}
	if bh := c.SLA.BusinessHours; bh != nil {
		out.SLA.BusinessHours = &cases.BusinessHoursConfig{Timezone: bh.Timezone, Days: slices.Clone(bh.Days), Start: bh.Start, End: bh.End}
	}
	for _, e := range c.SLA.Escalation {
		out.SLA.Escalation = append(out.SLA.Escalation, cases.EscalationStep{Level: e.Level, After: time.Duration(e.After)})
	}
	return out
}
