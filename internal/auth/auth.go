// Package auth holds identities: API tokens (scoped by role, expiring,
// revocable, stored as SHA-256), local users with argon2id passwords and
// TOTP, role bindings per tenant, web sessions (idle timeout, absolute
// lifetime, step-up), login lockout, OpenID Connect single sign-on, and a
// small CA whose client certificates ingest listeners require. Roles and
// the decision itself live in package api (one policy decision point).
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
