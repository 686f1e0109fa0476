package execact_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/soar"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/execact"
)

func run(t *testing.T, deps *soar.Deps, with map[string]any) (any, error) {
	t.Helper()
	info, ok := soar.LookupAction("exec")
	if !ok {
		t.Fatal("exec not registered")
	}
	act, err := soar.DecodeAction(info, with)
	if err != nil {
		return nil, err
	}
	return act.Run(context.Background(), &soar.Call{RunID: "run_1", IdempotencyKey: "run_1/x/1", Deps: deps, Now: time.Now()})
}

func tool(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

// TestExec: off by default; arguments are passed as they are (no shell
// expands them); the environment holds only what is configured; a slow
// command is stopped at its timeout; unknown keys are refused.
func TestExec(t *testing.T) {
	t.Setenv("WACHT_EXEC_LEAK", "secret-from-parent")
	if _, err := run(t, &soar.Deps{}, map[string]any{"command": "echo"}); err == nil || !strings.Contains(err.Error(), "exec is off") {
		t.Fatalf("off by default: %v", err)
	}
	deps := &soar.Deps{Commands: map[string]soar.Command{
		"echo":  {Path: tool(t, "echo"), Args: []string{"-n"}},
		"env":   {Path: tool(t, "env"), Env: []string{"ONLY=this"}},
		"sleep": {Path: tool(t, "sleep"), Timeout: 10 * time.Second},
		"false": {Path: tool(t, "false")},
	}}
	out, err := run(t, deps, map[string]any{"command": "echo", "args": []any{"$(id)", "; rm -rf /", "*"}})
	if err != nil || out.(map[string]any)["stdout"] != "$(id) ; rm -rf / *" {
		t.Fatalf("echo: %v %v", out, err)
	}
	out, err = run(t, deps, map[string]any{"command": "env"})
	env := ""
	if err == nil {
		env = out.(map[string]any)["stdout"].(string)
	}
	if err != nil || !strings.Contains(env, "ONLY=this") || !strings.Contains(env, "WACHT_IDEMPOTENCY_KEY=run_1/x/1") ||
		strings.Contains(env, "WACHT_EXEC_LEAK") || strings.Contains(env, "PATH=") {
		t.Fatalf("env: %q %v", env, err)
	}
	if _, err := run(t, deps, map[string]any{"command": "sleep", "args": []any{"30"}, "timeout": "200ms"}); err == nil || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Fatalf("sleep: %v", err)
	}
	if _, err := run(t, deps, map[string]any{"command": "false"}); err == nil || !strings.Contains(err.Error(), "exited with status 1") {
		t.Fatalf("false: %v", err)
	}
	if _, err := run(t, deps, map[string]any{"command": "sh"}); err == nil || !strings.Contains(err.Error(), `"sh" is not configured`) {
		t.Fatalf("unconfigured: %v", err)
	}
	if _, err := run(t, deps, map[string]any{"command": "echo", "shell": true}); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("strict decode: %v", err)
	}
}
