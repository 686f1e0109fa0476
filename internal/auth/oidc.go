package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wacht-soc/wacht/internal/store"
)

// OIDCConfig configures single sign-on with an OpenID Connect provider.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string `json:"-"`
	// RedirectURL is wacht's callback, e.g. https://wacht.example/api/v1/auth/oidc/callback.
	RedirectURL string
}

// OIDC signs users in through an OpenID Connect provider (authorization
// code flow with PKCE, state and nonce). A provider's user signs in only
// when an administrator created a wacht user with a matching OIDC subject:
// the provider's "sub", or "email:<address>" for a verified e-mail.
type OIDC struct {
	users    *Users
	cfg      oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// ErrOIDCUnknownUser: the provider vouched for someone wacht has no user
// for.
var ErrOIDCUnknownUser = errors.New("single sign-on succeeded but no wacht user matches: ask an administrator")

// NewOIDC discovers the provider's endpoints and keys.
func NewOIDC(ctx context.Context, c OIDCConfig, users *Users) (*OIDC, error) {
	p, err := oidc.NewProvider(ctx, c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover oidc provider %s: %w", c.Issuer, err)
	}
	return &OIDC{
		users: users,
		cfg: oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"}},
		verifier: p.VerifierContext(ctx, &oidc.Config{ClientID: c.ClientID, Now: users.now}),
	}, nil
}

// Start begins a sign-in: it stores state, nonce and PKCE verifier and
// returns the provider URL to send the browser to.
func (o *OIDC) Start(ctx context.Context) (string, error) {
	state, nonce, verifier := randomID("", 16), randomID("", 16), oauth2.GenerateVerifier()
	exp := o.users.now().Add(10 * time.Minute)
	if _, err := o.users.db.Exec(ctx, "INSERT INTO oidc_states (state, tenant, nonce, verifier, expires_at) VALUES (?, ?, ?, ?, ?)",
		state, systemTenant, nonce, verifier, store.TimeOf(exp)); err != nil {
		return "", fmt.Errorf("start oidc sign-in: %w", err)
	}
	return o.cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// Callback completes a sign-in from the provider's redirect and opens a
// session in tenant ("" the user's home tenant).
func (o *OIDC) Callback(ctx context.Context, state, code, tenant, source string) (string, Session, error) {
	var nonce, verifier string
	var exp store.Timestamp
	err := o.users.db.Tx(ctx, func(tx *store.Tx) error {
		err := tx.QueryRow(ctx, "SELECT nonce, verifier, expires_at FROM oidc_states WHERE state = ?", state).Scan(&nonce, &verifier, &exp)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM oidc_states WHERE state = ? OR expires_at < ?", state, store.TimeOf(o.users.now()))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !o.users.now().Before(exp.Time)) {
		return "", Session{}, ErrLoginFailed
	}
	if err != nil {
		return "", Session{}, fmt.Errorf("oidc callback: %w", err)
	}
	tok, err := o.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		o.users.log.Warn("oidc_exchange_failed", "err", err)
		return "", Session{}, ErrLoginFailed
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return "", Session{}, ErrLoginFailed
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil || idt.Nonce != nonce {
		o.users.log.Warn("oidc_id_token_rejected", "err", err)
		return "", Session{}, ErrLoginFailed
	}
	var claims struct {
		Email    string `json:"email"`
		Verified bool   `json:"email_verified"`
		AMR      []string
	}
	if err := idt.Claims(&claims); err != nil {
		return "", Session{}, ErrLoginFailed
	}
	subjects := []any{idt.Subject}
	if claims.Email != "" && claims.Verified {
		subjects = append(subjects, "email:"+claims.Email)
	}
	usr, err := scanUser(o.users.db.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE oidc_subject IN (?, ?) AND oidc_subject <> ''",
		subjects[0], subjects[len(subjects)-1]))
	if errors.Is(err, sql.ErrNoRows) {
		return "", Session{}, ErrOIDCUnknownUser
	}
	if err != nil {
		return "", Session{}, fmt.Errorf("oidc callback: %w", err)
	}
	if usr.Disabled {
		return "", Session{}, ErrLoginFailed
	}
	if tenant == "" {
		tenant = usr.Tenant
	}
	m := MethodOIDC
	if slices.ContainsFunc(claims.AMR, func(a string) bool { return a == "mfa" || a == "otp" || a == "hwk" }) {
		m = MethodMFA
	}
	return o.users.openSession(ctx, usr, tenant, m, source)
}
