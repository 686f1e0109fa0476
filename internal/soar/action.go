package soar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// ActionPrefix starts every action id: a playbook's `uses: http.request`
// names the action registered as "wacht.actions.http.request".
const ActionPrefix = "wacht.actions."

// Action is one connector call. A fresh value is made by ActionInfo.New for
// every attempt and the step's templated `with` is decoded into it
// strictly (an unknown key is an error naming the key), so the value is
// both the typed configuration and the code that runs it.
type Action interface {
	// Run performs the action. The returned output is stored (masked) and
	// visible to later steps as steps.<id>.output.
	Run(ctx context.Context, call *Call) (any, error)
}

// Validator is an optional Action capability: checks of the decoded
// configuration that do not need the outside world.
type Validator interface {
	Validate() error
}

// Pauser is an optional Action capability: the step does not run code but
// waits durably, for a person's decision (Role set) or for a time (Role
// empty). The engine persists the deadline, so the wait survives restarts.
type Pauser interface {
	Pause() Pause
}

// Pause describes a durable wait.
type Pause struct {
	// Role may decide (approval); empty for a plain timer.
	Role    string
	Message string
	// Timeout ends the wait: an approval times out as not approved, a
	// timer completes.
	Timeout time.Duration
}

// ActionInfo registers an action.
type ActionInfo struct {
	// ID is the dotted id, "wacht.actions.http.request".
	ID string
	// New returns a zero configuration to decode `with` into.
	New func() Action
	// SideEffects marks actions that change the outside world; the run
	// history shows them and dry runs skip them.
	SideEffects bool
}

// Short is the id without ActionPrefix (what `uses:` says).
func (a ActionInfo) Short() string { return strings.TrimPrefix(a.ID, ActionPrefix) }

var actions = struct {
	sync.RWMutex
	m map[string]ActionInfo
}{m: map[string]ActionInfo{}}

// RegisterAction adds an action; call it from init. A duplicate or
// malformed id panics: two connectors claiming one name is a programming
// error that must fail at start.
func RegisterAction(info ActionInfo) {
	if !strings.HasPrefix(info.ID, ActionPrefix) || len(info.ID) == len(ActionPrefix) || info.New == nil {
		panic("soar: bad action registration " + info.ID)
	}
	actions.Lock()
	defer actions.Unlock()
	if _, ok := actions.m[info.ID]; ok {
		panic("soar: action " + info.ID + " registered twice")
	}
	actions.m[info.ID] = info
}

// LookupAction finds an action by its short (`http.request`) or full id.
func LookupAction(uses string) (ActionInfo, bool) {
	id := uses
	if !strings.HasPrefix(id, ActionPrefix) {
		id = ActionPrefix + uses
	}
	actions.RLock()
	defer actions.RUnlock()
	a, ok := actions.m[id]
	return a, ok
}

// Actions lists the registered actions by id.
func Actions() []ActionInfo {
	actions.RLock()
	defer actions.RUnlock()
	out := make([]ActionInfo, 0, len(actions.m))
	for _, a := range actions.m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// DecodeAction makes the action's configuration from a step's `with`
// (already templated): unknown keys and wrong types are errors.
func DecodeAction(info ActionInfo, with map[string]any) (Action, error) {
	a := info.New()
	if with == nil {
		with = map[string]any{}
	}
	b, err := json.Marshal(with)
	if err != nil {
		return nil, fmt.Errorf("encode with: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(a); err != nil {
		return nil, fmt.Errorf("with: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if v, ok := a.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("with: %w", err)
		}
	}
	return a, nil
}

// Call is what an action gets besides its configuration.
type Call struct {
	Tenant   string
	RunID    string
	StepID   string
	Attempt  int
	Playbook string
	// IncidentID is the case the run belongs to ("" if none).
	IncidentID string
	// AlertID is the triggering alert ("" if none).
	AlertID string
	// IdempotencyKey is stable across re-executions of the same attempt
	// (a crash between the side effect and its record): targets that
	// honour it apply the effect once.
	IdempotencyKey string
	// DryRun asks the action to describe what it would do.
	DryRun bool
	Deps   *Deps
	Now    time.Time
}

// Actor is how the run appears in other domains' records.
func (c *Call) Actor() string { return "playbook:" + c.Playbook }

// Deps are the connectors' ways into the platform and the outside world.
type Deps struct {
	Cases  Cases
	Intel  Intel
	Hunt   Hunt
	Assets Assets
	// HTTP is the client of outgoing requests (tests point it at
	// httptest servers).
	HTTP *http.Client
	// AllowHosts lists hosts ("host" or "host:port") http.request and
	// chat.post may reach; empty allows none except loopback when
	// AllowLoopback is set.
	AllowHosts    []string
	AllowLoopback bool
	// Commands are the programs the exec action may run, by name; none
	// (the default) turns exec off.
	Commands map[string]Command
}

// Command is a program the exec action may run: no shell, a fixed path,
// fixed leading arguments, only the listed environment, a time bound.
type Command struct {
	Path string
	// Args come before the step's arguments.
	Args []string
	// Env is the whole environment ("NAME=value"); nothing is inherited.
	Env []string
	// Dir is the working directory (default: the system's temporary one).
	Dir string
	// Timeout bounds a run (default and upper bound of the step's
	// timeout: 1 minute).
	Timeout time.Duration
}

// CaseLinker is an optional Cases capability: case.link records that two
// incidents are related, on both.
type CaseLinker interface {
	Link(ctx context.Context, tenant, incidentID, otherID, reason, actor string) error
}

// NewIndicator is an indicator a playbook adds (intel.add_indicator).
type NewIndicator struct {
	Type        string   `json:"type"`
	Value       string   `json:"value"`
	Confidence  int      `json:"confidence,omitempty"`
	TLP         string   `json:"tlp,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Description string   `json:"description,omitempty"`
	// ValidFor ends the indicator's validity after this long (0: open).
	ValidFor Duration `json:"valid_for,omitempty"`
}

// IndicatorAdder is an optional Intel capability: intel.add_indicator.
type IndicatorAdder interface {
	// AddIndicator stores (or refreshes) an indicator; the result is its
	// stored form as a JSON-like value.
	AddIndicator(ctx context.Context, tenant string, ind NewIndicator, actor string) (any, error)
}

// Cases is the incident response domain as playbooks use it.
type Cases interface {
	Comment(ctx context.Context, tenant, incidentID, text, actor string) error
	Assign(ctx context.Context, tenant, incidentID, assignee, actor string) error
	SetStatus(ctx context.Context, tenant, incidentID, status, actor string) error
	SetPriority(ctx context.Context, tenant, incidentID, priority, actor string) error
	AddTask(ctx context.Context, tenant, incidentID, title, assignee, actor string) (string, error)
	AddObservable(ctx context.Context, tenant, incidentID, kind, value, actor string) error
	// Incident returns the case as a JSON-like map (the `incident`
	// variable of a run started from a case); store.ErrNotFound if absent.
	Incident(ctx context.Context, tenant, id string) (map[string]any, error)
}

// Intel is threat intelligence as playbooks use it.
type Intel interface {
	// Lookup returns what is known about a value as a JSON-like value.
	Lookup(ctx context.Context, tenant, value string) (any, error)
}

// Hunt searches stored events (LogsQL) as playbooks use it.
type Hunt interface {
	// Search returns up to limit rows of the tenant's events since since.
	Search(ctx context.Context, tenant, logsql string, since time.Time, limit int) ([]map[string]string, error)
}

// Assets is the asset inventory as playbooks use it.
type Assets interface {
	// Lookup finds the asset with an identifier (hostname, ip, mac…) as a
	// JSON-like map; store.ErrNotFound if none.
	Lookup(ctx context.Context, tenant, kind, value string) (map[string]any, error)
}

// ErrUnavailable is returned by actions whose domain is not wired.
var ErrUnavailable = errors.New("not available on this node")

// PermanentError marks an action failure that retrying cannot fix (bad
// configuration, 4xx answer): the engine fails the step without retrying.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{err}
}
