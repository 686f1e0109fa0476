package app

import (
	"context"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/vuln"
)

func init() { registerModule("vuln", 40, startVuln) }

// startVuln runs the asset inventory (discovering hosts and addresses from
// stored events) and vulnerability management (SLA sweeps every minute on
// the node's clock).
func startVuln(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "vuln")
	inv := assets.New(env.DB, env.Bus, env.Now, log)
	svc := vuln.New(env.DB, inv, env.Bus, vuln.Options{Now: env.Now, Log: log})
	env.API.Mount(api.AssetsRoutes(inv)...)
	env.API.Mount(api.VulnRoutes(svc)...)
	env.OnEvents(inv.ObserveEvents)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{}, 2)
	go func() { inv.RunDiscovery(ctx); done <- struct{}{} }()
	go func() { svc.Run(ctx, time.Minute); done <- struct{}{} }()
	return func() { cancel(); <-done; <-done }, nil
}
