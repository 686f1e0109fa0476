package kv_test

import (
	"path/filepath"
	"testing"

	_ "github.com/wacht-soc/wacht/internal/parse/kv"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "kv", "log") }

func FuzzParse(f *testing.F) {
	parsetest.Fuzz(f, "kv", filepath.Join("testdata", "basic.log"))
}

func BenchmarkParse(b *testing.B) {
	parsetest.Bench(b, "kv", parsetest.Repeat(1000, `time=2025-02-28T10:00:00Z src=10.0.0.%d dst=10.0.0.2 user="alice smith" action=deny msg="blocked by policy %d"`))
}
