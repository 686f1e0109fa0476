package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// HTTP serves the HTTP ingest endpoints. The API layer authenticates the
// request and tells the handlers the caller's tenant.
type HTTP struct {
	acc    *Accepter
	log    *slog.Logger
	tenant func(*http.Request) string
}

// NewHTTP returns the HTTP ingest handlers.
func NewHTTP(acc *Accepter, tenant func(*http.Request) string, log *slog.Logger) *HTTP {
	return &HTTP{acc: acc, log: log, tenant: tenant}
}

// httpError is an error with a status to answer.
type httpError struct {
	status int
	reason string // metric label
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errTooLarge(what string, limit int64) *httpError {
	return &httpError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("%s is larger than the limit of %d bytes", what, limit)}
}

// body returns the request body, decompressed and bounded by the request
// limit.
func (h *HTTP) body(r *http.Request) (io.Reader, error) {
	limit := h.acc.Limits().MaxRequestBytes
	if r.ContentLength > limit {
		return nil, errTooLarge("request body", limit)
	}
	var rd io.Reader = r.Body
	switch r.Header.Get("Content-Encoding") {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, &httpError{http.StatusBadRequest, "bad_encoding", "gzip body: " + err.Error()}
		}
		rd = zr
	default:
		return nil, &httpError{http.StatusUnsupportedMediaType, "bad_encoding", "unsupported Content-Encoding " + strconv.Quote(r.Header.Get("Content-Encoding"))}
	}
	return &limitedReader{r: rd, n: limit}, nil
}

// limitedReader fails with a clear error, rather than a silent EOF, once
// the limit is passed.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, errTooLarge("request body", 0)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// lines calls fn for each non-empty line of body; a line over the event
// limit is an error naming its number.
func (h *HTTP) lines(body io.Reader, fn func(n int, line []byte) error) error {
	limit := h.acc.Limits().MaxEventBytes
	br := bufio.NewReaderSize(body, 64<<10)
	var long []byte
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
				if len(long) > limit+2 {
					return &httpError{http.StatusRequestEntityTooLarge, "event_too_large", fmt.Sprintf("line %d is larger than the event limit of %d bytes", n, limit)}
				}
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			var he *httpError
			if errors.As(err, &he) {
				return he
			}
			return &httpError{http.StatusBadRequest, "read_error", fmt.Sprintf("read body at line %d: %v", n, err)}
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) > limit {
			return &httpError{http.StatusRequestEntityTooLarge, "event_too_large", fmt.Sprintf("line %d is larger than the event limit of %d bytes", n, limit)}
		}
		if len(bytes.TrimSpace(trimmed)) > 0 {
			if ferr := fn(n, trimmed); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// accept stores events and maps failures to HTTP answers.
func (h *HTTP) accept(r *http.Request, c *Counters, format string, events []*event.Event) error {
	if err := h.acc.Accept(r.Context(), events); err != nil {
		if errors.Is(err, ErrBackpressure) {
			c.Rejected("backpressure", len(events))
			return &httpError{http.StatusTooManyRequests, "backpressure", err.Error()}
		}
		c.Rejected("journal_error", len(events))
		h.log.Error("ingest_append_failed", "events", len(events), "err", err)
		return &httpError{http.StatusServiceUnavailable, "journal_error", "journal unavailable; retry later"}
	}
	c.Accepted(format, len(events))
	return nil
}

func (h *HTTP) fail(w http.ResponseWriter, c *Counters, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{http.StatusBadRequest, "bad_request", err.Error()}
	}
	if he.reason != "backpressure" && he.reason != "journal_error" {
		c.Rejected(he.reason, 1)
	}
	if he.status == http.StatusTooManyRequests || he.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, he.status, map[string]any{"error": he.msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Lines serves POST /api/v1/ingest: one record per line, parsed by the
// parser named in ?format= (default Limits.Format, else auto: detected
// from the first record).
func (h *HTTP) Lines(w http.ResponseWriter, r *http.Request) {
	c := h.acc.Counters("http")
	format := r.URL.Query().Get("format")
	if format == "" {
		format = h.acc.Limits().Format
	}
	if format == "" {
		format = "auto"
	}
	dec, err := NewDecoder(format, h.tenant(r), event.Source{Listener: "http", Peer: r.RemoteAddr}, time.Now())
	if err != nil {
		h.fail(w, c, &httpError{http.StatusBadRequest, "unknown_format", err.Error()})
		return
	}
	dec.DropRaw = !h.acc.Limits().KeepRaw
	if h.acc.Behind() {
		h.fail(w, c, &httpError{http.StatusTooManyRequests, "backpressure", ErrBackpressure.Error()})
		c.Rejected("backpressure", 1)
		return
	}
	body, err := h.body(r)
	if err != nil {
		h.fail(w, c, err)
		return
	}
	var events []*event.Event
	err = h.lines(body, func(_ int, line []byte) error {
		if ev := dec.Decode(line); ev != nil {
			events = append(events, ev)
		}
		return nil
	})
	if err != nil {
		h.fail(w, c, err)
		return
	}
	c.Received(dec.Format(), len(events))
	c.ParseErrors(dec.Format(), dec.Errors)
	if err := h.accept(r, c, dec.Format(), events); err != nil {
		h.fail(w, c, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"accepted": len(events), "parse_errors": dec.Errors})
}
