package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wacht-soc/wacht/event"
	_ "github.com/wacht-soc/wacht/internal/parse/all"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

// memJournal keeps appended batches in memory.
type memJournal struct {
	mu     sync.Mutex
	events []*event.Event
}

func (j *memJournal) Append(_ context.Context, data []byte) (uint64, error) {
	evs, err := event.DecodeBatch(data)
	if err != nil {
		return 0, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, evs...)
	return uint64(len(j.events)), nil
}

func newFileHTTP(t *testing.T, limits Limits) (*HTTP, *memJournal) {
	t.Helper()
	j := &memJournal{}
	acc := NewAccepter(j, limits, func() uint64 { return 1 << 62 }, metrics.NewSet(), slog.New(slog.DiscardHandler))
	return NewHTTP(acc, func(*http.Request) string { return "acme" }, slog.New(slog.DiscardHandler)), j
}

func postFile(t *testing.T, h *HTTP, query string, body []byte, hdr map[string]string) (int, FileResult, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest/file?"+query, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.File(rec, req)
	var res FileResult
	_ = json.Unmarshal(rec.Body.Bytes(), &res)
	return rec.Code, res, rec.Body.String()
}

const zeekTSV = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n" +
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tquery\n" +
	"#types\ttime\tstring\taddr\tport\taddr\tport\tstring\n" +
	"1521911720.865716\tC1\t10.0.0.1\t5353\t10.0.0.53\t53\tevil.example\n" +
	"1521911721.000000\tC2\t10.0.0.2\t5354\t10.0.0.53\t53\tgood.example\n" +
	"not\tenough\n"

func TestFileAutoLineFormat(t *testing.T) {
	h, j := newFileHTTP(t, DefaultLimits)
	code, res, body := postFile(t, h, "format=auto&name=dns.log", []byte(zeekTSV), nil)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	if res.Format != "zeek" || res.DetectedBy == "" || res.Accepted != 3 || res.ParseErrors != 1 || len(res.Errors) != 1 {
		t.Fatalf("answer %+v", res)
	}
	if len(j.events) != 3 {
		t.Fatalf("journal has %d events, want 3", len(j.events))
	}
	ev := j.events[0]
	if ev.Tenant != "acme" || ev.Source.Listener != "file" || ev.Source.Peer != "dns.log" || ev.GetString("dns.question.name") != "evil.example" || ev.Format != "zeek/1" || ev.ID == "" {
		t.Errorf("first event: %+v %s", ev.Source, ev.AppendJSON(nil))
	}
	if len(j.events[2].Errors) == 0 {
		t.Error("bad line not marked with an error")
	}
}

func TestFileMultiParserAndGzip(t *testing.T) {
	h, j := newFileHTTP(t, DefaultLimits)
	doc := `{"Records":[{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"2024-01-01T00:00:00Z","sourceIPAddress":"198.51.100.1"},` +
		`{"eventVersion":"1.08","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"2024-01-01T00:00:01Z"}]}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(doc))
	_ = zw.Close()
	// gzip file without Content-Encoding (a .json.gz uploaded as is)
	code, res, body := postFile(t, h, "name=trail.json.gz", gz.Bytes(), nil)
	if code != http.StatusOK || res.Format != "cloudtrail" || res.Accepted != 2 || res.ParseErrors != 0 {
		t.Fatalf("status %d: %s", code, body)
	}
	// and with Content-Encoding: gzip
	code, res, body = postFile(t, h, "format=cloudtrail&name=trail.json", gz.Bytes(), map[string]string{"Content-Encoding": "gzip"})
	if code != http.StatusOK || res.Accepted != 2 || res.DetectedBy != "" {
		t.Fatalf("status %d: %s", code, body)
	}
	if len(j.events) != 4 || j.events[0].GetString("source.ip") != "198.51.100.1" || j.events[0].LogSource.Product != "aws" {
		t.Fatalf("journal: %d events, first %s", len(j.events), j.events[0].AppendJSON(nil))
	}
}

func TestFileErrors(t *testing.T) {
	limits := DefaultLimits
	limits.MaxRequestBytes = 1 << 10
	h, j := newFileHTTP(t, limits)
	f := func(name, query string, body []byte, hdr map[string]string, wantCode int, wantText string) {
		t.Helper()
		code, _, text := postFile(t, h, query, body, hdr)
		if code != wantCode || !strings.Contains(text, wantText) {
			t.Errorf("%s: status %d %s, want %d with %q", name, code, text, wantCode, wantText)
		}
	}
	f("undetectable", "name=x.txt", []byte("hello there\nsecond line\n"), nil, http.StatusBadRequest, "cannot tell the format")
	f("unknown format", "format=nope", []byte("a=b c=d e=f\n"), nil, http.StatusBadRequest, "unknown parser")
	f("too large", "format=kv", bytes.Repeat([]byte("a=b c=d\n"), 200), nil, http.StatusRequestEntityTooLarge, "larger than the limit")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(bytes.Repeat([]byte("a=b c=d\n"), 1000))
	_ = zw.Close()
	f("gzip bomb", "format=kv", gz.Bytes(), nil, http.StatusRequestEntityTooLarge, "larger than the limit")
	f("bad evtx", "format=evtx&name=x.evtx", []byte("ElfFile\x00garbage"), nil, http.StatusBadRequest, "read \\\"x.evtx\\\" as evtx")
	f("other tenant", "format=kv&tenant=globex", []byte("a=b c=d e=f\n"), nil, http.StatusForbidden, `not \"globex\"`)
	if len(j.events) != 0 {
		t.Errorf("%d events stored from refused files", len(j.events))
	}
}

// TestFileEVTX sends a real EVTX file from the shared data set whole.
func TestFileEVTX(t *testing.T) {
	data := parsetest.TarFile(t, filepath.Join(parsetest.Shared(t), "datasets", "deepbluecli-evtx.tgz"), "new-user-security.evtx")
	h, j := newFileHTTP(t, DefaultLimits)
	code, res, body := postFile(t, h, "name=new-user-security.evtx", data, nil)
	if code != http.StatusOK || res.Format != "evtx" || res.Accepted != 4 { // labels.csv: 4 records
		t.Fatalf("status %d: %.300s", code, body)
	}
	if len(j.events) != res.Accepted || j.events[0].LogSource.Product != "windows" {
		t.Errorf("journal %d events, answer %d; first %.300s", len(j.events), res.Accepted, j.events[0].AppendJSON(nil))
	}
	t.Logf("%d events, %d parse errors", res.Accepted, res.ParseErrors)
}
