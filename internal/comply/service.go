package comply

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

// Options configure a Service.
type Options struct {
	// Engine evaluates Rego (internal/comply/rego); required to evaluate.
	Engine Engine
	// Sources compute the facts.
	Sources []FactSource
	// Bus receives compliance.* domain events, which the audit trail
	// records (evidence revisions thereby enter its Merkle tree).
	Bus *bus.Bus
	Now func() time.Time
	Log *slog.Logger
	// WaiverWarnBefore is how long before expiry owners are warned
	// (default 14 days).
	WaiverWarnBefore time.Duration
	// MaxWaiver bounds a waiver's lifetime (default 365 days).
	MaxWaiver time.Duration
	// PDF prints reports (nil: PDF unavailable, HTML only).
	PDF PDFPrinter
	// NoPDF says why PDF is unavailable when PDF is nil (no browser
	// found, a wrong WACHT_CHROMIUM); requests for PDF repeat it.
	NoPDF error
	// Export holds the signing key and audit trail exports use when the
	// caller gives none.
	Export ExportOptions
}

// Service is the compliance domain.
type Service struct {
	db       *store.DB
	engine   Engine
	sources  []FactSource
	bus      *bus.Bus
	now      func() time.Time
	log      *slog.Logger
	builtin  *Bundle
	catalogs []*Catalog
	warn     time.Duration
	maxW     time.Duration
	export   ExportOptions
	pdf      PDFPrinter
	noPDF    error

	mu       sync.Mutex
	compiled map[string]Compiled // by bundle hash
}

// New builds the service over db. It fails only if the embedded catalogs
// or checks are broken (a build defect).
func New(db *store.DB, o Options) (*Service, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.WaiverWarnBefore <= 0 {
		o.WaiverWarnBefore = 14 * 24 * time.Hour
	}
	if o.MaxWaiver <= 0 {
		o.MaxWaiver = 365 * 24 * time.Hour
	}
	cats, err := BuiltinCatalogs()
	if err != nil {
		return nil, err
	}
	b, err := BuiltinBundle()
	if err != nil {
		return nil, err
	}
	if err := b.Validate(cats); err != nil {
		return nil, fmt.Errorf("built-in checks: %w", err)
	}
	return &Service{db: db, engine: o.Engine, sources: o.Sources, bus: o.Bus, now: o.Now, log: o.Log,
		builtin: b, catalogs: cats, warn: o.WaiverWarnBefore, maxW: o.MaxWaiver, export: o.Export, pdf: o.PDF, noPDF: o.NoPDF, compiled: map[string]Compiled{}}, nil
}

// Logger is the service's logger (the API logs internal errors with it).
func (s *Service) Logger() *slog.Logger { return s.log }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now().UTC() }

// BuiltinBundle returns the shipped checks and policies.
func (s *Service) BuiltinBundle() *Bundle { return s.builtin }

// Engine returns the policy engine (nil when none is configured).
func (s *Service) Engine() Engine { return s.engine }

func (s *Service) publish(ctx context.Context, typ, tenant, subject, actor string, data any) {
	if s.bus == nil {
		return
	}
	s.bus.Publish(ctx, bus.Event{Type: typ, Tenant: tenant, Time: s.Now(), Subject: subject, Actor: actor, Data: data})
}

func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// ---------------------------------------------------------------------------
// Catalogs

// Catalogs returns the built-in catalogs and those the tenant imported.
func (s *Service) Catalogs(ctx context.Context, tenant string) ([]*Catalog, error) {
	out := append([]*Catalog(nil), s.catalogs...)
	rows, err := s.db.Query(ctx, `SELECT body FROM comply_catalogs WHERE tenant = ? ORDER BY id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("list catalogs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("list catalogs: %w", err)
		}
		c := new(Catalog)
		if err := json.Unmarshal([]byte(body), c); err != nil {
			return nil, fmt.Errorf("decode stored catalog: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Catalog returns one catalog by id.
func (s *Service) Catalog(ctx context.Context, tenant, id string) (*Catalog, error) {
	cats, err := s.Catalogs(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, c := range cats {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, fmt.Errorf("catalog %s: %w", id, store.ErrNotFound)
}

// SaveCatalog stores an imported catalog for the tenant (replacing one
// with the same id). Built-in ids cannot be replaced.
func (s *Service) SaveCatalog(ctx context.Context, tenant string, c *Catalog, actor string) error {
	if err := c.Validate(); err != nil {
		return err
	}
	for _, b := range s.catalogs {
		if b.ID == c.ID {
			return invalidf("catalog %s is built in", c.ID)
		}
	}
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode catalog: %w", err)
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM comply_catalogs WHERE tenant = ? AND id = ?`, tenant, c.ID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO comply_catalogs (tenant, id, body, imported_at, imported_by) VALUES (?, ?, ?, ?, ?)`,
			tenant, c.ID, string(body), store.TimeOf(s.Now()), actor)
		return err
	})
	if err != nil {
		return fmt.Errorf("save catalog %s: %w", c.ID, err)
	}
	s.publish(ctx, "compliance.catalog.imported", tenant, c.ID, actor, CatalogSummary{ID: c.ID, Name: c.Name,
		Source: c.Source, Requirements: len(c.Requirements)})
	return nil
}

// CatalogSummary is a catalog without its requirements.
type CatalogSummary struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Short        string `json:"short,omitempty"`
	Source       string `json:"source"`
	Licence      string `json:"licence,omitempty"`
	Requirements int    `json:"requirements"`
	// Checks counts the requirements at least one check covers.
	Covered int `json:"covered"`
}

// Frameworks summarizes the tenant's catalogs.
func (s *Service) Frameworks(ctx context.Context, tenant string) ([]CatalogSummary, error) {
	cats, err := s.Catalogs(ctx, tenant)
	if err != nil {
		return nil, err
	}
	b, err := s.Bundle(ctx, tenant)
	if err != nil {
		return nil, err
	}
	covered := checksByRequirement(b)
	out := make([]CatalogSummary, 0, len(cats))
	for _, c := range cats {
		cs := CatalogSummary{ID: c.ID, Name: c.Name, Short: c.Short, Source: c.Source, Licence: c.Licence, Requirements: len(c.Requirements)}
		for _, r := range c.Requirements {
			if len(covered[Mapping{frameworkKey(c), r.ID}]) > 0 {
				cs.Covered++
			}
		}
		out = append(out, cs)
	}
	return out, nil
}

// frameworkKey is the framework id checks map to: imported TISAX
// catalogs are all "tisax".
func frameworkKey(c *Catalog) string {
	if c.Source == SourceTISAX {
		return FrameworkTISAX
	}
	return c.ID
}

func checksByRequirement(b *Bundle) map[Mapping][]string {
	out := map[Mapping][]string{}
	for _, c := range b.Checks {
		for _, m := range c.Maps {
			out[m] = append(out[m], c.ID)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Bundles: built-in plus the tenant's own.

// TenantBundle is a tenant's own checks and policies.
type TenantBundle struct {
	ID         string    `json:"id"`
	Hash       string    `json:"hash"`
	UploadedAt time.Time `json:"uploaded_at"`
	UploadedBy string    `json:"uploaded_by"`
	Bundle     Bundle    `json:"bundle"`
}

// Bundle returns the checks the tenant's evaluations run: the built-in
// ones and the tenant's bundles (whose check ids must not collide).
func (s *Service) Bundle(ctx context.Context, tenant string) (*Bundle, error) {
	tbs, err := s.TenantBundles(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := &Bundle{Checks: append([]Check(nil), s.builtin.Checks...), Modules: append([]PolicyModule(nil), s.builtin.Modules...)}
	for _, tb := range tbs {
		out.Checks = append(out.Checks, tb.Bundle.Checks...)
		for _, m := range tb.Bundle.Modules {
			out.Modules = append(out.Modules, PolicyModule{Name: tb.ID + "." + m.Name, Source: m.Source})
		}
	}
	sort.Slice(out.Checks, func(i, j int) bool { return out.Checks[i].ID < out.Checks[j].ID })
	params, err := s.params(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for i, c := range out.Checks {
		if p := params[c.ID]; len(p) > 0 {
			merged := make(map[string]any, len(c.Params)+len(p))
			maps.Copy(merged, c.Params)
			maps.Copy(merged, p)
			out.Checks[i].Params = merged
		}
	}
	return out, nil
}

// TenantBundles lists the tenant's uploaded bundles.
func (s *Service) TenantBundles(ctx context.Context, tenant string) ([]TenantBundle, error) {
	rows, err := s.db.Query(ctx, `SELECT id, body, hash, uploaded_at, uploaded_by FROM comply_bundles WHERE tenant = ? ORDER BY id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("list policy bundles: %w", err)
	}
	defer rows.Close()
	var out []TenantBundle
	for rows.Next() {
		var tb TenantBundle
		var body string
		var at store.Timestamp
		if err := rows.Scan(&tb.ID, &body, &tb.Hash, &at, &tb.UploadedBy); err != nil {
			return nil, fmt.Errorf("list policy bundles: %w", err)
		}
		tb.UploadedAt = at.Time
		if err := json.Unmarshal([]byte(body), &tb.Bundle); err != nil {
			return nil, fmt.Errorf("decode policy bundle %s: %w", tb.ID, err)
		}
		out = append(out, tb)
	}
	return out, rows.Err()
}

// SaveBundle stores a tenant's own bundle after validating it, compiling it
// together with the built-in policies and running its Rego tests, which
// must pass.
func (s *Service) SaveBundle(ctx context.Context, tenant, id string, b *Bundle, actor string) (TenantBundle, []TestResult, error) {
	if !checkID.MatchString(id) {
		return TenantBundle{}, nil, invalidf("bundle id %q: lower-case letters, digits, '.', '_', '-'", id)
	}
	cats, err := s.Catalogs(ctx, tenant)
	if err != nil {
		return TenantBundle{}, nil, err
	}
	if err := b.Validate(cats); err != nil {
		return TenantBundle{}, nil, err
	}
	for _, c := range b.Checks {
		for _, bc := range s.builtin.Checks {
			if c.ID == bc.ID {
				return TenantBundle{}, nil, invalidf("check %s is built in; choose another id", c.ID)
			}
		}
		if strings.HasPrefix(c.Package, "wacht.") {
			return TenantBundle{}, nil, invalidf("check %s: package %s is reserved; use tenant.<name>", c.ID, c.Package)
		}
	}
	if s.engine == nil {
		return TenantBundle{}, nil, errors.New("save policy bundle: no policy engine")
	}
	all := append(append([]PolicyModule(nil), s.builtin.Modules...), b.Modules...)
	if _, err := s.engine.Compile(ctx, policyOnly(all)); err != nil {
		return TenantBundle{}, nil, invalidf("%v", err)
	}
	tests, err := s.engine.Test(ctx, all)
	if err != nil {
		return TenantBundle{}, nil, invalidf("%v", err)
	}
	for _, t := range tests {
		if !t.Pass && !t.Skipped {
			return TenantBundle{}, tests, invalidf("policy test %s.%s failed: %s", t.Package, t.Name, t.Error)
		}
	}
	body, _ := json.Marshal(b)
	tb := TenantBundle{ID: id, Hash: b.Hash(), UploadedAt: s.Now().Truncate(time.Microsecond), UploadedBy: actor, Bundle: *b}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM comply_bundles WHERE tenant = ? AND id = ?`, tenant, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO comply_bundles (tenant, id, body, hash, uploaded_at, uploaded_by) VALUES (?, ?, ?, ?, ?, ?)`,
			tenant, id, string(body), tb.Hash, store.TimeOf(tb.UploadedAt), actor)
		return err
	})
	if err != nil {
		return TenantBundle{}, nil, fmt.Errorf("save policy bundle %s: %w", id, err)
	}
	s.publish(ctx, "compliance.bundle.saved", tenant, id, actor, struct {
		ID   string `json:"id"`
		Hash string `json:"hash"`
	}{id, tb.Hash})
	return tb, tests, nil
}

func policyOnly(mods []PolicyModule) []PolicyModule {
	b := Bundle{Modules: mods}
	return b.PolicyModules()
}

// TestChecks runs the Rego unit tests of the tenant's checks (the
// built-in ones and the tenant's bundles).
func (s *Service) TestChecks(ctx context.Context, tenant string) ([]TestResult, error) {
	if s.engine == nil {
		return nil, errors.New("test checks: no policy engine")
	}
	b, err := s.Bundle(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return s.engine.Test(ctx, b.Modules)
}

func (s *Service) compile(ctx context.Context, b *Bundle, hash string) (Compiled, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.compiled[hash]; ok {
		return c, nil
	}
	c, err := s.engine.Compile(ctx, b.PolicyModules())
	if err != nil {
		return nil, err
	}
	if len(s.compiled) > 64 {
		clear(s.compiled)
	}
	s.compiled[hash] = c
	return c, nil
}

// Run evaluates every tenant on each tick (the schedule; tests drive it)
// and warns owners of expiring waivers, until ctx ends. tenants lists the
// tenants to evaluate.
// The first round runs at once.
func (s *Service) Run(ctx context.Context, tick <-chan time.Time, tenants func(context.Context) ([]string, error)) {
	for {
		ts, err := tenants(ctx)
		if err != nil {
			s.log.Error("compliance_tenants_failed", "err", err)
		}
		for _, t := range ts {
			if _, _, err := s.Evaluate(ctx, t, s.Now(), CauseSchedule, "system"); err != nil && ctx.Err() == nil {
				s.log.Error("compliance_evaluate_failed", "tenant", t, "err", err)
			}
			if _, err := s.WarnExpiring(ctx, t); err != nil && ctx.Err() == nil {
				s.log.Error("compliance_waiver_warn_failed", "tenant", t, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}
