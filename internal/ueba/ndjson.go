package ueba

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/wacht-soc/wacht/event"
)

// maxLine bounds one NDJSON event (4 MiB).
const maxLine = 4 << 20

// DecodeEvent reads one flat JSON event as `wacht sim`, `wacht hunt
// --json` and the event store write it: _time, _msg and the reserved
// fields (tenant, logsource.*, event.format …) into the event, the rest
// into its fields. An error says what is wrong with the line.
func DecodeEvent(p *fastjson.Parser, line []byte) (*event.Event, error) {
	e := &event.Event{}
	if _, err := e.ParseJSONObject(p, line); err != nil {
		return nil, err
	}
	keep := e.Fields[:0]
	for _, f := range e.Fields {
		v := f.Value.Str()
		switch f.Name {
		case "_time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, fmt.Errorf("_time %q is not an RFC 3339 time", v)
			}
			e.Time = t
		case "_msg":
			e.Message = v
		case event.FieldID:
			e.ID = v
		case event.FieldTenant:
			e.Tenant = v
		case event.FieldIngestTime:
			e.IngestTime, _ = time.Parse(time.RFC3339Nano, v)
		case event.FieldProduct:
			e.LogSource.Product = v
		case event.FieldCategory:
			e.LogSource.Category = v
		case event.FieldService:
			e.LogSource.Service = v
		case event.FieldFormat:
			e.Format = v
		case event.FieldListener:
			e.Source.Listener = v
		case event.FieldPeer:
			e.Source.Peer = v
		default:
			keep = append(keep, f)
		}
	}
	e.Fields = keep
	if e.Time.IsZero() {
		return nil, fmt.Errorf("no _time")
	}
	return e, nil
}

// ReadEvents calls fn for each event of an NDJSON stream (blank lines
// skipped); an error names the line.
func ReadEvents(r io.Reader, defaultTenant string, fn func(*event.Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var p fastjson.Parser
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		e, err := DecodeEvent(&p, line)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if e.Tenant == "" {
			e.Tenant = defaultTenant
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	return nil
}
