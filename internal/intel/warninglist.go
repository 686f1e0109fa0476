package intel

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// WarninglistType is how a warninglist's entries match (MISP warninglist
// format, "type").
type WarninglistType string

// Warninglist types.
const (
	WLString    WarninglistType = "string"
	WLSubstring WarninglistType = "substring"
	WLHostname  WarninglistType = "hostname"
	WLCIDR      WarninglistType = "cidr"
	WLRegex     WarninglistType = "regex"
)

// Warninglist is a MISP warninglist: known-benign values (public
// resolvers, top domains, private ranges, cloud address space…).
type Warninglist struct {
	Name               string          `json:"name"`
	Description        string          `json:"description"`
	Version            int64           `json:"version"`
	Type               WarninglistType `json:"type"`
	List               []string        `json:"list"`
	MatchingAttributes []string        `json:"matching_attributes,omitempty"`
}

// ParseWarninglist reads one list.json.
func ParseWarninglist(data []byte) (*Warninglist, error) {
	var wl Warninglist
	if err := json.Unmarshal(data, &wl); err != nil {
		return nil, fmt.Errorf("decode warninglist: %w", err)
	}
	if wl.Name == "" || wl.List == nil {
		return nil, fmt.Errorf("decode warninglist: name and list are required")
	}
	switch wl.Type {
	case WLString, WLSubstring, WLHostname, WLCIDR, WLRegex:
	default:
		return nil, fmt.Errorf("warninglist %s: unknown type %q", wl.Name, wl.Type)
	}
	return &wl, nil
}

// attributesFor are the MISP attribute types a warninglist must name to
// apply to an indicator type. "domain|ip" alone does not count: lists
// that name only it among domain or address types (disposable-email) are
// not about those values.
func attributesFor(t Type) []string {
	switch t {
	case TypeIP, TypeCIDR:
		return []string{"ip-src", "ip-dst"}
	case TypeIPPort:
		return []string{"ip-src|port", "ip-dst|port", "ip-src", "ip-dst"}
	case TypeDomain:
		return []string{"domain", "hostname"}
	case TypeURL:
		return []string{"url", "uri", "link"}
	case TypeMD5:
		return []string{"md5", "filename|md5"}
	case TypeSHA1:
		return []string{"sha1", "filename|sha1"}
	case TypeSHA256:
		return []string{"sha256", "filename|sha256"}
	case TypeSHA512:
		return []string{"sha512", "filename|sha512"}
	case TypeEmail:
		return []string{"email", "email-src", "email-dst", "target-email"}
	case TypePattern, TypeUnknown, numTypes:
	}
	return nil
}

// WarninglistSet is the compiled form of a tenant's warninglists. It is
// immutable and safe for concurrent use.
type WarninglistSet struct {
	lists   []*Warninglist
	applies [][numTypes]bool
	nets    prefixSet              // meta.until holds the list index
	strs    map[string]uint32      // lower-cased value → list
	hosts   map[string]uint32      // domain → list (matches sub-domains)
	subs    map[uint32][]wlPattern // substring entries by their first 4 bytes
	short   []wlPattern            // substring entries under 4 bytes
	regexes []wlRegex              // regex lists
}

type wlPattern struct {
	s    string
	list uint32
}

type wlRegex struct {
	re   *regexp.Regexp
	list uint32
}

// CompileWarninglists builds the matcher. Entries that do not parse for
// their list's type (a CIDR list with a word in it) are skipped.
func CompileWarninglists(lists []*Warninglist) *WarninglistSet {
	ws := &WarninglistSet{lists: lists, strs: map[string]uint32{}, hosts: map[string]uint32{}, subs: map[uint32][]wlPattern{}}
	var nets []netEntry
	ws.applies = make([][numTypes]bool, len(lists))
	for i, wl := range lists {
		li := uint32(i)
		for _, t := range Types() {
			a := attributesFor(t)
			ws.applies[i][t] = len(wl.MatchingAttributes) == 0 || slices.ContainsFunc(a, func(s string) bool { return slices.Contains(wl.MatchingAttributes, s) })
		}
		for _, e := range wl.List {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			switch wl.Type {
			case WLCIDR:
				p, err := netip.ParsePrefix(e)
				if err != nil {
					a, aerr := netip.ParseAddr(e)
					if aerr != nil {
						continue
					}
					p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
				}
				nets = append(nets, netEntry{p: p.Masked(), m: meta{until: li}})
			case WLString:
				ws.strs[strings.ToLower(e)] = li
			case WLHostname:
				if d, ok := NormalizeDomain(strings.TrimPrefix(e, "*.")); ok {
					ws.hosts[d] = li
				}
			case WLSubstring:
				e = strings.ToLower(e)
				if len(e) < 4 {
					ws.short = append(ws.short, wlPattern{e, li})
				} else {
					ws.subs[quad(e)] = append(ws.subs[quad(e)], wlPattern{e, li})
				}
			case WLRegex:
				expr := e
				if len(expr) > 2 && expr[0] == '/' {
					if j := strings.LastIndexByte(expr, '/'); j > 0 {
						flags := expr[j+1:]
						expr = expr[1:j]
						if strings.Contains(flags, "i") {
							expr = "(?i)" + expr
						}
					}
				}
				if re, err := regexp.Compile(expr); err == nil {
					ws.regexes = append(ws.regexes, wlRegex{re, li})
				}
			}
		}
	}
	ws.nets = buildPrefixSet(nets)
	return ws
}

// Len is the number of lists.
func (ws *WarninglistSet) Len() int {
	if ws == nil {
		return 0
	}
	return len(ws.lists)
}

// Lists returns the compiled lists.
func (ws *WarninglistSet) Lists() []*Warninglist {
	if ws == nil {
		return nil
	}
	return ws.lists
}

// Check returns the name of the first applicable warninglist that has the
// normalized value of type t on it, or "".
func (ws *WarninglistSet) Check(t Type, value string) string {
	if ws == nil || len(ws.lists) == 0 {
		return ""
	}
	ok := func(li uint32) bool { return ws.applies[li][t] }
	name := func(li uint32) string { return ws.lists[li].Name }
	switch t {
	case TypeIP, TypeCIDR, TypeIPPort:
		var p netip.Prefix
		switch t {
		case TypeIP:
			if a, err := netip.ParseAddr(value); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		case TypeCIDR:
			p, _ = netip.ParsePrefix(value)
		default:
			if ap, err := netip.ParseAddrPort(value); err == nil {
				p = netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen())
			}
		}
		if p.IsValid() {
			if i, found := ws.nets.lookup(p.Addr()); found {
				li := ws.nets.metas[i].until
				if ok(li) && ws.nets.nets[i].Bits() <= p.Bits() {
					return name(li)
				}
			}
		}
	case TypeDomain:
		for d := value; ; {
			if li, found := ws.hosts[d]; found && ok(li) {
				return name(li)
			}
			dot := strings.IndexByte(d, '.')
			if dot < 0 {
				break
			}
			d = d[dot+1:]
		}
	case TypeURL:
		host := value
		if i := strings.IndexAny(host, "/?"); i >= 0 {
			host = host[:i]
		}
		if i := strings.LastIndexByte(host, ':'); i > 0 {
			host = host[:i]
		}
		for d := host; ; {
			if li, found := ws.hosts[d]; found && ok(li) {
				return name(li)
			}
			dot := strings.IndexByte(d, '.')
			if dot < 0 {
				break
			}
			d = d[dot+1:]
		}
	case TypeMD5, TypeSHA1, TypeSHA256, TypeSHA512, TypeEmail, TypePattern, TypeUnknown, numTypes:
	}
	lower := strings.ToLower(value)
	if li, found := ws.strs[lower]; found && ok(li) {
		return name(li)
	}
	if t == TypeURL {
		for _, v := range []string{"http://" + lower, "https://" + lower, lower + "/"} {
			if li, found := ws.strs[v]; found && ok(li) {
				return name(li)
			}
		}
	}
	// Substring lists: every entry of 4 bytes or more is found through
	// the 4 bytes it starts with, so a check costs one map probe per
	// position of the value, not one scan per entry (disposable-email
	// alone has 8,000).
	if len(ws.subs) > 0 {
		for i := 0; i+4 <= len(lower); i++ {
			for _, s := range ws.subs[quad(lower[i:])] {
				if ok(s.list) && strings.HasPrefix(lower[i:], s.s) {
					return name(s.list)
				}
			}
		}
	}
	for _, s := range ws.short {
		if ok(s.list) && strings.Contains(lower, s.s) {
			return name(s.list)
		}
	}
	for _, r := range ws.regexes {
		if ok(r.list) && r.re.MatchString(value) {
			return name(r.list)
		}
	}
	return ""
}

func quad(s string) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}
