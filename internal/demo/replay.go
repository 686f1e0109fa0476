package demo

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Target is where to replay.
type Target struct {
	// BaseURL of the HTTP API (http://127.0.0.1:8080).
	BaseURL string
	// SyslogTCP address; empty skips syslog.
	SyslogTCP string
	Token     string
	// Insecure accepts a self-signed certificate.
	Insecure bool
}

// Replay sends the scenario through the listeners and returns once every
// source was answered "accepted" (syslog over TCP has no answer; it is
// written and the connection closed cleanly).
func Replay(ctx context.Context, s Scenario, t Target) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if t.Insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // self-signed demo certificate
	}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	post := func(path, auth string, body []byte) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.BaseURL+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("send to %s: %w", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("send to %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
		}
		if bytes.Contains(b, []byte(`"errors":true`)) {
			return fmt.Errorf("send to %s: some documents were refused: %s", path, b)
		}
		return nil
	}
	if t.SyslogTCP != "" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", t.SyslogTCP)
		if err != nil {
			return fmt.Errorf("connect to syslog %s: %w", t.SyslogTCP, err)
		}
		if _, err := c.Write(s.SyslogFrames()); err != nil {
			c.Close()
			return fmt.Errorf("send syslog: %w", err)
		}
		if err := c.Close(); err != nil {
			return fmt.Errorf("send syslog: %w", err)
		}
	}
	if err := post("/_bulk", "ApiKey "+t.Token, s.BulkBody()); err != nil {
		return err
	}
	return post("/services/collector/event", "Splunk "+t.Token, s.HECBody())
}
