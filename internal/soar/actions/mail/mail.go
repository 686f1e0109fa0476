// Package mail holds email.send: a plain-text mail through an SMTP server
// (STARTTLS when asked, PLAIN authentication) sent with
// github.com/wneessen/go-mail. The server must be on the node's
// allow-list of outgoing hosts, and the message id is derived from the
// step's idempotency key so that receivers can drop a redelivery.
package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

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
	host, portText, err := net.SplitHostPort(s.Server)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil || port <= 0 || port > 65535 {
		return nil, soar.Permanent(fmt.Errorf("server %q: want host:port", s.Server))
	}
	if _, err := call.Deps.CheckURL("http://" + s.Server); err != nil {
		return nil, err // the allow-list is by host; the scheme does not matter
	}
	msgID := strings.NewReplacer("/", ".", ":", ".").Replace(call.IdempotencyKey) + "@wacht"
	m := gomail.NewMsg()
	if err := m.From(s.From); err != nil {
		return nil, soar.Permanent(fmt.Errorf("from %q: %w", s.From, err))
	}
	if err := m.To(s.To...); err != nil {
		return nil, soar.Permanent(fmt.Errorf("to %v: %w", s.To, err))
	}
	m.Subject(s.Subject)
	m.SetMessageIDWithValue(msgID)
	m.SetDateWithValue(call.Now.UTC())
	m.SetBodyString(gomail.TypeTextPlain, s.Body)

	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithHELO("wacht")}
	if s.StartTLS {
		opts[1] = gomail.WithTLSPolicy(gomail.TLSMandatory)
	}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, gomail.WithTimeout(max(time.Until(dl), time.Second)))
	} else {
		opts = append(opts, gomail.WithTimeout(2*time.Minute))
	}
	if s.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	c, err := gomail.NewClient(host, opts...)
	if err != nil {
		return nil, soar.Permanent(fmt.Errorf("smtp %s: %w", s.Server, err))
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return nil, fmt.Errorf("smtp %s: %w", s.Server, err)
	}
	return map[string]any{"message_id": "<" + msgID + ">", "recipients": len(s.To)}, nil
}

var (
	_ soar.Action    = (*Send)(nil)
	_ soar.Validator = (*Send)(nil)
)
