package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

// Grouping works on a batch of alerts in one transaction with a fixed
// number of statements (not one set per alert): look up duplicates, group
// keys and the incidents they point at with one query each, decide in
// memory in input order, then write alerts, keys, observables and new
// incidents as multi-row inserts and each touched incident once.

// RaiseAlerts is RaiseAlert for a batch, in one transaction.
func (s *Service) RaiseAlerts(ctx context.Context, tenant string, ins []AlertInput) ([]Alert, error) {
	tenant, err := validTenant(tenant)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	norm := make([]AlertInput, len(ins))
	for i, in := range ins {
		if norm[i], err = s.normalize(ctx, tenant, in, now); err != nil {
			return nil, err
		}
	}
	var out []Alert
	var evs []bus.Event
	var b *batch
	for attempt := 0; ; attempt++ {
		err = s.db.Tx(ctx, func(tx *store.Tx) error {
			b = &batch{s: s, tx: tx, tenant: tenant, now: now, incidents: map[string]*incState{}, keys: map[string]keyRef{}}
			var err error
			out, evs, err = b.run(ctx, norm)
			return err
		})
		if err == nil && b.written != nil {
			s.keys.apply(tenant, b.gen, b.gen+1, b.written)
		}
		// A concurrent writer changed an incident we grouped into (only
		// possible on PostgreSQL): group again on the new state.
		if !errors.Is(err, ErrConflict) || attempt >= 5 {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("raise alerts: %w", err)
	}
	s.publish(ctx, evs)
	return out, nil
}

type incState struct {
	inc        Incident
	created    bool
	retargeted bool // priority and SLA targets changed
	ordered    bool // in batch.order
	changes    []string
}

type keyRef struct {
	incident string
	lastSeen time.Time
	dirty    bool // to write
}

type batch struct {
	s         *Service
	tx        *store.Tx
	tenant    string
	now       time.Time
	incidents map[string]*incState
	order     []string
	keys      map[string]keyRef
	gen       int64             // the tenant's key generation read
	written   map[string]keyRef // keys written (then the generation is gen+1)
}

type dupRef struct {
	a   *Alert
	idx int // index in this batch; -1 if stored before it
}

const inChunk = 500

func anyOf(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (b *batch) run(ctx context.Context, ins []AlertInput) ([]Alert, []bus.Event, error) {
	s, tx, tenant, now := b.s, b.tx, b.tenant, b.now
	sup, err := s.loadSuppressor(ctx, tx, tenant, now)
	if err != nil {
		return nil, nil, err
	}
	// Duplicates already stored.
	dups := map[string]dupRef{}
	if s.group.DedupWindow > 0 {
		var dk []string
		for _, in := range ins {
			dk = append(dk, in.DedupKey)
		}
		slices.Sort(dk)
		dk = slices.Compact(dk)
		for i := 0; i < len(dk); i += inChunk {
			part := dk[i:min(len(dk), i+inChunk)]
			args := append([]any{tenant, store.TimeOf(now.Add(-s.group.DedupWindow))}, anyOf(part)...)
			rows, err := tx.Query(ctx, "SELECT "+alertCols+" FROM case_alerts WHERE tenant = ? AND last_seen_at >= ? AND dedup_key IN ("+
				store.Placeholders(len(part))+") ORDER BY last_seen_at", args...)
			if err != nil {
				return nil, nil, fmt.Errorf("find duplicate alerts: %w", err)
			}
			for rows.Next() {
				a, err := scanAlert(rows, false)
				if err != nil {
					rows.Close()
					return nil, nil, fmt.Errorf("find duplicate alerts: %w", err)
				}
				dups[a.DedupKey] = dupRef{a: &a, idx: -1}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, nil, fmt.Errorf("find duplicate alerts: %w", err)
			}
		}
	}
	out := make([]Alert, len(ins))
	bumped := map[string]*Alert{}
	var fresh []int
	lateDups := map[int]int{} // repeat → first in this batch
	for i, in := range ins {
		if d, ok := dups[in.DedupKey]; ok {
			d.a.Count++
			d.a.LastSeenAt = now
			if d.idx < 0 {
				bumped[d.a.ID] = d.a
				out[i] = *d.a
				out[i].Deduplicated = true
			} else {
				lateDups[i] = d.idx // copied once grouped
			}
			continue
		}
		sc, expl := score(in.Severity, in.AssetCriticality, in.IndicatorConfidence, in.Attack)
		a := Alert{ID: newID("alr_"), Tenant: tenant, Source: in.Source, RuleID: in.RuleID, RuleTitle: in.RuleTitle,
			Severity: in.Severity, Attack: in.Attack, Entities: in.Entities, DedupKey: in.DedupKey, Count: 1, Score: sc,
			Priority: priorityOf(sc), Explanation: expl, IndicatorConfidence: in.IndicatorConfidence,
			AssetCriticality: in.AssetCriticality, Logsource: in.Logsource, Description: in.Description,
			EventTime: in.EventTime, CreatedAt: now, LastSeenAt: now, Events: in.Events}
		if a.Attack == nil {
			a.Attack = []string{}
		}
		if a.Events == nil {
			a.Events = []json.RawMessage{}
		}
		if x := sup.match(a); x != "" {
			a.ID, a.Suppressed, a.SuppressedBy = "", true, x
			out[i] = a
			continue
		}
		out[i] = a
		if s.group.DedupWindow > 0 {
			dups[in.DedupKey] = dupRef{a: &out[i], idx: i}
		}
		fresh = append(fresh, i)
	}
	// Group keys and the open incidents they point at.
	keysOf := make(map[int][]string, len(fresh))
	var all []string
	for _, i := range fresh {
		keysOf[i] = s.groupKeys(ins[i])
		all = append(all, keysOf[i]...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	if err := b.lookupKeys(ctx, all); err != nil {
		return nil, nil, err
	}
	// Decide in input order.
	type obsKey struct{ inc, kind, value string }
	obs := map[obsKey]string{}
	var obsOrder []obsKey
	for _, i := range fresh {
		a, in := &out[i], ins[i]
		var st *incState
		var best time.Time
		for _, k := range keysOf[i] {
			ref, ok := b.keys[k]
			if !ok {
				continue
			}
			cand := b.incidents[ref.incident]
			if cand == nil || cand.inc.Status == StatusClosed || cand.inc.MergedInto != "" {
				continue
			}
			if st == nil || ref.lastSeen.After(best) {
				st, best = cand, ref.lastSeen
			}
		}
		if st == nil {
			title := in.RuleTitle
			for _, e := range in.Entities {
				if e.Kind == "host" || e.Kind == "user" {
					title += " on " + e.String()
					break
				}
			}
			inc := s.newIncident(tenant, now, title, "", in.Severity, a.Score, a.Explanation)
			inc.Description = in.Description
			st = &incState{inc: inc, created: true}
			b.incidents[inc.ID] = st
			b.order = append(b.order, inc.ID)
		} else if !st.ordered {
			b.order = append(b.order, st.inc.ID)
		}
		st.ordered = true
		known := make(map[Entity]bool, len(st.inc.Entities))
		for _, e := range st.inc.Entities {
			known[e] = true
		}
		b.fold(st, a, in)
		for _, k := range keysOf[i] {
			// A key refreshed recently for the same incident is not
			// rewritten: grouping windows are hours, a few minutes of
			// slack saves a write per key per alert.
			if ref, ok := b.keys[k]; ok && ref.incident == st.inc.ID && now.Sub(ref.lastSeen) < s.group.Window/96 {
				continue
			}
			b.keys[k] = keyRef{incident: st.inc.ID, lastSeen: now, dirty: true}
		}
		for _, e := range in.Entities {
			if known[e] && !st.created {
				continue // already an observable of the incident
			}
			k := obsKey{st.inc.ID, e.Kind, e.Value}
			if _, ok := obs[k]; !ok {
				obs[k] = a.ID
				obsOrder = append(obsOrder, k)
			}
		}
	}
	for i, first := range lateDups {
		out[i] = out[first]
		out[i].Deduplicated = true
	}
	// Write.
	for _, a := range bumped {
		if _, err := tx.Exec(ctx, "UPDATE case_alerts SET hit_count = ?, last_seen_at = ? WHERE tenant = ? AND id = ?",
			a.Count, store.TimeOf(now), tenant, a.ID); err != nil {
			return nil, nil, fmt.Errorf("count repeat of alert %s: %w", a.ID, err)
		}
	}
	var alertRows, keyRows, obsRows [][]any
	for _, i := range fresh {
		alertRows = append(alertRows, alertInsertArgs(&out[i]))
	}
	for _, k := range all {
		if ref, ok := b.keys[k]; ok && ref.dirty {
			keyRows = append(keyRows, []any{tenant, k, ref.incident, store.TimeOf(now)})
			if b.written == nil {
				b.written = map[string]keyRef{}
			}
			b.written[k] = ref
		}
	}
	if b.written != nil {
		if err := setGroupGen(ctx, tx, tenant, b.gen+1); err != nil {
			return nil, nil, err
		}
	}
	for _, k := range obsOrder {
		obsRows = append(obsRows, []any{tenant, newID("obs_"), k.inc, k.kind, k.value, string(TLPAmber), string(PAPAmber), "alert " + obs[k], store.TimeOf(now)})
	}
	if err := insertRows(ctx, tx, "INSERT INTO case_alerts ("+alertCols+", events)", alertRows, ""); err != nil {
		return nil, nil, fmt.Errorf("insert alerts: %w", err)
	}
	if err := insertRows(ctx, tx, "INSERT INTO case_group_keys (tenant, gkey, incident_id, last_seen_at)", keyRows,
		"ON CONFLICT (tenant, gkey) DO UPDATE SET incident_id = excluded.incident_id, last_seen_at = excluded.last_seen_at"); err != nil {
		return nil, nil, fmt.Errorf("record group keys: %w", err)
	}
	if err := insertRows(ctx, tx, "INSERT INTO case_observables (tenant, id, incident_id, kind, value, tlp, pap, source, first_seen_at)", obsRows,
		"ON CONFLICT (tenant, incident_id, kind, value) DO NOTHING"); err != nil {
		return nil, nil, fmt.Errorf("record observables: %w", err)
	}
	var evs []bus.Event
	for _, a := range out {
		if !a.Deduplicated && !a.Suppressed {
			ev := a
			ev.Events = nil
			evs = append(evs, bus.Event{Type: EventAlertCreated, Tenant: tenant, Subject: a.ID, Actor: a.Source, Time: a.CreatedAt, Data: ev})
		}
	}
	// Repeats raised a stored alert's count: one alert.updated each.
	bumpedIDs := make([]string, 0, len(bumped))
	for id := range bumped {
		bumpedIDs = append(bumpedIDs, id)
	}
	slices.Sort(bumpedIDs)
	for _, id := range bumpedIDs {
		ev := *bumped[id]
		ev.Events = nil
		evs = append(evs, bus.Event{Type: EventAlertUpdated, Tenant: tenant, Subject: id, Actor: ev.Source, Time: now, Data: ev})
	}
	var created []*Incident
	for _, id := range b.order {
		if st := b.incidents[id]; st.created {
			created = append(created, &st.inc)
		}
	}
	if err := s.createIncidents(ctx, tx, created, SystemActor, "opened from alerts"); err != nil {
		return nil, nil, err
	}
	var grown []*incState
	for _, id := range b.order {
		if st := b.incidents[id]; !st.created {
			grown = append(grown, st)
		}
	}
	if err := s.saveGrouped(ctx, tx, tenant, grown); err != nil {
		return nil, nil, err
	}
	for _, id := range b.order {
		st := b.incidents[id]
		if st.created {
			evs = append(evs, bus.Event{Type: EventIncidentCreated, Tenant: tenant, Subject: id, Actor: SystemActor, Data: st.inc})
			continue
		}
		evs = append(evs, bus.Event{Type: EventIncidentUpdated, Tenant: tenant, Subject: id, Actor: SystemActor,
			Data: IncidentChange{Incident: st.inc, Changes: st.changes}})
	}
	return out, evs, nil
}

// groupedCols are the incident columns grouping changes (fold), with
// their PostgreSQL types and values; slaCols change only with the
// priority (setTargets), which moves the next SLA check too. Leaving them
// out when they did not change spares an index update per incident.
type groupedCol struct {
	name, pgType string
	val          func(inc *Incident) any
}

var groupedCols = []groupedCol{
	{"severity", "TEXT", func(inc *Incident) any { return string(inc.Severity) }},
	{"priority", "TEXT", func(inc *Incident) any { return string(inc.Priority) }},
	{"score", "BIGINT", func(inc *Incident) any { return inc.Score }},
	{"explanation", "TEXT", func(inc *Incident) any { return mustJSON(inc.Explanation) }},
	{"alert_count", "BIGINT", func(inc *Incident) any { return inc.AlertCount }},
	{"entities", "TEXT", func(inc *Incident) any { return mustJSON(inc.Entities) }},
	{"attack", "TEXT", func(inc *Incident) any { return mustJSON(inc.Attack) }},
	{"rules", "TEXT", func(inc *Incident) any { return mustJSON(inc.Rules) }},
	{"first_alert_at", "TIMESTAMPTZ", func(inc *Incident) any { return tsOrNil(inc.FirstAlertAt) }},
	{"last_alert_at", "TIMESTAMPTZ", func(inc *Incident) any { return tsOrNil(inc.LastAlertAt) }},
	{"updated_at", "TIMESTAMPTZ", func(inc *Incident) any { return tsOrNil(inc.UpdatedAt) }},
}

var slaCols = []groupedCol{
	{"sla_ack_s", "BIGINT", func(inc *Incident) any { return secs(inc.SLA.ackTarget) }},
	{"sla_contain_s", "BIGINT", func(inc *Incident) any { return secs(inc.SLA.containTarget) }},
	{"sla_resolve_s", "BIGINT", func(inc *Incident) any { return secs(inc.SLA.resolveTarget) }},
	{"sla_next_at", "TIMESTAMPTZ", func(inc *Incident) any { return tsOrNil(inc.SLA.nextAt) }},
}

// saveGrouped writes the incidents alerts joined with one UPDATE … FROM
// (VALUES …) per few hundred incidents instead of one statement each,
// checking every incident's version: if any changed since it was read,
// the batch fails with ErrConflict and RaiseAlerts groups again.
func (s *Service) saveGrouped(ctx context.Context, tx *store.Tx, tenant string, incs []*incState) error {
	var plain, retargeted []*Incident
	for _, st := range incs {
		if st.retargeted {
			st.inc.SLA.nextAt = s.nextCheck(&st.inc)
			retargeted = append(retargeted, &st.inc)
		} else {
			plain = append(plain, &st.inc)
		}
	}
	if err := updateIncidents(ctx, tx, tenant, plain, groupedCols); err != nil {
		return err
	}
	return updateIncidents(ctx, tx, tenant, retargeted, append(slices.Clone(groupedCols), slaCols...))
}

func updateIncidents(ctx context.Context, tx *store.Tx, tenant string, incs []*Incident, cols []groupedCol) error {
	if len(incs) == 0 {
		return nil
	}
	pg := tx.Dialect() == store.Postgres
	ncols := len(cols) + 2
	names := []string{"id", "version"}
	// PostgreSQL types VALUES columns by their first row; parameters would
	// be text.
	first := "(?, CAST(? AS BIGINT)"
	var set strings.Builder
	for i, c := range cols {
		names = append(names, c.name)
		if i > 0 {
			set.WriteString(", ")
		}
		set.WriteString(c.name + " = v." + c.name)
		if pg {
			first += ", CAST(? AS " + c.pgType + ")"
		} else {
			first += ", ?"
		}
	}
	first += ")"
	rest := "(" + store.Placeholders(ncols) + ")"
	per := max(1, min(500, 30000/ncols))
	for i := 0; i < len(incs); i += per {
		chunk := incs[i:min(len(incs), i+per)]
		var q strings.Builder
		q.WriteString("WITH v (" + strings.Join(names, ", ") + ") AS (VALUES ")
		args := make([]any, 0, len(chunk)*ncols+1)
		for j, inc := range chunk {
			if j > 0 {
				q.WriteString(", " + rest)
			} else {
				q.WriteString(first)
			}
			args = append(args, inc.ID, inc.Version)
			for _, c := range cols {
				args = append(args, c.val(inc))
			}
		}
		q.WriteString(") UPDATE case_incidents SET " + set.String() + ", version = case_incidents.version + 1 FROM v" +
			" WHERE case_incidents.tenant = ? AND case_incidents.id = v.id AND case_incidents.version = v.version")
		args = append(args, tenant)
		res, err := tx.Exec(ctx, q.String(), args...)
		if err != nil {
			return fmt.Errorf("update incidents alerts joined: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("update incidents alerts joined: %w", err)
		}
		if int(n) != len(chunk) {
			return fmt.Errorf("update incidents alerts joined: %d of %d changed meanwhile: %w", len(chunk)-int(n), len(chunk), ErrConflict)
		}
		for _, inc := range chunk {
			inc.Version++
		}
	}
	return nil
}

// lookupKeys loads the stored group keys within the window and the
// incidents they point at.
func (b *batch) lookupKeys(ctx context.Context, keys []string) error {
	var err error
	if b.gen, err = groupGen(ctx, b.tx, b.tenant); err != nil {
		return err
	}
	cutoff := b.now.Add(-b.s.group.Window)
	found := b.s.keys.lookup(b.tenant, b.gen, keys, cutoff, b.keys)
	if !found && b.s.keys.shouldRebuild(b.tenant, time.Now()) {
		if err := b.s.keys.rebuild(ctx, b.tx, b.tenant, b.gen, cutoff); err != nil {
			return err
		}
		found = b.s.keys.lookup(b.tenant, b.gen, keys, cutoff, b.keys)
	}
	if !found {
		if err := b.queryKeys(ctx, keys); err != nil {
			return err
		}
	}
	var ids []string
	for _, ref := range b.keys {
		ids = append(ids, ref.incident)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return b.loadIncidents(ctx, ids)
}

// queryKeys reads group keys from the table (when the index cannot say).
func (b *batch) queryKeys(ctx context.Context, keys []string) error {
	for i := 0; i < len(keys); i += inChunk {
		part := keys[i:min(len(keys), i+inChunk)]
		args := append([]any{b.tenant, store.TimeOf(b.now.Add(-b.s.group.Window))}, anyOf(part)...)
		// Closed and merged incidents are skipped once loaded (no join:
		// it would read each incident row once per key).
		rows, err := b.tx.Query(ctx, `SELECT gkey, incident_id, last_seen_at FROM case_group_keys
WHERE tenant = ? AND last_seen_at >= ? AND gkey IN (`+store.Placeholders(len(part))+`)`, args...)
		if err != nil {
			return fmt.Errorf("find incidents to group into: %w", err)
		}
		for rows.Next() {
			var k, id string
			var seen store.Timestamp
			if err := rows.Scan(&k, &id, &seen); err != nil {
				rows.Close()
				return fmt.Errorf("find incidents to group into: %w", err)
			}
			b.keys[k] = keyRef{incident: id, lastSeen: seen.Time}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find incidents to group into: %w", err)
		}
	}
	return nil
}

// loadIncidents reads the incidents group keys point at.
func (b *batch) loadIncidents(ctx context.Context, ids []string) error {
	for i := 0; i < len(ids); i += inChunk {
		part := ids[i:min(len(ids), i+inChunk)]
		rows, err := b.tx.Query(ctx, "SELECT "+incidentCols+" FROM case_incidents WHERE tenant = ? AND id IN ("+store.Placeholders(len(part))+")",
			append([]any{b.tenant}, anyOf(part)...)...)
		if err != nil {
			return fmt.Errorf("load incidents to group into: %w", err)
		}
		for rows.Next() {
			inc, err := scanIncident(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("load incidents to group into: %w", err)
			}
			b.incidents[inc.ID] = &incState{inc: inc}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("load incidents to group into: %w", err)
		}
	}
	return nil
}

// fold adds an alert to an incident's aggregates.
func (b *batch) fold(st *incState, a *Alert, in AlertInput) {
	inc := &st.inc
	a.IncidentID = inc.ID
	inc.AlertCount++
	if inc.FirstAlertAt.IsZero() {
		inc.FirstAlertAt = b.now
	}
	inc.LastAlertAt, inc.UpdatedAt = b.now, b.now
	if in.Severity.Rank() > inc.Severity.Rank() {
		st.changes = append(st.changes, fmt.Sprintf("severity: %s → %s", inc.Severity, in.Severity))
		inc.Severity = in.Severity
	}
	if a.Score > inc.Score {
		inc.Score, inc.Explanation = a.Score, a.Explanation
		if p := priorityOf(a.Score); !inc.PriorityManual && p != inc.Priority {
			st.changes = append(st.changes, fmt.Sprintf("priority: %s → %s", inc.Priority, p))
			inc.Priority = p
			b.s.setTargets(inc)
			st.retargeted = true
		}
	}
	inc.Entities = unionEntities(inc.Entities, in.Entities, maxIncidentEntites)
	inc.Attack = unionStrings(inc.Attack, in.Attack...)
	if !slices.Contains(inc.Rules, in.RuleID) && len(inc.Rules) < 200 {
		inc.Rules = unionStrings(inc.Rules, in.RuleID)
	}
	if !st.created && len(st.changes) < 20 {
		st.changes = append(st.changes, "alert "+a.ID+": "+in.RuleTitle)
	}
}
