package stix

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Object is one STIX domain, relationship or marking object, with the
// properties wacht reads typed and the rest left out. It serves STIX 2.0
// and 2.1 alike (2.0 has no spec_version on objects and puts TLP in
// marking definitions the same way).
type Object struct {
	Type               string              `json:"type"`
	ID                 string              `json:"id"`
	SpecVersion        string              `json:"spec_version,omitempty"`
	Created            string              `json:"created,omitempty"`
	Modified           string              `json:"modified,omitempty"`
	Name               string              `json:"name,omitempty"`
	Description        string              `json:"description,omitempty"`
	Pattern            string              `json:"pattern,omitempty"`
	PatternType        string              `json:"pattern_type,omitempty"`
	ValidFrom          string              `json:"valid_from,omitempty"`
	ValidUntil         string              `json:"valid_until,omitempty"`
	Labels             []string            `json:"labels,omitempty"`
	IndicatorTypes     []string            `json:"indicator_types,omitempty"`
	Confidence         *int                `json:"confidence,omitempty"`
	Revoked            bool                `json:"revoked,omitempty"`
	ObjectMarkingRefs  []string            `json:"object_marking_refs,omitempty"`
	KillChainPhases    []KillChainPhase    `json:"kill_chain_phases,omitempty"`
	ExternalReferences []ExternalReference `json:"external_references,omitempty"`
	// Marking definitions.
	DefinitionType string          `json:"definition_type,omitempty"`
	Definition     json.RawMessage `json:"definition,omitempty"`
	// Relationships.
	RelationshipType string `json:"relationship_type,omitempty"`
	SourceRef        string `json:"source_ref,omitempty"`
	TargetRef        string `json:"target_ref,omitempty"`
	// Reports and groupings.
	ObjectRefs []string `json:"object_refs,omitempty"`
	// Sightings.
	SightingOfRef string `json:"sighting_of_ref,omitempty"`
	// Raw is the object as read, for serving it again unchanged.
	Raw json.RawMessage `json:"-"`
}

// KillChainPhase names a phase of a kill chain (ATT&CK tactics use
// kill_chain_name "mitre-attack").
type KillChainPhase struct {
	KillChainName string `json:"kill_chain_name"`
	PhaseName     string `json:"phase_name"`
}

// ExternalReference points outside STIX; ATT&CK ids are in external_id.
type ExternalReference struct {
	SourceName  string `json:"source_name"`
	ExternalID  string `json:"external_id,omitempty"`
	URL         string `json:"url,omitempty"`
	Description string `json:"description,omitempty"`
}

// Bundle is a STIX bundle.
type Bundle struct {
	Type        string   `json:"type"`
	ID          string   `json:"id"`
	SpecVersion string   `json:"spec_version,omitempty"` // 2.0 only
	Objects     []Object `json:"objects"`
}

// MaxBundleBytes bounds what ReadBundle accepts.
const MaxBundleBytes = 1 << 30

// ReadBundle decodes a bundle, or a single object (wrapped into a bundle of
// one), or a TAXII envelope ({"objects": […]}).
func ReadBundle(r io.Reader) (*Bundle, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBundleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read stix: %w", err)
	}
	if len(data) > MaxBundleBytes {
		return nil, fmt.Errorf("read stix: larger than %d bytes", MaxBundleBytes)
	}
	return DecodeBundle(data)
}

// DecodeBundle is ReadBundle on bytes.
func DecodeBundle(data []byte) (*Bundle, error) {
	var head struct {
		Type        string            `json:"type"`
		ID          string            `json:"id"`
		SpecVersion string            `json:"spec_version"`
		Objects     []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decode stix: %w", err)
	}
	b := &Bundle{Type: head.Type, ID: head.ID, SpecVersion: head.SpecVersion}
	raws := head.Objects
	switch {
	case head.Type == "bundle" || head.Type == "" && head.Objects != nil:
	case head.Type != "":
		raws = []json.RawMessage{data}
		b.Type = "bundle"
	default:
		return nil, fmt.Errorf("decode stix: neither a bundle nor an object")
	}
	b.Objects = make([]Object, 0, len(raws))
	for i, raw := range raws {
		var o Object
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("decode stix object %d: %w", i, err)
		}
		if o.Type == "" || o.ID == "" {
			return nil, fmt.Errorf("decode stix object %d: type and id are required", i)
		}
		o.Raw = raw
		b.Objects = append(b.Objects, o)
	}
	return b, nil
}

// Well-known TLP marking definitions (STIX 2.1 section 7.2.1.4; 2.0 uses
// the same ids for TLP 1.0). TLP 2.0 ids come from the OASIS extension.
var tlpMarkings = map[string]string{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "clear",
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": "clear",
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": "green",
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": "amber",
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": "amber+strict",
	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": "red",
}

// TLPOf returns the TLP name ("clear", "green", …) an object is marked
// with, looking markings up in defs (marking definitions of the bundle by
// id); "" when it carries none.
func TLPOf(o *Object, defs map[string]*Object) string {
	worst, rank := "", -1
	order := map[string]int{"clear": 0, "white": 0, "green": 1, "amber": 2, "amber+strict": 3, "red": 4}
	for _, ref := range o.ObjectMarkingRefs {
		name := tlpMarkings[ref]
		if name == "" {
			if d := defs[ref]; d != nil {
				name = d.tlpName()
			}
		}
		if r, ok := order[name]; ok && r > rank {
			worst, rank = name, r
		}
	}
	if worst == "white" {
		worst = "clear"
	}
	return worst
}

func (o *Object) tlpName() string {
	if o.Type != "marking-definition" {
		return ""
	}
	if o.DefinitionType == "tlp" {
		var d struct {
			TLP string `json:"tlp"`
		}
		if json.Unmarshal(o.Definition, &d) == nil {
			return strings.ToLower(d.TLP)
		}
	}
	if strings.HasPrefix(strings.ToLower(o.Name), "tlp:") {
		return strings.ToLower(strings.TrimPrefix(strings.ToLower(o.Name), "tlp:"))
	}
	return ""
}

// AttackID is the MITRE ATT&CK id (T1059.001, TA0002, G0016, S0154, M1036,
// DS0017) of an object, "" if it has none.
func (o *Object) AttackID() string {
	for _, r := range o.ExternalReferences {
		if strings.HasPrefix(r.SourceName, "mitre-") && r.ExternalID != "" {
			return r.ExternalID
		}
	}
	return ""
}

// Time parses a STIX timestamp ("" gives the zero time).
func Time(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stix timestamp %q: %w", s, err)
	}
	return t.UTC(), nil
}
