package attack

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func sharedPath(tb testing.TB, elem ...string) string {
	tb.Helper()
	root := os.Getenv("WACHT_SHARED")
	if root == "" {
		root = filepath.Join("..", "..", "..", "shared")
	}
	p := filepath.Join(append([]string{root}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data %s not available", p)
	}
	return p
}

func TestEmbedded(t *testing.T) {
	c, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	counts := c.Counts()
	// ATT&CK Enterprise v18.1, active objects (SOURCE.md of the bundle).
	want := map[string]int{"tactic": 14, "technique": 691, "group": 172, "mitigation": 44, "datacomponent": 106, "campaign": 52, "software": 784}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("counts %v, want %v", counts, want)
	}
	if c.Version != "18.1" || !strings.Contains(c.Notice, "MITRE") {
		t.Errorf("version %q notice %q", c.Version, c.Notice)
	}
	ps, ok := c.Get("t1059.001")
	if !ok || ps.Name != "PowerShell" || ps.Parent != "T1059" || ps.Tactics[0] != "execution" {
		t.Errorf("T1059.001 = %+v", ps)
	}
	if tac := c.Tactics(); tac[0].ShortName != "reconnaissance" || tac[len(tac)-1].ShortName != "impact" {
		t.Errorf("matrix order %v … %v", tac[0], tac[len(tac)-1])
	}
	if g, ok := c.Get("G0007"); !ok || g.Name != "APT28" || len(g.Aliases) == 0 {
		t.Errorf("G0007 = %+v", g)
	}
	if len(c.Techniques("TA0002")) < 10 {
		t.Errorf("execution has %d techniques", len(c.Techniques("TA0002")))
	}
}

func TestFromBundleMatchesEmbedded(t *testing.T) {
	f, err := os.Open(sharedPath(t, "attack", "enterprise-attack.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := FromBundle(f)
	if err != nil {
		t.Fatal(err)
	}
	emb, _ := Embedded()
	if !reflect.DeepEqual(c.All(0), emb.All(0)) {
		t.Error("catalog from the bundle differs from the embedded one: run go generate (see package doc)")
	}
	// Round trip through the compact form and a data directory.
	dir := t.TempDir()
	if err := Save(dir, c); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.All(0), c.All(0)) || back.Version != c.Version {
		t.Error("compact round trip changed the catalog")
	}
	if def, err := Load(t.TempDir()); err != nil || def.Version != emb.Version {
		t.Errorf("empty data directory: %v", err)
	}
}

func TestParseTagAndAliases(t *testing.T) {
	c, _ := Embedded()
	f := func(tag string, kind Kind, id string) {
		t.Helper()
		ref, ok := c.ParseTag(tag)
		if kind == 0 {
			if ok {
				t.Errorf("ParseTag(%q) = %+v", tag, ref)
			}
			return
		}
		if !ok || ref.Kind != kind || ref.ID != id {
			t.Errorf("ParseTag(%q) = %+v %v, want %s %s", tag, ref, ok, kind, id)
		}
	}
	f("attack.t1059.001", KindTechnique, "T1059.001")
	f("attack.T1566", KindTechnique, "T1566")
	f("attack.execution", KindTactic, "TA0002")
	f("attack.privilege_escalation", KindTactic, "TA0004")
	f("attack.privilege-escalation", KindTactic, "TA0004")
	// SigmaHQ's current names for what v18 calls Defense Evasion.
	f("attack.stealth", KindTactic, "TA0005")
	f("attack.defense-impairment", KindTactic, "TA0005")
	f("attack.defense_evasion", KindTactic, "TA0005")
	f("attack.g0007", KindGroup, "G0007")
	f("attack.s0154", KindSoftware, "S0154")
	f("attack.t9999", 0, "")
	f("cve.2021-44228", 0, "")
}

func TestCoverage(t *testing.T) {
	c, _ := Embedded()
	cov := c.Coverage([]Rule{
		{ID: "r1", Title: "PowerShell download", Tags: []string{"attack.execution", "attack.t1059.001"}},
		{ID: "r2", Title: "Encoded command", Tags: []string{"attack.t1059.001", "attack.stealth", "attack.t1027"}},
		{ID: "r3", Title: "Tactic only", Tags: []string{"attack.discovery"}},
		{ID: "r4", Title: "Untagged"},
		{ID: "r5", Title: "Bad tag", Tags: []string{"attack.t0000"}},
	})
	if cov.Rules != 5 || cov.Tagged != 3 || cov.Covered != 2 || cov.Techniques < 200 {
		t.Errorf("coverage totals %+v", cov)
	}
	byTactic := map[string]TacticCoverage{}
	for _, tc := range cov.Tactics {
		byTactic[tc.ShortName] = tc
	}
	exec := byTactic["execution"]
	if exec.Covered != 1 || exec.Techniques[0].ID != "T1059" || len(exec.Techniques[0].Rules) != 2 || exec.Techniques[0].SubTechniques[0] != "T1059.001" {
		t.Errorf("execution %+v", exec)
	}
	if de := byTactic["defense-evasion"]; de.Covered != 1 || de.Techniques[0].ID != "T1027" {
		t.Errorf("defense evasion (stealth) %+v", de)
	}
	if byTactic["discovery"].TacticOnly != 1 || len(cov.UnknownTags) != 1 {
		t.Errorf("tactic-only %d unknown %v", byTactic["discovery"].TacticOnly, cov.UnknownTags)
	}
	var buf bytes.Buffer
	if err := cov.WriteTable(&buf, true); err != nil || !strings.Contains(buf.String(), "T1059(2)") || !strings.Contains(buf.String(), "Encoded command") {
		t.Errorf("table: %v\n%s", err, buf.String())
	}
}

// TestCoverageSigmaHQ maps the shared SigmaHQ rules: most carry ATT&CK tags
// and nearly all of those are known to the catalog (the few unknown are
// techniques newer than the v18.1 release, T1685 and up).
func TestCoverageSigmaHQ(t *testing.T) {
	dir := sharedPath(t, "sigma", "rules")
	var rules []Rule
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(p, ".yml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var doc struct {
			ID    string   `yaml:"id"`
			Title string   `yaml:"title"`
			Tags  []string `yaml:"tags"`
		}
		if yaml.Unmarshal(data, &doc) == nil {
			rules = append(rules, Rule{ID: doc.ID, Title: doc.Title, Tags: doc.Tags})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := Embedded()
	cov := c.Coverage(rules)
	if cov.Rules < 1000 || cov.Tagged < cov.Rules/2 || cov.Covered < 150 || len(cov.UnknownTags) > 60 {
		t.Errorf("SigmaHQ coverage: %d rules, %d tagged, %d/%d techniques, unknown %v", cov.Rules, cov.Tagged, cov.Covered, cov.Techniques, cov.UnknownTags)
	}
	t.Logf("%d rules, %d tagged, %d/%d techniques, %d unknown tags", cov.Rules, cov.Tagged, cov.Covered, cov.Techniques, len(cov.UnknownTags))
}

func TestDownload(t *testing.T) {
	data, err := os.ReadFile(sharedPath(t, "attack", "enterprise-attack.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/enterprise-attack.json" {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	c, err := Download(context.Background(), srv.Client(), srv.URL+"/enterprise-attack.json")
	if err != nil || c.Counts()["technique"] != 691 {
		t.Fatalf("download: %v", err)
	}
	if _, err := Download(context.Background(), srv.Client(), srv.URL+"/missing"); err == nil {
		t.Error("404 accepted")
	}
	if _, err := FromBundle(strings.NewReader(`{"type":"bundle","objects":[{"type":"indicator","id":"x"}]}`)); err == nil {
		t.Error("bundle without tactics accepted")
	}
}
