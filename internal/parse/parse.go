// Package parse holds the registry of log format parsers. Each format lives
// in its own subpackage (internal/parse/rfc5424, …) and registers itself in
// init under a dotted id such as "wacht.parsers.rfc5424"; listeners and
// importers look parsers up by their short name.
//
// Parsers are pure: bytes in, fields on an event or an error out, no I/O and
// no globals. A parser that fails to read a record returns an error; the
// caller keeps the event with its raw bytes and records the error on it
// (event field _error), so nothing is dropped silently.
package parse

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/wacht-soc/wacht/event"
)

// Parser reads one record into an event.
//
// The caller has already set Tenant, Source, IngestTime and Raw on ev. The
// parser sets Time (when the record has one), Message, LogSource and Fields.
// A parser may keep state between calls (buffers), so one Parser is used by
// one goroutine at a time; New makes another.
type Parser interface {
	Parse(rec []byte, ev *event.Event) error
}

// MultiParser is the optional capability of formats whose one input holds
// many records (an EVTX file, a CloudTrail document with a Records array).
// base carries tenant, source and ingest time for every event emitted.
type MultiParser interface {
	ParseAll(data []byte, base event.Event, emit func(*event.Event) error) error
}

// Stateful is the optional capability of line formats whose records depend
// on header lines seen earlier in the same stream: Zeek TSV ("#fields",
// "#types", "#separator") and W3C extended logs ("#Fields:"). Such a parser
// remembers the last header it was given, so a caller reading a stream line
// by line keeps one parser per stream (one Instance per connection, request
// or file, as listeners already do) and passes it every line, headers
// included. A header line yields ErrNoEvent. Reset forgets the headers when
// the parser is reused for another stream.
//
// The capability is optional and backwards compatible: a caller that knows
// nothing of it still gets correct events as long as it keeps one parser per
// stream; it only sees header lines as records with an error.
type Stateful interface {
	Reset()
}

// ErrNoEvent is returned by Parse for a record that is not an event: a
// header or comment line of a Stateful format. Callers drop the record
// without counting a parse error (errors.Is(err, parse.ErrNoEvent)).
var ErrNoEvent = errors.New("header or comment line, not an event")

// Info describes a registered parser.
type Info struct {
	// ID is the dotted id, "wacht.parsers.<name>".
	ID string
	// Version is recorded on every event the parser makes (event.format
	// "<name>/<version>") so that re-parsing can be targeted.
	Version string
	// Description is one line for `wacht parsers list`.
	Description string
	// New makes a parser.
	New func() Parser
}

// Name is the short name: the last element of the id.
func (i Info) Name() string { return i.ID[strings.LastIndexByte(i.ID, '.')+1:] }

// Format is the value recorded in event.format.
func (i Info) Format() string { return i.Name() + "/" + i.Version }

var (
	mu       sync.RWMutex
	registry = map[string]Info{}
)

// Register adds a parser. It panics on a duplicate or malformed id, since
// that is a programming error found at start.
func Register(info Info) {
	if !strings.HasPrefix(info.ID, "wacht.parsers.") || info.New == nil || info.Version == "" {
		panic(fmt.Sprintf("parse: bad registration %q", info.ID))
	}
	mu.Lock()
	defer mu.Unlock()
	name := info.Name()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("parse: parser %q registered twice", info.ID))
	}
	registry[name] = info
}

// Lookup returns the parser registered under a short name or a dotted id.
func Lookup(name string) (Info, bool) {
	mu.RLock()
	defer mu.RUnlock()
	name = strings.TrimPrefix(name, "wacht.parsers.")
	info, ok := registry[name]
	return info, ok
}

// All lists the registered parsers sorted by id.
func All() []Info {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Info, 0, len(registry))
	for _, i := range registry {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// Instance is a parser ready for use together with its registration.
type Instance struct {
	Info   Info
	Parser Parser

	format string // Info.Format, made once
}

// Reset forgets stream state (headers) of a Stateful parser; for other
// parsers it does nothing.
func (in *Instance) Reset() {
	if s, ok := in.Parser.(Stateful); ok {
		s.Reset()
	}
}

// NewInstance makes a parser by name.
func NewInstance(name string) (*Instance, error) {
	info, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown parser %q", name)
	}
	return &Instance{Info: info, Parser: info.New()}, nil
}

// Record parses one record into ev. On failure the event keeps the raw record
// as its message and carries the error; the returned error is for counting.
// A header line of a Stateful format returns ErrNoEvent and leaves ev
// without an error: the caller drops it.
func (in *Instance) Record(rec []byte, ev *event.Event) error {
	ev.Raw = rec
	if in.format == "" {
		in.format = in.Info.Format() // once, not a new string per record
	}
	ev.Format = in.format
	err := in.Parser.Parse(rec, ev)
	if errors.Is(err, ErrNoEvent) {
		return err
	}
	if err != nil {
		ev.AddError(in.Info.Name() + ": " + err.Error())
		if ev.Message == "" {
			ev.Message = string(rec)
		}
	}
	if ev.Time.IsZero() {
		ev.Time = ev.IngestTime
	}
	ev.ComputeID()
	return err
}
