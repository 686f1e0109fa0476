// Package demo is `wacht demo`: serve on embedded defaults and replay a
// generated attack story, so a newcomer has data to hunt in within a minute.
package demo

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/cmd/wacht/serve"
	"github.com/wacht-soc/wacht/cmd/wacht/token"
	"github.com/wacht-soc/wacht/internal/auth"
	scenario "github.com/wacht-soc/wacht/internal/demo"
	"github.com/wacht-soc/wacht/internal/store"
)

// NewCommand returns `wacht demo`.
func NewCommand(g *cli.Globals) *cobra.Command {
	var f serve.Flags
	var exit bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Serve and replay a generated attack scenario (sshd, web, Windows)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.Data == "" && os.Getenv("WACHT_DATA") == "" {
				g.Data = "./wacht-demo"
			}
			cfg, err := g.Config()
			if err != nil {
				return err
			}
			f.Apply(&cfg)
			if os.Getenv("WACHT_LOG_LEVEL") == "" && g.ConfigPath == "" {
				cfg.Log.Level = "warn" // keep the tour readable
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			ctx, stop := cli.SignalContext()
			defer stop()
			var secret, password string
			err = token.WithDB(ctx, cfg, func(db *store.DB) error {
				var err error
				secret, _, err = auth.NewTokenStore(db, time.Now).Create(ctx, auth.TokenSpec{Tenant: "default", Name: "demo-" + time.Now().UTC().Format("20060102-150405"), Role: "admin", TTL: 7 * 24 * time.Hour})
				if err != nil {
					return err
				}
				// A console user for the browser; a fresh password each run.
				password, err = demoUser(ctx, db)
				return err
			})
			if err != nil {
				return err
			}
			a, err := serve.Start(ctx, cfg)
			if err != nil {
				return err
			}
			ad := a.Addrs()
			scheme := "http"
			if ad.HTTPS {
				scheme = "https"
			}
			base := scheme + "://" + ad.HTTP
			before, err := countEvents(ctx, base, secret, ad.HTTPS)
			if err != nil {
				_ = a.Stop(context.Background())
				return err
			}
			sc := scenario.Generate(time.Now(), uint64(time.Now().UnixNano()))
			fmt.Fprintf(os.Stderr, "replaying the demo scenario: %d events (sshd over syslog TCP, nginx over Splunk HEC, Windows Sysmon over the Elasticsearch _bulk API)\n", sc.Events())
			if err := scenario.Replay(ctx, sc, scenario.Target{BaseURL: base, SyslogTCP: ad.SyslogTCP, Token: secret, Insecure: ad.HTTPS}); err != nil {
				_ = a.Stop(context.Background())
				return fmt.Errorf("replay demo scenario: %w", err)
			}
			n, err := waitSearchable(ctx, base, secret, before+sc.Events(), ad.HTTPS)
			if err != nil {
				_ = a.Stop(context.Background())
				return err
			}
			server := ""
			if base != "http://127.0.0.1:8080" {
				server = " --server " + base
			}
			fmt.Printf(`
%d demo events are stored and searchable (%d in the store).

Console:  %s/console/   user "demo", password %s

Your admin token (valid 7 days):

  export WACHT_TOKEN=%s

Then, in another terminal:

  wacht hunt%s '*' --limit 20
  wacht hunt%s '"Failed password" | stats by (source.ip) count() hits'
  wacht hunt%s 'Image:~"(?i)rundll32" CommandLine:~"(?i)minidump"'
  wacht hunt%s 'url.original:"/uploads/shell.php"*'
  wacht hunt%s '* | stats by (source.listener, event.format) count()'
  wacht cases list%s                 # the starter Sigma rules opened incidents
  wacht cases show INCIDENT_ID%s     # priority explained, SLA, timeline
  wacht status%s

`, sc.Events(), n, base, password, secret, server, server, server, server, server, server, server, server)
			if exit {
				return a.Stop(context.Background())
			}
			fmt.Fprintln(os.Stderr, "wacht demo is serving; press Ctrl-C to stop.")
			return serve.Wait(ctx, a)
		},
	}
	g.DataFlag(cmd)
	f.Add(cmd)
	cmd.Flags().BoolVar(&exit, "exit", false, "stop once the scenario is searchable (for scripts)")
	return cmd
}

// countEvents returns how many events of the last two hours are stored.
func countEvents(ctx context.Context, base, tok string, insecure bool) (int, error) {
	c := &cli.Globals{Server: base, Token: tok, Insecure: insecure}
	client, err := c.Client()
	if err != nil {
		return 0, err
	}
	q := url.Values{"q": {"* | stats count() n"}, "start": {"2h"}}
	body, err := client.Get(ctx, "/api/v1/events/search?"+q.Encode())
	if err != nil {
		return 0, err
	}
	defer body.Close()
	var row struct {
		N string `json:"n"`
	}
	_ = decodeFirst(body, &row)
	n, _ := strconv.Atoi(row.N)
	return n, nil
}

// waitSearchable polls the search API until want events are visible.
func waitSearchable(ctx context.Context, base, tok string, want int, insecure bool) (int, error) {
	deadline := time.Now().Add(60 * time.Second)
	got := 0
	for time.Now().Before(deadline) {
		n, err := countEvents(ctx, base, tok, insecure)
		if err == nil {
			if got = n; got >= want {
				return got, nil
			}
		}
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return got, fmt.Errorf("only %d of %d demo events became searchable within 60s", got, want)
}
