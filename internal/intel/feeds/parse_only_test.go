package feeds_test

import (
	"context"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/feeds"
)

type countSink struct{ n, lists int }

func (c *countSink) Add(_ context.Context, ind intel.Indicator) error {
	if _, _, err := intel.Normalize(ind.Type, ind.Value); err == nil {
		c.n++
	}
	return nil
}
func (c *countSink) AddWarninglist(context.Context, *intel.Warninglist) error { c.lists++; return nil }

func TestParseOnly(t *testing.T) {
	dir := shared(t, "intel", "feeds")
	var c countSink
	start := time.Now()
	if err := feeds.ReadDir(context.Background(), dir, feeds.Options{}, &c, nil, func(string, error) {}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d in %v", c.n, time.Since(start))
}
