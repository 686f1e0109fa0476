package api_test

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
	"github.com/wacht-soc/wacht/internal/ueba"
)

// TestUEBAAccess: every behaviour route denies a role without its
// permission (403) and hides another tenant's entities (404).
func TestUEBAAccess(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
		svc, err := ueba.New(storetest.Context(t), ueba.Options{DB: db, Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		svc.Process(t.Context(), []*event.Event{{Time: t0, Tenant: "a", Fields: []event.Field{{Name: "host.name", Value: event.String("ws-1")}}}})
		svc.AddDetection(t.Context(), "a", ueba.DetectionSignal{RuleID: "r1", Title: "x", Level: 4, Entities: map[string]string{"host.name": "WS-1"}, Time: t0})
		srv := api.New(api.Deps{Auth: tokens{
			"admin-a":    {Subject: "alice", Tenant: "a", Role: api.RoleAdmin, Method: api.AuthToken},
			"admin-b":    {Subject: "bob", Tenant: "b", Role: api.RoleAdmin, Method: api.AuthToken},
			"analyst-a":  {Subject: "ann", Tenant: "a", Role: api.RoleSecurityAnalyst, Method: api.AuthToken},
			"engineer-a": {Subject: "eve", Tenant: "a", Role: api.RoleSecurityEngineer, Method: api.AuthToken},
			"ingest-a":   {Subject: "fluent", Tenant: "a", Role: api.RoleIngest, Method: api.AuthToken},
		}, Log: slog.New(slog.DiscardHandler)})
		srv.Mount(api.UEBARoutes(svc)...)
		ts := httptest.NewServer(srv)
		defer ts.Close()
		call := apiCaller(t, ts)
		for _, tc := range []struct {
			tok, method, path, body string
			want                    int
			contains                string
		}{
			{"analyst-a", "GET", "/api/v1/entities", "", 200, `"source":"r1"`},
			{"admin-b", "GET", "/api/v1/entities", "", 200, `[]`},
			{"ingest-a", "GET", "/api/v1/entities", "", 403, ""},
			{"analyst-a", "GET", "/api/v1/entities/host/ws-1", "", 200, `"score":60`},
			{"admin-b", "GET", "/api/v1/entities/host/ws-1", "", 404, ""},
			{"ingest-a", "GET", "/api/v1/entities/host/ws-1", "", 403, ""},
			{"analyst-a", "GET", "/api/v1/entities/planet/x", "", 400, "unknown entity kind"},
			{"analyst-a", "GET", "/api/v1/anomalies", "", 200, `[]`},
			{"ingest-a", "GET", "/api/v1/anomalies", "", 403, ""},
			{"analyst-a", "GET", "/api/v1/anomalies/detectors", "", 200, `"mode":"shadow"`},
			{"analyst-a", "PUT", "/api/v1/anomalies/detectors/fan_out", `{"mode":"production"}`, 403, ""},
			{"engineer-a", "PUT", "/api/v1/anomalies/detectors/fan_out", `{"mode":"production"}`, 200, `"detector":"fan_out","mode":"production"`},
			{"engineer-a", "PUT", "/api/v1/anomalies/detectors/fan_out", `{"mode":"loud"}`, 400, ""},
			{"admin-b", "GET", "/api/v1/anomalies/detectors", "", 200, `"detector":"fan_out","mode":"shadow"`},
			{"ingest-a", "GET", "/api/v1/risk/incidents/x/likelihood", "", 403, ""},
			{"analyst-a", "GET", "/api/v1/risk/incidents/x/likelihood", "", 400, "cases module"},
			{"analyst-a", "POST", "/api/v1/anomalies/allowlist", `{"entity":{"kind":"host","value":"ws-1"},"reason":"build box","expires_at":"2026-01-20T00:00:00Z"}`, 403, ""},
			{"engineer-a", "POST", "/api/v1/anomalies/allowlist", `{"entity":{"kind":"host","value":"ws-1"},"expires_at":"2026-01-20T00:00:00Z"}`, 400, "reason is required"},
			{"engineer-a", "POST", "/api/v1/anomalies/allowlist", `{"entity":{"kind":"host","value":"ws-1"},"reason":"build box","expires_at":"2030-01-20T00:00:00Z"}`, 400, "days away"},
			{"engineer-a", "POST", "/api/v1/anomalies/allowlist", `{"entity":{"kind":"host","value":"ws-1"},"detector":"new_process","reason":"build box","expires_at":"2026-01-20T00:00:00Z"}`, 201, `"created_by":"eve"`},
			{"analyst-a", "GET", "/api/v1/anomalies/allowlist", "", 200, `"reason":"build box"`},
			{"admin-b", "GET", "/api/v1/anomalies/allowlist", "", 200, `"entries":[]`},
			{"ingest-a", "GET", "/api/v1/anomalies/allowlist", "", 403, ""},
			{"admin-b", "DELETE", "/api/v1/anomalies/allowlist/allow_nope", "", 404, ""},
		} {
			code, body := call(tc.tok, tc.method, tc.path, tc.body)
			if code != tc.want || !strings.Contains(body, tc.contains) {
				t.Errorf("%s %s %s: %d %s, want %d containing %q", tc.tok, tc.method, tc.path, code, body, tc.want, tc.contains)
			}
		}
	})
}
