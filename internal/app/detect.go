package app

import (
	"context"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/detect"
)

func init() { registerModule("detect", 50, startDetect) }

// Detection timing: how often rule files are polled for changes, and how
// often correlation windows that ended are closed on the node's clock.
const (
	detectWatchEvery = 5 * time.Second
	detectFlushEvery = 10 * time.Second
	// detectQueue is how many stored batches may wait for the engine
	// before the indexer waits (backpressure, never a silent drop).
	detectQueue = 64
)

// startDetect runs the Sigma rules: the embedded starter pack and the
// folders of WACHT_RULES (colon-separated), on every stored batch.
// Matches are published on the bus as detection.matched.
func startDetect(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "detect")
	svc, err := detect.New(detect.Options{
		Load: detect.LoadOptions{Paths: rulePaths(env), Starter: true},
		Bus:  env.Bus, DB: env.DB, Events: env.Events, Now: env.Now, Log: log,
	})
	if err != nil {
		return nil, err
	}
	env.API.Mount(api.DetectRoutes(svc)...)

	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	batches := make(chan []*event.Event, detectQueue)
	env.OnEvents(func(evs []*event.Event) {
		select {
		case batches <- evs:
		case <-ctx.Done():
			// Stored but not evaluated: say so (a retro-hunt covers them).
			log.Warn("detect_batch_not_evaluated", "events", len(evs), "reason", "stopping")
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		flush := time.NewTicker(detectFlushEvery)
		defer flush.Stop()
		for {
			select {
			case <-ctx.Done():
				// Drain what was handed over before stopping.
				for {
					select {
					case evs := <-batches:
						svc.Process(context.Background(), evs)
					default:
						return
					}
				}
			case evs := <-batches:
				svc.Process(ctx, evs)
			case <-flush.C:
				svc.Flush(ctx, env.Now())
			}
		}
	}()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		svc.Watch(ctx, detectWatchEvery)
	}()
	return func() { cancel(); <-done; <-watchDone }, nil
}

// rulePaths are the configured rule folders plus WACHT_RULES.
func rulePaths(env *Env) []string {
	return append(append([]string(nil), env.Config.Detect.Rules...), detect.RulesFromEnv()...)
}
