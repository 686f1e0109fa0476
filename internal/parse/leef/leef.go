// Package leef parses IBM QRadar's Log Event Extended Format, versions 1.0
// and 2.0:
//
//	[syslog header ]LEEF:1.0|Vendor|Product|Version|EventID|k=v<TAB>k=v…
//	[syslog header ]LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|k=v<d>k=v…
//
// The 2.0 delimiter may be a character or its hex code ("x09", "0x5E").
// devTime is read with devTimeFormat when given, else in common formats.
package leef

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
	"github.com/wacht-soc/wacht/internal/parse/kv"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
	"github.com/wacht-soc/wacht/internal/parse/syslog"
	"github.com/wacht-soc/wacht/internal/parse/timestamp"
)

// Version of the parser, recorded on its events.
const Version = "1"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.leef",
		Version:     Version,
		Description: "IBM LEEF 1.0 and 2.0",
		New:         func() parse.Parser { return &Parser{} },
	})
}

// Parser parses LEEF records; it holds no state.
type Parser struct{}

// Parse reads one record into ev.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	start := bytes.Index(rec, []byte("LEEF:"))
	if start < 0 {
		return errors.New("no LEEF: marker")
	}
	b := bytes.TrimRight(rec[start:], "\r\n")
	if !utf8.Valid(b) {
		return fmt.Errorf("record at byte %d: invalid UTF-8", start)
	}
	if start > 0 {
		syslog.Header(rec[:start], ev) // time and host; devTime wins
	}
	s := string(b)
	parts := strings.SplitN(s[5:], "|", 7)
	if len(parts) < 5 {
		return fmt.Errorf("header at byte %d: want version|vendor|product|version|eventid|, found %d fields", start, len(parts))
	}
	ver := parts[0]
	if ver != "1.0" && ver != "2.0" && ver != "1" && ver != "2" {
		return fmt.Errorf("header at byte %d: unknown LEEF version %q", start+5, ver)
	}
	ev.Add("leef.version", event.String(ver))
	ev.Add("leef.vendor", event.String(parts[1]))
	ev.Add("leef.product", event.String(parts[2]))
	ev.Add("leef.product_version", event.String(parts[3]))
	ev.Add("leef.event_id", event.String(parts[4]))
	ev.Message = parts[4]
	sep := byte('\t')
	var ext string
	switch {
	case strings.HasPrefix(ver, "2") && len(parts) == 7:
		d, err := delimiter(parts[5])
		if err != nil {
			return fmt.Errorf("header at byte %d: %w", start, err)
		}
		sep, ext = d, parts[6]
	case strings.HasPrefix(ver, "2") && len(parts) == 6:
		ext = parts[5]
	default:
		ext = strings.Join(parts[5:], "|")
	}
	err := kv.Pairs(ext, sep, func(k, v string) { ev.Add(k, event.String(v)) })
	if err != nil {
		return fmt.Errorf("attributes: %w", err)
	}
	if dt := ev.GetString("devTime"); dt != "" {
		if t, ok := devTime(dt, ev.GetString("devTimeFormat"), ev.IngestTime); ok {
			ev.Time = t
		}
	}
	entities.Apply(ev)
	return nil
}

// entities are the common appliance keys and LEEF's own; read-only.
var entities = kv.EntityRules(
	normalize.Rule{ECS: normalize.UserName, From: []string{"usrName", "accountName"}},
	normalize.Rule{ECS: normalize.HostName, From: []string{"identHostName", "srcHostName"}},
)

func delimiter(d string) (byte, error) {
	switch {
	case len(d) == 1:
		return d[0], nil
	case d == "":
		return '\t', nil
	}
	h := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(d), "0x"), "x")
	n, err := strconv.ParseUint(h, 16, 8)
	if err != nil {
		return 0, fmt.Errorf("bad delimiter %q", d)
	}
	return byte(n), nil
}

// devTime reads devTime with the Java-style devTimeFormat when it is one of
// the common ones, else in any format package timestamp knows.
func devTime(v, format string, ref time.Time) (time.Time, bool) {
	layouts := map[string]string{
		"MMM dd yyyy HH:mm:ss":       "Jan 02 2006 15:04:05",
		"MMM dd yyyy HH:mm:ss.SSS":   "Jan 02 2006 15:04:05.000",
		"MMM dd yyyy HH:mm:ss z":     "Jan 02 2006 15:04:05 MST",
		"yyyy-MM-dd'T'HH:mm:ss.SSSZ": "2006-01-02T15:04:05.000-0700",
		"yyyy-MM-dd HH:mm:ss":        "2006-01-02 15:04:05",
	}
	if l, ok := layouts[format]; ok {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), true
		}
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return timestamp.Epoch(float64(n)), true
	}
	if t, err := timestamp.Parse(v, ref, time.UTC); err == nil {
		return t, true
	}
	if t, err := time.Parse("Jan 02 2006 15:04:05", v); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

var _ parse.Parser = (*Parser)(nil)
