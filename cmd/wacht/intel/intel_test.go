package intel

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/pull"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

type oneToken struct{}

func (oneToken) Authenticate(_ context.Context, tok string) (api.Identity, error) {
	if tok == "secret" {
		return api.Identity{Subject: "ana", Tenant: "default", Role: api.RoleAdmin, Method: api.AuthToken}, nil
	}
	return api.Identity{}, api.ErrDenied
}

// run executes a command line and returns its stdout, stderr and error.
func run(t *testing.T, g *cli.Globals, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "wacht", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().BoolVar(&g.JSON, "json", false, "")
	root.AddCommand(NewCommand(g))
	root.SetArgs(args)
	oldOut, oldErr := os.Stdout, os.Stderr
	ro, wo, _ := os.Pipe()
	re, we, _ := os.Pipe()
	os.Stdout, os.Stderr = wo, we
	outc, errc := make(chan []byte), make(chan []byte)
	go func() { b, _ := io.ReadAll(ro); outc <- b }()
	go func() { b, _ := io.ReadAll(re); errc <- b }()
	err := root.Execute()
	wo.Close()
	we.Close()
	os.Stdout, os.Stderr = oldOut, oldErr
	g.JSON = false
	return string(<-outc), string(<-errc), err
}

func must(t *testing.T, g *cli.Globals, args ...string) string {
	t.Helper()
	out, stderr, err := run(t, g, args...)
	if err != nil {
		t.Fatalf("wacht %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return out
}

// TestCommandsAgainstServer runs `wacht intel` against a real API server
// with the intel routes: import of a file, a folder (with its progress
// line) and a URL, lookup with its exit status, and both exports.
func TestCommandsAgainstServer(t *testing.T) {
	db := storetest.Open(t, store.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "state.db")})
	svc := intel.New(intel.Deps{DB: db, Log: slog.New(slog.DiscardHandler)}, intel.Config{RetroDays: -1})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	srv := api.New(api.Deps{Auth: oneToken{}, Log: slog.New(slog.DiscardHandler)})
	srv.Mount(api.IntelRoutes(svc)...)
	srv.Mount(api.FeedRoutes(svc, pull.New(svc, nil, time.Now, slog.New(slog.DiscardHandler)))...)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	g := &cli.Globals{Server: ts.URL, Token: "secret"}

	dir := t.TempDir()
	list := filepath.Join(dir, "c2.txt")
	os.WriteFile(list, []byte("# maltrail-style trail\nevil-c2.example\n203.0.113.9\n203.0.113.0/28\n"), 0o600)
	must(t, g, "intel", "import", list, "--confidence", "80", "--tlp", "green")

	feeds := filepath.Join(dir, "feeds", "malware")
	os.MkdirAll(feeds, 0o700)
	for i, body := range []string{"bad-one.example\n", "bad-two.example\n198.51.100.7:8443\n"} {
		os.WriteFile(filepath.Join(feeds, []string{"emotet.txt", "qakbot.txt"}[i]), []byte(body), 0o600)
	}
	_, stderr, err := run(t, g, "intel", "import", filepath.Join(dir, "feeds"))
	if err != nil || !strings.Contains(stderr, "import 2 files") {
		t.Fatalf("import DIR: %v, progress %q", err, stderr)
	}

	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "d41d8cd98f00b204e9800998ecf8427e\n")
	}))
	defer web.Close()
	must(t, g, "intel", "import", web.URL+"/hashes.txt")

	// Deferred rebuilds of the folder import settle within seconds.
	deadline := time.Now().Add(20 * time.Second)
	for svc.Index("default").Len() < 7 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}

	// Found: exit 0, with the matching parent domain and network.
	out := must(t, g, "intel", "lookup", "www.evil-c2.example")
	if !strings.Contains(out, "evil-c2.example") || !strings.Contains(out, "TLP:GREEN") || !strings.Contains(out, "alerting: true") {
		t.Errorf("lookup sub-domain:\n%s", out)
	}
	var res struct {
		Found  bool               `json:"found"`
		Result intel.LookupResult `json:"result"`
	}
	if err := json.Unmarshal([]byte(must(t, g, "intel", "lookup", "203.0.113.5", "--json")), &res); err != nil || !res.Found ||
		len(res.Result.Indicators) != 1 || res.Result.Indicators[0].Value != "203.0.113.0/28" {
		t.Errorf("lookup in network: %+v %v", res, err)
	}
	if out := must(t, g, "intel", "lookup", "bad-two.example"); !strings.Contains(out, "list:qakbot") {
		t.Errorf("folder import lacks the file label:\n%s", out)
	}
	must(t, g, "intel", "lookup", "D41D8CD98F00B204E9800998ECF8427E")
	// Not found: exit 1 (ErrNotFound, which main turns into status 1).
	if _, _, err := run(t, g, "intel", "lookup", "good.example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("lookup of an unknown value: %v, want ErrNotFound", err)
	}
	if _, _, err := run(t, g, "intel", "lookup", "not a value"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("lookup of garbage: %v, want a request error", err)
	}

	var bundle struct {
		Type    string           `json:"type"`
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal([]byte(must(t, g, "intel", "export", "--format", "stix")), &bundle); err != nil || bundle.Type != "bundle" {
		t.Fatalf("export stix: %v", err)
	}
	patterns := 0
	for _, o := range bundle.Objects {
		if o["type"] == "indicator" && strings.Contains(o["pattern"].(string), "evil-c2.example") {
			patterns++
		}
	}
	if patterns != 1 {
		t.Errorf("stix export has %d indicators for evil-c2.example", patterns)
	}
	var misp struct {
		Event struct {
			Attribute []struct {
				Type  string `json:"type"`
				Value string `json:"value"`
			} `json:"Attribute"`
		} `json:"Event"`
	}
	if err := json.Unmarshal([]byte(must(t, g, "intel", "export", "--format", "misp")), &misp); err != nil {
		t.Fatalf("export misp: %v", err)
	}
	found := false
	for _, a := range misp.Event.Attribute {
		found = found || (a.Type == "ip-dst|port" && a.Value == "198.51.100.7|8443")
	}
	if !found || len(misp.Event.Attribute) < 7 {
		t.Errorf("misp export: %+v", misp.Event.Attribute)
	}
}
