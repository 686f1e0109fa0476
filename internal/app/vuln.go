package app

import (
	"context"
	"net/http"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/vuln"
)

func init() { registerModule("vuln", 40, startVuln) }

// startVuln runs the asset inventory (discovering hosts and addresses from
// stored events) and vulnerability management (SLA sweeps every minute on
// the node's clock, and feed updates when vuln.feeds.update_interval is
// set).
func startVuln(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "vuln")
	cfg := env.Config.Vuln
	opts, err := vuln.OptionsFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	opts.Now, opts.Log = env.Now, log
	inv := assets.New(env.DB, env.Bus, env.Now, log)
	svc := vuln.New(env.DB, inv, env.Bus, opts)
	env.API.Mount(api.AssetsRoutes(inv)...)
	env.API.Mount(api.VulnRoutes(svc)...)
	env.OnEvents(inv.ObserveEvents)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	loops := 2
	done := make(chan struct{}, 3)
	go func() { inv.RunDiscovery(ctx); done <- struct{}{} }()
	go func() { svc.Run(ctx, time.Minute); done <- struct{}{} }()
	if every := time.Duration(cfg.Feeds.UpdateInterval); every > 0 {
		loops++
		client := &http.Client{Timeout: 10 * time.Minute}
		go func() { svc.RunFeeds(ctx, client, cfg.Feeds.KEVURL, cfg.Feeds.EPSSURL, every); done <- struct{}{} }()
	}
	return func() {
		cancel()
		for range loops {
			<-done
		}
	}, nil
}
