// Package mail holds email.send: a plain-text mail through an SMTP server
// (STARTTLS when asked, PLAIN authentication), using the standard
// library's SMTP client. The server must be on the node's allow-list of
// outgoing hosts, and the message id is derived from the step's
// idempotency key so that receivers can drop a redelivery.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/soar"
)

func init() {
	soar.RegisterAction(soar.ActionInfo{ID: soar.ActionPrefix + "email.send", New: func() soar.Action { return new(Send) }, SideEffects: true})
}

// Send is email.send.
type Send struct {
	// Server is host:port of the SMTP server (587 with starttls, 25).
	Server   string   `json:"server"`
	StartTLS bool     `json:"starttls,omitempty"`
	Username string   `json:"username,omitempty"`
	Password string   `json:"password,omitempty"`
	From     string   `json:"from"`
	To       []string `json:"to"`
	Subject  string   `json:"subject"`
	Body     string   `json:"body"`
}

// Validate implements soar.Validator.
func (s *Send) Validate() error {
	if s.Server == "" || s.From == "" || len(s.To) == 0 {
		return errors.New("server, from and to are required")
	}
	for _, v := range append([]string{s.Server, s.From, s.Subject}, s.To...) {
		if strings.ContainsAny(v, "\r\n") {
			return errors.New("server, from, to and subject must be one line each")
		}
	}
	return nil
}

// Run implements soar.Action.
func (s *Send) Run(ctx context.Context, call *soar.Call) (any, error) {
	host, _, err := net.SplitHostPort(s.Server)
	if err != nil {
		return nil, soar.Permanent(fmt.Errorf("server %q: want host:port", s.Server))
	}
	if _, err := call.Deps.CheckURL("http://" + s.Server); err != nil {
		return nil, err // the allow-list is by host; the scheme does not matter
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Server)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", s.Server, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return nil, fmt.Errorf("smtp %s: %w", s.Server, err)
	}
	defer c.Close()
	if s.StartTLS {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return nil, fmt.Errorf("starttls %s: %w", s.Server, err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return nil, soar.Permanent(fmt.Errorf("smtp authentication at %s: %w", s.Server, err))
		}
	}
	if err := c.Mail(s.From); err != nil {
		return nil, fmt.Errorf("smtp MAIL FROM: %w", err)
	}
	for _, to := range s.To {
		if err := c.Rcpt(to); err != nil {
			return nil, fmt.Errorf("smtp RCPT TO %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return nil, fmt.Errorf("smtp DATA: %w", err)
	}
	msgID := "<" + strings.NewReplacer("/", ".", ":", ".").Replace(call.IdempotencyKey) + "@wacht>"
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n", s.From, strings.Join(s.To, ", "),
		mime.QEncoding.Encode("utf-8", s.Subject), call.Now.UTC().Format(time.RFC1123Z), msgID)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(s.Body, "\r\n", "\n"), "\n", "\r\n"))
	if _, err := w.Write([]byte(b.String())); err != nil {
		return nil, fmt.Errorf("smtp write: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("smtp end of data: %w", err)
	}
	_ = c.Quit()
	return map[string]any{"message_id": msgID, "recipients": len(s.To)}, nil
}

var (
	_ soar.Action    = (*Send)(nil)
	_ soar.Validator = (*Send)(nil)
)
