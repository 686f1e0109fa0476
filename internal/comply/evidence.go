package comply

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// EvidenceKind says what an evidence item holds.
type EvidenceKind string

// Evidence kinds.
const (
	EvidenceFile   EvidenceKind = "file"
	EvidenceLink   EvidenceKind = "link"
	EvidenceResult EvidenceKind = "result"
)

// Valid reports whether k is a known kind.
func (k EvidenceKind) Valid() bool {
	switch k {
	case EvidenceFile, EvidenceLink, EvidenceResult:
		return true
	}
	return false
}

// MaxEvidenceSize bounds an uploaded evidence file.
const MaxEvidenceSize = 32 << 20

// Evidence is an item supporting a requirement, with its revisions.
type Evidence struct {
	ID          string       `json:"id"`
	Title       string       `json:"title"`
	Kind        EvidenceKind `json:"kind"`
	Framework   string       `json:"framework"`
	Requirement string       `json:"requirement"`
	Revisions   int64        `json:"revisions"`
	CreatedAt   time.Time    `json:"created_at"`
	Version     int64        `json:"version"`
	// Latest is the newest revision (without content).
	Latest *Revision `json:"latest,omitempty"`
}

// Revision is one version of an evidence item. EffectiveAt is when the
// evidence is true (a policy's approval date, a test's run), separate from
// UploadedAt; RenewBy is when it must be renewed.
type Revision struct {
	EvidenceID  string    `json:"evidence_id"`
	Revision    int64     `json:"revision"`
	Name        string    `json:"name,omitempty"`
	MediaType   string    `json:"media_type,omitempty"`
	URL         string    `json:"url,omitempty"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	EffectiveAt time.Time `json:"effective_at"`
	UploadedAt  time.Time `json:"uploaded_at"`
	UploadedBy  string    `json:"uploaded_by"`
	RenewBy     time.Time `json:"renew_by,omitzero"`
}

// EvidenceInput creates an item or adds a revision.
type EvidenceInput struct {
	Title       string       `json:"title"`
	Kind        EvidenceKind `json:"kind"`
	Framework   string       `json:"framework"`
	Requirement string       `json:"requirement"`
	Name        string       `json:"name,omitempty"`
	MediaType   string       `json:"media_type,omitempty"`
	URL         string       `json:"url,omitempty"`
	Content     []byte       `json:"-"`
	EffectiveAt time.Time    `json:"effective_at"`
	RenewBy     time.Time    `json:"renew_by,omitzero"`
}

func (s *Service) checkRevision(in *EvidenceInput, kind EvidenceKind) error {
	switch kind {
	case EvidenceFile, EvidenceResult:
		if len(in.Content) == 0 {
			return invalidf("a %s evidence revision needs content", kind)
		}
		if in.Name == "" {
			in.Name = "evidence"
		}
		if strings.ContainsAny(in.Name, `/\`) || strings.HasPrefix(in.Name, ".") {
			return invalidf("evidence file name %q: no paths", in.Name)
		}
	case EvidenceLink:
		u, err := url.Parse(in.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalidf("a link evidence needs an http(s) URL")
		}
		in.Content = []byte(in.URL)
	default:
		return invalidf("evidence kind %q: want file, link or result", kind)
	}
	if len(in.Content) > MaxEvidenceSize {
		return invalidf("evidence larger than %d MiB", MaxEvidenceSize>>20)
	}
	if in.EffectiveAt.IsZero() {
		in.EffectiveAt = s.Now()
	}
	if !in.RenewBy.IsZero() && !in.RenewBy.After(in.EffectiveAt) {
		return invalidf("renew-by must lie after the effective date")
	}
	return nil
}

// AddEvidence creates an evidence item with its first revision.
func (s *Service) AddEvidence(ctx context.Context, tenant string, in EvidenceInput, actor string) (Evidence, error) {
	if strings.TrimSpace(in.Title) == "" {
		return Evidence{}, invalidf("evidence needs a title")
	}
	if in.Framework == "" || in.Requirement == "" {
		return Evidence{}, invalidf("evidence needs a framework and a requirement")
	}
	cat, err := s.Catalog(ctx, tenant, in.Framework)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Evidence{}, invalidf("unknown framework %s", in.Framework)
		}
		return Evidence{}, err
	}
	if _, ok := cat.Find(in.Requirement); !ok {
		return Evidence{}, invalidf("unknown requirement %s in %s", in.Requirement, in.Framework)
	}
	if !in.Kind.Valid() {
		return Evidence{}, invalidf("evidence kind %q: want file, link or result", in.Kind)
	}
	if err := s.checkRevision(&in, in.Kind); err != nil {
		return Evidence{}, err
	}
	now := s.Now().Truncate(time.Microsecond)
	ev := Evidence{ID: newID("evd_"), Title: in.Title, Kind: in.Kind, Framework: in.Framework, Requirement: in.Requirement,
		Revisions: 1, CreatedAt: now, Version: 1}
	var rev Revision
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO comply_evidence (id, tenant, title, kind, framework, requirement, revisions, created_at, version)
			VALUES (?, ?, ?, ?, ?, ?, 1, ?, 1)`, ev.ID, tenant, ev.Title, string(ev.Kind), ev.Framework, ev.Requirement, store.TimeOf(now)); err != nil {
			return err
		}
		var err error
		rev, err = insertRevision(ctx, tx, tenant, ev.ID, 1, in, now, actor)
		return err
	})
	if err != nil {
		return Evidence{}, fmt.Errorf("add evidence: %w", err)
	}
	ev.Latest = &rev
	s.publish(ctx, "compliance.evidence.added", tenant, ev.ID, actor, rev)
	return ev, nil
}

// AddRevision appends a revision to an item (a renewed document, a new
// export).
func (s *Service) AddRevision(ctx context.Context, tenant, id string, in EvidenceInput, actor string) (Revision, error) {
	ev, err := s.GetEvidence(ctx, tenant, id)
	if err != nil {
		return Revision{}, err
	}
	if err := s.checkRevision(&in, ev.Kind); err != nil {
		return Revision{}, err
	}
	now := s.Now().Truncate(time.Microsecond)
	var rev Revision
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := store.UpdateVersioned(ctx, tx, "comply_evidence", tenant, id, ev.Version, "revisions = revisions + 1"); err != nil {
			return err
		}
		var err error
		rev, err = insertRevision(ctx, tx, tenant, id, ev.Revisions+1, in, now, actor)
		return err
	})
	if err != nil {
		return Revision{}, fmt.Errorf("add evidence revision %s: %w", id, err)
	}
	s.publish(ctx, "compliance.evidence.revised", tenant, id, actor, rev)
	return rev, nil
}

func insertRevision(ctx context.Context, tx *store.Tx, tenant, id string, n int64, in EvidenceInput, now time.Time, actor string) (Revision, error) {
	sum := sha256.Sum256(in.Content)
	rev := Revision{EvidenceID: id, Revision: n, Name: in.Name, MediaType: in.MediaType, URL: in.URL,
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(in.Content)), EffectiveAt: in.EffectiveAt.UTC().Truncate(time.Microsecond),
		UploadedAt: now, UploadedBy: actor, RenewBy: in.RenewBy.UTC().Truncate(time.Microsecond)}
	if in.RenewBy.IsZero() {
		rev.RenewBy = time.Time{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO comply_evidence_revisions (tenant, evidence_id, revision, name, media_type, url, sha256, size,
		content, effective_at, uploaded_at, uploaded_by, renew_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tenant, id, n, rev.Name, rev.MediaType, rev.URL, rev.SHA256, rev.Size, base64.StdEncoding.EncodeToString(in.Content),
		store.TimeOf(rev.EffectiveAt), store.TimeOf(now), actor, store.TimeOf(rev.RenewBy))
	return rev, err
}

const evidenceCols = `id, title, kind, framework, requirement, revisions, created_at, version`

func scanEvidence(sc interface{ Scan(...any) error }) (Evidence, error) {
	var e Evidence
	var kind string
	var at store.Timestamp
	err := sc.Scan(&e.ID, &e.Title, &kind, &e.Framework, &e.Requirement, &e.Revisions, &at, &e.Version)
	e.Kind, e.CreatedAt = EvidenceKind(kind), at.Time
	return e, err
}

// GetEvidence returns an item with its latest revision.
func (s *Service) GetEvidence(ctx context.Context, tenant, id string) (Evidence, error) {
	e, err := scanEvidence(s.db.QueryRow(ctx, `SELECT `+evidenceCols+` FROM comply_evidence WHERE tenant = ? AND id = ?`, tenant, id))
	if errors.Is(err, errNoRows) {
		return Evidence{}, fmt.Errorf("evidence %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return Evidence{}, fmt.Errorf("read evidence %s: %w", id, err)
	}
	revs, err := s.Revisions(ctx, tenant, id)
	if err != nil {
		return Evidence{}, err
	}
	if len(revs) > 0 {
		e.Latest = &revs[len(revs)-1]
	}
	return e, nil
}

// EvidenceFilter selects evidence items.
type EvidenceFilter struct {
	Framework   string
	Requirement string
	// RenewWithin lists only items whose latest revision must be renewed
	// before now + RenewWithin.
	RenewWithin time.Duration
}

// ListEvidence lists items with their latest revision.
func (s *Service) ListEvidence(ctx context.Context, tenant string, f EvidenceFilter) ([]Evidence, error) {
	q := `SELECT ` + evidenceCols + ` FROM comply_evidence WHERE tenant = ?`
	args := []any{tenant}
	if f.Framework != "" {
		q += ` AND framework = ?`
		args = append(args, f.Framework)
	}
	if f.Requirement != "" {
		q += ` AND requirement = ?`
		args = append(args, f.Requirement)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY framework, requirement, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list evidence: %w", err)
	}
	var out []Evidence
	for rows.Next() {
		e, err := scanEvidence(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list evidence: %w", err)
		}
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list evidence: %w", err)
	}
	latest, err := s.latestRevisions(ctx, tenant)
	if err != nil {
		return nil, err
	}
	deadline := s.Now().Add(f.RenewWithin)
	kept := out[:0]
	for _, e := range out {
		if r, ok := latest[e.ID]; ok {
			e.Latest = &r
		}
		if f.RenewWithin > 0 && (e.Latest == nil || e.Latest.RenewBy.IsZero() || e.Latest.RenewBy.After(deadline)) {
			continue
		}
		kept = append(kept, e)
	}
	return kept, nil
}

const revisionCols = `evidence_id, revision, name, media_type, url, sha256, size, effective_at, uploaded_at, uploaded_by, renew_by`

func scanRevision(sc interface{ Scan(...any) error }) (Revision, error) {
	var r Revision
	var eff, up, renew store.Timestamp
	err := sc.Scan(&r.EvidenceID, &r.Revision, &r.Name, &r.MediaType, &r.URL, &r.SHA256, &r.Size, &eff, &up, &r.UploadedBy, &renew)
	r.EffectiveAt, r.UploadedAt, r.RenewBy = eff.Time, up.Time, renew.Time
	return r, err
}

func (s *Service) latestRevisions(ctx context.Context, tenant string) (map[string]Revision, error) {
	rows, err := s.db.Query(ctx, `SELECT `+revisionCols+` FROM comply_evidence_revisions WHERE tenant = ? ORDER BY evidence_id, revision`, tenant)
	if err != nil {
		return nil, fmt.Errorf("read evidence revisions: %w", err)
	}
	defer rows.Close()
	out := map[string]Revision{}
	for rows.Next() {
		r, err := scanRevision(rows)
		if err != nil {
			return nil, fmt.Errorf("read evidence revisions: %w", err)
		}
		out[r.EvidenceID] = r
	}
	return out, rows.Err()
}

// Revisions lists an item's revisions, oldest first.
func (s *Service) Revisions(ctx context.Context, tenant, id string) ([]Revision, error) {
	rows, err := s.db.Query(ctx, `SELECT `+revisionCols+` FROM comply_evidence_revisions WHERE tenant = ? AND evidence_id = ? ORDER BY revision`, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("read evidence %s revisions: %w", id, err)
	}
	defer rows.Close()
	var out []Revision
	for rows.Next() {
		r, err := scanRevision(rows)
		if err != nil {
			return nil, fmt.Errorf("read evidence %s revisions: %w", id, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Content returns a revision's bytes, checked against its SHA-256.
func (s *Service) Content(ctx context.Context, tenant, id string, revision int64) (Revision, []byte, error) {
	var enc string
	r, err := scanRevisionWith(s.db.QueryRow(ctx, `SELECT `+revisionCols+`, content FROM comply_evidence_revisions
		WHERE tenant = ? AND evidence_id = ? AND revision = ?`, tenant, id, revision), &enc)
	if errors.Is(err, errNoRows) {
		return Revision{}, nil, fmt.Errorf("evidence %s revision %d: %w", id, revision, store.ErrNotFound)
	}
	if err != nil {
		return Revision{}, nil, fmt.Errorf("read evidence %s revision %d: %w", id, revision, err)
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return Revision{}, nil, fmt.Errorf("decode evidence %s revision %d: %w", id, revision, err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != r.SHA256 {
		return Revision{}, nil, fmt.Errorf("evidence %s revision %d: stored content does not match its SHA-256", id, revision)
	}
	return r, b, nil
}

func scanRevisionWith(sc interface{ Scan(...any) error }, content *string) (Revision, error) {
	var r Revision
	var eff, up, renew store.Timestamp
	err := sc.Scan(&r.EvidenceID, &r.Revision, &r.Name, &r.MediaType, &r.URL, &r.SHA256, &r.Size, &eff, &up, &r.UploadedBy, &renew, content)
	r.EffectiveAt, r.UploadedAt, r.RenewBy = eff.Time, up.Time, renew.Time
	return r, err
}
