package intel

import (
	"encoding/hex"
	"hash/maphash"
	"net/netip"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/intel/stix"
)

// meta is what the index keeps per indicator: enough to decide at line rate
// whether a match alerts. Everything else is loaded from the store for the
// rare event that matches. The indicator's id is not kept either: it is
// derived from type and value (ID), which the match knows.
type meta struct {
	until uint32 // Unix seconds after which the indicator no longer alerts
	conf  uint8
	tlp   TLP
	flags uint8
}

const flagWarninglisted = 1

// Index is the compiled match set of one tenant's indicators. It is
// immutable once built and safe for concurrent use.
//
// Exact values sit in hash maps keyed by 64 bits (addresses by their own
// bits; hashes by their first 8 bytes; domains, URLs and e-mails by a seeded
// maphash mixed with the type), networks in a prefixSet. A 64-bit key can
// collide; the Service verifies every match against the stored value
// before anything is raised.
type Index struct {
	seed     maphash.Seed
	ip4      map[uint32]meta
	ip6      map[[16]byte]meta
	nets     prefixSet
	keys     map[uint64]meta
	patterns []compiledPattern
	n        int
	types    [numTypes]int
}

type compiledPattern struct {
	id      string
	pattern *stix.Pattern
	m       meta
}

// IndexEntry is one indicator as the index builder takes it.
type IndexEntry struct {
	Type        Type
	Value       string
	Confidence  int
	TLP         TLP
	AlertUntil  time.Time
	Warninglist bool
}

// IndexBuilder collects entries and compiles an Index.
type IndexBuilder struct {
	ix   *Index
	nets []netEntry
}

// NewIndexBuilder starts an index; sizeHint pre-sizes the maps.
func NewIndexBuilder(sizeHint int) *IndexBuilder {
	return &IndexBuilder{ix: &Index{
		seed: maphash.MakeSeed(),
		ip4:  make(map[uint32]meta, sizeHint/4),
		ip6:  map[[16]byte]meta{},
		keys: make(map[uint64]meta, sizeHint/2),
	}}
}

// Add puts one normalized indicator into the index. Invalid values are
// skipped and reported false.
func (b *IndexBuilder) Add(e IndexEntry) bool {
	m := meta{conf: uint8(min(max(e.Confidence, 0), 100)), tlp: e.TLP}
	switch u := e.AlertUntil.Unix(); {
	case e.AlertUntil.IsZero() || u <= 0:
		m.until = 0
	case u > int64(^uint32(0)):
		m.until = ^uint32(0)
	default:
		m.until = uint32(u)
	}
	if e.Warninglist {
		m.flags |= flagWarninglisted
	}
	ix := b.ix
	switch e.Type {
	case TypeIP:
		a, err := netip.ParseAddr(e.Value)
		if err != nil {
			return false
		}
		if a.Is4() {
			ix.ip4[ip4Key(a)] = m
		} else {
			ix.ip6[a.As16()] = m
		}
	case TypeCIDR:
		p, err := netip.ParsePrefix(e.Value)
		if err != nil {
			return false
		}
		b.nets = append(b.nets, netEntry{p: p.Masked(), m: m})
	case TypeIPPort:
		ap, err := netip.ParseAddrPort(e.Value)
		if err != nil {
			return false
		}
		ix.keys[ix.addrPortKey(ap)] = m
	case TypeDomain, TypeURL, TypeEmail:
		ix.keys[ix.strKey(e.Type, e.Value)] = m
	case TypeMD5, TypeSHA1, TypeSHA256, TypeSHA512:
		k, ok := hashKey(e.Type, e.Value)
		if !ok {
			return false
		}
		ix.keys[k] = m
	case TypePattern:
		p, err := stix.Parse(e.Value)
		if err != nil {
			return false
		}
		ix.patterns = append(ix.patterns, compiledPattern{id: ID(TypePattern, e.Value), pattern: p, m: m})
	case TypeUnknown, numTypes:
		return false
	}
	ix.n++
	ix.types[e.Type]++
	return true
}

// Build compiles the networks and returns the index; the builder must not
// be used afterwards.
func (b *IndexBuilder) Build() *Index {
	b.ix.nets = buildPrefixSet(b.nets)
	b.nets = nil
	return b.ix
}

// Len is the number of indicators in the index.
func (ix *Index) Len() int {
	if ix == nil {
		return 0
	}
	return ix.n
}

// Counts returns the number of indicators per type.
func (ix *Index) Counts() map[string]int {
	out := map[string]int{}
	if ix == nil {
		return out
	}
	for t, n := range ix.types {
		if n > 0 {
			out[Type(t).String()] = n
		}
	}
	return out
}

func ip4Key(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// typeSalt keeps equal strings of different types apart in one map.
func typeSalt(t Type) uint64 { return uint64(t) * 0x9E3779B97F4A7C15 }

func (ix *Index) strKey(t Type, s string) uint64 { return maphash.String(ix.seed, s) ^ typeSalt(t) }

func (ix *Index) addrPortKey(ap netip.AddrPort) uint64 {
	return maphash.Comparable(ix.seed, ap) ^ typeSalt(TypeIPPort)
}

// hashKey takes the first 8 bytes of a digest: already uniformly random.
func hashKey(t Type, hexDigest string) (uint64, bool) {
	if len(hexDigest) < 16 {
		return 0, false
	}
	var b [8]byte
	if _, err := hex.Decode(b[:], []byte(hexDigest[:16])); err != nil {
		return 0, false
	}
	var k uint64
	for _, c := range b {
		k = k<<8 | uint64(c)
	}
	return k ^ typeSalt(t), true
}

// Hit is one match of an event's value against an indicator.
type Hit struct {
	Type Type
	// Value is the indicator's value: the network for an address inside
	// a CIDR, the listed parent for a sub-domain.
	Value string
	// Field is the event field that matched and Observed its value.
	Field      string
	Observed   string
	Confidence int
	TLP        TLP
	// Warninglisted hits are reported for lookups but never alert.
	Warninglisted bool
	// Expired is set when the indicator is past valid_until or decayed
	// below the threshold at the event's time.
	Expired bool
	// PatternID is set for STIX pattern hits.
	PatternID string
}

func (m meta) hit(t Type, value, field, observed string, at uint32) Hit {
	return Hit{Type: t, Value: value, Field: field, Observed: observed, Confidence: int(m.conf), TLP: m.tlp,
		Warninglisted: m.flags&flagWarninglisted != 0, Expired: m.until < at}
}

// LookupIP matches one address: exact, then the innermost network.
func (ix *Index) LookupIP(dst []Hit, field, s string, at uint32) []Hit {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return dst
	}
	a = a.Unmap()
	if a.Is4() {
		if m, ok := ix.ip4[ip4Key(a)]; ok {
			dst = append(dst, m.hit(TypeIP, a.String(), field, s, at))
		}
	} else if len(ix.ip6) > 0 {
		if m, ok := ix.ip6[a.WithZone("").As16()]; ok {
			dst = append(dst, m.hit(TypeIP, a.String(), field, s, at))
		}
	}
	if i, ok := ix.nets.lookup(a); ok {
		dst = append(dst, ix.nets.metas[i].hit(TypeCIDR, ix.nets.nets[i].String(), field, s, at))
	}
	return dst
}

// LookupIPPort matches an address and port.
func (ix *Index) LookupIPPort(dst []Hit, field, ip string, port uint16, at uint32) []Hit {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return dst
	}
	ap := netip.AddrPortFrom(a.Unmap().WithZone(""), port)
	if m, ok := ix.keys[ix.addrPortKey(ap)]; ok {
		dst = append(dst, m.hit(TypeIPPort, ap.String(), field, ap.String(), at))
	}
	return dst
}

// LookupDomain matches a domain and each of its parents (not the bare
// top-level domain).
func (ix *Index) LookupDomain(dst []Hit, field, s string, at uint32) []Hit {
	d := s
	if needsDomainNormalizing(d) {
		var ok bool
		if d, ok = NormalizeDomain(d); !ok {
			return dst
		}
	}
	for {
		dot := strings.IndexByte(d, '.')
		if dot < 0 {
			return dst
		}
		if m, ok := ix.keys[ix.strKey(TypeDomain, d)]; ok {
			return append(dst, m.hit(TypeDomain, d, field, s, at))
		}
		d = d[dot+1:]
	}
}

func needsDomainNormalizing(s string) bool {
	if s == "" || s[len(s)-1] == '.' {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c == ' ' {
			return true
		}
	}
	return false
}

// LookupURL matches a URL as given and without its query string; the host
// is matched as a domain as well.
func (ix *Index) LookupURL(dst []Hit, field, s string, at uint32) []Hit {
	u, ok := NormalizeURL(s)
	if !ok {
		return dst
	}
	if m, ok := ix.keys[ix.strKey(TypeURL, u)]; ok {
		return append(dst, m.hit(TypeURL, u, field, s, at))
	}
	if q := strings.IndexByte(u, '?'); q > 0 {
		if m, ok := ix.keys[ix.strKey(TypeURL, u[:q])]; ok {
			return append(dst, m.hit(TypeURL, u[:q], field, s, at))
		}
	}
	host := u
	if i := strings.IndexAny(host, "/?"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.Contains(host, "]") {
		host = host[:i]
	}
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return ix.LookupIP(dst, field, strings.Trim(host, "[]"), at)
	}
	return ix.LookupDomain(dst, field, host, at)
}

// LookupHash matches a file hash of any supported length.
func (ix *Index) LookupHash(dst []Hit, field, s string, at uint32) []Hit {
	var t Type
	switch len(s) {
	case 32:
		t = TypeMD5
	case 40:
		t = TypeSHA1
	case 64:
		t = TypeSHA256
	case 128:
		t = TypeSHA512
	default:
		return dst
	}
	k, ok := hashKey(t, s)
	if !ok {
		return dst
	}
	if m, ok := ix.keys[k]; ok {
		dst = append(dst, m.hit(t, strings.ToLower(s), field, s, at))
	}
	return dst
}

// LookupEmail matches an e-mail address.
func (ix *Index) LookupEmail(dst []Hit, field, s string, at uint32) []Hit {
	v := strings.ToLower(strings.TrimSpace(s))
	if lt := strings.IndexByte(v, '<'); lt >= 0 {
		if gt := strings.IndexByte(v[lt:], '>'); gt > 0 {
			v = v[lt+1 : lt+gt]
		}
	}
	if m, ok := ix.keys[ix.strKey(TypeEmail, v)]; ok {
		dst = append(dst, m.hit(TypeEmail, v, field, s, at))
	}
	return dst
}

// fieldKind says which lookup an event field gets. The names are the ECS
// fields the parsers' normalization fills (internal/parse/normalize).
type fieldKind uint8

const (
	fieldNone fieldKind = iota
	fieldIP
	fieldDomain
	fieldURL
	fieldHash
	fieldEmail
)

// kindOf is a switch, not a map: the compiler turns it into a few length
// and byte comparisons, cheaper than hashing every field name.
func kindOf(name string) fieldKind {
	switch name {
	case "source.ip", "destination.ip", "client.ip", "server.ip", "related.ip", "dns.resolved_ip":
		return fieldIP
	case "dns.question.name", "url.domain", "destination.domain", "source.domain", "server.domain",
		"client.domain", "tls.client.server_name", "related.hosts":
		return fieldDomain
	case "url.full", "url.original":
		return fieldURL
	case "file.hash.md5", "file.hash.sha1", "file.hash.sha256", "file.hash.sha512",
		"process.hash.md5", "process.hash.sha1", "process.hash.sha256", "related.hash":
		return fieldHash
	case "email.from.address", "email.to.address", "email.sender.address", "email.reply_to.address", "user.email":
		return fieldEmail
	}
	return fieldNone
}

// portPairs are the address fields checked with their port.
var portPairs = [...][2]string{{"destination.ip", "destination.port"}, {"source.ip", "source.port"}, {"server.ip", "server.port"}, {"client.ip", "client.port"}}

func (ix *Index) lookup(dst []Hit, k fieldKind, field, s string, at uint32) []Hit {
	switch k {
	case fieldIP:
		return ix.LookupIP(dst, field, s, at)
	case fieldDomain:
		return ix.LookupDomain(dst, field, s, at)
	case fieldURL:
		return ix.LookupURL(dst, field, s, at)
	case fieldHash:
		return ix.LookupHash(dst, field, s, at)
	case fieldEmail:
		return ix.LookupEmail(dst, field, s, at)
	case fieldNone:
	}
	return dst
}

// Match appends the hits of one event's entities to dst, in one pass over
// its fields. It does not allocate unless something matches (or a value
// needs normalizing).
func (ix *Index) Match(dst []Hit, ev *event.Event) []Hit {
	if ix == nil || ix.n == 0 {
		return dst
	}
	at := uint32(max(ev.Time.Unix(), 0))
	for i := range ev.Fields {
		f := &ev.Fields[i]
		k := kindOf(f.Name)
		if k == fieldNone {
			continue
		}
		switch f.Value.Kind() {
		case event.KindString:
			if s := f.Value.Str(); s != "" {
				dst = ix.lookup(dst, k, f.Name, s, at)
			}
		case event.KindArray:
			for _, v := range f.Value.Array() {
				if s := v.Str(); s != "" {
					dst = ix.lookup(dst, k, f.Name, s, at)
				}
			}
		case event.KindNull, event.KindInt, event.KindFloat, event.KindBool, event.KindTime:
		}
	}
	if ix.types[TypeIPPort] > 0 {
		for _, p := range portPairs {
			ip := ev.GetString(p[0])
			if ip == "" {
				continue
			}
			pv, ok := ev.Get(p[1])
			if !ok {
				continue
			}
			var port uint16
			if n, isInt := pv.Int(); isInt && n > 0 && n < 65536 {
				port = uint16(n)
			} else if n, ok := parsePort(pv.Str()); ok {
				port = n
			} else {
				continue
			}
			dst = ix.LookupIPPort(dst, p[0], ip, port, at)
		}
	}
	for i := range ix.patterns {
		cp := &ix.patterns[i]
		if cp.pattern.Match(eventObservation{ev}) {
			h := cp.m.hit(TypePattern, cp.pattern.String(), "", "", at)
			h.PatternID = cp.id
			dst = append(dst, h)
		}
	}
	return dst
}

func parsePort(s string) (uint16, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}
