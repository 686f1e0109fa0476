package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/attack"
	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/feeds"
	"github.com/wacht-soc/wacht/internal/intel/pull"
	"github.com/wacht-soc/wacht/internal/intel/taxii"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// TestIntelAccess walks every intel route: without a token 401, a role
// without the permission 403, another tenant's indicators 404 (and
// invisible in lists, lookups and exports), the owner's calls work.
func TestIntelAccess(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		svc := intel.New(intel.Deps{DB: db, Log: slog.New(slog.DiscardHandler)}, intel.Config{})
		if err := svc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer svc.Stop()
		srv := api.New(api.Deps{Auth: tokens{
			"admin-a": {Subject: "alice", Tenant: "a", Role: api.RoleAdmin},
			"admin-b": {Subject: "bob", Tenant: "b", Role: api.RoleAdmin},
			"analyst": {Subject: "ann", Tenant: "a", Role: api.RoleSecurityAnalyst},
			"cti":     {Subject: "tia", Tenant: "a", Role: api.RoleThreatIntelAnalyst},
			"ingest":  {Subject: "ian", Tenant: "a", Role: api.RoleIngest},
		}, Log: slog.New(slog.DiscardHandler)})
		srv.Mount(api.IntelRoutes(svc)...)
		srv.Mount(api.FeedRoutes(svc, pull.New(svc, nil, nil, nil))...)
		ts := httptest.NewServer(srv)
		defer ts.Close()
		call := apiCaller(t, ts)
		list := "# trail\n203.0.113.7\nevil.example\n198.51.100.0/24\n"
		wl := `{"name":"resolvers","type":"cidr","list":["9.9.9.9"],"matching_attributes":["ip-dst"],"description":"d","version":1}`
		if code, body := call("admin-a", "POST", "/api/v1/intel/import", wl); code != 200 {
			t.Fatalf("warninglist import: %d %s", code, body)
		}
		code, body := call("admin-a", "POST", "/api/v1/intel/import?source=trails&tlp=amber&confidence=80", list)
		var st intel.ImportStats
		if code != 200 || json.Unmarshal([]byte(body), &st) != nil || st.Stored != 3 {
			t.Fatalf("import: %d %s", code, body)
		}
		id := intel.ID(intel.TypeDomain, "evil.example")
		ind := "/api/v1/intel/indicators/" + id
		feed := `{"url":"https://feeds.example/list.txt","format":"plain","interval":"6h","confidence":60,"tlp":"green"}`
		cases := []struct {
			tok, method, path, body string
			want                    int
		}{
			{"", "GET", "/api/v1/intel/indicators", "", 401},
			{"ingest", "GET", "/api/v1/intel/indicators", "", 403},
			{"ingest", "GET", ind, "", 403},
			{"ingest", "GET", "/api/v1/intel/lookup?value=evil.example", "", 403},
			{"ingest", "POST", "/api/v1/intel/import", list, 403},
			{"ingest", "GET", "/api/v1/intel/export", "", 403},
			{"ingest", "GET", "/api/v1/intel/warninglists", "", 403},
			{"ingest", "GET", "/api/v1/intel/stats", "", 403},
			{"ingest", "GET", ind + "/sightings", "", 403},
			{"analyst", "POST", "/api/v1/intel/import", list, 403},
			{"analyst", "DELETE", ind, "", 403},
			{"admin-b", "GET", ind, "", 404},
			{"admin-b", "GET", ind + "/sightings", "", 404},
			{"admin-b", "DELETE", ind, "", 404},
			{"analyst", "GET", ind, "", 200},
			{"analyst", "GET", ind + "/sightings", "", 200},
			{"analyst", "GET", "/api/v1/intel/lookup?value=www.evil.example", "", 200},
			{"analyst", "GET", "/api/v1/intel/warninglists", "", 200},
			{"analyst", "GET", "/api/v1/intel/stats", "", 200},
			{"cti", "GET", "/api/v1/intel/export?format=misp", "", 200},
			{"admin-a", "GET", "/api/v1/intel/indicators?type=bogus", "", 400},
			{"admin-a", "GET", "/api/v1/intel/indicators?limit=0", "", 400},
			{"admin-a", "GET", "/api/v1/intel/lookup", "", 400},
			{"admin-a", "GET", "/api/v1/intel/lookup?value=no+such+thing", "", 400},
			{"admin-a", "POST", "/api/v1/intel/import?format=stix", "{not json", 400},
			{"admin-a", "POST", "/api/v1/intel/import?tlp=purple", list, 400},
			{"admin-a", "GET", "/api/v1/intel/export?format=pdf", "", 400},
			{"ingest", "DELETE", "/api/v1/intel/warninglists/resolvers", "", 403},
			{"analyst", "DELETE", "/api/v1/intel/warninglists/resolvers", "", 403},
			{"admin-b", "DELETE", "/api/v1/intel/warninglists/resolvers", "", 404},
			{"cti", "DELETE", "/api/v1/intel/warninglists/resolvers", "", 204},
			{"cti", "DELETE", "/api/v1/intel/warninglists/resolvers", "", 404},
			{"cti", "POST", "/api/v1/intel/import?source=more", "evil2.example\n", 200},
			{"ingest", "GET", "/api/v1/intel/feeds", "", 403},
			{"analyst", "PUT", "/api/v1/intel/feeds/f1", feed, 403},
			{"cti", "PUT", "/api/v1/intel/feeds/f1", feed, 200},
			{"cti", "PUT", "/api/v1/intel/feeds/f2", `{"url":"ftp://x/"}`, 400},
			{"cti", "PUT", "/api/v1/intel/feeds/f2", `{"url":"http://x/","bogus":1}`, 400},
			{"cti", "GET", "/api/v1/intel/feeds", "", 200},
			{"admin-b", "POST", "/api/v1/intel/feeds/f1/pull", "", 404},
			{"admin-b", "DELETE", "/api/v1/intel/feeds/f1", "", 404},
			{"cti", "DELETE", "/api/v1/intel/feeds/f1", "", 204},
			{"cti", "DELETE", "/api/v1/intel/indicators/" + intel.ID(intel.TypeDomain, "evil2.example"), "", 204},
		}
		for _, c := range cases {
			if code, body := call(c.tok, c.method, c.path, c.body); code != c.want {
				t.Errorf("%s %s as %q: %d, want %d (%s)", c.method, c.path, c.tok, code, c.want, body)
			}
		}
		// The owner sees its indicators; tenant b sees nothing anywhere.
		_, body = call("analyst", "GET", "/api/v1/intel/lookup?value=198.51.100.20", "")
		if !strings.Contains(body, `"found":true`) || !strings.Contains(body, `"tlp":"amber"`) {
			t.Errorf("lookup in a: %s", body)
		}
		if _, body := call("admin-b", "GET", "/api/v1/intel/lookup?value=198.51.100.20", ""); !strings.Contains(body, `"found":false`) {
			t.Errorf("tenant b finds tenant a's network: %s", body)
		}
		for _, path := range []string{"/api/v1/intel/indicators", "/api/v1/intel/export?format=csv"} {
			_, body := call("admin-b", "GET", path, "")
			if strings.Contains(body, "198.51.100") || strings.Contains(body, "evil.example") {
				t.Errorf("tenant b sees tenant a through %s: %s", path, body)
			}
		}
		// Export honours max_tlp: amber indicators stay home at green.
		_, body = call("admin-a", "GET", "/api/v1/intel/export?format=csv&max_tlp=green", "")
		if strings.Contains(body, "evil.example") {
			t.Errorf("amber indicator exported at max_tlp=green: %s", body)
		}
		_, body = call("admin-a", "GET", "/api/v1/intel/export?format=stix", "")
		if !strings.Contains(body, "[domain-name:value = 'evil.example']") {
			t.Errorf("stix export: %.300s", body)
		}
	})
}

func TestAttackAccess(t *testing.T) {
	cat, err := attack.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	svc := attack.NewService(cat, func(context.Context) ([]attack.Rule, error) {
		return []attack.Rule{{ID: "r1", Title: "PowerShell", Tags: []string{"attack.execution", "attack.t1059.001"}}}, nil
	}, nil)
	srv := api.New(api.Deps{Auth: tokens{
		"analyst": {Subject: "ann", Tenant: "a", Role: api.RoleSecurityAnalyst},
		"ingest":  {Subject: "ian", Tenant: "a", Role: api.RoleIngest},
	}, Log: slog.New(slog.DiscardHandler)})
	srv.Mount(api.AttackRoutes(svc)...)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, c := range []struct {
		tok, path string
		want      int
		body      string
	}{
		{"", "/api/v1/attack/tactics", 401, ""},
		{"ingest", "/api/v1/attack/tactics", 403, ""},
		{"ingest", "/api/v1/attack/coverage", 403, ""},
		{"ingest", "/api/v1/attack/techniques", 403, ""},
		{"ingest", "/api/v1/attack/entries/T1059", 403, ""},
		{"analyst", "/api/v1/attack/tactics", 200, `"short_name":"reconnaissance"`},
		{"analyst", "/api/v1/attack/techniques?tactic=stealth", 200, `"T1027"`},
		{"analyst", "/api/v1/attack/techniques?tactic=nope", 400, ""},
		{"analyst", "/api/v1/attack/entries/t1059.001", 200, `"PowerShell"`},
		{"analyst", "/api/v1/attack/entries/T0000", 404, ""},
		{"analyst", "/api/v1/attack/coverage", 200, `"covered":1`},
	} {
		req, _ := http.NewRequest("GET", ts.URL+c.path, nil)
		if c.tok != "" {
			req.Header.Set("Authorization", "Bearer "+c.tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || !strings.Contains(string(b), c.body) {
			t.Errorf("GET %s as %q: %d %.200s, want %d with %s", c.path, c.tok, resp.StatusCode, b, c.want, c.body)
		}
	}
}

// TestTAXIIClientAgainstServer runs our TAXII client against our server:
// discovery, collections, paging with next, incremental added_after, TLP
// enforcement per collection, POST with a status, and tenant isolation.
func TestTAXIIClientAgainstServer(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		now := func() time.Time { return clock }
		svc := intel.New(intel.Deps{DB: db, Now: now}, intel.Config{})
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer svc.Stop()
		srv := api.New(api.Deps{Auth: tokens{
			"cti-a":   {Subject: "tia", Tenant: "a", Role: api.RoleThreatIntelAnalyst},
			"cti-b":   {Subject: "tib", Tenant: "b", Role: api.RoleThreatIntelAnalyst},
			"analyst": {Subject: "ann", Tenant: "a", Role: api.RoleSecurityAnalyst},
		}, Log: slog.New(slog.DiscardHandler)})
		srv.Mount(api.TAXIIRoutes(taxii.NewServer(svc, now))...)
		ts := httptest.NewServer(srv)
		defer ts.Close()
		client := func(tok string) *taxii.Client {
			return &taxii.Client{HTTP: ts.Client(), PageSize: 7, Authorize: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }}
		}
		im := svc.NewImport("a", "seed")
		for i := range 25 {
			_ = im.Add(ctx, intel.Indicator{Type: intel.TypeIP, Value: fmt.Sprintf("203.0.113.%d", i), TLP: intel.TLP(i % 5)})
		}
		if _, err := im.Close(ctx); err != nil {
			t.Fatal(err)
		}
		c := client("cti-a")
		d, err := c.Discover(ctx, ts.URL+"/taxii2/")
		if err != nil || len(d.APIRoots) != 1 {
			t.Fatalf("discovery %+v %v", d, err)
		}
		cols, err := c.Collections(ctx, d.APIRoots[0])
		if err != nil || len(cols) != 2 {
			t.Fatalf("collections %+v %v", cols, err)
		}
		byTitle := map[string]taxii.Collection{}
		for _, col := range cols {
			byTitle[col.Title] = col
		}
		public, community := byTitle["Public indicators"], byTitle["Community indicators"]
		if public.CanWrite || !community.CanWrite || !public.CanRead {
			t.Errorf("collection rights %+v %+v", public, community)
		}
		poll := func(cl *taxii.Client, col taxii.Collection, after time.Time) (time.Time, map[string]bool) {
			t.Helper()
			var got collectSink
			last, n, err := cl.PollInto(ctx, d.APIRoots[0]+"collections/"+col.ID, after, feeds.Options{}, &got)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(got.values) {
				t.Errorf("%d objects, %d indicators", n, len(got.values))
			}
			return last, got.values
		}
		// 25 indicators over TLP clear, green, amber, amber+strict, red:
		// public serves clear and green (10), community up to amber (15).
		_, pub := poll(c, public, time.Time{})
		last, com := poll(c, community, time.Time{})
		if len(pub) != 10 || len(com) != 15 {
			t.Fatalf("public %d, community %d indicators", len(pub), len(com))
		}
		for v := range com {
			if v == "203.0.113.3" || v == "203.0.113.4" {
				t.Errorf("%s (amber+strict or red) served", v)
			}
		}
		// Nothing new since the last poll; then one new indicator.
		if _, again := poll(c, community, last); len(again) != 0 {
			t.Errorf("incremental poll returned %d", len(again))
		}
		clock = clock.Add(time.Minute)
		im = svc.NewImport("a", "more")
		_ = im.Add(ctx, intel.Indicator{Type: intel.TypeDomain, Value: "new.example", TLP: intel.TLPGreen})
		if _, err := im.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if _, again := poll(c, community, last); len(again) != 1 || !again["new.example"] {
			t.Errorf("incremental poll after an import: %v", again)
		}
		// POST into community imports into tenant a.
		obj := json.RawMessage(`{"type":"indicator","spec_version":"2.1","id":"indicator--9b0d5d6f-1b1e-4a38-9e62-1e4f1b6d2c11","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[url:value = 'http://posted.example/x']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`)
		st, err := c.Add(ctx, d.APIRoots[0]+"collections/"+community.ID, []json.RawMessage{obj, json.RawMessage(`{"type":"malware","id":"malware--1","name":"x"}`)})
		if err != nil || st.SuccessCount != 1 || st.FailureCount != 1 || st.Status != "complete" {
			t.Fatalf("add: %+v %v", st, err)
		}
		if res, _ := svc.Lookup(ctx, "a", "http://posted.example/x"); len(res.Indicators) != 1 || res.Indicators[0].TLP != intel.TLPAmber {
			t.Errorf("posted indicator: %+v", res)
		}
		if _, err := c.Add(ctx, d.APIRoots[0]+"collections/"+public.ID, []json.RawMessage{obj}); err == nil {
			t.Error("POST into the read-only collection accepted")
		}
		var stOut taxii.Status
		get := func(tok, path string) int {
			req, _ := http.NewRequest("GET", ts.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(path, "/status/") {
				_ = json.NewDecoder(resp.Body).Decode(&stOut)
			}
			return resp.StatusCode
		}
		root := "/taxii2/wacht/"
		objID := "indicator--9b0d5d6f-1b1e-4a38-9e62-1e4f1b6d2c11"
		for _, cse := range []struct {
			tok, path string
			want      int
		}{
			{"cti-a", root + "status/" + st.ID + "/", 200},
			{"cti-b", root + "status/" + st.ID + "/", 404},
			{"cti-b", root + "collections/" + community.ID + "/", 404},
			{"cti-b", root + "collections/" + community.ID + "/objects/", 404},
			{"cti-a", root + "collections/" + community.ID + "/objects/" + objID + "/", 200},
			{"cti-a", root + "collections/" + public.ID + "/objects/" + objID + "/", 404},
			{"cti-a", root + "collections/" + community.ID + "/manifest/?limit=3", 200},
			{"cti-a", root + "collections/" + community.ID + "/objects/?added_after=yesterday", 400},
			{"cti-a", "/taxii2/other/collections/", 404},
			{"analyst", root + "collections/", 403},
		} {
			if got := get(cse.tok, cse.path); got != cse.want {
				t.Errorf("GET %s as %s: %d, want %d", cse.path, cse.tok, got, cse.want)
			}
		}
		if stOut.ID != st.ID {
			t.Errorf("status read back %+v", stOut)
		}
		// Tenant b's collections have other ids and are empty.
		cb := client("cti-b")
		colsB, _ := cb.Collections(ctx, d.APIRoots[0])
		for _, col := range colsB {
			if col.ID == community.ID || col.ID == public.ID {
				t.Error("tenants share a collection id")
			}
			if _, got := poll(cb, col, time.Time{}); len(got) != 0 {
				t.Errorf("tenant b polled %d indicators", len(got))
			}
		}
	})
}

type collectSink struct{ values map[string]bool }

func (c *collectSink) Add(_ context.Context, ind intel.Indicator) error {
	if c.values == nil {
		c.values = map[string]bool{}
	}
	if _, v, err := intel.Normalize(ind.Type, ind.Value); err == nil {
		c.values[v] = true
	}
	return nil
}

func (c *collectSink) AddWarninglist(context.Context, *intel.Warninglist) error { return nil }
