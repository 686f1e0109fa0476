// Package auth holds identities and access: for now API tokens, stored as
// SHA-256 hashes in the state store. Roles, users, sessions, OIDC and mTLS
// join it later; the HTTP middleware seam verifies a bearer token through
// TokenStore.Verify.
package auth

import (
	"embed"
	"io/fs"

	"github.com/wacht-soc/wacht/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

func init() {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("auth", sub)
}
