// Package soar runs playbooks: YAML documents whose steps call connectors
// (HTTP, chat, cases, threat intel…) in a DAG, triggered by domain events
// with CEL conditions, paused for human approval where it matters, and
// durable: every run and step state is in the state database, so a run
// survives a crash of the node that ran it and continues on any node.
//
// Durability, in short: a step is claimed (a lease in soar_steps, taken
// with FOR UPDATE SKIP LOCKED), executed, and its result committed
// together with the readiness of the steps that need it. A runner that
// dies mid-step loses its lease; the step runs again with the same
// attempt number, so side-effecting actions send the same idempotency key
// and the target applies the effect once. Timers (approval deadlines,
// waits, retry back-off) are rows with a due time, not goroutines.
package soar

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

func init() {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("soar", sub)
}

// EventRunFinished is published when a run ends (succeeded, failed,
// cancelled); Data is the RunSummary.
const EventRunFinished = "playbook.run.finished"

// Approval events (the audit trail listens to them).
const (
	EventApprovalRequested = "playbook.approval.requested"
	EventApprovalDecided   = "playbook.approval.decided"
)

// RunStatus is the state of a run.
type RunStatus string

// Run states.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCancelled RunStatus = "cancelled"
)

// Terminal reports whether the run has ended.
func (s RunStatus) Terminal() bool {
	switch s {
	case RunRunning:
		return false
	case RunSucceeded, RunFailed, RunCancelled:
		return true
	}
	return true
}

// StepStatus is the state of one step of a run.
type StepStatus string

// Step states.
const (
	StepPending   StepStatus = "pending"
	StepReady     StepStatus = "ready"
	StepRunning   StepStatus = "running"
	StepWaiting   StepStatus = "waiting"
	StepSucceeded StepStatus = "succeeded"
	StepFailed    StepStatus = "failed"
	StepSkipped   StepStatus = "skipped"
	// StepCancelled ends the unfinished steps of a cancelled run.
	StepCancelled StepStatus = "cancelled"
)

// Terminal reports whether the step is done.
func (s StepStatus) Terminal() bool {
	switch s {
	case StepPending, StepReady, StepRunning, StepWaiting:
		return false
	case StepSucceeded, StepFailed, StepSkipped, StepCancelled:
		return true
	}
	return true
}

// Options configure a Service.
type Options struct {
	Bus *bus.Bus
	// Now is the clock of deadlines, back-off and leases.
	Now func() time.Time
	Log *slog.Logger
	// Deps are the connectors' dependencies (cases, intel, HTTP client).
	Deps Deps
	// SecretKey is the 32-byte AES-256-GCM key of the secrets store (nil:
	// secrets cannot be stored or used).
	SecretKey []byte
	// Node identifies this runner in leases. A restarted node with the
	// same id takes back its own interrupted steps at once; others wait
	// for the lease to expire.
	Node string
	// Workers bounds steps executed at once (default 8).
	Workers int
	// Lease is how long a claimed step is reserved (default 30 s); the
	// runner renews it while the step runs.
	Lease time.Duration
	// Poll is how often the runner looks for due work that no local event
	// announced: other nodes' steps, timers (default 1 s).
	Poll time.Duration
	// Context adds variables for a triggering domain event (the app turns
	// a cases.Alert into alert.level, alert.tags, alert.entities.*).
	Context func(e bus.Event) map[string]any
}

// Service is the SOAR domain.
type Service struct {
	db    *store.DB
	bus   *bus.Bus
	now   func() time.Time
	log   *slog.Logger
	deps  Deps
	key   []byte
	node  string
	opts  Options
	progs programs

	pbMu       sync.RWMutex
	pbCache    map[pbKey]*Playbook
	trigTables map[string]*triggerTable // by tenant

	// inflight cancels the steps this node is executing (by step row id).
	inflight sync.Map

	wake chan struct{}
	// handoff passes the first step of a run started here, already
	// leased to this node, to the loop; slots bounds what is in flight
	// there (a run that finds no slot leaves its step to a claim).
	handoff chan stepRef
	slots   chan struct{}
	commits chan *finishReq
	stop    context.CancelFunc
	done    chan struct{}
	active  sync.WaitGroup
}

type pbKey struct {
	tenant, name string
	version      int64
}

// New returns the service; Start runs triggers and the runner.
func New(db *store.DB, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Node == "" {
		o.Node = newID("node_")
	}
	if o.Deps.HTTP == nil {
		o.Deps.HTTP = &http.Client{Timeout: 5 * time.Minute}
	}
	return &Service{db: db, bus: o.Bus, now: o.Now, log: o.Log, deps: o.Deps, key: o.SecretKey, node: o.Node, opts: o,
		pbCache: map[pbKey]*Playbook{}, trigTables: map[string]*triggerTable{}, wake: make(chan struct{}, 1)}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Node is the runner id in leases.
func (s *Service) Node() string { return s.node }

// Logger is the service's logger (the HTTP layer logs internal errors
// with it).
func (s *Service) Logger() *slog.Logger { return s.log }

// Start subscribes to domain events and starts the runner. It first takes
// back steps this node was running when it stopped.
func (s *Service) Start(ctx context.Context) error {
	if s.stop != nil {
		return errors.New("soar: started twice")
	}
	if err := s.recover(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	s.done = make(chan struct{})
	var sub *bus.Subscription
	if s.bus != nil {
		sub = s.bus.Subscribe("*", 4096)
	}
	s.commits = make(chan *finishReq, 256)
	s.handoff = make(chan stepRef, s.opts.Workers)
	s.slots = make(chan struct{}, s.opts.Workers)
	commitCtx, stopCommits := context.WithCancel(context.WithoutCancel(ctx))
	commitDone := make(chan struct{})
	go func() { defer close(commitDone); s.committer(commitCtx) }()
	go func() {
		defer close(s.done)
		defer func() { stopCommits(); <-commitDone }()
		var wg sync.WaitGroup
		if sub != nil {
			wg.Add(1)
			go func() { defer wg.Done(); s.triggers(ctx, sub) }()
		}
		s.loop(ctx)
		if sub != nil {
			sub.Close()
		}
		wg.Wait()
		s.active.Wait()
	}()
	return nil
}

// Stop ends the runner; steps in flight are cancelled and their leases
// left to expire (or to be taken back by this node at its next start).
func (s *Service) Stop() {
	if s.stop == nil {
		return
	}
	s.stop()
	<-s.done
}

// poke wakes the runner for work that is due now.
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// newID returns prefix + 16 hex digits of the wall clock + 12 random, so
// ids sort by creation.
func newID(prefix string) string {
	var b [14]byte
	t := uint64(time.Now().UnixNano())
	for i := 7; i >= 0; i-- {
		b[i] = byte(t)
		t >>= 8
	}
	_, _ = rand.Read(b[8:])
	return prefix + hex.EncodeToString(b[:])
}

// UserError is an error whose text may be shown to the caller.
type UserError struct{ msg string }

func (e *UserError) Error() string { return e.msg }

func userErrorf(format string, args ...any) error {
	return &UserError{fmt.Sprintf(format, args...)}
}

// IsUserError reports whether err's message may be shown to the caller.
func IsUserError(err error) bool {
	var ue *UserError
	var ve *ValidationError
	return errors.As(err, &ue) || errors.As(err, &ve)
}

// ErrForbidden is returned when the caller may not decide an approval.
var ErrForbidden = errors.New("forbidden")
