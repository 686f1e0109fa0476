// Package bus carries domain events — alert.created, incident.updated,
// sla.breached, deadline.due, indicator.sighted, playbook.run.finished … —
// from the domain that changed state to everything that reacts: playbook
// triggers, the console's live view, metrics and the audit trail. It is in
// process; a scaled-out node bridges it onto the journal.
//
// Delivery to a subscriber is in publish order and never blocks the
// publisher for long: each subscriber has a bounded queue, and a
// subscriber that falls behind loses events, counted in Dropped.
package bus

import (
	"context"
	"path"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one domain event.
type Event struct {
	// Type is the dotted event name, e.g. "incident.updated".
	Type   string
	Tenant string
	Time   time.Time
	// Subject identifies the record, e.g. the incident id.
	Subject string
	// Actor is who caused it (user, token, "system").
	Actor string
	// Data is the typed payload of the domain (a *cases.Incident …).
	Data any
}

// Bus is an in-process publish/subscribe hub.
type Bus struct {
	mu   sync.RWMutex
	subs []*Subscription
	now  func() time.Time
}

// New returns a bus; now is the clock stamped on events without a time.
func New(now func() time.Time) *Bus {
	if now == nil {
		now = time.Now
	}
	return &Bus{now: now}
}

// Subscription receives events whose type matches its pattern.
type Subscription struct {
	pattern string
	ch      chan Event
	dropped atomic.Uint64
	bus     *Bus
}

// C is the subscriber's queue.
func (s *Subscription) C() <-chan Event { return s.ch }

// Dropped counts events lost because the queue was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close unsubscribes and closes C.
func (s *Subscription) Close() {
	b := s.bus
	b.mu.Lock()
	for i, x := range b.subs {
		if x == s {
			b.subs = append(b.subs[:i], b.subs[i+1:]...)
			close(s.ch)
			break
		}
	}
	b.mu.Unlock()
}

// Subscribe receives events whose Type matches pattern (path.Match syntax
// over the dotted name: "incident.*", "*", "alert.created"). queue bounds
// the backlog (default 1024).
func (b *Bus) Subscribe(pattern string, queue int) *Subscription {
	if queue <= 0 {
		queue = 1024
	}
	s := &Subscription{pattern: pattern, ch: make(chan Event, queue), bus: b}
	b.mu.Lock()
	b.subs = append(b.subs, s)
	b.mu.Unlock()
	return s
}

// Publish delivers e to every matching subscriber without blocking.
func (b *Bus) Publish(_ context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = b.now().UTC()
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, s := range b.subs {
		if ok, _ := path.Match(s.pattern, e.Type); !ok && s.pattern != "*" {
			continue
		}
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
		}
	}
}
