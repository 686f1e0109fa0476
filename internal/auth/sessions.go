package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// Method is how a session was opened.
type Method string

// Session methods.
const (
	MethodPassword Method = "password"
	MethodMFA      Method = "mfa"
	MethodOIDC     Method = "oidc"
)

// SessionPrefix starts every session secret.
const SessionPrefix = "wachts_"

// Session is a signed-in person, seen in one tenant. It never carries the
// secret; CSRF is the anti-forgery token the console sends back in a
// header (not a credential on its own).
type Session struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id"`
	Username   string    `json:"username"`
	Tenant     string    `json:"tenant"`
	Role       string    `json:"role"`
	Method     Method    `json:"method"`
	CSRF       string    `json:"csrf_token"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeen   time.Time `json:"last_seen"`
	VerifiedAt time.Time `json:"verified_at,omitzero"`
	ExpiresAt  time.Time `json:"expires_at"`
	// Tenants lists the tenants the user may switch to, with the role.
	Tenants map[string]string `json:"tenants"`
}

// openSession stores a new session for usr in tenant.
func (u *Users) openSession(ctx context.Context, usr User, tenant string, m Method, source string) (string, Session, error) {
	roles, err := u.roles(ctx, u.db, usr.ID)
	if err != nil {
		return "", Session{}, fmt.Errorf("open session: %w", err)
	}
	role, ok := roles[tenant]
	if !ok {
		return "", Session{}, ErrNoBinding
	}
	now := u.stamp()
	secret := newSecret(SessionPrefix)
	s := Session{ID: randomID("ses_", 10), UserID: usr.ID, Username: usr.Username, Tenant: tenant, Role: role,
		Method: m, CSRF: randomID("", 16), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(u.policy.MaxAge), Tenants: roles}
	var verified store.Timestamp
	if m == MethodMFA {
		s.VerifiedAt, verified = now, store.TimeOf(now)
	}
	if len(source) > 200 {
		source = source[:200]
	}
	_, err = u.db.Exec(ctx, `INSERT INTO sessions (id, tenant, hash, user_id, csrf, method, source, created_at, last_seen,
		verified_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, tenant, secretHash(secret), usr.ID, s.CSRF, string(m), source, store.TimeOf(now), store.TimeOf(now),
		verified, store.TimeOf(s.ExpiresAt))
	if err != nil {
		return "", Session{}, fmt.Errorf("open session for %s: %w", usr.ID, err)
	}
	return secret, s, nil
}

// Authenticate returns the session behind a secret, seen in tenant ("":
// the tenant it was opened in). It refreshes the idle timer (at most once
// a minute) and fails with ErrNoSession when the session is unknown,
// revoked, idle too long or too old, or the user disabled, and ErrNoBinding
// when the user has no role in tenant.
func (u *Users) Authenticate(ctx context.Context, secret, tenant string) (Session, error) {
	if !strings.HasPrefix(secret, SessionPrefix) || len(secret) > 100 {
		return Session{}, ErrNoSession
	}
	var s Session
	var created, seen, verified, expires, revoked store.Timestamp
	var method string
	var disabled int
	err := u.db.QueryRow(ctx, `SELECT s.id, s.tenant, s.user_id, u.username, s.csrf, s.method, s.created_at, s.last_seen,
		s.verified_at, s.expires_at, s.revoked_at, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?`,
		secretHash(secret)).Scan(&s.ID, &s.Tenant, &s.UserID, &s.Username, &s.CSRF, &method, &created, &seen, &verified, &expires, &revoked, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("check session: %w", err)
	}
	s.Method, s.CreatedAt, s.LastSeen, s.VerifiedAt, s.ExpiresAt = Method(method), created.Time, seen.Time, verified.Time, expires.Time
	now := u.now()
	if !revoked.Time.IsZero() || disabled != 0 || !now.Before(s.ExpiresAt) || now.Sub(s.LastSeen) >= u.policy.IdleTimeout {
		return Session{}, ErrNoSession
	}
	if s.Tenants, err = u.roles(ctx, u.db, s.UserID); err != nil {
		return Session{}, fmt.Errorf("check session: %w", err)
	}
	if tenant != "" {
		s.Tenant = tenant
	}
	role, ok := s.Tenants[s.Tenant]
	if !ok {
		return Session{}, ErrNoBinding
	}
	s.Role = role
	if now.Sub(s.LastSeen) >= time.Minute {
		seenNow := now.UTC().Truncate(time.Microsecond)
		if _, err := u.db.Exec(ctx, "UPDATE sessions SET last_seen = ? WHERE id = ?", store.TimeOf(seenNow), s.ID); err != nil {
			return Session{}, fmt.Errorf("refresh session %s: %w", s.ID, err)
		}
		s.LastSeen = seenNow
	}
	return s, nil
}

// StepUp re-verifies the session's user (password, and TOTP when
// enrolled) for a sensitive action; it marks the session verified now.
func (u *Users) StepUp(ctx context.Context, sessionID, password, code string) error {
	var userID, hash, secret, username string
	var lastStep int64
	err := u.db.QueryRow(ctx, `SELECT u.id, u.username, u.password_hash, u.totp_secret, u.totp_last_step FROM sessions s
		JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.revoked_at IS NULL`, sessionID).Scan(&userID, &username, &hash, &secret, &lastStep)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNoSession
	}
	if err != nil {
		return fmt.Errorf("step up: %w", err)
	}
	now := u.now()
	if locked, err := u.locked(ctx, username, now); err != nil {
		return err
	} else if locked {
		return ErrLocked
	}
	ok := hash != ""
	if ok {
		if ok, err = checkPassword(password, hash); err != nil {
			return fmt.Errorf("step up: %w", err)
		}
	}
	var step int64
	if ok && secret != "" {
		step, ok = checkTOTP(secret, code, now, lastStep)
	}
	if !ok {
		if err := u.fail(ctx, username, now); err != nil {
			return err
		}
		return ErrLoginFailed
	}
	return u.db.Tx(ctx, func(tx *store.Tx) error {
		if step > 0 {
			if _, err := tx.Exec(ctx, "UPDATE users SET totp_last_step = ? WHERE id = ?", step, userID); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, "UPDATE sessions SET verified_at = ?, last_seen = ? WHERE id = ?",
			store.TimeOf(now.UTC()), store.TimeOf(now.UTC()), sessionID)
		return err
	})
}

// Logout revokes a session.
func (u *Users) Logout(ctx context.Context, sessionID string) error {
	_, err := u.db.Exec(ctx, "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", store.TimeOf(u.stamp()), sessionID)
	if err != nil {
		return fmt.Errorf("sign out %s: %w", sessionID, err)
	}
	return nil
}

// Policy returns the session rules in force.
func (u *Users) Policy() Policy { return u.policy }
