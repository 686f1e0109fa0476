package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"

	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/store"
)

// demoUser creates (or resets) the console user "demo" with a new random
// password and returns the password.
func demoUser(ctx context.Context, db *store.DB) (string, error) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	pw := "demo-" + base64.RawURLEncoding.EncodeToString(b)
	users := auth.NewUsers(db, auth.UsersOptions{})
	u, err := users.ByUsername(ctx, "demo")
	switch {
	case err == nil:
		return pw, users.SetPassword(ctx, u.ID, pw)
	case errors.Is(err, store.ErrNotFound):
		_, err = users.Create(ctx, auth.NewUser{Tenant: "default", Username: "demo", DisplayName: "Demo analyst", Password: pw, Role: "admin"})
		return pw, err
	default:
		return "", err
	}
}
