package httpreq_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wacht-soc/wacht/internal/soar"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/httpreq"
)

type seen struct {
	path, key, ctype string
	body             map[string]any
}

func server(t *testing.T, status int) (*httptest.Server, *[]seen) {
	var got []seen
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s := seen{path: r.URL.Path, key: r.Header.Get("Idempotency-Key"), ctype: r.Header.Get("Content-Type")}
		_ = json.Unmarshal(b, &s.body)
		got = append(got, s)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(ts.Close)
	return ts, &got
}

func run(t *testing.T, uses string, with map[string]any, deps *soar.Deps) (any, error) {
	t.Helper()
	info, ok := soar.LookupAction(uses)
	if !ok {
		t.Fatalf("%s not registered", uses)
	}
	a, err := soar.DecodeAction(info, with)
	if err != nil {
		return nil, err
	}
	return a.Run(context.Background(), &soar.Call{IdempotencyKey: "run_1/s/1", Deps: deps})
}

// TestChatPost: each chat kind gets its webhook payload, with the
// idempotency key.
func TestChatPost(t *testing.T) {
	ts, got := server(t, 200)
	deps := &soar.Deps{HTTP: ts.Client(), AllowLoopback: true}
	for _, kind := range []string{"slack", "teams", "mattermost"} {
		if _, err := run(t, "chat.post", map[string]any{"kind": kind, "webhook": ts.URL + "/" + kind, "text": "hello"}, deps); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
	}
	if len(*got) != 3 {
		t.Fatalf("%+v", *got)
	}
	for _, s := range *got {
		if s.key != "run_1/s/1" || s.ctype != "application/json" || s.body["text"] != "hello" {
			t.Errorf("%+v", s)
		}
	}
	if (*got)[1].body["@type"] != "MessageCard" {
		t.Errorf("teams payload: %+v", (*got)[1].body)
	}
	if _, err := run(t, "chat.post", map[string]any{"kind": "irc", "webhook": ts.URL, "text": "x"}, deps); err == nil {
		t.Error("unknown kind accepted")
	}
}

// TestRequest: JSON body and answer; a 4xx is permanent, a 5xx is not;
// unknown configuration keys are refused.
func TestRequest(t *testing.T) {
	ts, got := server(t, 200)
	deps := &soar.Deps{HTTP: ts.Client(), AllowLoopback: true}
	out, err := run(t, "http.request", map[string]any{"method": "post", "url": ts.URL + "/block", "json": map[string]any{"ip": "192.0.2.1"},
		"headers": map[string]any{"X-Api": "k"}}, deps)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	if string(b) != `{"status":200,"headers":{"Content-Type":"text/plain; charset=utf-8"},"body":{"ok":true}}` || (*got)[0].body["ip"] != "192.0.2.1" {
		t.Fatalf("%s %+v", b, *got)
	}
	var perm *soar.PermanentError
	for status, permanent := range map[int]bool{400: true, 404: true, 429: false, 503: false} {
		ts, _ := server(t, status)
		_, err := run(t, "http.request", map[string]any{"url": ts.URL}, &soar.Deps{HTTP: ts.Client(), AllowLoopback: true})
		if err == nil || errors.As(err, &perm) != permanent {
			t.Errorf("status %d: %v (permanent %v)", status, err, permanent)
		}
	}
	if _, err := run(t, "http.request", map[string]any{"url": ts.URL, "metod": "GET"}, deps); err == nil {
		t.Error("unknown key accepted")
	}
	if _, err := run(t, "http.request", map[string]any{"url": ts.URL}, &soar.Deps{HTTP: ts.Client()}); !errors.As(err, &perm) {
		t.Errorf("loopback without permission: %v", err)
	}
}
