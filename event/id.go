package event

import (
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/cespare/xxhash/v2"
)

// IDLen is the length of the ids ComputeID makes.
const IDLen = 28

// An event id is the event time (nanoseconds since 1970, 16 hex digits)
// followed by 48 bits of a hash over the event's content (12 hex digits):
// its message and its fields as the store keeps them, in any order. Ids
// sort by time, a lookup by id knows the one instant to search, and two
// different events collide only if they carry the same nanosecond and the
// same 48-bit hash.
//
// Because the id is a function of what the store keeps, the store does not
// keep the id: it derives it from a stored row when it reads one (an event
// whose id cannot be derived that way keeps it as a column; see
// IDDerivable). The event.id column was the largest single cost on disk.

// IDHash accumulates the content of an event into its id. The field order
// does not matter: stores hand columns back in their own order.
type IDHash struct {
	sum uint64
	d   xxhash.Digest
}

// Field adds one field; empty values are not stored, so they do not count.
func (h *IDHash) Field(name, value string) {
	if value != "" {
		h.sum += pairHash(xxhash.Sum64String(name), xxhash.Sum64String(value))
	}
}

// FieldBytes is Field for a value held as bytes.
func (h *IDHash) FieldBytes(name string, value []byte) {
	if len(value) > 0 {
		h.sum += pairHash(xxhash.Sum64String(name), xxhash.Sum64(value))
	}
}

// pairHash mixes the hashes of a name and a value into one, so that the same
// value under another name (or the same bytes split differently) differs.
func pairHash(name, value uint64) uint64 {
	x := name*0x9e3779b97f4a7c15 ^ value
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 29
	return x
}

// appendID appends the id of an event with this content, time and message.
func (h *IDHash) appendID(dst []byte, t time.Time, msg string) []byte {
	h.d.Reset()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixNano()))
	binary.BigEndian.PutUint64(b[8:], h.sum)
	h.d.Write(b[:])
	h.d.WriteString(msg)
	binary.BigEndian.PutUint64(b[8:], h.d.Sum64())
	return hex.AppendEncode(dst, b[:14])
}

// ID returns the id of an event with this content, time and message.
func (h *IDHash) ID(t time.Time, msg string) string {
	var buf [IDLen]byte
	return string(h.appendID(buf[:0], t, msg))
}

// ComputeID sets ID from the event time, the message and the fields (and,
// for an event with parse errors, the raw record). Two deliveries of the
// same record get the same id; so do two records that differ only in what
// parsing drops (spacing, key order). The tenant is not part of the id:
// every lookup by id is within one tenant.
func (e *Event) ComputeID() {
	var h IDHash
	e.hashFields(&h)
	if len(e.Errors) > 0 && len(e.Raw) > 0 {
		h.FieldBytes(FieldRaw, e.Raw)
	}
	e.ID = h.ID(e.Time, e.Message)
}

// hashFields adds the fields that the store keeps to h.
func (e *Event) hashFields(h *IDHash) {
	var buf [64]byte
	for _, f := range e.Fields {
		switch f.Value.Kind() {
		case KindNull:
		case KindString:
			h.Field(f.Name, f.Value.Str())
		default:
			h.FieldBytes(f.Name, f.Value.AppendText(buf[:0]))
		}
	}
}

// IDDerivable reports whether a store can derive e.ID from e's stored
// columns, so that it need not keep the id itself: the id is the one
// ComputeID gives for the event as it is now, the event has no parse
// errors, and no field name is empty, repeated, one of the store's own
// (_msg, _time, _stream, _stream_id) or a reserved name (see IsReserved).
func (e *Event) IDDerivable() bool {
	if len(e.Errors) > 0 || len(e.ID) != IDLen {
		return false
	}
	var h IDHash
	var seen uint64 // one bit per name hash: repeated names are rare
	for i, f := range e.Fields {
		if f.Name == "" || IsReserved(f.Name) {
			return false
		}
		bit := uint64(1) << (xxhash.Sum64String(f.Name) & 63)
		if seen&bit != 0 {
			for _, g := range e.Fields[:i] {
				if g.Name == f.Name {
					return false
				}
			}
		}
		seen |= bit
	}
	e.hashFields(&h)
	var buf [IDLen]byte
	return string(h.appendID(buf[:0], e.Time, e.Message)) == e.ID
}

// IsReserved reports whether name is a column the store fills from the
// event itself rather than from its fields: the store's own columns (_time,
// _msg, _stream, _stream_id) and the reserved fields (event.id, tenant, …).
func IsReserved(name string) bool {
	switch name {
	case "_time", "_msg", "_stream", "_stream_id",
		FieldID, FieldTenant, FieldIngestTime, FieldListener, FieldPeer,
		FieldProduct, FieldCategory, FieldService, FieldFormat, FieldError, FieldRaw:
		return true
	}
	return false
}

// StoreName is the column name under which a store keeps the field name:
// name itself, or for a field that would overwrite one of the store's own
// columns or a reserved field (a source that sends its own "tenant" or
// "event.format", say), name with an underscore in front. A record can
// thus never spoof a reserved column, nor clash with the stream fields the
// store groups rows by.
func StoreName(name string) string {
	if name == "" || IsReserved(name) {
		return "_" + name
	}
	return name
}

// IDTime returns the event time an id made by ComputeID carries.
func IDTime(id string) (time.Time, bool) {
	if len(id) != IDLen {
		return time.Time{}, false
	}
	var b [8]byte
	if _, err := hex.Decode(b[:], []byte(id[:16])); err != nil {
		return time.Time{}, false
	}
	if _, err := hex.Decode(make([]byte, 6), []byte(id[16:])); err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[:]))).UTC(), true
}
