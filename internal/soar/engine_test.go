package soar_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/soar"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// TestEngineFeatures: a durable wait, on_error continue, a step timeout,
// a run timeout and a dry run that calls nothing.
func TestEngineFeatures(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		defer hang.Close()
		f.apply(t, "a", `name: features
on: { manual: {} }
inputs: { url: { type: string }, hang: { type: string } }
timeout: 2h
steps:
  - id: pause
    uses: wait
    with: { duration: 10m }
  - id: slow
    uses: http.request
    with: { url: "${{ inputs.hang }}" }
    timeout: 100ms
    on_error: continue
  - id: after
    uses: http.request
    with: { method: POST, url: "${{ inputs.url }}/after", json: { slow: "${{ steps.slow.status }}" } }
`)
		in := map[string]any{"url": f.tg.URL, "hang": hang.URL}
		run, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "features", Inputs: in})
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		if s := stepOf(f.run(t, "a", run.ID), "pause"); s.Status != soar.StepWaiting {
			t.Fatalf("pause: %+v", s)
		}
		f.clk.Add(10 * time.Minute)
		f.drain(t)
		r := f.run(t, "a", run.ID)
		if r.Status != soar.RunSucceeded || stepOf(r, "slow").Status != soar.StepFailed || !strings.Contains(stepOf(r, "slow").Error, "timed out") {
			t.Fatalf("run: %+v", r)
		}
		if _, bodies, _ := f.tg.snapshot(); len(bodies) != 1 || bodies[0] != `{"slow":"failed"}` {
			t.Fatalf("after: %v", bodies)
		}

		// The run's own deadline: a run parked in a wait longer than
		// the playbook's timeout fails.
		f.apply(t, "a", `name: long
on: { manual: {} }
timeout: 1h
steps:
  - { id: w, uses: wait, with: { duration: 3h } }
`)
		long, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "long"})
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		f.clk.Add(time.Hour)
		f.drain(t)
		if r := f.run(t, "a", long.ID); r.Status != soar.RunFailed || r.Error != "run timed out" {
			t.Fatalf("long: %+v", r)
		}

		// A dry run shows what side-effecting steps would send.
		dry, err := f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "retry-me", DryRun: true})
		if err == nil {
			t.Fatalf("unknown playbook started: %+v", dry)
		}
		f.apply(t, "a", `name: dry
on: { manual: {} }
steps:
  - { id: ask, uses: approval, with: { role: incident-responder, timeout: 1h } }
  - { id: call, uses: http.request, with: { method: POST, url: "`+f.tg.URL+`/x", json: { a: 1 } } }
`)
		dry, err = f.svc.StartRun(ctx, "a", soar.StartRequest{Playbook: "dry", DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		r = f.run(t, "a", dry.ID)
		if _, bodies, _ := f.tg.snapshot(); r.Status != soar.RunSucceeded || len(bodies) != 1 || !strings.Contains(string(stepOf(r, "call").Output), `"would"`) {
			t.Fatalf("dry run: %+v %v", r, bodies)
		}
	})
}
