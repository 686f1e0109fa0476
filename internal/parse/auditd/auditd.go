// Package auditd parses Linux audit records (audit.log, or audispd lines
// after a syslog header):
//
//	[node=host ]type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e … exe="/usr/bin/cat"
//
// Parse reads one record with its native names at top level (type, exe,
// a0 …) as Sigma's auditd rules expect. ParseAll joins the records of one
// event (same timestamp and serial) into one event: the first record's
// names at top level, later records' names prefixed with their type
// ("EXECVE.a0", "PATH.name"). Hex-encoded values (proctitle, unquoted
// name/exe/comm/cmd/data) are decoded.
package auditd

import (
	"bytes"
	"encoding/hex"
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
)

// Version of the parser, recorded on its events.
const Version = "1"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.auditd",
		Version:     Version,
		Description: "Linux auditd records (ParseAll joins records of one event by serial)",
		New:         func() parse.Parser { return &Parser{} },
	})
}

// Parser parses audit records; it holds no state.
type Parser struct {
	// scratch is reused by Parse (one record per call); ParseAll, which
	// keeps records to join them, makes its own.
	scratch record
}

// record is one parsed audit line.
type record struct {
	typ    string
	time   time.Time
	serial string
	pairs  [][2]string
}

// hexKeys hold values the kernel hex-encodes when they contain spaces or
// control characters (then they are written without quotes).
var hexKeys = map[string]bool{"proctitle": true, "name": true, "exe": true, "comm": true, "cmd": true, "data": true, "cwd": true, "path": true, "acct": true, "key": true, "old": true, "new": true}

func parseRecord(line []byte) (*record, error) {
	r := &record{}
	if err := r.parse(line); err != nil {
		return nil, err
	}
	return r, nil
}

// parse reads one audit line into r, reusing r's pair storage.
func (r *record) parse(line []byte) error {
	*r = record{pairs: r.pairs[:0]}
	b := bytes.TrimRight(line, "\r\n")
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8")
	}
	s := string(b)
	i := strings.Index(s, "type=")
	if i < 0 {
		return errors.New("no type= in record")
	}
	j := strings.IndexByte(s[i:], ' ')
	if j < 0 {
		return fmt.Errorf("record at byte %d: nothing after type", i)
	}
	r.typ = s[i+5 : i+j]
	m := strings.Index(s, "msg=audit(")
	if m < 0 {
		return errors.New("no msg=audit(…) in record")
	}
	end := strings.Index(s[m:], ")")
	if end < 0 {
		return fmt.Errorf("msg at byte %d: audit(…) not closed", m)
	}
	stamp := s[m+10 : m+end]
	ts, serial, ok := strings.Cut(stamp, ":")
	secText, fracText, _ := strings.Cut(ts, ".")
	sec, err := strconv.ParseInt(secText, 10, 64)
	frac, ferr := strconv.ParseInt((fracText + "000000000")[:9], 10, 64)
	if !ok || err != nil || ferr != nil {
		return fmt.Errorf("msg at byte %d: bad timestamp %q", m+10, stamp)
	}
	r.time = time.Unix(sec, frac).UTC()
	r.serial = serial
	if node := strings.TrimPrefix(s[:i], "node="); node != s[:i] {
		r.pairs = append(r.pairs, [2]string{"node", strings.TrimSpace(node)})
	}
	rest := strings.TrimPrefix(s[m+end+1:], ":")
	// msg='…' of user-space records holds its own pairs
	err = kv.Pairs(rest, ' ', func(k, v string) {
		if k == "msg" {
			_ = kv.Pairs(v, ' ', func(k2, v2 string) { r.pairs = append(r.pairs, [2]string{k2, v2}) })
			return
		}
		r.pairs = append(r.pairs, [2]string{k, v})
	})
	if err != nil {
		return fmt.Errorf("fields at byte %d: %w", m+end+1, err)
	}
	// decode hex values: they were unquoted in the text
	for idx := range r.pairs {
		k, v := r.pairs[idx][0], r.pairs[idx][1]
		if hexKeys[k] || r.typ == "EXECVE" && len(k) > 1 && k[0] == 'a' {
			if d, ok := decodeHex(rest, k, v); ok {
				r.pairs[idx][1] = d
			}
		}
	}
	return nil
}

// decodeHex decodes v when it appeared unquoted as k=v in text and is hex.
func decodeHex(text, k, v string) (string, bool) {
	if len(v) < 2 || len(v)%2 != 0 || !strings.Contains(text, k+"="+v) || strings.Contains(text, k+"=\""+v) {
		return "", false
	}
	d, err := hex.DecodeString(v)
	if err != nil || !utf8.Valid(d) {
		return "", false
	}
	return strings.TrimRight(strings.ReplaceAll(string(d), "\x00", " "), " "), true
}

// Parse reads one record into ev.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	r := &p.scratch
	if err := r.parse(rec); err != nil {
		return err
	}
	one := [1]*record{r}
	fill(ev, one[:])
	return nil
}

// messageKeys are the fields an event's message shows, in order.
var messageKeys = []string{"exe", "EXECVE.a0", "proctitle", "PROCTITLE.proctitle", "acct", "op", "res", "success"}

func fill(ev *event.Event, recs []*record) {
	first := recs[0]
	ev.Time = first.time
	ev.LogSource = normalize.Source("auditd")
	ev.Add("type", event.String(first.typ))
	ev.Add("auditd.serial", event.String(first.serial))
	for _, pr := range first.pairs {
		ev.Add(pr[0], event.String(pr[1]))
	}
	if len(recs) > 1 {
		types := make([]event.Value, len(recs))
		for i, r := range recs {
			types[i] = event.String(r.typ)
		}
		ev.Add("auditd.types", event.Array(types))
		for _, r := range recs[1:] {
			for _, pr := range r.pairs {
				ev.Add(r.typ+"."+pr[0], event.String(pr[1]))
			}
		}
	}
	var msg strings.Builder
	msg.Grow(128)
	msg.WriteString(first.typ)
	for _, k := range messageKeys {
		if v := ev.GetString(k); v != "" {
			msg.WriteByte(' ')
			msg.WriteString(k)
			msg.WriteByte('=')
			msg.WriteString(v)
		}
	}
	ev.Message = msg.String()
	entities.Apply(ev)
	if res := ev.GetString("res"); res != "" {
		out := "failure"
		if res == "success" || res == "1" {
			out = "success"
		}
		ev.Add(normalize.EventOutcome, event.String(out))
	} else if s := ev.GetString("success"); s != "" {
		out := "failure"
		if s == "yes" {
			out = "success"
		}
		ev.Add(normalize.EventOutcome, event.String(out))
	}
}

// ParseAll reads an audit.log and emits one event per audit event: records
// with the same timestamp and serial, which the kernel writes together.
// A line that cannot be read becomes an event with its error.
func (p *Parser) ParseAll(data []byte, base event.Event, emit func(*event.Event) error) error {
	var group []*record
	var raw []byte
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		ev := base
		ev.Fields = nil
		ev.Raw = raw
		fill(&ev, group)
		group, raw = nil, nil
		return emit(&ev)
	}
	off := 0
	for off < len(data) {
		i := bytes.IndexByte(data[off:], '\n')
		end := len(data)
		if i >= 0 {
			end = off + i
		}
		line := bytes.TrimSpace(data[off:end])
		lineOff := off
		off = end + 1
		if len(line) == 0 {
			continue
		}
		r, err := parseRecord(line)
		if err != nil {
			if err := flush(); err != nil {
				return err
			}
			ev := base
			ev.Fields = nil
			ev.Raw = line
			ev.Message = string(line)
			ev.AddError(fmt.Sprintf("auditd: line at byte %d: %v", lineOff, err))
			if err := emit(&ev); err != nil {
				return err
			}
			continue
		}
		if len(group) > 0 && (group[0].serial != r.serial || !group[0].time.Equal(r.time)) {
			if err := flush(); err != nil {
				return err
			}
		}
		group = append(group, r)
		raw = append(append(raw, line...), '\n')
		if r.typ == "EOE" {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

var (
	_ parse.Parser      = (*Parser)(nil)
	_ parse.MultiParser = (*Parser)(nil)
)

// entities maps auditd's fields to ECS; read-only.
var entities = normalize.NewRules(
	normalize.Rule{ECS: normalize.ProcExecutable, From: []string{"exe", "SYSCALL.exe"}},
	normalize.Rule{ECS: normalize.ProcCommand, From: []string{"proctitle", "PROCTITLE.proctitle"}},
	normalize.Rule{ECS: normalize.ProcPID, From: []string{"pid"}},
	normalize.Rule{ECS: normalize.UserName, From: []string{"acct", "AUID", "UID"}},
	normalize.Rule{ECS: normalize.SourceIP, From: []string{"addr", "saddr"}},
	normalize.Rule{ECS: normalize.HostName, From: []string{"node", "hostname"}},
)
