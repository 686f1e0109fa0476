package app

import (
	"context"
	"io"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/console"
)

// The console module: the web interface under /console/, after every
// domain it shows (order 90). It reads the domains through their own
// services over the shared state database, so it needs nothing from
// their modules but their tables.
func init() { registerModule("console", 90, startConsole) }

func startConsole(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "console")
	a := env.app
	svc, err := console.New(console.Options{
		Events: env.Events,
		API:    env.API,
		Cases:  cases.New(env.DB, cases.Options{Bus: env.Bus, Now: env.Now, Log: log}),
		Users: auth.NewUsers(env.DB, auth.UsersOptions{Now: env.Now, Log: log,
			ValidRole: func(r string) bool { return api.Allowed(r, api.PermSession) || r == api.RoleIngest }}),
		Tokens:  auth.NewTokenStore(env.DB, env.Now),
		DB:      env.DB,
		Bus:     env.Bus,
		Health:  func() console.Health { return consoleHealth(a) },
		Metrics: func(w io.Writer) { a.Metrics.WritePrometheus(w) },
		OIDC:    env.Config.OIDC.Issuer != "",
		Now:     env.Now,
		Log:     log,
	})
	if err != nil {
		return nil, err
	}
	env.API.MountPublicAssets("GET "+api.ConsolePrefix+"assets/", svc.ServeAsset)
	env.API.MountPages(svc.Routes()...)
	if !svc.Bundled() {
		log.Warn("console_bundle_missing", "fix", "run make web before go build; pages work without charts and live updates")
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(runCtx) }()
	return func() { cancel(); <-done }, nil
}

func consoleHealth(a *App) console.Health {
	st := a.Status()
	h := console.Health{Version: st.Version, Uptime: st.Uptime, Ready: st.Ready, Retention: st.Retention,
		StoreRows: st.Store.Rows, StoreBytes: st.Store.BytesOnDisk, ReadOnly: st.Store.ReadOnly,
		Oldest: st.Store.Oldest, Newest: st.Store.Newest, JournalLag: st.Journal.LagBatches}
	for _, l := range []struct{ name, addr string }{{"http", st.Listeners.HTTP}, {"syslog udp", st.Listeners.SyslogUDP},
		{"syslog tcp", st.Listeners.SyslogTCP}, {"syslog tls", st.Listeners.SyslogTLS}} {
		if l.addr != "" {
			h.Listeners = append(h.Listeners, console.Listener{Name: l.name, Addr: l.addr})
		}
	}
	return h
}
