// Package evtx reads Windows XML Event Log (EVTX) files.
//
// It is written from the published format descriptions (libyal's "Windows
// XML Event Log (EVTX) format" and Microsoft's MS-EVEN6 binary XML) with the
// standard library only. A file is a 4 KiB header followed by 64 KiB chunks;
// each chunk holds event records whose content is binary XML. Records refer
// to element names and templates stored earlier in the same chunk, so a
// record cannot be read without its chunk, and a chunk is the unit that is
// verified (CRC32 of header and record data) and skipped when damaged.
//
// Like libevtx, the reader scans every chunk slot of the file rather than
// trusting the chunk count in the file header, which dirty files get wrong.
// Damage is reported, never fatal for the rest of the file: a chunk with a
// bad header is skipped, a record whose XML cannot be decoded is handed to
// the caller with Err set, and Records returns the chunk problems at the end.
//
// The package also registers the parser "wacht.parsers.evtx", which turns
// records into events with the field names Sigma rules use.
package evtx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"
)

const (
	fileHeaderSize  = 4096
	fileHeaderBytes = 128
	fileMagic       = "ElfFile\x00"
)

// Errors callers can branch on with errors.Is.
var (
	// ErrNotEVTX means the data does not start with an EVTX file header.
	ErrNotEVTX = errors.New("not an EVTX file")
	// ErrCorrupt marks damaged structures.
	ErrCorrupt = errors.New("corrupt EVTX data")
	// ErrChecksum marks a CRC32 mismatch; it wraps ErrCorrupt.
	ErrChecksum = fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
)

// Header is the file header.
type Header struct {
	FirstChunk, LastChunk uint64
	NextRecordID          uint64
	MinorVersion          uint16
	MajorVersion          uint16
	ChunkCount            uint16
	Flags                 uint32 // 1 dirty, 2 full
	Checksum              uint32
}

// File is an open EVTX file.
type File struct {
	r      io.ReaderAt
	size   int64
	Header Header
	// headerErr is a damaged-but-usable file header (bad checksum); it is
	// reported by Records, since the chunks carry what is needed to read.
	headerErr error
}

// Open reads and checks the file header.
func Open(r io.ReaderAt, size int64) (*File, error) {
	if size < fileHeaderBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotEVTX, size)
	}
	b := make([]byte, fileHeaderBytes)
	if _, err := r.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("read file header: %w", err)
	}
	if string(b[:8]) != fileMagic {
		return nil, fmt.Errorf("%w: signature %q", ErrNotEVTX, b[:8])
	}
	le := binary.LittleEndian
	f := &File{r: r, size: size, Header: Header{
		FirstChunk:   le.Uint64(b[8:]),
		LastChunk:    le.Uint64(b[16:]),
		NextRecordID: le.Uint64(b[24:]),
		MinorVersion: le.Uint16(b[36:]),
		MajorVersion: le.Uint16(b[38:]),
		ChunkCount:   le.Uint16(b[42:]),
		Flags:        le.Uint32(b[120:]),
		Checksum:     le.Uint32(b[124:]),
	}}
	if f.Header.MajorVersion != 3 {
		return nil, fmt.Errorf("%w: format version %d.%d", ErrNotEVTX, f.Header.MajorVersion, f.Header.MinorVersion)
	}
	if sum := crc32.ChecksumIEEE(b[:120]); sum != f.Header.Checksum {
		f.headerErr = fmt.Errorf("file header: %w: stored 0x%08x, computed 0x%08x", ErrChecksum, f.Header.Checksum, sum)
	}
	return f, nil
}

// Record is one event record. It owns its data and stays valid after the
// callback returns.
type Record struct {
	Chunk    int    // index of the chunk in the file
	Offset   int64  // file offset of the record
	RecordID uint64 // event record identifier
	// Written is when the record was written; Time is the event's
	// System/TimeCreated, or Written when the event has none.
	Written time.Time
	Time    time.Time
	// Root is the Event element with templates and substitutions resolved;
	// nil when the binary XML could not be decoded.
	Root *Node
	// Err is the problem decoding this record's XML, if any.
	Err error
}

// chunkCount is the number of chunk slots in the file, whatever the header
// says; the last may be partial when the file is truncated.
func (f *File) chunkCount() int64 {
	if f.size <= fileHeaderSize {
		return 0
	}
	return (f.size - fileHeaderSize + chunkSize - 1) / chunkSize
}

// Records calls fn for every record in file order. Records whose XML is
// damaged are passed with Err set. It stops at the first error from fn and
// returns it; otherwise it returns the problems found on the way (bad
// checksums, damaged chunks), joined, or nil.
func (f *File) Records(fn func(Record) error) error {
	return f.walk(func(r *Record, d *doc) error {
		if d.root != none {
			r.Root = d.toNode(d.root)
		}
		return fn(*r)
	})
}

// walk calls fn for every record in file order with the record resolved
// into d, which is reused for the next record.
func (f *File) walk(fn func(*Record, *doc) error) error {
	var problems []error
	if f.headerErr != nil {
		problems = append(problems, f.headerErr)
	}
	buf := make([]byte, chunkSize)
	d := &doc{}
	n := f.chunkCount()
	for i := int64(0); i < n; i++ {
		off := fileHeaderSize + i*chunkSize
		b := buf[:min(chunkSize, f.size-off)]
		if _, err := f.r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			problems = append(problems, fmt.Errorf("chunk %d: read: %w", i, err))
			continue
		}
		if isZero(b) {
			continue // never used
		}
		c, err := newChunk(int(i), b)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		problem, stop := c.records(off, d, fn)
		if stop != nil {
			return stop
		}
		if problem != nil {
			problems = append(problems, problem)
		}
	}
	return errors.Join(problems...)
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
