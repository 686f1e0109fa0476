package auth_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

func roleOK(r string) bool { return r == "security-analyst" || r == "admin" || r == "auditor" }
func newUsers(db *store.DB, c *fakeClock) *auth.Users {
	return auth.NewUsers(db, auth.UsersOptions{Now: c.Now, ValidRole: roleOK, FastHashing: true})
}

func TestTOTPRFC6238(t *testing.T) {
	// RFC 6238 appendix B, SHA-1 secret "12345678901234567890", 8 digits
	// there; the last 6 digits here.
	secret := "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	for _, c := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		if got := auth.TOTPCode(secret, time.Unix(c.unix, 0)); got != c.want {
			t.Errorf("TOTP at %d = %s, want %s", c.unix, got, c.want)
		}
	}
}

func TestLoginSessionsAndTenants(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx, clock := storetest.Context(t), newClock()
		u := newUsers(db, clock)
		alice, err := u.Create(ctx, auth.NewUser{Tenant: "acme", Username: "Alice", Password: "correct horse battery", Role: "security-analyst"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Create(ctx, auth.NewUser{Tenant: "acme", Username: "alice", Password: "correct horse battery", Role: "admin"}); !errors.Is(err, auth.ErrExists) {
			t.Fatalf("duplicate username: %v", err)
		}
		if _, err := u.Create(ctx, auth.NewUser{Tenant: "acme", Username: "bob", Password: "short", Role: "admin"}); !errors.Is(err, auth.ErrWeakPassword) {
			t.Fatalf("weak password: %v", err)
		}
		if _, err := u.Create(ctx, auth.NewUser{Tenant: "acme", Username: "eve", Password: "correct horse battery", Role: "root"}); err == nil {
			t.Fatal("unknown role accepted")
		}
		// Another tenant cannot see alice.
		if _, err := u.Get(ctx, "globex", alice.ID); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("alice visible in globex: %v", err)
		}
		if l, _ := u.List(ctx, "globex"); len(l) != 0 {
			t.Fatalf("globex lists %v", l)
		}
		secret, s, err := u.Login(ctx, auth.Login{Username: "alice", Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Tenant != "acme" || s.Role != "security-analyst" || s.Method != auth.MethodPassword || strings.Contains(s.CSRF, secret) {
			t.Fatalf("session %+v", s)
		}
		got, err := u.Authenticate(ctx, secret, "")
		if err != nil || got.ID != s.ID || got.Role != "security-analyst" {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
		if _, err := u.Authenticate(ctx, secret, "globex"); !errors.Is(err, auth.ErrNoBinding) {
			t.Fatalf("session in an unbound tenant: %v", err)
		}
		if err := u.Bind(ctx, "globex", alice.ID, "auditor"); err != nil {
			t.Fatal(err)
		}
		if got, err := u.Authenticate(ctx, secret, "globex"); err != nil || got.Role != "auditor" {
			t.Fatalf("after binding in globex: %+v %v", got, err)
		}
		// Idle timeout, refreshed by use.
		clock.Advance(20 * time.Minute)
		if _, err := u.Authenticate(ctx, secret, ""); err != nil {
			t.Fatalf("20 min idle: %v", err)
		}
		clock.Advance(29 * time.Minute)
		if _, err := u.Authenticate(ctx, secret, ""); err != nil {
			t.Fatalf("refreshed session expired: %v", err)
		}
		clock.Advance(31 * time.Minute)
		if _, err := u.Authenticate(ctx, secret, ""); !errors.Is(err, auth.ErrNoSession) {
			t.Fatalf("idle session still valid: %v", err)
		}
		// Logout.
		secret2, s2, err := u.Login(ctx, auth.Login{Username: "alice", Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		if err := u.Logout(ctx, s2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := u.Authenticate(ctx, secret2, ""); !errors.Is(err, auth.ErrNoSession) {
			t.Fatalf("signed-out session valid: %v", err)
		}
	})
}

func TestTOTPAndStepUp(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx, clock := storetest.Context(t), newClock()
		u := newUsers(db, clock)
		usr, err := u.Create(ctx, auth.NewUser{Tenant: "acme", Username: "carol", Password: "correct horse battery", Role: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		totp, err := u.EnrollTOTP(ctx, usr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := u.Login(ctx, auth.Login{Username: "carol", Password: "correct horse battery"}); !errors.Is(err, auth.ErrLoginFailed) {
			t.Fatalf("login without code: %v", err)
		}
		code := auth.TOTPCode(totp, clock.Now())
		_, s, err := u.Login(ctx, auth.Login{Username: "carol", Password: "correct horse battery", TOTP: code})
		if err != nil || s.Method != auth.MethodMFA || s.VerifiedAt.IsZero() {
			t.Fatalf("login with code: %+v %v", s, err)
		}
		if _, _, err := u.Login(ctx, auth.Login{Username: "carol", Password: "correct horse battery", TOTP: code}); !errors.Is(err, auth.ErrLoginFailed) {
			t.Fatalf("replayed code accepted: %v", err)
		}
		clock.Advance(30 * time.Second)
		if err := u.StepUp(ctx, s.ID, "correct horse battery", auth.TOTPCode(totp, clock.Now())); err != nil {
			t.Fatalf("step up: %v", err)
		}
		if err := u.StepUp(ctx, s.ID, "wrong password!!", auth.TOTPCode(totp, clock.Now().Add(30*time.Second))); !errors.Is(err, auth.ErrLoginFailed) {
			t.Fatalf("step up with a wrong password: %v", err)
		}
	})
}

func TestBruteForceLockedOut(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx, clock := storetest.Context(t), newClock()
		u := newUsers(db, clock)
		if _, err := u.Create(ctx, auth.NewUser{Tenant: "acme", Username: "dave", Password: "correct horse battery", Role: "admin"}); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, _, err := u.Login(ctx, auth.Login{Username: "dave", Password: "guess number " + string(rune('a'+i))}); !errors.Is(err, auth.ErrLoginFailed) {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		if _, _, err := u.Login(ctx, auth.Login{Username: "dave", Password: "correct horse battery"}); !errors.Is(err, auth.ErrLocked) {
			t.Fatalf("right password during lockout: %v", err)
		}
		clock.Advance(16 * time.Minute)
		if _, _, err := u.Login(ctx, auth.Login{Username: "dave", Password: "correct horse battery"}); err != nil {
			t.Fatalf("after lockout: %v", err)
		}
		// Unknown users are throttled the same way (no user enumeration).
		for range 5 {
			_, _, _ = u.Login(ctx, auth.Login{Username: "nobody", Password: "whatever whatever"})
		}
		if _, _, err := u.Login(ctx, auth.Login{Username: "nobody", Password: "whatever whatever"}); !errors.Is(err, auth.ErrLocked) {
			t.Fatalf("unknown user not throttled: %v", err)
		}
	})
}

func TestMTLSRequiresOurCAAndHonoursRevocation(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		dir := t.TempDir()
		ca, err := auth.OpenCA(filepath.Join(dir, "ca"), db, nil)
		if err != nil {
			t.Fatal(err)
		}
		foreign, err := auth.OpenCA(filepath.Join(dir, "foreign"), db, nil)
		if err != nil {
			t.Fatal(err)
		}
		good, err := ca.Issue(ctx, "acme", "fw1", time.Hour, filepath.Join(dir, "out"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := foreign.Issue(ctx, "acme", "rogue", time.Hour, filepath.Join(dir, "out")); err != nil {
			t.Fatal(err)
		}
		if _, err := ca.Issue(ctx, "acme", "server", time.Hour, filepath.Join(dir, "out")); err != nil {
			t.Fatal(err)
		}
		srvCert, err := tls.LoadX509KeyPair(filepath.Join(dir, "out", "server.crt"), filepath.Join(dir, "out", "server.key"))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", ca.ServerTLSConfig(srvCert))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					if err := c.(*tls.Conn).Handshake(); err == nil {
						_, _ = c.Write([]byte("ok"))
					}
				}()
			}
		}()
		dial := func(name string) error {
			cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test checks the server side
			if name != "" {
				c, err := tls.LoadX509KeyPair(filepath.Join(dir, "out", name+".crt"), filepath.Join(dir, "out", name+".key"))
				if err != nil {
					t.Fatal(err)
				}
				cfg.Certificates = []tls.Certificate{c}
			}
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), cfg)
			if err != nil {
				return err
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			b := make([]byte, 2)
			if _, err := conn.Read(b); err != nil {
				return err
			}
			return nil
		}
		if err := dial("fw1"); err != nil {
			t.Fatalf("our client certificate refused: %v", err)
		}
		if err := dial("rogue"); err == nil {
			t.Fatal("certificate of a foreign CA accepted")
		}
		if err := dial(""); err == nil {
			t.Fatal("connection without a client certificate accepted")
		}
		if err := ca.Revoke(ctx, "globex", good.Serial); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("revoke from another tenant: %v", err)
		}
		if err := ca.Revoke(ctx, "acme", good.Serial); err != nil {
			t.Fatal(err)
		}
		if err := dial("fw1"); err == nil {
			t.Fatal("revoked certificate accepted")
		}
		if st, err := os.Stat(filepath.Join(dir, "ca", auth.CAKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("CA key mode: %v %v", st, err)
		}
	})
}
