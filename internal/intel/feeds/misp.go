package feeds

import (
	"context"
	"slices"
	"strings"

	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/misp"
)

// mispTypes maps MISP attribute types to indicator types. Composite types
// ("filename|sha256", "domain|ip") give one indicator per mapped part; the
// index is the part.
var mispTypes = map[string][]struct {
	part int
	t    intel.Type
}{
	"ip-src":          {{0, intel.TypeIP}},
	"ip-dst":          {{0, intel.TypeIP}},
	"ip-src|port":     {{-1, intel.TypeIPPort}},
	"ip-dst|port":     {{-1, intel.TypeIPPort}},
	"domain":          {{0, intel.TypeDomain}},
	"hostname":        {{0, intel.TypeDomain}},
	"domain|ip":       {{0, intel.TypeDomain}, {1, intel.TypeIP}},
	"hostname|port":   {{0, intel.TypeDomain}},
	"url":             {{0, intel.TypeURL}},
	"md5":             {{0, intel.TypeMD5}},
	"sha1":            {{0, intel.TypeSHA1}},
	"sha256":          {{0, intel.TypeSHA256}},
	"sha512":          {{0, intel.TypeSHA512}},
	"filename|md5":    {{1, intel.TypeMD5}},
	"filename|sha1":   {{1, intel.TypeSHA1}},
	"filename|sha256": {{1, intel.TypeSHA256}},
	"filename|sha512": {{1, intel.TypeSHA512}},
	"email":           {{0, intel.TypeEmail}},
	"email-src":       {{0, intel.TypeEmail}},
	"email-dst":       {{0, intel.TypeEmail}},
}

// MISP's threat levels as confidence: 1 high, 2 medium, 3 low, 4 undefined.
var threatConfidence = map[int64]int{1: 85, 2: 70, 3: 50, 4: 50}

// distributionTLP marks attributes of events without a TLP tag by how far
// MISP was allowed to share them: your organisation only, this community,
// connected communities, all communities, a sharing group. inherit is
// false for 5 ("inherit event", on attributes and objects) and for no
// distribution at all.
func distributionTLP(d misp.Flex) (tlp intel.TLP, set bool) {
	if d == "" {
		return intel.TLPClear, false
	}
	switch d.Int() {
	case 0:
		return intel.TLPAmberStrict, true
	case 1, 2, 4:
		return intel.TLPAmber, true
	case 5:
		return intel.TLPClear, false
	}
	return intel.TLPGreen, true
}

// ReadMISP imports the attributes of MISP events (and of their objects)
// that are marked for detection (to_ids), unless Options.MISPAllAttributes.
// Event tags and galaxies give TLP, tags and ATT&CK ids; an attribute's own
// TLP tag wins over the event's.
func ReadMISP(ctx context.Context, data []byte, o Options, sink Sink) error {
	events, err := misp.Decode(data)
	if err != nil {
		return err
	}
	for _, ev := range events {
		if err := importEvent(ctx, ev, o, sink); err != nil {
			return err
		}
	}
	return nil
}

func importEvent(ctx context.Context, ev *misp.Event, o Options, sink Sink) error {
	evBase := base(o)
	if c, ok := threatConfidence[ev.ThreatLevelID.Int()]; ok && o.Confidence == 0 {
		evBase.Confidence = c
	}
	if tlp := misp.TLP(ev.Tag); tlp != "" {
		if t, err := intel.ParseTLP(tlp); err == nil {
			evBase.TLP = t
		}
	} else if t, ok := distributionTLP(ev.Distribution); ok {
		evBase.TLP = max(evBase.TLP, t)
	}
	for _, t := range ev.Tag {
		if !strings.HasPrefix(strings.ToLower(t.Name), "tlp:") {
			evBase.Tags = append(evBase.Tags, t.Name)
		}
	}
	evBase.Attack = ev.AttackIDs()
	evBase.Description = ev.Info
	evBase.STIXID = "misp-event--" + ev.UUID
	// objDist is the distribution of the object an attribute is in ("":
	// none); an attribute's own distribution, then its object's, narrow
	// the event's unless a TLP tag says otherwise.
	add := func(a *misp.Attribute, objDist misp.Flex) error {
		if a.Deleted.Bool() || (!a.ToIDS.Bool() && !o.MISPAllAttributes) {
			return nil
		}
		maps, ok := mispTypes[a.Type]
		if !ok {
			return nil
		}
		ind := evBase
		ind.Tags = slices.Clip(ind.Tags)
		if tlp := misp.TLP(a.Tag); tlp != "" {
			if t, err := intel.ParseTLP(tlp); err == nil {
				ind.TLP = t
			}
		} else if misp.TLP(ev.Tag) == "" {
			for _, d := range [...]misp.Flex{objDist, a.Distribution} {
				if t, ok := distributionTLP(d); ok {
					ind.TLP = max(ind.TLP, t)
				}
			}
		}
		if ids := a.AttackIDs(); len(ids) > 0 {
			ind.Attack = mergeIDs(slices.Clip(ind.Attack), ids)
		}
		for _, t := range a.Tag {
			if !strings.HasPrefix(strings.ToLower(t.Name), "tlp:") {
				ind.Tags = append(ind.Tags, t.Name)
			}
		}
		if a.Comment != "" {
			ind.Description = ev.Info + ": " + a.Comment
		}
		ind.LastSeen = misp.Time(a.Timestamp)
		if ls := misp.Time(misp.Flex(a.LastSeen)); !ls.IsZero() {
			ind.LastSeen = ls
		}
		ind.FirstSeen = misp.Time(misp.Flex(a.FirstSeen))
		parts := strings.Split(a.Value, "|")
		for _, m := range maps {
			one := ind
			one.Type = m.t
			switch {
			case m.part < 0 && len(parts) == 2:
				one.Value = joinHostPort(parts[0], parts[1])
			case m.part >= 0 && m.part < len(parts):
				one.Value = parts[m.part]
			default:
				continue
			}
			if err := sink.Add(ctx, one); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range ev.Attribute {
		if err := add(&ev.Attribute[i], ""); err != nil {
			return err
		}
	}
	for _, obj := range ev.Object {
		if obj.Deleted.Bool() {
			continue
		}
		for i := range obj.Attribute {
			// An object's attributes carry the same types as the event's
			// (ip-dst, domain, sha256, ip-dst|port …; its relation names
			// the role); unmapped types are skipped by add.
			if err := add(&obj.Attribute[i], obj.Distribution); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeIDs appends the ids of b that a lacks.
func mergeIDs(a, b []string) []string {
	for _, id := range b {
		if !slices.Contains(a, id) {
			a = append(a, id)
		}
	}
	return a
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}
