package detect

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/sigma"
)

// Hunt bounds.
const (
	DefaultHuntEvents    = 100_000
	MaxHuntEvents        = 1_000_000
	DefaultHuntMatches   = 1_000
	MaxHuntRuleTextBytes = 1 << 20
)

// HuntRequest runs rules over stored events of one tenant.
type HuntRequest struct {
	// RuleIDs name loaded rules (a correlation brings the rules it
	// references).
	RuleIDs []string `json:"rule_ids,omitempty"`
	// Rule is Sigma YAML text (one or more documents) to run instead of or
	// beside loaded rules.
	Rule  string    `json:"rule,omitempty"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// MaxEvents bounds the events read (default 100,000).
	MaxEvents int `json:"max_events,omitempty"`
	// MaxDetections bounds the detections returned (default 1,000).
	MaxDetections int `json:"max_detections,omitempty"`
}

// HuntResult is what a retro-hunt found. Its detections are returned, not
// published: a hunt over history does not raise alerts by itself.
type HuntResult struct {
	Query      string      `json:"query"`
	Rules      int         `json:"rules"`
	Events     int         `json:"events"`
	Truncated  bool        `json:"truncated"`
	Detections []Detection `json:"detections"`
	Problems   []Problem   `json:"problems,omitempty"`
	TookMS     float64     `json:"took_ms"`
}

// Hunt runs rules over the tenant's stored events between Start and End:
// a LogsQL prefilter on the rules' logsources, then exact evaluation in
// time order.
func (s *Service) Hunt(ctx context.Context, tenant string, req HuntRequest) (HuntResult, error) {
	started := time.Now()
	if s.opts.Events == nil {
		return HuntResult{}, userErrorf("retro-hunts need the event store")
	}
	if req.End.IsZero() {
		req.End = s.now()
	}
	if req.Start.IsZero() || !req.Start.Before(req.End) {
		return HuntResult{}, userErrorf("give a start before the end")
	}
	if req.MaxEvents <= 0 {
		req.MaxEvents = DefaultHuntEvents
	}
	if req.MaxEvents > MaxHuntEvents {
		return HuntResult{}, userErrorf("max_events: at most %d", MaxHuntEvents)
	}
	if req.MaxDetections <= 0 {
		req.MaxDetections = DefaultHuntMatches
	}
	if len(req.Rule) > MaxHuntRuleTextBytes {
		return HuntResult{}, userErrorf("rule: at most %d bytes", MaxHuntRuleTextBytes)
	}
	coll, problems, err := s.huntCollection(req)
	if err != nil {
		return HuntResult{}, err
	}
	eng, _ := sigma.Compile(coll, s.opts.Load.Sigma)
	for _, p := range eng.Problems() {
		kind := ProblemInvalid
		if p.Unsupported() {
			kind = ProblemUnsupported
		}
		problems = append(problems, Problem{Kind: kind, Source: "hunt", File: p.Rule.File, RuleID: ruleID(p.Rule), Title: p.Rule.Title, Reason: p.Err.Error()})
	}
	if eng.RuleCount() == 0 {
		return HuntResult{Problems: problems}, userErrorf("no rule to run: %s", problemsText(problems))
	}
	res := HuntResult{Query: PrefilterQuery(coll.Rules), Rules: len(coll.Rules), Problems: problems}
	var events []*event.Event
	q := eventstore.Query{Tenant: tenant, LogsQL: res.Query, Start: req.Start, End: req.End, Limit: req.MaxEvents + 1}
	err = s.opts.Events.Query(ctx, q, func(row eventstore.Row) error {
		if len(events) == req.MaxEvents {
			res.Truncated = true
			return nil
		}
		events = append(events, EventFromRow(row, tenant))
		return nil
	})
	if err != nil {
		if errors.Is(err, eventstore.ErrBadQuery) {
			return HuntResult{}, userErrorf("prefilter query %s: %v", res.Query, err)
		}
		return HuntResult{}, fmt.Errorf("hunt query: %w", err)
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	res.Events = len(events)
	add := func(m sigma.Match) {
		if len(res.Detections) >= req.MaxDetections {
			res.Truncated = true
			return
		}
		res.Detections = append(res.Detections, FromMatch(m, "hunt"))
	}
	for _, ev := range events {
		if ls, ok := RouteLogSource(ev); ok {
			ev.LogSource = ls
		}
		eng.Match(ev, add)
	}
	eng.Flush(time.Time{}, add)
	res.TookMS = float64(time.Since(started).Microseconds()) / 1000
	return res, nil
}

func problemsText(ps []Problem) string {
	if len(ps) == 0 {
		return "none given"
	}
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		parts = append(parts, p.File+": "+p.Reason)
	}
	return strings.Join(parts, "; ")
}

// huntCollection gathers the loaded rules asked for (with the rules their
// correlations reference) and the rule text.
func (s *Service) huntCollection(req HuntRequest) (*sigma.Collection, []Problem, error) {
	coll := &sigma.Collection{}
	var problems []Problem
	if len(req.RuleIDs) > 0 {
		rs := s.rules.Load()
		byRef := map[string][]*sigma.Rule{}
		for _, r := range rs.Rules {
			for _, k := range []string{r.ID, r.Name} {
				if k != "" {
					byRef[k] = append(byRef[k], r)
				}
			}
		}
		seen := map[*sigma.Rule]bool{}
		var want func(ref string) bool
		want = func(ref string) bool {
			rules := byRef[ref]
			for _, r := range rules {
				if seen[r] {
					continue
				}
				seen[r] = true
				coll.Add(r)
				if r.Correlation != nil {
					for _, in := range r.Correlation.Rules {
						want(in)
					}
				}
			}
			return len(rules) > 0
		}
		for _, id := range req.RuleIDs {
			if !want(id) {
				return nil, nil, userErrorf("no rule with id %q is loaded", id)
			}
		}
	}
	if strings.TrimSpace(req.Rule) != "" {
		rules, err := sigma.ParseRules("hunt.yml", []byte(req.Rule))
		if err != nil {
			problems = append(problems, parseProblem("hunt", err)...)
		}
		coll.Add(rules...)
	}
	if len(coll.Rules) == 0 {
		if len(problems) > 0 {
			return nil, problems, userErrorf("the rule does not parse: %s", problemsText(problems))
		}
		return nil, nil, userErrorf("give rule_ids or rule (Sigma YAML)")
	}
	return coll, problems, nil
}

// PrefilterQuery is a LogsQL query that selects the events the detection
// rules' logsources can apply to ("*" when a rule has none).
func PrefilterQuery(rules []*sigma.Rule) string {
	var alts []string
	seen := map[string]bool{}
	for _, r := range rules {
		if r.Kind != sigma.KindDetection {
			continue
		}
		ls := r.LogSource
		var terms []string
		add := func(field, v string) {
			if v == "" {
				return
			}
			v = strings.ToLower(v)
			if field == event.FieldCategory && v == "registry_event" {
				terms = append(terms, field+":registry_*")
				return
			}
			terms = append(terms, field+":="+strconv.Quote(v))
		}
		add(event.FieldProduct, ls.Product)
		add(event.FieldCategory, ls.Category)
		add(event.FieldService, ls.Service)
		if len(terms) == 0 {
			return "*"
		}
		alt := "(" + strings.Join(terms, " ") + ")"
		if strings.EqualFold(ls.Category, "webserver") && ls.Product == "" && ls.Service == "" {
			// Access logs sent as JSON (Splunk HEC) carry a sourcetype
			// rather than a logsource.
			alt = "(" + alt + ` or sourcetype:~"(?i)access|iis")`
		}
		if !seen[alt] {
			seen[alt] = true
			alts = append(alts, alt)
		}
	}
	if len(alts) == 0 {
		return "*"
	}
	sort.Strings(alts)
	return strings.Join(alts, " or ")
}

// EventFromRow turns a stored row back into an event: reserved columns into
// the struct, the others into string fields. Names and values are copied:
// the embedded store hands out strings backed by buffers it reuses once
// the row callback returns.
func EventFromRow(row eventstore.Row, tenant string) *event.Event {
	ev := &event.Event{Tenant: tenant, Fields: make([]event.Field, 0, len(row))}
	for _, f := range row {
		f.Value = strings.Clone(f.Value)
		switch f.Name {
		case "_time":
			ev.Time, _ = time.Parse(time.RFC3339Nano, f.Value)
		case "_msg":
			ev.Message = f.Value
		case event.FieldID:
			ev.ID = f.Value
		case event.FieldIngestTime:
			ev.IngestTime, _ = time.Parse(time.RFC3339Nano, f.Value)
		case event.FieldListener:
			ev.Source.Listener = f.Value
		case event.FieldPeer:
			ev.Source.Peer = f.Value
		case event.FieldProduct:
			ev.LogSource.Product = f.Value
		case event.FieldCategory:
			ev.LogSource.Category = f.Value
		case event.FieldService:
			ev.LogSource.Service = f.Value
		case event.FieldFormat:
			ev.Format = f.Value
		case event.FieldError:
			ev.Errors = append(ev.Errors, f.Value)
		case event.FieldRaw:
			ev.Raw = []byte(f.Value)
		default:
			if !event.IsReserved(f.Name) {
				ev.Fields = append(ev.Fields, event.Field{Name: strings.Clone(f.Name), Value: event.String(f.Value)})
			}
		}
	}
	return ev
}
