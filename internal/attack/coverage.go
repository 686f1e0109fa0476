package attack

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// Rule is what coverage needs of a detection rule.
type Rule struct {
	ID    string
	Title string
	Tags  []string
}

// Coverage says which techniques the rules detect, by tactic.
type Coverage struct {
	Version string           `json:"attack_version"`
	Rules   int              `json:"rules"`
	Tagged  int              `json:"rules_with_attack_tags"`
	Tactics []TacticCoverage `json:"tactics"`
	// Techniques and Covered count techniques (without sub-techniques).
	Techniques int `json:"techniques"`
	Covered    int `json:"covered"`
	// UnknownTags are attack.* tags the catalog does not know (newer
	// ids, typos).
	UnknownTags []string `json:"unknown_tags,omitempty"`
}

// TacticCoverage is one column of the matrix.
type TacticCoverage struct {
	ID         string              `json:"id"`
	ShortName  string              `json:"short_name"`
	Name       string              `json:"name"`
	Techniques []TechniqueCoverage `json:"techniques"`
	Total      int                 `json:"total"`
	Covered    int                 `json:"covered"`
	// TacticOnly counts rules tagged with the tactic but no technique.
	TacticOnly int `json:"tactic_only_rules"`
}

// TechniqueCoverage is one cell: a technique and the rules on it or on its
// sub-techniques.
type TechniqueCoverage struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Rules         []string `json:"rules,omitempty"`
	SubTechniques []string `json:"sub_techniques_covered,omitempty"`
}

// Coverage maps rules onto the matrix. A rule tagged with a technique
// covers it under each of the technique's tactics (only those the rule also
// names, when it names some of them); a sub-technique covers its technique.
func (c *Catalog) Coverage(rules []Rule) Coverage {
	cov := Coverage{Version: c.Version, Rules: len(rules)}
	type cell struct {
		rules []string
		subs  []string
	}
	cells := map[[2]string]*cell{} // tactic short name, technique id
	tacticOnly := map[string]int{}
	unknown := map[string]bool{}
	for _, r := range rules {
		var techs []Entry
		var tactics []string
		tagged := false
		for _, tag := range r.Tags {
			if !strings.HasPrefix(strings.ToLower(tag), "attack.") {
				continue
			}
			ref, ok := c.ParseTag(tag)
			if !ok {
				// Groups/software ids and CAR refs are fine; others are unknown.
				unknown[strings.ToLower(tag)] = true
				continue
			}
			tagged = true
			switch ref.Kind {
			case KindTechnique:
				e, _ := c.Get(ref.ID)
				techs = append(techs, e)
			case KindTactic:
				e, _ := c.Get(ref.ID)
				tactics = append(tactics, e.ShortName)
			case KindGroup, KindSoftware, KindMitigation, KindDataComponent, KindCampaign:
			}
		}
		if tagged {
			cov.Tagged++
		}
		name := r.ID
		if r.Title != "" {
			name = r.Title
		}
		if len(techs) == 0 {
			for _, t := range tactics {
				tacticOnly[t]++
			}
			continue
		}
		for _, t := range techs {
			id, sub := t.ID, ""
			if t.Parent != "" {
				id, sub = t.Parent, t.ID
			}
			parent, _ := c.Get(id)
			// The tactics the rule names narrow the technique's, unless
			// none of them is one of its tactics.
			under := parent.Tactics
			if len(tactics) > 0 {
				var named []string
				for _, tac := range parent.Tactics {
					if slices.Contains(tactics, tac) || aliasIn(tac, tactics) {
						named = append(named, tac)
					}
				}
				if len(named) > 0 {
					under = named
				}
			}
			for _, tac := range under {
				k := [2]string{tac, id}
				if cells[k] == nil {
					cells[k] = &cell{}
				}
				if !slices.Contains(cells[k].rules, name) {
					cells[k].rules = append(cells[k].rules, name)
				}
				if sub != "" && !slices.Contains(cells[k].subs, sub) {
					cells[k].subs = append(cells[k].subs, sub)
				}
			}
		}
	}
	seen := map[string]bool{}
	covered := map[string]bool{}
	for _, tac := range c.Tactics() {
		tc := TacticCoverage{ID: tac.ID, ShortName: tac.ShortName, Name: tac.Name, TacticOnly: tacticOnly[tac.ShortName]}
		for _, t := range c.Techniques(tac.ShortName) {
			if t.Parent != "" {
				continue
			}
			tc.Total++
			seen[t.ID] = true
			cl := cells[[2]string{tac.ShortName, t.ID}]
			if cl == nil {
				continue
			}
			sort.Strings(cl.subs)
			tc.Covered++
			covered[t.ID] = true
			tc.Techniques = append(tc.Techniques, TechniqueCoverage{ID: t.ID, Name: t.Name, Rules: cl.rules, SubTechniques: cl.subs})
		}
		cov.Tactics = append(cov.Tactics, tc)
	}
	cov.Techniques, cov.Covered = len(seen), len(covered)
	for t := range unknown {
		cov.UnknownTags = append(cov.UnknownTags, t)
	}
	sort.Strings(cov.UnknownTags)
	return cov
}

func aliasIn(tactic string, names []string) bool {
	for _, n := range names {
		if slices.Contains(tacticAliases[n], tactic) {
			return true
		}
	}
	return false
}

// WriteTable prints the matrix: one line per tactic with its coverage and
// the covered techniques (with rule counts); detail lists rule names too.
func (cov Coverage) WriteTable(w io.Writer, detail bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ATT&CK %s: %d of %d techniques covered by %d of %d rules\n\n", cov.Version, cov.Covered, cov.Techniques, cov.Tagged, cov.Rules)
	fmt.Fprintln(tw, "TACTIC\tID\tCOVERED\tTECHNIQUES (rules)")
	for _, t := range cov.Tactics {
		pct := 0.0
		if t.Total > 0 {
			pct = 100 * float64(t.Covered) / float64(t.Total)
		}
		var cells []string
		for _, tc := range t.Techniques {
			cells = append(cells, fmt.Sprintf("%s(%d)", tc.ID, len(tc.Rules)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d %3.0f%%\t%s\n", t.Name, t.ID, t.Covered, t.Total, pct, strings.Join(cells, " "))
		if detail {
			for _, tc := range t.Techniques {
				fmt.Fprintf(tw, "\t%s\t%s\t%s\n", tc.ID, tc.Name, strings.Join(tc.Rules, "; "))
			}
		}
	}
	if len(cov.UnknownTags) > 0 {
		fmt.Fprintf(tw, "\nunknown tags: %s\n", strings.Join(cov.UnknownTags, ", "))
	}
	return tw.Flush()
}
