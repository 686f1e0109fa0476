package intel

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// syntheticEntries returns n indicators in the mix of the shared feeds
// (half domains, a quarter addresses, address:port, URLs, hashes) plus
// 1,000 networks.
func syntheticEntries(n int) []IndexEntry {
	r := rand.New(rand.NewPCG(1, 2))
	until := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]IndexEntry, 0, n+1000)
	for i := range n {
		var e IndexEntry
		switch i % 20 {
		case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9:
			e = IndexEntry{Type: TypeDomain, Value: fmt.Sprintf("x%d.bad%d.example", i, r.IntN(50000))}
		case 10, 11, 12, 13, 14:
			e = IndexEntry{Type: TypeIP, Value: netip.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}).String()}
		case 15, 16:
			e = IndexEntry{Type: TypeIPPort, Value: fmt.Sprintf("%d.%d.%d.%d:%d", r.IntN(223)+1, r.IntN(256), r.IntN(256), r.IntN(256), 1+r.IntN(65000))}
		case 17:
			e = IndexEntry{Type: TypeURL, Value: fmt.Sprintf("bad%d.example/gate%d.php", r.IntN(50000), i)}
		default:
			e = IndexEntry{Type: TypeSHA256, Value: fmt.Sprintf("%016x%016x%016x%016x", r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64())}
		}
		e.Confidence, e.AlertUntil = 70, until
		out = append(out, e)
	}
	for range 1000 {
		out = append(out, IndexEntry{Type: TypeCIDR, Value: netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.IntN(256)), 0, 0}), 16+r.IntN(9)).Masked().String(), Confidence: 70, AlertUntil: until})
	}
	return out
}

func buildIndex(entries []IndexEntry) *Index {
	b := NewIndexBuilder(len(entries))
	for _, e := range entries {
		b.Add(e)
	}
	return b.Build()
}

// benchEvents are firewall, DNS, proxy and process events with the usual
// entity fields, none of them on a list.
func benchEvents() []*event.Event {
	mk := func(fields ...string) *event.Event {
		e := &event.Event{Tenant: "default", Time: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
		for i := 0; i+1 < len(fields); i += 2 {
			e.Add(fields[i], event.String(fields[i+1]))
		}
		return e
	}
	return []*event.Event{
		mk("event.action", "accept", "source.ip", "10.1.2.3", "source.port", "51234", "destination.ip", "93.184.216.34", "destination.port", "443",
			"network.transport", "tcp", "host.name", "fw1", "observer.name", "fw1", "rule.name", "allow-out", "event.outcome", "success"),
		mk("dns.question.name", "www.example.com", "source.ip", "10.1.2.4", "dns.question.type", "A", "host.name", "dns1", "dns.response_code", "NOERROR",
			"destination.ip", "10.0.0.53", "destination.port", "53", "event.action", "query"),
		mk("url.full", "https://cdn.example.net/assets/app.js?v=3", "url.domain", "cdn.example.net", "source.ip", "10.1.2.5", "user.name", "alice",
			"http.request.method", "GET", "http.response.status_code", "200", "user_agent.original", "Mozilla/5.0", "destination.ip", "151.101.1.1"),
		mk("process.executable", `C:\Windows\System32\cmd.exe`, "process.command_line", "cmd.exe /c whoami", "process.pid", "4242", "user.name", "bob",
			"host.name", "ws7", "file.hash.sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "process.parent.executable", `C:\Windows\explorer.exe`),
	}
}

// BenchmarkMatch reports events/s through Index.Match with 0, 10,000 and
// 1,000,000 indicators loaded.
func BenchmarkMatch(b *testing.B) {
	evs := benchEvents()
	for _, n := range []int{0, 10_000, 1_000_000} {
		ix := buildIndex(syntheticEntries(n))
		b.Run(fmt.Sprintf("indicators=%d", n), func(b *testing.B) {
			hits := make([]Hit, 0, 8)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				hits = ix.Match(hits[:0], evs[i%len(evs)])
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkIndexMemory reports heap bytes per indicator of a 1,000,000
// indicator index.
func BenchmarkIndexMemory(b *testing.B) {
	entries := syntheticEntries(1_000_000)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ix := buildIndex(entries)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(ix.Len()), "bytes/indicator")
		runtime.KeepAlive(ix)
	}
}
