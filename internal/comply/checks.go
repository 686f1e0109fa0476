package comply

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Check is one automated control test: a Rego package that judges the
// facts and the requirements its results count for. One check maps to
// several requirements across frameworks.
type Check struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Package is the Rego package whose `results` rule the check reads
	// ("wacht.checks.mfa_privileged").
	Package string `json:"package"`
	// Facts lists the parts of Facts the check needs (documentation and
	// the dashboards' drill-down).
	Facts []string `json:"facts"`
	// Params are the defaults a tenant may override.
	Params map[string]any `json:"params,omitempty"`
	// Maps lists the requirements per framework.
	Maps []Mapping `json:"maps"`
}

// Mapping ties a check to one requirement.
type Mapping struct {
	Framework   string `json:"framework"`
	Requirement string `json:"requirement"`
}

// PolicyModule is one Rego file.
type PolicyModule struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

// Bundle is a set of checks with their Rego modules: the built-in one, or
// one a tenant uploads.
type Bundle struct {
	Checks  []Check        `json:"checks"`
	Modules []PolicyModule `json:"modules"`
}

// Hash is the SHA-256 over the checks and every module (name and source),
// in name order: the stamp every result carries.
func (b *Bundle) Hash() string {
	h := sha256.New()
	cs, _ := json.Marshal(b.Checks)
	h.Write(cs)
	mods := append([]PolicyModule(nil), b.Modules...)
	sort.Slice(mods, func(i, j int) bool { return mods[i].Name < mods[j].Name })
	for _, m := range mods {
		fmt.Fprintf(h, "\x00%s\x00%d\x00%s", m.Name, len(m.Source), m.Source)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// PolicyModules are the modules that hold policies (not Rego unit tests).
func (b *Bundle) PolicyModules() []PolicyModule {
	var out []PolicyModule
	for _, m := range b.Modules {
		if !strings.HasSuffix(m.Name, "_test.rego") {
			out = append(out, m)
		}
	}
	return out
}

var checkID = regexp.MustCompile(`^[a-z][a-z0-9_.-]{1,80}$`)
var regoPackage = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)

// Validate checks ids, packages and that each mapping names a known
// requirement of a known catalog.
func (b *Bundle) Validate(catalogs []*Catalog) error {
	byID := map[string]*Catalog{}
	for _, c := range catalogs {
		byID[c.ID] = c
	}
	seen := map[string]bool{}
	for _, c := range b.Checks {
		if !checkID.MatchString(c.ID) {
			return invalidf("check id %q: lower-case letters, digits, '.', '_', '-'", c.ID)
		}
		if seen[c.ID] {
			return invalidf("check %s defined twice", c.ID)
		}
		seen[c.ID] = true
		if !regoPackage.MatchString(c.Package) {
			return invalidf("check %s: bad Rego package %q", c.ID, c.Package)
		}
		for _, m := range c.Maps {
			cat, ok := byID[m.Framework]
			if !ok {
				if m.Framework == FrameworkTISAX {
					continue // mapped by question id; the tenant's workbook may not be imported yet
				}
				return invalidf("check %s maps to unknown framework %s", c.ID, m.Framework)
			}
			if _, ok := cat.Find(m.Requirement); !ok {
				return invalidf("check %s maps to unknown requirement %s %s", c.ID, m.Framework, m.Requirement)
			}
		}
	}
	for _, m := range b.Modules {
		if !strings.HasSuffix(m.Name, ".rego") || strings.ContainsAny(m.Name, `/\`) {
			return invalidf("policy module %q: want a file name ending in .rego", m.Name)
		}
	}
	return nil
}

//go:embed policies
var policyFiles embed.FS

// BuiltinBundle returns the checks and policies shipped with wacht,
// including their Rego unit tests.
func BuiltinBundle() (*Bundle, error) {
	b := &Bundle{}
	raw, err := policyFiles.ReadFile("policies/checks.json")
	if err != nil {
		return nil, fmt.Errorf("read built-in checks: %w", err)
	}
	if err := json.Unmarshal(raw, &b.Checks); err != nil {
		return nil, fmt.Errorf("decode built-in checks: %w", err)
	}
	err = fs.WalkDir(policyFiles, "policies", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		src, err := policyFiles.ReadFile(p)
		if err != nil {
			return err
		}
		b.Modules = append(b.Modules, PolicyModule{Name: path.Base(p), Source: string(src)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read built-in policies: %w", err)
	}
	sort.Slice(b.Modules, func(i, j int) bool { return b.Modules[i].Name < b.Modules[j].Name })
	return b, nil
}

// Engine evaluates Rego. internal/comply/rego implements it with OPA.
type Engine interface {
	// Compile parses and compiles modules (policies only, or with tests).
	Compile(ctx context.Context, modules []PolicyModule) (Compiled, error)
	// Test runs the test_ rules of modules.
	Test(ctx context.Context, modules []PolicyModule) ([]TestResult, error)
}

// Compiled is a compiled bundle.
type Compiled interface {
	// Results evaluates data.<pkg>.results with input and returns its
	// elements as JSON-like values.
	Results(ctx context.Context, pkg string, input map[string]any) ([]any, error)
}

// TestResult is one Rego unit test.
type TestResult struct {
	Package string `json:"package"`
	Name    string `json:"name"`
	Pass    bool   `json:"pass"`
	Skipped bool   `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
	// DurationNS is how long the test took.
	DurationNS int64 `json:"duration_ns"`
}
