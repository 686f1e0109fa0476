// Package rego is the one adapter between wacht's compliance checks and the
// Open Policy Agent (OPA v1 as a Go library). Only internal/app and this
// package's tests import it, so the compliance domain builds and tests
// without linking OPA.
//
// Policies are Rego v1. Every check's package defines a `results` set of
// objects {subject, status, observed, reason}; Engine compiles a bundle
// once and prepares one query per package on first use.
package rego

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/wacht-soc/wacht/internal/comply"
)

// denied are builtins a policy may not call: network access (a tenant's
// policy must not reach other systems), and sources of nondeterminism
// (results must follow from the facts and the evaluation time in the
// input).
var denied = map[string]bool{
	"http.send": true, "net.lookup_ip_addr": true, "opa.runtime": true,
	"time.now_ns": true, "rand.intn": true, "uuid.rfc4122": true,
}

// capabilities are OPA's builtins minus the denied ones.
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0]
	for _, b := range caps.Builtins {
		if !denied[b.Name] {
			kept = append(kept, b)
		}
	}
	caps.Builtins = kept
	return caps
}

func newCompiler() *ast.Compiler {
	return ast.NewCompiler().WithCapabilities(capabilities())
}

// Engine implements comply.Engine with OPA.
type Engine struct {
	// Timeout bounds one evaluation (default 30 s): a tenant's policy must
	// not stall the scheduler.
	Timeout time.Duration
}

// New returns an engine.
func New() *Engine { return &Engine{Timeout: 30 * time.Second} }

func parse(modules []comply.PolicyModule) (map[string]*ast.Module, error) {
	out := make(map[string]*ast.Module, len(modules))
	for _, m := range modules {
		mod, err := ast.ParseModuleWithOpts(m.Name, m.Source, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("parse policy %s: %w", m.Name, err)
		}
		out[m.Name] = mod
	}
	return out, nil
}

// Compile implements comply.Engine.
func (e *Engine) Compile(_ context.Context, modules []comply.PolicyModule) (comply.Compiled, error) {
	parsed, err := parse(modules)
	if err != nil {
		return nil, err
	}
	c := newCompiler()
	c.Compile(parsed)
	if c.Failed() {
		return nil, fmt.Errorf("compile policies: %w", c.Errors)
	}
	return &compiled{compiler: c, timeout: e.Timeout, prepared: map[string]*rego.PreparedEvalQuery{}}, nil
}

// Test implements comply.Engine: it runs every test_ rule of modules.
func (e *Engine) Test(ctx context.Context, modules []comply.PolicyModule) ([]comply.TestResult, error) {
	parsed, err := parse(modules)
	if err != nil {
		return nil, err
	}
	ch, err := tester.NewRunner().SetCompiler(newCompiler()).SetModules(parsed).SetTimeout(e.timeout()).RunTests(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("run policy tests: %w", err)
	}
	var out []comply.TestResult
	for r := range ch {
		tr := comply.TestResult{Package: r.Package, Name: r.Name, Pass: !r.Fail && r.Error == nil && !r.Skip,
			Skipped: r.Skip, DurationNS: r.Duration.Nanoseconds()}
		if r.Error != nil {
			tr.Error = r.Error.Error()
		} else if r.Fail {
			tr.Error = "test failed"
			if r.FailedAt != nil {
				tr.Error = fmt.Sprintf("failed at %s: %s", r.FailedAt.Location, r.FailedAt.String())
			}
		}
		out = append(out, tr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Package != out[j].Package {
			return out[i].Package < out[j].Package
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func (e *Engine) timeout() time.Duration {
	if e.Timeout <= 0 {
		return 30 * time.Second
	}
	return e.Timeout
}

type compiled struct {
	compiler *ast.Compiler
	timeout  time.Duration

	mu       sync.Mutex
	prepared map[string]*rego.PreparedEvalQuery
}

func (c *compiled) query(ctx context.Context, pkg string) (*rego.PreparedEvalQuery, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if q, ok := c.prepared[pkg]; ok {
		return q, nil
	}
	q, err := rego.New(rego.Query("data."+pkg+".results"), rego.Compiler(c.compiler),
		rego.StrictBuiltinErrors(true)).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", pkg, err)
	}
	c.prepared[pkg] = &q
	return &q, nil
}

// Results implements comply.Compiled.
func (c *compiled) Results(ctx context.Context, pkg string, input map[string]any) ([]any, error) {
	q, err := c.query(ctx, pkg)
	if err != nil {
		return nil, err
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	val, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, fmt.Errorf("convert input: %w", err)
	}
	rs, err := q.Eval(ctx, rego.EvalParsedInput(val))
	if err != nil {
		var herr *topdown.Error
		if ok := asTopdown(err, &herr); ok {
			return nil, fmt.Errorf("evaluate %s: %s", pkg, herr.Message)
		}
		return nil, fmt.Errorf("evaluate %s: %w", pkg, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, fmt.Errorf("evaluate %s: no results rule (is the package right?)", pkg)
	}
	switch v := rs[0].Expressions[0].Value.(type) {
	case []any:
		return v, nil
	default:
		return nil, fmt.Errorf("evaluate %s: results is %T, want a set", pkg, v)
	}
}

func asTopdown(err error, target **topdown.Error) bool {
	if e, ok := err.(*topdown.Error); ok {
		*target = e
		return true
	}
	return false
}

var _ comply.Engine = (*Engine)(nil)
var _ comply.Compiled = (*compiled)(nil)
