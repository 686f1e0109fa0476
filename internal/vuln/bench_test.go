package vuln_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/internal/vuln"
	"github.com/wacht-soc/wacht/internal/vuln/grype"
	"github.com/wacht-soc/wacht/internal/vuln/report"
	"github.com/wacht-soc/wacht/internal/vuln/report/reporttest"
)

// scaled repeats a real Grype report (1,509 matches on python:3.6) over
// enough image assets to reach n detections.
func scaled(b *testing.B, n int) *report.Report { return scaledT(b, n) }

func scaledT(b testing.TB, n int) *report.Report {
	base, err := grype.Parse(reporttest.Sample(b, "grype-defectdojo/many_vulns.json"))
	if err != nil {
		b.Fatal(err)
	}
	r := &report.Report{Format: base.Format, Scanner: base.Scanner}
	for i := 0; len(r.Detections) < n; i++ {
		name := "registry.example/app-" + strconv.Itoa(i) + ":1"
		ai := r.AddAsset(report.Asset{Kind: report.KindImage, Name: name, Identifiers: []report.Identifier{{Type: report.IDImageRef, Value: name}}})
		for _, d := range base.Detections {
			if len(r.Detections) == n {
				break
			}
			d.Asset = ai
			r.Detections = append(r.Detections, d)
		}
	}
	return r
}

func benchN() int {
	if n, err := strconv.Atoi(os.Getenv("WACHT_BENCH_FINDINGS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// BenchmarkImportAndList imports WACHT_BENCH_FINDINGS (default 100,000)
// findings once per backend, then measures listing pages with filters and
// reports the p99 latency.
//
//	go test ./internal/vuln -run '^$' -bench ImportAndList -benchtime 1x
func BenchmarkImportAndList(b *testing.B) {
	n := benchN()
	rep := scaled(b, n)
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			db := storetest.Open(b, be.Config(b))
			inv := assets.New(db, nil, nil, nil)
			svc := vuln.New(db, inv, nil, vuln.Options{})
			ctx := context.Background()
			start := time.Now()
			res, err := svc.Import(ctx, "default", rep, vuln.ImportOptions{})
			if err != nil {
				b.Fatal(err)
			}
			imp := time.Since(start)
			if res.Findings != n {
				b.Fatalf("findings = %d, want %d", res.Findings, n)
			}
			b.ReportMetric(imp.Seconds(), "import_s")
			b.ReportMetric(float64(n)/imp.Seconds(), "findings/s")
			filters := []vuln.Filter{
				{},
				{States: []vuln.State{vuln.StateOpen}},
				{States: []vuln.State{vuln.StateOpen}, MinSeverity: report.SeverityHigh},
				{MinSeverity: report.SeverityCritical},
				{VulnID: "CVE-2021-3177"},
				{AssetID: res.ScanID}, // no match: an index probe
				{Priority: vuln.DecisionTrack, Limit: 100},
			}
			var lat []time.Duration
			b.ResetTimer()
			for range b.N {
				for round := 0; round < 20; round++ {
					for _, f := range filters {
						t0 := time.Now()
						page, err := svc.List(ctx, "default", f)
						if err != nil {
							b.Fatal(err)
						}
						// and the next page
						if page.Next != "" {
							f.After = page.Next
							if _, err := svc.List(ctx, "default", f); err != nil {
								b.Fatal(err)
							}
						}
						lat = append(lat, time.Since(t0))
						if d := time.Since(t0); d > 100*time.Millisecond {
							fmt.Fprintf(os.Stderr, "slow filter %+v: %v\n", f, d)
						}
					}
				}
			}
			slices.Sort(lat)
			p99 := lat[len(lat)*99/100]
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99_list_ms")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_list_ms")
			fmt.Fprintf(os.Stderr, "%s: import %d findings in %v; list (2 pages) p50 %v p99 %v over %d calls\n", be.Name, n, imp.Round(time.Millisecond), lat[len(lat)/2], p99, len(lat))
		})
	}
}
