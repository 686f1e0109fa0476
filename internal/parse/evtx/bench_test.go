package evtx

import (
	"bytes"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
)

func loadBenchFiles(b *testing.B) ([]archiveFile, int64) {
	b.Helper()
	var all []archiveFile
	var size int64
	for _, a := range []string{"evtx-attack-samples.tgz", "deepbluecli-evtx.tgz"} {
		files, _ := readArchive(b, a)
		for _, f := range files {
			size += int64(len(f.data))
		}
		all = append(all, files...)
	}
	return all, size
}

// BenchmarkRecords decodes every record of both archives (binary XML with
// templates resolved), without rendering.
func BenchmarkRecords(b *testing.B) {
	files, size := loadBenchFiles(b)
	b.SetBytes(size)
	b.ResetTimer()
	start := time.Now()
	records := 0
	for b.Loop() {
		for _, af := range files {
			f, err := Open(bytes.NewReader(af.data), int64(len(af.data)))
			if err != nil {
				b.Fatal(err)
			}
			_ = f.Records(func(r Record) error { records++; return nil })
		}
	}
	b.ReportMetric(float64(records)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkParseAll is the registered parser: records to events with
// fields, log source, message and the rendered XML as raw text.
func BenchmarkParseAll(b *testing.B) {
	files, size := loadBenchFiles(b)
	b.SetBytes(size)
	var p Parser
	b.ResetTimer()
	start := time.Now()
	records := 0
	for b.Loop() {
		for _, af := range files {
			_ = p.ParseAll(af.data, event.Event{}, func(*event.Event) error { records++; return nil })
		}
	}
	b.ReportMetric(float64(records)/time.Since(start).Seconds(), "records/s")
}
