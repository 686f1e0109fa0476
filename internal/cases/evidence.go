package cases

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/store"
)

// Evidence is an attachment of an incident. Its SHA-256 is computed when
// it is added and checked again on every download.
type Evidence struct {
	ID          string    `json:"id"`
	IncidentID  string    `json:"incident_id"`
	Name        string    `json:"name"`
	MediaType   string    `json:"media_type"`
	Description string    `json:"description,omitempty"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	AddedBy     string    `json:"added_by"`
	AddedAt     time.Time `json:"added_at"`
	Custody     []Custody `json:"custody,omitempty"`
}

// Custody is one link of the chain of custody.
type Custody struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // added, downloaded, verified
	SHA256 string    `json:"sha256"`
	Intact bool      `json:"intact"`
}

// ErrTampered is returned when stored evidence no longer matches its hash.
var ErrTampered = errors.New("evidence content does not match its recorded SHA-256")

// AddEvidence stores an attachment read from r.
func (s *Service) AddEvidence(ctx context.Context, tenant, incID, name, mediaType, description string, r io.Reader, actor string) (Evidence, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 255 || strings.ContainsAny(name, "/\\\x00") {
		return Evidence{}, userErrorf("evidence name: required, at most 255 characters, no slashes")
	}
	if mediaType == "" {
		mediaType = "application/octet-stream"
	}
	content, err := io.ReadAll(io.LimitReader(r, s.maxEvidence+1))
	if err != nil {
		return Evidence{}, fmt.Errorf("read evidence %s: %w", name, err)
	}
	if int64(len(content)) > s.maxEvidence {
		return Evidence{}, userErrorf("evidence larger than %d bytes", s.maxEvidence)
	}
	sum := sha256.Sum256(content)
	now := s.clock()
	ev := Evidence{ID: newID("evd_"), IncidentID: incID, Name: name, MediaType: mediaType, Description: description,
		Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]), AddedBy: actor, AddedAt: now}
	err = s.touch(ctx, tenant, incID, actor, "evidence "+name, func(tx *store.Tx, inc *Incident) error {
		if _, err := tx.Exec(ctx, `INSERT INTO case_evidence (tenant, id, incident_id, name, media_type, description, size, sha256, added_by, added_at, content)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, ev.ID, incID, ev.Name, ev.MediaType, ev.Description, ev.Size, ev.SHA256, actor, store.TimeOf(now), content); err != nil {
			return fmt.Errorf("store evidence %s: %w", name, err)
		}
		if err := addCustody(ctx, tx, tenant, ev.ID, now, actor, "added", ev.SHA256, true); err != nil {
			return err
		}
		return addTimeline(ctx, tx, tenant, incID, now, "evidence", actor, fmt.Sprintf("evidence %s added (%d bytes, sha256 %s)", name, ev.Size, ev.SHA256), ev.ID)
	})
	if err != nil {
		return Evidence{}, err
	}
	ev.Custody = []Custody{{At: now, Actor: actor, Action: "added", SHA256: ev.SHA256, Intact: true}}
	return ev, nil
}

func addCustody(ctx context.Context, q store.Querier, tenant, evID string, at time.Time, actor, action, sum string, intact bool) error {
	if _, err := q.Exec(ctx, "INSERT INTO case_custody (tenant, id, evidence_id, at, actor, action, sha256, intact) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		tenant, newID("cus_"), evID, store.TimeOf(at), actor, action, sum, b2i(intact)); err != nil {
		return fmt.Errorf("record custody of %s: %w", evID, err)
	}
	return nil
}

const evidenceCols = "id, incident_id, name, media_type, description, size, sha256, added_by, added_at"

func scanEvidence(r rowScanner) (Evidence, error) {
	var e Evidence
	var at store.Timestamp
	err := r.Scan(&e.ID, &e.IncidentID, &e.Name, &e.MediaType, &e.Description, &e.Size, &e.SHA256, &e.AddedBy, &at)
	e.AddedAt = at.Time
	return e, err
}

// EvidenceList lists an incident's evidence (metadata).
func (s *Service) EvidenceList(ctx context.Context, tenant, incID string) ([]Evidence, error) {
	rows, err := s.db.Query(ctx, "SELECT "+evidenceCols+" FROM case_evidence WHERE tenant = ? AND incident_id = ? ORDER BY added_at, id", tenant, incID)
	if err != nil {
		return nil, fmt.Errorf("list evidence of %s: %w", incID, err)
	}
	defer rows.Close()
	out := []Evidence{}
	for rows.Next() {
		e, err := scanEvidence(rows)
		if err != nil {
			return nil, fmt.Errorf("list evidence of %s: %w", incID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// GetEvidence returns an attachment's metadata with its chain of custody.
func (s *Service) GetEvidence(ctx context.Context, tenant, incID, evID string) (Evidence, error) {
	e, err := scanEvidence(s.db.QueryRow(ctx, "SELECT "+evidenceCols+" FROM case_evidence WHERE tenant = ? AND incident_id = ? AND id = ?", tenant, incID, evID))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("evidence %s: %w", evID, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("get evidence %s: %w", evID, err)
	}
	rows, err := s.db.Query(ctx, "SELECT at, actor, action, sha256, intact FROM case_custody WHERE tenant = ? AND evidence_id = ? ORDER BY at, id", tenant, evID)
	if err != nil {
		return e, fmt.Errorf("custody of %s: %w", evID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c Custody
		var at store.Timestamp
		var intact int64
		if err := rows.Scan(&at, &c.Actor, &c.Action, &c.SHA256, &intact); err != nil {
			return e, fmt.Errorf("custody of %s: %w", evID, err)
		}
		c.At, c.Intact = at.Time, intact == 1
		e.Custody = append(e.Custody, c)
	}
	return e, rows.Err()
}

// DownloadEvidence returns the content after checking its hash, and
// records the download in the chain of custody. A mismatch is recorded
// too and returned as ErrTampered, without the content.
func (s *Service) DownloadEvidence(ctx context.Context, tenant, incID, evID, actor string) (Evidence, []byte, error) {
	var e Evidence
	var content []byte
	err := s.db.QueryRow(ctx, "SELECT "+evidenceCols+", content FROM case_evidence WHERE tenant = ? AND incident_id = ? AND id = ?", tenant, incID, evID).
		Scan(&e.ID, &e.IncidentID, &e.Name, &e.MediaType, &e.Description, &e.Size, &e.SHA256, &e.AddedBy, new(store.Timestamp), &content)
	if errors.Is(err, sql.ErrNoRows) {
		return e, nil, fmt.Errorf("evidence %s: %w", evID, ErrNotFound)
	}
	if err != nil {
		return e, nil, fmt.Errorf("read evidence %s: %w", evID, err)
	}
	sum := sha256.Sum256(content)
	got := hex.EncodeToString(sum[:])
	intact := got == e.SHA256
	if err := addCustody(ctx, s.db, tenant, evID, s.clock(), actor, "downloaded", got, intact); err != nil {
		return e, nil, err
	}
	if !intact {
		s.log.Error("evidence_hash_mismatch", "tenant", tenant, "incident", incID, "evidence", evID, "want", e.SHA256, "got", got)
		s.publish(ctx, []bus.Event{{Type: EventIncidentUpdated, Tenant: tenant, Subject: incID, Actor: SystemActor,
			Data: IncidentChange{Changes: []string{"evidence " + evID + " failed its hash check"}}}})
		return e, nil, fmt.Errorf("download evidence %s: %w", evID, ErrTampered)
	}
	return e, content, nil
}
