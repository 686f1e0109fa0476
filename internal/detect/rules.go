package detect

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/sigma"
)

//go:embed starter/*.yml
var starterFS embed.FS

// StarterSource is the name of the embedded starter pack in rule statuses.
const StarterSource = "starter"

// ProblemKind says why a rule is not running.
type ProblemKind uint8

// Problem kinds.
const (
	// ProblemInvalid is a file or rule that is not valid Sigma.
	ProblemInvalid ProblemKind = iota + 1
	// ProblemUnsupported is valid Sigma the engine cannot evaluate (an
	// expression RE2 cannot express, a placeholder without values).
	ProblemUnsupported
)

func (k ProblemKind) String() string {
	switch k {
	case ProblemInvalid:
		return "invalid"
	case ProblemUnsupported:
		return "unsupported"
	}
	return "unknown"
}

// MarshalText writes the kind's name.
func (k ProblemKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *ProblemKind) UnmarshalText(b []byte) error {
	for _, c := range []ProblemKind{ProblemInvalid, ProblemUnsupported} {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("unknown problem kind %q", b)
}

// Problem is a rule file or rule that did not load.
type Problem struct {
	Kind   ProblemKind `json:"kind"`
	Source string      `json:"source"`
	File   string      `json:"file"`
	RuleID string      `json:"rule_id,omitempty"`
	Title  string      `json:"title,omitempty"`
	Reason string      `json:"reason"`
}

// Ruleset is a compiled set of rules with the problems met on the way.
type Ruleset struct {
	Engine   *sigma.Engine
	Rules    []*sigma.Rule // every parsed document, filters included
	Problems []Problem
	// sources maps a rule to the source it came from.
	sources       map[*sigma.Rule]string
	parseFailures int
	// Fingerprint changes when any rule file changes.
	Fingerprint string
	Loaded      time.Time
	Took        time.Duration
}

// Source returns where r was loaded from.
func (rs *Ruleset) Source(r *sigma.Rule) string { return rs.sources[r] }

// Counts returns the number of rule documents, the ones that compiled, and
// the unsupported and invalid ones.
func (rs *Ruleset) Counts() (total, ok, unsupported, invalid int) {
	for _, p := range rs.Problems {
		if p.Kind == ProblemUnsupported {
			unsupported++
		} else {
			invalid++
		}
	}
	// A document that did not parse is a problem but not a rule.
	total = len(rs.Rules) + rs.parseFailures
	return total, total - unsupported - invalid, unsupported, invalid
}

// LoadOptions say where rules come from and how to compile them.
type LoadOptions struct {
	// Paths are rule folders or files (every .yml and .yaml below a folder).
	Paths []string
	// Starter adds the embedded starter pack.
	Starter bool
	// Compile options: placeholders for expand, correlation bounds.
	Sigma sigma.Options
}

// Load parses and compiles rules. It fails only when nothing can be read
// at all (a missing path); bad rules are Problems and the others run.
func Load(opts LoadOptions, now time.Time) (*Ruleset, error) {
	start := time.Now()
	rs := &Ruleset{sources: map[*sigma.Rule]string{}, Loaded: now}
	coll := &sigma.Collection{}
	addParseErrors := func(source string, errs []error) {
		for _, err := range errs {
			ps := parseProblem(source, err)
			rs.parseFailures += len(ps)
			rs.Problems = append(rs.Problems, ps...)
		}
	}
	add := func(source, prefix string, c *sigma.Collection) {
		for _, r := range c.Rules {
			if prefix != "" {
				r.File = filepath.Join(prefix, filepath.FromSlash(r.File))
			}
			rs.sources[r] = source
		}
		coll.Add(c.Rules...)
	}
	if opts.Starter {
		sub, err := fs.Sub(starterFS, "starter")
		if err != nil {
			return nil, fmt.Errorf("open starter rules: %w", err)
		}
		c, errs := sigma.LoadFS(sub, ".")
		addParseErrors(StarterSource, errs)
		add(StarterSource, "", c)
		for _, r := range c.Rules {
			r.File = path.Join("starter", r.File)
		}
	}
	fp, err := Fingerprint(opts.Paths)
	if err != nil {
		return nil, err
	}
	rs.Fingerprint = fp
	for _, p := range opts.Paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("open rules %s: %w", p, err)
		}
		if st.IsDir() {
			c, errs := sigma.LoadFS(os.DirFS(p), ".")
			addParseErrors(p, prefixErrors(p, errs))
			add(p, p, c)
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read rules %s: %w", p, err)
		}
		rules, err := sigma.ParseRules(p, data)
		if err != nil {
			addParseErrors(p, []error{err})
		}
		c := &sigma.Collection{Rules: rules}
		add(p, "", c)
	}
	rs.Rules = coll.Rules
	eng, _ := sigma.Compile(coll, opts.Sigma)
	rs.Engine = eng
	for _, p := range eng.Problems() {
		kind := ProblemInvalid
		if p.Unsupported() {
			kind = ProblemUnsupported
		}
		rs.Problems = append(rs.Problems, Problem{Kind: kind, Source: rs.sources[p.Rule], File: p.Rule.File,
			RuleID: ruleID(p.Rule), Title: p.Rule.Title, Reason: p.Err.Error()})
	}
	sort.SliceStable(rs.Problems, func(i, j int) bool { return rs.Problems[i].File < rs.Problems[j].File })
	rs.Took = time.Since(start)
	return rs, nil
}

// prefixErrors keeps the errors of LoadFS but names files from the folder
// the user gave.
func prefixErrors(dir string, errs []error) []error {
	out := make([]error, 0, len(errs))
	for _, err := range errs {
		var pe *sigma.ParseError
		if errors.As(err, &pe) {
			c := *pe
			c.File = filepath.Join(dir, filepath.FromSlash(pe.File))
			out = append(out, &c)
			continue
		}
		out = append(out, err)
	}
	return out
}

// parseProblem turns a (possibly joined) parse error into problems.
func parseProblem(source string, err error) []Problem {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []Problem
		for _, e := range j.Unwrap() {
			out = append(out, parseProblem(source, e)...)
		}
		return out
	}
	var pe *sigma.ParseError
	if errors.As(err, &pe) {
		file := pe.File
		if pe.Doc > 0 {
			file += "#" + strconv.Itoa(pe.Doc)
		}
		reason := pe.Err.Error()
		if pe.Field != "" {
			reason = pe.Field + ": " + reason
		}
		kind := ProblemInvalid
		if errors.Is(pe.Err, sigma.ErrUnsupported) {
			kind = ProblemUnsupported
		}
		return []Problem{{Kind: kind, Source: source, File: file, Reason: reason}}
	}
	return []Problem{{Kind: ProblemInvalid, Source: source, File: source, Reason: err.Error()}}
}

// Fingerprint hashes the names, sizes and modification times of every rule
// file under paths, so that a poll can tell whether anything changed.
func Fingerprint(paths []string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		err := filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			ext := strings.ToLower(filepath.Ext(fp))
			if ext != ".yml" && ext != ".yaml" && fp != p {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%d\x00%d\n", fp, info.Size(), info.ModTime().UnixNano())
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("read rules %s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// RulesFromEnv reads the rule paths of the WACHT_RULES environment
// variable: paths separated by the OS list separator (":" on Unix).
func RulesFromEnv() []string {
	v := os.Getenv("WACHT_RULES")
	if v == "" {
		return nil
	}
	var out []string
	for _, p := range filepath.SplitList(v) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
