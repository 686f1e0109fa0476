package rego_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/comply/rego"
)

// TestBuiltinPolicyTests runs the Rego unit tests shipped with every
// built-in check and requires the pass, fail, not-applicable and error
// fixtures for each.
func TestBuiltinPolicyTests(t *testing.T) {
	b, err := comply.BuiltinBundle()
	if err != nil {
		t.Fatal(err)
	}
	res, err := rego.New().Test(context.Background(), b.Modules)
	if err != nil {
		t.Fatal(err)
	}
	byPkg := map[string]map[string]bool{}
	for _, r := range res {
		if !r.Pass {
			t.Errorf("%s.%s: %s", r.Package, r.Name, r.Error)
		}
		if byPkg[r.Package] == nil {
			byPkg[r.Package] = map[string]bool{}
		}
		byPkg[r.Package][r.Name] = true
	}
	for _, c := range b.Checks {
		pkg := "data." + c.Package + "_test"
		for _, want := range []string{"test_pass", "test_fail", "test_not_applicable", "test_error"} {
			if !byPkg[pkg][want] {
				t.Errorf("check %s: no %s in %s (have %v)", c.ID, want, pkg, byPkg[pkg])
			}
		}
	}
}

// TestFailingPolicyTestIsReported makes sure a broken fixture fails.
func TestFailingPolicyTestIsReported(t *testing.T) {
	mods := []comply.PolicyModule{{Name: "x.rego", Source: "package x\n\nanswer := 41\n"},
		{Name: "x_test.rego", Source: "package x_test\n\nimport data.x\n\ntest_answer if x.answer == 42\n"}}
	res, err := rego.New().Test(context.Background(), mods)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Pass || res[0].Error == "" {
		t.Fatalf("want one failed test with a reason, got %+v", res)
	}
}

func TestCompileErrorNamesTheFile(t *testing.T) {
	_, err := rego.New().Compile(context.Background(), []comply.PolicyModule{{Name: "bad.rego", Source: "package p\n\nx := {"}})
	if err == nil || !strings.Contains(err.Error(), "bad.rego") {
		t.Fatalf("want an error naming bad.rego, got %v", err)
	}
}

func TestResultsOfAPolicy(t *testing.T) {
	c, err := rego.New().Compile(context.Background(), []comply.PolicyModule{{Name: "p.rego", Source: `package p
results contains {"subject": x, "status": "pass"} if some x in input.xs
`}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Results(context.Background(), "p", map[string]any{"xs": []any{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("want 2 results, got %v", out)
	}
	if _, err := c.Results(context.Background(), "nope", map[string]any{}); err == nil {
		t.Fatal("want an error for a package without results")
	}
}

// TestNoNetworkOrClockInPolicies: a policy (a tenant's too) cannot reach
// the network nor read the wall clock.
func TestNoNetworkOrClockInPolicies(t *testing.T) {
	for _, call := range []string{`http.send({"method": "get", "url": "http://169.254.169.254/"})`, "time.now_ns()", "opa.runtime()"} {
		src := "package p\n\nresults contains {\"subject\": \"x\", \"status\": \"pass\", \"observed\": " + call + "} if true\n"
		_, err := rego.New().Compile(context.Background(), []comply.PolicyModule{{Name: "p.rego", Source: src}})
		if err == nil || !strings.Contains(err.Error(), "undefined function") {
			t.Errorf("%s compiled: %v", call, err)
		}
		_, err = rego.New().Test(context.Background(), []comply.PolicyModule{{Name: "p_test.rego", Source: "package p_test\n\ntest_x if " + call + "\n"}})
		if err == nil {
			t.Errorf("%s in a test compiled", call)
		}
	}
}
