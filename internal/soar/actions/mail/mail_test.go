package mail_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/wacht-soc/wacht/internal/soar"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/mail"
)

// server is a real SMTP server (github.com/emersion/go-smtp) that records
// what it is given and wants PLAIN authentication as soc/s3cret.
type server struct {
	addr string
	mu   sync.Mutex
	msgs []string
}

type session struct {
	srv    *server
	authed bool
	env    []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "soc" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.env = append(s.env, "MAIL FROM:<"+from+">")
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.env = append(s.env, "RCPT TO:<"+to+">")
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, strings.Join(s.env, "\n")+"\n"+string(b))
	s.srv.mu.Unlock()
	return nil
}
func (s *session) Reset()        { s.env = nil }
func (s *session) Logout() error { return nil }

func newServer(t *testing.T) *server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{addr: ln.Addr().String()}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{srv: srv}, nil }))
	s.Domain = "localhost"
	s.AllowInsecureAuth = true // loopback test server without a certificate
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { s.Close() })
	return srv
}

// TestSend delivers a mail to a real SMTP server with authentication and
// checks the envelope, headers and the message id derived from the
// idempotency key.
func TestSend(t *testing.T) {
	srv := newServer(t)
	info, ok := soar.LookupAction("email.send")
	if !ok {
		t.Fatal("email.send not registered")
	}
	with := map[string]any{"server": srv.addr, "from": "soc@example.org", "username": "soc", "password": "s3cret",
		"to": []any{"oncall@example.org", "ciso@example.org"}, "subject": "Blocked 203.0.113.9 – NIS2", "body": "line 1\nline 2"}
	a, err := soar.DecodeAction(info, with)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := a.Run(ctx, &soar.Call{IdempotencyKey: "run_1/mail/1", Now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
		Deps: &soar.Deps{AllowLoopback: true}})
	if err != nil {
		t.Fatal(err)
	}
	if out.(map[string]any)["message_id"] != "<run_1.mail.1@wacht>" {
		t.Fatalf("%v", out)
	}
	srv.mu.Lock()
	msgs := append([]string(nil), srv.msgs...)
	srv.mu.Unlock()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	for _, want := range []string{"MAIL FROM:<soc@example.org>", "RCPT TO:<oncall@example.org>", "RCPT TO:<ciso@example.org>",
		"Message-ID: <run_1.mail.1@wacht>", "Subject: =?UTF-8?q?Blocked_203.0.113.9_=E2=80=93_NIS2?=", "line 1\r\nline 2",
		"Date: Mon, 02 Mar 2026 10:00:00 +0000"} {
		if !strings.Contains(m, want) {
			t.Errorf("message lacks %q:\n%s", want, m)
		}
	}

	// Wrong credentials fail; nothing is delivered.
	with["password"] = "wrong"
	bad, _ := soar.DecodeAction(info, with)
	if _, err := bad.Run(ctx, &soar.Call{IdempotencyKey: "run_1/mail/2", Now: time.Now(), Deps: &soar.Deps{AllowLoopback: true}}); err == nil {
		t.Error("wrong password accepted")
	}
	if _, err := soar.DecodeAction(info, map[string]any{"server": "x:25", "from": "a@b", "to": []any{"c@d"}, "subject": "a\r\nBcc: e@f"}); err == nil {
		t.Error("header injection accepted")
	}
	if _, err := soar.DecodeAction(info, map[string]any{"server": "x:25", "from": "a@b", "to": []any{"c@d"}, "cc": []any{"e@f"}}); err == nil {
		t.Error("unknown key accepted")
	}
	if _, err := a.Run(ctx, &soar.Call{Deps: &soar.Deps{}}); err == nil {
		t.Error("server off the allow-list reached")
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.msgs) != 1 {
		t.Errorf("%d messages after the failures, want 1", len(srv.msgs))
	}
}
