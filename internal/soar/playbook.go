package soar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Playbook is the YAML document a user writes:
//
//	name: contain-ssh-bruteforce
//	on:
//	  alert.created:
//	    if: alert.level in ["high", "critical"]
//	steps:
//	  - id: enrich
//	    uses: intel.lookup
//	    with: { value: "${{ alert.entities.source_ip }}" }
//
// A step without `needs` runs after the step above it; `needs: []` makes it
// a root that starts with the run.
type Playbook struct {
	Name        string             `yaml:"name" json:"name"`
	Description string             `yaml:"description,omitempty" json:"description,omitempty"`
	On          map[string]Trigger `yaml:"on" json:"on"`
	Inputs      map[string]Input   `yaml:"inputs,omitempty" json:"inputs,omitempty"`
	// Timeout bounds the whole run (default DefaultRunTimeout).
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Steps   []Step   `yaml:"steps" json:"steps"`

	// handlers are the steps some on_error names (set by Validate).
	handlers map[string]bool
}

// Trigger is one `on:` entry. The key is a domain event type
// (alert.created, incident.updated, sla.breached…), "manual" or
// "schedule".
type Trigger struct {
	// If is a CEL condition over the event (alert, incident, event).
	If string `yaml:"if,omitempty" json:"if,omitempty"`
	// Cron is the schedule of the "schedule" trigger: five fields
	// (minute hour day-of-month month day-of-week) or a descriptor
	// (@hourly, @daily, @every 10m), optionally prefixed by
	// CRON_TZ=Area/City (default UTC).
	Cron string `yaml:"cron,omitempty" json:"cron,omitempty"`
}

// Trigger keys that are not domain events.
const (
	// TriggerManual starts playbooks by hand or from a case.
	TriggerManual = "manual"
	// TriggerSchedule starts playbooks on a cron schedule.
	TriggerSchedule = "schedule"
)

// InputType is the type of a manual run's input.
type InputType string

// Input types.
const (
	InputString InputType = "string"
	InputNumber InputType = "number"
	InputBool   InputType = "boolean"
	InputObject InputType = "object"
)

// Input declares a typed input of manual runs (the `inputs` variable).
type Input struct {
	Type        InputType `yaml:"type" json:"type"`
	Required    bool      `yaml:"required,omitempty" json:"required,omitempty"`
	Default     any       `yaml:"default,omitempty" json:"default,omitempty"`
	Description string    `yaml:"description,omitempty" json:"description,omitempty"`
}

// Step is one node of the run's DAG.
type Step struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	Uses string `yaml:"uses" json:"uses"`
	// Needs lists the steps this one waits for; nil (absent) means the
	// step above.
	Needs *[]string `yaml:"needs,omitempty" json:"needs,omitempty"`
	// If is a CEL condition; false skips the step.
	If   string         `yaml:"if,omitempty" json:"if,omitempty"`
	With map[string]any `yaml:"with,omitempty" json:"with,omitempty"`
	// Retry re-runs a failed attempt with back-off.
	Retry *Retry `yaml:"retry,omitempty" json:"retry,omitempty"`
	// Timeout bounds one attempt (default DefaultStepTimeout).
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// OnError is "fail" (default: the run fails), "continue" (the run
	// goes on; steps needing this one still run) or the id of a handler
	// step: it runs (steps.<id>.error says why), steps needing the failed
	// one are skipped, and the run ends failed once the handler is done.
	// A handler step runs only when a step naming it fails.
	OnError OnError `yaml:"on_error,omitempty" json:"on_error,omitempty"`
	// ForEach is a CEL expression giving a list: the action runs once per
	// element, `item` and `index` being the element and its position in
	// `with`. The step's output is {results: [{index, item, status,
	// output, error}], succeeded, failed}.
	ForEach string `yaml:"for_each,omitempty" json:"for_each,omitempty"`
	// Concurrency bounds the iterations of for_each run at once (default
	// 1: one after the other).
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`

	line int
}

// MaxForEachItems bounds the list of a for_each step.
const MaxForEachItems = 10000

// maxConcurrency bounds a for_each step's concurrency.
const maxConcurrency = 64

// OnError says what a step's final failure does to the run.
type OnError string

// OnError values.
const (
	OnErrorFail     OnError = "fail"
	OnErrorContinue OnError = "continue"
)

// Backoff is how retry delays grow.
type Backoff string

// Backoff kinds.
const (
	BackoffConstant    Backoff = "constant"
	BackoffLinear      Backoff = "linear"
	BackoffExponential Backoff = "exponential"
)

// Retry configures re-running a failed step.
type Retry struct {
	// Attempts is the total number of attempts (≥ 1).
	Attempts int      `yaml:"attempts" json:"attempts"`
	Backoff  Backoff  `yaml:"backoff,omitempty" json:"backoff,omitempty"`
	Delay    Duration `yaml:"delay,omitempty" json:"delay,omitempty"`
	MaxDelay Duration `yaml:"max_delay,omitempty" json:"max_delay,omitempty"`
}

// Defaults of a playbook.
const (
	DefaultStepTimeout = 5 * time.Minute
	DefaultRunTimeout  = 24 * time.Hour
	defaultRetryDelay  = time.Second
)

// Wait is the delay before attempt n+1 after attempt n (n ≥ 1) failed.
func (r *Retry) Wait(n int) time.Duration {
	base := r.Delay.D()
	if base <= 0 {
		base = defaultRetryDelay
	}
	var d time.Duration
	switch r.Backoff {
	case BackoffLinear:
		d = base * time.Duration(n)
	case BackoffExponential:
		d = base << min(n-1, 30)
	case BackoffConstant, "":
		d = base
	default:
		d = base
	}
	if m := r.MaxDelay.D(); m > 0 && (d > m || d <= 0) {
		d = m
	}
	return d
}

// Duration is a time.Duration written as "30m" in YAML and JSON.
type Duration time.Duration

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	return d.parse(s)
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if json.Unmarshal(b, &n) == nil {
			*d = Duration(time.Duration(n * float64(time.Second)))
			return nil
		}
		return fmt.Errorf("duration: want a string like \"30s\"")
	}
	return d.parse(s)
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

func (d *Duration) parse(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a number with a unit (30s, 5m, 1h)", s)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// ValidationError lists a playbook's problems; each names the line and key.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string {
	return "invalid playbook:\n  " + strings.Join(e.Problems, "\n  ")
}

var (
	namePattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,99}$`)
	stepIDPattern  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`)
	triggerPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
)

// Parse reads a playbook strictly (unknown keys are errors naming their
// line) and validates it: unique step ids, known actions with valid
// configurations, needs that exist and form no cycle, CEL that compiles.
func Parse(src []byte) (*Playbook, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	var pb Playbook
	if err := dec.Decode(&pb); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ValidationError{Problems: []string{"empty document"}}
		}
		return nil, &ValidationError{Problems: []string{strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\n ", ""), "yaml: ")}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err == nil {
		stepLines(&root, pb.Steps)
	}
	if err := pb.Validate(); err != nil {
		return nil, err
	}
	return &pb, nil
}

// stepLines records the line of each step for error messages.
func stepLines(root *yaml.Node, steps []Step) {
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "steps" && root.Content[i+1].Kind == yaml.SequenceNode {
			for j, n := range root.Content[i+1].Content {
				if j < len(steps) {
					steps[j].line = n.Line
				}
			}
		}
	}
}

// Validate checks a decoded playbook.
func (pb *Playbook) Validate() error {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if !namePattern.MatchString(pb.Name) {
		add("name: %q must be lower case letters, digits, '-', '_' or '.' (at most 100)", pb.Name)
	}
	if len(pb.On) == 0 {
		add("on: at least one trigger (an event type such as alert.created, or manual)")
	}
	for typ, tr := range pb.On {
		switch {
		case typ == TriggerSchedule:
			if tr.Cron == "" {
				add("on.schedule.cron: missing (e.g. \"0 8 * * 1-5\")")
			} else if _, err := ParseCron(tr.Cron); err != nil {
				add("on.schedule.cron: %v", err)
			}
		case tr.Cron != "":
			add("on.%s.cron: only the schedule trigger has a cron", typ)
		}
		if typ != TriggerManual && typ != TriggerSchedule && !triggerPattern.MatchString(typ) {
			add("on.%s: not an event type (want a dotted name like alert.created, manual or schedule)", typ)
		}
		if tr.If != "" {
			if _, err := compileCondition(tr.If); err != nil {
				add("on.%s.if: %v", typ, err)
			}
		}
	}
	for name, in := range pb.Inputs {
		switch in.Type {
		case InputString, InputNumber, InputBool, InputObject:
		default:
			add("inputs.%s.type: %q is not string, number, boolean or object", name, in.Type)
		}
		if _, sched := pb.On[TriggerSchedule]; sched && in.Required && in.Default == nil {
			add("inputs.%s: a scheduled playbook's required inputs need a default", name)
		}
	}
	if len(pb.Steps) == 0 {
		add("steps: at least one step")
	}
	seen := map[string]int{}
	pb.handlers = map[string]bool{}
	for i := range pb.Steps {
		switch oe := pb.Steps[i].OnError; oe {
		case "", OnErrorFail, OnErrorContinue:
		default:
			pb.handlers[string(oe)] = true
		}
	}
	for i := range pb.Steps {
		st := &pb.Steps[i]
		where := fmt.Sprintf("steps[%d]", i)
		if st.line > 0 {
			where = fmt.Sprintf("line %d: steps[%d]", st.line, i)
		}
		if st.ID != "" {
			where += " (" + st.ID + ")"
		}
		if !stepIDPattern.MatchString(st.ID) {
			add("%s.id: %q must be a letter or '_' followed by letters, digits or '_'", where, st.ID)
		} else if _, dup := seen[st.ID]; dup {
			add("%s.id: %q is used twice", where, st.ID)
		}
		seen[st.ID] = i
		info, ok := LookupAction(st.Uses)
		switch {
		case st.Uses == "":
			add("%s.uses: missing", where)
		case !ok:
			add("%s.uses: unknown action %q", where, st.Uses)
		default:
			if err := checkWith(info, st.With); err != nil {
				add("%s.%v", where, err)
			}
		}
		if st.If != "" {
			if _, err := compileCondition(st.If); err != nil {
				add("%s.if: %v", where, err)
			}
		}
		if err := checkTemplates(st.With); err != nil {
			add("%s.with: %v", where, err)
		}
		switch st.OnError {
		case "", OnErrorFail, OnErrorContinue:
		default:
			h := pb.StepIndex(string(st.OnError))
			switch {
			case h < 0:
				add("%s.on_error: %q is not fail, continue or the id of a step", where, st.OnError)
			case h == i:
				add("%s.on_error: a step cannot handle its own failure", where)
			case pb.Steps[h].Needs != nil && len(*pb.Steps[h].Needs) > 0:
				add("%s.on_error: handler step %q must not have needs (it runs when this step fails)", where, st.OnError)
			}
		}
		if st.ForEach != "" {
			if _, err := compileExpr(st.ForEach); err != nil {
				add("%s.for_each: %v", where, err)
			}
			if ok {
				if _, pause := info.New().(Pauser); pause {
					add("%s.for_each: %s cannot run per item", where, st.Uses)
				}
			}
		}
		if st.Concurrency < 0 || st.Concurrency > maxConcurrency {
			add("%s.concurrency: %d is not between 1 and %d", where, st.Concurrency, maxConcurrency)
		} else if st.Concurrency > 0 && st.ForEach == "" {
			add("%s.concurrency: only a for_each step has a concurrency", where)
		}
		if r := st.Retry; r != nil {
			if r.Attempts < 1 || r.Attempts > 100 {
				add("%s.retry.attempts: %d is not between 1 and 100", where, r.Attempts)
			}
			switch r.Backoff {
			case "", BackoffConstant, BackoffLinear, BackoffExponential:
			default:
				add("%s.retry.backoff: %q is not constant, linear or exponential", where, r.Backoff)
			}
		}
	}
	for i := range pb.Steps {
		for _, n := range pb.Needs(i) {
			if _, ok := seen[n]; !ok {
				add("steps[%d] (%s).needs: no step %q", i, pb.Steps[i].ID, n)
			} else if n == pb.Steps[i].ID {
				add("steps[%d] (%s).needs: a step cannot need itself", i, n)
			}
		}
	}
	if len(probs) == 0 {
		if cyc := pb.cycle(); cyc != nil {
			add("steps: needs form a cycle: %s", strings.Join(cyc, " → "))
		}
	}
	if len(probs) > 0 {
		slices.Sort(probs)
		return &ValidationError{Problems: probs}
	}
	return nil
}

// needsOf is the step's dependencies: its needs, or the nearest step above
// that is not an error handler (a handler has none unless it says so).
func (st *Step) needsOf(all []Step, i int, handlers map[string]bool) []string {
	if st.Needs != nil {
		return *st.Needs
	}
	if handlers[st.ID] {
		return nil
	}
	for j := i - 1; j >= 0; j-- {
		if !handlers[all[j].ID] {
			return []string{all[j].ID}
		}
	}
	return nil
}

// Needs returns the dependencies of step i.
func (pb *Playbook) Needs(i int) []string { return pb.Steps[i].needsOf(pb.Steps, i, pb.handlers) }

// IsHandler reports whether the step is some step's on_error handler.
func (pb *Playbook) IsHandler(id string) bool { return pb.handlers[id] }

// StepIndex finds a step by id (-1 if absent).
func (pb *Playbook) StepIndex(id string) int {
	for i := range pb.Steps {
		if pb.Steps[i].ID == id {
			return i
		}
	}
	return -1
}

// cycle returns a dependency cycle, or nil.
func (pb *Playbook) cycle() []string {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(pb.Steps))
	var stack []string
	var visit func(i int) []string
	visit = func(i int) []string {
		color[i] = grey
		stack = append(stack, pb.Steps[i].ID)
		for _, n := range pb.Needs(i) {
			j := pb.StepIndex(n)
			if j < 0 {
				continue
			}
			switch color[j] {
			case grey:
				k := slices.Index(stack, n)
				return append(slices.Clone(stack[k:]), n)
			case white:
				if c := visit(j); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return nil
	}
	for i := range pb.Steps {
		if color[i] == white {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}

// checkWith decodes a step's configuration strictly. Values that are still
// templates cannot be type-checked before the run; unknown keys can.
func checkWith(info ActionInfo, with map[string]any) error {
	_, err := DecodeAction(info, with)
	if err == nil {
		return nil
	}
	if hasTemplate(with) && !strings.Contains(err.Error(), "unknown field") {
		return nil
	}
	return fmt.Errorf("with (%s): %s", info.Short(), strings.TrimPrefix(err.Error(), "with: "))
}

func hasTemplate(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, "${{")
	case map[string]any:
		for _, e := range x {
			if hasTemplate(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasTemplate(e) {
				return true
			}
		}
	}
	return false
}
