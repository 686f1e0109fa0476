// Package normalize holds what the format parsers share after reading a
// record: the Sigma logsource assignment (an embedded table, data rather
// than code) and the extraction of entities into ECS-named core fields
// (host.name, user.name, source.ip, process.command_line, file.hash.* …)
// beside the native fields.
package normalize

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/event"
)

//go:embed logsource.tsv
var table string

// ECS core field names that detection, threat intel and assets rely on.
const (
	HostName       = "host.name"
	UserName       = "user.name"
	UserDomain     = "user.domain"
	SourceIP       = "source.ip"
	SourcePort     = "source.port"
	DestIP         = "destination.ip"
	DestPort       = "destination.port"
	ProcExecutable = "process.executable"
	ProcCommand    = "process.command_line"
	ProcPID        = "process.pid"
	ParentExec     = "process.parent.executable"
	ParentCommand  = "process.parent.command_line"
	FileHashPrefix = "file.hash."
	DNSQuestion    = "dns.question.name"
	URLFull        = "url.full"
	EmailFrom      = "email.from.address"
	EmailTo        = "email.to.address"
	EventAction    = "event.action"
	EventOutcome   = "event.outcome"
)

type eventKey struct {
	service string
	id      int
}

// Table is the parsed logsource mapping. It is built once (Default) and
// read only afterwards.
type Table struct {
	channels map[string]string
	events   map[eventKey]string
	sources  map[string]event.LogSource
}

// Parse reads a mapping in the format of logsource.tsv.
func Parse(text string) (*Table, error) {
	t := &Table{channels: map[string]string{}, events: map[eventKey]string{}, sources: map[string]event.LogSource{}}
	for i, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		bad := fmt.Errorf("logsource table line %d: want %s fields", i+1, f[0])
		switch f[0] {
		case "channel":
			if len(f) != 3 {
				return nil, bad
			}
			t.channels[strings.ToLower(f[1])] = f[2]
		case "event":
			if len(f) != 4 {
				return nil, bad
			}
			id, err := strconv.Atoi(f[2])
			if err != nil {
				return nil, fmt.Errorf("logsource table line %d: %w", i+1, err)
			}
			t.events[eventKey{f[1], id}] = f[3]
		case "source":
			if len(f) != 5 {
				return nil, bad
			}
			t.sources[f[1]] = event.LogSource{Product: f[2], Category: f[3], Service: f[4]}
		default:
			return nil, fmt.Errorf("logsource table line %d: unknown kind %q", i+1, f[0])
		}
	}
	return t, nil
}

var defaultTable = mustParse(table)

func mustParse(s string) *Table {
	t, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return t
}

// Default returns the embedded table.
func Default() *Table { return defaultTable }

// Windows returns the logsource of a Windows event from its channel and id.
func (t *Table) Windows(channel string, id int) event.LogSource {
	ls := event.LogSource{Product: "windows"}
	svc, ok := t.channels[strings.ToLower(channel)]
	if !ok {
		return ls
	}
	ls.Service = svc
	ls.Category = t.events[eventKey{svc, id}]
	return ls
}

// Source returns the logsource of a source type ("cloudtrail", "zeek-dns").
func (t *Table) Source(kind string) event.LogSource { return t.sources[kind] }

// Windows is Default().Windows.
func Windows(channel string, id int) event.LogSource { return defaultTable.Windows(channel, id) }

// Source is Default().Source.
func Source(kind string) event.LogSource { return defaultTable.Source(kind) }

// Entity sets the ECS field to the first non-empty value among the named
// native fields, unless the event already has the ECS field.
func Entity(ev *event.Event, ecs string, from ...string) {
	if _, ok := ev.Get(ecs); ok {
		return
	}
	for _, name := range from {
		v, ok := ev.Get(name)
		if ok && usable(v) {
			ev.Add(ecs, v)
			return
		}
	}
}

// Hashes reads Sysmon's "SHA1=…,MD5=…,SHA256=…,IMPHASH=…" into
// file.hash.sha1 and so on.
func Hashes(ev *event.Event, s string) {
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" {
			continue
		}
		name := FileHashPrefix + strings.ToLower(k)
		if _, dup := ev.Get(name); !dup {
			ev.Add(name, event.String(v))
		}
	}
}
