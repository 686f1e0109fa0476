// Package jsonsource builds parsers for JSON log sources whose shape is
// known (CloudTrail, Okta, Azure AD, GCP audit, GitHub audit, Suricata EVE,
// Zeek JSON): a Spec names the time key, how to make the message, the
// logsource and which native fields feed the ECS entities, and the parser
// does the rest. Documents that hold many records under one key
// (CloudTrail's "Records") are split by ParseAll.
package jsonsource

import (
	"bytes"
	"fmt"
	"time"

	"github.com/valyala/fastjson"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	jsonparser "github.com/wacht-soc/wacht/internal/parse/json"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
)

// Spec describes one JSON source.
type Spec struct {
	// Name is the parser's short name; Description its one line.
	Name, Description string
	// Version is recorded on the events.
	Version string
	// TimeKeys are tried in order for the event time (flattened names).
	TimeKeys []string
	// MessageKeys are joined with spaces into the message.
	MessageKeys []string
	// LogSource is the fixed logsource, or LogSourceFrom computes one.
	LogSource     event.LogSource
	LogSourceFrom func(ev *event.Event) event.LogSource
	// Entities lists, per ECS field, the native fields to take it from.
	Entities [][]string
	// Records is the key of an array of records inside one document.
	Records string
	// Finish runs last for what a table cannot say.
	Finish func(ev *event.Event)
}

// Register registers a parser for spec under wacht.parsers.<Name>.
func Register(spec Spec) {
	parse.Register(parse.Info{
		ID:          "wacht.parsers." + spec.Name,
		Version:     spec.Version,
		Description: spec.Description,
		New:         func() parse.Parser { return New(spec) },
	})
}

// Parser parses records of one JSON source; one per goroutine.
type Parser struct {
	spec Spec
	p    fastjson.Parser
}

// New returns a parser for spec.
func New(spec Spec) *Parser { return &Parser{spec: spec} }

// Parse reads one record into ev.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	if _, err := jsonparser.Object(&p.p, rec, ev); err != nil {
		return err
	}
	p.finish(ev)
	return nil
}

func (p *Parser) finish(ev *event.Event) {
	s := &p.spec
	for _, k := range s.TimeKeys {
		if v, ok := ev.Get(k); ok {
			if t, ok := jsonparser.ValueTime(v, ev.IngestTime, time.UTC); ok {
				ev.Time = t
				break
			}
		}
	}
	if ev.Time.IsZero() {
		jsonparser.PickTime(ev, time.UTC)
	}
	var msg []byte
	for _, k := range s.MessageKeys {
		if v := ev.GetString(k); v != "" {
			if len(msg) > 0 {
				msg = append(msg, ' ')
			}
			msg = append(msg, v...)
		}
	}
	ev.Message = string(msg)
	if ev.Message == "" {
		jsonparser.PickMessage(ev, true)
	}
	ev.LogSource = s.LogSource
	if s.LogSourceFrom != nil {
		ev.LogSource = s.LogSourceFrom(ev)
	}
	for _, e := range s.Entities {
		normalize.Entity(ev, e[0], e[1:]...)
	}
	if s.Finish != nil {
		s.Finish(ev)
	}
}

// ParseAll reads a document with an array of records under Spec.Records
// (a trail file), one record, a JSON array of records, or JSON lines, where
// a line may itself be a document with a Records array (trail files
// concatenated, one per line).
func (p *Parser) ParseAll(data []byte, base event.Event, emit func(*event.Event) error) error {
	// off is the record's index in a Records array, else its byte offset.
	one := func(off int, rec []byte) error {
		ev := base
		ev.Fields = nil
		ev.Raw = rec
		if err := p.Parse(rec, &ev); err != nil {
			ev.AddError(fmt.Sprintf("%s: record %d: %v", p.spec.Name, off, err))
			if ev.Message == "" {
				ev.Message = string(rec)
			}
		}
		return emit(&ev)
	}
	if p.spec.Records == "" {
		return jsonparser.Records(data, one)
	}
	// A parser of its own: p.p is reused for each record.
	var outer fastjson.Parser
	split := func(v *fastjson.Value) (bool, error) {
		arr := v.GetArray(p.spec.Records)
		if arr == nil {
			return false, nil
		}
		var buf []byte
		for i, r := range arr {
			buf = r.MarshalTo(buf[:0])
			if err := one(i, append([]byte(nil), buf...)); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' && bytes.IndexByte(trimmed, '\n') >= 0 {
		// One document over many lines: a trail file or a pretty-printed
		// record. Several documents fail to parse as one and are read as
		// lines below.
		if v, err := outer.ParseBytes(trimmed); err == nil && v.Type() == fastjson.TypeObject {
			if done, err := split(v); done {
				return err
			}
			return one(0, trimmed)
		}
	}
	return jsonparser.Records(data, func(off int, rec []byte) error {
		if hasRecordsKey(rec, p.spec.Records) {
			if v, err := outer.ParseBytes(rec); err == nil {
				if done, err := split(v); done {
					return err
				}
			}
		}
		return one(off, rec)
	})
}

// hasRecordsKey reports whether the JSON object rec starts with the key
// name, as trail files do: a cheap test before parsing a line twice.
func hasRecordsKey(rec []byte, name string) bool {
	rec = bytes.TrimLeft(rec, " \t")
	if len(rec) == 0 || rec[0] != '{' {
		return false
	}
	rec = bytes.TrimLeft(rec[1:], " \t\r\n")
	return len(rec) > len(name)+2 && rec[0] == '"' && string(rec[1:1+len(name)]) == name && rec[1+len(name)] == '"'
}

var (
	_ parse.Parser      = (*Parser)(nil)
	_ parse.MultiParser = (*Parser)(nil)
)
