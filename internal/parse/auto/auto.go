// Package auto is the "auto" parser: it reads a stream whose format it is
// not told. The first record of a stream (a connection, a request, a file)
// decides the format through internal/parse/detect; later records go to
// that format's parser as long as it accepts them, and a record it rejects
// is detected again on its own, so a relay that mixes sources (syslog with
// CEF from one device and plain syslog from another) is still read right.
// Header lines of Zeek TSV and W3C logs switch the stream to that format
// and become the parser's state, as with the format named outright.
//
// Every event records the format that actually read it (event.format
// "cef/1", not "auto"), so searches and re-parsing see the real parser.
package auto

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/detect"
)

// Name is the registered short name.
const Name = "auto"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers." + Name,
		Version:     "1",
		Description: "detect the format from the first record of each stream (re-detect a record the chosen parser rejects)",
		New:         func() parse.Parser { return New() },
	})
}

// Parser is one stream's auto parser. Like every parser it is used by one
// goroutine at a time.
type Parser struct {
	cur   *parse.Instance
	known map[string]*parse.Instance
}

// New returns a parser with no format chosen yet.
func New() *Parser { return &Parser{known: map[string]*parse.Instance{}} }

var (
	_ parse.Parser   = (*Parser)(nil)
	_ parse.Stateful = (*Parser)(nil)
)

// Current is the short name of the format in use ("" before the first
// record).
func (p *Parser) Current() string {
	if p.cur == nil {
		return ""
	}
	return p.cur.Info.Name()
}

// Reset forgets the chosen format and every header.
func (p *Parser) Reset() {
	p.cur = nil
	for _, in := range p.known {
		in.Reset()
	}
}

// Parse reads rec with the stream's format, choosing it first if needed.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	if p.cur == nil || isHeader(rec) || p.embedded(rec) {
		if err := p.choose(rec); err != nil {
			return err
		}
	}
	err := p.cur.Parser.Parse(rec, ev)
	if err != nil && !errors.Is(err, parse.ErrNoEvent) {
		prev := p.cur
		if p.choose(rec) == nil && p.cur != prev {
			reset(ev)
			err = p.cur.Parser.Parse(rec, ev)
		}
	}
	ev.Format = p.cur.Info.Format()
	return err
}

// choose detects rec's format and makes it current. A record nothing
// recognizes keeps the current format when there is one (its parser then
// reports what is wrong with the record).
func (p *Parser) choose(rec []byte) error {
	d := detect.Detect(rec)
	if !d.Known() {
		if p.cur != nil {
			return nil
		}
		return fmt.Errorf("cannot tell the format of the first record (%s); name the format", d.Reason)
	}
	if in, ok := p.known[d.Format]; ok {
		p.cur = in
		return nil
	}
	in, err := parse.NewInstance(d.Format)
	if err != nil {
		return fmt.Errorf("detected format %s: %w", d.Format, err)
	}
	p.known[d.Format] = in
	p.cur = in
	return nil
}

// embedded reports a CEF or LEEF payload inside a record of another
// format (typically syslog): those are detected again so their fields are
// read, not left in the message. The check is a substring search, cheap
// enough for every record.
func (p *Parser) embedded(rec []byte) bool {
	switch p.cur.Info.Name() {
	case "cef", "leef":
		return false
	}
	return bytes.Contains(rec, []byte("CEF:")) || bytes.Contains(rec, []byte("LEEF:"))
}

// isHeader reports a Zeek or W3C header line, which switches formats.
func isHeader(rec []byte) bool {
	return bytes.HasPrefix(rec, []byte("#separator ")) || bytes.HasPrefix(rec, []byte("#fields\t")) ||
		bytes.HasPrefix(rec, []byte("#Fields:")) || bytes.HasPrefix(rec, []byte("#Software:")) || bytes.HasPrefix(rec, []byte("#Version:"))
}

// reset undoes what a rejecting parser may have set.
func reset(ev *event.Event) {
	ev.Fields = ev.Fields[:0]
	ev.Message = ""
	ev.LogSource = event.LogSource{}
	ev.Time = time.Time{}
	ev.Errors = ev.Errors[:0]
}
