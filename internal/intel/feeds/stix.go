package feeds

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/stix"
)

// stixType maps the object paths of simple comparisons to indicator types.
// A pattern whose comparisons all map becomes one indicator per value (fast
// sets); any other pattern is kept whole for the general evaluator.
func stixType(objectType, path string) (intel.Type, bool) {
	p := strings.ToLower(path)
	switch objectType + ":" + p {
	case "ipv4-addr:value", "ipv6-addr:value", "network-traffic:dst_ref.value", "network-traffic:src_ref.value":
		return intel.TypeIP, true
	case "domain-name:value":
		return intel.TypeDomain, true
	case "url:value":
		return intel.TypeURL, true
	case "email-addr:value", "email-message:from_ref.value", "email-message:sender_ref.value":
		return intel.TypeEmail, true
	case "file:hashes.md5", "artifact:hashes.md5":
		return intel.TypeMD5, true
	case "file:hashes.sha-1", "file:hashes.sha1", "artifact:hashes.sha-1":
		return intel.TypeSHA1, true
	case "file:hashes.sha-256", "file:hashes.sha256", "artifact:hashes.sha-256":
		return intel.TypeSHA256, true
	case "file:hashes.sha-512", "file:hashes.sha512":
		return intel.TypeSHA512, true
	}
	return intel.TypeUnknown, false
}

// ReadSTIX imports the indicators of a STIX 2.0 or 2.1 bundle. TLP comes
// from object markings, ATT&CK ids from "indicates" relationships to
// attack patterns (and intrusion sets and malware that carry an ATT&CK id)
// and from kill chain phases; revoked indicators and pattern languages
// other than STIX are skipped.
func ReadSTIX(ctx context.Context, data []byte, o Options, sink Sink) error {
	b, err := stix.DecodeBundle(data)
	if err != nil {
		return err
	}
	return ImportBundle(ctx, b, o, sink)
}

// ImportBundle is ReadSTIX on a decoded bundle.
func ImportBundle(ctx context.Context, b *stix.Bundle, o Options, sink Sink) error {
	byID := make(map[string]*stix.Object, len(b.Objects))
	markings := map[string]*stix.Object{}
	for i := range b.Objects {
		obj := &b.Objects[i]
		byID[obj.ID] = obj
		if obj.Type == "marking-definition" {
			markings[obj.ID] = obj
		}
	}
	// An indicator without markings takes those of a report or grouping
	// that contains it (MISP's exports mark the report only).
	inherited := map[string][]string{}
	for i := range b.Objects {
		r := &b.Objects[i]
		if len(r.ObjectMarkingRefs) == 0 || len(r.ObjectRefs) == 0 {
			continue
		}
		for _, ref := range r.ObjectRefs {
			inherited[ref] = append(inherited[ref], r.ObjectMarkingRefs...)
		}
	}
	attack := map[string][]string{}
	for i := range b.Objects {
		r := &b.Objects[i]
		if r.Type != "relationship" || r.RelationshipType != "indicates" {
			continue
		}
		if t := byID[r.TargetRef]; t != nil {
			if id := t.AttackID(); id != "" && !slices.Contains(attack[r.SourceRef], id) {
				attack[r.SourceRef] = append(attack[r.SourceRef], id)
			}
		}
	}
	for i := range b.Objects {
		obj := &b.Objects[i]
		if obj.Type != "indicator" || obj.Revoked {
			continue
		}
		if obj.PatternType != "" && obj.PatternType != "stix" {
			continue
		}
		if len(obj.ObjectMarkingRefs) == 0 && len(inherited[obj.ID]) > 0 {
			c := *obj
			c.ObjectMarkingRefs = inherited[obj.ID]
			obj = &c
		}
		if err := addSTIXIndicator(ctx, obj, markings, attack[obj.ID], o, sink); err != nil {
			return err
		}
	}
	return nil
}

func addSTIXIndicator(ctx context.Context, obj *stix.Object, markings map[string]*stix.Object, attack []string, o Options, sink Sink) error {
	ind := base(o)
	if obj.Confidence != nil {
		ind.Confidence = *obj.Confidence
	}
	if tlp := stix.TLPOf(obj, markings); tlp != "" {
		if t, err := intel.ParseTLP(tlp); err == nil {
			ind.TLP = t
		}
	}
	var err error
	if ind.ValidFrom, err = stix.Time(obj.ValidFrom); err != nil {
		return fmt.Errorf("indicator %s: %w", obj.ID, err)
	}
	if ind.ValidUntil, err = stix.Time(obj.ValidUntil); err != nil {
		return fmt.Errorf("indicator %s: %w", obj.ID, err)
	}
	ind.LastSeen, _ = stix.Time(obj.Modified)
	ind.FirstSeen, _ = stix.Time(obj.Created)
	ind.STIXID = obj.ID
	ind.Description = strings.TrimSpace(strings.Join(slices.DeleteFunc([]string{obj.Name, obj.Description}, func(s string) bool { return s == "" }), ": "))
	ind.Tags = append(ind.Tags, obj.Labels...)
	ind.Tags = append(ind.Tags, obj.IndicatorTypes...)
	ind.Attack = append(ind.Attack, attack...)
	for _, k := range obj.KillChainPhases {
		if k.KillChainName == "mitre-attack" {
			ind.Tags = append(ind.Tags, "attack."+k.PhaseName)
		}
	}
	p, perr := stix.Parse(obj.Pattern)
	if perr != nil {
		// Kept, and counted invalid by the import.
		ind.Type, ind.Value = intel.TypeUnknown, obj.Pattern
		return sink.Add(ctx, ind)
	}
	if cmps, ok := p.Simple(); ok {
		typed := make([]intel.Type, len(cmps))
		all := true
		for i, c := range cmps {
			t, ok := stixType(c.ObjectType, c.Path)
			if !ok {
				all = false
				break
			}
			typed[i] = t
		}
		if all {
			for i, c := range cmps {
				one := ind
				one.Type, one.Value = typed[i], c.Value
				if err := sink.Add(ctx, one); err != nil {
					return err
				}
			}
			return nil
		}
	}
	ind.Type, ind.Value = intel.TypePattern, obj.Pattern
	return sink.Add(ctx, ind)
}
