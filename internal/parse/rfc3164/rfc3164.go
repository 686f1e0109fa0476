// Package rfc3164 parses BSD syslog lines (RFC 3164) as real senders write
// them:
//
//	[<PRI>]TIMESTAMP [HOSTNAME ][TAG[[PID]]: ]MSG
//
// The PRI may be missing (files from /var/log). Timestamps may be the
// classic "Jan  2 15:04:05", with a year ("Jan  2 2006 15:04:05"), RFC 3339
// or ISO 8601 with fractions and without a zone. A time without a year is
// placed relative to a reference time (Options.Reference, else the event's
// ingest time); a time without a zone is read in Options.Location (UTC by
// default). The parser never reads the clock.
package rfc3164

import (
	"bytes"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/authlog"
	"github.com/wacht-soc/wacht/internal/parse/rfc5424"
	"github.com/wacht-soc/wacht/internal/parse/timestamp"
)

// Version of the parser, recorded on its events.
const Version = "1"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.rfc3164",
		Version:     Version,
		Description: "BSD syslog, RFC 3164, with or without PRI and common timestamp variants",
		New:         func() parse.Parser { return New(Options{}) },
	})
}

// Options configure the parser.
type Options struct {
	// Reference completes timestamps without a year. Zero means the event's
	// IngestTime.
	Reference time.Time
	// Location is the zone of timestamps without one; nil means UTC.
	Location *time.Location
}

// Parser parses RFC 3164 lines.
type Parser struct {
	opt Options
}

// New returns a parser with the given options.
func New(opt Options) *Parser {
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	return &Parser{opt: opt}
}

// Parse reads one line into ev.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	b := rfc5424.TrimRecord(rec)
	if len(b) == 0 {
		return errors.New("empty record")
	}
	pos := 0
	pri, n, has, err := rfc5424.PRI(b)
	if err != nil {
		return fmt.Errorf("PRI at byte 0: %w", err)
	}
	if has {
		rfc5424.AddPRI(ev, pri)
		pos = n
	}
	ref := p.opt.Reference
	if ref.IsZero() {
		ref = ev.IngestTime
	}
	// TIMESTAMP
	var t time.Time
	switch {
	case pos < len(b) && b[pos] >= '0' && b[pos] <= '9':
		t, n, _, err = timestamp.ISO(b[pos:], p.opt.Location)
	case pos < len(b) && b[pos] == '*': // Cisco marks unsynchronized clocks with '*'
		t, n, err = timestamp.BSD(b[pos+1:], ref, p.opt.Location)
		n++
	default:
		t, n, err = timestamp.BSD(b[pos:], ref, p.opt.Location)
	}
	if err != nil {
		return fmt.Errorf("timestamp at byte %d: %w", pos, err)
	}
	ev.Time = t
	pos += n
	// Some senders put the zone name after the time ("… 15:04:05 UTC:").
	if pos < len(b) && b[pos] == ':' {
		pos++
	}
	if pos < len(b) && b[pos] != ' ' {
		return fmt.Errorf("timestamp at byte %d: want a space after it", pos)
	}
	for pos < len(b) && b[pos] == ' ' {
		pos++
	}
	rest := b[pos:]
	// HOSTNAME: the next word, unless it already is the tag ("su:" or
	// "clamd[123]:").
	if w := word(rest); len(w) > 0 && !isTag(w) && len(rest) > len(w) {
		if j := nonPrintable(w); j >= 0 {
			return fmt.Errorf("hostname at byte %d: byte 0x%02x is not printable ASCII", pos+j, w[j])
		}
		ev.Add(rfc5424.FieldHost, event.String(string(w)))
		pos += len(w) + 1
		rest = b[pos:]
	} else if len(w) > 0 && len(rest) == len(w) && !isTag(w) {
		// only one word after the time: a message without host or tag
		ev.Add(rfc5424.FieldHost, event.String(string(w)))
		return nil
	}
	// TAG[PID]:
	app, pid, n := tag(rest)
	if n > 0 {
		ev.Add(rfc5424.FieldApp, event.String(app))
		if pid != "" {
			ev.Add(rfc5424.FieldProcID, event.String(pid))
		}
		pos += n
	}
	msg := b[pos:]
	if !utf8.Valid(msg) {
		off := pos + invalidAt(msg)
		ev.Message = string(bytes.ToValidUTF8(msg, []byte("\uFFFD")))
		return fmt.Errorf("message at byte %d: invalid UTF-8", off)
	}
	ev.Message = string(msg)
	authlog.Enrich(ev, app, ev.Message)
	return nil
}

func word(b []byte) []byte {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i]
	}
	return b
}

// isTag reports whether a word is a tag rather than a hostname.
func isTag(w []byte) bool {
	return w[len(w)-1] == ':' || bytes.IndexByte(w, '[') >= 0
}

// tag reads "name[pid]: " or "name: " at the start of b. It returns the
// name, the pid and the bytes read, or n == 0 when b does not start with a
// tag.
func tag(b []byte) (name, pid string, n int) {
	i := 0
	for i < len(b) && i < 128 {
		c := b[i]
		if c == '[' || c == ':' || c == ' ' || c < 33 || c > 126 {
			break
		}
		i++
	}
	if i == 0 || i >= len(b) {
		return "", "", 0
	}
	name = string(b[:i])
	switch b[i] {
	case '[':
		j := bytes.IndexByte(b[i:], ']')
		if j < 0 || j > 130 {
			return "", "", 0
		}
		pid = string(b[i+1 : i+j])
		i += j + 1
		if i < len(b) && b[i] == ':' {
			i++
		}
	case ':':
		i++
	default:
		return "", "", 0
	}
	if i < len(b) && b[i] == ' ' {
		i++
	}
	return name, pid, i
}

func nonPrintable(b []byte) int {
	for i, c := range b {
		if c < 33 || c > 126 {
			return i
		}
	}
	return -1
}

func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

var _ parse.Parser = (*Parser)(nil)
