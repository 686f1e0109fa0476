// Package kv parses generic key=value records such as
// `time=2025-01-01T00:00:00Z src=10.0.0.1 user="alice smith" action=deny`,
// the shape of many firewall and appliance logs. Values may be quoted with
// double or single quotes (backslash escapes inside); pairs are separated
// by spaces, or by the delimiter of the caller's choosing (Pairs). Text
// before the first pair is kept as the message prefix.
package kv

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	jsonparser "github.com/wacht-soc/wacht/internal/parse/json"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
)

// Version of the parser, recorded on its events.
const Version = "1"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.kv",
		Version:     Version,
		Description: "generic key=value records",
		New:         func() parse.Parser { return &Parser{} },
	})
}

// Parser parses key=value records; it holds no state.
type Parser struct{}

// Parse reads one record into ev.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	s := strings.TrimRight(string(rec), "\r\n")
	if s == "" {
		return errors.New("empty record")
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("record at byte %d: invalid UTF-8", invalidAt(s))
	}
	n := 0
	err := Pairs(s, ' ', func(k, v string) {
		n++
		ev.Add(k, event.String(v))
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("no key=value pair")
	}
	jsonparser.PickTime(ev, time.UTC)
	jsonparser.PickMessage(ev, true)
	if ev.Message == "" {
		ev.Message = s
	}
	Entities(ev)
	return nil
}

// baseRules are the key names appliances commonly use for entities.
func baseRules() []normalize.Rule {
	return []normalize.Rule{
		{ECS: normalize.SourceIP, From: []string{"src", "srcip", "src_ip", "source_ip", "sourceip", "client_ip"}},
		{ECS: normalize.SourcePort, From: []string{"spt", "srcport", "src_port", "sport", "srcPort"}},
		{ECS: normalize.DestIP, From: []string{"dst", "dstip", "dst_ip", "dest_ip", "destination_ip", "destip"}},
		{ECS: normalize.DestPort, From: []string{"dpt", "dstport", "dst_port", "dport", "dstPort"}},
		{ECS: normalize.UserName, From: []string{"user", "usrName", "suser", "username", "duser", "srcuser"}},
		{ECS: normalize.HostName, From: []string{"host", "hostname", "dvchost", "devname"}},
		{ECS: normalize.EventAction, From: []string{"action", "act"}},
		{ECS: normalize.URLFull, From: []string{"url", "request"}},
	}
}

// entities is baseRules compiled; read-only after init.
var entities = EntityRules()

// Entities adds ECS fields from the key names appliances commonly use.
func Entities(ev *event.Event) { entities.Apply(ev) }

// EntityRules compiles the common key names with a format's own: an extra
// rule for an ECS field the common ones already fill adds its sources
// after theirs (the same as running it after Entities).
func EntityRules(extra ...normalize.Rule) *normalize.Rules {
	rules := baseRules()
next:
	for _, x := range extra {
		for i := range rules {
			if rules[i].ECS == x.ECS {
				rules[i].From = append(rules[i].From, x.From...)
				continue next
			}
		}
		rules = append(rules, x)
	}
	return normalize.NewRules(rules...)
}

// Pairs calls fn for each key=value pair of s. Pairs are separated by sep
// (runs of spaces count as one when sep is a space); a value may be quoted.
// Text without '=' before the first pair is skipped. It returns an error
// naming the byte offset of an unterminated quote.
func Pairs(s string, sep byte, fn func(k, v string)) error {
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == sep || s[i] == ' ' && sep == ' ') {
			i++
		}
		// key
		j := i
		for j < len(s) && s[j] != '=' && s[j] != sep && s[j] != ' ' {
			j++
		}
		if j >= len(s) || s[j] != '=' || j == i {
			// not a pair: skip the word
			for j < len(s) && s[j] != sep {
				j++
			}
			i = j
			continue
		}
		key := s[i:j]
		j++
		if j < len(s) && (s[j] == '"' || s[j] == '\'') {
			q := s[j]
			// Without a backslash before the closing quote the value is
			// a slice of s; only escaped values are copied.
			if end := strings.IndexByte(s[j+1:], q); end >= 0 && strings.IndexByte(s[j+1:j+1+end], '\\') < 0 {
				fn(key, s[j+1:j+1+end])
				i = j + 2 + end
				continue
			}
			var b strings.Builder
			k := j + 1
			closed := false
			for k < len(s) {
				c := s[k]
				if c == '\\' && k+1 < len(s) {
					b.WriteByte(s[k+1])
					k += 2
					continue
				}
				if c == q {
					closed = true
					k++
					break
				}
				b.WriteByte(c)
				k++
			}
			if !closed {
				return fmt.Errorf("value of %q at byte %d: quote not closed", key, j)
			}
			fn(key, b.String())
			i = k
			continue
		}
		k := j
		for k < len(s) && s[k] != sep {
			k++
		}
		fn(key, s[j:k])
		i = k
	}
	return nil
}

func invalidAt(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
	}
	return len(s)
}

var _ parse.Parser = (*Parser)(nil)
