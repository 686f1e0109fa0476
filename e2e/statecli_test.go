package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStateCommands: migrations are listed and applied, a backup is taken
// beside a data directory, and `store copy` moves the state into another
// database, verified by counts and checksums — all through the binary.
func TestStateCommands(t *testing.T) {
	n := newNode(t) // creates the state database with a token
	out, err := n.run("migrate", "status", "--data", n.data, "--json")
	if err != nil {
		t.Fatalf("migrate status: %v\n%s", err, out)
	}
	var st []struct {
		Domain  string
		Applied bool
	}
	if err := json.Unmarshal(out, &st); err != nil || len(st) < 5 {
		t.Fatalf("migrate status printed %d entries (%v)", len(st), err)
	}
	for _, m := range st {
		if !m.Applied {
			t.Fatalf("migration of %s pending after start", m.Domain)
		}
	}
	if out, err := n.run("migrate", "up", "--data", n.data); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	bk := filepath.Join(t.TempDir(), "state-backup.db")
	if out, err := n.run("backup", "--data", n.data, "--out", bk); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	if fi, err := os.Stat(bk); err != nil || fi.Size() == 0 {
		t.Fatalf("no backup file: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	out, err = n.run("store", "copy", "--from", "sqlite:"+bk, "--to", "sqlite:"+dst, "--json")
	if err != nil {
		t.Fatalf("store copy: %v\n%s", err, out)
	}
	var reports []struct {
		Table string
		Rows  int64
	}
	if err := json.Unmarshal(out, &reports); err != nil {
		t.Fatalf("store copy output: %v\n%s", err, out)
	}
	found := false
	for _, r := range reports {
		if r.Table == "api_tokens" && r.Rows == 1 {
			found = true
		}
	}
	if !found {
		t.Fatalf("the token did not travel: %s", out)
	}
	// The copy serves: the token made in the original works on it.
	m := &node{t: t, data: t.TempDir(), env: []string{"WACHT_STATE_DSN=" + dst}}
	m.httpAddr, m.tcpAddr, m.token, m.client = n.httpAddr, n.tcpAddr, n.token, n.client
	m.start()
	if st, body, _ := m.do("GET", "/api/v1/status", "Bearer "+m.token, nil); st != 200 || !strings.Contains(string(body), "ready") {
		t.Fatalf("status on the copied state: %d %s", st, body)
	}
}
