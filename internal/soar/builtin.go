package soar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// The engine's own actions: approval (a person decides) and wait (a
// durable timer). Both are Pausers: they run no code, the engine parks the
// step until a decision or the deadline.
func init() {
	RegisterAction(ActionInfo{ID: ActionPrefix + "approval", New: func() Action { return new(ApprovalAction) }})
	RegisterAction(ActionInfo{ID: ActionPrefix + "wait", New: func() Action { return new(WaitAction) }})
}

// ApprovalAction asks a holder of Role to approve; the step's output is
// {approved, by, role, comment} or {approved: false, timed_out: true}.
type ApprovalAction struct {
	Role    string   `json:"role"`
	Timeout Duration `json:"timeout"`
	Message string   `json:"message"`
}

// Validate implements Validator.
func (a *ApprovalAction) Validate() error {
	if a.Role == "" {
		return errors.New("role is required")
	}
	if a.Timeout <= 0 {
		return errors.New("timeout is required (e.g. 30m)")
	}
	return nil
}

// Pause implements Pauser.
func (a *ApprovalAction) Pause() Pause {
	return Pause{Role: a.Role, Message: a.Message, Timeout: a.Timeout.D()}
}

// Run is never called for a Pauser.
func (a *ApprovalAction) Run(context.Context, *Call) (any, error) {
	return nil, errors.New("approval runs through the engine")
}

// WaitAction pauses the run for Duration (durably: the timer survives
// restarts).
type WaitAction struct {
	Duration Duration `json:"duration"`
}

// Validate implements Validator.
func (a *WaitAction) Validate() error {
	if a.Duration <= 0 {
		return errors.New("duration is required (e.g. 10m)")
	}
	return nil
}

// Pause implements Pauser.
func (a *WaitAction) Pause() Pause { return Pause{Timeout: a.Duration.D()} }

// Run is never called for a Pauser.
func (a *WaitAction) Run(context.Context, *Call) (any, error) {
	return nil, errors.New("wait runs through the engine")
}

// CheckURL refuses outgoing requests to hosts not on the allow-list.
func (d *Deps) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, Permanent(fmt.Errorf("url %q: want an http or https URL", raw))
	}
	host := strings.ToLower(u.Hostname())
	if d.AllowLoopback {
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			return u, nil
		}
	}
	if slices.Contains(d.AllowHosts, host) || slices.Contains(d.AllowHosts, strings.ToLower(u.Host)) || slices.Contains(d.AllowHosts, "*") {
		return u, nil
	}
	return nil, Permanent(fmt.Errorf("host %s is not on the allow-list of outgoing requests", u.Host))
}

var (
	_ Action    = (*ApprovalAction)(nil)
	_ Pauser    = (*ApprovalAction)(nil)
	_ Validator = (*ApprovalAction)(nil)
	_ Action    = (*WaitAction)(nil)
	_ Pauser    = (*WaitAction)(nil)
	_ Validator = (*WaitAction)(nil)
)
