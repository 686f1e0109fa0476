package sigma

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

type tokKind uint8

const (
	tokLit   tokKind = iota
	tokStar          // *
	tokOne           // ?
	tokPlace         // %name% (only with expand)
)

type token struct {
	kind tokKind
	s    string
}

// pattern is a Sigma string value: literals and wildcards.
type pattern []token

// parsePattern splits a rule value into literals and wildcards, applying the
// escapes of the specification: a backslash escapes *, ? and itself; a
// backslash before anything else is literal. With placeholders, \% is a
// literal percent and %name% a placeholder.
func parsePattern(s string, placeholders bool) pattern {
	var p pattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p = append(p, token{kind: tokLit, s: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\' || (placeholders && s[i+1] == '%')) {
				lit.WriteByte(s[i+1])
				i++
			} else {
				lit.WriteByte('\\')
			}
		case '*':
			flush()
			if len(p) == 0 || p[len(p)-1].kind != tokStar {
				p = append(p, token{kind: tokStar})
			}
		case '?':
			flush()
			p = append(p, token{kind: tokOne})
		case '%':
			if placeholders {
				if j := strings.IndexByte(s[i+1:], '%'); j > 0 {
					flush()
					p = append(p, token{kind: tokPlace, s: s[i+1 : i+1+j]})
					i += j + 1
					continue
				}
			}
			lit.WriteByte(c)
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return p
}

// literal returns the pattern's text when it has no wildcards.
func (p pattern) literal() (string, bool) {
	var b strings.Builder
	for _, t := range p {
		if t.kind != tokLit {
			return "", false
		}
		b.WriteString(t.s)
	}
	return b.String(), true
}

func (p pattern) String() string {
	var b strings.Builder
	for _, t := range p {
		switch t.kind {
		case tokLit:
			b.WriteString(strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(t.s))
		case tokStar:
			b.WriteByte('*')
		case tokOne:
			b.WriteByte('?')
		case tokPlace:
			b.WriteString("%" + t.s + "%")
		}
	}
	return b.String()
}

// normalize merges adjacent literals and stars.
func (p pattern) normalize() pattern {
	out := make(pattern, 0, len(p))
	for _, t := range p {
		n := len(out)
		switch {
		case t.kind == tokLit && t.s == "":
		case t.kind == tokLit && n > 0 && out[n-1].kind == tokLit:
			out[n-1].s += t.s
		case t.kind == tokStar && n > 0 && out[n-1].kind == tokStar:
		default:
			out = append(out, t)
		}
	}
	return out
}

func (p pattern) withStars(lead, trail bool) pattern {
	out := make(pattern, 0, len(p)+2)
	if lead {
		out = append(out, token{kind: tokStar})
	}
	out = append(out, p...)
	if trail {
		out = append(out, token{kind: tokStar})
	}
	return out.normalize()
}

// mapLiterals applies f to every literal of p.
func (p pattern) mapLiterals(f func(string) string) pattern {
	out := make(pattern, len(p))
	for i, t := range p {
		if t.kind == tokLit {
			t.s = f(t.s)
		}
		out[i] = t
	}
	return out
}

func utf16Encode(s string, bigEndian bool) string {
	units := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(units))
	for _, u := range units {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return string(b)
}

// base64Offsets returns the three encodings of s that appear in the base64
// of any text containing s, whatever its offset modulo 3.
func base64Offsets(s string) []string {
	start := [3]int{0, 2, 3}
	end := [3]int{0, -3, -2}
	out := make([]string, 0, 3)
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", i) + s))
		e := len(enc)
		if off := end[(len(s)+i)%3]; off != 0 {
			e += off
		}
		if start[i] > e {
			continue
		}
		out = append(out, enc[start[i]:e])
	}
	return out
}

// windashChars are the characters a Windows command line accepts for a flag.
var windashChars = []string{"-", "/", "\u2013", "\u2014", "\u2015"}

// maxWindashExpansion bounds the variants one value may expand into.
const maxWindashExpansion = 5 * 5 * 5 * 5

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// windash expands every - or / that starts a word (not preceded by a word
// character, followed by one) into all dash variants.
func windash(p pattern) ([]pattern, error) {
	out := []pattern{nil}
	for ti, t := range p {
		if t.kind != tokLit {
			for i := range out {
				out[i] = append(out[i], t)
			}
			continue
		}
		segs := []string{""}
		for i := 0; i < len(t.s); i++ {
			c := t.s[i]
			flag := false
			if c == '-' || c == '/' {
				prevWord := false
				if i > 0 {
					prevWord = isWordByte(t.s[i-1])
				} else if ti > 0 {
					prevWord = p[ti-1].kind == tokOne
				}
				nextWord := i+1 < len(t.s) && isWordByte(t.s[i+1])
				flag = !prevWord && nextWord
			}
			if !flag {
				for j := range segs {
					segs[j] += string(c)
				}
				continue
			}
			if len(segs)*len(windashChars)*len(out) > maxWindashExpansion {
				return nil, fmt.Errorf("windash: too many dashes in %q", t.s)
			}
			next := make([]string, 0, len(segs)*len(windashChars))
			for _, sg := range segs {
				for _, d := range windashChars {
					next = append(next, sg+d)
				}
			}
			segs = next
		}
		var grown []pattern
		for _, o := range out {
			for _, sg := range segs {
				n := append(pattern{}, o...)
				grown = append(grown, append(n, token{kind: tokLit, s: sg}))
			}
		}
		out = grown
	}
	for i := range out {
		out[i] = out[i].normalize()
	}
	return out, nil
}

// lower lower-cases s the same way for rules and events. Invalid UTF-8 (for
// example UTF-16 bytes) is lower-cased byte by byte in ASCII only, so that
// no byte is lost.
func lower(s string) string {
	ascii, upper := true, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if ascii {
		if !upper {
			return s
		}
		b := make([]byte, len(s))
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		return string(b)
	}
	if utf8.ValidString(s) {
		return strings.ToLower(s)
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// needsLower reports whether lower(s) differs from s.
func needsLower(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

// appendLower appends lower(s) to dst.
func appendLower(dst []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		return append(dst, lower(s)...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// glob matches s against a pattern of literals, * and ? (a ? is one
// character).
func glob(p pattern, s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	// Literal tokens are matched as a whole; on mismatch we backtrack to the
	// last star and advance it by one byte.
	for {
		if pi == len(p) {
			if si == len(s) {
				return true
			}
		} else {
			t := p[pi]
			switch t.kind {
			case tokStar:
				starP, starS = pi, si
				pi++
				continue
			case tokOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					pi++
					continue
				}
			case tokLit:
				if strings.HasPrefix(s[si:], t.s) {
					si += len(t.s)
					pi++
					continue
				}
			}
		}
		if starP < 0 || starS >= len(s) {
			return false
		}
		starS++
		pi, si = starP+1, starS
	}
}
