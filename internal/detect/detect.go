// Package detect runs Sigma rules inside wacht: it loads rules from the
// configured folders and its embedded starter pack, compiles them with the
// public sigma package, evaluates every stored event batch, and publishes
// one domain event "detection.matched" per match (the cases module turns
// those into alerts). It keeps rule health (loaded or failed with the
// reason, events evaluated, matches per tenant, evaluation time),
// suppressions per rule and entity that expire, hot reload when a rule
// file changes, and retro-hunts over the event store.
//
// Correlation state lives in the engine and is keyed by tenant and group-by
// values; windows are closed by Flush, which the caller drives from its
// clock. With Options.StateFile the state is restored at start and saved
// by SaveState (wacht serve: DATA/detect/correlations.json, every minute
// and on stop), and a reload carries it over to unchanged correlations.
//
// # Configuration
//
// detect.rules (and WACHT_RULES, a list of rule folders or files separated
// by the OS list separator) name the rule folders; the embedded starter
// pack (starter/*.yml, written for wacht's demo) is always loaded. Rule
// files are polled for changes every few seconds; POST
// /api/v1/rules/reload reloads at once. detect.suppress lists suppression
// windows (WindowRule): repeats of a rule with the same group-by values
// within the window are one alert with a count and first / last seen,
// without editing the rule file. Suppressions through the API silence a
// rule for one entity until they expire.
package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/sigma"
)

// TopicMatched is the bus event type published for every detection.
const TopicMatched = "detection.matched"

// Level is a Sigma rule level.
type Level uint8

// Levels, least severe first.
const (
	LevelUnknown Level = iota
	LevelInformational
	LevelLow
	LevelMedium
	LevelHigh
	LevelCritical
)

// ParseLevel reads a Sigma level; anything else is LevelUnknown.
func ParseLevel(s string) Level {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "informational":
		return LevelInformational
	case "low":
		return LevelLow
	case "medium":
		return LevelMedium
	case "high":
		return LevelHigh
	case "critical":
		return LevelCritical
	}
	return LevelUnknown
}

func (l Level) String() string {
	switch l {
	case LevelUnknown:
		return "unknown"
	case LevelInformational:
		return "informational"
	case LevelLow:
		return "low"
	case LevelMedium:
		return "medium"
	case LevelHigh:
		return "high"
	case LevelCritical:
		return "critical"
	}
	return "unknown"
}

// MarshalText writes the level's name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a level's name.
func (l *Level) UnmarshalText(b []byte) error {
	*l = ParseLevel(string(b))
	if *l == LevelUnknown && string(b) != "unknown" {
		return fmt.Errorf("unknown level %q (want informational, low, medium, high or critical)", b)
	}
	return nil
}

// Detection is one rule match, ready to become an alert. It is the Data of
// the bus event TopicMatched.
type Detection struct {
	Tenant string `json:"tenant"`
	RuleID string `json:"rule_id"`
	Title  string `json:"title"`
	Level  Level  `json:"level"`
	// Author is kept with every detection: the Detection Rule License of
	// SigmaHQ content requires it.
	Author string `json:"author,omitempty"`
	// Tags are the rule's tags; Attack the ATT&CK ones without "attack.".
	Tags   []string `json:"tags,omitempty"`
	Attack []string `json:"attack,omitempty"`
	// Entities are the key fields of the triggering events under their ECS
	// names (host.name, user.name, source.ip, process.command_line…).
	Entities map[string]string `json:"entities,omitempty"`
	// Events are copies of the triggering events (for a correlation, the
	// last events of the group).
	Events []*event.Event `json:"-"`
	// DedupKey is equal for matches of the same rule on the same entities
	// (for a correlation: the same group-by values).
	DedupKey string `json:"dedup_key"`
	// Time is the event time of the (last) triggering event.
	Time time.Time `json:"time"`
	// Correlation describes a correlation match.
	Correlation *CorrelationInfo `json:"correlation,omitempty"`
	// Source says where the rule came from: "starter" or a rule folder.
	Source string `json:"source,omitempty"`
	// Selections names the rule's search identifiers that matched the
	// event (detection rules).
	Selections []string `json:"selections,omitempty"`
	// Window is set for rules with a suppression window (see WindowRule).
	Window *WindowInfo `json:"window,omitempty"`
}

// CorrelationInfo is why a correlation rule fired.
type CorrelationInfo struct {
	Type    string            `json:"type"`
	GroupBy map[string]string `json:"group_by,omitempty"`
	Value   float64           `json:"value"`
	First   time.Time         `json:"first"`
	Last    time.Time         `json:"last"`
}

// MarshalJSON adds the events as flat JSON objects.
func (d Detection) MarshalJSON() ([]byte, error) {
	type plain Detection
	evs := make([]json.RawMessage, 0, len(d.Events))
	for _, e := range d.Events {
		evs = append(evs, e.AppendJSON(nil))
	}
	return json.Marshal(struct {
		plain
		Events []json.RawMessage `json:"events,omitempty"`
	}{plain(d), evs})
}

// entityFields maps an ECS entity name to the event fields that may hold it,
// in order of preference (ECS first, then Windows, W3C and syslog names).
var entityFields = []struct {
	name   string
	fields []string
}{
	{"host.name", []string{"host.name", "Computer", "Hostname", "host", "hostname"}},
	{"user.name", []string{"user.name", "TargetUserName", "SubjectUserName", "User", "AccountName", "cs-username"}},
	{"source.ip", []string{"source.ip", "IpAddress", "SourceIp", "SourceAddress", "c-ip", "src_ip"}},
	{"destination.ip", []string{"destination.ip", "DestinationIp", "DestAddress", "dest_ip"}},
	{"process.executable", []string{"process.executable", "Image", "NewProcessName"}},
	{"process.command_line", []string{"process.command_line", "CommandLine"}},
	{"process.parent.executable", []string{"process.parent.executable", "ParentImage", "ParentProcessName"}},
	{"file.path", []string{"file.path", "TargetFilename"}},
	{"url.original", []string{"url.original", "cs-uri-stem"}},
	{"dns.question.name", []string{"dns.question.name", "QueryName"}},
}

// Entities extracts the entity fields of ev.
func Entities(ev *event.Event) map[string]string {
	out := map[string]string{}
	addEntities(out, ev)
	return out
}

func addEntities(dst map[string]string, ev *event.Event) {
	for _, e := range entityFields {
		if _, ok := dst[e.name]; ok {
			continue
		}
		for _, f := range e.fields {
			if v, ok := ev.Get(f); ok && !v.IsNull() {
				if s := v.String(); s != "" && s != "-" {
					dst[e.name] = s
					break
				}
			}
		}
	}
	for _, f := range ev.Fields {
		if strings.HasPrefix(f.Name, "file.hash.") {
			if _, ok := dst[f.Name]; !ok {
				dst[f.Name] = f.Value.String()
			}
		}
	}
}

// dedupEntities are the entities that decide whether two matches of a rule
// are "the same" finding.
var dedupEntities = []string{"host.name", "user.name", "source.ip"}

// FromMatch builds the detection of a sigma match.
func FromMatch(m sigma.Match, source string) Detection {
	if m.Event == nil {
		m.Event = &event.Event{}
		if c := m.Correlation; c != nil && len(c.Events) > 0 {
			m.Event = c.Events[len(c.Events)-1]
		}
	}
	r := m.Rule
	d := Detection{
		Tenant: m.Event.Tenant,
		RuleID: ruleID(r),
		Title:  r.Title,
		Level:  ParseLevel(r.Level),
		Author: r.Author,
		Tags:   slices.Clone(r.Tags),
		Attack: r.Attack(),
		Time:   m.Event.Time,
		Source: source,

		Selections: m.Selections,
	}
	if d.Tenant == "" {
		d.Tenant = event.DefaultTenant
	}
	d.Entities = map[string]string{}
	h := sha256.New()
	h.Write([]byte(d.RuleID))
	if c := m.Correlation; c != nil {
		info := &CorrelationInfo{Type: string(c.Type), Value: c.Value, First: c.First, Last: c.Last}
		if len(c.GroupBy) > 0 {
			info.GroupBy = map[string]string{}
		}
		for i, f := range c.GroupBy {
			v := ""
			if i < len(c.GroupValues) {
				v = c.GroupValues[i]
			}
			info.GroupBy[f] = v
			if v != "" {
				d.Entities[f] = v
			}
			h.Write([]byte{0})
			h.Write([]byte(v))
		}
		d.Correlation = info
		d.Time = c.Last
		for i := len(c.Events) - 1; i >= 0; i-- {
			addEntities(d.Entities, c.Events[i])
		}
		d.Events = copyEvents(c.Events)
	} else {
		addEntities(d.Entities, m.Event)
		for _, k := range dedupEntities {
			h.Write([]byte{0})
			h.Write([]byte(d.Entities[k]))
		}
		d.Events = copyEvents([]*event.Event{m.Event})
	}
	d.DedupKey = hex.EncodeToString(h.Sum(nil)[:16])
	return d
}

// ruleID is the rule's id, or its name or title when it has none.
func ruleID(r *sigma.Rule) string {
	switch {
	case r.ID != "":
		return r.ID
	case r.Name != "":
		return r.Name
	}
	return r.Title
}

// copyEvents deep-copies events so that a detection never shares memory
// with a batch the indexer reuses.
func copyEvents(evs []*event.Event) []*event.Event {
	out := make([]*event.Event, 0, len(evs))
	for _, e := range evs {
		if e == nil {
			continue
		}
		c := *e
		c.Fields = slices.Clone(e.Fields)
		c.Raw = slices.Clone(e.Raw)
		c.Errors = slices.Clone(e.Errors)
		out = append(out, &c)
	}
	return out
}

// RouteLogSource returns the logsource the engine should route ev by:
// its own, or for events that arrived as JSON without one, a logsource
// implied by a Splunk-style sourcetype (nginx or Apache access logs are
// Sigma's webserver category).
func RouteLogSource(ev *event.Event) (event.LogSource, bool) {
	if ev.LogSource != (event.LogSource{}) {
		return ev.LogSource, false
	}
	st := strings.ToLower(ev.GetString("sourcetype"))
	if st == "" {
		return ev.LogSource, false
	}
	switch {
	case strings.Contains(st, "access"), strings.HasPrefix(st, "iis"), strings.HasPrefix(st, "ms:iis"):
		return event.LogSource{Category: "webserver"}, true
	}
	return ev.LogSource, false
}
