// Package w3c parses W3C extended log files as IIS, and many proxies and
// CDNs, write them: "#Fields:" names the space-separated columns of the
// lines that follow. Field names are the ones Sigma's webserver category
// uses ("cs-method", "cs-uri-query", "c-ip"; IIS's "cs(User-Agent)" becomes
// "cs-user-agent"), "-" means absent, and date plus time (UTC by the
// standard) give the event time. ECS entities: source.ip, user.name,
// url.path, url.query, http.request.method, http.response.status_code,
// user_agent.original, destination.ip/port.
//
// The parser is parse.Stateful: fed line by line it keeps the "#Fields:"
// of its stream. Before any header it assumes IIS's default field set.
package w3c

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
	"github.com/wacht-soc/wacht/internal/parse/timestamp"
)

// Version of the parser, recorded on its events.
const Version = "1"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.w3c",
		Version:     Version,
		Description: "W3C extended log files (IIS, #Fields: header)",
		New:         func() parse.Parser { return New() },
	})
}

// IISDefault is the field list IIS writes when nobody changed it; it is
// used for lines that arrive before any "#Fields:" header.
const IISDefault = "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"

// Parser reads W3C lines and keeps the header of its stream; one Parser
// serves one stream (and one goroutine).
type Parser struct {
	fields []string
	// slots maps each field to its ECS output (ecsOut index), or -1:
	// worked out once per #Fields header, not per record.
	slots []int
}

// ecsOut are the ECS fields of a W3C record, in the order Entities adds
// them; port and status become numbers.
var ecsOut = [...]struct{ ecs, from string }{
	{normalize.SourceIP, "c-ip"},
	{normalize.UserName, "cs-username"},
	{normalize.DestIP, "s-ip"},
	{normalize.DestPort, "s-port"},
	{normalize.HostName, "s-computername"},
	{"url.domain", "cs-host"},
	{"url.path", "cs-uri-stem"},
	{"url.query", "cs-uri-query"},
	{"http.request.method", "cs-method"},
	{"http.request.referrer", "cs-referer"},
	{"user_agent.original", "cs-user-agent"},
	{"http.response.status_code", "sc-status"},
}

// setFields installs a header's field list and its ECS slots.
func (p *Parser) setFields(f []string) {
	p.fields = f
	p.slots = make([]int, len(f))
	for i, name := range f {
		p.slots[i] = -1
		for k, o := range ecsOut {
			if o.from == name {
				p.slots[i] = k
				break
			}
		}
	}
}

// New returns a parser that assumes the IIS default fields until a header
// says otherwise.
func New() *Parser {
	p := &Parser{}
	p.Reset()
	return p
}

// Reset returns to the IIS default fields (parse.Stateful).
func (p *Parser) Reset() { p.setFields(FieldNames(IISDefault)) }

// FieldNames turns a "#Fields:" list into the field names used on events.
func FieldNames(list string) []string {
	names := strings.Fields(list)
	for i, n := range names {
		names[i] = Name(n)
	}
	return names
}

// Name maps a W3C field identifier to its name on events: prefixed header
// fields "cs(User-Agent)" become "cs-user-agent", the rest stays.
func Name(n string) string {
	if i := strings.IndexByte(n, '('); i > 0 && strings.HasSuffix(n, ")") {
		return n[:i] + "-" + strings.ToLower(n[i+1:len(n)-1])
	}
	return n
}

// Parse reads one line. Directive lines ("#Fields:", "#Software:" …)
// return parse.ErrNoEvent; "#Fields:" replaces the field list.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	line := bytes.TrimRight(rec, "\r\n")
	line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(line)) == 0 {
		return errors.New("empty record")
	}
	if line[0] == '#' {
		if v, ok := bytes.CutPrefix(line, []byte("#Fields:")); ok {
			f := FieldNames(string(v))
			if len(f) == 0 {
				return errors.New("#Fields: directive without fields")
			}
			p.setFields(f)
		}
		return parse.ErrNoEvent
	}
	if !utf8.Valid(line) {
		line = bytes.ToValidUTF8(line, []byte("\uFFFD"))
	}
	// Split on the stack (W3C lines rarely have more than 64 fields); the
	// values are slices of one string.
	var vbuf [64]string
	vals := vbuf[:0]
	rest := string(line)
	for i := 0; i < len(rest); {
		for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t') {
			i++
		}
		start := i
		for i < len(rest) && rest[i] != ' ' && rest[i] != '\t' {
			i++
		}
		if i > start {
			vals = append(vals, rest[start:i])
		}
	}
	if len(vals) != len(p.fields) {
		return fmt.Errorf("%d values for %d fields", len(vals), len(p.fields))
	}
	var date, clock, method, stem, status string
	var ecs [len(ecsOut)]string // first value of each ECS source ("" when absent)
	for i, name := range p.fields {
		v := vals[i]
		switch name {
		case "date":
			date = v
		case "time":
			clock = v
		}
		if v == "-" {
			continue
		}
		switch name {
		case "cs-user-agent":
			// IIS writes spaces in the user agent as '+'.
			v = strings.ReplaceAll(v, "+", " ")
		case "cs-method":
			method = v
		case "cs-uri-stem":
			stem = v
		case "sc-status":
			status = v
		}
		ev.Add(name, event.String(v))
		if k := p.slots[i]; k >= 0 && ecs[k] == "" {
			ecs[k] = v
		}
	}
	if date != "" && clock != "" {
		var tbuf [48]byte
		ts := append(append(append(tbuf[:0], date...), 'T'), clock...)
		t, n, _, err := timestamp.ISO(ts, time.UTC)
		if err != nil || n != len(ts) {
			return fmt.Errorf("date %q time %q: not a W3C date and time", date, clock)
		}
		ev.Time = t.UTC()
	}
	for k, v := range ecs {
		switch {
		case v == "":
		case ecsOut[k].from == "s-port" || ecsOut[k].from == "sc-status":
			if n, err := strconv.Atoi(v); err == nil {
				ev.Add(ecsOut[k].ecs, event.Int(int64(n)))
			}
		default:
			ev.Add(ecsOut[k].ecs, event.String(v))
		}
	}
	ev.LogSource = normalize.Source("webserver")
	ev.Message = strings.TrimSpace(method + " " + stem + " " + status)
	return nil
}

// Entities adds the ECS fields of a webserver record named the W3C way;
// the access log parser shares it.
func Entities(ev *event.Event) {
	clientRules.Apply(ev)
	if v, ok := ev.Get("s-port"); ok {
		if n, err := strconv.Atoi(v.String()); err == nil {
			ev.Add(normalize.DestPort, event.Int(int64(n)))
		}
	}
	requestRules.Apply(ev)
	if v, ok := ev.Get("sc-status"); ok {
		if n, err := strconv.Atoi(v.String()); err == nil {
			ev.Add("http.response.status_code", event.Int(int64(n)))
		}
	}
}

// ParseAll reads a whole log file, directives included.
func (p *Parser) ParseAll(data []byte, base event.Event, emit func(*event.Event) error) error {
	p.Reset()
	return Lines(p, "w3c", data, base, emit)
}

// Lines runs a line parser over data, dropping lines that return
// parse.ErrNoEvent and keeping failed lines as events with the error.
func Lines(p parse.Parser, name string, data []byte, base event.Event, emit func(*event.Event) error) error {
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off
		}
		line := bytes.TrimRight(data[off:end], "\r")
		lineOff := off
		off = end + 1
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ev := base
		ev.Fields = nil
		ev.Raw = line
		err := p.Parse(line, &ev)
		if errors.Is(err, parse.ErrNoEvent) {
			continue
		}
		if err != nil {
			ev.AddError(fmt.Sprintf("%s: line at byte %d: %v", name, lineOff, err))
			if ev.Message == "" {
				ev.Message = string(line)
			}
		}
		if err := emit(&ev); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ parse.Parser      = (*Parser)(nil)
	_ parse.MultiParser = (*Parser)(nil)
	_ parse.Stateful    = (*Parser)(nil)
)

// clientRules and requestRules map W3C names to ECS (in two sets, so that
// destination.port keeps its place between them); read-only.
var (
	clientRules = normalize.NewRules(
		normalize.Rule{ECS: normalize.SourceIP, From: []string{"c-ip"}},
		normalize.Rule{ECS: normalize.UserName, From: []string{"cs-username"}},
		normalize.Rule{ECS: normalize.DestIP, From: []string{"s-ip"}},
	)
	requestRules = normalize.NewRules(
		normalize.Rule{ECS: normalize.HostName, From: []string{"s-computername"}},
		normalize.Rule{ECS: "url.domain", From: []string{"cs-host"}},
		normalize.Rule{ECS: "url.path", From: []string{"cs-uri-stem"}},
		normalize.Rule{ECS: "url.query", From: []string{"cs-uri-query"}},
		normalize.Rule{ECS: "http.request.method", From: []string{"cs-method"}},
		normalize.Rule{ECS: "http.request.referrer", From: []string{"cs-referer"}},
		normalize.Rule{ECS: "user_agent.original", From: []string{"cs-user-agent"}},
	)
)
