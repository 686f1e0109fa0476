// Package misp reads MISP's exchange formats: events as the REST API
// exports them ({"response": [{"Event": …}]}), single events ({"Event": …}
// or the bare event object), and feed manifests (manifest.json beside one
// <uuid>.json per event). It decodes; mapping to wacht indicators is done by
// package feeds.
package misp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Flex is a JSON scalar MISP writes as a string or a number ("1675807200"
// or 1675807200, "1" or 1, true or "1").
type Flex string

// UnmarshalJSON accepts strings, numbers, booleans and null.
func (f *Flex) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = Flex(s)
	default:
		*f = Flex(b)
	}
	return nil
}

// Int reads the value as an integer (0 if it is none).
func (f Flex) Int() int64 {
	n, _ := strconv.ParseInt(string(f), 10, 64)
	return n
}

// Bool reads "1", "true" and 1 as true.
func (f Flex) Bool() bool { return f == "1" || strings.EqualFold(string(f), "true") }

// Tag is a MISP tag (tlp:amber, misp-galaxy:…=…, free text).
type Tag struct {
	Name string `json:"name"`
}

// Attribute is one value of an event or object.
type Attribute struct {
	Type         string `json:"type"`
	Category     string `json:"category"`
	Value        string `json:"value"`
	ToIDS        Flex   `json:"to_ids"`
	UUID         string `json:"uuid"`
	Comment      string `json:"comment"`
	Timestamp    Flex   `json:"timestamp"`
	FirstSeen    string `json:"first_seen"`
	LastSeen     string `json:"last_seen"`
	Distribution Flex   `json:"distribution"`
	Deleted      Flex   `json:"deleted"`
	Tag          []Tag  `json:"Tag"`
	// Galaxy holds the attribute's own galaxy clusters (ATT&CK techniques
	// attached to one value).
	Galaxy []Galaxy `json:"Galaxy"`
}

// Object groups attributes (file, domain-ip, …).
type Object struct {
	Name         string      `json:"name"`
	Distribution Flex        `json:"distribution"`
	Deleted      Flex        `json:"deleted"`
	Attribute    []Attribute `json:"Attribute"`
}

// GalaxyCluster is one cluster of a galaxy attached to an event.
type GalaxyCluster struct {
	Value   string `json:"value"`
	TagName string `json:"tag_name"`
	Meta    struct {
		ExternalID []string `json:"external_id"`
	} `json:"meta"`
}

// Galaxy is a galaxy (threat-actor, mitre-attack-pattern, …).
type Galaxy struct {
	Type          string          `json:"type"`
	Name          string          `json:"name"`
	GalaxyCluster []GalaxyCluster `json:"GalaxyCluster"`
}

// Event is a MISP event.
type Event struct {
	UUID          string      `json:"uuid"`
	Info          string      `json:"info"`
	Date          string      `json:"date"`
	ThreatLevelID Flex        `json:"threat_level_id"`
	Analysis      Flex        `json:"analysis"`
	Distribution  Flex        `json:"distribution"`
	Timestamp     Flex        `json:"timestamp"`
	Tag           []Tag       `json:"Tag"`
	Attribute     []Attribute `json:"Attribute"`
	Object        []Object    `json:"Object"`
	Galaxy        []Galaxy    `json:"Galaxy"`
}

// Decode reads one document holding one or more events in any of the
// layouts MISP writes.
func Decode(data []byte) ([]*Event, error) {
	var doc struct {
		Response json.RawMessage `json:"response"`
		Event    json.RawMessage `json:"Event"`
		Info     *string         `json:"info"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		// A top-level array of {"Event": …}.
		var arr []json.RawMessage
		if aerr := json.Unmarshal(data, &arr); aerr != nil {
			return nil, fmt.Errorf("decode misp: %w", err)
		}
		return decodeList(arr)
	}
	switch {
	case doc.Response != nil:
		var arr []json.RawMessage
		if err := json.Unmarshal(doc.Response, &arr); err != nil {
			return nil, fmt.Errorf("decode misp response: %w", err)
		}
		return decodeList(arr)
	case doc.Event != nil:
		ev, err := decodeEvent(doc.Event)
		if err != nil {
			return nil, err
		}
		return []*Event{ev}, nil
	case doc.Info != nil:
		ev, err := decodeEvent(data)
		if err != nil {
			return nil, err
		}
		return []*Event{ev}, nil
	}
	return nil, fmt.Errorf("decode misp: no Event, response or event object")
}

func decodeList(arr []json.RawMessage) ([]*Event, error) {
	out := make([]*Event, 0, len(arr))
	for i, raw := range arr {
		var w struct {
			Event json.RawMessage `json:"Event"`
		}
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, fmt.Errorf("decode misp event %d: %w", i, err)
		}
		if w.Event == nil {
			w.Event = raw
		}
		ev, err := decodeEvent(w.Event)
		if err != nil {
			return nil, fmt.Errorf("decode misp event %d: %w", i, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

func decodeEvent(raw []byte) (*Event, error) {
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("decode misp event: %w", err)
	}
	return &ev, nil
}

// ManifestEntry is one event of a feed manifest.
type ManifestEntry struct {
	Info          string `json:"info"`
	Date          string `json:"date"`
	ThreatLevelID Flex   `json:"threat_level_id"`
	Timestamp     Flex   `json:"timestamp"`
	Tag           []Tag  `json:"Tag"`
}

// DecodeManifest reads a feed's manifest.json: event uuid → summary.
func DecodeManifest(data []byte) (map[string]ManifestEntry, error) {
	var m map[string]ManifestEntry
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode misp manifest: %w", err)
	}
	return m, nil
}

// TLP returns the TLP tag name ("white", "amber", …) among tags, "" if none.
func TLP(tags []Tag) string {
	for _, t := range tags {
		n := strings.ToLower(t.Name)
		if strings.HasPrefix(n, "tlp:") {
			return strings.TrimPrefix(n, "tlp:")
		}
	}
	return ""
}

var attackID = regexp.MustCompile(`\b(T[0-9]{4}(?:\.[0-9]{3})?|TA[0-9]{4}|G[0-9]{4}|S[0-9]{4}|M[0-9]{4}|DS[0-9]{4})\b`)

// AttackIDs collects the ATT&CK ids named by the event's galaxies (meta
// external_id, or the id in the cluster's tag "Name - T1566.001") and by
// misp-galaxy:mitre-* tags.
func (ev *Event) AttackIDs() []string { return attackIDs(ev.Galaxy, ev.Tag) }

// AttackIDs collects the ATT&CK ids of an attribute's own galaxies and
// misp-galaxy:mitre-* tags.
func (a *Attribute) AttackIDs() []string { return attackIDs(a.Galaxy, a.Tag) }

func attackIDs(galaxies []Galaxy, tags []Tag) []string {
	var out []string
	add := func(id string) {
		for _, x := range out {
			if x == id {
				return
			}
		}
		out = append(out, id)
	}
	for _, g := range galaxies {
		if !strings.HasPrefix(g.Type, "mitre-") {
			continue
		}
		for _, c := range g.GalaxyCluster {
			for _, id := range c.Meta.ExternalID {
				if attackID.MatchString(id) {
					add(id)
				}
			}
			for _, id := range attackID.FindAllString(c.TagName, -1) {
				add(id)
			}
		}
	}
	for _, t := range tags {
		if strings.HasPrefix(t.Name, "misp-galaxy:mitre-") {
			for _, id := range attackID.FindAllString(t.Name, -1) {
				add(id)
			}
		}
	}
	return out
}

// Time parses a MISP timestamp: Unix seconds or ISO 8601.
func Time(f Flex) time.Time {
	if n := f.Int(); n > 0 {
		return time.Unix(n, 0).UTC()
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999-07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, string(f)); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
