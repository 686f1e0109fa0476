package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wacht.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != "127.0.0.1:8080" || c.Syslog.TCP != "127.0.0.1:5514" || time.Duration(c.Store.Retention) != 90*24*time.Hour {
		t.Fatalf("unexpected defaults %+v", c)
	}
}

func TestFileThenEnvironment(t *testing.T) {
	p := write(t, "data: /srv/wacht\nstore:\n  retention: 30d\n  memory_bytes: 1GiB\njournal:\n  fsync: always\n")
	c, err := Load(p, []string{"WACHT_STORE_RETENTION=14d", "WACHT_HTTP_PUBLIC_PATHS=/healthz, /metrics", "WACHT_SERVER=http://x", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != "/srv/wacht" || time.Duration(c.Store.Retention) != 14*24*time.Hour || c.Store.MemoryBytes != 1<<30 {
		t.Fatalf("got %+v", c)
	}
	if strings.Join(c.HTTP.PublicPaths, ",") != "/healthz,/metrics" {
		t.Fatalf("public paths %v", c.HTTP.PublicPaths)
	}
	if always, _, err := c.Journal.FsyncPolicy(); err != nil || !always {
		t.Fatalf("fsync policy: %v %v", always, err)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	f := func(name, file string, env []string, want string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			path := ""
			if file != "" {
				path = write(t, file)
			}
			c, err := Load(path, env)
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want it to mention %q", err, want)
			}
		})
	}
	f("unknown key", "store:\n  retension: 30d\n", nil, "field retension not found")
	f("unknown env", "", []string{"WACHT_STORE_RETENSION=1d"}, "WACHT_STORE_RETENSION: no such setting")
	f("bad duration", "store:\n  retention: soon\n", nil, `line 2: "soon" is not a duration`)
	f("bad size", "ingest:\n  max_event_bytes: lots\n", nil, `"lots" is not a size`)
	f("short retention", "store:\n  retention: 2h\n", nil, "store.retention: 2h0m0s is shorter than one day")
	f("tenant retention above global", "store:\n  retention: 30d\n  tenants:\n    acme: {retention: 60d}\n", nil, "store.tenants.acme.retention")
	f("bad address", "http:\n  listen: nowhere\n", nil, `http.listen: "nowhere" is not host:port`)
	f("bad fsync", "journal:\n  fsync: sometimes\n", nil, "journal.fsync")
	f("postgres without dsn", "state:\n  driver: postgres\n", nil, "state.dsn: required")
	f("bad driver", "state:\n  driver: mysql\n", nil, `state.driver: "mysql"`)
	f("cert without key", "http:\n  tls: {cert: a.pem}\n", nil, "http.tls: cert and key")
}

func TestUnits(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "1.5h": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]Bytes{"512MiB": 512 << 20, "4GB": 4e9, "1048576": 1 << 20, "2K": 2048} {
		var b Bytes
		if err := b.UnmarshalText([]byte(in)); err != nil || b != want {
			t.Errorf("Bytes(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	if Bytes(512<<20).String() != "512MiB" || Duration(90*24*time.Hour).String() != "90d" {
		t.Error("String forms")
	}
}
