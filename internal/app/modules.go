package app

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/store"
)

// A module is a domain that starts with the node: cases, threat intel,
// detection, playbooks… Each lives in its own file of this package
// (internal/app/<domain>.go) and registers itself in init:
//
//	func init() { registerModule("cases", 20, startCases) }
//
// Start receives the node's shared parts through Env, mounts its API routes,
// subscribes to the bus or to stored events, and returns a stop function.
type module struct {
	name  string
	order int
	start func(ctx context.Context, env *Env) (stop func(), err error)
}

var modules []module // registry, filled in init

func registerModule(name string, order int, start func(ctx context.Context, env *Env) (func(), error)) {
	for _, m := range modules {
		if m.name == name {
			panic("app: module " + name + " registered twice")
		}
	}
	modules = append(modules, module{name, order, start})
}

// Env is what a module may use.
type Env struct {
	Config config.Config
	Log    *slog.Logger
	// DB is the state database (the module's migrations are applied).
	DB *store.DB
	// Events is the event store (for retro-hunts and evidence).
	Events eventstore.EventStore
	// API mounts the module's routes.
	API *api.Server
	// Bus carries domain events.
	Bus *bus.Bus
	// Now is the clock for deadlines (tests inject one).
	Now func() time.Time
	app *App
}

// OnEvents registers fn to see every batch of events once it is stored
// (detection engines hook in here). fn runs on the indexer's goroutine:
// it must be quick or hand work off.
func (e *Env) OnEvents(fn func([]*event.Event)) { e.app.eventHooks = append(e.app.eventHooks, fn) }

func (a *App) fanOut(events []*event.Event) {
	for _, fn := range a.eventHooks {
		fn(events)
	}
}

func (a *App) startModules(ctx context.Context) error {
	ms := append([]module(nil), modules...)
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].order < ms[j].order })
	env := &Env{Config: a.cfg, Log: a.log, DB: a.db, Events: a.events, API: a.api, Bus: a.Bus, Now: a.Now, app: a}
	for _, m := range ms {
		stop, err := m.start(ctx, env)
		if err != nil {
			return fmt.Errorf("start %s: %w", m.name, err)
		}
		if stop != nil {
			a.moduleStops = append(a.moduleStops, stop)
		}
	}
	return nil
}
