package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/ueba"
)

func init() { registerModule("ueba", 70, startUEBA) }

// Behaviour analytics timing: how often quiet log sources are checked and
// how often the learned state is snapshotted.
const (
	uebaFlushEvery    = time.Minute
	uebaSnapshotEvery = 5 * time.Minute
	uebaQueue         = 64
)

// startUEBA runs the behaviour detectors on every stored batch, turns
// detections and anomalies into entity risk, and serves the entity,
// anomaly and likelihood API.
func startUEBA(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "ueba")
	inv := assets.New(env.DB, nil, env.Now, log)
	cs := cases.New(env.DB, cases.Options{Now: env.Now, Log: log})
	svc, err := ueba.New(ctx, ueba.Options{
		DB: env.DB, Bus: env.Bus, Now: env.Now, Log: log,
		Cases: uebaCases{cs},
		Criticality: func(ctx context.Context, tenant string, e ueba.Entity) int {
			switch e.Kind {
			case ueba.KindHost:
				return assetCriticality(ctx, inv, tenant, []cases.Entity{{Kind: "host", Value: e.Value}})
			case ueba.KindIP:
				return assetCriticality(ctx, inv, tenant, []cases.Entity{{Kind: "ip", Value: e.Value}})
			}
			return 0
		},
	})
	if err != nil {
		return nil, err
	}
	env.API.Mount(api.UEBARoutes(svc)...)

	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	batches := make(chan []*event.Event, uebaQueue)
	env.OnEvents(func(evs []*event.Event) {
		select {
		case batches <- evs:
		case <-ctx.Done():
		}
	})
	detections := env.Bus.Subscribe(detect.TopicMatched, 4096)
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
			case <-flush.C:
				svc.Flush(ctx)
			case <-snap.C:
				if err := svc.Snapshot(ctx); err != nil {
					log.Error("ueba_snapshot_failed", "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done; detections.Close() }, nil
}

// uebaCases reads incidents for the likelihood model.
type uebaCases struct{ svc *cases.Service }

func uebaFacts(inc cases.Incident) ueba.IncidentFacts {
	f := ueba.IncidentFacts{ID: inc.ID, Severity: max(inc.Severity.Rank(), 0), Score: inc.Score, Alerts: inc.AlertCount,
		Rules: inc.Rules, Attack: inc.Attack, Created: inc.CreatedAt}
	for _, e := range inc.Entities {
		switch e.Kind {
		case "user":
			f.Entities = append(f.Entities, ueba.Entity{Kind: ueba.KindUser, Value: e.Value})
		case "host":
			f.Entities = append(f.Entities, ueba.Entity{Kind: ueba.KindHost, Value: e.Value})
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
