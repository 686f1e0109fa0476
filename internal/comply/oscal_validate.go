package comply

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"time"
)

// ValidateAssessmentResults checks an OSCAL assessment-results document
// (JSON) against the constraints of the OSCAL 1.1.2 JSON schema for the
// parts wacht writes: required properties, no unknown properties, UUIDs
// of version 4 or 5, tokens, URIs, date-times with a time zone and the
// allowed values of methods, target types and states. It returns one
// problem per violation with its JSON path (nil: valid). It does not
// replace NIST's schema for documents from other tools: parts wacht never
// writes (assessment plans, risks, back-matter…) are reported as unknown.
func ValidateAssessmentResults(data []byte) []string {
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return []string{fmt.Sprintf("not JSON: %v", err)}
	}
	v := &oscalValidator{}
	root := v.object("$", doc, []string{"assessment-results"}, []string{"$schema"})
	if ar, ok := root["assessment-results"]; ok {
		v.assessmentResults("$.assessment-results", ar)
	}
	return v.problems
}

var (
	oscalUUIDRe    = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[45][0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$`)
	oscalTokenRe   = regexp.MustCompile(`^(\p{L}|_)(\p{L}|\p{N}|[.\-_])*$`)
	oscalStrRe     = regexp.MustCompile(`^\S(.*\S)?$`)
	oscalVersionRe = regexp.MustCompile(`^1\.[0-9]+\.[0-9]+$`)
	oscalTimeRe    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)
)

type oscalValidator struct{ problems []string }

func (v *oscalValidator) fail(path, format string, args ...any) {
	v.problems = append(v.problems, path+": "+fmt.Sprintf(format, args...))
}

// object checks that x is an object with the required keys and no keys
// beyond required and optional; it returns the object (nil if not one).
func (v *oscalValidator) object(path string, x any, required, optional []string) map[string]any {
	m, ok := x.(map[string]any)
	if !ok {
		v.fail(path, "want an object")
		return nil
	}
	for _, k := range required {
		if _, ok := m[k]; !ok {
			v.fail(path, "missing required %q", k)
		}
	}
	var unknown []string
	for k := range m {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		v.fail(path, "property %q is not allowed here", k)
	}
	return m
}

func (v *oscalValidator) array(path string, x any, minItems int) []any {
	a, ok := x.([]any)
	if !ok {
		v.fail(path, "want an array")
		return nil
	}
	if len(a) < minItems {
		v.fail(path, "want at least %d items, have %d", minItems, len(a))
	}
	return a
}

func (v *oscalValidator) str(path string, x any, re *regexp.Regexp, what string) string {
	s, ok := x.(string)
	if !ok {
		v.fail(path, "want a string")
		return ""
	}
	if re != nil && !re.MatchString(s) {
		v.fail(path, "%q is not a valid %s", s, what)
	}
	return s
}

func (v *oscalValidator) uuid(path string, x any) {
	v.str(path, x, oscalUUIDRe, "UUID (version 4 or 5)")
}
func (v *oscalValidator) token(path string, x any) { v.str(path, x, oscalTokenRe, "token") }
func (v *oscalValidator) text(path string, x any) {
	v.str(path, x, oscalStrRe, "string (no surrounding space)")
}
func (v *oscalValidator) markup(path string, x any) { v.str(path, x, nil, "") }

func (v *oscalValidator) dateTime(path string, x any) {
	s := v.str(path, x, oscalTimeRe, "date-time with a time zone")
	if oscalTimeRe.MatchString(s) {
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			v.fail(path, "%q is not a valid date-time: %v", s, err)
		}
	}
}

func (v *oscalValidator) uri(path string, x any, reference bool) {
	s := v.str(path, x, nil, "")
	u, err := url.Parse(s)
	if s == "" || err != nil || (!reference && u.Scheme == "") {
		v.fail(path, "%q is not a valid URI", s)
	}
}

func (v *oscalValidator) enum(path string, x any, allowed ...string) {
	s := v.str(path, x, nil, "")
	if !slices.Contains(allowed, s) {
		v.fail(path, "%q is not one of %v", s, allowed)
	}
}

func (v *oscalValidator) assessmentResults(path string, x any) {
	m := v.object(path, x, []string{"uuid", "metadata", "import-ap", "results"}, []string{"local-definitions", "back-matter"})
	if m == nil {
		return
	}
	v.uuid(path+".uuid", m["uuid"])
	if md := v.object(path+".metadata", m["metadata"], []string{"title", "last-modified", "version", "oscal-version"},
		[]string{"published", "props", "links", "remarks"}); md != nil {
		v.markup(path+".metadata.title", md["title"])
		v.dateTime(path+".metadata.last-modified", md["last-modified"])
		v.text(path+".metadata.version", md["version"])
		v.str(path+".metadata.oscal-version", md["oscal-version"], oscalVersionRe, "OSCAL 1.x version")
		v.props(path+".metadata.props", md["props"])
	}
	if ap := v.object(path+".import-ap", m["import-ap"], []string{"href"}, []string{"remarks"}); ap != nil {
		v.uri(path+".import-ap.href", ap["href"], true)
	}
	for i, r := range v.array(path+".results", m["results"], 1) {
		v.result(fmt.Sprintf("%s.results[%d]", path, i), r)
	}
}

func (v *oscalValidator) props(path string, x any) {
	if x == nil {
		return
	}
	for i, p := range v.array(path, x, 1) {
		pp := fmt.Sprintf("%s[%d]", path, i)
		if m := v.object(pp, p, []string{"name", "value"}, []string{"uuid", "ns", "class", "group", "remarks"}); m != nil {
			v.token(pp+".name", m["name"])
			v.text(pp+".value", m["value"])
			if ns, ok := m["ns"]; ok {
				v.uri(pp+".ns", ns, false)
			}
		}
	}
}

func (v *oscalValidator) result(path string, x any) {
	m := v.object(path, x, []string{"uuid", "title", "description", "start", "reviewed-controls"},
		[]string{"end", "props", "links", "local-definitions", "attestations", "assessment-log", "observations", "risks", "findings", "remarks"})
	if m == nil {
		return
	}
	v.uuid(path+".uuid", m["uuid"])
	v.markup(path+".title", m["title"])
	v.markup(path+".description", m["description"])
	v.dateTime(path+".start", m["start"])
	if e, ok := m["end"]; ok {
		v.dateTime(path+".end", e)
	}
	v.props(path+".props", m["props"])
	if rc := v.object(path+".reviewed-controls", m["reviewed-controls"], []string{"control-selections"},
		[]string{"description", "props", "links", "control-objective-selections", "remarks"}); rc != nil {
		for i, cs := range v.array(path+".reviewed-controls.control-selections", rc["control-selections"], 1) {
			v.object(fmt.Sprintf("%s.reviewed-controls.control-selections[%d]", path, i), cs, nil,
				[]string{"description", "props", "links", "include-all", "include-controls", "exclude-controls", "remarks"})
		}
	}
	observations := map[string]bool{}
	if obs, ok := m["observations"]; ok {
		for i, o := range v.array(path+".observations", obs, 1) {
			op := fmt.Sprintf("%s.observations[%d]", path, i)
			om := v.object(op, o, []string{"uuid", "description", "methods", "collected"},
				[]string{"title", "props", "links", "types", "origins", "subjects", "relevant-evidence", "expires", "remarks"})
			if om == nil {
				continue
			}
			v.uuid(op+".uuid", om["uuid"])
			if u, ok := om["uuid"].(string); ok {
				if observations[u] {
					v.fail(op+".uuid", "%s is used twice", u)
				}
				observations[u] = true
			}
			v.markup(op+".description", om["description"])
			for j, me := range v.array(op+".methods", om["methods"], 1) {
				v.enum(fmt.Sprintf("%s.methods[%d]", op, j), me, "EXAMINE", "INTERVIEW", "TEST", "UNKNOWN")
			}
			if ts, ok := om["types"]; ok {
				for j, t := range v.array(op+".types", ts, 1) {
					v.token(fmt.Sprintf("%s.types[%d]", op, j), t)
				}
			}
			v.props(op+".props", om["props"])
			v.dateTime(op+".collected", om["collected"])
		}
	}
	if fs, ok := m["findings"]; ok {
		for i, f := range v.array(path+".findings", fs, 1) {
			fp := fmt.Sprintf("%s.findings[%d]", path, i)
			fm := v.object(fp, f, []string{"uuid", "title", "description", "target"},
				[]string{"props", "links", "origins", "implementation-statement-uuid", "related-observations", "related-risks", "remarks"})
			if fm == nil {
				continue
			}
			v.uuid(fp+".uuid", fm["uuid"])
			v.markup(fp+".title", fm["title"])
			v.markup(fp+".description", fm["description"])
			if tm := v.object(fp+".target", fm["target"], []string{"type", "target-id", "status"},
				[]string{"title", "description", "props", "links", "implementation-status", "remarks"}); tm != nil {
				v.enum(fp+".target.type", tm["type"], "statement-id", "objective-id")
				v.token(fp+".target.target-id", tm["target-id"])
				if sm := v.object(fp+".target.status", tm["status"], []string{"state"}, []string{"reason", "remarks"}); sm != nil {
					v.enum(fp+".target.status.state", sm["state"], "satisfied", "not-satisfied")
				}
			}
			if ro, ok := fm["related-observations"]; ok {
				for j, r := range v.array(fp+".related-observations", ro, 1) {
					rp := fmt.Sprintf("%s.related-observations[%d]", fp, j)
					if rm := v.object(rp, r, []string{"observation-uuid"}, nil); rm != nil {
						v.uuid(rp+".observation-uuid", rm["observation-uuid"])
						if u, _ := rm["observation-uuid"].(string); !observations[u] {
							v.fail(rp+".observation-uuid", "%s names no observation of this result", u)
						}
					}
				}
			}
		}
	}
}
