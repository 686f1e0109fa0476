// Package intel is wacht's threat intelligence: indicators stored per tenant
// (type, value, confidence, TLP and PAP markings, validity, source, sightings,
// tags, ATT&CK ids, STIX id), MISP warninglists that keep known-benign values
// from ever alerting, MISP's decay model, and the matcher that checks every
// stored event's entities against compiled sets at line rate.
//
// Readers for the exchange formats live in subpackages (stix, misp, feeds);
// they produce Indicator values that a Service imports. The Service owns the
// SQL (migrations/), the in-memory match index per tenant, and publishes
// `indicator.sighted` on the bus for every verified match.
package intel

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Type is the kind of an indicator's value.
type Type uint8

// Indicator types. Values are normalized per type (see Normalize).
const (
	TypeUnknown Type = iota
	TypeIP           // a single IPv4 or IPv6 address
	TypeCIDR         // an IPv4 or IPv6 network
	TypeIPPort       // address and port: 1.2.3.4:443, [2001:db8::1]:443
	TypeDomain       // a domain; matches its sub-domains too
	TypeURL          // a URL without scheme: host[:port]/path?query
	TypeMD5
	TypeSHA1
	TypeSHA256
	TypeSHA512
	TypeEmail
	// TypePattern is a STIX pattern that is not one simple comparison; the
	// general evaluator runs it.
	TypePattern
	numTypes
)

var typeNames = [numTypes]string{"unknown", "ip", "cidr", "ip-port", "domain", "url", "md5", "sha1", "sha256", "sha512", "email", "stix-pattern"}

// String names the type as stored and shown.
func (t Type) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Type) UnmarshalText(b []byte) error {
	v, err := ParseType(string(b))
	*t = v
	return err
}

// ParseType reads a type name.
func ParseType(s string) (Type, error) {
	for i, n := range typeNames {
		if i > 0 && n == s {
			return Type(i), nil
		}
	}
	return TypeUnknown, fmt.Errorf("indicator type %q: want one of %s", s, strings.Join(typeNames[1:], ", "))
}

// Types lists the indicator types.
func Types() []Type {
	out := make([]Type, 0, numTypes-1)
	for t := TypeIP; t < numTypes; t++ {
		out = append(out, t)
	}
	return out
}

// TLP is the Traffic Light Protocol marking (v2.0; "white" reads as clear).
type TLP uint8

// TLP levels, ordered from least to most restricted.
const (
	TLPClear TLP = iota
	TLPGreen
	TLPAmber
	TLPAmberStrict
	TLPRed
)

// String is the TLP 2.0 name.
func (t TLP) String() string {
	switch t {
	case TLPClear:
		return "clear"
	case TLPGreen:
		return "green"
	case TLPAmber:
		return "amber"
	case TLPAmberStrict:
		return "amber+strict"
	case TLPRed:
		return "red"
	}
	return "tlp(" + strconv.Itoa(int(t)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (t TLP) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *TLP) UnmarshalText(b []byte) error {
	v, err := ParseTLP(string(b))
	*t = v
	return err
}

// ParseTLP reads a TLP name with or without the "tlp:" prefix, in either
// case; "white" is TLP 1.0's name for clear.
func ParseTLP(s string) (TLP, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "tlp:")
	switch s {
	case "clear", "white", "":
		return TLPClear, nil
	case "green":
		return TLPGreen, nil
	case "amber":
		return TLPAmber, nil
	case "amber+strict":
		return TLPAmberStrict, nil
	case "red":
		return TLPRed, nil
	}
	return TLPClear, fmt.Errorf("TLP %q: want clear, green, amber, amber+strict or red", s)
}

// PAP is the Permissible Actions Protocol marking.
type PAP uint8

// PAP levels.
const (
	PAPClear PAP = iota
	PAPGreen
	PAPAmber
	PAPRed
)

// String names the level.
func (p PAP) String() string {
	switch p {
	case PAPClear:
		return "clear"
	case PAPGreen:
		return "green"
	case PAPAmber:
		return "amber"
	case PAPRed:
		return "red"
	}
	return "pap(" + strconv.Itoa(int(p)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (p PAP) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *PAP) UnmarshalText(b []byte) error {
	v, err := ParsePAP(string(b))
	*p = v
	return err
}

// ParsePAP reads a PAP name with or without the "pap:" prefix.
func ParsePAP(s string) (PAP, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "pap:")
	switch s {
	case "clear", "white", "":
		return PAPClear, nil
	case "green":
		return PAPGreen, nil
	case "amber":
		return PAPAmber, nil
	case "red":
		return PAPRed, nil
	}
	return PAPClear, fmt.Errorf("PAP %q: want clear, green, amber or red", s)
}

// Indicator is one observable known to be bad, with what is known about it.
type Indicator struct {
	// ID is derived from type and value (see ID): the same value imported
	// from two feeds is one indicator.
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	Type       Type      `json:"type"`
	Value      string    `json:"value"`
	Confidence int       `json:"confidence"` // 0..100
	TLP        TLP       `json:"tlp"`
	PAP        PAP       `json:"pap"`
	ValidFrom  time.Time `json:"valid_from,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// Source names the feed or file the indicator came from last.
	Source    string    `json:"source"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// Sightings counts matches in this tenant's events.
	Sightings   int64     `json:"sightings"`
	LastSighted time.Time `json:"last_sighted,omitzero"`
	Tags        []string  `json:"tags,omitempty"`
	// Attack lists related ATT&CK ids (T1566.001, TA0001, G0007 …).
	Attack      []string `json:"attack,omitempty"`
	STIXID      string   `json:"stix_id,omitempty"`
	Description string   `json:"description,omitempty"`
	// Warninglist names the MISP warninglist the value is on; such an
	// indicator is kept and shown but never alerts.
	Warninglist string `json:"warninglist,omitempty"`
	// Pattern is the STIX pattern an indicator of TypePattern evaluates.
	Pattern string `json:"pattern,omitempty"`
}

// ErrInvalid marks a value that is not valid for its type; the message is
// safe to show to users.
var ErrInvalid = errors.New("invalid indicator")

// ID derives the indicator id from type and normalized value.
func ID(t Type, value string) string {
	h := sha256.New()
	h.Write([]byte{byte(t)})
	h.Write([]byte(value))
	var sum [32]byte
	return "ind--" + hex.EncodeToString(h.Sum(sum[:0])[:12])
}

// Normalize returns the canonical form of value for type t, or an error
// wrapping ErrInvalid. A CIDR of one address becomes TypeIP.
func Normalize(t Type, value string) (Type, string, error) {
	v := strings.TrimSpace(value)
	bad := func(what string) (Type, string, error) {
		return t, "", fmt.Errorf("%w: %s %q: %s", ErrInvalid, t, truncate(value, 80), what)
	}
	switch t {
	case TypeIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			if p, perr := netip.ParsePrefix(v); perr == nil {
				return Normalize(TypeCIDR, p.String())
			}
			return bad("not an IP address")
		}
		return TypeIP, a.Unmap().WithZone("").String(), nil
	case TypeCIDR:
		p, err := netip.ParsePrefix(v)
		if err != nil {
			if a, aerr := netip.ParseAddr(v); aerr == nil {
				return TypeIP, a.Unmap().WithZone("").String(), nil
			}
			return bad("not a CIDR network")
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if p.IsSingleIP() {
			return TypeIP, p.Addr().String(), nil
		}
		return TypeCIDR, p.String(), nil
	case TypeIPPort:
		ap, err := netip.ParseAddrPort(v)
		if err != nil {
			return bad("not address:port")
		}
		return TypeIPPort, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String(), nil
	case TypeDomain:
		d, ok := NormalizeDomain(v)
		if !ok {
			return bad("not a domain name")
		}
		return TypeDomain, d, nil
	case TypeURL:
		u, ok := NormalizeURL(v)
		if !ok {
			return bad("not a URL")
		}
		return TypeURL, u, nil
	case TypeMD5, TypeSHA1, TypeSHA256, TypeSHA512:
		n := map[Type]int{TypeMD5: 32, TypeSHA1: 40, TypeSHA256: 64, TypeSHA512: 128}[t]
		v = strings.ToLower(v)
		if len(v) != n || !isHex(v) {
			return bad("want " + strconv.Itoa(n) + " hex digits")
		}
		return t, v, nil
	case TypeEmail:
		v = strings.ToLower(v)
		at := strings.LastIndexByte(v, '@')
		if at <= 0 || at == len(v)-1 || strings.ContainsAny(v, " \t<>") {
			return bad("not an e-mail address")
		}
		if _, ok := NormalizeDomain(v[at+1:]); !ok {
			return bad("not an e-mail address")
		}
		return TypeEmail, v, nil
	case TypePattern:
		if v == "" {
			return bad("empty pattern")
		}
		return TypePattern, v, nil
	case TypeUnknown, numTypes:
	}
	return bad("unknown type")
}

// Guess finds the type of a bare value as found in plain lists: an address,
// network, address:port, hash, e-mail, URL or domain. ok is false when the
// value is none of these.
func Guess(value string) (Type, string, bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return TypeUnknown, "", false
	}
	try := func(t Type) (Type, string, bool) {
		nt, nv, err := Normalize(t, v)
		return nt, nv, err == nil
	}
	switch {
	case strings.Contains(v, "://"):
		return try(TypeURL)
	case strings.IndexByte(v, '/') > 0:
		if looksIPPrefix(v) {
			return try(TypeCIDR)
		}
		return try(TypeURL)
	case strings.IndexByte(v, '@') > 0:
		return try(TypeEmail)
	}
	if isHex(v) {
		switch len(v) {
		case 32:
			return try(TypeMD5)
		case 40:
			return try(TypeSHA1)
		case 64:
			return try(TypeSHA256)
		case 128:
			return try(TypeSHA512)
		}
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return try(TypeIP)
	}
	if _, err := netip.ParseAddrPort(v); err == nil {
		return try(TypeIPPort)
	}
	if t, nv, ok := try(TypeDomain); ok {
		return t, nv, true
	}
	return TypeUnknown, "", false
}

func looksIPPrefix(v string) bool {
	_, err := netip.ParsePrefix(v)
	return err == nil
}

// NormalizeDomain lower-cases a host name and drops a trailing dot; ok is
// false for something that cannot be a domain (an address, spaces, no dot).
func NormalizeDomain(s string) (string, bool) {
	s = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	if len(s) < 3 || len(s) > 253 || strings.IndexByte(s, '.') <= 0 {
		return "", false
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return "", false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return "", false
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c >= 0x80:
		default:
			return "", false
		}
		label++
		if label > 63 {
			return "", false
		}
	}
	if label == 0 {
		return "", false
	}
	return s, true
}

// NormalizeURL reduces a URL to the form indicators are matched on: no
// scheme, no user info, no fragment, host lower-cased without a default
// port, path and query kept. "http://Evil.com:80/a?b#c" → "evil.com/a?b".
func NormalizeURL(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	hostEnd := strings.IndexAny(s, "/?")
	if hostEnd < 0 {
		hostEnd = len(s)
	}
	host, rest := s[:hostEnd], s[hostEnd:]
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	host = strings.ToLower(host)
	host = strings.TrimSuffix(host, ":80")
	host = strings.TrimSuffix(host, ":443")
	host = strings.TrimSuffix(host, ".")
	if host == "" || strings.ContainsAny(host, " \t") || strings.ContainsAny(rest, " \t\r\n") {
		return "", false
	}
	if rest == "/" {
		rest = ""
	}
	return host + rest, true
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
