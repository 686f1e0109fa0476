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

// meta flags. An IPv4 address with address:port indicators has
// flagHasPorts on its ip4 entry, so that the port check of an event costs
// nothing for the other addresses; an entry made only for that has
// flagPortsOnly and is no indicator itself.
const (
	flagWarninglisted = 1 << iota
	flagHasPorts
	flagPortsOnly
)

// Index is the compiled match set of one tenant's indicators. It is
// immutable once built, except for the observation windows of STIX
// patterns over several events, and safe for concurrent use.
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
	// win holds the recent observations of a pattern that relates several
	// (AND / FOLLOWEDBY of observations, WITHIN, REPEATS, START/STOP): the
	// one mutable part of an Index, carried over when it is rebuilt.
	win *stix.Window
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
	// bounds of the windows of patterns over several events (0: defaults)
	winSpan time.Duration
	winObs  int
}

// PatternWindow bounds the observation windows of STIX patterns over
// several events added after it (see stix.NewWindow; 0: the defaults).
func (b *IndexBuilder) PatternWindow(span time.Duration, maxObs int) {
	b.winSpan, b.winObs = span, maxObs
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
			k := ip4Key(a)
			m.flags |= ix.ip4[k].flags & flagHasPorts
			ix.ip4[k] = m
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
		if a := ap.Addr().Unmap(); a.Is4() {
			k := ip4Key(a)
			host, ok := ix.ip4[k]
			if !ok {
				host.flags = flagPortsOnly
			}
			host.flags |= flagHasPorts
			ix.ip4[k] = host
		}
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
		cp := compiledPattern{id: ID(TypePattern, e.Value), pattern: p, m: m}
		if p.Temporal() {
			cp.win = stix.NewWindow(p, b.winSpan, b.winObs)
		}
		ix.patterns = append(ix.patterns, cp)
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

// scope is one lookup's time and mode. alerting lookups leave out
// warninglisted and expired indicators before any string is formatted for
// them, and count them: a feed listing bogon networks matches every
// private address of every event, and the warninglists that keep those
// quiet must keep them cheap too.
type scope struct {
	at         uint32
	alerting   bool
	suppressed int
}

func (sc *scope) keep(m meta) bool {
	if sc.alerting && (m.flags&flagWarninglisted != 0 || m.until < sc.at) {
		sc.suppressed++
		return false
	}
	return true
}

// LookupIP matches one address: exact, then the innermost network.
func (ix *Index) LookupIP(dst []Hit, field, s string, at uint32) []Hit {
	return ix.lookupIP(dst, field, s, &scope{at: at})
}

// LookupIPPort matches an address and port.
func (ix *Index) LookupIPPort(dst []Hit, field, ip string, port uint16, at uint32) []Hit {
	return ix.lookupIPPort(dst, field, ip, port, &scope{at: at})
}

// LookupDomain matches a domain and each of its parents (not the bare
// top-level domain); the most specific listed one is the hit.
func (ix *Index) LookupDomain(dst []Hit, field, s string, at uint32) []Hit {
	return ix.lookupDomain(dst, field, s, &scope{at: at})
}

// LookupURL matches a URL as given and without its query string; the host
// is matched as a domain (or address) as well.
func (ix *Index) LookupURL(dst []Hit, field, s string, at uint32) []Hit {
	return ix.lookupURL(dst, field, s, &scope{at: at})
}

// LookupHash matches a file hash of any supported length.
func (ix *Index) LookupHash(dst []Hit, field, s string, at uint32) []Hit {
	return ix.lookupHash(dst, field, s, &scope{at: at})
}

// LookupEmail matches an e-mail address.
func (ix *Index) LookupEmail(dst []Hit, field, s string, at uint32) []Hit {
	return ix.lookupEmail(dst, field, s, &scope{at: at})
}

// lookupIP matches one address: exact, then the innermost network.
func (ix *Index) lookupIP(dst []Hit, field, s string, sc *scope) []Hit {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return dst
	}
	a = a.Unmap()
	if a.Is4() {
		if m, ok := ix.ip4[ip4Key(a)]; ok && m.flags&flagPortsOnly == 0 && sc.keep(m) {
			dst = append(dst, m.hit(TypeIP, a.String(), field, s, sc.at))
		}
	} else if len(ix.ip6) > 0 {
		if m, ok := ix.ip6[a.WithZone("").As16()]; ok && sc.keep(m) {
			dst = append(dst, m.hit(TypeIP, a.String(), field, s, sc.at))
		}
	}
	if i, ok := ix.nets.lookup(a); ok && sc.keep(ix.nets.metas[i]) {
		dst = append(dst, ix.nets.metas[i].hit(TypeCIDR, ix.nets.nets[i].String(), field, s, sc.at))
	}
	return dst
}

// lookupIPPort matches an address and port.
func (ix *Index) lookupIPPort(dst []Hit, field, ip string, port uint16, sc *scope) []Hit {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return dst
	}
	a = a.Unmap().WithZone("")
	if a.Is4() && ix.ip4[ip4Key(a)].flags&flagHasPorts == 0 {
		return dst // no address:port indicator for this address
	}
	ap := netip.AddrPortFrom(a, port)
	if m, ok := ix.keys[ix.addrPortKey(ap)]; ok && sc.keep(m) {
		dst = append(dst, m.hit(TypeIPPort, ap.String(), field, ap.String(), sc.at))
	}
	return dst
}

// lookupDomain matches a domain and each of its parents (not the bare
// top-level domain).
func (ix *Index) lookupDomain(dst []Hit, field, s string, sc *scope) []Hit {
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
			if !sc.keep(m) {
				return dst
			}
			return append(dst, m.hit(TypeDomain, d, field, s, sc.at))
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

// lookupURL matches a URL as given and without its query string; the host
// is matched as a domain as well.
func (ix *Index) lookupURL(dst []Hit, field, s string, sc *scope) []Hit {
	u, ok := NormalizeURL(s)
	if !ok {
		return dst
	}
	if m, ok := ix.keys[ix.strKey(TypeURL, u)]; ok {
		if !sc.keep(m) {
			return dst
		}
		return append(dst, m.hit(TypeURL, u, field, s, sc.at))
	}
	if q := strings.IndexByte(u, '?'); q > 0 {
		if m, ok := ix.keys[ix.strKey(TypeURL, u[:q])]; ok {
			if !sc.keep(m) {
				return dst
			}
			return append(dst, m.hit(TypeURL, u[:q], field, s, sc.at))
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
		return ix.lookupIP(dst, field, strings.Trim(host, "[]"), sc)
	}
	return ix.lookupDomain(dst, field, host, sc)
}

// lookupHash matches a file hash of any supported length.
func (ix *Index) lookupHash(dst []Hit, field, s string, sc *scope) []Hit {
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
	if m, ok := ix.keys[k]; ok && sc.keep(m) {
		dst = append(dst, m.hit(t, strings.ToLower(s), field, s, sc.at))
	}
	return dst
}

// lookupEmail matches an e-mail address.
func (ix *Index) lookupEmail(dst []Hit, field, s string, sc *scope) []Hit {
	v := strings.ToLower(strings.TrimSpace(s))
	if lt := strings.IndexByte(v, '<'); lt >= 0 {
		if gt := strings.IndexByte(v[lt:], '>'); gt > 0 {
			v = v[lt+1 : lt+gt]
		}
	}
	if m, ok := ix.keys[ix.strKey(TypeEmail, v)]; ok && sc.keep(m) {
		dst = append(dst, m.hit(TypeEmail, v, field, s, sc.at))
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
// and byte comparisons, cheaper than hashing every field name. pair places
// the address and port fields of portPairs: i+1 for the address of pair i,
// -(i+1) for its port, 0 for other fields.
func kindOf(name string) (k fieldKind, pair int8) {
	switch name {
	case "destination.ip":
		return fieldIP, 1
	case "source.ip":
		return fieldIP, 2
	case "server.ip":
		return fieldIP, 3
	case "client.ip":
		return fieldIP, 4
	case "destination.port":
		return fieldNone, -1
	case "source.port":
		return fieldNone, -2
	case "server.port":
		return fieldNone, -3
	case "client.port":
		return fieldNone, -4
	case "related.ip", "dns.resolved_ip":
		return fieldIP, 0
	case "dns.question.name", "url.domain", "destination.domain", "source.domain", "server.domain",
		"client.domain", "tls.client.server_name", "related.hosts":
		return fieldDomain, 0
	case "url.full", "url.original":
		return fieldURL, 0
	case "file.hash.md5", "file.hash.sha1", "file.hash.sha256", "file.hash.sha512",
		"process.hash.md5", "process.hash.sha1", "process.hash.sha256", "related.hash":
		return fieldHash, 0
	case "email.from.address", "email.to.address", "email.sender.address", "email.reply_to.address", "user.email":
		return fieldEmail, 0
	}
	return fieldNone, 0
}

// portPairs are the address fields checked with their port.
var portPairs = [...][2]string{{"destination.ip", "destination.port"}, {"source.ip", "source.port"}, {"server.ip", "server.port"}, {"client.ip", "client.port"}}

// lookedUp remembers the first values an event's match looked up: related.ip
// and related.hosts repeat what source.ip, destination.ip and the DNS name
// already are, and one value is one lookup (and one hit, on the field that
// named it first).
type lookedUp struct {
	n    int
	kind [12]fieldKind
	val  [12]string
}

func (l *lookedUp) seen(k fieldKind, s string) bool {
	for i := range l.n {
		if l.kind[i] == k && l.val[i] == s {
			return true
		}
	}
	if l.n < len(l.val) {
		l.kind[l.n], l.val[l.n] = k, s
		l.n++
	}
	return false
}

func (ix *Index) lookup(dst []Hit, k fieldKind, field, s string, sc *scope) []Hit {
	switch k {
	case fieldIP:
		return ix.lookupIP(dst, field, s, sc)
	case fieldDomain:
		return ix.lookupDomain(dst, field, s, sc)
	case fieldURL:
		return ix.lookupURL(dst, field, s, sc)
	case fieldHash:
		return ix.lookupHash(dst, field, s, sc)
	case fieldEmail:
		return ix.lookupEmail(dst, field, s, sc)
	case fieldNone:
	}
	return dst
}

// Match appends the hits of one event's entities to dst, in one pass over
// its fields. It does not allocate unless something matches (or a value
// needs normalizing).
func (ix *Index) Match(dst []Hit, ev *event.Event) []Hit {
	return ix.match(dst, ev, &scope{at: uint32(max(ev.Time.Unix(), 0))})
}

// MatchAlerting is Match without the hits that cannot alert (warninglisted,
// expired or decayed indicators), which it only counts: the event path.
func (ix *Index) MatchAlerting(dst []Hit, ev *event.Event) (hits []Hit, suppressed int) {
	sc := scope{at: uint32(max(ev.Time.Unix(), 0)), alerting: true}
	dst = ix.match(dst, ev, &sc)
	return dst, sc.suppressed
}

func (ix *Index) match(dst []Hit, ev *event.Event, sc *scope) []Hit {
	if ix == nil || ix.n == 0 {
		return dst
	}
	at := sc.at
	// The address and port fields of portPairs, gathered in the one pass
	// (first occurrence, as Event.Get finds it).
	var pairs [len(portPairs)]struct {
		ip, port *event.Field
	}
	withPorts := ix.types[TypeIPPort] > 0
	var done lookedUp
	for i := range ev.Fields {
		f := &ev.Fields[i]
		k, pair := kindOf(f.Name)
		if withPorts && pair != 0 {
			if pair < 0 && pairs[-pair-1].port == nil {
				pairs[-pair-1].port = f
			} else if pair > 0 && pairs[pair-1].ip == nil {
				pairs[pair-1].ip = f
			}
		}
		if k == fieldNone {
			continue
		}
		switch f.Value.Kind() {
		case event.KindString:
			if s := f.Value.Str(); s != "" && !done.seen(k, s) {
				dst = ix.lookup(dst, k, f.Name, s, sc)
			}
		case event.KindArray:
			for _, v := range f.Value.Array() {
				if s := v.Str(); s != "" && !done.seen(k, s) {
					dst = ix.lookup(dst, k, f.Name, s, sc)
				}
			}
		case event.KindNull, event.KindInt, event.KindFloat, event.KindBool, event.KindTime:
		}
	}
	if withPorts {
		for j, p := range portPairs {
			if pairs[j].ip == nil || pairs[j].port == nil {
				continue
			}
			ip := pairs[j].ip.Value.String()
			if ip == "" {
				continue
			}
			pv := pairs[j].port.Value
			var port uint16
			if n, isInt := pv.Int(); isInt && n > 0 && n < 65536 {
				port = uint16(n)
			} else if n, ok := parsePort(pv.Str()); ok {
				port = n
			} else {
				continue
			}
			dst = ix.lookupIPPort(dst, p[0], ip, port, sc)
		}
	}
	for i := range ix.patterns {
		cp := &ix.patterns[i]
		if !sc.keep(cp.m) {
			continue
		}
		h := cp.m.hit(TypePattern, cp.pattern.String(), "", "", at)
		if cp.win != nil {
			ids, ok := cp.win.Observe(ev.Time, ev.ID, eventObservation{ev})
			if !ok {
				continue
			}
			// The event completing the match is the sighting's; the
			// others are named with it.
			h.Field, h.Observed = PatternObservationsField, strings.Join(ids, " ")
		} else if !cp.pattern.Match(eventObservation{ev}) {
			continue
		}
		h.PatternID = cp.id
		dst = append(dst, h)
	}
	return dst
}

// PatternObservationsField is the Field of a hit of a pattern over several
// observations; Observed lists their event ids, in time order.
const PatternObservationsField = "stix.observations"

// keepWindows carries the observation windows of patterns that old also
// had over to ix, so that a rebuild (an unrelated import) does not forget
// half-matched patterns.
func (ix *Index) keepWindows(old *Index) {
	if old == nil || len(old.patterns) == 0 {
		return
	}
	wins := make(map[string]*stix.Window, len(old.patterns))
	for i := range old.patterns {
		if w := old.patterns[i].win; w != nil {
			wins[old.patterns[i].id] = w
		}
	}
	for i := range ix.patterns {
		if w := wins[ix.patterns[i].id]; w != nil && ix.patterns[i].win != nil {
			ix.patterns[i].win = w
		}
	}
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
