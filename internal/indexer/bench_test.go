package indexer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// BenchmarkIndex measures journal → store throughput without detection
// hooks: b.N events of 30 fields in batches of 2,000.
func BenchmarkIndex(b *testing.B) {
	dir := b.TempDir()
	t := &testing.T{}
	p := openParts(t, dir)
	defer func() { p.st.Close(); p.j.Close() }()
	now := time.Now().UTC()
	var batch []*event.Event
	var msgs uint64
	appendBatch := func() {
		if _, err := p.j.Append(context.Background(), event.AppendBatch(nil, batch)); err != nil {
			b.Fatal(err)
		}
		msgs++
		batch = batch[:0]
	}
	for i := 0; i < b.N; i++ {
		e := &event.Event{Tenant: "default", Time: now.Add(-time.Duration(i) * time.Millisecond), Format: "winlog/1",
			Source: event.Source{Listener: "http"}, LogSource: event.LogSource{Product: "windows", Service: "sysmon"},
			Message: fmt.Sprintf("Process Create: C:\\Windows\\System32\\cmd.exe /c whoami %d", i)}
		for f := 0; f < 30; f++ {
			e.Add(fmt.Sprintf("Field%02d", f), event.String(fmt.Sprintf("value-%d-%d", f, i%100)))
		}
		e.ComputeID()
		batch = append(batch, e)
		if len(batch) == 2000 {
			appendBatch()
		}
	}
	if len(batch) > 0 {
		appendBatch()
	}
	b.ResetTimer()
	run(p, func() bool { return p.x.Written() == msgs })
	b.StopTimer()
	if p.x.Written() != msgs {
		b.Fatalf("indexed %d of %d batches", p.x.Written(), msgs)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
