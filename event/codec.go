package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/klauspost/compress/s2"
)

// codecVersion is the first byte of an encoded batch. Bump it when the layout
// changes and keep decoding the old one.
const codecVersion = 1

// codecS2 is the first byte of a batch compressed with S2 (a codecVersion
// batch inside). The journal holds batches in this form: a fifth of the
// bytes to write, copy through NATS and read back.
const codecS2 = 0xc2

// maxBatchBytes bounds what a compressed batch may expand to.
const maxBatchBytes = 256 << 20

// maxArrayDepth bounds nesting of arrays in the codec.
const maxArrayDepth = 64

// AppendBatch appends a compact binary encoding of events to dst. The journal
// stores batches in this form.
func AppendBatch(dst []byte, events []*Event) []byte {
	dst = append(dst, codecVersion)
	dst = binary.AppendUvarint(dst, uint64(len(events)))
	for _, e := range events {
		dst = appendEvent(dst, e)
	}
	return dst
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst []byte, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(dst, math.MinInt64)
	}
	return binary.AppendVarint(dst, t.UnixNano())
}

func appendEvent(dst []byte, e *Event) []byte {
	dst = appendStr(dst, e.ID)
	dst = appendTime(dst, e.Time)
	dst = appendTime(dst, e.IngestTime)
	dst = appendStr(dst, e.Tenant)
	dst = appendStr(dst, e.Source.Listener)
	dst = appendStr(dst, e.Source.Peer)
	dst = appendStr(dst, e.LogSource.Product)
	dst = appendStr(dst, e.LogSource.Category)
	dst = appendStr(dst, e.LogSource.Service)
	dst = appendStr(dst, e.Format)
	dst = appendStr(dst, e.Message)
	dst = appendBytes(dst, e.Raw)
	dst = binary.AppendUvarint(dst, uint64(len(e.Errors)))
	for _, s := range e.Errors {
		dst = appendStr(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Fields)))
	for _, f := range e.Fields {
		dst = appendStr(dst, f.Name)
		dst = appendValue(dst, f.Value)
	}
	return dst
}

func appendValue(dst []byte, v Value) []byte {
	dst = append(dst, byte(v.kind))
	switch v.kind {
	case KindString:
		dst = appendStr(dst, v.s)
	case KindInt, KindFloat, KindTime:
		dst = binary.LittleEndian.AppendUint64(dst, v.n)
	case KindBool:
		dst = append(dst, byte(v.n))
	case KindArray:
		arr := v.Array()
		dst = binary.AppendUvarint(dst, uint64(len(arr)))
		for _, e := range arr {
			dst = appendValue(dst, e)
		}
	}
	return dst
}

// ErrCorrupt is returned when an encoded batch cannot be decoded.
var ErrCorrupt = errors.New("corrupt event batch")

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated %s", ErrCorrupt, what)
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

// str returns the next string. It shares the batch's memory (see
// DecodeBatch) rather than copying each of the thousands of names and
// values a batch holds.
func (r *reader) str(what string) string {
	b := r.bytes(what)
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (r *reader) time(what string) time.Time {
	n := r.varint(what)
	if n == math.MinInt64 || r.err != nil {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// count reads a length and checks it against the bytes left, so that a
// corrupt length cannot make us allocate gigabytes.
func (r *reader) count(what string) int {
	n := r.uvarint(what)
	if n > uint64(len(r.b)) {
		r.fail(what)
		return 0
	}
	return int(n)
}

// DecodeBatch decodes a batch written by AppendBatch. The events' strings
// and raw records share b's memory: b must not be changed afterwards.
func DecodeBatch(b []byte) ([]*Event, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	if b[0] == codecS2 {
		n, err := s2.DecodedLen(b[1:])
		if err != nil || n > maxBatchBytes {
			return nil, fmt.Errorf("%w: compressed batch of %d bytes: %v", ErrCorrupt, n, err)
		}
		if b, err = s2.Decode(make([]byte, n), b[1:]); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if len(b) == 0 || b[0] == codecS2 {
			return nil, fmt.Errorf("%w: nested compression", ErrCorrupt)
		}
	}
	if b[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, b[0])
	}
	r := &reader{b: b[1:]}
	n := r.count("event count")
	out := make([]*Event, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		e := &Event{}
		e.ID = r.str("id")
		e.Time = r.time("time")
		e.IngestTime = r.time("ingest time")
		e.Tenant = r.str("tenant")
		e.Source.Listener = r.str("listener")
		e.Source.Peer = r.str("peer")
		e.LogSource.Product = r.str("product")
		e.LogSource.Category = r.str("category")
		e.LogSource.Service = r.str("service")
		e.Format = r.str("format")
		e.Message = r.str("message")
		if raw := r.bytes("raw"); len(raw) > 0 {
			e.Raw = raw
		}
		if ne := r.count("error count"); ne > 0 {
			e.Errors = make([]string, ne)
			for j := range e.Errors {
				e.Errors[j] = r.str("error")
			}
		}
		nf := r.count("field count")
		e.Fields = make([]Field, nf)
		for j := range e.Fields {
			e.Fields[j].Name = r.str("field name")
			e.Fields[j].Value = r.value(0)
		}
		out = append(out, e)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(r.b))
	}
	return out, nil
}

func (r *reader) value(depth int) Value {
	if r.err != nil {
		return Value{}
	}
	if len(r.b) == 0 {
		r.fail("value kind")
		return Value{}
	}
	k := Kind(r.b[0])
	r.b = r.b[1:]
	switch k {
	case KindNull:
		return Value{}
	case KindString:
		return String(r.str("string value"))
	case KindInt, KindFloat, KindTime:
		if len(r.b) < 8 {
			r.fail("number value")
			return Value{}
		}
		v := Value{kind: k, n: binary.LittleEndian.Uint64(r.b)}
		r.b = r.b[8:]
		return v
	case KindBool:
		if len(r.b) < 1 {
			r.fail("bool value")
			return Value{}
		}
		v := Bool(r.b[0] == 1)
		r.b = r.b[1:]
		return v
	case KindArray:
		if depth >= maxArrayDepth {
			r.err = fmt.Errorf("%w: arrays nested deeper than %d", ErrCorrupt, maxArrayDepth)
			return Value{}
		}
		n := r.count("array length")
		arr := make([]Value, n)
		for i := range arr {
			arr[i] = r.value(depth + 1)
		}
		return Array(arr)
	}
	r.err = fmt.Errorf("%w: unknown value kind %d", ErrCorrupt, k)
	return Value{}
}

// BatchBuilder accumulates encoded events for one batch, so that a caller
// can cut batches by their real encoded size.
type BatchBuilder struct {
	n int
	// body is the batch with room for its header in front: the header is
	// written into the room when the batch is finished, so that the whole
	// batch is one slice, compressed without another copy.
	body []byte
}

// headerRoom is the most a batch header takes: version and a uvarint count.
const headerRoom = 1 + binary.MaxVarintLen64

// Add encodes e into the batch.
func (b *BatchBuilder) Add(e *Event) {
	if len(b.body) < headerRoom {
		b.body = append(b.body[:0], make([]byte, headerRoom)...)
	}
	b.body = appendEvent(b.body, e)
	b.n++
}

// Count is the number of events added.
func (b *BatchBuilder) Count() int { return b.n }

// Size is the encoded size so far.
func (b *BatchBuilder) Size() int { return max(len(b.body), headerRoom) }

// finish writes the header in front of the events and returns the batch.
func (b *BatchBuilder) finish() []byte {
	if len(b.body) < headerRoom {
		b.body = append(b.body[:0], make([]byte, headerRoom)...)
	}
	var hdr [headerRoom]byte
	h := append(hdr[:0], codecVersion)
	h = binary.AppendUvarint(h, uint64(b.n))
	start := headerRoom - len(h)
	copy(b.body[start:], h)
	return b.body[start:]
}

// AppendTo appends the finished batch (as AppendBatch would encode the same
// events) to dst.
func (b *BatchBuilder) AppendTo(dst []byte) []byte {
	return append(dst, b.finish()...)
}

// AppendCompressedTo appends the finished batch compressed with S2 (which
// DecodeBatch reads as well) to dst.
func (b *BatchBuilder) AppendCompressedTo(dst []byte) []byte {
	batch := b.finish()
	start := len(dst)
	need := start + 1 + s2.MaxEncodedLen(len(batch))
	if cap(dst) < need {
		dst = append(make([]byte, 0, need), dst...)
	}
	dst = append(dst, codecS2)
	enc := s2.Encode(dst[len(dst):need], batch)
	return dst[:len(dst)+len(enc)]
}

// Reset empties the builder, keeping its buffer.
func (b *BatchBuilder) Reset() {
	b.n = 0
	b.body = b.body[:0]
}
