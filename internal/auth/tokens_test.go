package auth_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestTokenMigrations(t *testing.T) {
	storetest.TestMigrations(t)
}

func TestTokenCreateVerify(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		clock := newClock()
		ts := auth.NewTokenStore(db, clock.Now)
		plain, tok, err := ts.Create(ctx, auth.TokenSpec{Name: "ci", Role: auth.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(plain, auth.TokenPrefix) || len(plain) < len(auth.TokenPrefix)+43 {
			t.Errorf("token %q: want prefix %s and 32 random bytes", plain, auth.TokenPrefix)
		}
		if tok.Tenant != "default" || tok.Name != "ci" || tok.Role != "admin" || !tok.CreatedAt.Equal(clock.Now()) || !tok.ExpiresAt.IsZero() {
			t.Errorf("created %+v", tok)
		}
		got, err := ts.Verify(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != tok.ID || !got.LastUsedAt.Equal(clock.Now()) {
			t.Errorf("verified %+v", got)
		}
		other, _, err := ts.Create(ctx, auth.TokenSpec{Name: "ci", Role: auth.RoleAdmin})
		if err != nil || other == plain {
			t.Fatalf("second token %q equal to first or %v", other, err)
		}

		// Only the hash is stored: no column holds the token.
		sum := sha256.Sum256([]byte(plain))
		var id, hash string
		if err := db.QueryRow(ctx, "SELECT id, hash FROM api_tokens WHERE hash = ?", hex.EncodeToString(sum[:])).Scan(&id, &hash); err != nil || id != tok.ID {
			t.Fatalf("hash lookup: %s, %v", id, err)
		}
		rows, err := db.Query(ctx, "SELECT * FROM api_tokens")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			for i, v := range vals {
				if s := fmt.Sprint(v); strings.Contains(s, plain) || strings.Contains(s, plain[len(auth.TokenPrefix):]) {
					t.Errorf("column %s stores the token", cols[i])
				}
			}
		}
		rows.Close()
	})
}

func TestTokenInvalid(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		clock := newClock()
		ts := auth.NewTokenStore(db, clock.Now)
		plain, tok, err := ts.Create(ctx, auth.TokenSpec{Tenant: "acme", Name: "short", Role: "analyst", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if !tok.ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
			t.Errorf("expires %v", tok.ExpiresAt)
		}
		invalid := func(what, p string) {
			t.Helper()
			if _, err := ts.Verify(ctx, p); !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("%s: %v, want ErrInvalidToken", what, err)
			}
		}
		invalid("empty", "")
		invalid("no prefix", strings.TrimPrefix(plain, auth.TokenPrefix)+"xxxxxx")
		invalid("truncated", plain[:len(plain)-1])
		invalid("longer", plain+"A")
		last := plain[len(plain)-1]
		flipped := plain[:len(plain)-1] + string(map[bool]byte{true: 'B', false: 'A'}[last == 'A'])
		invalid("one character changed", flipped)

		clock.Advance(time.Hour - time.Microsecond)
		if _, err := ts.Verify(ctx, plain); err != nil {
			t.Errorf("just before expiry: %v", err)
		}
		clock.Advance(time.Microsecond)
		invalid("expired", plain)

		keep, kept, _ := ts.Create(ctx, auth.TokenSpec{Tenant: "acme", Name: "keep", Role: "analyst"})
		if err := ts.Revoke(ctx, "other", kept.ID); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("revoke from another tenant: %v", err)
		}
		if err := ts.Revoke(ctx, "acme", "tok_nope"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("revoke unknown: %v", err)
		}
		if _, err := ts.Verify(ctx, keep); err != nil {
			t.Fatalf("before revoke: %v", err)
		}
		if err := ts.Revoke(ctx, "acme", kept.ID); err != nil {
			t.Fatal(err)
		}
		if err := ts.Revoke(ctx, "acme", kept.ID); err != nil {
			t.Errorf("second revoke: %v", err)
		}
		invalid("revoked", keep)
		got, err := ts.Get(ctx, "acme", kept.ID)
		if err != nil || !got.RevokedAt.Equal(clock.Now()) || got.Active(clock.Now()) {
			t.Errorf("revoked token %+v, %v", got, err)
		}
	})
}

func TestTokenSpecValidation(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ts := auth.NewTokenStore(db, nil)
		ctx := storetest.Context(t)
		for _, spec := range []auth.TokenSpec{
			{Role: "admin"},
			{Name: "x"},
			{Name: "x", Role: "admin", TTL: -time.Second},
			{Name: "line\nbreak", Role: "admin"},
			{Name: strings.Repeat("n", 201), Role: "admin"},
		} {
			if _, _, err := ts.Create(ctx, spec); err == nil {
				t.Errorf("create %+v: no error", spec)
			}
		}
	})
}

func TestTokenListTenants(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		clock := newClock()
		ts := auth.NewTokenStore(db, clock.Now)
		for i := range 6 {
			tenant := []string{"a", "b"}[i%2]
			if _, _, err := ts.Create(ctx, auth.TokenSpec{Tenant: tenant, Name: fmt.Sprint("t", i), Role: "admin"}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Second)
		}
		list, err := ts.List(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tok := range list {
			if tok.Tenant != "a" {
				t.Errorf("tenant a lists %s", tok)
			}
			names = append(names, tok.Name)
		}
		if strings.Join(names, ",") != "t0,t2,t4" {
			t.Errorf("list a: %v", names)
		}
		if _, err := ts.Get(ctx, "b", list[0].ID); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("get a's token as b: %v", err)
		}
		none, err := ts.List(ctx, "nobody")
		if err != nil || len(none) != 0 {
			t.Errorf("empty tenant: %v, %v", none, err)
		}
	})
}

func TestTokenLastUsedThrottled(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		clock := newClock()
		ts := auth.NewTokenStore(db, clock.Now)
		plain, tok, _ := ts.Create(ctx, auth.TokenSpec{Name: "x", Role: "admin"})
		first := clock.Now()
		ts.Verify(ctx, plain)
		clock.Advance(30 * time.Second)
		ts.Verify(ctx, plain)
		got, _ := ts.Get(ctx, "default", tok.ID)
		if !got.LastUsedAt.Equal(first) {
			t.Errorf("last used %v, want %v (updated at most once a minute)", got.LastUsedAt, first)
		}
		clock.Advance(31 * time.Second)
		ts.Verify(ctx, plain)
		got, _ = ts.Get(ctx, "default", tok.ID)
		if !got.LastUsedAt.Equal(clock.Now()) {
			t.Errorf("last used %v, want %v", got.LastUsedAt, clock.Now())
		}
	})
}

// TestTokenNeverPrinted checks the ways a token could reach a log.
func TestTokenNeverPrinted(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		ts := auth.NewTokenStore(db, nil)
		plain, tok, err := ts.Create(ctx, auth.TokenSpec{Name: "x", Role: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		verified, _ := ts.Verify(ctx, plain)
		var buf bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&buf, nil))
		log.Info("created", "token", tok, "verified", verified)
		fmt.Fprintf(&buf, "%v %+v %#v %s", tok, tok, verified, verified)
		secret := plain[len(auth.TokenPrefix):]
		if strings.Contains(buf.String(), secret) {
			t.Errorf("token printed: %s", buf.String())
		}
		if !strings.Contains(buf.String(), tok.ID) {
			t.Errorf("token id missing from output: %s", buf.String())
		}
	})
}

func TestTokenConcurrentVerify(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		clock := newClock()
		ts := auth.NewTokenStore(db, clock.Now)
		plain, _, _ := ts.Create(ctx, auth.TokenSpec{Name: "x", Role: "admin"})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 20 {
					if _, err := ts.Verify(ctx, plain); err != nil {
						t.Error(err)
						return
					}
					clock.Advance(10 * time.Second)
				}
			})
		}
		wg.Wait()
	})
}
