package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/internal/vuln"
	"github.com/wacht-soc/wacht/internal/vuln/grype"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// vulnBase is a real Grype report (1,509 matches on python:3.6) that the
// benchmarks repeat over many image assets.
func vulnBase(b *testing.B) *report.Report {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(sharedDir(), "vuln", "samples", "grype-defectdojo", "many_vulns.json"))
	if err != nil {
		b.Skipf("shared vuln sample: %v", err)
	}
	r, err := grype.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// vulnScaled repeats base over assets first, first+1, … until the report
// holds n detections.
func vulnScaled(base *report.Report, first, n int) *report.Report {
	r := &report.Report{Format: base.Format, Scanner: base.Scanner}
	for i := first; len(r.Detections) < n; i++ {
		ai := r.AddAsset(vulnAsset(i))
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

func vulnAsset(i int) report.Asset {
	name := "registry.example/app-" + strconv.Itoa(i) + ":1"
	return report.Asset{Kind: report.KindImage, Name: name, Identifiers: []report.Identifier{{Type: report.IDImageRef, Value: name}}}
}

// vulnFeeds loads the shared KEV catalog and EPSS scores so that
// prioritization sees real exploitation data.
func vulnFeeds(b *testing.B, svc *vuln.Service) {
	ctx := context.Background()
	for _, f := range []struct {
		path string
		imp  func(*vuln.Service, context.Context, *os.File) (int, error)
	}{
		{"kev/known_exploited_vulnerabilities.json", func(s *vuln.Service, ctx context.Context, f *os.File) (int, error) { return s.ImportKEV(ctx, f) }},
		{"epss/epss-from-grype-sample-2025-06-18.csv", func(s *vuln.Service, ctx context.Context, f *os.File) (int, error) { return s.ImportEPSS(ctx, f) }},
	} {
		fh, err := os.Open(filepath.Join(sharedDir(), "vuln", f.path))
		if err != nil {
			b.Skipf("shared feed: %v", err)
		}
		_, err = f.imp(svc, ctx, fh)
		fh.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVulnImport imports WACHT_BENCH_VULN_IMPORT (default 100,000)
// findings — a real Grype report scaled over image assets — into an empty
// store, then imports the same report again (every finding exists: the
// de-duplication and update path).
//
//	go test -run '^$' -bench VulnImport -benchtime 1x .
func BenchmarkVulnImport(b *testing.B) {
	n := envInt("WACHT_BENCH_VULN_IMPORT", 100_000)
	base := vulnBase(b)
	rep := vulnScaled(base, 0, n)
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, be.Config(b))
			svc := vuln.New(db, assets.New(db, nil, nil, nil), nil, vuln.Options{})
			vulnFeeds(b, svc)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				res, err := svc.Import(ctx, "default", rep, vuln.ImportOptions{})
				if err != nil {
					b.Fatal(err)
				}
				first := time.Since(t0)
				t0 = time.Now()
				again, err := svc.Import(ctx, "default", rep, vuln.ImportOptions{})
				if err != nil {
					b.Fatal(err)
				}
				second := time.Since(t0)
				if again.Created != 0 || again.Updated != res.Findings || again.Closed != 0 {
					b.Fatalf("re-import %+v after %+v", again, res)
				}
				b.ReportMetric(first.Seconds(), "import_s")
				b.ReportMetric(float64(res.Findings)/first.Seconds(), "findings/s")
				b.ReportMetric(second.Seconds(), "reimport_s")
				fmt.Fprintf(os.Stderr, "%s: import %d detections → %d findings in %v (%.0f/s); re-import %v\n",
					be.Name, res.Detections, res.Findings, first.Round(time.Millisecond), float64(res.Findings)/first.Seconds(), second.Round(time.Millisecond))
			}
		})
	}
}

// BenchmarkVulnList loads WACHT_BENCH_VULN_FINDINGS (default 1,000,000)
// findings in reports of 100,000 over assets of varied criticality and
// exposure (so that every SSVC priority occurs), with KEV and EPSS loaded,
// some findings accepted, a rescan that closes half of one asset's
// findings and some breached. It then lists with each filter — severity,
// priority, asset, KEV, state, vulnerability, overdue and combinations —
// following the cursor five pages deep, and reports the p50 and p99 of one
// page (100 findings).
//
//	go test -run '^$' -bench VulnList -benchtime 1x -timeout 2h .
func BenchmarkVulnList(b *testing.B) {
	n := envInt("WACHT_BENCH_VULN_FINDINGS", 1_000_000)
	base := vulnBase(b)
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, be.Config(b))
			inv := assets.New(db, nil, nil, nil)
			svc := vuln.New(db, inv, nil, vuln.Options{})
			vulnFeeds(b, svc)
			load, assetIDs := vulnLoad(b, svc, inv, base, n)
			t0 := time.Now()
			prep := vulnStates(b, db, svc, inv, base, assetIDs)
			fmt.Fprintf(os.Stderr, "%s: loaded %d findings in %v (%.0f/s); states and rescan in %v\n",
				be.Name, n, load.Round(time.Second), float64(n)/load.Seconds(), time.Since(t0).Round(time.Millisecond))
			b.ReportMetric(load.Seconds(), "load_s")
			active := []vuln.State{vuln.StateOpen, vuln.StateInTriage, vuln.StateReopened}
			type named struct {
				name string
				f    vuln.Filter
			}
			filters := []named{
				{"all", vuln.Filter{}},
				{"active", vuln.Filter{States: active}},
				{"accepted", vuln.Filter{States: []vuln.State{vuln.StateAccepted}}},
				{"fixed", vuln.Filter{States: []vuln.State{vuln.StateFixed}}},
				{"severity>=high", vuln.Filter{MinSeverity: report.SeverityHigh}},
				{"active,critical", vuln.Filter{States: active, MinSeverity: report.SeverityCritical}},
				{"priority=act", vuln.Filter{Priority: vuln.DecisionAct}},
				{"priority=attend", vuln.Filter{Priority: vuln.DecisionAttend, States: active}},
				{"priority=track*", vuln.Filter{Priority: vuln.DecisionTrackStar}},
				{"priority=track,high", vuln.Filter{Priority: vuln.DecisionTrack, MinSeverity: report.SeverityHigh}},
				{"asset", vuln.Filter{AssetID: assetIDs[len(assetIDs)/2]}},
				{"asset,active,high", vuln.Filter{AssetID: assetIDs[1], States: active, MinSeverity: report.SeverityHigh}},
				{"kev", vuln.Filter{KEV: true}},
				{"kev,active", vuln.Filter{KEV: true, States: active}},
				{"vuln", vuln.Filter{VulnID: "CVE-2021-3177"}},
				{"overdue", vuln.Filter{Overdue: true}},
				{"source,active", vuln.Filter{Source: "grype", States: active}},
				{"no match", vuln.Filter{AssetID: "as_none"}},
			}
			var lat []time.Duration
			worst := map[string]time.Duration{}
			pages := map[string]int{}
			cpu0 := vulnCPU()
			b.ResetTimer()
			for range b.N {
				for range 5 {
					for _, nf := range filters {
						f := nf.f
						for page := 0; page < 5; page++ {
							t0 := time.Now()
							p, err := svc.List(ctx, "default", f)
							d := time.Since(t0)
							if err != nil {
								b.Fatal(err)
							}
							lat = append(lat, d)
							worst[nf.name] = max(worst[nf.name], d)
							pages[nf.name] = max(pages[nf.name], page+1)
							if p.Next == "" {
								break
							}
							f.After = p.Next
						}
					}
				}
			}
			b.StopTimer()
			cpu := (vulnCPU() - cpu0) / time.Duration(len(lat))
			slices.Sort(lat)
			p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50_page_ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99_page_ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max_page_ms")
			b.ReportMetric(float64(cpu.Microseconds())/1000, "cpu_ms/page")
			fmt.Fprintf(os.Stderr, "%s: %d pages of 100: p50 %v p99 %v max %v; this process's CPU %v per page (%s)\n",
				be.Name, len(lat), p50, p99, lat[len(lat)-1], cpu, prep)
			for _, nf := range filters {
				fmt.Fprintf(os.Stderr, "  %-20s pages %d  slowest %v\n", nf.name, pages[nf.name], worst[nf.name].Round(10*time.Microsecond))
			}
			t0 = time.Now()
			st, err := svc.Stats(ctx, "default")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(time.Since(t0).Seconds()*1000, "stats_ms")
			fmt.Fprintf(os.Stderr, "%s: stats over %d open findings in %v\n", be.Name, st.Open, time.Since(t0).Round(time.Millisecond))
		})
	}
}

// vulnLoad rates the assets, then imports n findings in reports of
// 100,000. It returns the time the imports took and the asset ids.
func vulnLoad(b *testing.B, svc *vuln.Service, inv *assets.Service, base *report.Report, n int) (time.Duration, []string) {
	ctx := context.Background()
	perAsset := len(base.Detections)
	var ids []string
	for i := 0; i*perAsset < n; i++ {
		ra := vulnAsset(i)
		a, _, err := inv.Observe(ctx, "default", assets.Observation{Kind: assets.KindImage, Name: ra.Name,
			Identifiers: []assets.Identifier{{Type: ra.Identifiers[0].Type, Value: ra.Identifiers[0].Value}}, Source: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		crit := assets.Criticality(1 + i%4)
		exp := []assets.Exposure{assets.ExposureInternet, assets.ExposureInternal, assets.ExposurePartner}[i%3]
		if _, err := inv.Update(ctx, "default", a.ID, a.Version, assets.Patch{Criticality: &crit, Exposure: &exp}); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	// Reports of whole assets, about 100,000 findings each (the last may
	// end inside an asset).
	per := perAsset * max(1, 100_000/perAsset)
	var took time.Duration
	for done := 0; done < n; {
		m := min(per, n-done)
		rep := vulnScaled(base, done/perAsset, m)
		t0 := time.Now()
		res, err := svc.Import(ctx, "default", rep, vuln.ImportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		took += time.Since(t0)
		if res.Findings != m || res.Created != m {
			b.Fatalf("report of %d detections gave %+v", m, res)
		}
		done += m
		fmt.Fprintf(os.Stderr, "  %d findings stored (%v)\n", done, took.Round(time.Second))
	}
	return took, ids
}

// vulnStates accepts and triages some findings, rescans one asset with
// half of its findings (closing the rest as fixed) and marks the findings
// of a few assets breached, so that state filters have rare and common
// values.
func vulnStates(b *testing.B, db *store.DB, svc *vuln.Service, inv *assets.Service, base *report.Report, ids []string) string {
	ctx := context.Background()
	p, err := svc.List(ctx, "default", vuln.Filter{AssetID: ids[2], Limit: 1000})
	if err != nil {
		b.Fatal(err)
	}
	accepted, triaged := 0, 0
	for i, f := range p.Findings {
		t := vuln.Transition{State: vuln.StateInTriage, Version: f.Version}
		if i%2 == 0 {
			t = vuln.Transition{State: vuln.StateAccepted, Reason: "compensating control", Approver: "ciso", Until: time.Now().Add(90 * 24 * time.Hour), Version: f.Version}
			accepted++
		} else {
			triaged++
		}
		if _, err := svc.SetState(ctx, "default", f.ID, "bench", t); err != nil {
			b.Fatal(err)
		}
	}
	a, err := inv.Get(ctx, "default", ids[3])
	if err != nil {
		b.Fatal(err)
	}
	half := &report.Report{Format: base.Format, Scanner: base.Scanner}
	ai := half.AddAsset(report.Asset{Kind: report.KindImage, Name: a.Name, Identifiers: []report.Identifier{{Type: report.IDImageRef, Value: a.Name}}})
	for i, d := range base.Detections {
		if i%2 == 0 {
			d.Asset = ai
			half.Detections = append(half.Detections, d)
		}
	}
	res, err := svc.Import(ctx, "default", half, vuln.ImportOptions{})
	if err != nil {
		b.Fatal(err)
	}
	r, err := db.Exec(ctx, `UPDATE vuln_findings SET sla_breached = 1 WHERE tenant = ? AND asset_id IN (?, ?, ?) AND state = ?`,
		"default", ids[4], ids[5], ids[6], string(vuln.StateOpen))
	if err != nil {
		b.Fatal(err)
	}
	breached, _ := r.RowsAffected()
	return fmt.Sprintf("%d accepted, %d in triage, %d closed by a rescan, %d breached", accepted, triaged, res.Closed, breached)
}

// vulnCPU is the CPU time (user and system) this process used so far: on
// a loaded machine it shows the work a page costs apart from the wait for
// a core. PostgreSQL's share runs in its server and is not counted.
func vulnCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
