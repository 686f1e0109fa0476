// Package accesslog parses the access logs of Apache httpd and nginx in the
// Common Log Format and the Combined Log Format (which adds referer and
// user agent), as both servers write them by default:
//
//	10.0.0.5 - alice [11/Jul/2018:08:41:28 +0300] "GET /a?b=c HTTP/1.1" 200 11444 "-" "curl/8.0"
//
// Fields are named as Sigma's webserver category names them (c-ip,
// cs-username, cs-method, cs-uri-stem, cs-uri-query, cs-version,
// sc-status, sc-bytes, cs-referer, cs-user-agent) so that webserver rules
// match access logs and IIS logs alike; ECS entities are added as for W3C.
// Quoted strings that follow the combined fields (nginx's
// $http_x_forwarded_for, for one) are kept in "extra".
package accesslog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
	"github.com/wacht-soc/wacht/internal/parse/timestamp"
	"github.com/wacht-soc/wacht/internal/parse/w3c"
)

// Version of the parser, recorded on its events.
const Version = "1"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.accesslog",
		Version:     Version,
		Description: "Apache and nginx access logs (common and combined)",
		New:         func() parse.Parser { return &Parser{} },
	})
}

// Parser parses access log lines; it holds no state.
type Parser struct{}

// scanner walks one line.
type scanner struct {
	s   string
	pos int
}

func (sc *scanner) space() {
	for sc.pos < len(sc.s) && sc.s[sc.pos] == ' ' {
		sc.pos++
	}
}

// word reads up to the next space.
func (sc *scanner) word() (string, bool) {
	sc.space()
	start := sc.pos
	for sc.pos < len(sc.s) && sc.s[sc.pos] != ' ' {
		sc.pos++
	}
	return sc.s[start:sc.pos], sc.pos > start
}

// bracket reads "[…]".
func (sc *scanner) bracket() (string, bool) {
	sc.space()
	if sc.pos >= len(sc.s) || sc.s[sc.pos] != '[' {
		return "", false
	}
	end := strings.IndexByte(sc.s[sc.pos:], ']')
	if end < 0 {
		return "", false
	}
	v := sc.s[sc.pos+1 : sc.pos+end]
	sc.pos += end + 1
	return v, true
}

// quoted reads a double-quoted string with backslash escapes (Apache
// writes \" and \\ and \xHH for unprintable bytes; the escapes are kept
// except for the quote and the backslash).
func (sc *scanner) quoted() (string, bool) {
	sc.space()
	if sc.pos >= len(sc.s) || sc.s[sc.pos] != '"' {
		return "", false
	}
	i := sc.pos + 1
	for i < len(sc.s) && sc.s[i] != '"' {
		if sc.s[i] == '\\' {
			i++
		}
		i++
	}
	if i >= len(sc.s) {
		return "", false
	}
	raw := sc.s[sc.pos+1 : i]
	sc.pos = i + 1
	return unescape(raw), true
}

// request reads the quoted request line. Some servers (Tomcat among them)
// do not escape quotes inside it, so a quote ends the request only where a
// status code follows it.
func (sc *scanner) request() (string, bool) {
	sc.space()
	if sc.pos >= len(sc.s) || sc.s[sc.pos] != '"' {
		return "", false
	}
	open := sc.pos
	for i := open + 1; i < len(sc.s); i++ {
		switch sc.s[i] {
		case '\\':
			i++
		case '"':
			if statusFollows(sc.s[i+1:]) {
				sc.pos = i + 1
				return unescape(sc.s[open+1 : i]), true
			}
		}
	}
	return "", false
}

// statusFollows reports whether s starts with " NNN" and a space or the end.
func statusFollows(s string) bool {
	if len(s) < 4 || s[0] != ' ' {
		return false
	}
	for _, c := range []byte(s[1:4]) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(s) == 4 || s[4] == ' '
}

// unescape removes the backslash before \" and \\; other escapes (\xHH)
// stay as written.
func unescape(raw string) string {
	if strings.IndexByte(raw, '\\') < 0 {
		return raw
	}
	var b strings.Builder
	for j := 0; j < len(raw); j++ {
		if raw[j] == '\\' && j+1 < len(raw) && (raw[j+1] == '"' || raw[j+1] == '\\') {
			j++
		}
		b.WriteByte(raw[j])
	}
	return b.String()
}

// Parse reads one access log line into ev.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	line := bytes.TrimRight(rec, "\r\n")
	if len(line) == 0 {
		return errors.New("empty record")
	}
	s := string(line)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	sc := &scanner{s: s}
	host, ok := sc.word()
	if !ok {
		return errors.New("no client address")
	}
	ident, ok1 := sc.word()
	user, ok2 := sc.word()
	if !ok1 || !ok2 {
		return errors.New("want client, ident and user before the time")
	}
	ts, ok := sc.bracket()
	if !ok {
		return fmt.Errorf("byte %d: want [time]", sc.pos)
	}
	t, err := timestamp.Apache([]byte(ts))
	if err != nil {
		return fmt.Errorf("time %q: %w", ts, err)
	}
	req, ok := sc.request()
	if !ok {
		return fmt.Errorf("byte %d: want the quoted request line", sc.pos)
	}
	status, ok := sc.word()
	if !ok || len(status) != 3 || status[0] < '1' || status[0] > '5' {
		return fmt.Errorf("byte %d: want a status code, got %q", sc.pos, status)
	}
	size, ok := sc.word()
	if !ok {
		return fmt.Errorf("byte %d: want the response size", sc.pos)
	}
	ev.Time = t
	ev.Add("c-ip", event.String(host))
	if ident != "-" {
		ev.Add("ident", event.String(ident))
	}
	if user != "-" {
		ev.Add("cs-username", event.String(user))
	}
	request(ev, req)
	ev.Add("sc-status", event.String(status))
	if n, err := strconv.ParseInt(size, 10, 64); err == nil {
		ev.Add("sc-bytes", event.Int(n))
	}
	if ref, ok := sc.quoted(); ok {
		if ref != "-" {
			ev.Add("cs-referer", event.String(ref))
		}
		if ua, ok := sc.quoted(); ok && ua != "-" {
			ev.Add("cs-user-agent", event.String(ua))
		}
	}
	if rest := strings.TrimSpace(sc.s[sc.pos:]); rest != "" {
		ev.Add("extra", event.String(rest))
	}
	w3c.Entities(ev)
	ev.LogSource = normalize.Source("webserver")
	ev.Message = req + " " + status
	return nil
}

// request splits "GET /a/b?c=d HTTP/1.1" into method, stem, query and
// version; a request line that is not one (a probe sending garbage) is
// kept whole in cs-uri.
func request(ev *event.Event, req string) {
	method, rest, ok1 := strings.Cut(req, " ")
	target, version, ok2 := strings.Cut(rest, " ")
	if !ok1 || method == "" || target == "" {
		if req != "-" && req != "" {
			ev.Add("cs-uri", event.String(req))
		}
		return
	}
	if !ok2 {
		target = rest
	}
	ev.Add("cs-method", event.String(method))
	ev.Add("cs-uri", event.String(target))
	stem, query, hasQuery := strings.Cut(target, "?")
	ev.Add("cs-uri-stem", event.String(stem))
	if hasQuery {
		ev.Add("cs-uri-query", event.String(query))
	}
	if version != "" {
		ev.Add("cs-version", event.String(version))
	}
}

var _ parse.Parser = (*Parser)(nil)
