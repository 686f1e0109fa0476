// Package app wires wacht together: configuration in, components out, in
// one start order and the reverse stop order. It is the only package that
// imports the heavy engines' adapters (the embedded VictoriaLogs store, the
// embedded NATS journal) together with everything else.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/eventstore/vlremote"
	"github.com/wacht-soc/wacht/internal/eventstore/vlstore"
	"github.com/wacht-soc/wacht/internal/indexer"
	"github.com/wacht-soc/wacht/internal/ingest"
	"github.com/wacht-soc/wacht/internal/journal"
	"github.com/wacht-soc/wacht/internal/parse"
	_ "github.com/wacht-soc/wacht/internal/parse/all" // every parser registers itself
	"github.com/wacht-soc/wacht/internal/store"
)

// Version is set at build time.
var Version = "dev"

// App is a running wacht node.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	Metrics *metrics.Set

	db       *store.DB
	tokens   api.Authenticator
	journal  *journal.Journal
	events   eventstore.EventStore
	indexer  *indexer.Indexer
	accepter *ingest.Accepter
	api      *api.Server

	httpSrv  *http.Server
	httpsOn  bool
	httpLn   net.Listener
	tcp, tls *ingest.StreamListener
	udp      *ingest.PacketListener

	// Bus carries domain events between modules.
	Bus *bus.Bus
	// Now is the clock every module uses for deadlines.
	Now func() time.Time

	eventHooks  []func([]*event.Event)
	moduleStops []func()

	runCtx    context.Context
	cancelRun context.CancelFunc
	wg        sync.WaitGroup
	idxErr    chan error
	started   time.Time
}

// Addrs are the bound listener addresses (useful with port 0).
type Addrs struct {
	HTTP, SyslogUDP, SyslogTCP, SyslogTLS string
	HTTPS                                 bool
}

// Start opens every component and starts serving.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkParsers(cfg); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, Metrics: metrics.NewSet(), idxErr: make(chan error, 1), started: time.Now(), Now: time.Now}
	a.Bus = bus.New(a.Now)
	defer func() {
		if err != nil {
			a.closeAll()
		}
	}()
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", cfg.Data, err)
	}
	a.db, err = store.Open(ctx, store.Config{Driver: cfg.State.Driver, DSN: cfg.StateDSN()}, log)
	if err != nil {
		return nil, err
	}
	a.tokens = newTokenAuth(a.db)

	if cfg.Store.URL != "" {
		var rs *vlremote.Store
		rs, err = vlremote.Open(ctx, vlremote.Config{
			URL: cfg.Store.URL, Retention: time.Duration(cfg.Store.Retention), KeepOriginal: cfg.Store.KeepOriginal,
		}, log)
		if err == nil {
			a.events = rs
		}
	} else {
		var es *vlstore.Store
		es, err = vlstore.Open(vlstore.Config{
			Path:             cfg.Path("events"),
			Retention:        time.Duration(cfg.Store.Retention),
			MaxDiskBytes:     int64(cfg.Store.MaxDiskBytes),
			MemoryBytes:      int64(cfg.Store.MemoryBytes),
			FlushInterval:    time.Duration(cfg.Store.FlushInterval),
			KeepOriginal:     cfg.Store.KeepOriginal,
			CompactAfterIdle: time.Duration(cfg.Store.CompactAfterIdle),
			CompactMaxBytes:  int64(cfg.Store.CompactMaxBytes),
			TenantRetention: func() map[string]time.Duration {
				m := map[string]time.Duration{}
				for name, t := range cfg.Store.Tenants {
					m[name] = time.Duration(t.Retention)
				}
				return m
			}(),
		}, log)
		if err == nil {
			a.events = es
		}
	}
	if err != nil {
		return nil, err
	}
	always, interval, _ := cfg.Journal.FsyncPolicy()
	a.journal, err = journal.Open(ctx, journal.Config{
		Dir: cfg.Path("journal"), URL: cfg.Journal.URL, Listen: cfg.Journal.Listen,
		SyncInterval: interval, SyncAlways: always, MaxBytes: int64(cfg.Journal.MaxBytes),
		// One event may carry its raw record, message and fields, each up
		// to max_event_bytes, on top of a full batch.
		MaxMessageBytes: int32(ingest.DefaultLimits.BatchBytes + 4*int(cfg.Ingest.MaxEventBytes)),
	}, log)
	if err != nil {
		return nil, err
	}
	a.indexer, err = indexer.New(a.journal, a.events, indexer.Options{Dir: cfg.Data, Metrics: a.Metrics, OnBatch: a.fanOut,
		// a.accepter is set below, before the indexer runs.
		Busy: func() bool { return a.accepter.Busy() }}, log)
	if err != nil {
		return nil, err
	}
	a.runCtx, a.cancelRun = context.WithCancel(context.Background())
	limits := ingest.Limits{
		MaxEventBytes:   int(cfg.Ingest.MaxEventBytes),
		MaxRequestBytes: int64(cfg.Ingest.MaxRequestBytes),
		MaxLagMessages:  uint64(cfg.Ingest.MaxLagBatches),
		KeepRaw:         cfg.Store.KeepOriginal,
		Format:          cfg.Ingest.Format,
	}
	indexed := a.indexer.Written
	if !cfg.Journal.Index {
		// Another node indexes: push back only when the shared journal is
		// full (journal.max_bytes), not on a local lag that never shrinks.
		indexed = func() uint64 { return math.MaxUint64 }
	}
	a.accepter = ingest.NewAccepter(a.journal, limits, indexed, a.Metrics, log)
	a.registerGauges()

	a.api = api.New(api.Deps{
		Auth:        a.tokens,
		Store:       a.events,
		Ingest:      ingest.NewHTTP(a.accepter, api.TenantOf, log),
		Metrics:     a.Metrics,
		Ready:       a.ready,
		Status:      func() any { return a.Status() },
		PublicPaths: cfg.HTTP.PublicPaths,
		Log:         log,
	})
	if err := a.startModules(ctx); err != nil {
		return nil, err
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if r, ok := a.events.(interface {
			RunTenantRetention(context.Context, func() time.Time)
		}); ok {
			r.RunTenantRetention(a.runCtx, a.Now)
		}
	}()
	if cfg.Journal.Index {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := a.indexer.Run(a.runCtx); err != nil {
				log.Error("indexer_stopped", "err", err)
				a.idxErr <- err
			}
		}()
	}
	if err := a.listen(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) listen() error {
	cfg := a.cfg
	sc := ingest.SyslogConfig{Tenant: cfg.Syslog.Tenant, Parser: cfg.Syslog.Parser,
		IdleTimeout: time.Duration(cfg.Syslog.IdleTimeout), MaxConns: cfg.Syslog.MaxConns}
	tlsFor := func(addr string, c config.TLS) (*tls.Config, error) {
		cert, err := loadOrCreateCert(c.Cert, c.Key, a.cfg.Path("tls"))
		if err != nil {
			return nil, err
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	}
	var err error
	if cfg.Syslog.UDP != "" {
		if !isLoopback(cfg.Syslog.UDP) {
			a.log.Warn("syslog_udp_not_loopback", "addr", cfg.Syslog.UDP, "note", "UDP syslog has no encryption; prefer syslog.tls")
		}
		if a.udp, err = ingest.ListenSyslogUDP(cfg.Syslog.UDP, sc, a.accepter, a.log); err != nil {
			return fmt.Errorf("listen syslog udp %s: %w", cfg.Syslog.UDP, err)
		}
		go a.udp.Serve(a.runCtx)
	}
	if cfg.Syslog.TCP != "" {
		var tc *tls.Config
		if !isLoopback(cfg.Syslog.TCP) {
			// Plain TCP off loopback would carry events in clear: TLS it.
			if tc, err = tlsFor(cfg.Syslog.TCP, cfg.Syslog.TLSCert); err != nil {
				return err
			}
		}
		if a.tcp, err = ingest.ListenSyslogTCP(cfg.Syslog.TCP, tc, sc, a.accepter, a.log); err != nil {
			return fmt.Errorf("listen syslog tcp %s: %w", cfg.Syslog.TCP, err)
		}
		go a.tcp.Serve(a.runCtx)
	}
	if cfg.Syslog.TLS != "" {
		tc, err := tlsFor(cfg.Syslog.TLS, cfg.Syslog.TLSCert)
		if err != nil {
			return err
		}
		if cfg.Syslog.ClientCerts {
			ca, err := auth.OpenCA(cfg.Path("pki"), a.db, a.Now)
			if err != nil {
				return err
			}
			tc = ca.ServerTLSConfig(tc.Certificates[0])
			sc.TenantFromCert = auth.ClientTenant
		}
		if a.tls, err = ingest.ListenSyslogTCP(cfg.Syslog.TLS, tc, sc, a.accepter, a.log); err != nil {
			return fmt.Errorf("listen syslog tls %s: %w", cfg.Syslog.TLS, err)
		}
		go a.tls.Serve(a.runCtx)
	}
	a.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", cfg.HTTP.Listen, err)
	}
	useTLS := cfg.HTTP.TLS.Cert != "" || !isLoopback(cfg.HTTP.Listen)
	a.httpSrv = &http.Server{
		Handler:           a.api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	if useTLS {
		tc, err := tlsFor(cfg.HTTP.Listen, cfg.HTTP.TLS)
		if err != nil {
			return err
		}
		a.httpSrv.TLSConfig = tc
		a.httpsOn = true
		a.httpLn = tls.NewListener(a.httpLn, tc)
	}
	go func() {
		if err := a.httpSrv.Serve(a.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http_serve_failed", "err", err)
		}
	}()
	return nil
}

// Addrs returns the bound addresses.
func (a *App) Addrs() Addrs {
	var ad Addrs
	if a.httpLn != nil {
		ad.HTTP = a.httpLn.Addr().String()
		ad.HTTPS = a.httpsOn
	}
	if a.udp != nil {
		ad.SyslogUDP = a.udp.Addr().String()
	}
	if a.tcp != nil {
		ad.SyslogTCP = a.tcp.Addr().String()
	}
	if a.tls != nil {
		ad.SyslogTLS = a.tls.Addr().String()
	}
	return ad
}

// Err reports a component that failed while running.
func (a *App) Err() <-chan error { return a.idxErr }

func (a *App) ready() error {
	var errs []error
	if a.events.Stats().ReadOnly {
		errs = append(errs, errors.New("event store is read-only (disk nearly full)"))
	}
	if a.accepter.Behind() {
		errs = append(errs, fmt.Errorf("journal lag %d batches: ingest is pushing back", a.accepter.Lag()))
	}
	var one int
	if err := a.db.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil {
		errs = append(errs, fmt.Errorf("state database: %v", err))
	}
	return errors.Join(errs...)
}

// Stop drains listeners, lets the indexer catch up, then flushes and closes
// the store and the journal.
func (a *App) Stop(ctx context.Context) error {
	if a.httpSrv != nil {
		_ = a.httpSrv.Shutdown(ctx)
	}
	for _, l := range []interface{ Close() error }{a.tcpCloser(), a.tlsCloser(), a.udpCloser()} {
		if l != nil {
			_ = l.Close()
		}
	}
	// Give the indexer a moment to write what the journal holds; whatever
	// it has not written stays in the journal and is indexed after the
	// restart, so shutdown never waits long for a backlog.
	drain := time.Now().Add(3 * time.Second)
	for a.accepter != nil && a.accepter.Lag() > 0 && ctx.Err() == nil && time.Now().Before(drain) {
		time.Sleep(20 * time.Millisecond)
	}
	a.closeAll()
	return nil
}

func (a *App) tcpCloser() interface{ Close() error } {
	if a.tcp == nil {
		return nil
	}
	return a.tcp
}

func (a *App) tlsCloser() interface{ Close() error } {
	if a.tls == nil {
		return nil
	}
	return a.tls
}

func (a *App) udpCloser() interface{ Close() error } {
	if a.udp == nil {
		return nil
	}
	return a.udp
}

func (a *App) closeAll() {
	if a.cancelRun != nil {
		a.cancelRun()
		a.wg.Wait()
	}
	for i := len(a.moduleStops) - 1; i >= 0; i-- {
		a.moduleStops[i]()
	}
	a.moduleStops = nil
	if a.events != nil {
		_ = a.events.Close()
		if a.indexer != nil {
			if err := a.indexer.Finish(); err != nil {
				a.log.Error("indexer_finish_failed", "err", err)
			}
		}
	}
	if a.journal != nil {
		a.journal.Close()
	}
	if a.db != nil {
		_ = a.db.Close()
	}
}

// checkParsers refuses a configuration that names a parser wacht does not
// have, at start rather than at a source's first connection.
func checkParsers(cfg config.Config) error {
	for key, name := range map[string]string{"syslog.parser": cfg.Syslog.Parser, "ingest.format": cfg.Ingest.Format} {
		if name == "" {
			continue
		}
		if _, ok := parse.Lookup(name); !ok {
			var known []string
			for _, in := range parse.All() {
				known = append(known, in.Name())
			}
			return fmt.Errorf("config: %s: unknown parser %q (known: %s)", key, name, strings.Join(known, ", "))
		}
	}
	return nil
}
