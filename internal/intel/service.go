package intel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/store"
)

// Config tunes the service. The zero value takes the defaults.
type Config struct {
	// Decay per type; types missing take DefaultDecay's model.
	Decay map[Type]DecayModel
	// RetroDays is how far back new indicators are matched against stored
	// events (0: 7 days; negative: never).
	RetroDays int
	// RetroMaxIndicators bounds the imports retro-matched (larger imports
	// are feeds that the live matcher covers from now on). 0: 10,000.
	RetroMaxIndicators int
	// RetroMaxEvents bounds the events a retro-match reads. 0: 1,000,000.
	RetroMaxEvents int
	// SightingQueue bounds the matches waiting to be verified and recorded
	// (0: 10,000); beyond it matches are dropped and counted.
	SightingQueue int
	// DefaultConfidence is given to indicators that carry none (0: 50).
	DefaultConfidence int
	// PatternWindow bounds how far apart in time the events of one match
	// of a STIX pattern over several events may be, unless the pattern
	// says WITHIN (0: 24 hours); PatternObservations bounds the events such
	// a pattern keeps per tenant (0: 1,000).
	PatternWindow       time.Duration
	PatternObservations int
	// ImportBatch is how many indicators an import writes per
	// transaction (0: 100,000); larger imports write one batch while the
	// next is read.
	ImportBatch int
}

func (c Config) withDefaults() Config {
	d := DefaultDecay()
	maps.Copy(d, c.Decay)
	c.Decay = d
	if c.RetroDays == 0 {
		c.RetroDays = 7
	}
	if c.RetroMaxIndicators == 0 {
		c.RetroMaxIndicators = 10000
	}
	if c.RetroMaxEvents == 0 {
		c.RetroMaxEvents = 1_000_000
	}
	if c.SightingQueue <= 0 {
		c.SightingQueue = 10000
	}
	if c.DefaultConfidence <= 0 {
		c.DefaultConfidence = 50
	}
	if c.ImportBatch <= 0 {
		c.ImportBatch = 100_000
	}
	return c
}

// Service is the threat intelligence domain of a node.
type Service struct {
	repo   repo
	bus    *bus.Bus
	events eventstore.EventStore
	now    func() time.Time
	log    *slog.Logger
	cfg    Config

	// state is swapped whole when a tenant's index is rebuilt, so the
	// event path reads it without a lock.
	state     atomic.Pointer[state]
	rebuildMu sync.Mutex

	pendingMu sync.Mutex
	pendingRb map[string]*time.Timer
	// importing counts open imports per tenant; a deferred rebuild waits
	// for them.
	importing map[string]int

	hits    chan pending
	stats   counters
	started atomic.Bool
	stopped chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type state struct {
	tenants map[string]*tenantIndex
}

type tenantIndex struct {
	ix    *Index
	wl    *WarninglistSet
	built time.Time
}

type counters struct {
	events, matched, suppressed, dropped, sighted, replayed, collisions atomic.Uint64
}

// Deps are what a Service uses. Bus and Events may be nil (tools and
// tests); Now defaults to time.Now.
type Deps struct {
	DB     *store.DB
	Bus    *bus.Bus
	Events eventstore.EventStore
	Now    func() time.Time
	Log    *slog.Logger
}

// New returns a service; call Start to load the indexes and run the
// sighting worker.
func New(d Deps, cfg Config) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	s := &Service{repo: repo{d.DB}, bus: d.Bus, events: d.Events, now: d.Now, log: d.Log, cfg: cfg,
		hits: make(chan pending, cfg.SightingQueue), stopped: make(chan struct{})}
	s.state.Store(&state{tenants: map[string]*tenantIndex{}})
	s.pendingRb = map[string]*time.Timer{}
	s.importing = map[string]int{}
	return s
}

// rebuildDelay is how long a deferred rebuild waits for further imports:
// a folder of 2,000 list files uploaded one by one rebuilds once.
const rebuildDelay = 2 * time.Second

// ScheduleRebuild rebuilds the tenant's index once no import asked for a
// rebuild for rebuildDelay.
func (s *Service) ScheduleRebuild(tenant string) {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	if t := s.pendingRb[tenant]; t != nil {
		t.Reset(rebuildDelay)
		return
	}
	var t *time.Timer
	t = time.AfterFunc(rebuildDelay, func() {
		s.pendingMu.Lock()
		if s.importing[tenant] > 0 {
			// More is being imported: the import that closes last decides.
			t.Reset(rebuildDelay)
			s.pendingMu.Unlock()
			return
		}
		delete(s.pendingRb, tenant)
		s.pendingMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := s.Rebuild(ctx, tenant); err != nil {
			s.log.Error("intel_rebuild_failed", "tenant", tenant, "err", err)
		}
	})
	s.pendingRb[tenant] = t
}

// Start builds the index of every tenant with indicators and starts the
// sighting worker. Stop ends it.
func (s *Service) Start(ctx context.Context) error {
	tenants, err := s.repo.tenants(ctx)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if err := s.Rebuild(ctx, t); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.started.Store(true)
	s.wg.Add(1)
	go s.sightingWorker(wctx)
	return nil
}

// Stop ends the worker after it recorded what was queued.
func (s *Service) Stop() {
	s.pendingMu.Lock()
	for t, tm := range s.pendingRb {
		tm.Stop()
		delete(s.pendingRb, t)
	}
	s.pendingMu.Unlock()
	if !s.started.Load() {
		return
	}
	close(s.stopped)
	s.wg.Wait()
	s.cancel()
}

// Logger is the service's logger (the API logs failures with it).
func (s *Service) Logger() *slog.Logger { return s.log }

// Index returns the tenant's current index (nil if it has none).
func (s *Service) Index(tenant string) *Index {
	if ti := s.state.Load().tenants[tenant]; ti != nil {
		return ti.ix
	}
	return nil
}

// Rebuild compiles the tenant's indicators and warninglists into a new
// index and swaps it in.
func (s *Service) Rebuild(ctx context.Context, tenant string) error {
	s.rebuildMu.Lock()
	defer s.rebuildMu.Unlock()
	start := time.Now()
	lists, err := s.repo.warninglists(ctx, tenant)
	if err != nil {
		return err
	}
	wl := CompileWarninglists(lists)
	n, err := s.repo.count(ctx, tenant)
	if err != nil {
		return fmt.Errorf("count indicators of %s: %w", tenant, err)
	}
	b := NewIndexBuilder(int(n))
	b.PatternWindow(s.cfg.PatternWindow, s.cfg.PatternObservations)
	err = s.repo.eachForIndex(ctx, tenant, func(ind *Indicator) {
		listed := ind.Warninglist != "" || wl.Check(ind.Type, ind.Value) != ""
		b.Add(IndexEntry{Type: ind.Type, Value: ind.Value, Confidence: ind.Confidence, TLP: ind.TLP,
			AlertUntil: AlertUntil(ind, s.cfg.Decay[ind.Type]), Warninglist: listed})
	})
	if err != nil {
		return err
	}
	ix := b.Build()
	if ti := s.state.Load().tenants[tenant]; ti != nil {
		ix.keepWindows(ti.ix)
	}
	for {
		old := s.state.Load()
		next := &state{tenants: maps.Clone(old.tenants)}
		next.tenants[tenant] = &tenantIndex{ix: ix, wl: wl, built: s.now()}
		if s.state.CompareAndSwap(old, next) {
			break
		}
	}
	s.log.Info("intel_index_built", "tenant", tenant, "indicators", ix.Len(), "warninglists", wl.Len(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// ImportStats says what an import did.
type ImportStats struct {
	Read          int            `json:"read"`
	Stored        int            `json:"stored"`
	Invalid       int            `json:"invalid"`
	Warninglisted int            `json:"warninglisted"`
	Warninglists  int            `json:"warninglists"`
	ByType        map[string]int `json:"by_type"`
	Retro         int            `json:"retro_sightings"`
	// Errors holds up to 20 examples of rejected values.
	Errors []string `json:"errors,omitempty"`
}

// Import collects indicators of one tenant and source and writes them in
// batches; Close rebuilds the index. It is not safe for concurrent use.
type Import struct {
	s      *Service
	tenant string
	source string
	buf    []Indicator
	seen   map[string]int // id → index in buf (de-duplicates a batch)
	stats  ImportStats
	wl     *WarninglistSet
	lists  bool
	fresh  []Indicator // retro-match candidates
	closed bool
	// w writes full batches on its own goroutine while the reader fills
	// the next one; it starts with the first full batch.
	w *batchWriter
	// DeferRebuild makes Close schedule the index rebuild (ScheduleRebuild)
	// instead of doing it: for many imports in a row.
	DeferRebuild bool
}

// NewImport starts an import into tenant, recording source on every
// indicator that names none.
func (s *Service) NewImport(tenant, source string) *Import {
	var wl *WarninglistSet
	if ti := s.state.Load().tenants[tenant]; ti != nil {
		wl = ti.wl
	}
	s.pendingMu.Lock()
	s.importing[tenant]++
	s.pendingMu.Unlock()
	return &Import{s: s, tenant: tenant, source: source, seen: map[string]int{}, wl: wl,
		stats: ImportStats{ByType: map[string]int{}}}
}

// done marks the import closed (once).
func (im *Import) done() {
	if im.closed {
		return
	}
	im.closed = true
	im.s.pendingMu.Lock()
	if im.s.importing[im.tenant]--; im.s.importing[im.tenant] <= 0 {
		delete(im.s.importing, im.tenant)
	}
	im.s.pendingMu.Unlock()
}

// Add normalizes and queues one indicator. Invalid values are counted and
// skipped, not returned as errors; the error is for storage failures.
func (im *Import) Add(ctx context.Context, ind Indicator) error {
	im.stats.Read++
	t, v, err := Normalize(ind.Type, ind.Value)
	if err != nil {
		im.stats.Invalid++
		if len(im.stats.Errors) < 20 {
			im.stats.Errors = append(im.stats.Errors, err.Error())
		}
		return nil
	}
	ind.Type, ind.Value = t, v
	ind.ID = ID(t, v)
	// Text from feeds in other encodings: PostgreSQL takes only UTF-8.
	ind.Description, ind.Source, ind.STIXID = validUTF8(ind.Description), validUTF8(ind.Source), validUTF8(ind.STIXID)
	for i, tag := range ind.Tags {
		if !utf8.ValidString(tag) {
			ind.Tags = slices.Clone(ind.Tags)
			ind.Tags[i] = validUTF8(tag)
		}
	}
	ind.Tenant = im.tenant
	if ind.Source == "" {
		ind.Source = im.source
	}
	if ind.Confidence <= 0 {
		ind.Confidence = im.s.cfg.DefaultConfidence
	}
	ind.Confidence = min(ind.Confidence, 100)
	if ind.Warninglist == "" {
		ind.Warninglist = im.wl.Check(t, v)
	}
	if ind.Warninglist != "" {
		im.stats.Warninglisted++
	}
	im.stats.ByType[t.String()]++
	if i, dup := im.seen[ind.ID]; dup {
		im.buf[i] = mergeIndicator(im.buf[i], ind)
		return nil
	}
	im.seen[ind.ID] = len(im.buf)
	im.buf = append(im.buf, ind)
	if len(im.buf) >= im.s.cfg.ImportBatch {
		return im.flush(ctx, false)
	}
	return nil
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// mergeIndicator combines two sightings of one value within an import.
func mergeIndicator(a, b Indicator) Indicator {
	if b.Confidence > a.Confidence {
		a.Confidence = b.Confidence
	}
	if b.TLP > a.TLP {
		a.TLP = b.TLP
	}
	a.Tags = mergeStrings(a.Tags, b.Tags)
	a.Attack = mergeStrings(a.Attack, b.Attack)
	if b.LastSeen.After(a.LastSeen) {
		a.LastSeen = b.LastSeen
	}
	if a.Description == "" {
		a.Description = b.Description
	}
	return a
}

func mergeStrings(a, b []string) []string {
	for _, s := range b {
		found := false
		for _, x := range a {
			if x == s {
				found = true
				break
			}
		}
		if !found {
			a = append(a, s)
		}
	}
	return a
}

// AddWarninglist stores a warninglist for the tenant; it applies to
// indicators from the next index rebuild (Close does one).
func (im *Import) AddWarninglist(ctx context.Context, wl *Warninglist) error {
	if err := im.s.repo.putWarninglist(ctx, im.tenant, wl, im.s.now()); err != nil {
		return err
	}
	im.stats.Warninglists++
	im.lists = true
	return nil
}

// batchWriter stores batches handed to it in order, one at a time, so that
// reading and normalizing the next batch overlaps with the database work.
type batchWriter struct {
	batches chan []Indicator
	done    chan struct{}
	stored  atomic.Int64
	err     atomic.Pointer[error]
}

func (im *Import) startWriter(ctx context.Context) {
	w := &batchWriter{batches: make(chan []Indicator), done: make(chan struct{})}
	im.w = w
	go func() {
		defer close(w.done)
		defer im.s.repo.resetCache(ctx)
		for batch := range w.batches {
			if w.err.Load() != nil {
				continue // drain: the import fails at its next Add or Close
			}
			if err := im.s.repo.upsert(ctx, im.tenant, batch, im.s.now()); err != nil {
				w.err.Store(&err)
				continue
			}
			w.stored.Add(int64(len(batch)))
		}
	}()
}

// wait ends the writer after what was handed to it and returns its error.
func (w *batchWriter) wait() error {
	close(w.batches)
	<-w.done
	if p := w.err.Load(); p != nil {
		return *p
	}
	return nil
}

// flush hands the buffered batch to the writer (final: or writes it here
// when the import is small enough to never have started one).
func (im *Import) flush(ctx context.Context, final bool) error {
	if im.w != nil {
		if p := im.w.err.Load(); p != nil {
			return *p
		}
	}
	if len(im.buf) == 0 {
		return nil
	}
	// In key order, inserts touch neighbouring B-tree pages.
	slices.SortFunc(im.buf, func(a, b Indicator) int { return strings.Compare(a.ID, b.ID) })
	if len(im.fresh) <= im.s.cfg.RetroMaxIndicators {
		im.fresh = append(im.fresh, im.buf...)
	}
	clear(im.seen)
	if final && im.w == nil {
		err := im.s.repo.upsert(ctx, im.tenant, im.buf, im.s.now())
		im.s.repo.resetCache(ctx)
		if err != nil {
			return err
		}
		im.stats.Stored += len(im.buf)
		im.buf = im.buf[:0]
		return nil
	}
	if im.w == nil {
		im.startWriter(context.WithoutCancel(ctx))
	}
	batch := im.buf
	im.buf = make([]Indicator, 0, len(batch))
	select {
	case im.w.batches <- batch:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// finish waits for the writer and counts what it stored.
func (im *Import) finish() error {
	if im.w == nil {
		return nil
	}
	err := im.w.wait()
	im.stats.Stored += int(im.w.stored.Load())
	im.w = nil
	return err
}

// Abort ends an import without writing what is buffered (batches already
// handed to the writer are stored).
func (im *Import) Abort() {
	im.buf = nil
	_ = im.finish()
	im.done()
}

// Stats returns the counts so far.
func (im *Import) Stats() ImportStats {
	st := im.stats
	if im.w != nil {
		st.Stored += int(im.w.stored.Load())
	}
	return st
}

// Close writes what is buffered, rebuilds the tenant's index, and
// retro-matches the new indicators against recent events.
//
// An import that is abandoned (the request failed) must still be closed,
// or Abort-ed, so that deferred rebuilds stop waiting for it.
func (im *Import) Close(ctx context.Context) (ImportStats, error) {
	defer im.done()
	err := im.flush(ctx, true)
	if ferr := im.finish(); err == nil {
		err = ferr
	}
	if err != nil {
		return im.stats, err
	}
	if im.stats.Stored == 0 && !im.lists {
		return im.stats, nil
	}
	if im.DeferRebuild {
		im.s.ScheduleRebuild(im.tenant)
	} else {
		im.s.pendingMu.Lock()
		if t := im.s.pendingRb[im.tenant]; t != nil && t.Stop() {
			delete(im.s.pendingRb, im.tenant)
		}
		im.s.pendingMu.Unlock()
		if err := im.s.Rebuild(ctx, im.tenant); err != nil {
			return im.stats, err
		}
	}
	if len(im.fresh) > 0 && len(im.fresh) <= im.s.cfg.RetroMaxIndicators {
		n, err := im.s.RetroMatch(ctx, im.tenant, im.fresh)
		if err != nil {
			im.s.log.Warn("intel_retro_match_failed", "tenant", im.tenant, "err", err)
		}
		im.stats.Retro = n
	}
	return im.stats, nil
}

// Get returns one indicator.
func (s *Service) Get(ctx context.Context, tenant, id string) (Indicator, error) {
	return s.repo.get(ctx, tenant, id)
}

// List returns indicators matching f, ordered by id.
func (s *Service) List(ctx context.Context, tenant string, f ListFilter) ([]Indicator, error) {
	return s.repo.list(ctx, tenant, f)
}

// Changed pages through the tenant's indicators in the order they were
// written (TAXII): those written after (after, afterID), marked with one
// of tlps (none: any), at most limit (1..10,000).
func (s *Service) Changed(ctx context.Context, tenant string, after time.Time, afterID string, tlps []TLP, limit int) ([]Changed, error) {
	return s.repo.changedSince(ctx, tenant, after, afterID, tlps, min(max(limit, 1), 10000))
}

// Each streams all indicators of a tenant (exports).
func (s *Service) Each(ctx context.Context, tenant string, fn func(*Indicator) error) error {
	return s.repo.each(ctx, tenant, fn)
}

// Delete removes an indicator and rebuilds the index.
func (s *Service) Delete(ctx context.Context, tenant, id string) error {
	if err := s.repo.delete(ctx, tenant, id); err != nil {
		return err
	}
	return s.Rebuild(ctx, tenant)
}

// Sightings lists the newest sightings of an indicator.
func (s *Service) Sightings(ctx context.Context, tenant, id string, limit int) ([]Sighting, error) {
	return s.repo.sightings(ctx, tenant, id, limit)
}

// Warninglists lists the tenant's warninglists (entries left out).
func (s *Service) Warninglists(ctx context.Context, tenant string) ([]Warninglist, error) {
	lists, err := s.repo.warninglists(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]Warninglist, 0, len(lists))
	for _, l := range lists {
		c := *l
		c.List = nil
		out = append(out, c)
	}
	return out, nil
}

// DeleteWarninglist stops applying a list (indicators it flagged alert
// again) and rebuilds the index.
func (s *Service) DeleteWarninglist(ctx context.Context, tenant, name string) error {
	if err := s.repo.deleteWarninglist(ctx, tenant, name); err != nil {
		return err
	}
	return s.Rebuild(ctx, tenant)
}

// LookupResult is what is known about one value.
type LookupResult struct {
	Type  string `json:"type"`
	Value string `json:"value"`
	// Indicators are the stored indicators the value matches: itself, a
	// network containing it, a parent domain.
	Indicators []Indicator `json:"indicators"`
	// Warninglist names a list the value is on.
	Warninglist string `json:"warninglist,omitempty"`
	// Alerting says whether a sighting of the value would raise an alert
	// now (matched, not warninglisted, valid and not decayed).
	Alerting bool `json:"alerting"`
}

// ErrBadValue is returned by Lookup for a value of no known type; its text
// is safe to show.
var ErrBadValue = errors.New("not an address, network, domain, URL, hash or e-mail address")

// Lookup finds what the tenant knows about a bare value.
func (s *Service) Lookup(ctx context.Context, tenant, value string) (LookupResult, error) {
	t, v, ok := Guess(value)
	if !ok {
		return LookupResult{}, ErrBadValue
	}
	res := LookupResult{Type: t.String(), Value: v, Indicators: []Indicator{}}
	ids := map[string]bool{ID(t, v): true}
	ti := s.state.Load().tenants[tenant]
	now := s.now()
	at := uint32(max(now.Unix(), 0))
	if ti != nil {
		res.Warninglist = ti.wl.Check(t, v)
		var hits []Hit
		switch t {
		case TypeIP:
			hits = ti.ix.LookupIP(hits, "", v, at)
		case TypeDomain:
			hits = ti.ix.LookupDomain(hits, "", v, at)
		case TypeURL:
			hits = ti.ix.LookupURL(hits, "", v, at)
		case TypeEmail:
			hits = ti.ix.LookupEmail(hits, "", v, at)
		case TypeMD5, TypeSHA1, TypeSHA256, TypeSHA512:
			hits = ti.ix.LookupHash(hits, "", v, at)
		case TypeIPPort, TypeCIDR, TypePattern, TypeUnknown, numTypes:
		}
		for _, h := range hits {
			ids[ID(h.Type, h.Value)] = true
		}
	}
	keys := make([]string, 0, len(ids))
	for id := range ids {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	for _, id := range keys {
		ind, err := s.repo.get(ctx, tenant, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return res, err
		}
		res.Indicators = append(res.Indicators, ind)
		if ind.Warninglist == "" && res.Warninglist == "" && AlertUntil(&ind, s.cfg.Decay[ind.Type]).After(now) && !ind.ValidFrom.After(now) &&
			(ti == nil || ti.wl.Check(ind.Type, ind.Value) == "") {
			res.Alerting = true
		}
	}
	return res, nil
}

// Stats describes the service for the status page.
type Stats struct {
	Tenants    map[string]TenantStats `json:"tenants"`
	Events     uint64                 `json:"events_checked"`
	Matched    uint64                 `json:"matched"`
	Suppressed uint64                 `json:"suppressed"`
	Dropped    uint64                 `json:"dropped"`
	Sighted    uint64                 `json:"sighted"`
}

// TenantStats describes one tenant's index.
type TenantStats struct {
	Indicators   int            `json:"indicators"`
	ByType       map[string]int `json:"by_type"`
	Warninglists int            `json:"warninglists"`
	Built        time.Time      `json:"built"`
}

// Stats returns counters and index sizes.
func (s *Service) Stats() Stats {
	st := Stats{Tenants: map[string]TenantStats{}, Events: s.stats.events.Load(), Matched: s.stats.matched.Load(),
		Suppressed: s.stats.suppressed.Load(), Dropped: s.stats.dropped.Load(), Sighted: s.stats.sighted.Load()}
	for t, ti := range s.state.Load().tenants {
		st.Tenants[t] = TenantStats{Indicators: ti.ix.Len(), ByType: ti.ix.Counts(), Warninglists: ti.wl.Len(), Built: ti.built}
	}
	return st
}
