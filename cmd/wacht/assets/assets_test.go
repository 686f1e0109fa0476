package assets

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/assets"
)

func run(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	g := cli.NewGlobals()
	root := g.Root()
	root.AddCommand(NewCommand(g))
	root.SetArgs(args)
	root.SetErr(io.Discard)
	err = root.ExecuteContext(context.Background())
	os.Stdout = stdout
	w.Close()
	return <-done, err
}

// `wacht assets` import (CSV), list, set, merge and export, with --json.
func TestAssetsCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("WACHT_CONFIG", "")
	data := filepath.Join(dir, "data")
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("name,kind,identifiers,owner,criticality,exposure,tags\n"+
		"web1,host,hostname=web1 ip=10.0.0.1,alice,3,internet,\"dmz,pci\"\n"+
		"10.0.0.9,host,ip=10.0.0.9,,,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "assets", "import", in, "--data", data, "--json")
	var res assets.ImportResult
	if err != nil || json.Unmarshal(out, &res) != nil || res.Created != 2 {
		t.Fatalf("import: %s %v", out, err)
	}
	out, err = run(t, "assets", "list", "--data", data, "--json")
	var list []assets.Asset
	if err != nil || json.Unmarshal(out, &list) != nil || len(list) != 2 {
		t.Fatalf("list: %s %v", out, err)
	}
	byName := map[string]assets.Asset{}
	for _, a := range list {
		byName[a.Name] = a
	}
	web, other := byName["web1"], byName["10.0.0.9"]
	if web.Owner != "alice" || web.Criticality != 3 || web.Exposure != assets.ExposureInternet || strings.Join(web.Tags, ",") != "dmz,pci" {
		t.Fatalf("imported %+v", web)
	}
	out, err = run(t, "assets", "set", other.ID, "--criticality", "4", "--team", "payments", "--mission-prevalence", "essential",
		"--environment", "prod", "--data", data, "--json")
	var set assets.Asset
	if err != nil || json.Unmarshal(out, &set) != nil || set.Criticality != 4 || set.Team != "payments" || set.MissionPrevalence != "essential" ||
		set.Environment != "prod" || set.Owner != "" {
		t.Fatalf("set: %s %v", out, err)
	}
	if _, err := run(t, "assets", "set", other.ID, "--criticality", "7", "--data", data); err == nil || !strings.Contains(err.Error(), "criticality 7") {
		t.Fatalf("criticality 7: %v", err)
	}
	out, err = run(t, "assets", "merge", other.ID, web.ID, "--data", data, "--json")
	var merged assets.Asset
	if err != nil || json.Unmarshal(out, &merged) != nil || merged.ID != web.ID || len(merged.Identifiers) != 3 || merged.Team != "payments" ||
		merged.Criticality != 3 {
		t.Fatalf("merge: %s %v", out, err)
	}
	out, err = run(t, "assets", "export", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil || len(recs) != 2 || recs[0][0] != "id" || recs[1][0] != web.ID {
		t.Fatalf("export: %q %v", out, err)
	}
}
