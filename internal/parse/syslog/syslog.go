// Package syslog is the parser for syslog listeners: it tells RFC 5424 from
// RFC 3164 per message and hands the message to the matching parser.
//
// A message is RFC 5424 when a version number and a space follow the PRI
// ("<34>1 "), or, without PRI, when it starts with "1 " and an ISO date.
// Everything else is read as RFC 3164.
package syslog

import (
	"bytes"
	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/rfc3164"
	"github.com/wacht-soc/wacht/internal/parse/rfc5424"
)

// Version of the parser, recorded on its events.
const Version = "1"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.syslog",
		Version:     Version,
		Description: "syslog, RFC 5424 or RFC 3164 detected per message",
		New:         func() parse.Parser { return New(rfc3164.Options{}) },
	})
}

// Parser detects the syslog flavour of each message.
type Parser struct {
	new *rfc5424.Parser
	old *rfc3164.Parser
}

// New returns a parser; opt configures the RFC 3164 side.
func New(opt rfc3164.Options) *Parser {
	return &Parser{new: rfc5424.New(), old: rfc3164.New(opt)}
}

// Is5424 reports whether b looks like an RFC 5424 message.
func Is5424(b []byte) bool {
	i := 0
	if len(b) > 0 && b[0] == '<' {
		_, n, _, err := rfc5424.PRI(b)
		if err != nil {
			return false
		}
		i = n
		j := i
		for j < len(b) && j-i < 3 && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j > i && j < len(b) && b[j] == ' ' && b[i] != '0'
	}
	// Without PRI only the common "1 2006-01-02T…" is recognized; a bare
	// ISO timestamp is just as common at the start of RFC 3164 files.
	return len(b) > 12 && b[0] == '1' && b[1] == ' ' && b[6] == '-' && b[9] == '-' && b[12] == 'T'
}

// Parse reads one message into ev.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	if Is5424(rec) {
		return p.new.Parse(rec, ev)
	}
	return p.old.Parse(rec, ev)
}

// Header reads the syslog header in front of a payload of another format
// (CEF, LEEF: "<13>Jan 18 11:07:53 fw01 CEF:0|…"): the event time and the
// header's fields (host, app) go to ev. A prefix that is no syslog header
// leaves ev as it was.
func Header(prefix []byte, ev *event.Event) {
	var hdr event.Event
	hdr.IngestTime = ev.IngestTime
	if New(rfc3164.Options{}).Parse(bytes.TrimSpace(prefix), &hdr) == nil {
		ev.Time = hdr.Time
		ev.Fields = append(ev.Fields, hdr.Fields...)
	}
}

var _ parse.Parser = (*Parser)(nil)
