package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestNonLoopbackHTTPIsServedOverTLSOnly: binding beyond loopback without
// a configured certificate generates a self-signed one into the data
// directory and serves only TLS.
func TestNonLoopbackHTTPIsServedOverTLSOnly(t *testing.T) {
	n := newNode(t)
	port := freePort(t)
	n.extraArgs = []string{"--http", fmt.Sprintf("0.0.0.0:%d", port)}
	n.httpAddr = fmt.Sprintf("127.0.0.1:%d", port)
	// start() polls plain-HTTP /healthz; here we poll over TLS ourselves.
	args := []string{"serve", "--data", n.data, "--syslog-tcp", "off", "--syslog-udp", "off", "--http", fmt.Sprintf("0.0.0.0:%d", port)}
	cmd := execWacht(t, n, args...)
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	tc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed by design
	var err error
	for i := 0; i < 300; i++ {
		var resp *http.Response
		if resp, err = tc.Get("https://" + n.httpAddr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("healthz over TLS: %d", resp.StatusCode)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no TLS answer: %v", err)
	}
	if resp, err := http.Get("http://" + n.httpAddr + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP answered on a non-loopback listener")
	}
	if _, err := os.Stat(filepath.Join(n.data, "tls", "server.crt")); err != nil {
		t.Fatalf("self-signed certificate not kept in the data directory: %v", err)
	}
}
