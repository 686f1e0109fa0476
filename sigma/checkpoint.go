package sigma

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// stateVersion is the version of the correlation state written by
// SaveState. Bump it when the layout changes.
const stateVersion = 1

type stateDoc struct {
	Version      int         `json:"version"`
	Saved        time.Time   `json:"saved"`
	Correlations []corrState `json:"correlations"`
}

type corrState struct {
	// Rule is the correlation rule's id (or name, or title); Sig hashes
	// its definition so that state of a changed rule is not restored.
	Rule      string       `json:"rule"`
	Sig       string       `json:"sig"`
	Now       time.Time    `json:"now"`
	Evictions uint64       `json:"evictions,omitempty"`
	Groups    []groupState `json:"groups"`
}

type groupState struct {
	Key    string      `json:"key"`
	Values []string    `json:"values"`
	Start  time.Time   `json:"start"`
	Last   time.Time   `json:"last"`
	Items  []itemState `json:"items,omitempty"`
	Seen   []time.Time `json:"seen,omitempty"`
	// Events are the group's last events in event.AppendBatch form.
	Events []byte `json:"events,omitempty"`
}

type itemState struct {
	T time.Time `json:"t"`
	V float64   `json:"v,omitempty"`
	S string    `json:"s,omitempty"`
}

// RestoreStats says what RestoreState did.
type RestoreStats struct {
	// Groups were restored into running correlations.
	Groups int
	// Dropped groups belonged to correlation rules that are no longer
	// loaded or whose definition changed, or exceeded Options.MaxGroups.
	Dropped int
}

// stateRef names a correlation rule in saved state.
func stateRef(r *Rule) string {
	switch {
	case r.ID != "":
		return r.ID
	case r.Name != "":
		return r.Name
	}
	return r.Title
}

// signature hashes what decides the meaning of a correlation's state: its
// definition and the rules its inputs resolved to.
func (k *correlator) signature() string {
	h := sha256.New()
	b, _ := json.Marshal(k.c)
	h.Write(b)
	for _, in := range k.inputs {
		h.Write([]byte{0})
		h.Write([]byte(stateRef(in.rule)))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// SaveState writes the state of every correlation rule (its open groups,
// their aggregates and last events) to w as JSON, and returns the number
// of groups written. Each correlation is copied under its own lock, so
// matching may go on meanwhile. RestoreState reads it back, also into an
// engine compiled from other rules.
func (e *Engine) SaveState(w io.Writer, now time.Time) (int, error) {
	doc := stateDoc{Version: stateVersion, Saved: now.UTC(), Correlations: make([]corrState, 0, len(e.correlators))}
	n := 0
	for _, k := range e.correlators {
		cs := corrState{Rule: stateRef(k.rule), Sig: k.signature()}
		k.mu.Lock()
		cs.Now, cs.Evictions = k.now, k.evictions
		keys := make([]string, 0, len(k.groups))
		for key := range k.groups {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			g := k.groups[key]
			gs := groupState{Key: key, Values: g.values, Start: g.start, Last: g.last}
			for _, it := range g.items {
				gs.Items = append(gs.Items, itemState{T: it.t, V: it.v, S: it.s})
			}
			if len(g.seen) > 0 {
				gs.Seen = append([]time.Time(nil), g.seen...)
			}
			if len(g.events) > 0 {
				gs.Events = event.AppendBatch(nil, g.events)
			}
			cs.Groups = append(cs.Groups, gs)
		}
		k.mu.Unlock()
		n += len(cs.Groups)
		doc.Correlations = append(doc.Correlations, cs)
	}
	if err := json.NewEncoder(w).Encode(&doc); err != nil {
		return 0, fmt.Errorf("write correlation state: %w", err)
	}
	return n, nil
}

// RestoreState loads correlation state written by SaveState. Groups of
// correlation rules that are not loaded, or whose definition changed, are
// dropped and counted; restored groups replace groups of the same key.
// Call it before events flow.
func (e *Engine) RestoreState(r io.Reader) (RestoreStats, error) {
	var st RestoreStats
	var doc stateDoc
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return st, fmt.Errorf("read correlation state: %w", err)
	}
	if doc.Version != stateVersion {
		return st, fmt.Errorf("read correlation state: version %d, want %d", doc.Version, stateVersion)
	}
	byRef := make(map[string]*correlator, len(e.correlators))
	for _, k := range e.correlators {
		byRef[stateRef(k.rule)+"\x00"+k.signature()] = k
	}
	for ci := range doc.Correlations {
		cs := &doc.Correlations[ci]
		k := byRef[cs.Rule+"\x00"+cs.Sig]
		if k == nil {
			st.Dropped += len(cs.Groups)
			continue
		}
		groups := make(map[string]*corrGroup, len(cs.Groups))
		for gi := range cs.Groups {
			gs := &cs.Groups[gi]
			g, err := k.restoreGroup(gs)
			if err != nil {
				return st, fmt.Errorf("read correlation state of %s, group %d: %w", cs.Rule, gi, err)
			}
			groups[gs.Key] = g
		}
		k.mu.Lock()
		if cs.Now.After(k.now) {
			k.now = cs.Now
		}
		k.evictions += cs.Evictions
		for key, g := range groups {
			if _, ok := k.groups[key]; !ok && len(k.groups) >= k.opts.MaxGroups {
				st.Dropped++
				continue
			}
			k.groups[key] = g
			st.Groups++
		}
		k.mu.Unlock()
	}
	return st, nil
}

func (k *correlator) restoreGroup(gs *groupState) (*corrGroup, error) {
	g := &corrGroup{values: gs.Values, start: gs.Start, last: gs.Last}
	for _, it := range gs.Items {
		g.items = append(g.items, timedValue{t: it.T, v: it.V, s: it.S})
	}
	if k.c.Type == Temporal || k.c.Type == TemporalOrdered {
		if len(gs.Seen) != len(k.inputs) {
			return nil, fmt.Errorf("%d temporal inputs, the rule has %d", len(gs.Seen), len(k.inputs))
		}
		g.seen = gs.Seen
	}
	if len(gs.Events) > 0 {
		evs, err := event.DecodeBatch(gs.Events)
		if err != nil {
			return nil, err
		}
		if len(evs) > k.opts.MaxEvents {
			evs = evs[len(evs)-k.opts.MaxEvents:]
		}
		g.events = evs
	}
	return g, nil
}
