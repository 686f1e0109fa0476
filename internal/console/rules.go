package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
)

// The rules page: every loaded rule with its health, enable / disable
// per tenant, a test over the last 24 hours, and the ATT&CK coverage
// matrix as a heatmap — all through the detection and ATT&CK APIs.
//
// Disabling a rule is a whole-rule suppression of the tenant (the
// detection API's way to silence a rule; it must expire, at most a year
// ahead); enabling deletes it. Rule files themselves stay as they are.

const (
	permRulesRead  api.Permission = "rules:read"
	permRulesWrite api.Permission = "rules:write"
	permRulesHunt  api.Permission = "rules:hunt"
	permAttackRead api.Permission = "attack:read"
)

type ruleView struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Kind       string    `json:"kind"`
	Level      string    `json:"level"`
	Tags       []string  `json:"tags"`
	Source     string    `json:"source"`
	File       string    `json:"file"`
	State      string    `json:"state"`
	Error      string    `json:"error"`
	Evaluated  uint64    `json:"evaluated"`
	EvalTimeMS float64   `json:"eval_time_ms"`
	Slow       bool      `json:"slow"`
	Matches    uint64    `json:"matches"`
	Suppressed uint64    `json:"suppressed"`
	LastMatch  time.Time `json:"last_match"`
	// DisabledUntil is set when a whole-rule suppression silences it.
	DisabledUntil time.Time `json:"-"`
	DisabledBy    []string  `json:"-"`
}

type suppressionView struct {
	ID        string    `json:"id"`
	RuleID    string    `json:"rule_id"`
	Field     string    `json:"field"`
	Value     string    `json:"value"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by"`
	ExpiresAt time.Time `json:"expires_at"`
	Hits      uint64    `json:"hits"`
}

type coverageView struct {
	Version     string           `json:"attack_version"`
	Rules       int              `json:"rules"`
	Tagged      int              `json:"rules_with_attack_tags"`
	Techniques  int              `json:"techniques"`
	Covered     int              `json:"covered"`
	Tactics     []tacticCoverage `json:"tactics"`
	UnknownTags []string         `json:"unknown_tags"`
}

type tacticCoverage struct {
	ID         string          `json:"id"`
	ShortName  string          `json:"short_name"`
	Name       string          `json:"name"`
	Total      int             `json:"total"`
	Covered    int             `json:"covered"`
	Techniques []techniqueCell `json:"techniques"`
}

type techniqueCell struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Rules []string `json:"rules"`
	Subs  []string `json:"sub_techniques_covered"`
}

// fillMatrix adds the techniques no rule covers to each tactic of the
// coverage (which lists covered ones), from the catalog, so the heatmap
// shows the gaps too.
func fillMatrix(cov *coverageView, techniques []struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Tactics []string `json:"tactics"`
	Parent  string   `json:"parent"`
}) {
	for i := range cov.Tactics {
		t := &cov.Tactics[i]
		have := map[string]bool{}
		for _, c := range t.Techniques {
			have[c.ID] = true
		}
		for _, e := range techniques {
			if e.Parent != "" || strings.Contains(e.ID, ".") || have[e.ID] {
				continue
			}
			for _, tac := range e.Tactics {
				if tac == t.ShortName || tac == t.ID {
					t.Techniques = append(t.Techniques, techniqueCell{ID: e.ID, Name: e.Name})
					have[e.ID] = true
					break
				}
			}
		}
	}
}

type huntResultView struct {
	Rules      int     `json:"rules"`
	Events     int     `json:"events"`
	Truncated  bool    `json:"truncated"`
	Detections []json0 `json:"detections"`
	Problems   []json0 `json:"problems"`
	TookMS     float64 `json:"took_ms"`
	Rule       string  `json:"-"`
}

// json0 is a JSON object shown by a few of its fields.
type json0 = map[string]any

type rulesData struct {
	Tab      string
	Message  string
	State    string
	Text     string
	Rules    []ruleView
	Counts   map[string]int
	Coverage *coverageView
	Max      int
	Test     *huntResultView
}

func (s *Service) rulesRoutes() []api.Route {
	p := api.ConsolePrefix
	return []api.Route{
		{Pattern: "GET " + p + "rules", Perm: permRulesRead, Handler: s.rules},
		{Pattern: "POST " + p + "rules/{id}/disable", Perm: permRulesWrite, Handler: s.ruleToggle(false)},
		{Pattern: "POST " + p + "rules/{id}/enable", Perm: permRulesWrite, Handler: s.ruleToggle(true)},
		{Pattern: "POST " + p + "rules/{id}/test", Perm: permRulesHunt, Handler: s.ruleTest},
		{Pattern: "GET " + p + "attack", Perm: permAttackRead, Handler: s.coverage},
	}
}

// loadRules reads the rules and marks those a whole-rule suppression
// silences.
func (s *Service) loadRules(r *http.Request, d *rulesData) error {
	var all []ruleView
	if err := s.call(r, "GET", "/api/v1/rules", nil, &all); err != nil {
		return err
	}
	var sups []suppressionView
	if err := s.call(r, "GET", "/api/v1/rules/suppressions", nil, &sups); err != nil {
		return err
	}
	off := map[string][]suppressionView{}
	for _, sp := range sups {
		if sp.Field == "" {
			off[sp.RuleID] = append(off[sp.RuleID], sp)
		}
	}
	d.Counts = map[string]int{}
	text := strings.ToLower(d.Text)
	for _, rv := range all {
		for _, sp := range off[rv.ID] {
			if sp.ExpiresAt.After(rv.DisabledUntil) {
				rv.DisabledUntil = sp.ExpiresAt
			}
			rv.DisabledBy = append(rv.DisabledBy, sp.CreatedBy+": "+sp.Reason)
		}
		state := rv.State
		if !rv.DisabledUntil.IsZero() {
			state = "disabled"
		}
		d.Counts[state]++
		if rv.Slow {
			d.Counts["slow"]++
		}
		if d.State != "" && state != d.State && !(d.State == "slow" && rv.Slow) {
			continue
		}
		if text != "" && !strings.Contains(strings.ToLower(rv.Title+" "+rv.ID+" "+strings.Join(rv.Tags, " ")), text) {
			continue
		}
		d.Rules = append(d.Rules, rv)
	}
	return nil
}

func (s *Service) rules(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := rulesData{Tab: "rules", Message: q.Get("msg"), State: q.Get("state"), Text: q.Get("text")}
	if err := s.loadRules(r, &d); err != nil {
		s.failOrSay(w, r, err, &d.Message)
	}
	s.render(w, r, "rules", "layout", s.newPage(r, "rules", "Rules", d))
}

func (s *Service) ruleToggle(enable bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		dest := api.ConsolePrefix + "rules"
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		var err error
		msg := ""
		if enable {
			var sups []suppressionView
			if err = s.call(r, "GET", "/api/v1/rules/suppressions", nil, &sups); err == nil {
				n := 0
				for _, sp := range sups {
					if sp.RuleID == id && sp.Field == "" {
						if err = s.call(r, "DELETE", "/api/v1/rules/suppressions/"+url.PathEscape(sp.ID), nil, nil); err != nil {
							break
						}
						n++
					}
				}
				msg = fmt.Sprintf("Rule %s enabled (%d suppression(s) removed)", id, n)
			}
		} else {
			reason := strings.TrimSpace(r.PostForm.Get("reason"))
			if reason == "" {
				reason = "disabled from the console"
			}
			dur := r.PostForm.Get("for")
			if dur == "" {
				dur = "30d"
			}
			err = s.call(r, "POST", "/api/v1/rules/suppressions", map[string]string{"rule_id": id, "for": dur, "reason": reason}, nil)
			msg = "Rule " + id + " disabled for " + dur
		}
		if err != nil {
			m, ok := userMessage(err)
			if !ok {
				s.fail(w, r, err)
				return
			}
			msg = "Not done: " + m
		}
		back(w, r, dest, msg)
	}
}

// ruleTest runs one rule over the last 24 hours (a retro-hunt) and shows
// what it would have found.
func (s *Service) ruleTest(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d := rulesData{Tab: "rules"}
	var res huntResultView
	end := s.o.Now().UTC()
	err := s.call(r, "POST", "/api/v1/rules/hunt", map[string]any{"rule_ids": []string{id}, "start": end.Add(-24 * time.Hour).Format(time.RFC3339),
		"end": end.Format(time.RFC3339), "max_detections": 50}, &res)
	if err != nil {
		m, ok := userMessage(err)
		if !ok {
			s.fail(w, r, err)
			return
		}
		d.Message = "Test of " + id + " not run: " + m
	} else {
		res.Rule = id
		d.Test = &res
	}
	if err := s.loadRules(r, &d); err != nil {
		s.failOrSay(w, r, err, &d.Message)
	}
	s.render(w, r, "rules", "layout", s.newPage(r, "rules", "Rules", d))
}

func (s *Service) coverage(w http.ResponseWriter, r *http.Request) {
	d := rulesData{Tab: "attack"}
	var cov coverageView
	var all struct {
		Techniques []struct {
			ID      string   `json:"id"`
			Name    string   `json:"name"`
			Tactics []string `json:"tactics"`
			Parent  string   `json:"parent"`
		} `json:"techniques"`
	}
	err := s.call(r, "GET", "/api/v1/attack/coverage", nil, &cov)
	if err == nil {
		err = s.call(r, "GET", "/api/v1/attack/techniques", nil, &all)
	}
	if err != nil {
		s.failOrSay(w, r, err, &d.Message)
	} else {
		fillMatrix(&cov, all.Techniques)
		for _, t := range cov.Tactics {
			for _, tc := range t.Techniques {
				d.Max = max(d.Max, len(tc.Rules))
			}
		}
		for i := range cov.Tactics {
			ts := cov.Tactics[i].Techniques
			sort.SliceStable(ts, func(a, b int) bool {
				if len(ts[a].Rules) != len(ts[b].Rules) {
					return len(ts[a].Rules) > len(ts[b].Rules)
				}
				return ts[a].ID < ts[b].ID
			})
		}
		d.Coverage = &cov
	}
	s.render(w, r, "rules", "layout", s.newPage(r, "rules", "ATT&CK coverage", d))
}

// heatClass buckets a cell's rule count into one of five shades.
func heatClass(n int) string {
	switch {
	case n <= 0:
		return "h0"
	case n == 1:
		return "h1"
	case n <= 3:
		return "h2"
	case n <= 6:
		return "h3"
	}
	return "h4"
}

func pct(a, b int) int {
	if b <= 0 {
		return 0
	}
	return a * 100 / b
}

// getField shows one field of a JSON object.
func getField(m map[string]any, key string) string {
	v, ok := m[key]
	if !ok || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprint(int64(x))
		}
		return fmt.Sprintf("%.2f", x)
	case map[string]any:
		parts := make([]string, 0, len(x))
		for k, vv := range x {
			parts = append(parts, k+"="+fmt.Sprint(vv))
		}
		sort.Strings(parts)
		return strings.Join(parts, " ")
	}
	return fmt.Sprint(v)
}
