package evtx

import (
	"encoding/binary"
	"hash/crc32"
	"unicode/utf16"
)

// bx writes binary XML at a known chunk offset, so that inline names and
// template definitions get the offsets a real writer would give them.
type bx struct {
	b    []byte
	base int // chunk offset of b[0]
}

func (x *bx) pos() int  { return x.base + len(x.b) }
func (x *bx) u8(v byte) { x.b = append(x.b, v) }
func (x *bx) u16(v uint16) {
	x.b = binary.LittleEndian.AppendUint16(x.b, v)
}
func (x *bx) u32(v uint32) {
	x.b = binary.LittleEndian.AppendUint32(x.b, v)
}
func (x *bx) put32(at int, v uint32) {
	binary.LittleEndian.PutUint32(x.b[at-x.base:], v)
}

func utf16le(s string) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, u)
	}
	return out
}

// name writes a name reference with the name inline after it.
func (x *bx) name(s string) {
	x.u32(uint32(x.pos() + 4))
	x.u32(0) // next in hash chain
	x.u16(0) // hash
	x.u16(uint16(len(utf16.Encode([]rune(s)))))
	x.b = append(x.b, utf16le(s)...)
	x.u16(0)
}

// open starts an element; dep says whether the dependency id is written.
func (x *bx) open(name string, attrs, dep bool) {
	if attrs {
		x.u8(0x41)
	} else {
		x.u8(0x01)
	}
	if dep {
		x.u16(0xffff)
	}
	x.u32(0) // data size, not used by the reader
	x.name(name)
	if attrs {
		x.u32(0) // attribute list size
	}
}

func (x *bx) attr(name string, more bool) {
	if more {
		x.u8(0x46)
	} else {
		x.u8(0x06)
	}
	x.name(name)
}

func (x *bx) text(s string) {
	x.u8(0x05)
	x.u8(0x01)
	x.u16(uint16(len(utf16.Encode([]rune(s)))))
	x.b = append(x.b, utf16le(s)...)
}

func (x *bx) subst(id uint16, typ ValueType, optional bool) {
	if optional {
		x.u8(0x0e)
	} else {
		x.u8(0x0d)
	}
	x.u16(id)
	x.u8(byte(typ))
}

func (x *bx) closeStart() { x.u8(0x02) }
func (x *bx) closeEmpty() { x.u8(0x03) }
func (x *bx) end()        { x.u8(0x04) }
func (x *bx) fragment()   { x.b = append(x.b, 0x0f, 0x01, 0x01, 0x00) }

// templateDef writes a template instance with its definition inline; body
// writes the template's tokens. It returns the definition offset.
func (x *bx) templateDef(body func(x *bx)) int {
	x.u8(0x0c)
	x.u8(0x01)
	x.u32(0x1234)
	def := x.pos() + 4
	x.u32(uint32(def))
	x.u32(0)                               // next template
	x.b = append(x.b, make([]byte, 16)...) // GUID
	sizeAt := x.pos()
	x.u32(0)
	start := x.pos()
	body(x)
	x.put32(sizeAt, uint32(x.pos()-start))
	return def
}

// templateRef writes a template instance that refers to an earlier
// definition.
func (x *bx) templateRef(def int) {
	x.u8(0x0c)
	x.u8(0x01)
	x.u32(0x1234)
	x.u32(uint32(def))
}

type testValue struct {
	typ  ValueType
	data []byte
}

func (x *bx) values(vs []testValue) {
	x.u32(uint32(len(vs)))
	for _, v := range vs {
		x.u16(uint16(len(v.data)))
		x.u8(byte(v.typ))
		x.u8(0)
	}
	for _, v := range vs {
		x.b = append(x.b, v.data...)
	}
}

// buildChunk makes a chunk with one record per body, with valid checksums.
func buildChunk(firstID uint64, bodies ...func(x *bx)) []byte {
	c := make([]byte, chunkSize)
	copy(c, chunkMagic)
	pos := chunkHeaderSize
	id := firstID
	last := pos
	for _, body := range bodies {
		x := &bx{base: pos + recordHeader}
		body(x)
		size := recordHeader + len(x.b) + 4
		r := c[pos:]
		copy(r, recordMagic)
		binary.LittleEndian.PutUint32(r[4:], uint32(size))
		binary.LittleEndian.PutUint64(r[8:], id)
		binary.LittleEndian.PutUint64(r[16:], 132000000000000000+id)
		copy(r[recordHeader:], x.b)
		binary.LittleEndian.PutUint32(r[size-4:], uint32(size))
		last = pos
		pos += size
		id++
	}
	le := binary.LittleEndian
	le.PutUint64(c[8:], firstID)
	le.PutUint64(c[16:], id-1)
	le.PutUint64(c[24:], firstID)
	le.PutUint64(c[32:], id-1)
	le.PutUint32(c[40:], 128)
	le.PutUint32(c[44:], uint32(last))
	le.PutUint32(c[48:], uint32(pos))
	fixChunkChecksums(c)
	return c
}

func fixChunkChecksums(c []byte) {
	end := int(binary.LittleEndian.Uint32(c[48:]))
	if end >= chunkHeaderSize && end <= len(c) {
		binary.LittleEndian.PutUint32(c[52:], crc32.ChecksumIEEE(c[chunkHeaderSize:end]))
	}
	binary.LittleEndian.PutUint32(c[124:], headerChecksum(c))
}

// buildFile puts a file header in front of chunks.
func buildFile(chunks ...[]byte) []byte {
	h := make([]byte, fileHeaderSize)
	copy(h, fileMagic)
	le := binary.LittleEndian
	le.PutUint64(h[16:], uint64(max(len(chunks)-1, 0)))
	le.PutUint32(h[32:], 128)
	le.PutUint16(h[36:], 1)
	le.PutUint16(h[38:], 3)
	le.PutUint16(h[40:], 4096)
	le.PutUint16(h[42:], uint16(len(chunks)))
	le.PutUint32(h[124:], crc32.ChecksumIEEE(h[:120]))
	out := h
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out
}
