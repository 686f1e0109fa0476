// Package e2e tests wacht as a user runs it: the real binary as a process,
// real clients and shippers, kill -9 in the middle.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var wachtBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wacht-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wachtBin = filepath.Join(dir, "wacht")
	build := exec.Command("go", "build", "-o", wachtBin, "../cmd/wacht")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build wacht:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// node is one wacht server process.
type node struct {
	t         *testing.T
	data      string
	httpAddr  string
	tcpAddr   string
	udpAddr   string
	token     string
	env       []string
	cmd       *exec.Cmd
	stderr    *bytes.Buffer
	client    *http.Client
	extraArgs []string
}

// newNode prepares a data directory and a token; start runs the server.
func newNode(t *testing.T, env ...string) *node {
	t.Helper()
	n := &node{
		t:        t,
		data:     t.TempDir(),
		httpAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		tcpAddr:  fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		env:      env,
		client:   &http.Client{Timeout: 60 * time.Second},
	}
	out, err := n.run("token", "create", "--data", n.data, "--name", "e2e", "--role", "admin", "--json")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(out, &tok); err != nil || !strings.HasPrefix(tok.Token, "wacht_") {
		t.Fatalf("token create printed %q (%v)", out, err)
	}
	n.token = tok.Token
	return n
}

func (n *node) run(args ...string) ([]byte, error) {
	cmd := exec.Command(wachtBin, args...)
	cmd.Env = append(os.Environ(), n.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.Bytes()...), err
	}
	return out, nil
}

func (n *node) start() {
	n.t.Helper()
	args := []string{"serve", "--data", n.data, "--http", n.httpAddr, "--syslog-tcp", n.tcpAddr, "--syslog-udp", "off"}
	if n.udpAddr != "" {
		args[len(args)-1] = n.udpAddr
	}
	args = append(args, n.extraArgs...)
	n.cmd = exec.Command(wachtBin, args...)
	n.cmd.Env = append(os.Environ(), n.env...)
	n.stderr = &bytes.Buffer{}
	n.cmd.Stderr = n.stderr
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { n.kill() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + n.httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if n.cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("wacht did not become healthy:\n%s", n.stderr.String())
}

// kill sends SIGKILL and waits.
func (n *node) kill() {
	if n.cmd != nil && n.cmd.Process != nil && n.cmd.ProcessState == nil {
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		_ = n.cmd.Wait()
	}
}

// stop sends SIGTERM and waits for a graceful exit.
func (n *node) stop() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			n.t.Fatalf("wacht exited with %v:\n%s", err, n.stderr.String())
		}
	case <-time.After(60 * time.Second):
		n.kill()
		n.t.Fatalf("wacht did not stop within 60s:\n%s", n.stderr.String())
	}
}

func (n *node) do(method, path, auth string, body []byte, hdr ...string) (int, []byte, http.Header) {
	n.t.Helper()
	req, err := http.NewRequest(method, "http://"+n.httpAddr+path, bytes.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, []byte(err.Error()), nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// search runs a LogsQL query over the last day and returns the rows.
func (n *node) search(q string) []map[string]string {
	n.t.Helper()
	v := url.Values{"q": {q}, "start": {"48h"}, "limit": {"0"}}
	status, body, _ := n.do("GET", "/api/v1/events/search?"+v.Encode(), "Bearer "+n.token, nil)
	if status != 200 {
		n.t.Fatalf("search %q: %d %s", q, status, body)
	}
	var rows []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r map[string]string
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			n.t.Fatalf("search row %q: %v", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	return rows
}

// count returns the number of events matching q.
func (n *node) count(q string) int {
	n.t.Helper()
	rows := n.search(q + " | stats count() n")
	if len(rows) != 1 {
		n.t.Fatalf("count %q: %d rows", q, len(rows))
	}
	c, _ := strconv.Atoi(rows[0]["n"])
	return c
}

// metric returns the sum of the samples of a metric whose line contains
// every filter string.
func (n *node) metric(name string, filters ...string) float64 {
	n.t.Helper()
	status, body, _ := n.do("GET", "/metrics", "", nil)
	if status != 200 {
		n.t.Fatalf("metrics: %d", status)
	}
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		ok := true
		for _, f := range filters {
			ok = ok && strings.Contains(line, f)
		}
		if !ok {
			continue
		}
		f, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		sum += f
	}
	return sum
}

// waitIndexed waits until the journal lag is zero and the store answers
// with a stable count for q.
func (n *node) waitCount(q string, want int, within time.Duration) int {
	n.t.Helper()
	deadline := time.Now().Add(within)
	got := -1
	for time.Now().Before(deadline) {
		got = n.count(q)
		if got >= want {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
	return got
}

// execWacht starts wacht with args in the node's environment.
func execWacht(t *testing.T, n *node, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(wachtBin, args...)
	cmd.Env = append(os.Environ(), n.env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

var nodeClient = http.Client{Timeout: 5 * time.Second}

func nodeClientFor() *http.Client { return &http.Client{Timeout: 60 * time.Second} }
