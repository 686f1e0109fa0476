// Package attack is the MITRE ATT&CK catalog — tactics, techniques and
// sub-techniques, groups, software, mitigations, data components — and
// rule coverage over it.
//
// The product embeds a compact catalog (catalog.tsv.gz: ids, names, tactic
// membership, parents, platforms; no descriptions) generated from MITRE's
// STIX 2.1 bundle by ./gen:
//
//	go run ./internal/attack/gen -in ../shared/attack/enterprise-attack.json.gz -out internal/attack/catalog.tsv.gz
//
// so nothing outside the binary is needed at run time. A newer bundle is
// loaded with FromBundle (`wacht attack import FILE`, `wacht attack
// update`) and saved in the same compact form in the data directory, where
// Load finds it.
//
// ATT&CK is © The MITRE Corporation, reproduced and distributed with its
// permission; see NOTICE in the catalog header.
package attack

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Kind is the kind of a catalog entry.
type Kind uint8

// Entry kinds.
const (
	KindTactic Kind = iota + 1
	KindTechnique
	KindGroup
	KindSoftware
	KindMitigation
	KindDataComponent
	KindCampaign
)

// String names the kind as the compact format writes it.
func (k Kind) String() string {
	switch k {
	case KindTactic:
		return "tactic"
	case KindTechnique:
		return "technique"
	case KindGroup:
		return "group"
	case KindSoftware:
		return "software"
	case KindMitigation:
		return "mitigation"
	case KindDataComponent:
		return "datacomponent"
	case KindCampaign:
		return "campaign"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func parseKind(s string) (Kind, bool) {
	for k := KindTactic; k <= KindCampaign; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

// Entry is one catalog object.
type Entry struct {
	Kind Kind   `json:"kind"`
	ID   string `json:"id"` // TA0002, T1059.001, G0007, S0154, M1036, DC0001, C0001
	Name string `json:"name"`
	// ShortName is a tactic's kill-chain phase name ("execution").
	ShortName string `json:"short_name,omitempty"`
	// Tactics are the short names of a technique's tactics.
	Tactics []string `json:"tactics,omitempty"`
	// Parent is a sub-technique's technique.
	Parent    string   `json:"parent,omitempty"`
	Platforms []string `json:"platforms,omitempty"`
	// Aliases of groups and software; Extra is software's malware or tool.
	Aliases []string `json:"aliases,omitempty"`
	Extra   string   `json:"extra,omitempty"`
}

// Catalog is a loaded ATT&CK release. It is immutable once built.
type Catalog struct {
	Version string
	Notice  string
	entries []Entry
	byID    map[string]int
	tactics []int // in matrix order
	byShort map[string]int
}

// tacticAliases maps tactic names that SigmaHQ's tags use to the names of
// the release: ATT&CK's split of Defense Evasion into Stealth and Defense
// Impairment is already in the rules; a release that still has Defense
// Evasion files both under it, a release that has them takes them as is.
var tacticAliases = map[string][]string{
	"stealth":            {"defense-evasion"},
	"defense-impairment": {"defense-evasion"},
	"defense-evasion":    {"stealth", "defense-impairment"},
}

// newCatalog indexes entries; tactics keep the order given.
func newCatalog(version, notice string, entries []Entry) *Catalog {
	c := &Catalog{Version: version, Notice: notice, entries: entries, byID: map[string]int{}, byShort: map[string]int{}}
	for i, e := range entries {
		c.byID[strings.ToUpper(e.ID)] = i
		if e.Kind == KindTactic {
			c.tactics = append(c.tactics, i)
			c.byShort[e.ShortName] = i
		}
	}
	return c
}

// Get returns the entry with an ATT&CK id (any case).
func (c *Catalog) Get(id string) (Entry, bool) {
	i, ok := c.byID[strings.ToUpper(strings.TrimSpace(id))]
	if !ok {
		return Entry{}, false
	}
	return c.entries[i], true
}

// Tactic resolves a tactic by id, short name ("privilege-escalation",
// "privilege_escalation") or alias ("stealth").
func (c *Catalog) Tactic(s string) (Entry, bool) {
	s = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "_", "-")
	if e, ok := c.Get(s); ok && e.Kind == KindTactic {
		return e, true
	}
	if i, ok := c.byShort[s]; ok {
		return c.entries[i], true
	}
	for _, alt := range tacticAliases[s] {
		if i, ok := c.byShort[alt]; ok {
			return c.entries[i], true
		}
	}
	return Entry{}, false
}

// Tactics lists the tactics in matrix order.
func (c *Catalog) Tactics() []Entry {
	out := make([]Entry, 0, len(c.tactics))
	for _, i := range c.tactics {
		out = append(out, c.entries[i])
	}
	return out
}

// All returns the entries of one kind (0: every entry), sorted by id.
func (c *Catalog) All(k Kind) []Entry {
	var out []Entry
	for _, e := range c.entries {
		if k == 0 || e.Kind == k {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Techniques returns the techniques and sub-techniques of a tactic.
func (c *Catalog) Techniques(tactic string) []Entry {
	t, ok := c.Tactic(tactic)
	if !ok {
		return nil
	}
	var out []Entry
	for _, e := range c.entries {
		if e.Kind == KindTechnique && slices.Contains(e.Tactics, t.ShortName) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Counts returns the number of entries per kind.
func (c *Catalog) Counts() map[string]int {
	m := map[string]int{}
	for _, e := range c.entries {
		m[e.Kind.String()]++
	}
	return m
}

// Ref is what a rule tag names.
type Ref struct {
	Kind Kind
	ID   string
}

// ParseTag reads a Sigma tag ("attack.t1059.001", "attack.execution",
// "attack.g0007", "attack.s0154") against the catalog; ok is false for
// tags of other namespaces and unknown ids.
func (c *Catalog) ParseTag(tag string) (Ref, bool) {
	rest, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(tag)), "attack.")
	if !ok {
		return Ref{}, false
	}
	if e, ok := c.Get(rest); ok {
		return Ref{e.Kind, e.ID}, true
	}
	if e, ok := c.Tactic(rest); ok {
		return Ref{KindTactic, e.ID}, true
	}
	return Ref{}, false
}
