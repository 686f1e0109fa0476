package bus

import (
	"context"
	"testing"
	"time"
)

func TestPublishMatchesPatternsInOrder(t *testing.T) {
	b := New(func() time.Time { return time.Unix(100, 0) })
	inc := b.Subscribe("incident.*", 10)
	all := b.Subscribe("*", 10)
	ctx := context.Background()
	b.Publish(ctx, Event{Type: "incident.created", Subject: "1"})
	b.Publish(ctx, Event{Type: "alert.created", Subject: "2"})
	b.Publish(ctx, Event{Type: "incident.updated", Subject: "3"})
	for _, want := range []string{"1", "3"} {
		e := <-inc.C()
		if e.Subject != want || !e.Time.Equal(time.Unix(100, 0)) {
			t.Fatalf("got %+v, want subject %s at the injected time", e, want)
		}
	}
	for _, want := range []string{"1", "2", "3"} {
		if e := <-all.C(); e.Subject != want {
			t.Fatalf("got %s, want %s", e.Subject, want)
		}
	}
	select {
	case e := <-inc.C():
		t.Fatalf("unexpected %+v", e)
	default:
	}
}

func TestFullQueueDropsAndCounts(t *testing.T) {
	b := New(nil)
	s := b.Subscribe("*", 2)
	for i := 0; i < 5; i++ {
		b.Publish(context.Background(), Event{Type: "x"})
	}
	if s.Dropped() != 3 {
		t.Fatalf("dropped %d, want 3", s.Dropped())
	}
	s.Close()
	if _, ok := <-s.C(); !ok {
		t.Fatal("queued events must still be readable after Close")
	}
}
