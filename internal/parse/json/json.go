// Package json parses one JSON object per record (NDJSON, JSON lines, the
// documents of Elastic _bulk and Splunk HEC bodies). Nested objects are
// flattened to dotted field names; the event time and message are taken
// from the keys shippers commonly use for them.
//
// The field chosen as message is moved into Event.Message (stored as _msg),
// not kept twice; the time field stays.
package json

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/timestamp"
)

// Version of the parser, recorded on its events.
const Version = "1"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.json",
		Version:     Version,
		Description: "one JSON object per record, flattened; time and message from common keys",
		New:         func() parse.Parser { return New(Options{}) },
	})
}

// timeKeys are the field names tried, in order, for the event time.
var timeKeys = [...]string{
	"@timestamp", "timestamp", "time", "_time", "EventTime", "TimeCreated", "TimeCreated.SystemTime",
	"Event.System.TimeCreated.SystemTime", "eventTime", "published", "createdDateTime", "activityDateTime",
	"ts", "datetime", "date", "created_at", "receiveTimestamp", "event.created",
}

// messageKeys are the field names tried, in order, for the message.
var messageKeys = [...]string{"message", "msg", "_msg", "Message", "MESSAGE", "short_message", "log"}

// Options configure the parser.
type Options struct {
	// Location is the zone of times without one; nil means UTC.
	Location *time.Location
	// KeepMessage keeps the message field among the fields as well.
	KeepMessage bool
}

// Parser parses JSON objects. It reuses its fastjson parser, so one Parser
// serves one goroutine.
type Parser struct {
	opt Options
	p   fastjson.Parser
}

// New returns a parser.
func New(opt Options) *Parser {
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	return &Parser{opt: opt}
}

// Parse reads one JSON object into ev.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	if _, err := Object(&p.p, rec, ev); err != nil {
		return err
	}
	PickTime(ev, p.opt.Location)
	PickMessage(ev, p.opt.KeepMessage)
	return nil
}

// Object checks rec (valid UTF-8, one JSON object) and flattens it into
// ev's fields. Errors name the problem and its byte offset.
func Object(p *fastjson.Parser, rec []byte, ev *event.Event) (*fastjson.Value, error) {
	b := bytes.TrimSpace(rec)
	if len(b) == 0 {
		return nil, errors.New("empty record")
	}
	if b[0] != '{' {
		return nil, fmt.Errorf("JSON at byte %d: want an object, got %q", len(rec)-len(bytes.TrimLeft(rec, " \t\r\n")), clip(b))
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("JSON at byte %d: invalid UTF-8", invalidAt(b))
	}
	v, err := ev.ParseJSONObject(p, b)
	if err != nil {
		return nil, Explain(b, err)
	}
	return v, nil
}

// Explain turns a failed parse of b into an error with a byte offset.
func Explain(b []byte, err error) error {
	if off := tooDeep(b, event.MaxJSONDepth); off >= 0 {
		return fmt.Errorf("JSON at byte %d: nested deeper than %d", off, event.MaxJSONDepth)
	}
	var raw stdjson.RawMessage
	if e := stdjson.Unmarshal(b, &raw); e != nil {
		var se *stdjson.SyntaxError
		if errors.As(e, &se) {
			return fmt.Errorf("JSON at byte %d: %s", se.Offset, se.Error())
		}
		return fmt.Errorf("JSON: %w", e)
	}
	return err
}

// tooDeep returns the offset where nesting exceeds max, or -1.
func tooDeep(b []byte, max int) int {
	depth, inStr := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			if depth > max {
				return i
			}
		case '}', ']':
			depth--
		}
	}
	return -1
}

// PickTime sets ev.Time from the first of the common time keys that holds a time.
func PickTime(ev *event.Event, loc *time.Location) {
	for _, k := range timeKeys {
		v, ok := ev.Get(k)
		if !ok {
			continue
		}
		if t, ok := ValueTime(v, ev.IngestTime, loc); ok {
			ev.Time = t
			if k == "_time" || k == "@timestamp" {
				// the store's and ECS's names for the event time, which
				// the store keeps as _time: keep one copy, not two
				ev.Delete(k)
			}
			return
		}
	}
}

// ValueTime reads a time from a field value: text in any format of package
// timestamp, or a number as a Unix epoch.
func ValueTime(v event.Value, ref time.Time, loc *time.Location) (time.Time, bool) {
	switch v.Kind() {
	case event.KindString:
		t, err := timestamp.Parse(v.Str(), ref, loc)
		return t, err == nil && !t.IsZero()
	case event.KindInt, event.KindFloat:
		f, _ := v.Float()
		t := timestamp.Epoch(f)
		return t, !t.IsZero()
	case event.KindTime:
		return v.Time(), true
	}
	return time.Time{}, false
}

// PickMessage moves the first of the common message keys that holds a string into
// ev.Message (keeping the field as well when keep is set).
func PickMessage(ev *event.Event, keep bool) {
	for _, k := range messageKeys {
		v, ok := ev.Get(k)
		if !ok || v.Kind() != event.KindString {
			continue
		}
		ev.Message = v.Str()
		if !keep {
			ev.Delete(k)
		}
		return
	}
}

// ParseAll reads a JSON array of objects or newline-delimited objects.
func (p *Parser) ParseAll(data []byte, base event.Event, emit func(*event.Event) error) error {
	return Records(data, func(off int, rec []byte) error {
		ev := base
		ev.Fields = nil
		ev.Raw = rec
		if err := p.Parse(rec, &ev); err != nil {
			ev.AddError(fmt.Sprintf("json: record at byte %d: %v", off, err))
			if ev.Message == "" {
				ev.Message = string(rec)
			}
		}
		return emit(&ev)
	})
}

// Records calls fn for each record of data: the elements of a top-level
// JSON array, or else each non-empty line.
func Records(data []byte, fn func(off int, rec []byte) error) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var arr []stdjson.RawMessage
		if err := stdjson.Unmarshal(trimmed, &arr); err != nil {
			return Explain(trimmed, err)
		}
		off := len(data) - len(trimmed)
		for _, r := range arr {
			if err := fn(off, r); err != nil {
				return err
			}
		}
		return nil
	}
	off := 0
	for off < len(data) {
		i := bytes.IndexByte(data[off:], '\n')
		end := len(data)
		if i >= 0 {
			end = off + i
		}
		line := bytes.TrimSpace(data[off:end])
		if len(line) > 0 {
			if err := fn(off, line); err != nil {
				return err
			}
		}
		off = end + 1
	}
	return nil
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
	if len(b) > 20 {
		return string(b[:20]) + "…"
	}
	return string(b)
}

var (
	_ parse.Parser      = (*Parser)(nil)
	_ parse.MultiParser = (*Parser)(nil)
)
