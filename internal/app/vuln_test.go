package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/vuln"
)

// With vuln.feeds.update_interval set, the server downloads KEV and EPSS
// from the configured URLs (a local HTTP server here) when it starts.
func TestVulnFeedsFromConfig(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("/kev.json", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path] = true
		mu.Unlock()
		_, _ = io.WriteString(w, `{"vulnerabilities":[{"cveID":"CVE-2024-0001"},{"cveID":"CVE-2024-0002"}]}`)
	})
	mux.HandleFunc("/epss.csv", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path] = true
		mu.Unlock()
		_, _ = io.WriteString(w, "cve,epss,percentile\nCVE-2024-0003,0.1,0.5\n")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Syslog.UDP, cfg.Syslog.TCP, cfg.Syslog.TLS = "", "", ""
	cfg.Vuln.Feeds = config.VulnFeeds{KEVURL: srv.URL + "/kev.json", EPSSURL: srv.URL + "/epss.csv", UpdateInterval: config.Duration(time.Hour)}
	a, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.Stop(ctx)
	}()
	ctx := context.Background()
	var kev, epss int
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_ = a.db.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_kev WHERE tenant = ?`, vuln.FeedTenant).Scan(&kev)
		_ = a.db.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_epss WHERE tenant = ?`, vuln.FeedTenant).Scan(&epss)
		if kev == 2 && epss == 1 {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if kev != 2 || epss != 1 || !seen["/kev.json"] || !seen["/epss.csv"] {
		t.Fatalf("kev %d epss %d, requests %v", kev, epss, seen)
	}
}

// A bad vuln: section stops the server from starting, naming the key.
func TestVulnConfigRejected(t *testing.T) {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Vuln.SLA.SeverityDays.High = -3
	if _, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("negative SLA days accepted")
	} else if want := "vuln.sla.severity_days.high"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v does not name %s", err, want)
	}
}
