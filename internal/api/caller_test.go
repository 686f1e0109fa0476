package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/internal/api"
)

// apiCaller returns a function that sends one request to ts as the holder
// of a bearer token ("" sends none) and returns the status and the body.
func apiCaller(t *testing.T, ts *httptest.Server) func(tok, method, path, body string) (int, string) {
	return func(tok, method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// tokens authenticates test bearer tokens by name.
type tokens map[string]api.Identity

func (t tokens) Authenticate(_ context.Context, tok string) (api.Identity, error) {
	if id, ok := t[tok]; ok {
		return id, nil
	}
	return api.Identity{}, api.ErrDenied
}
