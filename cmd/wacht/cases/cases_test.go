package cases

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/cases"
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

// run executes a command line and returns what it printed on stdout.
func run(t *testing.T, g *cli.Globals, args ...string) string {
	t.Helper()
	root := &cobra.Command{Use: "wacht", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().BoolVar(&g.JSON, "json", false, "")
	root.AddCommand(NewCommand(g), NewAlertsCommand(g))
	root.SetArgs(args)
	old := os.Stdout
	r, w, _ := os.Pipe()
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	err := root.Execute()
	w.Close()
	os.Stdout = old
	out := string(<-done)
	g.JSON = false
	if err != nil {
		t.Fatalf("wacht %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestCommandsAgainstServer(t *testing.T) {
	db := storetest.Open(t, store.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "state.db")})
	svc := cases.New(db, cases.Options{})
	srv := api.New(api.Deps{Auth: oneToken{}, Log: slog.New(slog.DiscardHandler)})
	srv.Mount(api.CasesRoutes(svc)...)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	g := &cli.Globals{Server: ts.URL, Token: "secret"}
	file := filepath.Join(t.TempDir(), "alerts.json")
	os.WriteFile(file, []byte(`[{"source":"edr","rule_id":"r1","rule_title":"Mimikatz","severity":"critical",
	  "entities":[{"kind":"host","value":"pc1"}],"events":[{"_msg":"lsass","Image":"C:\\tools\\m.exe"}]}]`), 0o600)
	if out := run(t, g, "alerts", "raise", file); !strings.Contains(out, "new → incident inc_") {
		t.Fatalf("raise: %s", out)
	}
	var incs []cases.Incident
	if err := json.Unmarshal([]byte(run(t, g, "cases", "list", "--json")), &incs); err != nil || len(incs) != 1 {
		t.Fatalf("list --json: %v %v", incs, err)
	}
	id := incs[0].ID
	if out := run(t, g, "cases", "list"); !strings.Contains(out, id) || !strings.Contains(out, "Mimikatz on host:pc1") {
		t.Fatalf("list: %s", out)
	}
	run(t, g, "cases", "assign", id, "bob")
	run(t, g, "cases", "update", id, "--status", "containment", "--waiting", "--waiting-reason", "ISP")
	if out := run(t, g, "cases", "flag", id, "--nis2", "--dora", "--malicious"); !strings.Contains(out, "nis2 early_warning") || !strings.Contains(out, "dora initial_notification") {
		t.Fatalf("flag: %s", out)
	}
	out := run(t, g, "cases", "show", id)
	for _, want := range []string{"assignee bob", "status containment", "SLA (P2): paused", "rule_level = critical", "Art. 23(4)(a)", "host:pc1"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if out := run(t, g, "cases", "report", id, "nis2", "early_warning"); !strings.Contains(out, "Suspected unlawful or malicious act: yes") {
		t.Fatalf("report: %s", out)
	}
	if out := run(t, g, "cases", "submit", id, "nis2", "early_warning", "--reference", "CERT-1"); !strings.Contains(out, "submitted") {
		t.Fatalf("submit: %s", out)
	}
	var as []cases.Alert
	json.Unmarshal([]byte(run(t, g, "alerts", "list", "--json")), &as)
	if len(as) != 1 {
		t.Fatalf("alerts %v", as)
	}
	if out := run(t, g, "alerts", "except", as[0].ID, "--field", `Image=C:\tools\m.exe`, "--reason", "red team", "--dry-run"); !strings.Contains(out, "would have suppressed 1 of 1") {
		t.Fatalf("except --dry-run: %s", out)
	}
	if out := run(t, g, "cases", "close", id, "--resolution", "true_positive"); !strings.Contains(out, "status closed") {
		t.Fatalf("close: %s", out)
	}
	if out := run(t, g, "cases", "timeline", id); !strings.Contains(out, "status: containment → closed") || !bytes.Contains([]byte(out), []byte("critical alert: Mimikatz")) {
		t.Fatalf("timeline: %s", out)
	}
}
