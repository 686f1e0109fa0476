package attack

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// DefaultNotice is MITRE's copyright designation, which every copy of the
// catalog carries.
const DefaultNotice = "© The MITRE Corporation. This work is reproduced and distributed with the permission of The MITRE Corporation. ATT&CK® is a registered trademark of The MITRE Corporation."

type stixObject struct {
	Type            string   `json:"type"`
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	Revoked         bool     `json:"revoked"`
	Deprecated      bool     `json:"x_mitre_deprecated"`
	ShortName       string   `json:"x_mitre_shortname"`
	IsSubtechnique  bool     `json:"x_mitre_is_subtechnique"`
	XPlatforms      []string `json:"x_mitre_platforms"`
	Aliases         []string `json:"aliases"`
	XAliases        []string `json:"x_mitre_aliases"`
	Version         string   `json:"x_mitre_version"`
	TacticRefs      []string `json:"tactic_refs"`
	KillChainPhases []struct {
		KillChainName string `json:"kill_chain_name"`
		PhaseName     string `json:"phase_name"`
	} `json:"kill_chain_phases"`
	ExternalReferences []struct {
		SourceName string `json:"source_name"`
		ExternalID string `json:"external_id"`
	} `json:"external_references"`
	RelationshipType string `json:"relationship_type"`
	SourceRef        string `json:"source_ref"`
	TargetRef        string `json:"target_ref"`
}

func (o *stixObject) attackID() string {
	for _, r := range o.ExternalReferences {
		if r.SourceName == "mitre-attack" && r.ExternalID != "" {
			return r.ExternalID
		}
	}
	return ""
}

// FromBundle reads an ATT&CK STIX 2.0 or 2.1 bundle (gzip-compressed or
// not): every object that is neither revoked nor deprecated and has an
// ATT&CK id. Tactics keep the matrix order of the x-mitre-matrix object.
func FromBundle(r io.Reader) (*Catalog, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read attack bundle: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	dec := json.NewDecoder(br)
	// Stream the objects array: MITRE's bundle is 40 MB.
	if err := seekObjects(dec); err != nil {
		return nil, err
	}
	var objs []stixObject
	for dec.More() {
		var o stixObject
		if err := dec.Decode(&o); err != nil {
			return nil, fmt.Errorf("read attack bundle object %d: %w", len(objs), err)
		}
		if o.Type == "relationship" && o.RelationshipType != "subtechnique-of" {
			continue
		}
		objs = append(objs, o)
	}
	return fromObjects(objs)
}

func seekObjects(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return fmt.Errorf("read attack bundle: not a JSON object")
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return fmt.Errorf("read attack bundle: %w", err)
		}
		if key == "objects" {
			if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
				return fmt.Errorf("read attack bundle: objects is not an array")
			}
			return nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("read attack bundle: %w", err)
		}
	}
	return fmt.Errorf("read attack bundle: no objects")
}

func fromObjects(objs []stixObject) (*Catalog, error) {
	stixToID := map[string]string{}
	shortByRef := map[string]string{}
	var matrix []string
	version := ""
	for i := range objs {
		o := &objs[i]
		if id := o.attackID(); id != "" {
			stixToID[o.ID] = id
		}
		switch o.Type {
		case "x-mitre-tactic":
			shortByRef[o.ID] = o.ShortName
		case "x-mitre-matrix":
			matrix = o.TacticRefs
		case "x-mitre-collection":
			version = o.Version
		}
	}
	parent := map[string]string{}
	for i := range objs {
		o := &objs[i]
		if o.Type == "relationship" {
			if s, t := stixToID[o.SourceRef], stixToID[o.TargetRef]; s != "" && t != "" {
				parent[s] = t
			}
		}
	}
	kinds := map[string]Kind{"x-mitre-tactic": KindTactic, "attack-pattern": KindTechnique, "intrusion-set": KindGroup,
		"malware": KindSoftware, "tool": KindSoftware, "course-of-action": KindMitigation,
		"x-mitre-data-component": KindDataComponent, "campaign": KindCampaign}
	var tactics, rest []Entry
	for i := range objs {
		o := &objs[i]
		k, ok := kinds[o.Type]
		id := o.attackID()
		if !ok || id == "" || o.Revoked || o.Deprecated {
			continue
		}
		e := Entry{Kind: k, ID: id, Name: clean(o.Name)}
		switch k {
		case KindTactic:
			e.ShortName = o.ShortName
			tactics = append(tactics, e)
			continue
		case KindTechnique:
			for _, p := range o.KillChainPhases {
				if strings.HasPrefix(p.KillChainName, "mitre-") {
					e.Tactics = append(e.Tactics, p.PhaseName)
				}
			}
			if o.IsSubtechnique {
				e.Parent = parent[id]
				if e.Parent == "" {
					e.Parent, _, _ = strings.Cut(id, ".")
				}
			}
			e.Platforms = o.XPlatforms
		case KindGroup, KindCampaign:
			e.Aliases = without(o.Aliases, o.Name)
		case KindSoftware:
			e.Aliases = without(o.XAliases, o.Name)
			e.Extra = o.Type
			e.Platforms = o.XPlatforms
		case KindMitigation, KindDataComponent:
		}
		rest = append(rest, e)
	}
	if len(tactics) == 0 {
		return nil, fmt.Errorf("read attack bundle: no tactics: not an ATT&CK bundle")
	}
	order := map[string]int{}
	for i, ref := range matrix {
		order[shortByRef[ref]] = i + 1
	}
	sort.SliceStable(tactics, func(i, j int) bool {
		oi, oj := order[tactics[i].ShortName], order[tactics[j].ShortName]
		if oi == 0 || oj == 0 {
			return oi != 0 && oj == 0 || oi == 0 && oj == 0 && tactics[i].ID < tactics[j].ID
		}
		return oi < oj
	})
	sort.Slice(rest, func(i, j int) bool { return rest[i].ID < rest[j].ID })
	if version == "" {
		version = "unknown"
	}
	return newCatalog(version, DefaultNotice, append(tactics, rest...)), nil
}

func clean(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("\t", " ", "\n", " ").Replace(s)), " ")
}

func without(list []string, name string) []string {
	var out []string
	for _, a := range list {
		if a != name && a != "" {
			out = append(out, clean(a))
		}
	}
	return out
}

// DefaultURL is MITRE's published Enterprise ATT&CK bundle.
const DefaultURL = "https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master/enterprise-attack/enterprise-attack.json"

// Download fetches and reads a bundle over HTTP.
func Download(ctx context.Context, client *http.Client, url string) (*Catalog, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("download attack bundle: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download attack bundle: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download attack bundle %s: %s", url, resp.Status)
	}
	return FromBundle(io.LimitReader(resp.Body, 1<<30))
}
