// Package taxii is TAXII 2.1 for wacht's indicators: the server side
// (discovery, one API root per node, collections per tenant, objects with
// added_after and pagination, manifests, POST with status resources) as
// plain Go calls that internal/api maps to HTTP, and a client that polls
// any TAXII 2.1 collection incrementally into an intel import.
//
// Each tenant has two collections, and TLP decides what they serve:
// "public" (TLP:CLEAR and GREEN, read-only) and "community" (up to AMBER,
// read and write). AMBER+STRICT and RED never leave through TAXII.
package taxii

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/feeds"
	"github.com/wacht-soc/wacht/internal/intel/stix"
)

// Media types.
const (
	MediaTAXII = "application/taxii+json;version=2.1"
	MediaSTIX  = "application/stix+json;version=2.1"
)

// ErrNotFound is returned for an unknown collection, object or status.
var ErrNotFound = errors.New("not found")

// ErrForbidden is returned when the caller may not read or write the
// collection.
var ErrForbidden = errors.New("forbidden")

// ErrBadRequest marks a request the client got wrong; its text is safe.
var ErrBadRequest = errors.New("bad request")

// Access is what the caller may do, decided by the API layer from its role.
type Access struct {
	Read, Write bool
}

// collectionDef is a collection every tenant has.
type collectionDef struct {
	name, title, desc string
	tlps              []intel.TLP
	writable          bool
}

var collections = []collectionDef{
	{"public", "Public indicators", "Indicators marked TLP:CLEAR or TLP:GREEN", []intel.TLP{intel.TLPClear, intel.TLPGreen}, false},
	{"community", "Community indicators", "Indicators up to TLP:AMBER; objects posted here are imported",
		[]intel.TLP{intel.TLPClear, intel.TLPGreen, intel.TLPAmber}, true},
}

// Discovery is the TAXII discovery resource.
type Discovery struct {
	Title    string   `json:"title"`
	Default  string   `json:"default,omitempty"`
	APIRoots []string `json:"api_roots"`
}

// APIRoot is the API root resource.
type APIRoot struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// Collection is a collection resource.
type Collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types"`
}

// Envelope is a page of objects.
type Envelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects,omitempty"`
	// FirstAdded and LastAdded go into X-TAXII-Date-Added-First/Last.
	FirstAdded time.Time `json:"-"`
	LastAdded  time.Time `json:"-"`
}

// ManifestEntry describes one object version.
type ManifestEntry struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type"`
}

// Manifest is a page of manifest entries.
type Manifest struct {
	More       bool            `json:"more"`
	Next       string          `json:"next,omitempty"`
	Objects    []ManifestEntry `json:"objects,omitempty"`
	FirstAdded time.Time       `json:"-"`
	LastAdded  time.Time       `json:"-"`
}

// Status is a status resource.
type Status struct {
	ID               string          `json:"id"`
	Status           string          `json:"status"`
	RequestTimestamp string          `json:"request_timestamp"`
	TotalCount       int             `json:"total_count"`
	SuccessCount     int             `json:"success_count"`
	FailureCount     int             `json:"failure_count"`
	PendingCount     int             `json:"pending_count"`
	Successes        []StatusDetails `json:"successes,omitempty"`
	Failures         []StatusDetails `json:"failures,omitempty"`
	tenant           string
}

// StatusDetails names one object of a status.
type StatusDetails struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// Filter narrows an objects or manifest request.
type Filter struct {
	AddedAfter time.Time
	Limit      int
	Next       string
	IDs        []string // match[id]
	Types      []string // match[type]
}

// Server serves the TAXII resources of the node.
type Server struct {
	svc *intel.Service
	now func() time.Time
	// statuses of recent POSTs (bounded); a status lives on the node that
	// took the request.
	mu       sync.Mutex
	statuses map[string]*Status
	order    []string
}

// NewServer serves svc's indicators.
func NewServer(svc *intel.Service, now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{svc: svc, now: now, statuses: map[string]*Status{}}
}

// RootName is the one API root's path segment.
const RootName = "wacht"

// Discover returns the discovery resource; base is the server's URL.
func (s *Server) Discover(base string) Discovery {
	root := strings.TrimRight(base, "/") + "/taxii2/" + RootName + "/"
	return Discovery{Title: "wacht TAXII 2.1", Default: root, APIRoots: []string{root}}
}

// Root returns the API root resource.
func (s *Server) Root(name string) (APIRoot, error) {
	if name != RootName {
		return APIRoot{}, ErrNotFound
	}
	return APIRoot{Title: "wacht indicators", Description: "Threat intelligence of this tenant", Versions: []string{MediaTAXII},
		MaxContentLength: MaxContentLength}, nil
}

// MaxContentLength bounds a POST body.
const MaxContentLength = 64 << 20

// CollectionID is the stable id of a tenant's collection.
func CollectionID(tenant, name string) string {
	h := sha1.Sum([]byte("wacht-taxii/" + tenant + "/" + name))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func (s *Server) find(root, tenant, id string) (collectionDef, error) {
	if root != RootName {
		return collectionDef{}, ErrNotFound
	}
	for _, c := range collections {
		if CollectionID(tenant, c.name) == id {
			return c, nil
		}
	}
	return collectionDef{}, ErrNotFound
}

func (c collectionDef) resource(tenant string, a Access) Collection {
	return Collection{ID: CollectionID(tenant, c.name), Title: c.title, Description: c.desc, CanRead: a.Read,
		CanWrite: a.Write && c.writable, MediaTypes: []string{MediaSTIX}}
}

// Collections lists the tenant's collections as the caller sees them.
func (s *Server) Collections(root, tenant string, a Access) ([]Collection, error) {
	if root != RootName {
		return nil, ErrNotFound
	}
	out := make([]Collection, 0, len(collections))
	for _, c := range collections {
		out = append(out, c.resource(tenant, a))
	}
	return out, nil
}

// Collection returns one collection.
func (s *Server) Collection(root, tenant, id string, a Access) (Collection, error) {
	c, err := s.find(root, tenant, id)
	if err != nil {
		return Collection{}, err
	}
	return c.resource(tenant, a), nil
}

const defaultLimit, maxLimit = 100, 1000

// cursor is "next": the last (updated, id) served, opaque to clients.
func encodeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(s string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%w: next", ErrBadRequest)
	}
	ts, id, ok := strings.Cut(string(b), "|")
	t, terr := time.Parse(time.RFC3339Nano, ts)
	if !ok || terr != nil {
		return time.Time{}, "", fmt.Errorf("%w: next", ErrBadRequest)
	}
	return t, id, nil
}

// page reads one page of a collection's indicators.
func (s *Server) page(ctx context.Context, c collectionDef, tenant string, f Filter) ([]intel.Changed, bool, error) {
	for _, t := range f.Types {
		if t == "indicator" {
			f.Types = nil
			break
		}
	}
	if len(f.Types) > 0 {
		return nil, false, nil // only indicators live here
	}
	limit := f.Limit
	if limit <= 0 || limit > maxLimit {
		limit = defaultLimit
	}
	after, afterID := f.AddedAfter, ""
	if !after.IsZero() {
		// added_after is exclusive: skip every id written at that instant.
		afterID = "\U0010FFFF"
	}
	if f.Next != "" {
		var err error
		if after, afterID, err = decodeCursor(f.Next); err != nil {
			return nil, false, err
		}
	}
	want := limit + 1 // one more tells whether there is more
	var out []intel.Changed
	for {
		batch := want - len(out)
		rows, err := s.svc.Changed(ctx, tenant, after, afterID, c.tlps, batch)
		if err != nil {
			return nil, false, err
		}
		for _, r := range rows {
			if len(f.IDs) == 0 || contains(f.IDs, stixID(&r.Indicator)) {
				out = append(out, r)
			}
		}
		if len(rows) < batch || len(out) >= want {
			break
		}
		last := rows[len(rows)-1]
		after, afterID = last.Updated, last.ID
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func stixID(ind *intel.Indicator) string {
	return feeds.STIXIndicator(ind)["id"].(string)
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// Objects returns a page of a collection's objects.
func (s *Server) Objects(ctx context.Context, root, tenant, id string, a Access, f Filter) (Envelope, error) {
	c, err := s.find(root, tenant, id)
	if err != nil {
		return Envelope{}, err
	}
	if !a.Read {
		return Envelope{}, ErrForbidden
	}
	rows, more, err := s.page(ctx, c, tenant, f)
	if err != nil {
		return Envelope{}, err
	}
	env := Envelope{More: more}
	for i := range rows {
		b, err := json.Marshal(feeds.STIXIndicator(&rows[i].Indicator))
		if err != nil {
			return Envelope{}, err
		}
		env.Objects = append(env.Objects, b)
	}
	if len(rows) > 0 {
		env.FirstAdded, env.LastAdded = rows[0].Updated, rows[len(rows)-1].Updated
		if more {
			last := rows[len(rows)-1]
			env.Next = encodeCursor(last.Updated, last.ID)
		}
	}
	return env, nil
}

// Object returns the versions of one object (here: its current one).
func (s *Server) Object(ctx context.Context, root, tenant, id, objectID string, a Access) (Envelope, error) {
	env, err := s.Objects(ctx, root, tenant, id, a, Filter{IDs: []string{objectID}, Limit: maxLimit})
	if err != nil {
		return env, err
	}
	if len(env.Objects) == 0 {
		return env, ErrNotFound
	}
	return env, nil
}

// Manifest returns a page of a collection's manifest.
func (s *Server) Manifest(ctx context.Context, root, tenant, id string, a Access, f Filter) (Manifest, error) {
	c, err := s.find(root, tenant, id)
	if err != nil {
		return Manifest{}, err
	}
	if !a.Read {
		return Manifest{}, ErrForbidden
	}
	rows, more, err := s.page(ctx, c, tenant, f)
	if err != nil {
		return Manifest{}, err
	}
	m := Manifest{More: more}
	for i := range rows {
		o := feeds.STIXIndicator(&rows[i].Indicator)
		m.Objects = append(m.Objects, ManifestEntry{ID: o["id"].(string), DateAdded: timestamp(rows[i].Updated),
			Version: o["modified"].(string), MediaType: MediaSTIX})
	}
	if len(rows) > 0 {
		m.FirstAdded, m.LastAdded = rows[0].Updated, rows[len(rows)-1].Updated
		if more {
			last := rows[len(rows)-1]
			m.Next = encodeCursor(last.Updated, last.ID)
		}
	}
	return m, nil
}

// Add imports the indicators of an envelope posted to a writable
// collection and returns the (already complete) status.
func (s *Server) Add(ctx context.Context, root, tenant, id string, a Access, body []byte) (*Status, error) {
	c, err := s.find(root, tenant, id)
	if err != nil {
		return nil, err
	}
	if !a.Write || !c.writable {
		return nil, ErrForbidden
	}
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrBadRequest, err)
	}
	doc, err := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--taxii", "objects": env.Objects})
	if err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrBadRequest, err)
	}
	b, err := stix.DecodeBundle(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	st := &Status{ID: newStatusID(), Status: "complete", RequestTimestamp: timestamp(s.now()), TotalCount: len(b.Objects), tenant: tenant}
	im := s.svc.NewImport(tenant, "taxii")
	counter := &countSink{Sink: im}
	if err := feeds.ImportBundle(ctx, b, feeds.Options{TLP: intel.TLPAmber}, counter); err != nil {
		im.Abort()
		return nil, err
	}
	if _, err := im.Close(ctx); err != nil {
		return nil, err
	}
	for _, o := range b.Objects {
		d := StatusDetails{ID: o.ID, Version: o.Modified}
		if o.Type == "indicator" && counter.ok[o.ID] {
			d.Message = "imported"
			st.Successes = append(st.Successes, d)
			st.SuccessCount++
		} else {
			d.Message = "not an indicator wacht can use"
			st.Failures = append(st.Failures, d)
			st.FailureCount++
		}
	}
	s.mu.Lock()
	s.statuses[st.ID] = st
	s.order = append(s.order, st.ID)
	if len(s.order) > 1000 {
		delete(s.statuses, s.order[0])
		s.order = s.order[1:]
	}
	s.mu.Unlock()
	return st, nil
}

// countSink records which STIX indicators gave at least one valid value.
type countSink struct {
	feeds.Sink
	ok map[string]bool
}

func (c *countSink) Add(ctx context.Context, ind intel.Indicator) error {
	if _, _, err := intel.Normalize(ind.Type, ind.Value); err == nil {
		if c.ok == nil {
			c.ok = map[string]bool{}
		}
		c.ok[ind.STIXID] = true
	}
	return c.Sink.Add(ctx, ind)
}

func newStatusID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// StatusOf returns a status resource of the tenant.
func (s *Server) StatusOf(root, tenant, id string) (*Status, error) {
	if root != RootName {
		return nil, ErrNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.statuses[id]
	if st == nil || st.tenant != tenant {
		return nil, ErrNotFound
	}
	return st, nil
}
