// Package cli holds what every wacht command shares: global flags, loading
// the configuration, the logger, and the client for a running server.
package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/internal/config"
)

// Globals are the flags every command may use.
type Globals struct {
	ConfigPath string
	Data       string
	Server     string
	Token      string
	JSON       bool
	Insecure   bool
	LogLevel   string
}

// NewGlobals returns globals defaulted from the environment.
func NewGlobals() *Globals {
	return &Globals{
		ConfigPath: os.Getenv("WACHT_CONFIG"),
		Server:     envOr("WACHT_SERVER", "http://127.0.0.1:8080"),
		Token:      os.Getenv("WACHT_TOKEN"),
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Root is the root command with the global flags.
func (g *Globals) Root() *cobra.Command {
	root := &cobra.Command{
		Use:           "wacht",
		Short:         "wacht — open Security Operations platform",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.ConfigPath, "config", g.ConfigPath, "configuration file (YAML; env WACHT_CONFIG)")
	pf.BoolVar(&g.JSON, "json", false, "machine-readable output")
	return root
}

// DataFlag adds --data to a command that works on a data directory.
func (g *Globals) DataFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&g.Data, "data", "", "data directory (env WACHT_DATA; default ./wacht-data)")
}

// ServerFlags adds --server and --token to a command that talks to a
// running server.
func (g *Globals) ServerFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&g.Server, "server", g.Server, "server URL (env WACHT_SERVER)")
	cmd.Flags().StringVar(&g.Token, "token", g.Token, "API token (env WACHT_TOKEN)")
	cmd.Flags().BoolVar(&g.Insecure, "insecure", false, "accept the server's self-signed TLS certificate")
}

// Config loads file and environment, applies --data, and validates.
func (g *Globals) Config() (config.Config, error) {
	cfg, err := config.Load(g.ConfigPath, os.Environ())
	if err != nil {
		return cfg, err
	}
	if g.Data != "" {
		cfg.Data = g.Data
	}
	return cfg, cfg.Validate()
}

// Logger builds the slog logger from the configuration, writing to stderr.
func Logger(cfg config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// SignalContext is cancelled on SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// Client calls a running server.
type Client struct {
	Base  string
	Token string
	HTTP  *http.Client
}

// Client returns a client for --server and --token.
func (g *Globals) Client() (*Client, error) {
	if g.Token == "" {
		return nil, errors.New("no token: pass --token or set WACHT_TOKEN (create one with `wacht token create --name NAME`)")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if g.Insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by --insecure
	}
	return &Client{Base: strings.TrimRight(g.Server, "/"), Token: g.Token, HTTP: &http.Client{Transport: tr, Timeout: 0}}, nil
}

// Get performs an authenticated GET and returns the body of a 2xx answer;
// otherwise the server's error message.
func (c *Client) Get(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("contact server %s: %w", c.Base, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("server answered %s: %s", resp.Status, e.Error)
		}
		return nil, fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return resp.Body, nil
}

// Execute runs the command and returns the process exit code.
func Execute(root *cobra.Command) int {
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "wacht:", err)
		return 1
	}
	return 0
}

// Progress prints a progress line on stderr at most every 200ms.
type Progress struct {
	What string
	last time.Time
}

// Update reports done of total (total 0: unknown).
func (p *Progress) Update(done, total int64) {
	if time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	if total > 0 {
		fmt.Fprintf(os.Stderr, "\r%s: %d / %d (%.0f%%)", p.What, done, total, 100*float64(done)/float64(total))
	} else {
		fmt.Fprintf(os.Stderr, "\r%s: %d", p.What, done)
	}
}

// Done ends the progress line.
func (p *Progress) Done() {
	if !p.last.IsZero() {
		fmt.Fprintln(os.Stderr)
	}
}
