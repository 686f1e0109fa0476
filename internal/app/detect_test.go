package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/ingest"
)

// TestDetectStateSurvivesRestart: the detect module saves its correlation
// state into the data directory when it stops and restores it when it
// starts, so that a password spray split by a restart is still detected.
func TestDetectStateSurvivesRestart(t *testing.T) {
	t.Setenv("WACHT_RULES", "")
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cfg := config.Default()
	cfg.Data = t.TempDir()
	failures := func(from, to int) []*event.Event {
		var out []*event.Event
		for i := from; i < to; i++ {
			ev := &event.Event{Tenant: "a", Time: now.Add(time.Duration(i) * time.Second),
				LogSource: event.LogSource{Product: "linux", Service: "sshd"}}
			ev.Add("event.action", event.String("ssh_login"))
			ev.Add("event.outcome", event.String("failure"))
			ev.Add("source.ip", event.String("198.51.100.9"))
			out = append(out, ev)
		}
		return out
	}
	run := func(evs []*event.Event) []bus.Event {
		t.Helper()
		a := &App{}
		b := bus.New(clock)
		sub := b.Subscribe(detect.TopicMatched, 100)
		defer sub.Close()
		env := &Env{Config: cfg, Log: slog.New(slog.DiscardHandler), API: api.New(api.Deps{Ingest: &ingest.HTTP{}}),
			Bus: b, Now: clock, app: a}
		stop, err := startDetect(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		a.fanOut(evs)
		stop() // drains the queued batch, then saves the state
		var out []bus.Event
		for len(sub.C()) > 0 {
			out = append(out, <-sub.C())
		}
		return out
	}
	if got := run(failures(0, 5)); len(got) != 0 {
		t.Fatalf("5 failures fired: %+v", got)
	}
	if _, err := os.Stat(filepath.Join(cfg.Data, "detect", "correlations.json")); err != nil {
		t.Fatalf("no correlation state after stop: %v", err)
	}
	got := run(failures(5, 10))
	if len(got) != 1 || got[0].Subject != "752d2f5b-9fdd-4f45-bd31-cc1a66667a5d" {
		t.Fatalf("after restart: %+v", got)
	}
}
