package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Kind says what a parsed Sigma document is.
type Kind uint8

// The kinds of Sigma documents.
const (
	KindDetection Kind = iota
	KindCorrelation
	KindFilter
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindDetection:
		return "detection"
	case KindCorrelation:
		return "correlation"
	case KindFilter:
		return "filter"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// LogSource is the logsource section of a rule.
type LogSource struct {
	Product    string
	Category   string
	Service    string
	Definition string
}

// Rule is one parsed Sigma document: a detection rule, a correlation rule or a
// meta filter (see Kind).
type Rule struct {
	// File is the name the document was parsed from; Doc its 0-based index
	// in a multi-document file.
	File string
	Doc  int
	Kind Kind

	Title          string
	ID             string
	Name           string
	Status         string
	Description    string
	Author         string
	Date           string
	Modified       string
	Level          string
	References     []string
	Tags           []string
	FalsePositives []string
	Fields         []string
	LogSource      LogSource

	Detection   *Detection   // KindDetection
	Correlation *Correlation // KindCorrelation
	Filter      *Filter      // KindFilter
}

// Ref is how a rule is named in errors: its file, id or title.
func (r *Rule) Ref() string {
	id := r.ID
	if id == "" {
		id = r.Name
	}
	if id == "" {
		id = strconv.Quote(r.Title)
	}
	if r.File == "" {
		return id
	}
	return r.File + "#" + strconv.Itoa(r.Doc) + " (" + id + ")"
}

// Attack returns the ATT&CK tags of the rule (attack.tXXXX, attack.tXXXX.YYY,
// tactics and groups), without the "attack." prefix.
func (r *Rule) Attack() []string {
	var out []string
	for _, t := range r.Tags {
		if rest, ok := strings.CutPrefix(strings.ToLower(t), "attack."); ok {
			out = append(out, rest)
		}
	}
	return out
}

// Detection is the detection section: named searches and the condition.
type Detection struct {
	Searches   []*Search // in document order
	Conditions []string  // several conditions are ORed
}

// Search is one search identifier. It is an OR of alternatives, each an AND
// of field specifications. A keyword list is one alternative whose single
// FieldSpec has an empty Field.
type Search struct {
	Name         string
	Alternatives [][]FieldSpec
}

// FieldSpec is "field|mod1|mod2: values" as written in the rule.
type FieldSpec struct {
	Field     string
	Modifiers []string
	Values    []RawValue
}

// RawValue is one scalar of a rule: a string, a number, a boolean or null,
// kept as written.
type RawValue struct {
	Null bool
	// Text is the scalar as written (numbers keep their notation).
	Text string
	// Typed is set for YAML numbers and booleans.
	Number bool
	Bool   bool
}

// CorrelationType names a correlation type.
type CorrelationType string

// The correlation types of the specification.
const (
	EventCount      CorrelationType = "event_count"
	ValueCount      CorrelationType = "value_count"
	Temporal        CorrelationType = "temporal"
	TemporalOrdered CorrelationType = "temporal_ordered"
	ValueSum        CorrelationType = "value_sum"
	ValueAvg        CorrelationType = "value_avg"
	ValuePercentile CorrelationType = "value_percentile"
)

// Correlation is the correlation section of a correlation rule.
type Correlation struct {
	Type     CorrelationType
	Rules    []string
	GroupBy  []string
	Timespan time.Duration
	// Condition maps gt, gte, lt, lte, eq, neq to thresholds; all must hold.
	Condition map[string]float64
	// Fields is the condition's field (value_count and the value_*
	// types); several fields are combined.
	Fields []string
	// Aliases maps alias name → rule name → event field.
	Aliases  map[string]map[string]string
	Generate bool
}

// Filter is the filter section of a meta filter.
type Filter struct {
	Rules     []string
	Detection *Detection
}

// ParseError is a problem in one rule document.
type ParseError struct {
	File  string
	Doc   int
	Rule  string // id or title when known
	Field string // the YAML path where it went wrong
	Err   error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Doc > 0 {
		b.WriteString("#" + strconv.Itoa(e.Doc))
	}
	if e.Rule != "" {
		b.WriteString(" (" + e.Rule + ")")
	}
	if e.Field != "" {
		b.WriteString(" at " + e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// ParseRules parses every YAML document of data. name is used in errors and
// recorded on the rules. Documents that fail are reported in the returned
// error (one *ParseError each, joined); the others are returned.
func ParseRules(name string, data []byte) ([]*Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var rules []*Rule
	var errs []error
	for doc := 0; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("parse rule %s: %w", name, &ParseError{File: name, Doc: doc, Err: err}))
			break
		}
		if len(n.Content) == 0 || n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null" {
			continue
		}
		r, err := parseDoc(name, doc, n.Content[0])
		if err != nil {
			errs = append(errs, fmt.Errorf("parse rule %s: %w", name, err))
			continue
		}
		if r != nil {
			rules = append(rules, r)
		}
	}
	return rules, errors.Join(errs...)
}

type docParser struct {
	pe *ParseError
}

func (p *docParser) fail(field string, format string, args ...any) error {
	p.pe.Field = field
	p.pe.Err = fmt.Errorf(format, args...)
	return p.pe
}

func mapping(n *yaml.Node) ([][2]*yaml.Node, bool) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil, false
	}
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		v := n.Content[i+1]
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		out = append(out, [2]*yaml.Node{n.Content[i], v})
	}
	return out, true
}

func parseDoc(file string, doc int, root *yaml.Node) (*Rule, error) {
	p := &docParser{pe: &ParseError{File: file, Doc: doc}}
	kvs, ok := mapping(root)
	if !ok {
		return nil, p.fail("", "document is not a mapping")
	}
	r := &Rule{File: file, Doc: doc}
	var det, corr, filt *yaml.Node
	for _, kv := range kvs {
		if kv[1].Kind == yaml.ScalarNode && kv[1].Tag == "!!str" {
			switch kv[0].Value {
			case "title", "id", "name":
				if p.pe.Rule == "" || kv[0].Value == "id" {
					p.pe.Rule = kv[1].Value
				}
			}
		}
	}
	for _, kv := range kvs {
		key, v := kv[0].Value, kv[1]
		var err error
		switch key {
		case "title":
			r.Title, err = p.str(key, v)
		case "id":
			r.ID, err = p.str(key, v)
		case "name":
			r.Name, err = p.str(key, v)
		case "status":
			r.Status, err = p.str(key, v)
		case "description":
			r.Description, err = p.str(key, v)
		case "author":
			r.Author, err = p.str(key, v)
		case "date":
			r.Date, err = p.str(key, v)
		case "modified":
			r.Modified, err = p.str(key, v)
		case "level":
			r.Level, err = p.str(key, v)
		case "references":
			r.References, err = p.strList(key, v)
		case "tags":
			r.Tags, err = p.strList(key, v)
		case "falsepositives":
			r.FalsePositives, err = p.strList(key, v)
		case "fields":
			r.Fields, err = p.strList(key, v)
		case "logsource":
			err = p.logsource(&r.LogSource, v)
		case "detection":
			det = v
		case "correlation":
			corr = v
		case "filter":
			filt = v
		}
		if err != nil {
			return nil, err
		}
	}
	if r.Title == "" {
		return nil, p.fail("title", "missing title")
	}
	switch {
	case corr != nil:
		r.Kind = KindCorrelation
		c, err := p.correlation(corr)
		if err != nil {
			return nil, err
		}
		r.Correlation = c
	case filt != nil:
		r.Kind = KindFilter
		f, err := p.filter(filt)
		if err != nil {
			return nil, err
		}
		r.Filter = f
	case det != nil:
		r.Kind = KindDetection
		d, err := p.detection("detection", det, "condition")
		if err != nil {
			return nil, err
		}
		r.Detection = d
	default:
		return nil, p.fail("", "no detection, correlation or filter section")
	}
	return r, nil
}

func (p *docParser) str(field string, v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", p.fail(field, "want a scalar")
	}
	return v.Value, nil
}

func (p *docParser) strList(field string, v *yaml.Node) ([]string, error) {
	if v.Kind == yaml.ScalarNode {
		if v.Tag == "!!null" {
			return nil, nil
		}
		return []string{v.Value}, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, p.fail(field, "want a list of strings")
	}
	out := make([]string, 0, len(v.Content))
	for i, e := range v.Content {
		if e.Kind != yaml.ScalarNode {
			return nil, p.fail(field+"["+strconv.Itoa(i)+"]", "want a string")
		}
		out = append(out, e.Value)
	}
	return out, nil
}

func (p *docParser) logsource(ls *LogSource, v *yaml.Node) error {
	kvs, ok := mapping(v)
	if !ok {
		return p.fail("logsource", "want a mapping")
	}
	for _, kv := range kvs {
		s, err := p.str("logsource."+kv[0].Value, kv[1])
		if err != nil {
			return err
		}
		switch kv[0].Value {
		case "product":
			ls.Product = strings.ToLower(s)
		case "category":
			ls.Category = strings.ToLower(s)
		case "service":
			ls.Service = strings.ToLower(s)
		case "definition":
			ls.Definition = s
		}
	}
	return nil
}

// detection parses a detection-like mapping: every key but condKey (and
// timeframe) is a search identifier.
func (p *docParser) detection(path string, v *yaml.Node, condKey string) (*Detection, error) {
	kvs, ok := mapping(v)
	if !ok {
		return nil, p.fail(path, "want a mapping")
	}
	d := &Detection{}
	for _, kv := range kvs {
		key, val := kv[0].Value, kv[1]
		switch key {
		case condKey:
			conds, err := p.strList(path+"."+key, val)
			if err != nil {
				return nil, err
			}
			d.Conditions = conds
			continue
		case "timeframe":
			continue
		case "rules":
			if condKey == "condition" && path == "filter" {
				continue
			}
		}
		s, err := p.search(path+"."+key, key, val)
		if err != nil {
			return nil, err
		}
		d.Searches = append(d.Searches, s)
	}
	if len(d.Conditions) == 0 {
		return nil, p.fail(path+"."+condKey, "missing condition")
	}
	return d, nil
}

func (p *docParser) search(path, name string, v *yaml.Node) (*Search, error) {
	s := &Search{Name: name}
	switch v.Kind {
	case yaml.MappingNode:
		alt, err := p.fieldMap(path, v)
		if err != nil {
			return nil, err
		}
		s.Alternatives = append(s.Alternatives, alt)
	case yaml.SequenceNode:
		var keywords []RawValue
		for i, e := range v.Content {
			if e.Kind == yaml.AliasNode && e.Alias != nil {
				e = e.Alias
			}
			ep := path + "[" + strconv.Itoa(i) + "]"
			switch e.Kind {
			case yaml.MappingNode:
				alt, err := p.fieldMap(ep, e)
				if err != nil {
					return nil, err
				}
				s.Alternatives = append(s.Alternatives, alt)
			case yaml.ScalarNode:
				rv, err := p.raw(ep, e)
				if err != nil {
					return nil, err
				}
				keywords = append(keywords, rv)
			default:
				return nil, p.fail(ep, "want a mapping or a keyword")
			}
		}
		if len(keywords) > 0 {
			s.Alternatives = append(s.Alternatives, []FieldSpec{{Values: keywords}})
		}
	case yaml.ScalarNode:
		rv, err := p.raw(path, v)
		if err != nil {
			return nil, err
		}
		s.Alternatives = append(s.Alternatives, []FieldSpec{{Values: []RawValue{rv}}})
	default:
		return nil, p.fail(path, "want a mapping or a list")
	}
	if len(s.Alternatives) == 0 {
		return nil, p.fail(path, "empty search")
	}
	return s, nil
}

func (p *docParser) fieldMap(path string, v *yaml.Node) ([]FieldSpec, error) {
	kvs, _ := mapping(v)
	out := make([]FieldSpec, 0, len(kvs))
	for _, kv := range kvs {
		key := kv[0].Value
		kp := path + "." + key
		parts := strings.Split(key, "|")
		fs := FieldSpec{Field: parts[0], Modifiers: parts[1:]}
		val := kv[1]
		switch val.Kind {
		case yaml.ScalarNode:
			rv, err := p.raw(kp, val)
			if err != nil {
				return nil, err
			}
			fs.Values = []RawValue{rv}
		case yaml.SequenceNode:
			for i, e := range val.Content {
				if e.Kind == yaml.AliasNode && e.Alias != nil {
					e = e.Alias
				}
				if e.Kind != yaml.ScalarNode {
					return nil, p.fail(kp+"["+strconv.Itoa(i)+"]", "want a scalar value")
				}
				rv, err := p.raw(kp, e)
				if err != nil {
					return nil, err
				}
				fs.Values = append(fs.Values, rv)
			}
			if len(fs.Values) == 0 {
				return nil, p.fail(kp, "empty value list")
			}
		default:
			return nil, p.fail(kp, "want a scalar or a list of scalars")
		}
		out = append(out, fs)
	}
	return out, nil
}

func (p *docParser) raw(path string, e *yaml.Node) (RawValue, error) {
	if e.Kind != yaml.ScalarNode {
		return RawValue{}, p.fail(path, "want a scalar")
	}
	switch e.Tag {
	case "!!null":
		return RawValue{Null: true}, nil
	case "!!int", "!!float":
		return RawValue{Text: e.Value, Number: true}, nil
	case "!!bool":
		return RawValue{Text: strings.ToLower(e.Value), Bool: true}, nil
	}
	return RawValue{Text: e.Value}, nil
}

func (p *docParser) correlation(v *yaml.Node) (*Correlation, error) {
	kvs, ok := mapping(v)
	if !ok {
		return nil, p.fail("correlation", "want a mapping")
	}
	c := &Correlation{}
	for _, kv := range kvs {
		key, val := kv[0].Value, kv[1]
		path := "correlation." + key
		var err error
		switch key {
		case "type":
			var s string
			s, err = p.str(path, val)
			c.Type = CorrelationType(s)
		case "rules":
			c.Rules, err = p.strList(path, val)
		case "group-by":
			c.GroupBy, err = p.strList(path, val)
		case "timespan", "timeframe":
			var s string
			if s, err = p.str(path, val); err == nil {
				c.Timespan, err = parseTimespan(s)
				if err != nil {
					return nil, p.fail(path, "%v", err)
				}
			}
		case "generate":
			c.Generate = val.Value == "true"
		case "aliases":
			akv, ok := mapping(val)
			if !ok {
				return nil, p.fail(path, "want a mapping")
			}
			c.Aliases = map[string]map[string]string{}
			for _, a := range akv {
				rkv, ok := mapping(a[1])
				if !ok {
					return nil, p.fail(path+"."+a[0].Value, "want a mapping of rule name to field")
				}
				m := map[string]string{}
				for _, r := range rkv {
					m[r[0].Value] = r[1].Value
				}
				c.Aliases[a[0].Value] = m
			}
		case "condition":
			ckv, ok := mapping(val)
			if !ok {
				return nil, p.fail(path, "want a mapping of operator to value")
			}
			c.Condition = map[string]float64{}
			for _, ck := range ckv {
				op := ck[0].Value
				switch op {
				case "field":
					c.Fields, err = p.strList(path+".field", ck[1])
					if err != nil {
						return nil, err
					}
				case "gt", "gte", "lt", "lte", "eq", "neq":
					f, perr := strconv.ParseFloat(ck[1].Value, 64)
					if perr != nil {
						return nil, p.fail(path+"."+op, "want a number, got %q", ck[1].Value)
					}
					c.Condition[op] = f
				default:
					return nil, p.fail(path+"."+op, "unknown condition operator %q", op)
				}
			}
		}
		if err != nil {
			return nil, err
		}
	}
	switch c.Type {
	case EventCount, ValueCount, ValueSum, ValueAvg, ValuePercentile:
		if len(c.Condition) == 0 {
			return nil, p.fail("correlation.condition", "%s needs a condition", c.Type)
		}
		if c.Type != EventCount && len(c.Fields) == 0 {
			return nil, p.fail("correlation.condition.field", "%s needs a field", c.Type)
		}
	case Temporal, TemporalOrdered:
	case "":
		return nil, p.fail("correlation.type", "missing type")
	default:
		return nil, p.fail("correlation.type", "unknown correlation type %q", c.Type)
	}
	if len(c.Rules) == 0 {
		return nil, p.fail("correlation.rules", "missing rules")
	}
	if c.Timespan <= 0 {
		return nil, p.fail("correlation.timespan", "missing timespan")
	}
	return c, nil
}

// parseTimespan parses "10s", "5m", "1h", "2d" (and "1w", "1M", "1y").
func parseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return 0, fmt.Errorf("invalid timespan %q", s)
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n <= 0 || n > 1<<20 {
		return 0, fmt.Errorf("invalid timespan %q", s)
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 's':
		unit = time.Second
	case 'm':
		unit = time.Minute
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	case 'w':
		unit = 7 * 24 * time.Hour
	case 'M':
		unit = 30 * 24 * time.Hour
	case 'y':
		unit = 365 * 24 * time.Hour
	default:
		return 0, fmt.Errorf("invalid timespan unit in %q", s)
	}
	return time.Duration(n) * unit, nil
}

func (p *docParser) filter(v *yaml.Node) (*Filter, error) {
	kvs, ok := mapping(v)
	if !ok {
		return nil, p.fail("filter", "want a mapping")
	}
	f := &Filter{}
	for _, kv := range kvs {
		if kv[0].Value == "rules" {
			var err error
			if f.Rules, err = p.strList("filter.rules", kv[1]); err != nil {
				return nil, err
			}
		}
	}
	if len(f.Rules) == 0 {
		return nil, p.fail("filter.rules", "missing rules")
	}
	d, err := p.detection("filter", v, "condition")
	if err != nil {
		return nil, err
	}
	f.Detection = d
	return f, nil
}
