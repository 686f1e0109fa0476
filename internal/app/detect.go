package app

import (
	"context"
	"path/filepath"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/sigma"
)

func init() { registerModule("detect", 50, startDetect) }

// Detection timing: how often rule files are polled for changes, and how
// often correlation windows that ended are closed on the node's clock.
const (
	detectWatchEvery = 5 * time.Second
	detectFlushEvery = 10 * time.Second
	// detectSaveEvery is how often the correlation state is checkpointed
	// (also on stop), so that open windows survive a restart; a crash
	// loses at most this much of them.
	detectSaveEvery = time.Minute
	// detectQueue is how many stored batches may wait for the engine
	// before the indexer waits (backpressure, never a silent drop).
	detectQueue = 64
)

// startDetect runs the Sigma rules: the embedded starter pack and the
// folders of WACHT_RULES (colon-separated), on every stored batch.
// Matches are published on the bus as detection.matched.
func startDetect(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "detect")
	var windows []detect.WindowRule
	for _, s := range env.Config.Detect.Suppress {
		windows = append(windows, detect.WindowRule{Rule: s.Rule, GroupBy: s.GroupBy, Window: time.Duration(s.Window)})
	}
	svc, err := detect.New(detect.Options{
		Load: detect.LoadOptions{Paths: rulePaths(env), Starter: true,
			Sigma: sigma.Options{Placeholders: env.Config.Detect.Placeholders}},
		Bus: env.Bus, DB: env.DB, Events: env.Events, Now: env.Now, Log: log,
		StateFile: filepath.Join(env.Config.Data, "detect", "correlations.json"),
		Suppress:  windows,
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
		save := time.NewTicker(detectSaveEvery)
		defer save.Stop()
		checkpoint := func() {
			if n, err := svc.SaveState(); err != nil {
				log.Error("correlation_state_not_saved", "err", err)
			} else {
				log.Debug("correlation_state_saved", "groups", n)
			}
		}
		for {
			select {
			case <-ctx.Done():
				// Drain what was handed over before stopping, then keep
				// the open correlation windows for the next start.
				for {
					select {
					case evs := <-batches:
						svc.Process(context.Background(), evs)
					default:
						checkpoint()
						return
					}
				}
			case <-save.C:
				checkpoint()
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
