package leef_test

import (
	"path/filepath"
	"testing"

	_ "github.com/wacht-soc/wacht/internal/parse/leef"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.GoldenLines(t, "leef", "log") }

func FuzzParse(f *testing.F) {
	parsetest.Fuzz(f, "leef", filepath.Join("testdata", "basic.log"))
}

func BenchmarkParse(b *testing.B) {
	parsetest.Bench(b, "leef", parsetest.Repeat(1000, "LEEF:1.0|Microsoft|MSExchange|4.0|15345|src=192.0.2.%d\tdst=172.50.123.1\tsev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\tusrName=joe%d\tdevTime=1740736800000"))
}
