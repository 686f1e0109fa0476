package assets

import (
	"context"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// Event fields that name the host an event is about, and address fields
// whose private addresses are inventory (public ones are the internet).
var (
	hostFields = []string{"host.name", "host.hostname", "hostname", "agent.hostname"}
	hostIPs    = []string{"host.ip"}
	peerIPs    = []string{"source.ip", "destination.ip", "client.ip", "server.ip"}
)

// discovery turns stored events into observations off the indexer's path:
// Events queues, Run observes. An identifier seen within refresh is not
// observed again, so a busy host costs one write per refresh.
type discovery struct {
	s       *Service
	queue   chan queued
	seen    map[string]time.Time
	dropped atomic.Uint64
	refresh time.Duration
}

type queued struct {
	tenant string
	o      Observation
}

func newDiscovery(s *Service) *discovery {
	return &discovery{s: s, queue: make(chan queued, 4096), seen: map[string]time.Time{}, refresh: time.Hour}
}

// ObserveEvents extracts hosts and addresses from a batch of stored events
// and queues them for RunDiscovery. It never blocks: when the queue is
// full the observation is dropped (counted by DiscoveryDropped).
func (s *Service) ObserveEvents(events []*event.Event) {
	d := s.disc
	for _, e := range events {
		for _, o := range Observations(e) {
			select {
			case d.queue <- queued{tenantOf(e), o}:
			default:
				d.dropped.Add(1)
			}
		}
	}
}

func tenantOf(e *event.Event) string {
	if e.Tenant == "" {
		return event.DefaultTenant
	}
	return e.Tenant
}

// DiscoveryDropped counts observations lost to a full queue.
func (s *Service) DiscoveryDropped() uint64 { return s.disc.dropped.Load() }

// Observations returns the assets an event names: its host (by name and
// host addresses) and private peer addresses.
func Observations(e *event.Event) []Observation {
	var out []Observation
	var host Observation
	for _, f := range hostFields {
		if v := e.GetString(f); v != "" {
			host.Name = v
			host.Identifiers = append(host.Identifiers, Identifier{Type: "hostname", Value: v})
			break
		}
	}
	for _, f := range hostIPs {
		if v, ok := e.Get(f); ok {
			for _, s := range values(v) {
				if a, err := netip.ParseAddr(s); err == nil && !a.IsLoopback() && !a.IsUnspecified() {
					host.Identifiers = append(host.Identifiers, Identifier{Type: "ip", Value: a.String()})
				}
			}
		}
	}
	if len(host.Identifiers) > 0 {
		host.Kind, host.Source = KindHost, "events"
		out = append(out, host)
	}
	for _, f := range peerIPs {
		v := e.GetString(f)
		if v == "" {
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil || !a.IsPrivate() {
			continue
		}
		out = append(out, Observation{Kind: KindHost, Name: a.String(), Identifiers: []Identifier{{Type: "ip", Value: a.String()}}, Source: "events"})
	}
	return out
}

func values(v event.Value) []string {
	if v.Kind() == event.KindArray {
		var out []string
		for _, x := range v.Array() {
			out = append(out, x.String())
		}
		return out
	}
	return []string{v.String()}
}

// RunDiscovery observes queued event observations until ctx ends.
func (s *Service) RunDiscovery(ctx context.Context) {
	d := s.disc
	for {
		select {
		case <-ctx.Done():
			return
		case q := <-d.queue:
			tenant, o := q.tenant, q.o
			now := s.now()
			key := tenant + "\x00" + o.Identifiers[0].Type + "\x00" + o.Identifiers[0].Value
			if t, ok := d.seen[key]; ok && now.Sub(t) < d.refresh {
				continue
			}
			if len(d.seen) > 100000 {
				clear(d.seen)
			}
			d.seen[key] = now
			if _, _, err := s.Observe(ctx, tenant, o); err != nil && ctx.Err() == nil {
				s.log.Warn("asset_discovery_failed", "tenant", tenant, "name", o.Name, "err", err)
			}
		}
	}
}
