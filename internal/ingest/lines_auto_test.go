package ingest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// POST /api/v1/ingest without ?format= detects each request's format
// (ingest.format "auto"); a configured format or ?format= overrides it.
func TestLinesFormatAuto(t *testing.T) {
	body := "<34>Oct 11 22:14:15 gw sshd[42]: Failed password for root from 192.0.2.9 port 2222 ssh2\n" +
		"<34>Oct 11 22:14:16 fw CEF:0|Acme|FW|1.0|100|Blocked|5|src=192.0.2.9 dst=10.0.0.5 act=blocked\n" +
		`{"EventID":4625,"Channel":"Security","Computer":"dc1","TargetUserName":"bob"}` + "\n"
	for _, tc := range []struct {
		name, limit, query string
		want               []string
	}{
		{"default auto", "", "", []string{"syslog/", "cef/", "winlog/"}},
		{"configured json", "json", "", []string{"json/", "json/", "json/"}},
		{"request overrides", "json", "format=syslog", []string{"syslog/", "syslog/", "syslog/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, j := newFileHTTP(t, Limits{MaxEventBytes: 1 << 20, MaxRequestBytes: 1 << 20, Format: tc.limit})
			req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest?"+tc.query, bytes.NewReader([]byte(body)))
			rec := httptest.NewRecorder()
			h.Lines(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if len(j.events) != len(tc.want) {
				t.Fatalf("%d events, want %d", len(j.events), len(tc.want))
			}
			for i, ev := range j.events {
				if !strings.HasPrefix(ev.Format, tc.want[i]) {
					t.Errorf("event %d read as %s, want %s", i, ev.Format, tc.want[i])
				}
			}
		})
	}
}
