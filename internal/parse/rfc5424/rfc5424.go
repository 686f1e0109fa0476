// Package rfc5424 parses syslog messages in the format of RFC 5424:
//
//	<PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]
//
// It reads every part the RFC defines (timestamps with fractions and
// offsets, structured data with escaped values, the UTF-8 BOM before MSG)
// and is lenient where real senders are: a missing PRI or VERSION is
// accepted. sshd and PAM messages get their user, source address and
// outcome extracted (package authlog).
package rfc5424

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/authlog"
	"github.com/wacht-soc/wacht/internal/parse/timestamp"
)

// Version of the parser, recorded on its events.
const Version = "1"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.rfc5424",
		Version:     Version,
		Description: "syslog, RFC 5424 (structured data as sd.<id>.<param>)",
		New:         func() parse.Parser { return New() },
	})
}

// Parser parses RFC 5424 messages. It holds no state; the zero value works.
type Parser struct{}

// New returns a parser.
func New() *Parser { return &Parser{} }

// Field names set by this parser (shared with rfc3164).
const (
	FieldFacility = "syslog.facility"
	FieldSeverity = "syslog.severity"
	FieldPriority = "syslog.priority"
	FieldVersion  = "syslog.version"
	FieldHost     = "host.name"
	FieldApp      = "syslog.appname"
	FieldProcID   = "syslog.procid"
	FieldMsgID    = "syslog.msgid"
)

var bom = []byte{0xEF, 0xBB, 0xBF}

// PRI reads "<N>" at the start of b (N from 0 to 191, at most three digits)
// and returns N and the bytes read. ok is false when b does not start with
// '<'; err is set when it does but the PRI is malformed.
func PRI(b []byte) (pri, n int, ok bool, err error) {
	if len(b) == 0 || b[0] != '<' {
		return 0, 0, false, nil
	}
	i := 1
	for i < len(b) && i <= 4 && b[i] >= '0' && b[i] <= '9' {
		pri = pri*10 + int(b[i]-'0')
		i++
	}
	if i == 1 || i > 4 || i >= len(b) || b[i] != '>' {
		return 0, 0, true, errors.New("malformed PRI, want <0> to <191>")
	}
	if pri > 191 {
		return 0, 0, true, fmt.Errorf("PRI %d out of range 0-191", pri)
	}
	return pri, i + 1, true, nil
}

// AddPRI adds the priority, facility and severity fields.
func AddPRI(ev *event.Event, pri int) {
	ev.Add(FieldPriority, event.Int(int64(pri)))
	ev.Add(FieldFacility, event.Int(int64(pri>>3)))
	ev.Add(FieldSeverity, event.Int(int64(pri&7)))
}

// TrimRecord removes the line end a framing may leave on a record.
func TrimRecord(rec []byte) []byte {
	for len(rec) > 0 {
		switch rec[len(rec)-1] {
		case '\n', '\r', 0:
			rec = rec[:len(rec)-1]
			continue
		}
		break
	}
	return rec
}

// Parse reads one message into ev.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	b := TrimRecord(rec)
	pos := 0
	if len(b) == 0 {
		return errors.New("empty record")
	}
	pri, n, has, err := PRI(b)
	if err != nil {
		return fmt.Errorf("PRI at byte 0: %w", err)
	}
	if has {
		AddPRI(ev, pri)
		pos = n
	}
	// VERSION: 1 to 3 digits then SP. Optional only when there is no PRI and
	// the record starts with the timestamp.
	v := 0
	i := pos
	for i < len(b) && i-pos < 3 && b[i] >= '0' && b[i] <= '9' {
		v = v*10 + int(b[i]-'0')
		i++
	}
	switch {
	case i > pos && i < len(b) && b[i] == ' ' && v > 0:
		ev.Add(FieldVersion, event.Int(int64(v)))
		pos = i + 1
	case !has && (startsISO(b[pos:]) || bytes.HasPrefix(b[pos:], []byte("- "))):
		// no PRI and no version: the timestamp follows directly
	case has:
		return fmt.Errorf("version at byte %d: want a number from 1 to 999 and a space", pos)
	default:
		return fmt.Errorf("version at byte %d: not an RFC 5424 message", pos)
	}
	// TIMESTAMP
	tok, next := token(b, pos)
	if len(tok) == 0 {
		return fmt.Errorf("timestamp at byte %d: missing", pos)
	}
	if !(len(tok) == 1 && tok[0] == '-') {
		t, n, zoned, err := timestamp.ISO(tok, nil)
		if err == nil && n != len(tok) {
			err = errors.New("trailing characters")
		}
		if err == nil && (tok[10] != 'T' && tok[10] != 't' || !zoned) {
			err = errors.New("want full date, 'T', time and offset")
		}
		if err != nil {
			return fmt.Errorf("timestamp at byte %d: %q: %w", pos, clip(tok), err)
		}
		ev.Time = t
	}
	pos = next
	// HOSTNAME, APP-NAME, PROCID, MSGID
	hdr := [...]struct {
		field string
		max   int
		what  string
	}{{FieldHost, 255, "hostname"}, {FieldApp, 48, "app-name"}, {FieldProcID, 128, "procid"}, {FieldMsgID, 32, "msgid"}}
	var app string
	for _, h := range hdr {
		tok, next := token(b, pos)
		if len(tok) == 0 {
			if pos >= len(b) {
				return fmt.Errorf("%s at byte %d: message truncated", h.what, pos)
			}
			return fmt.Errorf("%s at byte %d: empty", h.what, pos)
		}
		if len(tok) > h.max {
			return fmt.Errorf("%s at byte %d: longer than %d", h.what, pos, h.max)
		}
		if j := nonPrintable(tok); j >= 0 {
			return fmt.Errorf("%s at byte %d: byte 0x%02x is not printable ASCII", h.what, pos+j, tok[j])
		}
		if !(len(tok) == 1 && tok[0] == '-') {
			s := string(tok)
			if h.field == FieldApp {
				app = s
			}
			ev.Add(h.field, event.String(s))
		}
		pos = next
	}
	// STRUCTURED-DATA
	if pos >= len(b) {
		// Strictly SD is required; senders that end after MSGID are common.
		return nil
	}
	if b[pos] == '-' {
		pos++
	} else if b[pos] == '[' {
		n, err := parseSD(b, pos, ev)
		if err != nil {
			return err
		}
		pos = n
	} else {
		return fmt.Errorf("structured data at byte %d: want '-' or '['", pos)
	}
	if pos < len(b) {
		if b[pos] != ' ' {
			return fmt.Errorf("structured data at byte %d: want a space before the message", pos)
		}
		pos++
	}
	msg := b[pos:]
	msg = bytes.TrimPrefix(msg, bom)
	if !utf8.Valid(msg) {
		off := len(b) - len(msg) + invalidAt(msg)
		ev.Message = string(bytes.ToValidUTF8(msg, []byte("\uFFFD")))
		return fmt.Errorf("message at byte %d: invalid UTF-8", off)
	}
	ev.Message = string(msg)
	authlog.Enrich(ev, app, ev.Message)
	return nil
}

// token returns the bytes up to the next space and the position after it.
func token(b []byte, pos int) ([]byte, int) {
	if pos >= len(b) {
		return nil, pos
	}
	j := bytes.IndexByte(b[pos:], ' ')
	if j < 0 {
		return b[pos:], len(b)
	}
	return b[pos : pos+j], pos + j + 1
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

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// parseSD reads one or more SD-ELEMENTs starting at b[pos] == '['.
func parseSD(b []byte, pos int, ev *event.Event) (int, error) {
	var val []byte
	for pos < len(b) && b[pos] == '[' {
		start := pos
		pos++
		j := pos
		for j < len(b) && isSDName(b[j]) {
			j++
		}
		if j == pos || j-pos > 32 {
			return 0, fmt.Errorf("structured data at byte %d: bad SD-ID", pos)
		}
		id := string(b[pos:j])
		pos = j
		for {
			if pos >= len(b) {
				return 0, fmt.Errorf("structured data at byte %d: element opened at byte %d not closed", pos, start)
			}
			if b[pos] == ']' {
				pos++
				break
			}
			if b[pos] != ' ' {
				return 0, fmt.Errorf("structured data at byte %d: want ' ' or ']', got %q", pos, b[pos])
			}
			pos++
			j = pos
			for j < len(b) && isSDName(b[j]) {
				j++
			}
			if j == pos || j-pos > 32 {
				return 0, fmt.Errorf("structured data at byte %d: bad PARAM-NAME", pos)
			}
			name := b[pos:j]
			pos = j
			if pos+1 >= len(b) || b[pos] != '=' || b[pos+1] != '"' {
				return 0, fmt.Errorf("structured data at byte %d: want =\" after parameter name", pos)
			}
			vstart := pos + 1
			pos += 2
			val = val[:0]
			closed := false
			for pos < len(b) {
				c := b[pos]
				if c == '\\' && pos+1 < len(b) && (b[pos+1] == '"' || b[pos+1] == '\\' || b[pos+1] == ']') {
					val = append(val, b[pos+1])
					pos += 2
					continue
				}
				if c == '"' {
					closed = true
					pos++
					break
				}
				val = append(val, c)
				pos++
			}
			if !closed {
				return 0, fmt.Errorf("structured data at byte %d: parameter value not closed", vstart)
			}
			if !utf8.Valid(val) {
				return 0, fmt.Errorf("structured data at byte %d: parameter %s: invalid UTF-8", pos, name)
			}
			ev.Add("sd."+id+"."+string(name), event.String(string(val)))
		}
	}
	return pos, nil
}

func isSDName(c byte) bool {
	return c >= 33 && c <= 126 && c != '=' && c != ']' && c != '"'
}

// Priority returns the PRI of a message if it starts with one (for callers
// that route on it without parsing).
func Priority(b []byte) (int, bool) {
	p, _, ok, err := PRI(b)
	return p, ok && err == nil
}

var _ parse.Parser = (*Parser)(nil)

func startsISO(b []byte) bool {
	return len(b) > 10 && b[4] == '-' && b[7] == '-' && b[0] >= '0' && b[0] <= '9'
}
