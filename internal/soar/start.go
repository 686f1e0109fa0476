package soar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

// StartRequest starts a run.
type StartRequest struct {
	Playbook string `json:"playbook"`
	// Version pins a version (0: the latest).
	Version int64 `json:"version,omitempty"`
	// Trigger is the event type, "manual" or "replay".
	Trigger string `json:"trigger,omitempty"`
	Subject string `json:"subject,omitempty"`
	Actor   string `json:"actor,omitempty"`
	// Inputs are a manual run's typed inputs.
	Inputs     map[string]any `json:"inputs,omitempty"`
	IncidentID string         `json:"incident_id,omitempty"`
	AlertID    string         `json:"alert_id,omitempty"`
	DryRun     bool           `json:"dry_run,omitempty"`
	// Vars are the trigger's variables (alert, incident, event).
	Vars     map[string]any `json:"-"`
	replayOf string
}

// StartRun starts a playbook by hand (or from a case): its inputs are
// checked against the declared types.
func (s *Service) StartRun(ctx context.Context, tenant string, req StartRequest) (Run, error) {
	if req.Trigger == "" {
		req.Trigger = TriggerManual
	}
	return s.startRun(ctx, tenant, req)
}

// RunFromIncident starts a playbook on a case: the `incident` variable is
// the case and case actions default to it.
func (s *Service) RunFromIncident(ctx context.Context, tenant, incidentID string, req StartRequest) (Run, error) {
	if s.deps.Cases == nil {
		return Run{}, userErrorf("cases are not available on this node")
	}
	inc, err := s.deps.Cases.Incident(ctx, tenant, incidentID)
	if err != nil {
		return Run{}, err
	}
	req.IncidentID, req.Subject, req.Trigger = incidentID, incidentID, TriggerManual
	req.Vars = map[string]any{"incident": inc}
	return s.startRun(ctx, tenant, req)
}

func (s *Service) startRun(ctx context.Context, tenant string, req StartRequest) (Run, error) {
	// With a free hand-off slot the first step is inserted leased to this
	// node and given to the runner loop directly: no claim round trip.
	lease := false
	if s.slots != nil {
		select {
		case s.slots <- struct{}{}:
			lease = true
		default:
		}
	}
	var run Run
	var first stepRef
	var others bool
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		run, first, others, err = s.startRunTx(ctx, tx, tenant, req, lease)
		return err
	})
	if err != nil || first.id == "" {
		if lease {
			<-s.slots
		}
	}
	if err != nil {
		return Run{}, err
	}
	s.log.Info("playbook_run_started", "tenant", tenant, "run", run.ID, "playbook", run.Playbook, "version", run.PlaybookVersion, "trigger", req.Trigger)
	if first.id != "" {
		s.handoff <- first // never blocks: a slot was taken
	}
	if others {
		s.poke()
	}
	return run, nil
}

// startRunTx inserts a run and its steps in tx. With lease, the first step
// that can start is inserted running and leased to this node, and
// returned; others tells whether further steps are ready for a claim.
func (s *Service) startRunTx(ctx context.Context, tx *store.Tx, tenant string, req StartRequest, lease bool) (_ Run, first stepRef, others bool, _ error) {
	pb, version, err := s.playbook(ctx, tx, tenant, req.Playbook, req.Version)
	if err != nil {
		return Run{}, stepRef{}, false, err
	}
	inputs, err := checkInputs(pb, req.Inputs)
	if err != nil {
		return Run{}, stepRef{}, false, err
	}
	vars := map[string]any{}
	for k, v := range req.Vars {
		vars[k] = v
	}
	vars["inputs"] = inputs
	now := s.clock()
	timeout := pb.Timeout.D()
	if timeout <= 0 {
		timeout = DefaultRunTimeout
	}
	ctxJSON, err := json.Marshal(vars)
	if err != nil {
		return Run{}, stepRef{}, false, fmt.Errorf("encode run context: %w", err)
	}
	run := Run{ID: newID("run_"), Tenant: tenant, Playbook: pb.Name, PlaybookVersion: version, Status: RunRunning, Trigger: req.Trigger,
		Subject: req.Subject, StartedBy: req.Actor, IncidentID: req.IncidentID, AlertID: req.AlertID, DryRun: req.DryRun,
		ReplayOf: req.replayOf, CreatedAt: now, Deadline: now.Add(timeout), Version: 1, context: string(ctxJSON)}
	if _, err := tx.Exec(ctx, "INSERT INTO soar_runs ("+runCols+") VALUES ("+store.Placeholders(18)+")",
		run.Tenant, run.ID, run.Playbook, run.PlaybookVersion, string(run.Status), run.Trigger, run.Subject, run.StartedBy,
		run.IncidentID, run.AlertID, run.context, "", boolInt(run.DryRun), run.ReplayOf, store.TimeOf(now), store.Timestamp{},
		store.TimeOf(run.Deadline), run.Version); err != nil {
		return Run{}, stepRef{}, false, fmt.Errorf("start run of %s: %w", pb.Name, err)
	}
	// All steps in one statement.
	var q strings.Builder
	q.WriteString("INSERT INTO soar_steps (" + stepCols + ") VALUES ")
	args := make([]any, 0, 19*len(pb.Steps))
	for i := range pb.Steps {
		status, owner, until, started := StepPending, "", store.Timestamp{}, store.Timestamp{}
		if len(pb.Needs(i)) == 0 && !pb.IsHandler(pb.Steps[i].ID) {
			switch {
			case lease && first.id == "":
				first = stepRef{tenant: tenant, id: stepRowID(run.ID, pb.Steps[i].ID)}
				status, owner, until, started = StepRunning, s.node, store.TimeOf(now.Add(s.opts.Lease)), store.TimeOf(now)
			default:
				status, others = StepReady, true
			}
		}
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(" + store.Placeholders(19) + ")")
		args = append(args, tenant, stepRowID(run.ID, pb.Steps[i].ID), run.ID, pb.Steps[i].ID, i, string(status), 1, store.TimeOf(now), owner,
			until, "", "", "", started, store.Timestamp{}, "", "", "", 1)
	}
	if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
		return Run{}, stepRef{}, false, fmt.Errorf("start run of %s: %w", pb.Name, err)
	}
	return run, first, others, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// checkInputs fills defaults and checks types of a manual run's inputs.
func checkInputs(pb *Playbook, in map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range in {
		decl, ok := pb.Inputs[k]
		if !ok {
			return nil, userErrorf("input %q is not declared by playbook %s", k, pb.Name)
		}
		var good bool
		switch decl.Type {
		case InputString:
			_, good = v.(string)
		case InputNumber:
			switch v.(type) {
			case float64, int, int64:
				good = true
			}
		case InputBool:
			_, good = v.(bool)
		case InputObject:
			good = true
		}
		if !good {
			return nil, userErrorf("input %q: want a %s", k, decl.Type)
		}
		out[k] = v
	}
	for k, decl := range pb.Inputs {
		if _, ok := out[k]; ok {
			continue
		}
		if decl.Default != nil {
			out[k] = jsonValue(decl.Default)
		} else if decl.Required {
			return nil, userErrorf("input %q is required", k)
		}
	}
	return out, nil
}

// Replay starts a new run of the same playbook version with the same
// trigger data.
func (s *Service) Replay(ctx context.Context, tenant, runID, actor string) (Run, error) {
	old, err := getRun(ctx, s.db, tenant, runID)
	if err != nil {
		return Run{}, err
	}
	vars := map[string]any{}
	if err := json.Unmarshal([]byte(old.context), &vars); err != nil {
		return Run{}, fmt.Errorf("decode context of run %s: %w", runID, err)
	}
	inputs, _ := vars["inputs"].(map[string]any)
	delete(vars, "inputs")
	return s.startRun(ctx, tenant, StartRequest{Playbook: old.Playbook, Version: old.PlaybookVersion, Trigger: "replay",
		Subject: old.Subject, Actor: actor, Inputs: inputs, IncidentID: old.IncidentID, AlertID: old.AlertID, DryRun: old.DryRun,
		Vars: vars, replayOf: old.ID})
}

// triggers starts runs for domain events.
func (s *Service) triggers(ctx context.Context, sub *bus.Subscription) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.C():
			if !ok {
				return
			}
			if strings.HasPrefix(e.Type, "playbook.approval.") {
				continue
			}
			if err := s.Trigger(ctx, e); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("playbook_trigger_failed", "type", e.Type, "tenant", e.Tenant, "err", err)
			}
		}
	}
}

// Trigger starts the runs a domain event asks for (the bus subscription
// calls it; tests may call it directly).
func (s *Service) Trigger(ctx context.Context, e bus.Event) error {
	pbs, err := s.triggered(ctx, e.Tenant, e.Type)
	if err != nil || len(pbs) == 0 {
		return err
	}
	vars := s.eventVars(e)
	for _, v := range pbs {
		if sum, ok := e.Data.(RunSummary); ok && sum.Playbook == v.Name {
			continue // a playbook does not trigger itself
		}
		pb, version, err := s.playbook(ctx, s.db, e.Tenant, v.Name, v.Version)
		if err != nil {
			return err
		}
		if cond := pb.On[e.Type].If; cond != "" {
			ok, err := s.progs.cond(cond, vars)
			if err != nil {
				s.log.Warn("playbook_trigger_condition_failed", "playbook", pb.Name, "type", e.Type, "err", err)
				continue
			}
			if !ok {
				continue
			}
		}
		req := StartRequest{Playbook: pb.Name, Version: version, Trigger: e.Type, Subject: e.Subject, Actor: e.Actor, Vars: vars}
		req.AlertID, req.IncidentID = idsOf(e, vars)
		if _, err := s.startRun(ctx, e.Tenant, req); err != nil {
			return err
		}
	}
	return nil
}

// eventVars are the variables of a triggering event: `event` always, and
// the payload under its domain's name (alert.*, incident.*).
func (s *Service) eventVars(e bus.Event) map[string]any {
	data := jsonValue(e.Data)
	at := e.Time
	if at.IsZero() {
		at = s.clock()
	}
	vars := map[string]any{"event": map[string]any{"type": e.Type, "tenant": e.Tenant, "subject": e.Subject, "actor": e.Actor,
		"time": at.UTC().Format(time.RFC3339Nano), "data": data}}
	if dom, _, ok := strings.Cut(e.Type, "."); ok && (dom == "alert" || dom == "incident") {
		vars[dom] = data
	}
	if s.opts.Context != nil {
		for k, v := range s.opts.Context(e) {
			vars[k] = v
		}
	}
	return vars
}

func idsOf(e bus.Event, vars map[string]any) (alertID, incidentID string) {
	if a, ok := vars["alert"].(map[string]any); ok {
		alertID, _ = a["id"].(string)
		incidentID, _ = a["incident_id"].(string)
	}
	if inc, ok := vars["incident"].(map[string]any); ok && incidentID == "" {
		incidentID, _ = inc["id"].(string)
	}
	if incidentID == "" {
		switch dom, _, _ := strings.Cut(e.Type, "."); dom {
		case "incident", "sla", "deadline":
			incidentID = e.Subject
		}
	}
	return alertID, incidentID
}
