package detect_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/detect"
)

// lsassEvent is one comsvcs MiniDump process creation on host at t.
func lsassEvent(tenant, host string, t time.Time) *event.Event {
	ev := &event.Event{Tenant: tenant, Time: t, LogSource: event.LogSource{Product: "windows", Category: "process_creation", Service: "sysmon"}}
	ev.Add("Image", event.String(`C:\Windows\System32\rundll32.exe`))
	ev.Add("CommandLine", event.String(`rundll32.exe C:\windows\System32\comsvcs.dll, MiniDump 600 C:\t\l.dmp full`))
	ev.Add("host.name", event.String(host))
	return ev
}

// TestSuppressionWindow: with a configured window (no rule file edited),
// repeats of a rule on one host within the window are one alert with a
// count and first / last seen; another host is its own alert; after the
// window (on the injected clock) a closing detection reports the count and
// the next match opens a new window.
func TestSuppressionWindow(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	now := start
	b := bus.New(func() time.Time { return now })
	sub := b.Subscribe(detect.TopicMatched, 100)
	defer sub.Close()
	svc := newService(t, detect.Options{Bus: b, Now: func() time.Time { return now },
		Suppress: []detect.WindowRule{{Rule: ruleLSASS, GroupBy: []string{"host.name"}, Window: 10 * time.Minute}}})

	var published []detect.Detection
	for i := range 5 {
		now = start.Add(time.Duration(i) * time.Minute)
		published = append(published, svc.Process(ctx, []*event.Event{lsassEvent("a", "ws-1", now.Add(-time.Second))})...)
	}
	if len(published) != 1 {
		t.Fatalf("5 matches in the window published %d detections", len(published))
	}
	first := published[0]
	if w := first.Window; w == nil || w.Count != 1 || w.Closing || w.GroupBy["host.name"] != "ws-1" {
		t.Fatalf("first detection window = %+v", first.Window)
	}
	// Another host is another alert; a second tenant too.
	other := svc.Process(ctx, []*event.Event{lsassEvent("a", "ws-2", now)})
	other = append(other, svc.Process(ctx, []*event.Event{lsassEvent("b", "ws-1", now)})...)
	if len(other) != 2 || other[0].DedupKey == first.DedupKey {
		t.Fatalf("other host / tenant: %d detections", len(other))
	}
	if st, _ := svc.Rule("a", ruleLSASS); st.Matches != 2 || st.Collapsed != 4 {
		t.Errorf("status: %d matches, %d collapsed", st.Matches, st.Collapsed)
	}
	// Before the window ends nothing closes.
	if ds := svc.Flush(ctx, now); len(ds) != 0 {
		t.Fatalf("flush inside the window: %+v", ds)
	}
	now = start.Add(10*time.Minute + time.Second)
	closing := svc.Flush(ctx, now)
	if len(closing) != 1 {
		t.Fatalf("closing detections: %d, want 1 (ws-2 and tenant b had no repeats)", len(closing))
	}
	c := closing[0]
	if c.Window == nil || !c.Window.Closing || c.Window.Count != 5 || c.DedupKey != first.DedupKey || c.Tenant != "a" ||
		!c.Window.First.Equal(start.Add(-time.Second)) || !c.Window.Last.Equal(start.Add(4*time.Minute-time.Second)) {
		t.Fatalf("closing detection: %+v window %+v", c, c.Window)
	}
	// The next match opens a new window and is published.
	if ds := svc.Process(ctx, []*event.Event{lsassEvent("a", "ws-1", now)}); len(ds) != 1 || ds[0].Window.Count != 1 {
		t.Fatalf("after the window: %+v", ds)
	}
	// A window that ended without a flush is closed by the next match.
	now = now.Add(time.Minute)
	svc.Process(ctx, []*event.Event{lsassEvent("a", "ws-1", now)})
	now = now.Add(20 * time.Minute)
	ds := svc.Process(ctx, []*event.Event{lsassEvent("a", "ws-1", now)})
	if len(ds) != 2 || !ds[0].Window.Closing || ds[0].Window.Count != 2 || ds[1].Window.Closing {
		t.Fatalf("late match after an unflushed window: %+v", ds)
	}
	sum := svc.Summary()
	if sum.Collapsed != 5 || sum.Windows != 3 {
		t.Errorf("summary: %+v", sum)
	}
	// Every published detection went on the bus.
	n := 0
	for len(sub.C()) > 0 {
		<-sub.C()
		n++
	}
	if want := 1 + 2 + 1 + 1 + 2; n != want {
		t.Errorf("%d bus events, want %d", n, want)
	}
	if _, err := detect.New(detect.Options{Load: detect.LoadOptions{Starter: true}, Suppress: []detect.WindowRule{{Rule: "x"}}}); err == nil {
		t.Error("window without a duration accepted")
	}
}

// TestCorrelationStateAcrossRestart: half of a password spray before a
// restart, the rest after; the service saved its correlation state to the
// data directory on stop and restored it at start, so the spray is seen.
func TestCorrelationStateAcrossRestart(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	state := filepath.Join(t.TempDir(), "detect", "correlations.json")
	fail := func(i int) []*event.Event {
		ev := &event.Event{Tenant: "a", Time: now.Add(time.Duration(i) * time.Second),
			LogSource: event.LogSource{Product: "linux", Service: "sshd"}}
		ev.Add("event.action", event.String("ssh_login"))
		ev.Add("event.outcome", event.String("failure"))
		ev.Add("source.ip", event.String("198.51.100.9"))
		return []*event.Event{ev}
	}
	opts := detect.Options{Now: func() time.Time { return now }, StateFile: state}
	svc := newService(t, opts)
	for i := range 5 {
		if ds := svc.Process(ctx, fail(i)); len(ds) != 0 {
			t.Fatalf("fired before the restart: %+v", ds)
		}
	}
	if n, err := svc.SaveState(); err != nil || n < 1 {
		t.Fatalf("SaveState: %d groups, %v", n, err)
	}
	// Without the state the rest of the spray is not enough.
	fresh := newService(t, detect.Options{Now: opts.Now})
	for i := 5; i < 10; i++ {
		if ds := fresh.Process(ctx, fail(i)); len(ds) != 0 {
			t.Fatalf("fresh service fired: %+v", ds)
		}
	}
	restarted := newService(t, opts)
	var got []detect.Detection
	for i := 5; i < 10; i++ {
		got = append(got, restarted.Process(ctx, fail(i))...)
	}
	if len(got) != 1 || got[0].RuleID != ruleSpray || got[0].Correlation == nil || !got[0].Correlation.First.Equal(now) {
		t.Fatalf("after restart: %+v", got)
	}
	// A damaged state file loses the windows, not the service.
	if err := os.WriteFile(state, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := detect.New(opts); err != nil {
		t.Fatalf("damaged state stopped the service: %v", err)
	}
}
