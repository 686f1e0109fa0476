package pull_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/pull"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

func TestPullSchedule(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		clock := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		now := func() time.Time { return clock }
		svc := intel.New(intel.Deps{DB: db, Now: now}, intel.Config{})
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer svc.Stop()
		body := "# feed\n203.0.113.9\nevil.example\n"
		etag := `"v1"`
		var gets, notModified atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gets.Add(1)
			if r.URL.Path != "/list.txt" {
				http.NotFound(w, r)
				return
			}
			if r.Header.Get("If-None-Match") == etag {
				notModified.Add(1)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", etag)
			w.Write([]byte(body))
		}))
		defer srv.Close()
		f := intel.Feed{Tenant: "a", Name: "bad-ips", URL: srv.URL + "/list.txt", Format: "plain", Interval: time.Hour, Confidence: 75, TLP: intel.TLPGreen, Enabled: true}
		if err := svc.PutFeed(ctx, f); err != nil {
			t.Fatal(err)
		}
		bad := f
		bad.URL = "file:///etc/passwd"
		if err := svc.PutFeed(ctx, bad); err == nil {
			t.Error("file:// feed accepted")
		}
		p := pull.New(svc, srv.Client(), now, nil)
		if n, err := p.RunDue(ctx); err != nil || n != 1 {
			t.Fatalf("first run: %d %v", n, err)
		}
		res, err := svc.Lookup(ctx, "a", "203.0.113.9")
		if err != nil || len(res.Indicators) != 1 || res.Indicators[0].Confidence != 75 || res.Indicators[0].Source != "bad-ips" || res.Indicators[0].TLP != intel.TLPGreen {
			t.Fatalf("pulled indicator %+v %v", res, err)
		}
		// Not due again before the interval has passed.
		clock = clock.Add(59 * time.Minute)
		if n, _ := p.RunDue(ctx); n != 0 {
			t.Errorf("pulled %d feeds before the interval", n)
		}
		// Due again: the server answers 304 to the ETag.
		clock = clock.Add(2 * time.Minute)
		if n, err := p.RunDue(ctx); err != nil || n != 1 || notModified.Load() != 1 {
			t.Fatalf("second run: %d %v, %d not modified", n, err, notModified.Load())
		}
		if g, _ := svc.Feed(ctx, "a", "bad-ips"); g.LastCount != 2 {
			t.Errorf("count after a 304: %d, want the last pull's 2", g.LastCount)
		}
		// The feed changes.
		body, etag = "198.51.100.7\n", `"v2"`
		clock = clock.Add(time.Hour)
		if _, err := p.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		if res, _ := svc.Lookup(ctx, "a", "198.51.100.7"); len(res.Indicators) != 1 {
			t.Errorf("changed feed not imported")
		}
		got, err := svc.Feed(ctx, "a", "bad-ips")
		if err != nil || got.ETag != `"v2"` || got.LastCount != 1 || got.LastError != "" || !got.LastPulled.Equal(clock) {
			t.Errorf("feed state %+v %v", got, err)
		}
		// A failing feed records its error.
		f2 := f
		f2.Name, f2.URL = "gone", srv.URL+"/x"
		if err := svc.PutFeed(ctx, f2); err != nil {
			t.Fatal(err)
		}
		if _, err := p.RunDue(ctx); err == nil {
			t.Error("404 feed pulled without error")
		}
		if g, _ := svc.Feed(ctx, "a", "gone"); g.LastError == "" {
			t.Error("error not recorded")
		}
		if fs, _ := svc.Feeds(ctx, "b"); len(fs) != 0 {
			t.Errorf("tenant b sees feeds %v", fs)
		}
		if err := svc.DeleteFeed(ctx, "b", "gone"); err != store.ErrNotFound {
			t.Errorf("delete other tenant's feed: %v", err)
		}
	})
}
