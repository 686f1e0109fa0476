package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// frameReader splits a syslog TCP stream into messages (RFC 6587): octet
// counting ("123 <34>1 …") when a frame starts with a digit, newline
// delimiting otherwise. The two may not be mixed within a frame but may
// change between frames.
type frameReader struct {
	r     *bufio.Reader
	limit int
	buf   []byte
}

func newFrameReader(r io.Reader, limit int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64<<10), limit: limit}
}

// errFrame is a framing error after which the stream cannot be resynchronized.
type errFrame struct{ msg string }

func (e *errFrame) Error() string { return e.msg }

// next returns the next message. size is its full length; when size > limit
// the message was cut to the limit (newline framing) — the caller keeps it
// marked as truncated. Octet-counted frames over the limit are skipped
// whole and reported the same way.
func (f *frameReader) next() (msg []byte, size int, err error) {
	for {
		b, err := f.r.Peek(1)
		if err != nil {
			return nil, 0, err
		}
		if b[0] == '\n' || b[0] == '\r' {
			_, _ = f.r.ReadByte()
			continue
		}
		if b[0] >= '1' && b[0] <= '9' {
			return f.octetCounted()
		}
		return f.line()
	}
}

func (f *frameReader) octetCounted() ([]byte, int, error) {
	n := 0
	for i := 0; ; i++ {
		c, err := f.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, 0, &errFrame{"truncated frame: stream ended inside the octet count"}
			}
			return nil, 0, err
		}
		if c == ' ' {
			break
		}
		if c < '0' || c > '9' || i >= 9 {
			// Not an octet count after all: a line that starts with a digit
			// (RFC 3164 without PRI starting with a year, say).
			head := []byte(fmt.Sprint(n))
			head = append(head, c)
			if c == '\n' {
				head = head[:len(head)-1]
				return head[:min(len(head), f.limit)], len(head), nil
			}
			rest, size, err := f.line()
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, 0, err
			}
			msg := append(head, rest...)
			return msg[:min(len(msg), f.limit)], size + len(head), nil
		}
		n = n*10 + int(c-'0')
	}
	if n > f.limit {
		if _, err := f.r.Discard(n); err != nil {
			return nil, 0, &errFrame{fmt.Sprintf("truncated frame: %d octets announced, stream ended before", n)}
		}
		return nil, n, nil
	}
	if cap(f.buf) < n {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return nil, 0, &errFrame{fmt.Sprintf("truncated frame: %d octets announced, stream ended before", n)}
	}
	return f.buf, n, nil
}

func (f *frameReader) line() ([]byte, int, error) {
	f.buf = f.buf[:0]
	size := 0
	for {
		chunk, err := f.r.ReadSlice('\n')
		size += len(chunk)
		if len(f.buf) <= f.limit {
			f.buf = append(f.buf, chunk[:min(len(chunk), f.limit+2-len(f.buf))]...)
		}
		if err == nil {
			size-- // the newline
			if bytes.HasSuffix(f.buf, []byte("\r\n")) {
				size--
			}
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && size > 0 {
			break // last line without newline
		}
		return nil, 0, err
	}
	msg := bytes.TrimRight(f.buf, "\r\n")
	if len(msg) > f.limit {
		msg = msg[:f.limit]
	}
	return msg, size, nil
}

// buffered reports whether a next message can be read without blocking.
func (f *frameReader) buffered() bool { return f.r.Buffered() > 0 }
