package sigma

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/event"
	"go.yaml.in/yaml/v3"
)

// LogSourceMap sets the Sigma logsource of Windows events from their Channel
// and EventID, and adds the Sigma field names a logsource maps (for example
// Image for NewProcessName on Security 4688). It is read from a THOR-style
// mapping file (SigmaHQ's tests/thor.yml) so that the mapping is data.
type LogSourceMap struct {
	channels map[string]channelSource // lower-cased channel
	// categories holds, per service and EventID, the candidate categories
	// in the order they are tried: most conditions first, then by name.
	categories map[categoryKey][]categorySource
}

type channelSource struct{ product, service string }

type categoryKey struct {
	service string
	eventID int64
}

type categorySource struct {
	name     string // the mapping's entry name (tie-breaker)
	category string
	// when are further conditions besides EventID (EventType: DeleteKey).
	when   [][2]string
	fields [][2]string // sigma name, event name
}

type thorFile struct {
	Logsources map[string]struct {
		Category      string            `yaml:"category"`
		Product       string            `yaml:"product"`
		Service       string            `yaml:"service"`
		Sources       []string          `yaml:"sources"`
		Conditions    map[string]any    `yaml:"conditions"`
		Rewrite       map[string]string `yaml:"rewrite"`
		FieldMappings map[string]string `yaml:"fieldmappings"`
	} `yaml:"logsources"`
}

// ParseLogSourceMap reads a THOR-style logsource mapping.
func ParseLogSourceMap(data []byte) (*LogSourceMap, error) {
	var f thorFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse logsource map: %w", err)
	}
	m := &LogSourceMap{channels: map[string]channelSource{}, categories: map[categoryKey][]categorySource{}}
	for name, ls := range f.Logsources {
		for _, src := range ls.Sources {
			ch, ok := strings.CutPrefix(src, "WinEventLog:")
			if ok && ls.Service != "" {
				m.channels[strings.ToLower(ch)] = channelSource{product: ls.Product, service: ls.Service}
			}
		}
		if ls.Category == "" || ls.Conditions == nil {
			continue
		}
		var ids []int64
		switch v := ls.Conditions["EventID"].(type) {
		case int:
			ids = append(ids, int64(v))
		case []any:
			for _, x := range v {
				if i, ok := x.(int); ok {
					ids = append(ids, int64(i))
				}
			}
		default:
			return nil, fmt.Errorf("parse logsource map: %s: conditions without EventID", name)
		}
		cs := categorySource{name: name, category: ls.Category}
		for k, v := range ls.FieldMappings {
			cs.fields = append(cs.fields, [2]string{k, v})
		}
		sort.Slice(cs.fields, func(i, j int) bool { return cs.fields[i][0] < cs.fields[j][0] })
		for k, v := range ls.Conditions {
			if k == "EventID" {
				continue
			}
			cs.when = append(cs.when, [2]string{k, fmt.Sprint(v)})
		}
		sort.Slice(cs.when, func(i, j int) bool { return cs.when[i][0] < cs.when[j][0] })
		for _, id := range ids {
			key := categoryKey{service: ls.Rewrite["service"], eventID: id}
			m.categories[key] = append(m.categories[key], cs)
		}
	}
	// Try the most specific candidate first; registry_event, the umbrella
	// of the registry categories, only when nothing else fits. The order
	// never depends on map iteration.
	for key, list := range m.categories {
		sort.Slice(list, func(i, j int) bool {
			ui, uj := list[i].category == "registry_event", list[j].category == "registry_event"
			if ui != uj {
				return !ui
			}
			if len(list[i].when) != len(list[j].when) {
				return len(list[i].when) > len(list[j].when)
			}
			return list[i].name < list[j].name
		})
		m.categories[key] = list
	}
	return m, nil
}

// Apply sets ev.LogSource from the Channel and EventID fields and adds the
// mapped field names. It reports whether the channel was known.
func (m *LogSourceMap) Apply(ev *event.Event) bool {
	ch, ok := ev.Get("Channel")
	if !ok {
		return false
	}
	cs, ok := m.channels[strings.ToLower(ch.String())]
	if !ok {
		return false
	}
	ev.LogSource.Product = cs.product
	ev.LogSource.Service = cs.service
	idv, _ := ev.Get("EventID")
	id, ok := idv.Int()
	if !ok {
		id, _ = strconv.ParseInt(strings.TrimSpace(idv.String()), 10, 64)
	}
	if cat, ok := m.pick(ev, categoryKey{service: cs.service, eventID: id}); ok {
		ev.LogSource.Category = cat.category
		for _, f := range cat.fields {
			if _, has := ev.Get(f[0]); has {
				continue
			}
			if v, has := ev.Get(f[1]); has {
				ev.Add(f[0], v)
			}
		}
	}
	return true
}

// pick returns the first candidate whose conditions the event meets.
func (m *LogSourceMap) pick(ev *event.Event, key categoryKey) (categorySource, bool) {
	for _, c := range m.categories[key] {
		ok := true
		for _, w := range c.when {
			v, has := ev.Get(w[0])
			if !has || !strings.EqualFold(v.String(), w[1]) {
				ok = false
				break
			}
		}
		if ok {
			return c, true
		}
	}
	return categorySource{}, false
}
