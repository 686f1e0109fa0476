package evtx

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
)

// Version is recorded on every event this parser makes.
const Version = "1"

// ErrNeedsFile is returned by Parser.Parse: an EVTX record refers to names
// and templates elsewhere in its chunk, so records are read from whole files
// with ParseAll.
var ErrNeedsFile = errors.New("evtx: a record cannot be parsed alone, EVTX needs the whole file (ParseAll)")

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.evtx",
		Version:     Version,
		Description: "Windows XML Event Log files (.evtx)",
		New:         func() parse.Parser { return &Parser{} },
	})
}

// Parser is the registered EVTX parser. It is stateless.
type Parser struct{}

// Parse fails with ErrNeedsFile; see ParseAll.
func (*Parser) Parse(rec []byte, ev *event.Event) error { return ErrNeedsFile }

// ParseAll reads a whole EVTX file and emits one event per record. A record
// whose XML is damaged is emitted with the error recorded on the event.
// Chunk-level damage (bad checksums, broken chunks) does not stop the file;
// it is returned, joined, after all readable records were emitted.
func (*Parser) ParseAll(data []byte, base event.Event, emit func(*event.Event) error) error {
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	format := "evtx/" + Version
	return f.Records(func(rec Record) error {
		ev := base
		ev.Fields = nil
		ev.Errors = nil
		ev.Format = format
		rec.Fill(&ev)
		if ev.Time.IsZero() {
			ev.Time = ev.IngestTime
		}
		ev.ComputeID()
		return emit(&ev)
	})
}

// Event converts the record into a new event built on base (tenant, source,
// ingest time).
func (r Record) Event(base event.Event) *event.Event {
	ev := base
	ev.Fields = nil
	ev.Errors = nil
	r.Fill(&ev)
	return &ev
}

// Fill sets the event's time, message, log source, fields and raw text from
// the record. System values become top-level fields named as Sigma rules
// name them (EventID, Channel, Provider_Name, …); EventData and UserData
// values become fields named after their Data Name attribute or element,
// with spaces removed. Raw is the rendered XML: the binary record alone is
// not self-contained (it refers to templates and names in its chunk).
func (r Record) Fill(ev *event.Event) {
	ev.Time = r.Time
	if r.Err != nil {
		ev.AddError("evtx: " + r.Err.Error())
	}
	ev.Raw = []byte(r.XML())
	if r.Root == nil {
		ev.Message = fmt.Sprintf("damaged EVTX record %d", r.RecordID)
		ev.LogSource = event.LogSource{Product: "windows"}
		return
	}
	fb := fieldBuilder{ev: ev}
	fb.system(r.Root.Child("System"))
	for _, c := range r.Root.Children {
		if c.Kind != ElementNode {
			continue
		}
		switch c.Name {
		case "System":
		case "EventData", "UserData":
			fb.data(c)
		default: // RenderingInfo, ProcessingErrorData, …
			fb.section = c.Name
			fb.leaves(c, c.Name+".")
		}
	}
	if len(fb.unnamed) > 0 {
		fb.add("Data", event.Array(fb.unnamed))
	}
	eventID := ev.GetString("EventID")
	channel := ev.GetString("Channel")
	ev.LogSource = logSource(channel, ev.GetString("Provider_Name"), eventID, ev.GetString("EventType"))
	computer := ev.GetString("Computer")
	if computer != "" {
		ev.Message = "EventID " + eventID + " on " + computer
	} else {
		ev.Message = "EventID " + eventID
	}
}

type fieldBuilder struct {
	ev      *event.Event
	section string // EventData or UserData, the prefix of colliding names
	unnamed []event.Value
}

// add sets a field unless a System field of that name exists already; data
// fields that collide (UserData/Channel in a 104 event) keep a prefix.
func (fb *fieldBuilder) add(name string, v event.Value) {
	if _, dup := fb.ev.Get(name); dup {
		name = fb.section + "." + name
		if _, dup := fb.ev.Get(name); dup {
			return
		}
	}
	fb.ev.Add(name, v)
}

// nodeValue is the typed value of an element's or attribute's content: the
// substituted value when there is exactly one, else the text.
func nodeValue(n *Node) event.Value {
	if len(n.Children) == 1 && n.Children[0].Kind == TextNode && !n.Children[0].Value.IsNull() {
		return n.Children[0].Value
	}
	return event.String(n.InnerText())
}

// systemNames maps System attributes to field names; unlisted ones become
// Element_Attribute.
func systemAttrName(elem, attr string) string {
	switch elem + "/" + attr {
	case "Execution/ProcessID":
		return "ProcessID"
	case "Execution/ThreadID":
		return "ThreadID"
	case "Security/UserID":
		return "SecurityUserID"
	case "Correlation/ActivityID":
		return "ActivityID"
	case "Correlation/RelatedActivityID":
		return "RelatedActivityID"
	case "EventID/Qualifiers":
		return "Qualifiers"
	}
	return elem + "_" + attr
}

func (fb *fieldBuilder) system(sys *Node) {
	if sys == nil {
		return
	}
	for _, c := range sys.Children {
		if c.Kind != ElementNode {
			continue
		}
		for _, a := range c.Attrs {
			if c.Name == "TimeCreated" && a.Name == "SystemTime" {
				continue // the event time
			}
			v := a.Typed
			if v.IsNull() {
				v = event.String(a.Value)
			}
			fb.ev.Add(systemAttrName(c.Name, a.Name), v)
		}
		if len(c.Children) == 0 {
			continue
		}
		v := nodeValue(c)
		if c.Name == "EventID" && v.Kind() != event.KindInt {
			if i, err := strconv.ParseInt(strings.TrimSpace(v.String()), 10, 64); err == nil {
				v = event.Int(i)
			}
		}
		fb.ev.Add(c.Name, v)
	}
}

// data turns EventData or UserData into fields.
func (fb *fieldBuilder) data(d *Node) {
	fb.section = d.Name
	for _, c := range d.Children {
		if c.Kind != ElementNode {
			continue
		}
		switch {
		case c.Name == "Data":
			if a, ok := c.Attr("Name"); ok && a.Value != "" {
				fb.add(fieldName(a.Value), nodeValue(c))
			} else if v := nodeValue(c); v.Kind() == event.KindArray {
				// A string array renders as one Data element per string.
				fb.unnamed = append(fb.unnamed, v.Array()...)
			} else {
				fb.unnamed = append(fb.unnamed, v)
			}
		case d.Name == "UserData":
			// UserData holds one provider-defined element whose leaves
			// are the values.
			fb.leaves(c, "")
		default:
			if hasElements(c) {
				fb.leaves(c, "")
			} else {
				fb.add(fieldName(c.Name), nodeValue(c))
			}
		}
	}
}

// leaves adds the leaf elements below n as fields (Data elements by their
// Name attribute).
func (fb *fieldBuilder) leaves(n *Node, prefix string) {
	for _, c := range n.Children {
		if c.Kind != ElementNode {
			continue
		}
		if c.Name == "Data" {
			if a, ok := c.Attr("Name"); ok && a.Value != "" {
				fb.add(prefix+fieldName(a.Value), nodeValue(c))
				continue
			}
		}
		if hasElements(c) {
			fb.leaves(c, prefix)
			continue
		}
		fb.add(prefix+fieldName(c.Name), nodeValue(c))
	}
}

func hasElements(n *Node) bool {
	for _, c := range n.Children {
		if c.Kind == ElementNode {
			return true
		}
	}
	return false
}

// fieldName removes spaces, as detection content expects ("Source Name" →
// "SourceName").
func fieldName(s string) string {
	if !strings.ContainsRune(s, ' ') {
		return s
	}
	return strings.ReplaceAll(s, " ", "")
}

var (
	_ parse.Parser      = (*Parser)(nil)
	_ parse.MultiParser = (*Parser)(nil)
)
