// Package cef parses ArcSight Common Event Format:
//
//	[syslog header ]CEF:Version|Vendor|Product|DeviceVersion|SignatureID|Name|Severity|Extension
//
// Header fields become cef.* fields; extension keys keep their CEF names
// (src, dst, suser, act, cs1…), and a custom field's label names it too
// (cs1Label=Host ID makes cs1 also available as "Host ID" under cef.label.).
// Escapes (\| in the header; \=, \\, \n, \r in the extension) are decoded.
package cef

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/kv"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
	"github.com/wacht-soc/wacht/internal/parse/syslog"
	"github.com/wacht-soc/wacht/internal/parse/timestamp"
)

// Version of the parser, recorded on its events.
const Version = "1"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.cef",
		Version:     Version,
		Description: "ArcSight Common Event Format, optionally after a syslog header",
		New:         func() parse.Parser { return &Parser{} },
	})
}

// Parser parses CEF records; it holds no state.
type Parser struct{}

var headerNames = [...]string{"cef.device_vendor", "cef.device_product", "cef.device_version", "cef.signature_id", "cef.name", "cef.severity"}

// Parse reads one record into ev.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	start := bytes.Index(rec, []byte("CEF:"))
	if start < 0 {
		return errors.New("no CEF: marker")
	}
	b := bytes.TrimRight(rec[start:], "\r\n")
	if !utf8.Valid(b) {
		return fmt.Errorf("record at byte %d: invalid UTF-8", start+bytes.IndexFunc(b, func(r rune) bool { return r == utf8.RuneError }))
	}
	if start > 0 {
		syslog.Header(rec[:start], ev) // time and host
	}
	s := string(b)
	pos := 4
	var parts [7]string
	for i := range parts {
		j, val := headerField(s, pos)
		if j < 0 {
			return fmt.Errorf("header at byte %d: want 7 '|'-separated fields, found %d", start+pos, i)
		}
		parts[i] = val
		pos = j + 1
	}
	if v, err := strconv.Atoi(parts[0]); err == nil {
		ev.Add("cef.version", event.Int(int64(v)))
	} else {
		return fmt.Errorf("header at byte %d: version %q is not a number", start+4, parts[0])
	}
	for i, n := range headerNames {
		ev.Add(n, event.String(parts[i+1]))
	}
	ev.Message = parts[5]
	if err := extension(s[pos:], ev); err != nil {
		return fmt.Errorf("extension at byte %d: %w", start+pos, err)
	}
	if ev.Time.IsZero() {
		for _, k := range []string{"rt", "end", "start"} {
			if v := ev.GetString(k); v != "" {
				if t, ok := cefTime(v, ev.IngestTime); ok {
					ev.Time = t
					break
				}
			}
		}
	}
	entities.Apply(ev)
	return nil
}

// entities are the common appliance keys and CEF's own; read-only.
var entities = kv.EntityRules(
	normalize.Rule{ECS: normalize.HostName, From: []string{"dhost", "shost"}},
	normalize.Rule{ECS: "file.hash.sha256", From: []string{"fileHash"}},
	normalize.Rule{ECS: normalize.ProcExecutable, From: []string{"sproc", "dproc"}},
)

// headerField reads up to the next unescaped '|' and returns its index.
func headerField(s string, pos int) (int, string) {
	var b strings.Builder
	for i := pos; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\') {
				b.WriteByte(s[i+1])
				i++
				continue
			}
		case '|':
			return i, b.String()
		}
		b.WriteByte(s[i])
	}
	return -1, ""
}

// extension reads "k=v k2=v with spaces k3=v": a value runs until the
// space before the next key=.
func extension(s string, ev *event.Event) error {
	type kvp struct{ k, v string }
	var buf [48]kvp // on the stack for all but the widest records
	pairs := buf[:0]
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	for i < len(s) {
		eq := strings.IndexByte(s[i:], '=')
		if eq <= 0 {
			return fmt.Errorf("want key=value at %q", clip(s[i:]))
		}
		key := s[i : i+eq]
		if strings.ContainsAny(key, " \\") {
			return fmt.Errorf("bad key %q", clip(key))
		}
		j := i + eq + 1
		// find the next unescaped '=' that ends a key preceded by a space
		end := len(s)
		for k := j; k < len(s); k++ {
			if s[k] == '\\' {
				k++
				continue
			}
			if s[k] == '=' {
				sp := strings.LastIndexByte(s[j:k], ' ')
				if sp >= 0 {
					end = j + sp
					break
				}
			}
		}
		pairs = append(pairs, kvp{key, unescape(s[j:end])})
		i = end
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	var labels map[string]string // made only for records with custom labels
	for _, p := range pairs {
		if strings.HasSuffix(p.k, "Label") {
			if labels == nil {
				labels = map[string]string{}
			}
			labels[strings.TrimSuffix(p.k, "Label")] = p.v
		}
	}
	for _, p := range pairs {
		ev.Add(p.k, event.String(strings.TrimRight(p.v, " ")))
		if l, ok := labels[p.k]; ok && l != "" {
			ev.Add("cef.label."+l, event.String(p.v))
		}
	}
	if m := ev.GetString("msg"); m != "" {
		ev.Message = m
	}
	return nil
}

func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cefTime reads rt/end/start: milliseconds since the epoch or
// "MMM dd yyyy HH:mm:ss" and relatives.
func cefTime(s string, ref time.Time) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return timestamp.Epoch(float64(n)), true
	}
	t, err := timestamp.Parse(s, ref, time.UTC)
	if err == nil {
		return t, true
	}
	for _, l := range []string{"Jan 02 2006 15:04:05", "Jan 2 2006 15:04:05", "Jan 02 2006 15:04:05.000", "Jan 02 2006 15:04:05 MST"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func clip(s string) string {
	if len(s) > 30 {
		return s[:30] + "…"
	}
	return s
}

var _ parse.Parser = (*Parser)(nil)
