// Package config loads wacht's configuration: one YAML file, then WACHT_*
// environment variables, then command-line flags, each overriding the one
// before. Unknown keys are errors that name the key; values are validated
// at start so that a bad setting stops wacht before it serves anything.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration.
type Config struct {
	// Data is the data directory.
	Data    string  `yaml:"data"`
	Log     Log     `yaml:"log"`
	HTTP    HTTP    `yaml:"http"`
	Syslog  Syslog  `yaml:"syslog"`
	Ingest  Ingest  `yaml:"ingest"`
	Journal Journal `yaml:"journal"`
	Store   Store   `yaml:"store"`
	State   State   `yaml:"state"`
	// Detect configures the Sigma engine.
	Detect Detect `yaml:"detect"`
	// OIDC configures single sign-on (empty issuer: off).
	OIDC OIDC `yaml:"oidc"`
	// Playbooks configures SOAR.
	Playbooks Playbooks `yaml:"playbooks"`
	// Cases configures incident response (see cases.go).
	Cases Cases `yaml:"cases"`
	// Vuln configures vulnerability management (see vuln.go).
	Vuln Vuln `yaml:"vuln"`
	// UEBA configures behaviour analytics and risk (see ueba.go).
	UEBA UEBA `yaml:"ueba"`
	// Intel configures threat intelligence (see intel.go).
	Intel Intel `yaml:"intel"`
}

// Detect configures detection.
type Detect struct {
	// Rules are folders or files of Sigma rules (SigmaHQ's checkout, your
	// own); the starter pack is always loaded. WACHT_RULES (colon-separated)
	// is read too, for scripts.
	Rules []string `yaml:"rules"`
	// Suppress collapses repeated matches per rule (see detect.go).
	Suppress []DetectSuppress `yaml:"suppress"`
	// Placeholders give the values of Sigma expand placeholders
	// (%name% in rules-placeholder) by name; a rule whose placeholder has
	// no values is reported unsupported.
	Placeholders map[string][]string `yaml:"placeholders"`
}

// OIDC configures OpenID Connect sign-in.
type OIDC struct {
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	RedirectURL  string `yaml:"redirect_url"`
}

// Playbooks configures the SOAR runner.
type Playbooks struct {
	// SecretsKey (base64 or hex, 32 bytes) or SecretsKeyFile seals stored
	// secrets; default: DATA/secrets.key, created on first start.
	SecretsKey     string `yaml:"secrets_key"`
	SecretsKeyFile string `yaml:"secrets_key_file"`
	// AllowHosts may be reached by http.request and chat.post ("*": any).
	AllowHosts []string `yaml:"allow_hosts"`
	// AllowLoopback also allows 127.0.0.1, ::1 and localhost.
	AllowLoopback bool `yaml:"allow_loopback"`
	// Exec lists the programs the exec action may run (none: exec is off).
	Exec map[string]PlaybookCommand `yaml:"exec"`
}

// Log configures wacht's own logs.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// HTTP configures the API, console and HTTP ingest listener.
type HTTP struct {
	Listen string `yaml:"listen"`
	TLS    TLS    `yaml:"tls"`
	// PublicPaths are served without a token.
	PublicPaths []string `yaml:"public_paths"`
}

// TLS names a certificate and key. Empty on a non-loopback listener means a
// self-signed certificate generated into the data directory.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Syslog configures the syslog listeners ("" disables one).
type Syslog struct {
	UDP         string   `yaml:"udp"`
	TCP         string   `yaml:"tcp"`
	TLS         string   `yaml:"tls"`
	TLSCert     TLS      `yaml:"tls_cert"`
	Tenant      string   `yaml:"tenant"`
	Parser      string   `yaml:"parser"`
	IdleTimeout Duration `yaml:"idle_timeout"`
	MaxConns    int      `yaml:"max_connections"`
	// ClientCerts requires client certificates from wacht's own CA
	// (`wacht pki issue`) on syslog.tls; the certificate names the tenant.
	ClientCerts bool `yaml:"client_certs"`
}

// Ingest bounds what sources may send.
type Ingest struct {
	MaxEventBytes   Bytes `yaml:"max_event_bytes"`
	MaxRequestBytes Bytes `yaml:"max_request_bytes"`
	// MaxLagBatches is how many journal batches may wait for the indexer
	// before sources are pushed back.
	MaxLagBatches int `yaml:"max_lag_batches"`
	// Format is the parser of POST /api/v1/ingest when the request names
	// none (?format=): "auto" detects it from the first record of each
	// request; any parser name fixes it.
	Format string `yaml:"format"`
}

// Journal configures the durable event log.
type Journal struct {
	// URL of an external NATS cluster; empty runs NATS embedded.
	URL string `yaml:"url"`
	// Listen exposes the embedded NATS on host:port (empty: no port).
	Listen string `yaml:"listen"`
	// Fsync is "always" (fsync before each acknowledgement) or an interval:
	// a killed process loses nothing either way; a power cut can lose up to
	// the interval.
	Fsync    string `yaml:"fsync"`
	MaxBytes Bytes  `yaml:"max_bytes"`
	// Index runs the indexer (journal → event store) on this node. With a
	// shared journal (url) exactly one node indexes; the others only
	// ingest and serve.
	Index bool `yaml:"index"`
}

// Store configures the event store.
type Store struct {
	// URL of a VictoriaLogs server or cluster; empty runs the engine
	// embedded in the data directory.
	URL           string   `yaml:"url"`
	Retention     Duration `yaml:"retention"`
	MaxDiskBytes  Bytes    `yaml:"max_disk_bytes"`
	MemoryBytes   Bytes    `yaml:"memory_bytes"`
	FlushInterval Duration `yaml:"flush_interval"`
	KeepOriginal  bool     `yaml:"keep_original"`
	// CompactAfterIdle merges the parts of older days written since the
	// last compaction once ingest has been idle this long (0: never).
	CompactAfterIdle Duration `yaml:"compact_after_idle"`
	// CompactMaxBytes leaves larger day partitions to the engine's merging.
	CompactMaxBytes Bytes `yaml:"compact_max_bytes"`
	// Tenants overrides retention per tenant (shorter than Retention).
	Tenants map[string]TenantStore `yaml:"tenants"`
}

// TenantStore is a tenant's store settings.
type TenantStore struct {
	Retention Duration `yaml:"retention"`
}

// State configures the state database.
type State struct {
	Driver string `yaml:"driver"` // sqlite or postgres
	DSN    string `yaml:"dsn"`
}

// Default returns the defaults: embedded engines, loopback listeners,
// sized for a small site (2 cores, 4 GB).
func Default() Config {
	return Config{
		Data: "./wacht-data",
		Log:  Log{Level: "info", Format: "text"},
		HTTP: HTTP{Listen: "127.0.0.1:8080", PublicPaths: []string{"/healthz", "/readyz", "/metrics"}},
		Syslog: Syslog{
			UDP: "127.0.0.1:5514", TCP: "127.0.0.1:5514",
			Tenant: "default", Parser: "syslog", IdleTimeout: Duration(10 * time.Minute), MaxConns: 1000,
		},
		Ingest:  Ingest{MaxEventBytes: 1 << 20, MaxRequestBytes: 16 << 20, MaxLagBatches: 2000, Format: "auto"},
		Journal: Journal{Fsync: "1s", MaxBytes: 2 << 30, Index: true},
		Store: Store{
			Retention: Duration(90 * 24 * time.Hour), MemoryBytes: 512 << 20,
			FlushInterval:    Duration(5 * time.Second),
			CompactAfterIdle: Duration(30 * time.Second), CompactMaxBytes: 1 << 30,
		},
		State: State{Driver: "sqlite"},
		Cases: DefaultCases(),
		Vuln:  DefaultVuln(),
		UEBA:  DefaultUEBA(),
		Intel: DefaultIntel(),
	}
}

// Load reads path (optional: "" uses defaults only), then the environment.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read config %s: %w", path, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// applyEnv sets keys from WACHT_<SECTION>_<KEY> variables: WACHT_DATA,
// WACHT_HTTP_LISTEN, WACHT_STORE_RETENTION… An unknown WACHT_ variable is an
// error, except the client-side ones (WACHT_SERVER, WACHT_TOKEN,
// WACHT_CONFIG, WACHT_SHARED and WACHT_TEST_*).
func applyEnv(cfg *Config, environ []string) error {
	keys := map[string]reflect.Value{}
	collect(reflect.ValueOf(cfg).Elem(), "WACHT", keys)
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "WACHT_") {
			continue
		}
		switch {
		case name == "WACHT_SERVER", name == "WACHT_TOKEN", name == "WACHT_CONFIG", name == "WACHT_SHARED", name == "WACHT_RULES", name == "WACHT_CHROMIUM",
			strings.HasPrefix(name, "WACHT_BENCH_"),
			strings.HasPrefix(name, "WACHT_TEST_"), strings.HasPrefix(name, "WACHT_REQUIRE_"):
			continue
		}
		v, ok := keys[name]
		if !ok {
			return fmt.Errorf("environment variable %s: no such setting", name)
		}
		if err := setString(v, val); err != nil {
			return fmt.Errorf("environment variable %s: %w", name, err)
		}
	}
	return nil
}

func collect(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			collect(f, name, out)
			continue
		}
		out[name] = f
	}
}

func setString(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetInt(int64(n))
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from the environment")
		}
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// Validate checks values that YAML types cannot.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Data == "" {
		bad("data", "must name a directory")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	checkAddr := func(key, addr string, required bool) {
		if addr == "" {
			if required {
				bad(key, "must be host:port")
			}
			return
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "%q is not host:port", addr)
		}
	}
	checkAddr("http.listen", c.HTTP.Listen, true)
	checkAddr("syslog.udp", c.Syslog.UDP, false)
	checkAddr("syslog.tcp", c.Syslog.TCP, false)
	checkAddr("syslog.tls", c.Syslog.TLS, false)
	checkAddr("journal.listen", c.Journal.Listen, false)
	if c.Syslog.ClientCerts && c.Syslog.TLS == "" {
		bad("syslog.client_certs", "needs syslog.tls (a TLS listener)")
	}
	if (c.HTTP.TLS.Cert == "") != (c.HTTP.TLS.Key == "") {
		bad("http.tls", "cert and key must be given together")
	}
	if c.Ingest.MaxEventBytes < 1024 {
		bad("ingest.max_event_bytes", "%d is below the minimum of 1KiB", c.Ingest.MaxEventBytes)
	}
	if c.Ingest.MaxRequestBytes < c.Ingest.MaxEventBytes {
		bad("ingest.max_request_bytes", "must be at least ingest.max_event_bytes")
	}
	if c.Ingest.MaxEventBytes > 16<<20 {
		bad("ingest.max_event_bytes", "%d is above the maximum of 16MiB", c.Ingest.MaxEventBytes)
	}
	if !c.Journal.Index && c.Journal.URL == "" {
		bad("journal.index", "false needs a shared journal (journal.url): with the embedded journal nothing else would index")
	}
	if _, _, err := c.Journal.FsyncPolicy(); err != nil {
		bad("journal.fsync", "%v", err)
	}
	if time.Duration(c.Store.Retention) < 24*time.Hour {
		bad("store.retention", "%s is shorter than one day", c.Store.Retention)
	}
	for name, t := range c.Store.Tenants {
		if t.Retention != 0 && (time.Duration(t.Retention) < 24*time.Hour || t.Retention > c.Store.Retention) {
			bad("store.tenants."+name+".retention", "must be between one day and store.retention (%s)", c.Store.Retention)
		}
	}
	if c.Store.MemoryBytes != 0 && c.Store.MemoryBytes < 32<<20 {
		bad("store.memory_bytes", "%d is below the minimum of 32MiB", c.Store.MemoryBytes)
	}
	if (c.OIDC.Issuer == "") != (c.OIDC.ClientID == "") {
		bad("oidc", "issuer and client_id must be given together")
	}
	if c.OIDC.Issuer != "" && c.OIDC.RedirectURL == "" {
		bad("oidc.redirect_url", "required with oidc.issuer (e.g. https://wacht.example/api/v1/auth/oidc/callback)")
	}
	switch c.State.Driver {
	case "sqlite":
	case "postgres":
		if c.State.DSN == "" {
			bad("state.dsn", "required for the postgres driver")
		}
	default:
		bad("state.driver", "%q is not one of sqlite, postgres", c.State.Driver)
	}
	c.Cases.validate(bad)
	c.Vuln.validate(bad)
	c.UEBA.validate(bad)
	c.Intel.validate(bad)
	c.Detect.validate(bad)
	return errors.Join(errs...)
}

// FsyncPolicy decodes journal.fsync.
func (j Journal) FsyncPolicy() (always bool, interval time.Duration, err error) {
	if j.Fsync == "always" {
		return true, time.Second, nil
	}
	d, err := ParseDuration(j.Fsync)
	if err != nil || d <= 0 {
		return false, 0, fmt.Errorf("%q is neither \"always\" nor a positive duration", j.Fsync)
	}
	return false, d, nil
}

// Path joins a name under the data directory.
func (c *Config) Path(elem ...string) string {
	return filepath.Join(append([]string{c.Data}, elem...)...)
}

// StateDSN is the state database address, defaulting to a SQLite file in
// the data directory.
func (c *Config) StateDSN() string {
	if c.State.Driver == "sqlite" && c.State.DSN == "" {
		return c.Path("state.db")
	}
	return c.State.DSN
}
