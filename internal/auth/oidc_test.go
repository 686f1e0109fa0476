package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// The OpenID provider the test runs: zitadel/oidc's example OP, a real
// certified-library provider process, built at a pinned version.
const (
	oidcOPModule  = "github.com/zitadel/oidc/v3/example/server"
	oidcOPVersion = "v3.52.0"
	// EnvOIDCOP names a prebuilt binary of it (skips the build).
	envOIDCOP = "WACHT_TEST_OIDC_OP"
)

func oidcProviderBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(envOIDCOP); p != "" {
		return p
	}
	dir := filepath.Join(os.TempDir(), "wacht-oidc-op-"+oidcOPVersion)
	bin := filepath.Join(dir, "server")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "install", oidcOPModule+"@"+oidcOPVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build the OIDC provider %s@%s: %v\n%s", oidcOPModule, oidcOPVersion, err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startOP runs the provider and returns its issuer URL.
func startOP(t *testing.T, redirect string) string {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(oidcProviderBinary(t))
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "REDIRECT_URI="+redirect)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	issuer := fmt.Sprintf("http://localhost:%d/", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(issuer + ".well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return issuer
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("OIDC provider did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// browse signs in at the provider like a browser and returns the query of
// the redirect back to wacht.
func browse(t *testing.T, authURL, redirect, username, password string) url.Values {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var back *url.URL
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirect) {
			back = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := client.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loginURL := resp.Request.URL
	id := loginURL.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("provider did not show its login page: %s", loginURL)
	}
	form := url.Values{"id": {id}, "username": {username}, "password": {password}}
	resp, err = client.PostForm(loginURL.Scheme+"://"+loginURL.Host+"/login/username", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if back == nil {
		t.Fatalf("provider did not redirect back (status %s)", resp.Status)
	}
	return back.Query()
}

func TestOIDCSignInAgainstRealProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an OIDC provider process")
	}
	redirect := "http://127.0.0.1:1/api/v1/auth/oidc/callback"
	issuer := startOP(t, redirect)
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Context(t)
		users := auth.NewUsers(db, auth.UsersOptions{ValidRole: roleOK, FastHashing: true})
		if _, err := users.Create(ctx, auth.NewUser{Tenant: "acme", Username: "test-user2", OIDCSubject: "id2", Role: "security-analyst"}); err != nil {
			t.Fatal(err)
		}
		o, err := auth.NewOIDC(ctx, auth.OIDCConfig{Issuer: issuer, ClientID: "web", ClientSecret: "secret", RedirectURL: redirect}, users)
		if err != nil {
			t.Fatal(err)
		}
		start, err := o.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		q := browse(t, start, redirect, "test-user2", "verysecure")
		secret, s, err := o.Callback(ctx, q.Get("state"), q.Get("code"), "", "127.0.0.1")
		if err != nil {
			t.Fatalf("callback: %v", err)
		}
		if s.Method != auth.MethodOIDC || s.Tenant != "acme" || s.Role != "security-analyst" {
			t.Fatalf("session %+v", s)
		}
		if _, err := users.Authenticate(ctx, secret, ""); err != nil {
			t.Fatal(err)
		}
		// The state works once.
		if _, _, err := o.Callback(ctx, q.Get("state"), q.Get("code"), "", ""); !errors.Is(err, auth.ErrLoginFailed) {
			t.Fatalf("replayed state: %v", err)
		}
		// A forged state is refused before any exchange.
		if _, _, err := o.Callback(ctx, "forged", q.Get("code"), "", ""); !errors.Is(err, auth.ErrLoginFailed) {
			t.Fatalf("forged state: %v", err)
		}
		// A provider user without a wacht user gets no session.
		start, err = o.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		q = browse(t, start, redirect, "test-user@localhost", "verysecure")
		if _, _, err := o.Callback(context.WithoutCancel(ctx), q.Get("state"), q.Get("code"), "", ""); !errors.Is(err, auth.ErrOIDCUnknownUser) {
			t.Fatalf("unknown provider user: %v", err)
		}
	})
}
