package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fastjson"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
)

// The Splunk HTTP Event Collector-compatible endpoints. Answers use HEC's
// codes so that Splunk forwarders and logging libraries understand them.

type hecError struct {
	status int
	code   int
	text   string
	reason string
	event  int // 0-based index of the bad event, -1 if none
}

func (e *hecError) Error() string { return e.text }

func (h *HTTP) hecAnswer(w http.ResponseWriter, c *Counters, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err == nil {
		_, _ = w.Write([]byte(`{"text":"Success","code":0}`))
		return
	}
	var he *hecError
	if !errors.As(err, &he) {
		var hte *httpError
		if errors.As(err, &hte) {
			he = &hecError{status: hte.status, code: 6, text: hte.msg, reason: hte.reason, event: -1}
			switch hte.status {
			case http.StatusTooManyRequests, http.StatusServiceUnavailable:
				he.code, he.text = 9, "Server is busy: "+hte.msg
			}
		} else {
			he = &hecError{status: http.StatusBadRequest, code: 6, text: "Invalid data format: " + err.Error(), reason: "bad_request", event: -1}
		}
	}
	if he.reason != "backpressure" && he.reason != "journal_error" {
		c.Rejected(he.reason, 1)
	}
	if he.status == http.StatusTooManyRequests || he.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(he.status)
	out := map[string]any{"text": he.text, "code": he.code}
	if he.event >= 0 {
		out["invalid-event-number"] = he.event
	}
	_ = json.NewEncoder(w).Encode(out)
}

// HECHealth serves /services/collector/health.
func (h *HTTP) HECHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if h.acc.Behind() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"text":"HEC is unhealthy, queues are full","code":18}`))
		return
	}
	_, _ = w.Write([]byte(`{"text":"HEC is healthy","code":17}`))
}

// HECEvent serves /services/collector/event: concatenated JSON envelopes
// {"time":…, "host":…, "source":…, "sourcetype":…, "index":…, "event":…,
// "fields":{…}}.
func (h *HTTP) HECEvent(w http.ResponseWriter, r *http.Request) {
	c := h.acc.Counters("hec")
	if h.acc.Behind() {
		c.Rejected("backpressure", 1)
		h.hecAnswer(w, c, &httpError{http.StatusTooManyRequests, "backpressure", ErrBackpressure.Error()})
		return
	}
	body, err := h.body(r)
	if err != nil {
		h.hecAnswer(w, c, err)
		return
	}
	data, err := io.ReadAll(body)
	if err != nil {
		h.hecAnswer(w, c, err)
		return
	}
	now := time.Now()
	tenant := h.tenant(r)
	src := event.Source{Listener: "hec", Peer: r.RemoteAddr}
	decs := map[string]*Decoder{}
	decoder := func(name string) *Decoder {
		if d, ok := decs[name]; ok {
			return d
		}
		d, err := NewDecoder(name, tenant, src, now)
		if err != nil {
			d = nil
		}
		decs[name] = d
		return d
	}
	jsonDec := decoder("json")
	var (
		events []*event.Event
		sc     fastjson.Scanner
		limit  = h.acc.Limits().MaxEventBytes
	)
	sc.InitBytes(data)
	for i := 0; sc.Next(); i++ {
		env := sc.Value()
		if env.Type() != fastjson.TypeObject {
			h.hecAnswer(w, c, &hecError{http.StatusBadRequest, 6, "Invalid data format", "bad_event", i})
			return
		}
		evv := env.Get("event")
		if evv == nil {
			h.hecAnswer(w, c, &hecError{http.StatusBadRequest, 12, "Event field is required", "bad_event", i})
			return
		}
		var ev *event.Event
		switch evv.Type() {
		case fastjson.TypeString:
			s := evv.GetStringBytes()
			if len(bytes.TrimSpace(s)) == 0 {
				h.hecAnswer(w, c, &hecError{http.StatusBadRequest, 13, "Event field cannot be blank", "bad_event", i})
				return
			}
			if len(s) > limit {
				h.hecAnswer(w, c, &hecError{http.StatusRequestEntityTooLarge, 6, "event " + strconv.Itoa(i) + " is larger than the event limit of " + strconv.Itoa(limit) + " bytes", "event_too_large", i})
				return
			}
			// A sourcetype that names a parser (syslog, cef…) parses the
			// text; anything else is kept as the message.
			st := string(env.GetStringBytes("sourcetype"))
			if _, ok := parse.Lookup(st); ok && st != "" {
				ev = decoder(st).Decode(s)
			}
			if ev == nil {
				ev = &event.Event{Tenant: jsonDec.base.Tenant, Source: src, IngestTime: now.UTC(), Message: string(s), Raw: append([]byte(nil), s...), Format: "hec/1"}
				ev.Time = ev.IngestTime
			}
		case fastjson.TypeObject:
			raw := evv.MarshalTo(nil)
			if len(raw) > limit {
				h.hecAnswer(w, c, &hecError{http.StatusRequestEntityTooLarge, 6, "event " + strconv.Itoa(i) + " is larger than the event limit of " + strconv.Itoa(limit) + " bytes", "event_too_large", i})
				return
			}
			if ev = jsonDec.Decode(raw); ev == nil {
				continue
			}
		default:
			h.hecAnswer(w, c, &hecError{http.StatusBadRequest, 6, "Invalid data format", "bad_event", i})
			return
		}
		if t := env.Get("time"); t != nil {
			if ts, ok := hecTime(t); ok {
				ev.Time = ts
			}
		}
		for _, k := range []string{"host", "source", "sourcetype", "index"} {
			if v := env.GetStringBytes(k); len(v) > 0 {
				ev.Set(k, event.String(string(v)))
			}
		}
		if f := env.GetObject("fields"); f != nil {
			f.Visit(func(k []byte, v *fastjson.Value) { ev.Set(string(k), event.FromJSON(v)) })
		}
		ev.ComputeID()
		events = append(events, ev)
	}
	if err := sc.Error(); err != nil {
		h.hecAnswer(w, c, &hecError{http.StatusBadRequest, 6, "Invalid data format: " + err.Error(), "bad_event", len(events)})
		return
	}
	if len(events) == 0 {
		h.hecAnswer(w, c, &hecError{http.StatusBadRequest, 5, "No data", "no_data", -1})
		return
	}
	errs := 0
	for _, d := range decs {
		if d != nil {
			errs += d.Errors
		}
	}
	c.Received("hec", len(events))
	c.ParseErrors("hec", errs)
	h.hecAnswer(w, c, h.accept(r, c, "hec", events))
}

// HECRaw serves /services/collector/raw: one event per line, with host,
// source and sourcetype from the query string.
func (h *HTTP) HECRaw(w http.ResponseWriter, r *http.Request) {
	c := h.acc.Counters("hec")
	q := r.URL.Query()
	parser := "raw"
	if st := q.Get("sourcetype"); st != "" {
		if _, ok := parse.Lookup(st); ok {
			parser = st
		}
	}
	if h.acc.Behind() {
		c.Rejected("backpressure", 1)
		h.hecAnswer(w, c, &httpError{http.StatusTooManyRequests, "backpressure", ErrBackpressure.Error()})
		return
	}
	body, err := h.body(r)
	if err != nil {
		h.hecAnswer(w, c, err)
		return
	}
	now := time.Now()
	src := event.Source{Listener: "hec", Peer: r.RemoteAddr}
	var dec *Decoder
	if parser != "raw" {
		if dec, err = NewDecoder(parser, h.tenant(r), src, now); err != nil {
			h.hecAnswer(w, c, err)
			return
		}
	}
	var events []*event.Event
	err = h.lines(body, func(_ int, line []byte) error {
		var ev *event.Event
		if dec != nil {
			if ev = dec.Decode(line); ev == nil {
				return nil
			}
		} else {
			ev = &event.Event{Tenant: h.tenant(r), Source: src, IngestTime: now.UTC(), Time: now.UTC(), Message: string(line), Raw: append([]byte(nil), line...), Format: "hec-raw/1"}
		}
		for _, k := range []string{"host", "source", "sourcetype", "index"} {
			if v := q.Get(k); v != "" {
				ev.Set(k, event.String(v))
			}
		}
		ev.ComputeID()
		events = append(events, ev)
		return nil
	})
	if err != nil {
		h.hecAnswer(w, c, err)
		return
	}
	if len(events) == 0 {
		h.hecAnswer(w, c, &hecError{http.StatusBadRequest, 5, "No data", "no_data", -1})
		return
	}
	c.Received("hec", len(events))
	if dec != nil {
		c.ParseErrors("hec", dec.Errors)
	}
	h.hecAnswer(w, c, h.accept(r, c, "hec", events))
}

// hecTime reads HEC's epoch time: seconds with an optional fraction, as a
// number or a string.
func hecTime(v *fastjson.Value) (time.Time, bool) {
	var f float64
	switch v.Type() {
	case fastjson.TypeNumber:
		f = v.GetFloat64()
	case fastjson.TypeString:
		var err error
		f, err = strconv.ParseFloat(string(v.GetStringBytes()), 64)
		if err != nil {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	if f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().Truncate(time.Microsecond), true
}
