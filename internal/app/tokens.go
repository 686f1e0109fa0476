package app

import (
	"context"
	"errors"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/store"
)

// tokenAuth checks API tokens against the state store.
type tokenAuth struct{ ts *auth.TokenStore }

func newTokenAuth(db *store.DB) *tokenAuth {
	return &tokenAuth{ts: auth.NewTokenStore(db, time.Now)}
}

func (t *tokenAuth) Authenticate(ctx context.Context, token string) (api.Identity, error) {
	tok, err := t.ts.Verify(ctx, token)
	if err != nil {
		if errors.Is(err, auth.ErrInvalidToken) {
			return api.Identity{}, api.ErrDenied
		}
		return api.Identity{}, err
	}
	return api.Identity{Subject: "token:" + tok.Name, TokenID: tok.ID, Tenant: tok.Tenant, Role: tok.Role}, nil
}
