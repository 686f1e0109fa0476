// Package execact holds exec: a playbook step runs one of the programs
// the node's configuration lists (playbooks.exec), never a shell, with
// the configured environment only, in a bounded time. Without configured
// commands the action refuses to run.
package execact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/wacht-soc/wacht/internal/soar"
)

func init() {
	soar.RegisterAction(soar.ActionInfo{ID: soar.ActionPrefix + "exec", New: func() soar.Action { return new(Exec) }, SideEffects: true})
}

// Limits of a command run.
const (
	defaultTimeout = time.Minute
	maxOutput      = 256 << 10 // bytes kept of stdout and of stderr each
	maxArgs        = 256
)

// Exec is the exec action: command names a configured program; args are
// appended to its configured arguments (each one argument, whatever it
// contains: there is no shell to split or expand them); stdin is written
// to its standard input.
type Exec struct {
	Command string        `json:"command"`
	Args    []string      `json:"args,omitempty"`
	Stdin   string        `json:"stdin,omitempty"`
	Timeout soar.Duration `json:"timeout,omitempty"`
}

// Validate implements soar.Validator.
func (e *Exec) Validate() error {
	if e.Command == "" {
		return errors.New("command is required (a name from the node's playbooks.exec configuration)")
	}
	if len(e.Args) > maxArgs {
		return fmt.Errorf("%d args, at most %d", len(e.Args), maxArgs)
	}
	for i, a := range e.Args {
		if bytes.IndexByte([]byte(a), 0) >= 0 {
			return fmt.Errorf("args[%d] contains a NUL byte", i)
		}
	}
	return nil
}

// capped keeps the first max bytes written and counts the rest.
type capped struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	room := max(c.max-c.buf.Len(), 0)
	if len(p) > room {
		c.truncated = true
		p = p[:room]
	}
	c.buf.Write(p)
	return n, nil
}

// Run implements soar.Action.
func (e *Exec) Run(ctx context.Context, call *soar.Call) (any, error) {
	cmdCfg, ok := call.Deps.Commands[e.Command]
	if !ok {
		if len(call.Deps.Commands) == 0 {
			return nil, soar.Permanent(errors.New("exec is off on this node (no playbooks.exec commands are configured)"))
		}
		return nil, soar.Permanent(fmt.Errorf("command %q is not configured in playbooks.exec", e.Command))
	}
	limit := cmdCfg.Timeout
	if limit <= 0 {
		limit = defaultTimeout
	}
	if t := e.Timeout.D(); t > 0 && t < limit {
		limit = t
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	args := append(append([]string{}, cmdCfg.Args...), e.Args...)
	cmd := exec.CommandContext(ctx, cmdCfg.Path, args...)
	// A clean environment: only what the configuration lists, plus the
	// step's identity so the program can deduplicate redeliveries.
	cmd.Env = append(append([]string{}, cmdCfg.Env...), "WACHT_IDEMPOTENCY_KEY="+call.IdempotencyKey, "WACHT_RUN_ID="+call.RunID)
	cmd.Dir = cmdCfg.Dir
	if cmd.Dir == "" {
		cmd.Dir = os.TempDir()
	}
	cmd.WaitDelay = 2 * time.Second
	if e.Stdin != "" {
		cmd.Stdin = bytes.NewReader([]byte(e.Stdin))
	}
	stdout, stderr := &capped{max: maxOutput}, &capped{max: maxOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := cmd.Run()
	if cmd.ProcessState == nil { // it did not start
		return nil, soar.Permanent(fmt.Errorf("command %s: %w", e.Command, err))
	}
	out := map[string]any{"stdout": stdout.buf.String(), "stderr": stderr.buf.String(), "exit_code": cmd.ProcessState.ExitCode(),
		"duration_seconds": time.Since(start).Seconds()}
	if stdout.truncated || stderr.truncated {
		out["truncated"] = true
	}
	if err == nil {
		return out, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("command %s: timed out after %s", e.Command, limit)
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		tail := stderr.buf.String()
		if len(tail) > 500 {
			tail = tail[len(tail)-500:]
		}
		return nil, fmt.Errorf("command %s exited with status %d: %s", e.Command, exitErr.ExitCode(), tail)
	}
	return nil, soar.Permanent(fmt.Errorf("command %s: %w", e.Command, err))
}

var (
	_ soar.Action    = (*Exec)(nil)
	_ soar.Validator = (*Exec)(nil)
)
