package config

import (
	"strconv"
	"strings"
)

// DetectSuppress is one suppression window: matches of Rule (a rule id, or
// "*" for every rule without an entry) with equal GroupBy values (entity
// names such as host.name, or event fields) within Window are one alert
// with a count and first / last seen.
//
//	detect:
//	  suppress:
//	    - rule: 3a7eb3e6-4fde-44a0-8b3f-2d3ddc49df66
//	      group_by: [host.name]
//	      window: 1h
type DetectSuppress struct {
	Rule    string   `yaml:"rule"`
	GroupBy []string `yaml:"group_by"`
	Window  Duration `yaml:"window"`
}

func (d *Detect) validate(bad func(key, format string, args ...any)) {
	seen := map[string]bool{}
	for i, s := range d.Suppress {
		key := "detect.suppress[" + strconv.Itoa(i) + "]"
		if strings.TrimSpace(s.Rule) == "" {
			bad(key+".rule", "name a rule id, or * for every rule")
		}
		if s.Window <= 0 {
			bad(key+".window", "must be a positive duration such as 15m or 1h")
		}
		if seen[s.Rule] {
			bad(key+".rule", "%q has two entries", s.Rule)
		}
		seen[s.Rule] = true
	}
}
