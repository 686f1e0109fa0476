// Package serve is `wacht serve`: run every component of a wacht node.
package serve

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/app"
	"github.com/wacht-soc/wacht/internal/config"
)

// Flags are serve's listener overrides.
type Flags struct {
	HTTP, SyslogUDP, SyslogTCP, SyslogTLS string
}

// Add registers the flags on cmd.
func (f *Flags) Add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.HTTP, "http", "", "HTTP listen address (default 127.0.0.1:8080)")
	fl.StringVar(&f.SyslogUDP, "syslog-udp", "", `syslog UDP address (default 127.0.0.1:5514; "off" disables)`)
	fl.StringVar(&f.SyslogTCP, "syslog-tcp", "", `syslog TCP address (default 127.0.0.1:5514; "off" disables)`)
	fl.StringVar(&f.SyslogTLS, "syslog-tls", "", "syslog TLS address (default off)")
}

// Apply overrides cfg with the flags given.
func (f *Flags) Apply(cfg *config.Config) {
	set := func(dst *string, v string) {
		switch v {
		case "":
		case "off":
			*dst = ""
		default:
			*dst = v
		}
	}
	set(&cfg.HTTP.Listen, f.HTTP)
	set(&cfg.Syslog.UDP, f.SyslogUDP)
	set(&cfg.Syslog.TCP, f.SyslogTCP)
	set(&cfg.Syslog.TLS, f.SyslogTLS)
}

// NewCommand returns `wacht serve`.
func NewCommand(g *cli.Globals) *cobra.Command {
	var f Flags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run wacht: ingest listeners, journal, event store, API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.Config()
			if err != nil {
				return err
			}
			f.Apply(&cfg)
			if err := cfg.Validate(); err != nil {
				return err
			}
			ctx, stop := cli.SignalContext()
			defer stop()
			a, err := Start(ctx, cfg)
			if err != nil {
				return err
			}
			return Wait(ctx, a)
		},
	}
	g.DataFlag(cmd)
	f.Add(cmd)
	return cmd
}

// gcPercent is the garbage collector's target for a server: ingest
// allocates heavily and briefly, and at Go's default of 100 the collector
// took a tenth of ingest CPU; 200 took a twentieth for a few hundred MB
// more heap, well within the 4 GB of a small site's machine. GOGC in the
// environment wins.
const gcPercent = 200

// Start starts a node and prints where it listens.
func Start(ctx context.Context, cfg config.Config) (*app.App, error) {
	log := cli.Logger(cfg)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	a, err := app.Start(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	ad := a.Addrs()
	scheme := "http"
	if ad.HTTPS {
		scheme = "https"
	}
	fmt.Fprintf(os.Stderr, "wacht %s serving\n  data        %s\n  retention   %s (store.retention; per tenant: store.tenants.NAME.retention)\n  http        %s://%s\n",
		app.Version, cfg.Data, cfg.Store.Retention, scheme, ad.HTTP)
	for _, l := range []struct{ name, addr string }{{"syslog udp", ad.SyslogUDP}, {"syslog tcp", ad.SyslogTCP}, {"syslog tls", ad.SyslogTLS}} {
		if l.addr != "" {
			fmt.Fprintf(os.Stderr, "  %-11s %s\n", l.name, l.addr)
		}
	}
	log.Info("wacht_started", "http", ad.HTTP, "data", cfg.Data, "retention", cfg.Store.Retention.String())
	return a, nil
}

// Wait serves until ctx ends or a component fails, then stops gracefully.
func Wait(ctx context.Context, a *app.App) error {
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-a.Err():
	}
	fmt.Fprintln(os.Stderr, "wacht: stopping (draining listeners, flushing journal and store)")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Stop(sctx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}
