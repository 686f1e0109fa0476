package intel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/store"
)

// EventSighted is the bus event type published for every verified match.
const EventSighted = "indicator.sighted"

// Sighted is the Data of an indicator.sighted bus event: what the cases
// domain needs to raise an alert with the indicator's confidence and TLP.
type Sighted struct {
	Indicator Indicator    `json:"indicator"`
	Sighting  Sighting     `json:"sighting"`
	Event     *event.Event `json:"-"`
	// Retro is set when the match was found by retro-matching stored
	// events against a new indicator.
	Retro bool `json:"retro,omitempty"`
}

type pending struct {
	tenant string
	hit    Hit
	ev     *event.Event
	retro  bool
}

// OnEvents matches a batch of stored events against the indexes. It runs
// on the indexer's goroutine: it only looks up compiled sets and queues
// the (rare) matches for the sighting worker, never touching the database.
func (s *Service) OnEvents(events []*event.Event) {
	st := s.state.Load()
	if len(st.tenants) == 0 {
		return
	}
	var scratch [8]Hit
	var checked, suppressed uint64
	for _, ev := range events {
		ti := st.tenants[ev.Tenant]
		if ti == nil {
			continue
		}
		checked++
		hits, n := ti.ix.MatchAlerting(scratch[:0], ev)
		suppressed += uint64(n)
		for _, h := range hits {
			s.queue(pending{tenant: ev.Tenant, hit: h, ev: ev})
		}
	}
	s.stats.events.Add(checked)
	if suppressed > 0 {
		s.stats.matched.Add(suppressed)
		s.stats.suppressed.Add(suppressed)
	}
}

func (s *Service) queue(p pending) {
	s.stats.matched.Add(1)
	if p.hit.Warninglisted || p.hit.Expired {
		s.stats.suppressed.Add(1)
		return
	}
	select {
	case s.hits <- p:
	default:
		s.stats.dropped.Add(1)
	}
}

// sightingWorker verifies queued matches against the stored indicator,
// records them in batches, and publishes indicator.sighted.
func (s *Service) sightingWorker(ctx context.Context) {
	defer s.wg.Done()
	cache := map[string]*Indicator{}
	var batch []pending
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	flush := func() {
		if len(batch) > 0 {
			s.process(ctx, batch, cache)
			batch = batch[:0]
		}
		if len(cache) > 10000 {
			clear(cache)
		}
	}
	for {
		select {
		case p := <-s.hits:
			batch = append(batch, p)
			if len(batch) >= 500 {
				flush()
			}
		case <-tick.C:
			flush()
			clear(cache) // sightings counts and edits show up within a tick
		case <-s.stopped:
			for {
				select {
				case p := <-s.hits:
					batch = append(batch, p)
				default:
					flush()
					return
				}
			}
		}
	}
}

func (s *Service) process(ctx context.Context, batch []pending, cache map[string]*Indicator) {
	type out struct {
		ind *Indicator
		sg  Sighting
		p   pending
	}
	var ok []out
	seen := map[string]bool{}
	for _, p := range batch {
		id := p.hit.PatternID
		if id == "" {
			id = ID(p.hit.Type, p.hit.Value)
		}
		key := p.tenant + "\x00" + id
		ind, found := cache[key]
		if !found {
			got, err := s.repo.get(ctx, p.tenant, id)
			switch {
			case errors.Is(err, store.ErrNotFound):
				ind = nil
			case err != nil:
				s.log.Error("intel_sighting_load_failed", "tenant", p.tenant, "indicator", id, "err", err)
				continue
			default:
				ind = &got
			}
			cache[key] = ind
		}
		if ind == nil || (ind.Type != TypePattern && ind.Value != p.hit.Value) {
			s.stats.collisions.Add(1)
			continue
		}
		// Not yet valid at the event's time (valid_from is not in the
		// index: it is rare and checked here).
		if ind.Warninglist != "" || (!p.ev.Time.IsZero() && ind.ValidFrom.After(p.ev.Time)) {
			s.stats.suppressed.Add(1)
			continue
		}
		// The observed value itself may be on a warninglist although the
		// indicator (a wide network, a parent domain) is not.
		if ti := s.state.Load().tenants[p.tenant]; ti != nil && p.hit.Observed != "" {
			if t, v, okv := Guess(p.hit.Observed); okv && ti.wl.Check(t, v) != "" {
				s.stats.suppressed.Add(1)
				continue
			}
		}
		sg := Sighting{Tenant: p.tenant, IndicatorID: id, Time: p.ev.Time, EventID: p.ev.ID, Field: p.hit.Field, Observed: p.hit.Observed}
		sg.ID = sightingID(p.tenant, id, p.ev.ID, p.hit.Field)
		if seen[sg.ID] {
			continue
		}
		seen[sg.ID] = true
		ok = append(ok, out{ind, sg, p})
	}
	if len(ok) == 0 {
		return
	}
	ss := make([]Sighting, len(ok))
	for i := range ok {
		ss[i] = ok[i].sg
	}
	fresh, err := s.repo.recordSightings(ctx, ss)
	if err != nil {
		// Alert anyway: losing the record is better than losing the alert.
		s.log.Error("intel_sightings_record_failed", "count", len(ss), "err", err)
		for _, sg := range ss {
			fresh[sg.ID] = true
		}
	}
	for _, o := range ok {
		if !fresh[o.sg.ID] {
			s.stats.replayed.Add(1)
			continue
		}
		s.stats.sighted.Add(1)
		if s.bus == nil {
			continue
		}
		ind := *o.ind
		ind.Sightings++
		s.bus.Publish(ctx, bus.Event{Type: EventSighted, Tenant: o.p.tenant, Subject: ind.ID, Actor: "system",
			Data: &Sighted{Indicator: ind, Sighting: o.sg, Event: o.p.ev, Retro: o.p.retro}})
	}
}

func sightingID(tenant, indicator, eventID, field string) string {
	h := sha256.New()
	for _, s := range []string{tenant, indicator, eventID, field} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var sum [32]byte
	return "sighting--" + hex.EncodeToString(h.Sum(sum[:0])[:12])
}

// RetroMatch matches inds against the tenant's events of the last
// RetroDays and queues what it finds like live matches. It returns the
// number of matches queued.
func (s *Service) RetroMatch(ctx context.Context, tenant string, inds []Indicator) (int, error) {
	if s.events == nil || s.cfg.RetroDays < 0 || len(inds) == 0 {
		return 0, nil
	}
	ti := s.state.Load().tenants[tenant]
	b := NewIndexBuilder(len(inds))
	b.PatternWindow(s.cfg.PatternWindow, s.cfg.PatternObservations)
	for i := range inds {
		ind := &inds[i]
		listed := ind.Warninglist != "" || (ti != nil && ti.wl.Check(ind.Type, ind.Value) != "")
		b.Add(IndexEntry{Type: ind.Type, Value: ind.Value, Confidence: ind.Confidence, TLP: ind.TLP,
			AlertUntil: AlertUntil(ind, s.cfg.Decay[ind.Type]), Warninglist: listed})
	}
	ix := b.Build()
	now := s.now()
	found := 0
	var hits []Hit
	err := s.events.Query(ctx, eventstore.Query{Tenant: tenant, LogsQL: "*", Start: now.Add(-time.Duration(s.cfg.RetroDays) * 24 * time.Hour), End: now, Limit: s.cfg.RetroMaxEvents},
		func(row eventstore.Row) error {
			ev := rowEvent(tenant, row)
			var suppressed int
			hits, suppressed = ix.MatchAlerting(hits[:0], ev)
			if suppressed > 0 {
				found += suppressed
				s.stats.matched.Add(uint64(suppressed))
				s.stats.suppressed.Add(uint64(suppressed))
			}
			for _, h := range hits {
				found++
				s.queue(pending{tenant: tenant, hit: h, ev: ev, retro: true})
			}
			return nil
		})
	if err != nil {
		return found, err
	}
	return found, nil
}

// rowEvent turns a stored row back into an event for matching.
func rowEvent(tenant string, row eventstore.Row) *event.Event {
	ev := &event.Event{Tenant: tenant, Fields: make([]event.Field, 0, len(row))}
	for _, f := range row {
		switch f.Name {
		case "_time":
			if t, err := time.Parse(time.RFC3339Nano, f.Value); err == nil {
				ev.Time = t
			}
		case "_msg":
			ev.Message = f.Value
		case "event.id":
			ev.ID = f.Value
		default:
			ev.Fields = append(ev.Fields, event.Field{Name: f.Name, Value: event.String(f.Value)})
		}
	}
	return ev
}
