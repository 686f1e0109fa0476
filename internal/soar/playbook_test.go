package soar_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/internal/soar"
)

// TestParseIssueExample: the issue's playbook is valid as written.
func TestParseIssueExample(t *testing.T) {
	pb, err := soar.Parse([]byte(issuePlaybook))
	if err != nil {
		t.Fatal(err)
	}
	if pb.Name != "contain-ssh-bruteforce" || len(pb.Steps) != 4 || pb.On["alert.created"].If == "" {
		t.Fatalf("%+v", pb)
	}
	if got := pb.Needs(3); len(got) != 1 || got[0] != "block" {
		t.Fatalf("note needs %v, want the step above", got)
	}
	if pb.Steps[2].Retry.Wait(1) != 1e9 || pb.Steps[2].Retry.Wait(3) != 4e9 || pb.Steps[2].Retry.Wait(10) != 60e9 {
		t.Fatalf("backoff: %v %v %v", pb.Steps[2].Retry.Wait(1), pb.Steps[2].Retry.Wait(3), pb.Steps[2].Retry.Wait(10))
	}
}

// TestParseErrors: each problem is reported with the line or key that
// causes it.
func TestParseErrors(t *testing.T) {
	f := func(name, src string, want ...string) {
		t.Helper()
		_, err := soar.Parse([]byte(src))
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", name, err, w)
			}
		}
	}
	head := "name: x\non: { manual: {} }\nsteps:\n"
	f("unknown top key", "name: x\nonn: {}\n", "line 2", "onn")
	f("unknown step key", head+"  - id: a\n    uses: wait\n    with: { duration: 1m }\n    retries: 3\n", "line 7", "retries")
	f("unknown action", head+"  - id: a\n    uses: nope.nope\n", "line 4", "unknown action \"nope.nope\"")
	f("unknown with key", head+"  - id: a\n    uses: http.request\n    with: { url: \"http://x\", methd: GET }\n", "line 4", "unknown field \"methd\"")
	f("unknown with key under template", head+"  - id: a\n    uses: http.request\n    with: { url: \"${{ inputs.u }}\", bogus: 1 }\n", "bogus")
	f("bad with value", head+"  - id: a\n    uses: approval\n    with: { role: r }\n", "timeout is required")
	f("missing need", head+"  - id: a\n    uses: wait\n    with: { duration: 1m }\n    needs: [b]\n", `no step "b"`)
	f("cycle", head+"  - id: a\n    uses: wait\n    with: { duration: 1m }\n    needs: [b]\n  - id: b\n    uses: wait\n    with: { duration: 1m }\n", "cycle", "a → b → a")
	f("bad cel", head+"  - id: a\n    uses: wait\n    with: { duration: 1m }\n    if: steps.a.output ==\n", "line 4", ".if")
	f("bad template", head+"  - id: a\n    uses: http.request\n    with: { url: \"${{ 1 + }}\" }\n", "${{ 1 + }}")
	f("bad trigger cel", "name: x\non:\n  alert.created: { if: \"alert.level in\" }\nsteps:\n  - id: a\n    uses: wait\n    with: { duration: 1m }\n", "on.alert.created.if")
	f("bad trigger", "name: x\non: { Alert: {} }\nsteps:\n  - id: a\n    uses: wait\n    with: { duration: 1m }\n", "on.Alert")
	f("duplicate id", head+"  - id: a\n    uses: wait\n    with: { duration: 1m }\n  - id: a\n    uses: wait\n    with: { duration: 1m }\n", "used twice")
	f("bad duration", head+"  - id: a\n    uses: wait\n    with: { duration: 1m }\n    timeout: soon\n", "soon")
	f("bad name", "name: X Y\non: { manual: {} }\nsteps:\n  - id: a\n    uses: wait\n    with: { duration: 1m }\n", "name:")
	f("empty", "", "empty")
}

// FuzzParse: no input makes the playbook parser panic, and what it
// accepts validates again.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/playbooks/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("name: x\non: { schedule: { cron: \"*/5 * * * *\" } }\nsteps:\n  - { id: a, uses: wait, with: { duration: 1m }, on_error: b }\n  - { id: b, uses: wait, with: { duration: 1m } }\n")
	f.Add("name: x\non: { manual: {} }\nsteps:\n  - { id: a, uses: http.request, for_each: '[1,2]', concurrency: 2, with: { url: \"${{ item }}\" } }\n")
	f.Fuzz(func(t *testing.T, src string) {
		pb, err := soar.Parse([]byte(src))
		if err != nil {
			return
		}
		if err := pb.Validate(); err != nil {
			t.Fatalf("accepted, then invalid: %v", err)
		}
	})
}
