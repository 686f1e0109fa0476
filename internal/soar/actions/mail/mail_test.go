package mail_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/soar"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/mail"
)

// smtpServer is a small SMTP receiver: it records envelopes and data.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
}

func newSMTP(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = c.Write([]byte(line + "\r\n")) }
	say("220 test ESMTP")
	var env []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 test")
		case strings.HasPrefix(cmd, "MAIL FROM"), strings.HasPrefix(cmd, "RCPT TO"):
			env = append(env, strings.TrimSpace(line))
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, strings.Join(env, "\n")+"\n"+data.String())
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 unknown")
		}
	}
}

// TestSend delivers a mail to a real SMTP conversation and checks the
// envelope, headers and the message id derived from the idempotency key.
func TestSend(t *testing.T) {
	srv := newSMTP(t)
	info, ok := soar.LookupAction("email.send")
	if !ok {
		t.Fatal("email.send not registered")
	}
	a, err := soar.DecodeAction(info, map[string]any{"server": srv.ln.Addr().String(), "from": "soc@example.org",
		"to": []any{"oncall@example.org", "ciso@example.org"}, "subject": "Blocked 203.0.113.9 – NIS2", "body": "line 1\nline 2"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.Run(context.Background(), &soar.Call{IdempotencyKey: "run_1/mail/1", Now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
		Deps: &soar.Deps{AllowLoopback: true}})
	if err != nil {
		t.Fatal(err)
	}
	if out.(map[string]any)["message_id"] != "<run_1.mail.1@wacht>" {
		t.Fatalf("%v", out)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.msgs) != 1 {
		t.Fatalf("%d messages", len(srv.msgs))
	}
	m := srv.msgs[0]
	for _, want := range []string{"MAIL FROM:<soc@example.org>", "RCPT TO:<oncall@example.org>", "RCPT TO:<ciso@example.org>",
		"Message-ID: <run_1.mail.1@wacht>", "Subject: =?utf-8?q?Blocked_203.0.113.9_=E2=80=93_NIS2?=", "line 1\r\nline 2"} {
		if !strings.Contains(m, want) {
			t.Errorf("message lacks %q:\n%s", want, m)
		}
	}
	if _, err := soar.DecodeAction(info, map[string]any{"server": "x:25", "from": "a@b", "to": []any{"c@d"}, "subject": "a\r\nBcc: e@f"}); err == nil {
		t.Error("header injection accepted")
	}
	if _, err := a.Run(context.Background(), &soar.Call{Deps: &soar.Deps{}}); err == nil {
		t.Error("server off the allow-list reached")
	}
}
