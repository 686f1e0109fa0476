package soar_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/soar"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// waitRuns polls until every run is terminal (real runners, real clock).
func waitRuns(t *testing.T, svc *soar.Service, tenant string, ids []string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, id := range ids {
		for {
			r, err := svc.GetRun(context.Background(), tenant, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status.Terminal() {
				if r.Status != soar.RunSucceeded {
					t.Fatalf("run %s: %s %s", id, r.Status, r.Error)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s not finished: %+v", id, r)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestTwoRunners: two nodes share the database; every step of every run
// is executed exactly once (the target counts idempotency keys).
func TestTwoRunners(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tg := newTarget(t)
		var nodes []*soar.Service
		for _, n := range []string{"n1", "n2"} {
			svc := soar.New(db, soar.Options{Node: n, Workers: 4, Poll: 20 * time.Millisecond,
				Deps: soar.Deps{HTTP: tg.Client(), AllowLoopback: true}})
			if err := svc.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(svc.Stop)
			nodes = append(nodes, svc)
		}
		if _, err := nodes[0].Apply(ctx, "a", []byte(`name: fan
on: { manual: {} }
inputs: { url: { type: string } }
steps:
  - { id: a, uses: http.request, with: { method: POST, url: "${{ inputs.url }}/a" } }
  - { id: b, uses: http.request, needs: [], with: { method: POST, url: "${{ inputs.url }}/b" } }
  - { id: c, uses: http.request, needs: [a, b], with: { method: POST, url: "${{ inputs.url }}/c" } }
`), "eng"); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := range 20 {
			r, err := nodes[i%2].StartRun(ctx, "a", soar.StartRequest{Playbook: "fan", Inputs: map[string]any{"url": tg.URL}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		waitRuns(t, nodes[0], "a", ids)
		keys, _, _ := tg.snapshot()
		if len(keys) != 60 {
			t.Fatalf("%d distinct keys, want 60", len(keys))
		}
		for k, n := range keys {
			if n != 1 {
				t.Fatalf("key %s sent %d times", k, n)
			}
		}
	})
}

const crashPlaybook = `name: crash
on: { manual: {} }
inputs: { url: { type: string } }
steps:
  - { id: pre, uses: http.request, with: { method: POST, url: "${{ inputs.url }}/pre" } }
  - { id: slow, uses: http.request, with: { method: POST, url: "${{ inputs.url }}/slow" }, timeout: 30s }
  - { id: post, uses: http.request, with: { method: POST, url: "${{ inputs.url }}/post" } }
`

// TestCrashResume kills a runner process with SIGKILL while a step's
// request is in flight, restarts it, and checks that the run completes,
// that completed steps did not run again, and that the interrupted step
// was delivered with one idempotency key (the side effect applied once).
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	// SQLite always; PostgreSQL when WACHT_TEST_POSTGRES_DSN is set.
	for _, be := range storetest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) { crashResume(t, be.Config(t), crashPlaybook, false) })
		// A for_each step killed in its second iteration: the first is
		// not sent again, the second is sent again with its key.
		t.Run(be.Name+"/for_each", func(t *testing.T) { crashResume(t, be.Config(t), crashForEach, true) })
	}
}

const crashForEach = `name: crash
on: { manual: {} }
inputs: { url: { type: string } }
steps:
  - { id: each, uses: http.request, for_each: '["pre", "slow", "post"]', with: { method: POST, url: "${{ inputs.url }}/${{ item }}" }, timeout: 30s }
`

func crashResume(t *testing.T, cfg store.Config, playbook string, forEach bool) {
	ctx := context.Background()

	var mu sync.Mutex
	seen := map[string][]string{} // path → idempotency keys
	hit := make(chan struct{}, 1)
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen[r.URL.Path] = append(seen[r.URL.Path], r.Header.Get("Idempotency-Key"))
		first := r.URL.Path == "/slow" && len(seen["/slow"]) == 1
		mu.Unlock()
		if first {
			hit <- struct{}{}
			select { // the runner dies while this request is open
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer ts.Close()
	defer close(release)

	db, err := store.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := soar.New(db, soar.Options{})
	if _, err := svc.Apply(ctx, "a", []byte(playbook), "eng"); err != nil {
		t.Fatal(err)
	}
	run, err := svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "crash", Inputs: map[string]any{"url": ts.URL}})
	if err != nil {
		t.Fatal(err)
	}
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), "SOAR_CRASH_CHILD=1", "SOAR_CRASH_DRIVER="+cfg.Driver, "SOAR_CRASH_DB="+cfg.DSN, "SOAR_CRASH_RUN="+run.ID)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := child()
	select {
	case <-hit:
	case <-time.After(60 * time.Second):
		_ = first.Process.Kill()
		t.Fatal("slow step never called")
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	r, err := svc.GetRun(ctx, "a", run.ID)
	if forEach {
		if err != nil || r.Status != soar.RunRunning || stepOf(r, "each").Status != soar.StepRunning {
			t.Fatalf("after kill: %+v %v", r, err)
		}
	} else if err != nil || r.Status != soar.RunRunning || stepOf(r, "pre").Status != soar.StepSucceeded || stepOf(r, "slow").Status != soar.StepRunning {
		t.Fatalf("after kill: %+v %v", r, err)
	}

	second := child()
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("restarted runner: %v", err)
		}
	case <-time.After(60 * time.Second):
		_ = second.Process.Kill()
		t.Fatal("restarted runner did not finish the run")
	}
	r, err = svc.GetRun(ctx, "a", run.ID)
	if err != nil || r.Status != soar.RunSucceeded {
		t.Fatalf("after restart: %+v %v", r, err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string][]string{
		"/pre":  {run.ID + "/pre/1"},
		"/slow": {run.ID + "/slow/1", run.ID + "/slow/1"}, // redelivered, same key
		"/post": {run.ID + "/post/1"},
	}
	if forEach {
		want = map[string][]string{
			"/pre":  {run.ID + "/each[0]/1"},
			"/slow": {run.ID + "/each[1]/1", run.ID + "/each[1]/1"},
			"/post": {run.ID + "/each[2]/1"},
		}
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("target saw %v, want %v", seen, want)
	}
}

// TestCrashChild is the runner process of TestCrashResume.
func TestCrashChild(t *testing.T) {
	if os.Getenv("SOAR_CRASH_CHILD") != "1" {
		t.Skip("child process of TestCrashResume")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Driver: os.Getenv("SOAR_CRASH_DRIVER"), DSN: os.Getenv("SOAR_CRASH_DB")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := soar.New(db, soar.Options{Node: "crash-node", Poll: 20 * time.Millisecond, Lease: time.Minute,
		Deps: soar.Deps{HTTP: &http.Client{}, AllowLoopback: true}})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	waitRuns(t, svc, "a", []string{os.Getenv("SOAR_CRASH_RUN")})
}
