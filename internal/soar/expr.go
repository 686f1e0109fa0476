package soar

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Variables visible to CEL in playbooks: the triggering alert, incident or
// event, the outputs of earlier steps, secrets, manual inputs and the run.
// A for_each step's `with` also sees `item` and `index`; a scheduled
// run sees `schedule` (cron, time).
var exprVars = []string{"alert", "incident", "event", "steps", "secrets", "inputs", "run", "schedule", "item", "index"}

var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	opts := make([]cel.EnvOption, 0, len(exprVars))
	for _, v := range exprVars {
		opts = append(opts, cel.Variable(v, cel.DynType))
	}
	return cel.NewEnv(opts...)
})

// compileCondition compiles a CEL condition (its result must be usable as
// a bool at run time; dyn inputs are only checked then).
func compileCondition(src string) (cel.Program, error) {
	return compileExpr(src)
}

func compileExpr(src string) (cel.Program, error) {
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("%s", strings.ReplaceAll(iss.Err().Error(), "\n", " "))
	}
	prg, err := env.Program(ast)
	if err != nil {
		return nil, fmt.Errorf("%w", err)
	}
	return prg, nil
}

// programs caches compiled expressions of a Service (playbooks are
// immutable versions, so an expression's program never changes).
type programs struct{ m sync.Map }

func (p *programs) get(src string) (cel.Program, error) {
	if v, ok := p.m.Load(src); ok {
		return v.(cel.Program), nil
	}
	prg, err := compileExpr(src)
	if err != nil {
		return nil, err
	}
	p.m.Store(src, prg)
	return prg, nil
}

// eval evaluates src over vars and returns a JSON-like Go value.
func (p *programs) eval(src string, vars map[string]any) (any, error) {
	prg, err := p.get(src)
	if err != nil {
		return nil, err
	}
	out, _, err := prg.Eval(activation(vars))
	if err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", src, err)
	}
	return native(out), nil
}

// cond evaluates a condition.
func (p *programs) cond(src string, vars map[string]any) (bool, error) {
	v, err := p.eval(src, vars)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q gave %T, want bool", src, v)
	}
	return b, nil
}

func activation(vars map[string]any) map[string]any {
	act := make(map[string]any, len(exprVars))
	for _, v := range exprVars {
		if x, ok := vars[v]; ok && x != nil {
			act[v] = x
		} else {
			act[v] = map[string]any{}
		}
	}
	return act
}

// native turns a CEL value into plain Go (map[string]any, []any, string,
// float64, int64, bool, nil).
func native(v ref.Val) any {
	switch x := v.(type) {
	case types.String:
		return string(x)
	case types.Bool:
		return bool(x)
	case types.Int:
		return int64(x)
	case types.Uint:
		return uint64(x)
	case types.Double:
		return float64(x)
	case types.Null:
		return nil
	case traits.Mapper:
		out := map[string]any{}
		it := x.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			out[fmt.Sprint(native(k))] = native(x.Get(k))
		}
		return out
	case traits.Lister:
		var out []any
		it := x.Iterator()
		for it.HasNext() == types.True {
			out = append(out, native(it.Next()))
		}
		if out == nil {
			out = []any{}
		}
		return out
	}
	return v.Value()
}

// templatePattern finds ${{ expr }} in a string.
var templatePattern = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// checkTemplates compiles every ${{ }} expression of v.
func checkTemplates(v any) error {
	var first error
	walkStrings(v, func(s string) {
		for _, m := range templatePattern.FindAllStringSubmatch(s, -1) {
			if _, err := compileExpr(m[1]); err != nil && first == nil {
				first = fmt.Errorf("${{ %s }}: %w", m[1], err)
			}
		}
	})
	return first
}

func walkStrings(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case map[string]any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	case []any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	}
}

// secretRefs lists the secret names a value's templates or a condition
// mention (secrets.NAME).
var secretRef = regexp.MustCompile(`\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)`)

func secretNames(v any, conds ...string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		for _, m := range secretRef.FindAllStringSubmatch(s, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				out = append(out, m[1])
			}
		}
	}
	walkStrings(v, func(s string) {
		for _, m := range templatePattern.FindAllStringSubmatch(s, -1) {
			add(m[1])
		}
	})
	for _, c := range conds {
		add(c)
	}
	return out
}

// render replaces templates in v: a string that is only "${{ x }}" becomes
// x's value (any type); templates inside text become text.
func (p *programs) render(v any, vars map[string]any) (any, error) {
	switch x := v.(type) {
	case string:
		ms := templatePattern.FindAllStringSubmatchIndex(x, -1)
		if len(ms) == 0 {
			return x, nil
		}
		if len(ms) == 1 && ms[0][0] == 0 && ms[0][1] == len(x) {
			return p.eval(x[ms[0][2]:ms[0][3]], vars)
		}
		var b strings.Builder
		last := 0
		for _, m := range ms {
			b.WriteString(x[last:m[0]])
			val, err := p.eval(x[m[2]:m[3]], vars)
			if err != nil {
				return nil, err
			}
			b.WriteString(textOf(val))
			last = m[1]
		}
		b.WriteString(x[last:])
		return b.String(), nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := p.render(e, vars)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := p.render(e, vars)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// jsonValue turns a typed value (an alert struct…) into the JSON-like form
// CEL reads.
func jsonValue(v any) any {
	if v == nil {
		return nil
	}
	switch v.(type) {
	case map[string]any, []any, string, bool, float64, int64:
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}

// masker hides secret values in text that is stored or shown.
type masker []string

const maskText = "***"

func (m masker) text(s string) string {
	for _, v := range m {
		if len(v) >= 3 {
			s = strings.ReplaceAll(s, v, maskText)
		}
	}
	return s
}

// json encodes v with secret values masked.
func (m masker) json(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	if len(m) == 0 {
		return string(b)
	}
	// Secrets inside JSON strings may be escaped; mask both forms.
	s := string(b)
	for _, v := range m {
		if len(v) < 3 {
			continue
		}
		s = strings.ReplaceAll(s, v, maskText)
		if e, err := json.Marshal(v); err == nil {
			s = strings.ReplaceAll(s, strings.Trim(string(e), `"`), maskText)
		}
	}
	return s
}
