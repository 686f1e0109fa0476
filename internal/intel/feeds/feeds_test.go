package feeds_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/feeds"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

func shared(tb testing.TB, elem ...string) string {
	tb.Helper()
	root := os.Getenv("WACHT_SHARED")
	if root == "" {
		root = filepath.Join("..", "..", "..", "..", "shared")
	}
	p := filepath.Join(append([]string{root}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data %s not available: %v", p, err)
	}
	return p
}

func TestImportAllFeedsSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 686,000 indicators")
	}
	dir := shared(t, "intel", "feeds")
	db := storetest.Open(t, storetestSQLite(t))
	svc := intel.New(intel.Deps{DB: db}, intel.Config{})
	ctx := context.Background()
	start := time.Now()
	im := svc.NewImport("default", "feeds")
	if err := feeds.ReadDir(ctx, dir, feeds.Options{}, im, nil, func(p string, err error) { t.Logf("%s: %v", p, err) }); err != nil {
		t.Fatal(err)
	}
	st, err := im.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v in %v", st, time.Since(start))
}

func storetestSQLite(t *testing.T) store.Config {
	return store.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "state.db")}
}
