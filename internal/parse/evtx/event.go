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
	var xml []byte
	return f.walk(func(rec *Record, d *doc) error {
		ev := base
		ev.Fields = nil
		ev.Errors = nil
		ev.Format = format
		xml = rec.fill(&ev, d, xml)
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
	r.fill(ev, docFromNode(r.Root), nil)
}

// fill is Fill from the resolved record d (whose root is none when the
// record is damaged); xml is a buffer to render into, returned for reuse.
func (r *Record) fill(ev *event.Event, d *doc, xml []byte) []byte {
	ev.Time = r.Time
	if r.Err != nil {
		ev.AddError("evtx: " + r.Err.Error())
	}
	if d.root == none {
		xml = appendDamaged(xml[:0], r.Err)
		ev.Raw = append([]byte(nil), xml...)
		ev.Message = fmt.Sprintf("damaged EVTX record %d", r.RecordID)
		ev.LogSource = event.LogSource{Product: "windows"}
		return xml
	}
	xml = d.appendXML(xml[:0])
	ev.Raw = append([]byte(nil), xml...)
	if d.tmpl != nil && d.tmpl.fields > 0 && ev.Fields == nil {
		// As many fields as the last record of this template had.
		ev.Fields = make([]event.Field, 0, d.tmpl.fields)
	}
	fb := fieldBuilder{ev: ev, d: d}
	fb.system(d.child(d.root, "System"))
	for c := d.nodes[d.root].kids.first; c != none; c = d.nodes[c].next {
		n := &d.nodes[c]
		if n.kind != ElementNode {
			continue
		}
		switch n.name {
		case "System":
		case "EventData", "UserData":
			fb.data(c)
		default: // RenderingInfo, ProcessingErrorData, …
			fb.section = n.name
			fb.leaves(c, n.name+".")
		}
	}
	if len(fb.unnamed) > 0 {
		fb.add("Data", event.Array(fb.unnamed))
	}
	if d.tmpl != nil {
		d.tmpl.fields = len(ev.Fields)
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
	return xml
}

type fieldBuilder struct {
	ev      *event.Event
	d       *doc
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

// systemAttrName maps System attributes to field names; unlisted ones
// become Element_Attribute.
func systemAttrName(elem, attr string) string {
	switch elem {
	case "Provider":
		switch attr {
		case "Name":
			return "Provider_Name"
		case "Guid":
			return "Provider_Guid"
		case "EventSourceName":
			return "Provider_EventSourceName"
		}
	case "Execution":
		switch attr {
		case "ProcessID":
			return "ProcessID"
		case "ThreadID":
			return "ThreadID"
		}
	case "Security":
		if attr == "UserID" {
			return "SecurityUserID"
		}
	case "Correlation":
		switch attr {
		case "ActivityID":
			return "ActivityID"
		case "RelatedActivityID":
			return "RelatedActivityID"
		}
	case "EventID":
		if attr == "Qualifiers" {
			return "Qualifiers"
		}
	}
	return elem + "_" + attr
}

func (fb *fieldBuilder) system(sys int32) {
	if sys == none {
		return
	}
	d := fb.d
	for c := d.nodes[sys].kids.first; c != none; c = d.nodes[c].next {
		n := &d.nodes[c]
		if n.kind != ElementNode {
			continue
		}
		for k := n.attrs.first; k != none; k = d.attrs[k].next {
			a := &d.attrs[k]
			if n.name == "TimeCreated" && a.name == "SystemTime" {
				continue // the event time
			}
			v := d.attrTyped(a)
			if v.IsNull() {
				v = event.String(d.attrText(a))
			}
			fb.ev.Add(systemAttrName(n.name, a.name), v)
		}
		if n.kids.n == 0 {
			continue
		}
		v := d.nodeValue(c)
		if n.name == "EventID" && v.Kind() != event.KindInt {
			if i, err := strconv.ParseInt(strings.TrimSpace(v.String()), 10, 64); err == nil {
				v = event.Int(i)
			}
		}
		fb.ev.Add(n.name, v)
	}
}

// data turns EventData or UserData into fields.
func (fb *fieldBuilder) data(dn int32) {
	d := fb.d
	fb.section = d.nodes[dn].name
	for c := d.nodes[dn].kids.first; c != none; c = d.nodes[c].next {
		n := &d.nodes[c]
		if n.kind != ElementNode {
			continue
		}
		switch {
		case n.name == "Data":
			if name := d.attrNamed(c, "Name"); name != "" {
				fb.add(fieldName(name), d.nodeValue(c))
			} else if v := d.nodeValue(c); v.Kind() == event.KindArray {
				// A string array renders as one Data element per string.
				fb.unnamed = append(fb.unnamed, v.Array()...)
			} else {
				fb.unnamed = append(fb.unnamed, v)
			}
		case d.nodes[dn].name == "UserData":
			// UserData holds one provider-defined element whose leaves
			// are the values.
			fb.leaves(c, "")
		default:
			if d.hasElements(c) {
				fb.leaves(c, "")
			} else {
				fb.add(fieldName(n.name), d.nodeValue(c))
			}
		}
	}
}

// leaves adds the leaf elements below i as fields (Data elements by their
// Name attribute).
func (fb *fieldBuilder) leaves(i int32, prefix string) {
	d := fb.d
	for c := d.nodes[i].kids.first; c != none; c = d.nodes[c].next {
		n := &d.nodes[c]
		if n.kind != ElementNode {
			continue
		}
		if n.name == "Data" {
			if name := d.attrNamed(c, "Name"); name != "" {
				fb.add(prefix+fieldName(name), d.nodeValue(c))
				continue
			}
		}
		if d.hasElements(c) {
			fb.leaves(c, prefix)
			continue
		}
		fb.add(prefix+fieldName(n.name), d.nodeValue(c))
	}
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
