package vuln

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/vuln"
	"github.com/wacht-soc/wacht/internal/vuln/report/reporttest"
)

// `wacht vuln feeds update` downloads KEV and a gzipped EPSS file from a
// local HTTP server; an import afterwards is prioritized with them.
func TestFeedsUpdateAndImport(t *testing.T) {
	shared := reporttest.Shared(t)
	kev, err := os.ReadFile(filepath.Join(shared, "vuln", "kev", "known_exploited_vulnerabilities.json"))
	if err != nil {
		t.Fatal(err)
	}
	epss, err := os.ReadFile(filepath.Join(shared, "vuln", "epss", "epss-from-grype-sample-2025-06-18.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(epss)
	_ = zw.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/kev.json", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(kev) })
	mux.HandleFunc("/epss.csv.gz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(gz.Bytes()) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	data := t.TempDir()
	t.Setenv("WACHT_CONFIG", "")
	run := func(args ...string) {
		t.Helper()
		g := cli.NewGlobals()
		root := g.Root()
		root.AddCommand(NewCommand(g))
		root.SetArgs(args)
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("wacht %v: %v", args, err)
		}
	}
	run("vuln", "feeds", "update", "--kev-url", srv.URL+"/kev.json", "--epss-url", srv.URL+"/epss.csv.gz", "--data", data)
	sample := filepath.Join(shared, "vuln", "samples", "grype-defectdojo", "many_vulns_with_epss_values.json")
	run("vuln", "import", sample, "--data", data)

	g := cli.NewGlobals()
	g.Data = data
	err = WithServices(context.Background(), g, func(svc *vuln.Service, _ *assets.Service) error {
		p, err := svc.List(context.Background(), "default", vuln.Filter{Limit: 1000})
		if err != nil {
			return err
		}
		withEPSS := 0
		for _, f := range p.Findings {
			if f.EPSS > 0 {
				withEPSS++
			}
		}
		if len(p.Findings) == 0 || withEPSS == 0 {
			t.Fatalf("%d findings, %d with EPSS", len(p.Findings), withEPSS)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Fetch(context.Background(), srv.URL+"/missing"); err == nil {
		t.Fatal("want an error for a 404 feed")
	}
}
