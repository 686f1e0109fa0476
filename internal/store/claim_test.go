package store_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

func claimSpec(owner string) store.ClaimSpec {
	return store.ClaimSpec{
		Table: "jobs", Tenant: "default",
		Where: "state = ?", Args: []any{"ready"},
		OrderBy: "seq", Limit: 7,
		Set: "state = 'running', owner = ?", SetArgs: []any{owner},
	}
}

// claimAll claims until nothing is left and returns what it got.
func claimAll(ctx context.Context, db *store.DB, owner string) ([]string, error) {
	var got []string
	for {
		ids, err := db.Claim(ctx, claimSpec(owner))
		if err != nil {
			return got, err
		}
		if len(ids) == 0 {
			return got, nil
		}
		got = append(got, ids...)
	}
}

func checkExactlyOnce(t *testing.T, n int, claims map[string][]string) {
	t.Helper()
	seen := map[string]string{}
	for owner, ids := range claims {
		for _, id := range ids {
			if prev, dup := seen[id]; dup {
				t.Errorf("%s claimed by %s and %s", id, prev, owner)
			}
			seen[id] = owner
		}
		if len(ids) == 0 {
			t.Logf("claimer %s got nothing", owner)
		}
	}
	if len(seen) != n {
		t.Errorf("%d jobs claimed, want %d", len(seen), n)
	}
}

func TestClaimGoroutines(t *testing.T) {
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		ctx := storetest.Context(t)
		db := storetest.Open(t, cfg, store.WithMigrations(jobsSet))
		const n = 300
		insertJobs(t, db, n)
		// Jobs of another tenant are never claimed.
		if _, err := db.Exec(ctx, "INSERT INTO jobs (tenant, id, state, seq) VALUES ('other', 'x', 'ready', 0)"); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		claims := map[string][]string{}
		var wg sync.WaitGroup
		for w := range 4 {
			owner := fmt.Sprint("g", w)
			wg.Go(func() {
				got, err := claimAll(ctx, db, owner)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				claims[owner] = got
				mu.Unlock()
			})
		}
		wg.Wait()
		checkExactlyOnce(t, n, claims)
		var owner string
		db.QueryRow(ctx, "SELECT COALESCE(owner, '') FROM jobs WHERE tenant = 'other'").Scan(&owner)
		if owner != "" {
			t.Errorf("job of another tenant claimed by %s", owner)
		}
	})
}

// TestClaimSkipsLockedRows holds a claim open in one transaction while a
// second claimer runs: on PostgreSQL it must skip the held rows, not wait.
func TestClaimSkipsLockedRows(t *testing.T) {
	dsn := os.Getenv(storetest.EnvPostgresDSN)
	if dsn == "" {
		storetest.Backends(t) // fails when PostgreSQL is required
		t.Skipf("%s not set", storetest.EnvPostgresDSN)
	}
	be := storetest.Backends(t)[1]
	ctx := storetest.Context(t)
	db := storetest.Open(t, be.Config(t), store.WithMigrations(jobsSet))
	insertJobs(t, db, 20)
	held := make(chan []string)
	release := make(chan struct{})
	go func() {
		_ = db.TxWith(ctx, store.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *store.Tx) error {
			ids, err := tx.Claim(ctx, claimSpec("holder"))
			if err != nil {
				t.Error(err)
			}
			held <- ids
			<-release
			return nil
		})
	}()
	first := <-held
	start := time.Now()
	second, err := db.Claim(ctx, claimSpec("second"))
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("second claim waited %v", time.Since(start))
	}
	for _, id := range second {
		for _, h := range first {
			if id == h {
				t.Errorf("%s claimed while held", id)
			}
		}
	}
	if len(first) != 7 || len(second) != 7 {
		t.Errorf("claimed %d and %d, want 7 each", len(first), len(second))
	}
}

const (
	envWorker       = "WACHT_STORETEST_CLAIM_WORKER"
	envWorkerCfg    = "WACHT_STORETEST_CLAIM_CONFIG"
	envWorkerOut    = "WACHT_STORETEST_CLAIM_OUT"
	envWorkerDriver = "WACHT_STORETEST_CLAIM_DRIVER"
)

// TestClaimTwoProcesses starts this test binary twice as claim workers
// against one database: every job is claimed exactly once across processes.
func TestClaimTwoProcesses(t *testing.T) {
	if os.Getenv(envWorker) != "" {
		claimWorker(t)
		return
	}
	storetest.ForEachConfig(t, func(t *testing.T, cfg store.Config) {
		db := storetest.Open(t, cfg, store.WithMigrations(jobsSet))
		const n = 400
		insertJobs(t, db, n)
		dir := t.TempDir()
		ctx := storetest.Context(t)
		cmds := make([]*exec.Cmd, 2)
		outs := make([]string, 2)
		for i := range cmds {
			outs[i] = filepath.Join(dir, fmt.Sprint("worker", i))
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestClaimTwoProcesses$", "-test.count=1")
			cmd.Env = append(os.Environ(), envWorker+"="+fmt.Sprint("p", i),
				envWorkerCfg+"="+cfg.DSN, envWorkerDriver+"="+cfg.Driver, envWorkerOut+"="+outs[i])
			var stderr strings.Builder
			cmd.Stderr, cmd.Stdout = &stderr, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds[i] = cmd
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("worker %d output:\n%s", i, stderr.String())
				}
			})
		}
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		}
		claims := map[string][]string{}
		for i, out := range outs {
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				claims[fmt.Sprint("p", i)] = append(claims[fmt.Sprint("p", i)], sc.Text())
			}
			f.Close()
		}
		checkExactlyOnce(t, n, claims)
		var running int
		db.QueryRow(ctx, "SELECT count(*) FROM jobs WHERE state = 'running'").Scan(&running)
		if running != n {
			t.Errorf("%d jobs running, want %d", running, n)
		}
	})
}

func claimWorker(t *testing.T) {
	driver, dsn := os.Getenv(envWorkerDriver), os.Getenv(envWorkerCfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, err := store.Open(ctx, store.Config{Driver: driver, DSN: dsn}, storetest.Logger(t),
		store.WithMigrations(jobsSet), store.WithoutMigrate())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	owner := os.Getenv(envWorker)
	f, err := os.Create(os.Getenv(envWorkerOut))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Both workers start claiming at once, in small batches, to interleave.
	for {
		ids, err := db.Claim(ctx, claimSpec(owner))
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			return
		}
		for _, id := range ids {
			fmt.Fprintln(f, id)
		}
	}
}
