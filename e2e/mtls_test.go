package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSyslogTLSWithClientCertificates: with syslog.client_certs, the TLS
// listener takes only certificates from wacht's own CA, and each one files
// its events under the tenant it was issued for.
func TestSyslogTLSWithClientCertificates(t *testing.T) {
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	n := newNode(t, "WACHT_SYSLOG_CLIENT_CERTS=true", "WACHT_SYSLOG_TLS="+tlsAddr)
	certs := filepath.Join(n.data, "issued")
	if out, err := n.run("pki", "issue", "--name", "fw-acme", "--tenant", "acme", "--out", certs, "--data", n.data); err != nil {
		t.Fatalf("pki issue: %v\n%s", err, out)
	}
	out, err := n.run("token", "create", "--data", n.data, "--name", "acme-reader", "--role", "admin", "--tenant", "acme", "--json")
	if err != nil {
		t.Fatalf("token: %v %s", err, out)
	}
	var tok struct{ Token string }
	json.Unmarshal(out, &tok)
	n.start()

	cert, err := tls.LoadX509KeyPair(filepath.Join(certs, "fw-acme.crt"), filepath.Join(certs, "fw-acme.key"))
	if err != nil {
		t.Fatal(err)
	}
	send := func(certs []tls.Certificate, msg string) error {
		c, err := tls.Dial("tcp", tlsAddr, &tls.Config{Certificates: certs, InsecureSkipVerify: true}) //nolint:gosec // server cert is self-signed
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := fmt.Fprintf(c, "<14>%s fw01 filter: %s\n", time.Now().UTC().Format(time.Stamp), msg); err != nil {
			return err
		}
		// TLS 1.3 reports a refused client certificate on the first read.
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, err = c.Read(make([]byte, 1))
		if err != nil && !strings.Contains(err.Error(), "timeout") && !strings.Contains(err.Error(), "EOF") {
			return err
		}
		return nil
	}
	if err := send([]tls.Certificate{cert}, "mtls-accepted"); err != nil {
		t.Fatalf("with the issued certificate: %v", err)
	}
	_ = send(nil, "mtls-no-cert")

	acme := &node{t: t, httpAddr: n.httpAddr, token: tok.Token, client: n.client}
	if got := acme.waitCount(`"mtls-accepted"`, 1, 20*time.Second); got != 1 {
		t.Fatalf("tenant acme has %d events from its certificate", got)
	}
	if got := n.count(`"mtls-accepted" or "mtls-no-cert"`); got != 0 {
		t.Fatalf("the default tenant sees %d mTLS events", got)
	}
	if got := acme.count(`"mtls-no-cert"`); got != 0 {
		t.Fatal("a connection without a client certificate was accepted")
	}
	if n.metric("wacht_ingest_rejected_total", `reason="tls_handshake"`) < 1 {
		t.Error("refused handshake not counted")
	}
}
