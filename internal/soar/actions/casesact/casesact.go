// Package casesact holds the case actions of playbooks: case.comment,
// case.assign, case.set_status, case.set_priority, case.add_task,
// case.add_observable and case.link. They act on the run's incident unless `incident`
// names another one of the tenant.
package casesact

import (
	"context"
	"errors"

	"github.com/wacht-soc/wacht/internal/soar"
)

func init() {
	for id, f := range map[string]func() soar.Action{
		"case.comment":        func() soar.Action { return new(Comment) },
		"case.assign":         func() soar.Action { return new(Assign) },
		"case.set_status":     func() soar.Action { return new(SetStatus) },
		"case.set_priority":   func() soar.Action { return new(SetPriority) },
		"case.add_task":       func() soar.Action { return new(AddTask) },
		"case.add_observable": func() soar.Action { return new(AddObservable) },
		"case.link":           func() soar.Action { return new(Link) },
	} {
		soar.RegisterAction(soar.ActionInfo{ID: soar.ActionPrefix + id, New: f, SideEffects: true})
	}
}

// Target names the incident (default: the run's).
type Target struct {
	Incident string `json:"incident,omitempty"`
}

func (t Target) resolve(call *soar.Call) (soar.Cases, string, error) {
	if call.Deps.Cases == nil {
		return nil, "", soar.Permanent(soar.ErrUnavailable)
	}
	id := t.Incident
	if id == "" {
		id = call.IncidentID
	}
	if id == "" {
		return nil, "", soar.Permanent(errors.New("the run has no incident; set incident"))
	}
	return call.Deps.Cases, id, nil
}

// Comment is case.comment.
type Comment struct {
	Target
	Text string `json:"text"`
}

// Validate implements soar.Validator.
func (a *Comment) Validate() error { return required(a.Text, "text") }

// Run implements soar.Action.
func (a *Comment) Run(ctx context.Context, call *soar.Call) (any, error) {
	c, id, err := a.resolve(call)
	if err != nil {
		return nil, err
	}
	return map[string]any{"incident": id}, c.Comment(ctx, call.Tenant, id, a.Text, call.Actor())
}

// Assign is case.assign.
type Assign struct {
	Target
	Assignee string `json:"assignee"`
}

// Validate implements soar.Validator.
func (a *Assign) Validate() error { return required(a.Assignee, "assignee") }

// Run implements soar.Action.
func (a *Assign) Run(ctx context.Context, call *soar.Call) (any, error) {
	c, id, err := a.resolve(call)
	if err != nil {
		return nil, err
	}
	return map[string]any{"incident": id, "assignee": a.Assignee}, c.Assign(ctx, call.Tenant, id, a.Assignee, call.Actor())
}

// SetStatus is case.set_status.
type SetStatus struct {
	Target
	Status string `json:"status"`
}

// Validate implements soar.Validator.
func (a *SetStatus) Validate() error { return required(a.Status, "status") }

// Run implements soar.Action.
func (a *SetStatus) Run(ctx context.Context, call *soar.Call) (any, error) {
	c, id, err := a.resolve(call)
	if err != nil {
		return nil, err
	}
	return map[string]any{"incident": id, "status": a.Status}, c.SetStatus(ctx, call.Tenant, id, a.Status, call.Actor())
}

// SetPriority is case.set_priority.
type SetPriority struct {
	Target
	Priority string `json:"priority"`
}

// Validate implements soar.Validator.
func (a *SetPriority) Validate() error { return required(a.Priority, "priority") }

// Run implements soar.Action.
func (a *SetPriority) Run(ctx context.Context, call *soar.Call) (any, error) {
	c, id, err := a.resolve(call)
	if err != nil {
		return nil, err
	}
	return map[string]any{"incident": id, "priority": a.Priority}, c.SetPriority(ctx, call.Tenant, id, a.Priority, call.Actor())
}

// AddTask is case.add_task.
type AddTask struct {
	Target
	Title    string `json:"title"`
	Assignee string `json:"assignee,omitempty"`
}

// Validate implements soar.Validator.
func (a *AddTask) Validate() error { return required(a.Title, "title") }

// Run implements soar.Action.
func (a *AddTask) Run(ctx context.Context, call *soar.Call) (any, error) {
	c, id, err := a.resolve(call)
	if err != nil {
		return nil, err
	}
	task, err := c.AddTask(ctx, call.Tenant, id, a.Title, a.Assignee, call.Actor())
	return map[string]any{"incident": id, "task": task}, err
}

// AddObservable is case.add_observable.
type AddObservable struct {
	Target
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Validate implements soar.Validator.
func (a *AddObservable) Validate() error {
	if err := required(a.Kind, "kind"); err != nil {
		return err
	}
	return required(a.Value, "value")
}

// Run implements soar.Action.
func (a *AddObservable) Run(ctx context.Context, call *soar.Call) (any, error) {
	c, id, err := a.resolve(call)
	if err != nil {
		return nil, err
	}
	return map[string]any{"incident": id}, c.AddObservable(ctx, call.Tenant, id, a.Kind, a.Value, call.Actor())
}

// Link is case.link: it records on both incidents that they are related.
type Link struct {
	Target
	To     string `json:"to"`
	Reason string `json:"reason,omitempty"`
}

// Validate implements soar.Validator.
func (a *Link) Validate() error { return required(a.To, "to") }

// Run implements soar.Action.
func (a *Link) Run(ctx context.Context, call *soar.Call) (any, error) {
	c, id, err := a.resolve(call)
	if err != nil {
		return nil, err
	}
	l, ok := c.(soar.CaseLinker)
	if !ok {
		return nil, soar.Permanent(soar.ErrUnavailable)
	}
	if a.To == id {
		return nil, soar.Permanent(errors.New("an incident cannot be linked to itself"))
	}
	return map[string]any{"incident": id, "linked": a.To}, l.Link(ctx, call.Tenant, id, a.To, a.Reason, call.Actor())
}

func required(v, name string) error {
	if v == "" {
		return errors.New(name + " is required")
	}
	return nil
}

var (
	_ soar.Action    = (*Comment)(nil)
	_ soar.Validator = (*Comment)(nil)
	_ soar.Action    = (*Assign)(nil)
	_ soar.Action    = (*SetStatus)(nil)
	_ soar.Action    = (*SetPriority)(nil)
	_ soar.Action    = (*AddTask)(nil)
	_ soar.Action    = (*AddObservable)(nil)
	_ soar.Validator = (*AddObservable)(nil)
	_ soar.Action    = (*Link)(nil)
	_ soar.Validator = (*Link)(nil)
)
