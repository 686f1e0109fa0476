package event

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// MaxJSONDepth is how deeply nested a JSON document may be. Deeper documents
// are rejected with an error rather than walked.
const MaxJSONDepth = fastjson.MaxDepth

// AddJSON flattens a parsed JSON object into fields: nested objects become
// dotted names, arrays are kept as arrays (objects inside arrays are kept as
// their JSON text), numbers become ints when they are integral.
func (e *Event) AddJSON(prefix string, v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		o.Visit(func(k []byte, child *fastjson.Value) {
			var name string
			if prefix != "" {
				name = e.internJoin(prefix, k)
			} else {
				name = e.Intern(k)
			}
			e.AddJSON(name, child)
		})
	default:
		if prefix == "" {
			prefix = "value"
		}
		if v.Type() == fastjson.TypeString {
			b, _ := v.StringBytes()
			e.Add(prefix, String(e.Intern(b)))
			return
		}
		e.Add(prefix, FromJSON(v))
	}
}

// FromJSON converts one JSON value into a Value.
func FromJSON(v *fastjson.Value) Value {
	switch v.Type() {
	case fastjson.TypeNull:
		return Null()
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return String(string(b))
	case fastjson.TypeNumber:
		if i, err := v.Int64(); err == nil {
			return Int(i)
		}
		f, _ := v.Float64()
		return Float(f)
	case fastjson.TypeTrue:
		return Bool(true)
	case fastjson.TypeFalse:
		return Bool(false)
	case fastjson.TypeArray:
		a, _ := v.Array()
		out := make([]Value, len(a))
		for i, el := range a {
			if el.Type() == fastjson.TypeObject {
				out[i] = String(string(el.MarshalTo(nil)))
			} else {
				out[i] = FromJSON(el)
			}
		}
		return Array(out)
	case fastjson.TypeObject:
		return String(string(v.MarshalTo(nil)))
	}
	return Null()
}

// ParseJSONObject parses data as one JSON object and flattens it into a new
// set of fields on e. It returns an error naming the problem (invalid JSON,
// too deep, not an object).
func (e *Event) ParseJSONObject(p *fastjson.Parser, data []byte) (*fastjson.Value, error) {
	v, err := p.ParseBytes(data)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("JSON value is a %s, want an object", v.Type())
	}
	// Room for every name and value at once, and for about as many fields
	// as the record has colons.
	e.reserve(len(data))
	if cap(e.Fields)-len(e.Fields) < 8 {
		n := min(bytes.Count(data, []byte{':'}), 512)
		e.Fields = append(make([]Field, 0, len(e.Fields)+n), e.Fields...)
	}
	e.AddJSON("", v)
	return v, nil
}

// AppendJSONString appends s as a JSON string; invalid UTF-8 is replaced by
// U+FFFD so that the output is always valid JSON.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendJSON renders the whole event as one flat JSON object: the reserved
// fields (_time, _msg, tenant, event.id …) followed by the event's fields.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"_time":`...)
	dst = AppendJSONString(dst, e.Time.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"))
	dst = append(dst, `,"_msg":`...)
	dst = AppendJSONString(dst, e.Message)
	for _, r := range e.ReservedFields() {
		dst = append(dst, ',')
		dst = AppendJSONString(dst, r.Name)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, r.Value)
	}
	for _, f := range e.Fields {
		dst = append(dst, ',')
		dst = AppendJSONString(dst, f.Name)
		dst = append(dst, ':')
		dst = f.Value.AppendJSON(dst)
	}
	return append(dst, '}')
}

// AppendStoreJSON renders the event the way the event stores keep it: one
// flat JSON object with every value as text (Value.String), the id without
// its time part (IDHashPart; the time is _time) and the raw record only
// when withRaw is set.
func (e *Event) AppendStoreJSON(dst []byte, withRaw bool) []byte {
	dst = append(dst, `{"_time":`...)
	dst = AppendJSONString(dst, e.Time.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"))
	dst = append(dst, `,"_msg":`...)
	dst = AppendJSONString(dst, e.Message)
	for _, r := range e.ReservedFields() {
		if r.Name == FieldID {
			if part := IDHashPart(r.Value); part != "" {
				r.Value = part
			}
		}
		dst = append(dst, ',')
		dst = AppendJSONString(dst, r.Name)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, r.Value)
	}
	for _, f := range e.Fields {
		if f.Value.IsNull() {
			continue
		}
		name, v := StoreName(f.Name), f.Value.String()
		dst = append(dst, ',')
		dst = AppendJSONString(dst, name)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, v)
		if NumberTextChanges(v) {
			dst = append(dst, ',')
			dst = AppendJSONString(dst, ExactName(name))
			dst = append(dst, ':')
			dst = AppendJSONString(dst, ExactMark+v)
		}
	}
	if withRaw && len(e.Raw) > 0 {
		dst = append(dst, `,"`+FieldRaw+`":`...)
		dst = AppendJSONString(dst, string(e.Raw))
	}
	return append(dst, '}')
}

// Reserved field names under which the struct members of an event are stored
// and searched.
const (
	FieldID         = "event.id"
	FieldTenant     = "tenant"
	FieldIngestTime = "event.ingested"
	FieldListener   = "source.listener"
	FieldPeer       = "source.peer"
	FieldProduct    = "logsource.product"
	FieldCategory   = "logsource.category"
	FieldService    = "logsource.service"
	FieldFormat     = "event.format"
	FieldError      = "_error"
	FieldRaw        = "event.original"
)

// StringField is a name and a text value.
type StringField struct{ Name, Value string }

// ReservedFields lists the struct members of e as named text values, leaving
// out empty ones. The raw record is not included.
func (e *Event) ReservedFields() []StringField {
	out := make([]StringField, 0, 10)
	add := func(n, v string) {
		if v != "" {
			out = append(out, StringField{n, v})
		}
	}
	add(FieldID, e.ID)
	add(FieldTenant, e.Tenant)
	if !e.IngestTime.IsZero() {
		add(FieldIngestTime, e.IngestTime.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"))
	}
	add(FieldListener, e.Source.Listener)
	add(FieldPeer, e.Source.Peer)
	add(FieldProduct, e.LogSource.Product)
	add(FieldCategory, e.LogSource.Category)
	add(FieldService, e.LogSource.Service)
	add(FieldFormat, e.Format)
	add(FieldError, e.ErrorText())
	return out
}
