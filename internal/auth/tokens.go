package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/internal/store"
)

// TokenPrefix starts every API token, so that secret scanners and people
// recognize one.
const TokenPrefix = "wacht_"

// tokenBytes of randomness per token (256 bits).
const tokenBytes = 32

// tokenLen is the length of a token: prefix and unpadded base64url.
var tokenLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenBytes)

// lastUsedEvery bounds how often Verify records last use, so that busy API
// clients do not turn every request into a write.
const lastUsedEvery = time.Minute

// Errors callers branch on.
var (
	// ErrInvalidToken: unknown, malformed, expired or revoked. Callers
	// answer 401 without saying which.
	ErrInvalidToken = errors.New("invalid token")
	// ErrNotFound: no token with this id for the tenant.
	ErrNotFound = store.ErrNotFound
)

// RoleAdmin is the role of tokens created before roles exist.
const RoleAdmin = "admin"

// Token is a stored API token. It never holds the secret, only its metadata.
type Token struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"` // zero: never
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// String names the token for humans and logs.
func (t Token) String() string {
	return fmt.Sprintf("token %s %q (tenant %s, role %s)", t.ID, t.Name, t.Tenant, t.Role)
}

// LogValue implements slog.LogValuer.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", t.ID), slog.String("tenant", t.Tenant),
		slog.String("name", t.Name), slog.String("role", t.Role))
}

// Active reports whether the token is usable at now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// TokenSpec describes a token to create.
type TokenSpec struct {
	Tenant string // default "default"
	Name   string // what it is for, e.g. "ci" or "filebeat-dmz"
	Role   string // e.g. RoleAdmin
	TTL    time.Duration
	// TTL 0 means the token does not expire.
}

// TokenStore keeps API tokens in the state store.
type TokenStore struct {
	db    *store.DB
	clock func() time.Time
}

// NewTokenStore returns a store over db; clock is time.Now when nil.
func NewTokenStore(db *store.DB, clock func() time.Time) *TokenStore {
	if clock == nil {
		clock = time.Now
	}
	return &TokenStore{db: db, clock: clock}
}

func hashToken(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

func validText(field, s string, maxLen int) error {
	switch {
	case s == "":
		return fmt.Errorf("token %s is empty", field)
	case len(s) > maxLen:
		return fmt.Errorf("token %s is longer than %d bytes", field, maxLen)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("token %s %q has control characters or invalid UTF-8", field, s)
	}
	return nil
}

// Create makes a new token and returns its plaintext, which is not stored
// and cannot be shown again.
func (s *TokenStore) Create(ctx context.Context, spec TokenSpec) (string, Token, error) {
	if spec.Tenant == "" {
		spec.Tenant = "default"
	}
	for _, f := range []struct{ name, v string }{{"tenant", spec.Tenant}, {"name", spec.Name}, {"role", spec.Role}} {
		if err := validText(f.name, f.v, 200); err != nil {
			return "", Token{}, fmt.Errorf("create token: %w", err)
		}
	}
	if spec.TTL < 0 {
		return "", Token{}, fmt.Errorf("create token %q: negative ttl %v", spec.Name, spec.TTL)
	}
	var secret [tokenBytes]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	plaintext := TokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	var idb [10]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	now := s.clock().UTC().Truncate(time.Microsecond)
	t := Token{
		ID:        "tok_" + hex.EncodeToString(idb[:]),
		Tenant:    spec.Tenant,
		Name:      spec.Name,
		Role:      spec.Role,
		CreatedAt: now,
	}
	if spec.TTL > 0 {
		t.ExpiresAt = now.Add(spec.TTL).Truncate(time.Microsecond)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO api_tokens (id, tenant, name, hash, role, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Tenant, t.Name, hashToken(plaintext), t.Role, store.TimeOf(t.CreatedAt), store.TimeOf(t.ExpiresAt))
	if err != nil {
		return "", Token{}, fmt.Errorf("create token %q for tenant %s: %w", t.Name, t.Tenant, err)
	}
	return plaintext, t, nil
}

const tokenColumns = "id, tenant, name, role, created_at, expires_at, revoked_at, last_used_at"

type rowScanner interface{ Scan(dest ...any) error }

func scanToken(r rowScanner, extra ...any) (Token, error) {
	var t Token
	var created, expires, revoked, used store.Timestamp
	dest := append([]any{&t.ID, &t.Tenant, &t.Name, &t.Role, &created, &expires, &revoked, &used}, extra...)
	if err := r.Scan(dest...); err != nil {
		return Token{}, err
	}
	t.CreatedAt, t.ExpiresAt, t.RevokedAt, t.LastUsedAt = created.Time, expires.Time, revoked.Time, used.Time
	return t, nil
}

// Verify returns the token for a plaintext presented by a client, or
// ErrInvalidToken when it is malformed, unknown, expired or revoked.
func (s *TokenStore) Verify(ctx context.Context, plaintext string) (Token, error) {
	if len(plaintext) != tokenLen || !strings.HasPrefix(plaintext, TokenPrefix) {
		return Token{}, ErrInvalidToken
	}
	want := hashToken(plaintext)
	var stored string
	t, err := scanToken(s.db.QueryRow(ctx, "SELECT "+tokenColumns+", hash FROM api_tokens WHERE hash = ?", want), &stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Token{}, ErrInvalidToken
	case err != nil:
		return Token{}, fmt.Errorf("verify token: %w", err)
	}
	// The index lookup found the hash; compare again in constant time so
	// that no code path depends on a byte-wise comparison of secrets.
	if subtle.ConstantTimeCompare([]byte(stored), []byte(want)) != 1 {
		return Token{}, ErrInvalidToken
	}
	now := s.clock()
	if !t.Active(now) {
		return Token{}, ErrInvalidToken
	}
	if now.Sub(t.LastUsedAt) >= lastUsedEvery {
		used := now.UTC().Truncate(time.Microsecond)
		if _, err := s.db.Exec(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE tenant = ? AND id = ?",
			store.TimeOf(used), t.Tenant, t.ID); err != nil {
			return Token{}, fmt.Errorf("verify token %s: record use: %w", t.ID, err)
		}
		t.LastUsedAt = used
	}
	return t, nil
}

// Get returns one token of a tenant.
func (s *TokenStore) Get(ctx context.Context, tenant, id string) (Token, error) {
	t, err := scanToken(s.db.QueryRow(ctx, "SELECT "+tokenColumns+" FROM api_tokens WHERE tenant = ? AND id = ?", tenant, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Token{}, fmt.Errorf("token %s of tenant %s: %w", id, tenant, ErrNotFound)
	case err != nil:
		return Token{}, fmt.Errorf("get token %s: %w", id, err)
	}
	return t, nil
}

// List returns a tenant's tokens, oldest first, revoked and expired ones
// included (Token.Active tells them apart).
func (s *TokenStore) List(ctx context.Context, tenant string) ([]Token, error) {
	rows, err := s.db.Query(ctx, "SELECT "+tokenColumns+" FROM api_tokens WHERE tenant = ? ORDER BY created_at, id", tenant)
	if err != nil {
		return nil, fmt.Errorf("list tokens of tenant %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens of tenant %s: %w", tenant, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens of tenant %s: %w", tenant, err)
	}
	return out, nil
}

// Revoke makes a token unusable from now on. Revoking a revoked token is
// not an error; an unknown one is ErrNotFound.
func (s *TokenStore) Revoke(ctx context.Context, tenant, id string) error {
	now := s.clock().UTC().Truncate(time.Microsecond)
	res, err := s.db.Exec(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE tenant = ? AND id = ? AND revoked_at IS NULL",
		store.TimeOf(now), tenant, id)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	} else if n == 1 {
		return nil
	}
	if _, err := s.Get(ctx, tenant, id); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	return nil
}
