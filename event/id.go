package event

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// IDLen is the length of the ids ComputeID makes.
const IDLen = 28

// IDTimeLen is the length of an id's time part; the rest is its hash part.
const IDTimeLen = 16

// An event id is the event time (nanoseconds since 1970, 16 hex digits)
// followed by 48 bits of an xxhash of the raw record (12 hex digits). Ids
// sort by time, a lookup by id knows the one instant to search, and two
// different records collide only if they carry the same nanosecond and the
// same 48-bit hash. The stores keep only the hash part (IDHashPart): the
// time part is the row's own _time.

// ComputeID sets ID from the event time and the raw record (or, without raw
// bytes, the message and fields). Two deliveries of the same record get the
// same id. The tenant is not part of the id: every lookup by id is within
// one tenant.
func (e *Event) ComputeID() {
	var sum uint64
	if len(e.Raw) > 0 {
		sum = xxhash.Sum64(e.Raw)
	} else {
		sum = e.contentHash()
	}
	e.ID = FormatID(e.Time, sum)
}

// contentHash hashes the message and the fields, in any order, for events
// made without a raw record.
func (e *Event) contentHash() uint64 {
	var (
		sum uint64
		buf [64]byte
	)
	for _, f := range e.Fields {
		if f.Value.IsNull() {
			continue
		}
		v := f.Value.AppendText(buf[:0])
		sum += pairHash(xxhash.Sum64String(f.Name), xxhash.Sum64(v))
	}
	return pairHash(sum, xxhash.Sum64String(e.Message))
}

// pairHash mixes two hashes into one, so that the same value under another
// name differs.
func pairHash(a, b uint64) uint64 {
	x := a*0x9e3779b97f4a7c15 ^ b
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 29
	return x
}

// FormatID makes the id of an event at t whose content hashes to sum.
func FormatID(t time.Time, sum uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixNano()))
	binary.BigEndian.PutUint64(b[8:], sum<<16) // 48 bits of the hash
	return hex.EncodeToString(b[:IDLen/2])
}

// IDTime returns the event time an id made by ComputeID carries.
func IDTime(id string) (time.Time, bool) {
	if len(id) != IDLen {
		return time.Time{}, false
	}
	var b [IDLen / 2]byte
	if _, err := hex.Decode(b[:], []byte(id)); err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[:8]))).UTC(), true
}

// IDHashPart is the part of an id that a store keeps (the time part is the
// row's time), or "" for a string that is not an id.
func IDHashPart(id string) string {
	if _, ok := IDTime(id); !ok {
		return ""
	}
	return id[IDTimeLen:]
}

// JoinID rebuilds an id from a row's time and its stored hash part.
func JoinID(t time.Time, hashPart string) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.UnixNano()))
	return hex.EncodeToString(b[:]) + hashPart
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
// "event.format", say) or that starts with ExactPrefix, name with an
// underscore in front. A record can thus never spoof a reserved column or
// a value's exact text, nor clash with the stream fields the store groups
// rows by.
func StoreName(name string) string {
	if name == "" || IsReserved(name) || strings.HasPrefix(name, ExactPrefix) {
		return "_" + name
	}
	return name
}
