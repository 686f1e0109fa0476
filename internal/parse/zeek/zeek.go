// Package zeek parses Zeek (formerly Bro) logs in both of Zeek's output
// formats: the default tab-separated files with their "#separator",
// "#fields" and "#types" headers (parser "zeek"), and JSON lines as the
// JSON writer or the json-streaming-logs package writes them (parser
// "zeekjson"). The same connection logged either way gives the same
// fields: typed values (times as time values, counts and ports as
// integers, intervals as floats, sets and vectors as arrays), the log type
// in "_path", Sigma logsource zeek/<path> and ECS entities (source.ip,
// destination.ip, dns.question.name, url.*, file.hash.*, user.name …).
//
// The TSV parser is parse.Stateful: fed line by line it keeps the header of
// its stream; ParseAll reads whole files, including several logs
// concatenated one after the other.
package zeek

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
)

// Version of the TSV parser, recorded on its events.
const Version = "1"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.zeek",
		Version:     Version,
		Description: "Zeek TSV logs (#fields/#types headers)",
		New:         func() parse.Parser { return New() },
	})
}

// kind is the Zeek type of a column, reduced to how its text is read.
type kind uint8

const (
	kindString kind = iota
	kindTime
	kindInt
	kindFloat
	kindBool
)

// column is one entry of the "#fields"/"#types" header.
type column struct {
	name      string
	kind      kind
	container bool // set[...] or vector[...]
}

// header is what the "#" lines of one log say.
type header struct {
	sep      byte
	setSep   string
	empty    string
	unset    string
	path     string
	ls       event.LogSource // logSource(path), worked out once per #path
	cols     []column
	types    []string
	hasTypes bool
	plan     *plan // made by the first record after the header changed
}

func defaultHeader() header {
	return header{sep: '\t', setSep: ",", empty: "(empty)", unset: "-", ls: logSource("")}
}

// Parser reads Zeek TSV lines; it keeps the header of its stream, so one
// Parser serves one stream (and one goroutine).
type Parser struct {
	h   header
	buf []byte
	// Per record scratch: each column's field index, and the elements of
	// its sets and vectors before they move to one allocation.
	at     []int32
	elems  []event.Value
	arrays []pendingArray
	noPlan bool // tests: always finish by field names
}

// pendingArray is a container column whose elements are elems[start:end].
type pendingArray struct {
	field      int
	start, end int
}

// New returns a parser with no header seen yet.
func New() *Parser { return &Parser{h: defaultHeader()} }

// Reset forgets the header (parse.Stateful).
func (p *Parser) Reset() { p.h = defaultHeader() }

// Parse reads one line: a header line updates the parser and returns
// parse.ErrNoEvent; a data line becomes an event.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	line := bytes.TrimRight(rec, "\r\n")
	if len(line) == 0 {
		return errors.New("empty record")
	}
	if line[0] == '#' {
		if err := p.headerLine(line); err != nil {
			return err
		}
		return parse.ErrNoEvent
	}
	if len(p.h.cols) == 0 {
		return errors.New("data line before a #fields header")
	}
	return p.data(line, ev)
}

// headerLine reads "#separator \x09", "#fields\t…" and the like.
func (p *Parser) headerLine(line []byte) error {
	if v, ok := bytes.CutPrefix(line, []byte("#separator ")); ok {
		sep, err := unescape(string(bytes.TrimSpace(v)))
		if err != nil || len(sep) != 1 {
			return fmt.Errorf("#separator %q: want one byte", v)
		}
		p.h = defaultHeader()
		p.h.sep = sep[0]
		return nil
	}
	key, val, _ := bytes.Cut(line[1:], []byte{p.h.sep})
	switch string(key) {
	case "set_separator":
		s, err := unescape(string(val))
		if err != nil {
			return fmt.Errorf("#set_separator: %w", err)
		}
		p.h.setSep = s
	case "empty_field":
		p.h.empty = string(val)
	case "unset_field":
		p.h.unset = string(val)
	case "path":
		p.h.path = string(val)
		p.h.ls = logSource(p.h.path)
		p.h.plan = nil
	case "fields":
		names := strings.Split(string(val), string(p.h.sep))
		p.h.cols = make([]column, len(names))
		for i, n := range names {
			p.h.cols[i] = column{name: n}
		}
		p.h.hasTypes = false
		p.h.plan = nil
		if p.h.types != nil {
			p.applyTypes()
		}
	case "types":
		p.h.types = strings.Split(string(val), string(p.h.sep))
		if len(p.h.cols) > 0 {
			p.applyTypes()
		}
	}
	// #open, #close and unknown comments carry nothing we need.
	return nil
}

func (p *Parser) applyTypes() {
	if len(p.h.types) != len(p.h.cols) {
		return
	}
	for i, t := range p.h.types {
		c := &p.h.cols[i]
		c.kind, c.container = typeKind(t)
	}
	p.h.hasTypes = true
}

// typeKind maps a Zeek type name ("count", "vector[interval]") to how its
// text is read.
func typeKind(t string) (kind, bool) {
	container := false
	if i := strings.IndexByte(t, '['); i > 0 && strings.HasSuffix(t, "]") && (t[:i] == "set" || t[:i] == "vector" || t[:i] == "table") {
		t, container = t[i+1:len(t)-1], true
	}
	switch t {
	case "time":
		return kindTime, container
	case "count", "int", "port":
		return kindInt, container
	case "interval", "double":
		return kindFloat, container
	case "bool":
		return kindBool, container
	}
	return kindString, container
}

// data reads one tab-separated record.
func (p *Parser) data(line []byte, ev *event.Event) error {
	h := &p.h
	if h.plan == nil {
		h.plan = makePlan(h)
	}
	planned := h.plan.fast && !p.noPlan && len(ev.Fields) == 0
	start := len(ev.Fields)
	if need := len(h.cols) + h.plan.extra; cap(ev.Fields)-start < need {
		ev.Fields = slices.Grow(ev.Fields, need)
	}
	if cap(p.at) < len(h.cols) {
		p.at = make([]int32, len(h.cols))
	}
	at := p.at[:len(h.cols)]
	p.elems, p.arrays = p.elems[:0], p.arrays[:0]
	if h.path != "" {
		ev.Add("_path", event.String(h.path))
	}
	// One string for the whole record: text values are slices of it, so a
	// record costs one allocation for its text, not one per column.
	rest := string(line)
	last := len(h.cols) - 1
	for i := range h.cols {
		var v string
		j := strings.IndexByte(rest, h.sep)
		switch {
		case i < last && j >= 0:
			v, rest = rest[:j], rest[j+1:]
		case i == last && j < 0:
			v = rest
		default:
			ev.Fields = ev.Fields[:start]
			return p.countError(line)
		}
		c := &h.cols[i]
		at[i] = -1
		if v == h.unset {
			continue
		}
		// The value is decoded in place: Fields has room for every
		// column (grown above).
		n := len(ev.Fields)
		ev.Fields = ev.Fields[:n+1]
		f := &ev.Fields[n]
		f.Name = c.name
		if err := p.value(&f.Value, c, v, n); err != nil {
			ev.Fields = ev.Fields[:n]
			if err := p.countError(line); err != nil {
				ev.Fields = ev.Fields[:start]
				return err
			}
			p.moveArrays(ev)
			return fmt.Errorf("field %s: %w", c.name, err)
		}
		at[i] = int32(n)
	}
	p.moveArrays(ev)
	if planned {
		finishPlanned(ev, h, at)
	} else {
		finish(ev, h.path, h.ls)
	}
	return nil
}

// countError is the error of a line whose number of values does not match
// the #fields header, nil when it matches.
func (p *Parser) countError(line []byte) error {
	if n := bytes.Count(line, []byte{p.h.sep}) + 1; n != len(p.h.cols) {
		return fmt.Errorf("%d values for %d #fields", n, len(p.h.cols))
	}
	return nil
}

// moveArrays gives the record's sets and vectors their elements, all in
// one allocation.
func (p *Parser) moveArrays(ev *event.Event) {
	if len(p.arrays) == 0 {
		return
	}
	all := make([]event.Value, len(p.elems))
	copy(all, p.elems)
	for _, a := range p.arrays {
		ev.Fields[a.field].Value = event.Array(all[a.start:a.end:a.end])
	}
}

// value reads column c's text v into dst; a set or vector with elements
// gets its value when the record is complete (moveArrays), as field
// number field.
func (p *Parser) value(dst *event.Value, c *column, v string, field int) error {
	if !c.container {
		if v == p.h.empty {
			v = ""
		}
		return p.scalar(dst, c.kind, v)
	}
	if v == p.h.empty {
		// Zeek writes both an empty container and one holding a single
		// empty string as the empty marker; the empty container is the
		// more common reading.
		*dst = event.Array([]event.Value{})
		return nil
	}
	sep := p.h.setSep
	if sep == "" {
		// A header may declare an empty set separator: then a set is
		// one element (and Cut below could not advance).
		sep = "\x00"
	}
	start := len(p.elems)
	for rest, more := v, true; more; {
		var s string
		s, rest, more = strings.Cut(rest, sep)
		p.elems = append(p.elems, event.Value{})
		if err := p.scalar(&p.elems[len(p.elems)-1], c.kind, s); err != nil {
			p.elems = p.elems[:start]
			return err
		}
	}
	p.arrays = append(p.arrays, pendingArray{field: field, start: start, end: len(p.elems)})
	*dst = event.Value{}
	return nil
}

func (p *Parser) scalar(dst *event.Value, k kind, v string) error {
	switch k {
	case kindString:
		if plainText(v) {
			*dst = event.String(v)
			return nil
		}
		s, err := unescape(v)
		if err != nil {
			return err
		}
		p.buf = Escape(p.buf[:0], s)
		*dst = event.String(string(p.buf))
		return nil
	case kindTime:
		if t, ok := epochPlain(v); ok {
			*dst = event.Time(t)
			return nil
		}
		t, err := Epoch([]byte(v))
		if err != nil {
			return err
		}
		*dst = event.Time(t)
		return nil
	case kindInt:
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			u, uerr := strconv.ParseUint(v, 10, 64)
			if uerr != nil {
				return fmt.Errorf("not an integer: %q", v)
			}
			*dst = event.Float(float64(u))
			return nil
		}
		*dst = event.Int(i)
		return nil
	case kindFloat:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("not a number: %q", v)
		}
		*dst = event.Float(f)
		return nil
	case kindBool:
		switch v {
		case "T":
			*dst = event.Bool(true)
			return nil
		case "F":
			*dst = event.Bool(false)
			return nil
		}
		return fmt.Errorf("not a bool: %q", v)
	}
	return fmt.Errorf("unknown kind %d", k)
}

// Epoch reads Zeek's "1521911720.865716" exactly (no float rounding);
// times before 1970 ("-1427.112616") and the exponent form Zeek uses for
// some large values ("2.385616957e+09") are read too.
func Epoch(v []byte) (time.Time, error) {
	if bytes.ContainsAny(v, "eE") {
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
			return time.Time{}, fmt.Errorf("not a time: %q", v)
		}
		sec := math.Floor(f)
		return time.Unix(int64(sec), int64(math.Round((f-sec)*1e6))*1000).UTC(), nil
	}
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	sec, frac, _ := bytes.Cut(v, []byte{'.'})
	s, err := strconv.ParseInt(string(sec), 10, 64)
	if err != nil || len(frac) > 9 || len(sec) == 0 || sec[0] == '+' || s > 1e12 {
		return time.Time{}, fmt.Errorf("not a time: %q", v)
	}
	ns := int64(0)
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return time.Time{}, fmt.Errorf("not a time: %q", v)
			}
			ns += int64(c - '0')
		}
	}
	if neg {
		s, ns = -s, -ns
	}
	return time.Unix(s, ns).UTC(), nil
}

// plainText says whether a value needs neither unescaping nor escaping:
// no backslash, no control characters, valid UTF-8.
func plainText(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 0x80:
			// The ASCII before i passed; check the rest the long way.
			rest := v[i:]
			return strings.IndexByte(rest, '\\') < 0 && utf8.ValidString(rest) && printable(rest)
		case c < 0x20 || c == 0x7f || c == '\\':
			return false
		}
	}
	return true
}

func printable(b string) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// unescape decodes Zeek's TSV escapes: "\xHH" for any byte and "\\" for a
// backslash.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '\\':
			b.WriteByte('\\')
			i++
		case 'x':
			if i+3 < len(s) {
				if x, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
					b.WriteByte(byte(x))
					i += 3
					continue
				}
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// Escape appends s the way Zeek's JSON writer renders strings: valid UTF-8
// and the control characters JSON escapes by name kept, every other byte
// written as the text "\xHH". TSV values pass through it so that they
// equal their JSON twins.
func Escape(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || n > 1 {
				dst = append(dst, s[i:i+n]...)
				i += n
				continue
			}
		} else if c >= 0x20 && c != 0x7f || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f' {
			dst = append(dst, c)
			i++
			continue
		}
		dst = append(dst, '\\', 'x', hex[c>>4], hex[c&15])
		i++
	}
	return dst
}

// ParseAll reads a whole TSV file (or several concatenated), header lines
// included; a bad line becomes an event carrying the error.
func (p *Parser) ParseAll(data []byte, base event.Event, emit func(*event.Event) error) error {
	p.Reset()
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
		if len(line) == 0 {
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
			ev.AddError(fmt.Sprintf("zeek: line at byte %d: %v", lineOff, err))
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

// Finish sets time, message, logsource and entities of a Zeek record whose
// fields are in place; both parsers end with it.
func Finish(ev *event.Event, path string) { finish(ev, path, logSource(path)) }

// logSource is the Sigma logsource of a Zeek log type.
func logSource(path string) event.LogSource {
	ls := normalize.Source("zeek-" + path)
	if ls.Product == "" {
		ls = event.LogSource{Product: "zeek", Service: path}
	}
	return ls
}

func finish(ev *event.Event, path string, ls event.LogSource) {
	if v, ok := ev.Get("ts"); ok && v.Kind() == event.KindTime {
		ev.Time = v.Time()
	}
	ev.LogSource = ls
	for _, r := range commonEntities {
		normalize.Entity(ev, r.ecs, r.from...)
	}
	for _, r := range pathEntities(path) {
		normalize.Entity(ev, r.ecs, r.from...)
	}
	switch path {
	case "http":
		if h, u := ev.GetString("host"), ev.GetString("uri"); h != "" && u != "" {
			ev.Add(normalize.URLFull, event.String("http://"+h+u))
		}
	case "ssh", "ftp":
		if v, ok := ev.Get("auth_success"); ok && v.Kind() == event.KindBool {
			ev.Add(normalize.EventOutcome, event.String(outcome(v.Bool())))
		}
	}
	ev.Message = message(ev, path)
}

func outcome(success bool) string {
	if success {
		return "success"
	}
	return "failure"
}

// message is a short human line: the log type and its most telling field.
func message(ev *event.Event, path string) string {
	if key := messageKey(path); key != "" {
		if v := ev.GetString(key); v != "" {
			return path + " " + v
		}
	}
	return pathMessage(path)
}

// messageKey is the field whose value follows the log type in the message.
func messageKey(path string) string {
	switch path {
	case "dns":
		return "query"
	case "http":
		return "uri"
	case "ssl":
		return "server_name"
	case "weird":
		return "name"
	case "notice":
		return "msg"
	case "syslog":
		return "message"
	case "analyzer":
		return "failure_reason"
	case "software":
		return "unparsed_version"
	}
	return ""
}

// pathMessage is the message of a record without a telling field.
func pathMessage(path string) string {
	if path == "" {
		return "zeek"
	}
	return path
}

var (
	_ parse.Parser      = (*Parser)(nil)
	_ parse.MultiParser = (*Parser)(nil)
	_ parse.Stateful    = (*Parser)(nil)
)

// epochPlain reads the common form of a Zeek time, "1521911720.865716"
// (seconds, a dot, at most nine digits), without allocating; anything
// else is left to Epoch.
func epochPlain(v string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(v, ".")
	if len(sec) == 0 || len(sec) > 12 || len(frac) > 9 {
		return time.Time{}, false
	}
	var s, ns int64
	for i := 0; i < len(sec); i++ {
		c := sec[i]
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		s = s*10 + int64(c-'0')
	}
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			ns += int64(c - '0')
		}
	}
	return time.Unix(s, ns).UTC(), true
}
