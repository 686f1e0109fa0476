package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	"github.com/wacht-soc/wacht/internal/parse/detect"
)

// maxErrorSamples is how many parse error messages a file answer carries.
const maxErrorSamples = 10

// FileResult is the answer of POST /api/v1/ingest/file.
type FileResult struct {
	Name        string `json:"name,omitempty"`
	Format      string `json:"format"`
	DetectedBy  string `json:"detected_by,omitempty"`
	Accepted    int    `json:"accepted"`
	ParseErrors int    `json:"parse_errors"`
	// Errors are the first few parse errors, for the person importing.
	Errors []string `json:"errors,omitempty"`
}

// File serves POST /api/v1/ingest/file?format=NAME|auto&name=FILENAME: the
// whole body is one file (EVTX, a CloudTrail document, a Zeek or W3C log
// with its headers, any line format), gzip-compressed or not, at most
// Limits.MaxRequestBytes after decompression. Its format is detected from
// its first bytes unless named. Formats that read whole inputs
// (parse.MultiParser) get the file at once; the others get it line by
// line through one parser, so header-driven formats keep their headers.
// Records that fail to parse are kept with the error and counted. The
// events go to the caller's tenant; ?tenant= may name it as a check and is
// refused when it names another.
func (h *HTTP) File(w http.ResponseWriter, r *http.Request) {
	c := h.acc.Counters("file")
	q := r.URL.Query()
	name := q.Get("name")
	format := q.Get("format")
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
	data, err := h.readFile(body)
	if err != nil {
		h.fail(w, c, err)
		return
	}
	res := FileResult{Name: name, Format: format}
	if format == "" || format == "auto" {
		d := detect.Detect(data)
		if !d.Known() {
			h.fail(w, c, &httpError{http.StatusBadRequest, "unknown_format", fmt.Sprintf("cannot tell the format of %s (%s); name it with format=", fileName(name), d.Reason)})
			return
		}
		res.Format, res.DetectedBy = d.Format, d.Reason
	}
	inst, err := parse.NewInstance(res.Format)
	if err != nil {
		h.fail(w, c, &httpError{http.StatusBadRequest, "unknown_format", err.Error()})
		return
	}
	tenant := h.tenant(r)
	if tenant == "" {
		tenant = event.DefaultTenant
	}
	if want := q.Get("tenant"); want != "" && want != tenant {
		// The token decides the tenant; naming another is refused, not
		// silently redirected.
		h.fail(w, c, &httpError{http.StatusForbidden, "wrong_tenant", fmt.Sprintf("this token writes to tenant %q, not %q", tenant, want)})
		return
	}
	base := event.Event{Tenant: tenant, Source: event.Source{Listener: "file", Peer: name}, IngestTime: time.Now().UTC()}
	events, err := h.parseFile(inst, data, base, &res)
	if err != nil {
		h.fail(w, c, &httpError{http.StatusBadRequest, "bad_file", fmt.Sprintf("read %s as %s: %v", fileName(name), res.Format, err)})
		return
	}
	c.Received(inst.Info.Name(), len(events))
	c.ParseErrors(inst.Info.Name(), res.ParseErrors)
	if err := h.accept(r, c, inst.Info.Name(), events); err != nil {
		h.fail(w, c, err)
		return
	}
	res.Accepted = len(events)
	writeJSON(w, http.StatusOK, res)
}

func fileName(name string) string {
	if name == "" {
		return "the file"
	}
	return strconv.Quote(name)
}

// readFile reads the bounded body; a gzip file sent without
// Content-Encoding is decompressed too, within the same bound.
func (h *HTTP) readFile(body io.Reader) ([]byte, error) {
	limit := h.acc.Limits().MaxRequestBytes
	data, err := io.ReadAll(body)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			return nil, he
		}
		return nil, &httpError{http.StatusBadRequest, "read_error", "read body: " + err.Error()}
	}
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, &httpError{http.StatusBadRequest, "bad_encoding", "gzip file: " + err.Error()}
		}
		data, err = io.ReadAll(&limitedReader{r: zr, n: limit})
		if err != nil {
			var he *httpError
			if errors.As(err, &he) {
				return nil, errTooLarge("decompressed file", limit)
			}
			return nil, &httpError{http.StatusBadRequest, "bad_encoding", "gzip file: " + err.Error()}
		}
	}
	return data, nil
}

// parseFile turns the file into events.
func (h *HTTP) parseFile(inst *parse.Instance, data []byte, base event.Event, res *FileResult) ([]*event.Event, error) {
	var events []*event.Event
	keep := func(ev *event.Event) {
		if len(ev.Errors) > 0 {
			res.ParseErrors++
			if len(res.Errors) < maxErrorSamples {
				res.Errors = append(res.Errors, ev.ErrorText())
			}
		}
		events = append(events, ev)
	}
	err := inst.ReadAll(data, base, h.acc.Limits().MaxEventBytes, func(ev *event.Event) error {
		keep(ev)
		return nil
	})
	return events, err
}
