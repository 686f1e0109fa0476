package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/wacht-soc/wacht/event"
)

// The Elasticsearch-compatible endpoints: enough of the API for Beats,
// Elastic Agent and the official Go client's bulk indexer. Every answer
// carries the product header the official clients check.

// ESVersion is the Elasticsearch version wacht answers as.
const ESVersion = "8.11.0"

func esHeaders(w http.ResponseWriter) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
}

// ESInfo serves GET / and HEAD /: the handshake.
func (h *HTTP) ESInfo(w http.ResponseWriter, r *http.Request) {
	esHeaders(w)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"name":         "wacht",
		"cluster_name": "wacht",
		"cluster_uuid": "wacht",
		"version": map[string]any{
			"number":                              ESVersion,
			"build_flavor":                        "default",
			"build_type":                          "wacht",
			"lucene_version":                      "9.8.0",
			"minimum_wire_compatibility_version":  "7.17.0",
			"minimum_index_compatibility_version": "7.0.0",
		},
		"tagline": "You Know, for Search",
	})
}

// ESSetup answers the setup calls shippers make before indexing (license,
// xpack, index templates, ILM policies, ingest pipelines) with success, so
// they proceed to _bulk.
func (h *HTTP) ESSetup(w http.ResponseWriter, r *http.Request) {
	esHeaders(w)
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/_license"):
		_, _ = w.Write([]byte(`{"license":{"status":"active","type":"basic","uid":"wacht"}}`))
	case strings.HasPrefix(p, "/_xpack"):
		_, _ = w.Write([]byte(`{"build":{},"license":{"status":"active","type":"basic","mode":"basic"},"features":{}}`))
	case r.Method == http.MethodHead:
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPut || r.Method == http.MethodPost:
		_, _ = w.Write([]byte(`{"acknowledged":true}`))
	default:
		_, _ = w.Write([]byte(`{}`))
	}
}

// ESBulk serves POST /_bulk and /{index}/_bulk.
func (h *HTTP) ESBulk(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := h.acc.Counters("es-bulk")
	esHeaders(w)
	defaultIndex := r.PathValue("index")
	dec, err := NewDecoder("json", h.tenant(r), event.Source{Listener: "es-bulk", Peer: r.RemoteAddr}, start)
	if err != nil {
		h.esFail(w, c, &httpError{http.StatusInternalServerError, "no_parser", err.Error()})
		return
	}
	winDec, _ := NewDecoder("winlog", h.tenant(r), event.Source{Listener: "es-bulk", Peer: r.RemoteAddr}, start)
	if h.acc.Behind() {
		c.Rejected("backpressure", 1)
		h.esFail(w, c, &httpError{http.StatusTooManyRequests, "backpressure", ErrBackpressure.Error()})
		return
	}
	body, err := h.body(r)
	if err != nil {
		h.esFail(w, c, err)
		return
	}
	type item struct {
		op, index, id string
		status        int
		errType, msg  string
		ev            *event.Event
	}
	var (
		items   []item
		pending *item // action waiting for its document
		p       fastjson.Parser
	)
	err = h.lines(body, func(n int, line []byte) error {
		if pending != nil {
			it := pending
			pending = nil
			if it.op == "update" {
				return nil // answered as unsupported below
			}
			d := dec
			// Winlogbeat and Elastic Agent ship Windows events as winlog.*
			// documents: normalize them to the names detection rules use.
			if winDec != nil && (strings.HasPrefix(it.index, "winlogbeat") || bytes.Contains(line, []byte(`"winlog":{`))) {
				d = winDec
			}
			ev := d.Decode(line)
			if ev == nil {
				it.status, it.errType, it.msg = http.StatusBadRequest, "mapper_parsing_exception", "document is not an event"
				return nil
			}
			if it.index != "" {
				ev.Add("es.index", event.String(it.index))
			}
			if it.id == "" {
				it.id = ev.ID
			}
			it.ev = ev
			return nil
		}
		v, err := p.ParseBytes(line)
		if err != nil {
			return &httpError{http.StatusBadRequest, "bad_action", fmt.Sprintf("line %d: invalid bulk action: %v", n, err)}
		}
		o, err := v.Object()
		if err != nil || o.Len() != 1 {
			return &httpError{http.StatusBadRequest, "bad_action", fmt.Sprintf("line %d: a bulk action is an object with one key", n)}
		}
		var it item
		o.Visit(func(k []byte, meta *fastjson.Value) {
			it.op = string(k)
			it.index = string(meta.GetStringBytes("_index"))
			it.id = string(meta.GetStringBytes("_id"))
		})
		if it.index == "" {
			it.index = defaultIndex
		}
		switch it.op {
		case "index", "create":
			it.status = http.StatusCreated
		case "update":
			it.status, it.errType, it.msg = http.StatusBadRequest, "action_request_validation_exception", "update is not supported: events are immutable"
		case "delete":
			it.status, it.errType, it.msg = http.StatusBadRequest, "action_request_validation_exception", "delete is not supported: events are immutable"
		default:
			return &httpError{http.StatusBadRequest, "bad_action", fmt.Sprintf("line %d: unknown bulk action %q", n, it.op)}
		}
		items = append(items, it)
		if it.op != "delete" {
			pending = &items[len(items)-1]
		}
		return nil
	})
	if err == nil && pending != nil {
		err = &httpError{http.StatusBadRequest, "bad_action", "the bulk request must be terminated by a newline and every index action needs a document"}
	}
	if err != nil {
		h.esFail(w, c, err)
		return
	}
	events := make([]*event.Event, 0, len(items))
	for _, it := range items {
		if it.ev != nil {
			events = append(events, it.ev)
		}
	}
	c.Received(dec.Format(), len(events))
	c.ParseErrors(dec.Format(), dec.Errors)
	if winDec != nil {
		c.ParseErrors(winDec.Format(), winDec.Errors)
	}
	if err := h.accept(r, c, dec.Format(), events); err != nil {
		h.esFail(w, c, err)
		return
	}
	out := make([]byte, 0, 64+len(items)*128)
	out = append(out, `{"took":`...)
	out = strconv.AppendInt(out, time.Since(start).Milliseconds(), 10)
	hasErr := false
	for _, it := range items {
		hasErr = hasErr || it.status >= 300
	}
	out = append(out, `,"errors":`...)
	out = strconv.AppendBool(out, hasErr)
	out = append(out, `,"items":[`...)
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"`...)
		out = append(out, it.op...)
		out = append(out, `":{"_index":`...)
		out = event.AppendJSONString(out, it.index)
		out = append(out, `,"_id":`...)
		out = event.AppendJSONString(out, it.id)
		out = append(out, `,"status":`...)
		out = strconv.AppendInt(out, int64(it.status), 10)
		if it.status >= 300 {
			out = append(out, `,"error":{"type":`...)
			out = event.AppendJSONString(out, it.errType)
			out = append(out, `,"reason":`...)
			out = event.AppendJSONString(out, it.msg)
			out = append(out, '}')
		} else {
			out = append(out, `,"result":"created","_version":1,"_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1`...)
		}
		out = append(out, "}}"...)
	}
	out = append(out, "]}"...)
	_, _ = w.Write(out)
}

func (h *HTTP) esFail(w http.ResponseWriter, c *Counters, err error) {
	he, ok := err.(*httpError)
	if !ok {
		he = &httpError{http.StatusBadRequest, "bad_request", err.Error()}
	}
	if he.reason != "backpressure" && he.reason != "journal_error" {
		c.Rejected(he.reason, 1)
	}
	typ := "illegal_argument_exception"
	switch he.status {
	case http.StatusTooManyRequests:
		typ = "es_rejected_execution_exception"
		w.Header().Set("Retry-After", "1")
	case http.StatusServiceUnavailable:
		typ = "unavailable_shards_exception"
		w.Header().Set("Retry-After", "1")
	case http.StatusRequestEntityTooLarge:
		typ = "content_too_long_exception"
	}
	w.WriteHeader(he.status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error":  map[string]any{"type": typ, "reason": he.msg, "root_cause": []any{map[string]any{"type": typ, "reason": he.msg}}},
		"status": he.status,
	})
}
