package taxii_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/feeds"
	"github.com/wacht-soc/wacht/internal/intel/taxii"
)

// medallion serves the state of the OASIS reference server's test data
// (medallion's default_data.json) the way medallion does: versions by
// date_added, limit and next, X-TAXII-Date-Added-Last. It is a stand-in to
// test our client against the reference data, not a TAXII server.
type medallion struct {
	data map[string]json.RawMessage
	base string
}

type medCollection struct {
	ID       string            `json:"id"`
	Title    string            `json:"title"`
	CanRead  bool              `json:"can_read"`
	CanWrite bool              `json:"can_write"`
	Objects  []json.RawMessage `json:"objects"`
	Manifest []struct {
		ID        string `json:"id"`
		DateAdded string `json:"date_added"`
		Version   string `json:"version"`
	} `json:"manifest"`
}

func (m *medallion) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", taxii.MediaTAXII)
	if r.Header.Get("Accept") != taxii.MediaTAXII {
		w.WriteHeader(http.StatusNotAcceptable)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "taxii2":
		d := strings.ReplaceAll(string(m.data["/discovery"]), "http://localhost:5000", m.base)
		w.Write([]byte(d))
	case len(parts) == 2 && parts[1] == "collections":
		var root struct {
			Collections []medCollection `json:"collections"`
		}
		json.Unmarshal(m.data[parts[0]], &root)
		for i := range root.Collections {
			root.Collections[i].Objects, root.Collections[i].Manifest = nil, nil
		}
		json.NewEncoder(w).Encode(root)
	case len(parts) == 4 && parts[1] == "collections" && parts[3] == "objects":
		var root struct {
			Collections []medCollection `json:"collections"`
		}
		json.Unmarshal(m.data[parts[0]], &root)
		for _, c := range root.Collections {
			if c.ID == parts[2] {
				m.objects(w, r, c)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// objects pairs each object version with its manifest entry's date_added,
// filters by added_after and pages with limit / next (an offset).
func (m *medallion) objects(w http.ResponseWriter, r *http.Request, c medCollection) {
	if !c.CanRead {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	type version struct {
		added time.Time
		obj   json.RawMessage
	}
	var vs []version
	for _, raw := range c.Objects {
		var o struct {
			ID       string `json:"id"`
			Modified string `json:"modified"`
			Created  string `json:"created"`
		}
		json.Unmarshal(raw, &o)
		ver := o.Modified
		if ver == "" {
			ver = o.Created
		}
		for _, me := range c.Manifest {
			if me.ID == o.ID && me.Version == ver {
				t, _ := time.Parse(time.RFC3339Nano, me.DateAdded)
				vs = append(vs, version{t, raw})
			}
		}
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].added.Before(vs[j].added) })
	q := r.URL.Query()
	if s := q.Get("added_after"); s != "" {
		after, _ := time.Parse(time.RFC3339Nano, s)
		var keep []version
		for _, v := range vs {
			if v.added.After(after) {
				keep = append(keep, v)
			}
		}
		vs = keep
	}
	off, _ := strconv.Atoi(q.Get("next"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	end := min(off+limit, len(vs))
	env := map[string]any{"more": end < len(vs)}
	if end < len(vs) {
		env["next"] = strconv.Itoa(end)
	}
	var objs []json.RawMessage
	for _, v := range vs[off:end] {
		objs = append(objs, v.obj)
	}
	if len(objs) > 0 {
		env["objects"] = objs
		w.Header().Set("X-TAXII-Date-Added-First", vs[off].added.Format("2006-01-02T15:04:05.000000Z"))
		w.Header().Set("X-TAXII-Date-Added-Last", vs[end-1].added.Format("2006-01-02T15:04:05.000000Z"))
	}
	json.NewEncoder(w).Encode(env)
}

type values struct{ got []intel.Indicator }

func (v *values) Add(_ context.Context, ind intel.Indicator) error {
	v.got = append(v.got, ind)
	return nil
}
func (v *values) AddWarninglist(context.Context, *intel.Warninglist) error { return nil }

func TestClientAgainstMedallionData(t *testing.T) {
	root := os.Getenv("WACHT_SHARED")
	if root == "" {
		root = filepath.Join("..", "..", "..", "..", "shared")
	}
	data, err := os.ReadFile(filepath.Join(root, "intel", "stix-examples", "medallion-taxii", "medallion", "test", "data", "default_data.json"))
	if err != nil {
		t.Skip(err)
	}
	m := &medallion{}
	if err := json.Unmarshal(data, &m.data); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	m.base = srv.URL
	ctx := context.Background()
	c := &taxii.Client{HTTP: srv.Client(), PageSize: 3}
	d, err := c.Discover(ctx, srv.URL+"/taxii2/")
	if err != nil || len(d.APIRoots) != 3 || !strings.HasPrefix(d.Default, srv.URL) {
		t.Fatalf("discovery %+v %v", d, err)
	}
	cols, err := c.Collections(ctx, srv.URL+"/trustgroup1/")
	if err != nil || len(cols) != 5 {
		t.Fatalf("collections %d %v", len(cols), err)
	}
	coll := srv.URL + "/trustgroup1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116"
	var v values
	last, n, err := c.PollInto(ctx, coll, time.Time{}, feeds.Options{}, &v)
	if err != nil {
		t.Fatal(err)
	}
	// Eight object versions over three pages of three; three indicator
	// versions with a pattern we compile, the marking gives TLP:GREEN.
	if n != 8 || !last.Equal(time.Date(2017, 12, 31, 13, 49, 53, 935000000, time.UTC)) {
		t.Errorf("polled %d objects, last added %v", n, last)
	}
	seen := map[string]bool{}
	for _, ind := range v.got {
		seen[ind.Type.String()+" "+ind.Value] = true
	}
	if !seen["sha256 ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c"] || !seen["url http://x4z9arb.cn/4712"] {
		t.Errorf("indicators %v", seen)
	}
	// Incremental: nothing after the last date added; one version after
	// 2017-01-01.
	if _, n, err := c.PollInto(ctx, coll, last, feeds.Options{}, &values{}); err != nil || n != 0 {
		t.Errorf("incremental poll: %d %v", n, err)
	}
	if _, n, _ := c.PollInto(ctx, coll, time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), feeds.Options{}, &values{}); n != 4 {
		t.Errorf("poll after 2017-01-01: %d objects, want 4", n)
	}
	// A collection the reference data marks unreadable.
	if _, _, err := c.PollInto(ctx, srv.URL+"/trustgroup1/collections/64993447-4d7e-4f70-b94d-d7f33742ee63", time.Time{}, feeds.Options{}, &values{}); err == nil {
		t.Error("unreadable collection polled")
	}
}
