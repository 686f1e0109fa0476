// Package assets is wacht's asset inventory (a CMDB-lite): hosts, virtual
// machines, container images, applications, cloud resources and services,
// each known by identifiers (hostnames, addresses, MACs, cloud ids, image
// digests, package URLs). Scanner reports and stored events observe assets;
// observations that share an identifier are merged into one asset. Owner,
// criticality and exposure are edited by people or imported from CSV, and
// feed vulnerability prioritization and incident priority.
//
// A newly seen asset is announced on the bus as asset.discovered.
package assets

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

func init() {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("assets", sub)
}

// EventDiscovered is published when an observation creates an asset.
const EventDiscovered = "asset.discovered"

// Kind is what an asset is.
type Kind string

// Asset kinds.
const (
	KindHost        Kind = "host"
	KindVM          Kind = "vm"
	KindImage       Kind = "container_image"
	KindApplication Kind = "application"
	KindCloud       Kind = "cloud_resource"
	KindService     Kind = "service"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	switch k {
	case KindHost, KindVM, KindImage, KindApplication, KindCloud, KindService:
		return true
	}
	return false
}

// Exposure is how reachable an asset is; internet-facing is CISA's
// "publicly exposed".
type Exposure string

// Exposures, most exposed first; "" is unknown.
const (
	ExposureUnknown  Exposure = ""
	ExposureInternet Exposure = "internet"
	ExposurePartner  Exposure = "partner"
	ExposureInternal Exposure = "internal"
	ExposureIsolated Exposure = "isolated"
)

// Valid reports whether e is a known exposure.
func (e Exposure) Valid() bool {
	switch e {
	case ExposureUnknown, ExposureInternet, ExposurePartner, ExposureInternal, ExposureIsolated:
		return true
	}
	return false
}

// PubliclyExposed is CISA's decision point: reachable from the internet.
func (e Exposure) PubliclyExposed() bool {
	switch e {
	case ExposureInternet:
		return true
	case ExposureUnknown, ExposurePartner, ExposureInternal, ExposureIsolated:
		return false
	}
	return false
}

// Criticality runs from 1 (low) to 4 (critical); 0 is not yet rated.
type Criticality int

// Mission prevalence is SSVC's: how much the mission depends on the asset.
const (
	PrevalenceMinimal   = "minimal"
	PrevalenceSupport   = "support"
	PrevalenceEssential = "essential"
)

// ValidPrevalence reports whether p is "" (unknown) or an SSVC mission
// prevalence.
func ValidPrevalence(p string) bool {
	switch p {
	case "", PrevalenceMinimal, PrevalenceSupport, PrevalenceEssential:
		return true
	}
	return false
}

// Identifier names an asset.
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Asset is one inventory record.
type Asset struct {
	ID                string       `json:"id"`
	Tenant            string       `json:"tenant"`
	Kind              Kind         `json:"kind"`
	Name              string       `json:"name"`
	Identifiers       []Identifier `json:"identifiers"`
	Owner             string       `json:"owner,omitempty"`
	Team              string       `json:"team,omitempty"`
	BusinessService   string       `json:"business_service,omitempty"`
	Environment       string       `json:"environment,omitempty"`
	Criticality       Criticality  `json:"criticality"`
	Exposure          Exposure     `json:"exposure,omitempty"`
	DataClass         string       `json:"data_classification,omitempty"`
	MissionPrevalence string       `json:"mission_prevalence,omitempty"`
	Lifecycle         string       `json:"lifecycle,omitempty"`
	OS                string       `json:"os,omitempty"`
	Tags              []string     `json:"tags,omitempty"`
	Source            string       `json:"source,omitempty"`
	FirstSeen         time.Time    `json:"first_seen"`
	LastSeen          time.Time    `json:"last_seen"`
	Version           int64        `json:"version"`
}

// Observation is an asset as a scanner report or an event shows it.
type Observation struct {
	Kind        Kind
	Name        string
	Identifiers []Identifier
	OS          string
	// Source says who saw it ("trivy", "events").
	Source string
}

// MergeHook moves what other domains attach to asset from onto asset into,
// inside the merge transaction.
type MergeHook func(ctx context.Context, tx *store.Tx, tenant, from, into string) error

// Service is the inventory.
type Service struct {
	db  *store.DB
	bus *bus.Bus
	now func() time.Time
	log *slog.Logger

	mu    sync.Mutex
	hooks []MergeHook
	disc  *discovery
}

// New returns the inventory over db. bus may be nil (offline tools).
func New(db *store.DB, b *bus.Bus, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: db, bus: b, now: now, log: log}
	s.disc = newDiscovery(s)
	return s
}

// OnMerge registers a hook run when two assets are merged.
func (s *Service) OnMerge(h MergeHook) {
	s.mu.Lock()
	s.hooks = append(s.hooks, h)
	s.mu.Unlock()
}

// Normalize returns the identifier in canonical form, or false when it is
// empty or malformed.
func Normalize(id Identifier) (Identifier, bool) {
	id.Type = strings.ToLower(strings.TrimSpace(id.Type))
	id.Value = strings.TrimSpace(id.Value)
	if id.Type == "" || id.Value == "" || len(id.Value) > 1024 {
		return id, false
	}
	switch id.Type {
	case "hostname", "mac":
		id.Value = strings.ToLower(strings.TrimSuffix(id.Value, "."))
	case "ip":
		a, err := netip.ParseAddr(id.Value)
		if err != nil {
			return id, false
		}
		id.Value = a.Unmap().String()
	}
	return id, true
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "as_" + hex.EncodeToString(b[:])
}

// Observe records an observation: it finds the asset holding any of its
// identifiers (merging several into the oldest), adds the new identifiers
// and updates last seen, or creates the asset. created reports the latter.
func (s *Service) Observe(ctx context.Context, tenant string, o Observation) (a Asset, created bool, err error) {
	var ids []Identifier
	for _, id := range o.Identifiers {
		if n, ok := Normalize(id); ok && !slices.Contains(ids, n) {
			ids = append(ids, n)
		}
	}
	if o.Name == "" && len(ids) > 0 {
		o.Name = ids[0].Value
	}
	if o.Name == "" {
		return Asset{}, false, fmt.Errorf("%w: observe asset: no name and no identifier", ErrInvalid)
	}
	if len(ids) == 0 {
		ids = []Identifier{{Type: "name", Value: o.Name}}
	}
	if !o.Kind.Valid() {
		o.Kind = KindHost
	}
	now := s.now().UTC()
	var id string
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		id, created = "", false
		found, err := holders(ctx, tx, tenant, ids)
		if err != nil {
			return err
		}
		switch {
		case len(found) == 0:
			id, created = newID(), true
			_, err := tx.Exec(ctx, `INSERT INTO assets (id, tenant, kind, name, os, source, first_seen, last_seen, version)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)`, id, tenant, string(o.Kind), o.Name, o.OS, o.Source, store.TimeOf(now), store.TimeOf(now))
			if err != nil {
				return fmt.Errorf("insert asset: %w", err)
			}
		default:
			id = found[0]
			for _, other := range found[1:] {
				if err := s.mergeTx(ctx, tx, tenant, other, id); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, `UPDATE assets SET last_seen = ?, os = CASE WHEN os = '' THEN ? ELSE os END
				WHERE tenant = ? AND id = ?`, store.TimeOf(now), o.OS, tenant, id)
			if err != nil {
				return fmt.Errorf("update asset %s: %w", id, err)
			}
		}
		for _, x := range ids {
			if _, err := tx.Exec(ctx, store.Upsert("asset_identifiers", []string{"tenant", "type", "value", "asset_id"}, []string{"tenant", "type", "value"}, nil),
				tenant, x.Type, x.Value, id); err != nil {
				return fmt.Errorf("add identifier to asset %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return Asset{}, false, fmt.Errorf("observe asset %s: %w", o.Name, err)
	}
	a, err = s.Get(ctx, tenant, id)
	if err != nil {
		return Asset{}, false, err
	}
	if created && s.bus != nil {
		s.bus.Publish(ctx, bus.Event{Type: EventDiscovered, Tenant: tenant, Subject: a.ID, Actor: "system", Data: a})
	}
	return a, created, nil
}

// holders returns the assets holding any of ids, oldest first.
func holders(ctx context.Context, q store.Querier, tenant string, ids []Identifier) ([]string, error) {
	var found []string
	for _, x := range ids {
		var aid string
		err := q.QueryRow(ctx, `SELECT asset_id FROM asset_identifiers WHERE tenant = ? AND type = ? AND value = ?`, tenant, x.Type, x.Value).Scan(&aid)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("find identifier %s=%s: %w", x.Type, x.Value, err)
		default:
			if !slices.Contains(found, aid) {
				found = append(found, aid)
			}
		}
	}
	if len(found) < 2 {
		return found, nil
	}
	type aged struct {
		id    string
		first store.Timestamp
	}
	var as []aged
	for _, id := range found {
		var t store.Timestamp
		if err := q.QueryRow(ctx, `SELECT first_seen FROM assets WHERE tenant = ? AND id = ?`, tenant, id).Scan(&t); err != nil {
			return nil, fmt.Errorf("read asset %s: %w", id, err)
		}
		as = append(as, aged{id, t})
	}
	sort.Slice(as, func(i, j int) bool {
		if !as[i].first.Equal(as[j].first.Time) {
			return as[i].first.Before(as[j].first.Time)
		}
		return as[i].id < as[j].id
	})
	found = found[:0]
	for _, a := range as {
		found = append(found, a.id)
	}
	return found, nil
}

// Merge folds asset from into asset into: identifiers move, other domains
// repoint their records (merge hooks), from is deleted.
func (s *Service) Merge(ctx context.Context, tenant, from, into string) error {
	if from == into {
		return errors.New("merge asset into itself")
	}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		for _, id := range []string{from, into} {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM assets WHERE tenant = ? AND id = ?`, tenant, id).Scan(&one); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("asset %s: %w", id, store.ErrNotFound)
				}
				return err
			}
		}
		return s.mergeTx(ctx, tx, tenant, from, into)
	})
	if err != nil {
		return fmt.Errorf("merge asset %s into %s: %w", from, into, err)
	}
	return nil
}

func (s *Service) mergeTx(ctx context.Context, tx *store.Tx, tenant, from, into string) error {
	s.mu.Lock()
	hooks := append([]MergeHook(nil), s.hooks...)
	s.mu.Unlock()
	for _, h := range hooks {
		if err := h(ctx, tx, tenant, from, into); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE asset_identifiers SET asset_id = ? WHERE tenant = ? AND asset_id = ?`, into, tenant, from); err != nil {
		return fmt.Errorf("move identifiers: %w", err)
	}
	// The merged record keeps the earlier first seen, the later last seen,
	// every attribute the survivor lacks and the tags of both.
	if err := mergeAttributes(ctx, tx, tenant, from, into); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM assets WHERE tenant = ? AND id = ?`, tenant, from); err != nil {
		return fmt.Errorf("delete merged asset: %w", err)
	}
	return nil
}

func mergeAttributes(ctx context.Context, tx *store.Tx, tenant, from, into string) error {
	var pair [2]Asset
	for i, id := range []string{from, into} {
		a, err := scanAsset(tx.QueryRow(ctx, `SELECT `+assetCols+` FROM assets WHERE tenant = ? AND id = ?`, tenant, id))
		if err != nil {
			return fmt.Errorf("merge attributes: read asset %s: %w", id, err)
		}
		pair[i] = a
	}
	src, dst := pair[0], pair[1]
	keep := func(d *string, s string) {
		if *d == "" {
			*d = s
		}
	}
	keep(&dst.Owner, src.Owner)
	keep(&dst.Team, src.Team)
	keep(&dst.BusinessService, src.BusinessService)
	keep(&dst.Environment, src.Environment)
	keep(&dst.DataClass, src.DataClass)
	keep(&dst.MissionPrevalence, src.MissionPrevalence)
	keep(&dst.Lifecycle, src.Lifecycle)
	keep(&dst.OS, src.OS)
	if dst.Exposure == ExposureUnknown {
		dst.Exposure = src.Exposure
	}
	if dst.Criticality == 0 {
		dst.Criticality = src.Criticality
	}
	if src.FirstSeen.Before(dst.FirstSeen) {
		dst.FirstSeen = src.FirstSeen
	}
	if src.LastSeen.After(dst.LastSeen) {
		dst.LastSeen = src.LastSeen
	}
	_, err := tx.Exec(ctx, `UPDATE assets SET owner = ?, team = ?, business_service = ?, environment = ?, data_class = ?,
		mission_prevalence = ?, lifecycle = ?, os = ?, exposure = ?, criticality = ?, tags = ?, first_seen = ?, last_seen = ?,
		version = version + 1 WHERE tenant = ? AND id = ?`,
		dst.Owner, dst.Team, dst.BusinessService, dst.Environment, dst.DataClass, dst.MissionPrevalence, dst.Lifecycle, dst.OS,
		string(dst.Exposure), int(dst.Criticality), joinTags(append(dst.Tags, src.Tags...)), store.TimeOf(dst.FirstSeen),
		store.TimeOf(dst.LastSeen), tenant, into)
	if err != nil {
		return fmt.Errorf("merge attributes: %w", err)
	}
	return nil
}

const assetCols = `id, tenant, kind, name, owner, team, business_service, environment, criticality, exposure,
	data_class, mission_prevalence, lifecycle, os, tags, source, first_seen, last_seen, version`

func scanAsset(sc interface{ Scan(...any) error }) (Asset, error) {
	var a Asset
	var kind, exposure, tags string
	var first, last store.Timestamp
	err := sc.Scan(&a.ID, &a.Tenant, &kind, &a.Name, &a.Owner, &a.Team, &a.BusinessService, &a.Environment, &a.Criticality,
		&exposure, &a.DataClass, &a.MissionPrevalence, &a.Lifecycle, &a.OS, &tags, &a.Source, &first, &last, &a.Version)
	a.Kind, a.Exposure, a.FirstSeen, a.LastSeen = Kind(kind), Exposure(exposure), first.Time, last.Time
	if tags != "" {
		a.Tags = strings.Split(tags, ",")
	}
	return a, err
}

// Get returns one asset with its identifiers.
func (s *Service) Get(ctx context.Context, tenant, id string) (Asset, error) {
	a, err := scanAsset(s.db.QueryRow(ctx, `SELECT `+assetCols+` FROM assets WHERE tenant = ? AND id = ?`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Asset{}, fmt.Errorf("asset %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return Asset{}, fmt.Errorf("read asset %s: %w", id, err)
	}
	rows, err := s.db.Query(ctx, `SELECT type, value FROM asset_identifiers WHERE tenant = ? AND asset_id = ? ORDER BY type, value`, tenant, id)
	if err != nil {
		return Asset{}, fmt.Errorf("read identifiers of asset %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var x Identifier
		if err := rows.Scan(&x.Type, &x.Value); err != nil {
			return Asset{}, err
		}
		a.Identifiers = append(a.Identifiers, x)
	}
	return a, rows.Err()
}

// Lookup returns the asset holding an identifier.
func (s *Service) Lookup(ctx context.Context, tenant string, id Identifier) (Asset, error) {
	n, ok := Normalize(id)
	if !ok {
		return Asset{}, fmt.Errorf("identifier %s=%q: %w", id.Type, id.Value, store.ErrNotFound)
	}
	var aid string
	err := s.db.QueryRow(ctx, `SELECT asset_id FROM asset_identifiers WHERE tenant = ? AND type = ? AND value = ?`, tenant, n.Type, n.Value).Scan(&aid)
	if errors.Is(err, sql.ErrNoRows) {
		return Asset{}, fmt.Errorf("identifier %s=%s: %w", n.Type, n.Value, store.ErrNotFound)
	}
	if err != nil {
		return Asset{}, fmt.Errorf("lookup identifier: %w", err)
	}
	return s.Get(ctx, tenant, aid)
}

// Filter selects assets for List.
type Filter struct {
	Kind Kind
	// Query matches name, owner or team (substring, case-sensitive).
	Query    string
	Exposure Exposure
	Limit    int
	Offset   int
}

// List returns assets by name (without identifiers).
func (s *Service) List(ctx context.Context, tenant string, f Filter) ([]Asset, error) {
	q := `SELECT ` + assetCols + ` FROM assets WHERE tenant = ?`
	args := []any{tenant}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, string(f.Kind))
	}
	if f.Exposure != "" {
		q += ` AND exposure = ?`
		args = append(args, string(f.Exposure))
	}
	if f.Query != "" {
		q += ` AND (name LIKE ? OR owner LIKE ? OR team LIKE ?)`
		like := "%" + f.Query + "%"
		args = append(args, like, like, like)
	}
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 1000
	}
	q += fmt.Sprintf(` ORDER BY name, id LIMIT %d OFFSET %d`, f.Limit, max(f.Offset, 0))
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list assets: %w", err)
	}
	defer rows.Close()
	var out []Asset
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			return nil, fmt.Errorf("list assets: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Patch changes the attributes people own; nil fields stay.
type Patch struct {
	Name              *string      `json:"name,omitempty"`
	Kind              *Kind        `json:"kind,omitempty"`
	Owner             *string      `json:"owner,omitempty"`
	Team              *string      `json:"team,omitempty"`
	BusinessService   *string      `json:"business_service,omitempty"`
	Environment       *string      `json:"environment,omitempty"`
	Criticality       *Criticality `json:"criticality,omitempty"`
	Exposure          *Exposure    `json:"exposure,omitempty"`
	DataClass         *string      `json:"data_classification,omitempty"`
	MissionPrevalence *string      `json:"mission_prevalence,omitempty"`
	Lifecycle         *string      `json:"lifecycle,omitempty"`
	Tags              *[]string    `json:"tags,omitempty"`
}

// ErrInvalid marks a user error in an edit; its message is safe to show.
var ErrInvalid = errors.New("invalid asset")

// Update applies p if the asset is still at version (store.ErrConflict
// otherwise).
func (s *Service) Update(ctx context.Context, tenant, id string, version int64, p Patch) (Asset, error) {
	var sets []string
	var args []any
	set := func(col string, v any) { sets = append(sets, col+" = ?"); args = append(args, v) }
	if p.Name != nil {
		if strings.TrimSpace(*p.Name) == "" {
			return Asset{}, fmt.Errorf("%w: empty name", ErrInvalid)
		}
		set("name", *p.Name)
	}
	if p.Kind != nil {
		if !p.Kind.Valid() {
			return Asset{}, fmt.Errorf("%w: kind %q", ErrInvalid, *p.Kind)
		}
		set("kind", string(*p.Kind))
	}
	if p.Criticality != nil {
		if *p.Criticality < 0 || *p.Criticality > 4 {
			return Asset{}, fmt.Errorf("%w: criticality %d, want 1 (low) to 4 (critical), 0 unrated", ErrInvalid, *p.Criticality)
		}
		set("criticality", int(*p.Criticality))
	}
	if p.Exposure != nil {
		if !p.Exposure.Valid() {
			return Asset{}, fmt.Errorf("%w: exposure %q, want internet, partner, internal or isolated", ErrInvalid, *p.Exposure)
		}
		set("exposure", string(*p.Exposure))
	}
	if p.MissionPrevalence != nil {
		v := strings.ToLower(strings.TrimSpace(*p.MissionPrevalence))
		if !ValidPrevalence(v) {
			return Asset{}, fmt.Errorf("%w: mission prevalence %q, want minimal, support or essential", ErrInvalid, *p.MissionPrevalence)
		}
		p.MissionPrevalence = &v
	}
	for col, v := range map[string]*string{"owner": p.Owner, "team": p.Team, "business_service": p.BusinessService,
		"environment": p.Environment, "data_class": p.DataClass, "mission_prevalence": p.MissionPrevalence, "lifecycle": p.Lifecycle} {
		if v != nil {
			set(col, *v)
		}
	}
	if p.Tags != nil {
		set("tags", joinTags(*p.Tags))
	}
	if len(sets) == 0 {
		return s.Get(ctx, tenant, id)
	}
	if _, err := store.UpdateVersioned(ctx, s.db, "assets", tenant, id, version, strings.Join(sets, ", "), args...); err != nil {
		return Asset{}, err
	}
	return s.Get(ctx, tenant, id)
}

func joinTags(tags []string) string {
	var out []string
	for _, t := range tags {
		t = strings.TrimSpace(strings.ReplaceAll(t, ",", " "))
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return strings.Join(out, ",")
}

// Count returns the number of assets of a tenant.
func (s *Service) Count(ctx context.Context, tenant string) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM assets WHERE tenant = ?`, tenant).Scan(&n); err != nil {
		return 0, fmt.Errorf("count assets: %w", err)
	}
	return n, nil
}

// Logger is the service's logger (for the HTTP layer's error lines).
func (s *Service) Logger() *slog.Logger { return s.log }
