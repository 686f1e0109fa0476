package indexer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// checkpoint persists two journal sequences in a 16-byte file:
//
//   - written: the highest sequence handed to the event store. It is saved
//     before the write, so after a crash every message up to it may or may
//     not be in the store and is checked for duplicates on replay.
//   - applied: the highest sequence known to be on disk in the store.
//     Replay starts after it and the journal may drop everything up to it.
type checkpoint struct {
	f                *os.File
	applied, written uint64
}

func openCheckpoint(path string) (*checkpoint, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint %s: %w", path, err)
	}
	var b [16]byte
	n, err := f.ReadAt(b[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	c := &checkpoint{f: f}
	switch n {
	case 0:
	case 16:
		c.applied = binary.LittleEndian.Uint64(b[0:8])
		c.written = binary.LittleEndian.Uint64(b[8:16])
	default:
		f.Close()
		return nil, fmt.Errorf("read checkpoint %s: %d bytes, want 16", path, n)
	}
	if c.written < c.applied {
		c.written = c.applied
	}
	return c, nil
}

func (c *checkpoint) save() error {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:8], c.applied)
	binary.LittleEndian.PutUint64(b[8:16], c.written)
	if _, err := c.f.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

func (c *checkpoint) setWritten(seq uint64) error {
	c.written = seq
	return c.save()
}

func (c *checkpoint) setApplied(seq uint64) error {
	c.applied = seq
	if c.written < seq {
		c.written = seq
	}
	if err := c.save(); err != nil {
		return err
	}
	return c.f.Sync()
}

func (c *checkpoint) close() error { return c.f.Close() }
