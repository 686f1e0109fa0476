package evtx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/wacht-soc/wacht/event"
)

const (
	chunkSize       = 0x10000
	chunkHeaderSize = 512
	recordHeader    = 24
	chunkMagic      = "ElfChnk\x00"
	recordMagic     = "\x2a\x2a\x00\x00"
)

// ChunkHeader is the header of one 64 KiB chunk.
type ChunkHeader struct {
	FirstRecordNumber, LastRecordNumber uint64
	FirstRecordID, LastRecordID         uint64
	LastRecordOffset                    uint32
	FreeSpaceOffset                     uint32
	RecordsChecksum                     uint32
	Checksum                            uint32
}

// chunk is one chunk being read, with the caches of names and templates
// that its records share. It lives for one pass over the chunk.
type chunk struct {
	index     int
	b         []byte
	header    ChunkHeader
	names     map[int]string
	templates map[int]*template
}

func parseChunkHeader(b []byte) ChunkHeader {
	le := binary.LittleEndian
	return ChunkHeader{
		FirstRecordNumber: le.Uint64(b[8:]),
		LastRecordNumber:  le.Uint64(b[16:]),
		FirstRecordID:     le.Uint64(b[24:]),
		LastRecordID:      le.Uint64(b[32:]),
		LastRecordOffset:  le.Uint32(b[44:]),
		FreeSpaceOffset:   le.Uint32(b[48:]),
		RecordsChecksum:   le.Uint32(b[52:]),
		Checksum:          le.Uint32(b[124:]),
	}
}

// headerChecksum is the CRC32 of bytes 0-120 and 128-512 of the chunk.
func headerChecksum(b []byte) uint32 {
	crc := crc32.ChecksumIEEE(b[:120])
	return crc32.Update(crc, crc32.IEEETable, b[128:chunkHeaderSize])
}

// newChunk checks a chunk's signature and header checksum. b may be shorter
// than a chunk when the file is truncated.
func newChunk(index int, b []byte) (*chunk, error) {
	if len(b) < chunkHeaderSize {
		return nil, fmt.Errorf("chunk %d: %w: truncated to %d bytes", index, ErrCorrupt, len(b))
	}
	if string(b[:8]) != chunkMagic {
		return nil, fmt.Errorf("chunk %d: %w: bad signature %q", index, ErrCorrupt, b[:8])
	}
	c := &chunk{index: index, b: b, header: parseChunkHeader(b)}
	if sum := headerChecksum(b); sum != c.header.Checksum {
		return nil, fmt.Errorf("chunk %d: %w: header checksum 0x%08x, computed 0x%08x", index, ErrChecksum, c.header.Checksum, sum)
	}
	c.names = make(map[int]string, 64)
	c.templates = make(map[int]*template, 16)
	return c, nil
}

// recordsEnd is where record data ends: the free space offset, bounded by
// the data actually present.
func (c *chunk) recordsEnd() (int, error) {
	end := int(c.header.FreeSpaceOffset)
	switch {
	case end < chunkHeaderSize || end > chunkSize:
		return 0, fmt.Errorf("chunk %d: %w: free space offset 0x%x", c.index, ErrCorrupt, end)
	case end > len(c.b):
		return len(c.b), fmt.Errorf("chunk %d: %w: truncated at 0x%x, records end at 0x%x", c.index, ErrCorrupt, len(c.b), end)
	}
	return end, nil
}

// checkRecords verifies the CRC32 of the event record data.
func (c *chunk) checkRecords(end int) error {
	if sum := crc32.ChecksumIEEE(c.b[chunkHeaderSize:end]); sum != c.header.RecordsChecksum {
		return fmt.Errorf("chunk %d: %w: records checksum 0x%08x, computed 0x%08x", c.index, ErrChecksum, c.header.RecordsChecksum, sum)
	}
	return nil
}

// name returns the name stored at off and the size it occupies there.
func (c *chunk) name(off int) (string, int, error) {
	if off < 0 || off+8 > len(c.b) {
		return "", 0, fmt.Errorf("offset 0x%x outside the chunk", off)
	}
	n := int(binary.LittleEndian.Uint16(c.b[off+6:]))
	size := 8 + 2*n + 2
	if off+size > len(c.b) {
		return "", 0, fmt.Errorf("name of %d characters at 0x%x overruns the chunk", n, off)
	}
	if s, ok := c.names[off]; ok {
		return s, size, nil
	}
	s := utf16String(c.b[off+8 : off+8+2*n])
	c.names[off] = s
	return s, size, nil
}

// template returns the template defined at off, parsing it the first time.
// A template whose body refers back to itself is an error, not a loop.
func (c *chunk) template(off int, budget *int, depth int) (*template, error) {
	if t, ok := c.templates[off]; ok {
		switch {
		case t.state == 1:
			return nil, fmt.Errorf("template at 0x%x: %w: refers to itself", off, ErrCorrupt)
		case t.err != nil:
			return nil, t.err
		}
		return t, nil
	}
	if off < chunkHeaderSize || off+24 > len(c.b) {
		return nil, fmt.Errorf("template at 0x%x: %w: outside the chunk", off, ErrCorrupt)
	}
	size := int(binary.LittleEndian.Uint32(c.b[off+20:]))
	start := off + 24
	if size > len(c.b)-start {
		return nil, fmt.Errorf("template at 0x%x: %w: %d bytes overrun the chunk", off, ErrCorrupt, size)
	}
	t := &template{off: off, state: 1}
	copy(t.guid[:], c.b[off+4:off+20])
	c.templates[off] = t
	p := parser{c: c, b: c.b, pos: start, end: start + size, nodes: budget}
	t.nodes, t.err = p.fragment(true, depth+1)
	if t.err != nil {
		t.err = fmt.Errorf("template at 0x%x: %w", off, t.err)
	}
	t.state = 2
	return t, t.err
}

// records walks the records of the chunk, resolving each into d. It
// returns the problems that end the walk early (a damaged record header);
// errors decoding one record's XML are reported on that record. It stops
// when fn returns an error.
func (c *chunk) records(fileOff int64, d *doc, fn func(*Record, *doc) error) (problem error, stop error) {
	end, problem := c.recordsEnd()
	if problem != nil && end == 0 {
		return problem, nil
	}
	if problem == nil {
		problem = c.checkRecords(end)
	}
	pos := chunkHeaderSize
	for pos+recordHeader <= end {
		b := c.b[pos:]
		if string(b[:4]) != recordMagic {
			if bytes.Count(c.b[pos:end], []byte{0}) == end-pos {
				break // zero padding before the free space
			}
			return join(problem, fmt.Errorf("chunk %d: %w: no record signature at 0x%x", c.index, ErrCorrupt, pos)), nil
		}
		size := int(binary.LittleEndian.Uint32(b[4:]))
		if size < recordHeader+4 || size > end-pos {
			return join(problem, fmt.Errorf("chunk %d: %w: record at 0x%x has size %d", c.index, ErrCorrupt, pos, size)), nil
		}
		if cp := int(binary.LittleEndian.Uint32(b[size-4:])); cp != size {
			return join(problem, fmt.Errorf("chunk %d: %w: record at 0x%x has size %d and size copy %d", c.index, ErrCorrupt, pos, size, cp)), nil
		}
		rec := Record{
			Chunk:    c.index,
			Offset:   fileOff + int64(pos),
			RecordID: binary.LittleEndian.Uint64(b[8:]),
			Written:  filetime(binary.LittleEndian.Uint64(b[16:])),
		}
		if err := d.decode(c, pos+recordHeader, pos+size-4); err != nil {
			rec.Err = fmt.Errorf("chunk %d record %d: %w", c.index, rec.RecordID, err)
		}
		rec.Time = rec.Written
		if t := d.timeCreated(); !t.IsZero() {
			rec.Time = t
		}
		if err := fn(&rec, d); err != nil {
			return problem, err
		}
		pos += size
	}
	return problem, nil
}

// timeCreated is System/TimeCreated/@SystemTime of the resolved record, or
// the zero time.
func (d *doc) timeCreated() time.Time {
	if d.root == none {
		return time.Time{}
	}
	tc := d.child(d.child(d.root, "System"), "TimeCreated")
	if tc == none {
		return time.Time{}
	}
	for k := d.nodes[tc].attrs.first; k != none; k = d.attrs[k].next {
		a := &d.attrs[k]
		if a.name != "SystemTime" {
			continue
		}
		if v := d.attrTyped(a); v.Kind() == event.KindTime {
			return v.Time()
		}
		if t, err := time.Parse(time.RFC3339Nano, d.attrText(a)); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func join(a, b error) error {
	if a == nil {
		return b
	}
	return fmt.Errorf("%w; %w", a, b)
}
