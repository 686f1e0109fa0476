// Package event defines the typed security event that flows through wacht:
// from the parsers through the journal into the event store and the
// detection engines. It is public so that parsers and Sigma rules outside
// this module can use it.
package event

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// DefaultTenant is the tenant of events that name none.
const DefaultTenant = "default"

// Source says where an event entered wacht.
type Source struct {
	// Listener is the id of the listener or importer, e.g. "syslog-tcp",
	// "http-ndjson", "es-bulk", "hec", "file".
	Listener string
	// Peer is the remote address or file path the event came from.
	Peer string
}

// LogSource is the Sigma notion of where a log comes from.
type LogSource struct {
	Product  string
	Category string
	Service  string
}

// Field is one named, typed value of an event. Names of nested JSON are
// flattened with dots ("process.parent.name").
type Field struct {
	Name  string
	Value Value
}

// Event is one security event.
//
// Fields keep the order in which the parser produced them. Reserved
// information (time, tenant, message, source) lives in the struct, never in
// Fields.
type Event struct {
	// ID is the event time and a hash of its content (see ComputeID); it
	// identifies the event for de-duplication across redelivery.
	ID string
	// Time is when the event happened (from the record); IngestTime when
	// wacht received it. Both are UTC.
	Time       time.Time
	IngestTime time.Time
	Tenant     string
	Source     Source
	LogSource  LogSource
	// Format is the id of the parser that produced the event and its version,
	// e.g. "rfc5424/1".
	Format string
	// Message is the human-readable line; it becomes _msg in the store.
	Message string
	Fields  []Field
	// Raw is the original record as received.
	Raw []byte
	// Errors are parse problems. An event that could not be parsed fully is
	// kept with its raw bytes and these errors (stored as _error).
	Errors []string

	// arena holds the bytes of strings made by Intern: one allocation for
	// all names and values of a parsed record instead of one per string.
	// It is shared by copies of the event, so that a copy's strings never
	// overwrite the original's.
	arena *arena
}

type arena struct{ b []byte }

// grow makes room for n more bytes; strings already made keep the old
// block alive.
func (a *arena) grow(n int) {
	if cap(a.b)-len(a.b) < n {
		a.b = make([]byte, 0, max(2*cap(a.b), n, 512))
	}
}

// Intern returns b as a string kept in the event's own memory. Parsers use
// it for the many short names and values of one record: they cost one
// allocation together. The bytes are copied; b may be reused.
func (e *Event) Intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	a := e.mem(len(b))
	start := len(a.b)
	a.b = append(a.b, b...)
	return unsafe.String(&a.b[start], len(b))
}

// internJoin is Intern of prefix + "." + name.
func (e *Event) internJoin(prefix string, name []byte) string {
	n := len(prefix) + 1 + len(name)
	a := e.mem(n)
	start := len(a.b)
	a.b = append(a.b, prefix...)
	a.b = append(a.b, '.')
	a.b = append(a.b, name...)
	return unsafe.String(&a.b[start], n)
}

// mem returns the arena with room for n more bytes.
func (e *Event) mem(n int) *arena {
	if e.arena == nil {
		e.arena = &arena{}
	}
	e.arena.grow(n)
	return e.arena
}

// reserve makes room for n more bytes of interned strings.
func (e *Event) reserve(n int) { e.mem(n) }

// Get returns the value of the first field with the given name.
func (e *Event) Get(name string) (Value, bool) {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			return e.Fields[i].Value, true
		}
	}
	return Value{}, false
}

// GetString returns the field's value as a string ("" when absent).
func (e *Event) GetString(name string) string {
	v, ok := e.Get(name)
	if !ok {
		return ""
	}
	return v.String()
}

// Set replaces the value of the named field, or appends it.
func (e *Event) Set(name string, v Value) {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			e.Fields[i].Value = v
			return
		}
	}
	e.Fields = append(e.Fields, Field{Name: name, Value: v})
}

// Add appends a field without looking for an existing one; parsers use it
// when they know names are unique.
func (e *Event) Add(name string, v Value) {
	e.Fields = append(e.Fields, Field{Name: name, Value: v})
}

// Delete removes every field with the given name.
func (e *Event) Delete(name string) {
	i := 0
	for i < len(e.Fields) && e.Fields[i].Name != name {
		i++
	}
	if i == len(e.Fields) {
		return // the common case: nothing moves
	}
	out := e.Fields[:i]
	for _, f := range e.Fields[i+1:] {
		if f.Name != name {
			out = append(out, f)
		}
	}
	clear(e.Fields[len(out):])
	e.Fields = out
}

// AddError records a parse problem on the event.
func (e *Event) AddError(msg string) {
	e.Errors = append(e.Errors, msg)
}

// ErrorText joins the recorded parse problems.
func (e *Event) ErrorText() string {
	return strings.Join(e.Errors, "; ")
}

// Kind is the type of a Value.
type Kind uint8

// The kinds of values.
const (
	KindNull Kind = iota
	KindString
	KindInt
	KindFloat
	KindBool
	KindTime
	KindArray
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindString:
		return "string"
	case KindInt:
		return "int"
	case KindFloat:
		return "float"
	case KindBool:
		return "bool"
	case KindTime:
		return "time"
	case KindArray:
		return "array"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is a typed field value. The zero Value is null.
type Value struct {
	kind Kind
	s    string
	n    uint64 // int64 bits, float64 bits, bool, unix nanoseconds, or array length
	arr  *Value // first element of an array: Value stays at 40 bytes, an array costs no header allocation
}

// String makes a string value.
func String(s string) Value { return Value{kind: KindString, s: s} }

// Int makes an integer value.
func Int(i int64) Value { return Value{kind: KindInt, n: uint64(i)} }

// Float makes a floating point value.
func Float(f float64) Value { return Value{kind: KindFloat, n: math.Float64bits(f)} }

// Bool makes a boolean value.
func Bool(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.n = 1
	}
	return v
}

// Time makes a time value (stored in UTC).
func Time(t time.Time) Value { return Value{kind: KindTime, n: uint64(t.UnixNano())} }

// Array makes an array value.
func Array(vs []Value) Value {
	if len(vs) == 0 {
		return Value{kind: KindArray}
	}
	return Value{kind: KindArray, arr: &vs[0], n: uint64(len(vs))}
}

// Null is the null value.
func Null() Value { return Value{} }

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether the value is null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Str returns the string of a string value and "" for other kinds.
func (v Value) Str() string {
	if v.kind == KindString {
		return v.s
	}
	return ""
}

// Int returns the integer of an int value; floats are truncated.
func (v Value) Int() (int64, bool) {
	switch v.kind {
	case KindInt:
		return int64(v.n), true
	case KindFloat:
		return int64(math.Float64frombits(v.n)), true
	case KindString:
		i, err := strconv.ParseInt(v.s, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// Float returns the numeric value as float64; numeric strings convert.
func (v Value) Float() (float64, bool) {
	switch v.kind {
	case KindInt:
		return float64(int64(v.n)), true
	case KindFloat:
		return math.Float64frombits(v.n), true
	case KindString:
		f, err := strconv.ParseFloat(v.s, 64)
		return f, err == nil
	}
	return 0, false
}

// Bool returns the boolean of a bool value.
func (v Value) Bool() bool { return v.kind == KindBool && v.n == 1 }

// Time returns the time of a time value.
func (v Value) Time() time.Time {
	if v.kind != KindTime {
		return time.Time{}
	}
	return time.Unix(0, int64(v.n)).UTC()
}

// Array returns the elements of an array value.
func (v Value) Array() []Value {
	if v.kind != KindArray {
		return nil
	}
	if v.arr == nil {
		return []Value{}
	}
	return unsafe.Slice(v.arr, v.n)
}

// String renders the value as text, the way it is stored and matched:
// numbers in shortest form, times in RFC 3339 with nanoseconds, arrays as
// JSON.
func (v Value) String() string {
	switch v.kind {
	case KindString:
		return v.s
	case KindNull:
		return ""
	}
	var buf [64]byte
	return string(v.AppendText(buf[:0]))
}

// AppendText appends what String returns.
func (v Value) AppendText(dst []byte) []byte {
	switch v.kind {
	case KindString:
		return append(dst, v.s...)
	case KindInt:
		return strconv.AppendInt(dst, int64(v.n), 10)
	case KindFloat:
		return strconv.AppendFloat(dst, math.Float64frombits(v.n), 'g', -1, 64)
	case KindBool:
		if v.n == 1 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case KindTime:
		return v.Time().AppendFormat(dst, time.RFC3339Nano)
	case KindArray:
		return v.AppendJSON(dst)
	}
	return dst
}

// Equal reports whether two values have the same kind and content.
func (v Value) Equal(o Value) bool {
	va, oa := v.Array(), o.Array()
	if v.kind != o.kind || v.s != o.s || v.n != o.n || len(va) != len(oa) {
		return false
	}
	for i := range va {
		if !va[i].Equal(oa[i]) {
			return false
		}
	}
	return true
}

// AppendJSON appends the value as JSON.
func (v Value) AppendJSON(dst []byte) []byte {
	switch v.kind {
	case KindNull:
		return append(dst, "null"...)
	case KindString:
		return AppendJSONString(dst, v.s)
	case KindInt, KindBool:
		return append(dst, v.String()...)
	case KindFloat:
		f := math.Float64frombits(v.n)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return AppendJSONString(dst, v.String())
		}
		return append(dst, v.String()...)
	case KindTime:
		return AppendJSONString(dst, v.String())
	case KindArray:
		dst = append(dst, '[')
		for i, e := range v.Array() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.AppendJSON(dst)
		}
		return append(dst, ']')
	}
	return dst
}
