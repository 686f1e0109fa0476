package e2e

import (
	"bytes"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver for creating the test schema
)

// requireEnv returns the value of each variable, skipping the test when one
// is missing unless WACHT_REQUIRE_SCALEOUT=1 (make test) demands them.
func requireEnv(t *testing.T, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			if os.Getenv("WACHT_REQUIRE_SCALEOUT") == "1" {
				t.Fatalf("%s is not set (make test provides it)", n)
			}
			t.Skipf("%s not set; make test runs the scaled-out shape", n)
		}
		out = append(out, v)
	}
	return out
}

func startProc(t *testing.T, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", bin, stderr.String())
		}
	})
}

// TestScaledOutShape runs two wacht nodes on PostgreSQL, an external NATS
// server and a VictoriaLogs server: one node indexes, both ingest and
// search, a token created through one is valid on the other, and every
// acknowledged event is stored once.
func TestScaledOutShape(t *testing.T) {
	env := requireEnv(t, "WACHT_TEST_POSTGRES_DSN", "WACHT_TEST_NATS_SERVER", "WACHT_TEST_VICTORIALOGS")
	pgDSN, natsBin, vlBin := env[0], env[1], env[2]

	natsPort, vlPort := freePort(t), freePort(t)
	startProc(t, natsBin, "-js", "-sd", t.TempDir(), "-a", "127.0.0.1", "-p", fmt.Sprint(natsPort))
	startProc(t, vlBin, "-httpListenAddr=127.0.0.1:"+fmt.Sprint(vlPort), "-storageDataPath="+t.TempDir(), "-retentionPeriod=365d", "-loggerLevel=ERROR")

	schema := fmt.Sprintf("e2e_scaleout_%d", time.Now().UnixNano())
	db, err := sql.Open("pgx", pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec("DROP SCHEMA " + schema + " CASCADE"); db.Close() })
	u, _ := url.Parse(pgDSN)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	shared := []string{
		"WACHT_STATE_DRIVER=postgres", "WACHT_STATE_DSN=" + u.String(),
		fmt.Sprintf("WACHT_JOURNAL_URL=nats://127.0.0.1:%d", natsPort),
		fmt.Sprintf("WACHT_STORE_URL=http://127.0.0.1:%d", vlPort),
		"WACHT_STORE_RETENTION=365d",
	}
	// Wait for the servers.
	for i := 0; i < 100; i++ {
		if resp, err := n0Get(fmt.Sprintf("http://127.0.0.1:%d/health", vlPort)); err == nil && resp {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	a := newNode(t, shared...) // creates the token in PostgreSQL
	b := &node{t: t, data: t.TempDir(), httpAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), tcpAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		env: append(shared, "WACHT_JOURNAL_INDEX=false"), client: a.client, token: a.token}
	a.start()
	b.start()

	send := func(n *node, tag string, count int) {
		var body bytes.Buffer
		for i := 0; i < count; i++ {
			fmt.Fprintf(&body, `{"src":"scaleout","via":%q,"i":%d}`+"\n", tag, i)
		}
		if st, resp, _ := n.do("POST", "/api/v1/ingest", "Bearer "+n.token, body.Bytes()); st != 200 {
			t.Fatalf("ingest via %s: %d %s", tag, st, resp)
		}
	}
	for i := 0; i < 5; i++ {
		send(a, "a", 1000)
		send(b, "b", 1000)
	}
	if got := b.waitCount("src:scaleout", 10_000, 60*time.Second); got != 10_000 {
		t.Fatalf("node b sees %d of 10,000 events", got)
	}
	rows := a.search("src:scaleout | stats by (via) count() n, count_uniq(i) u")
	for _, r := range rows {
		if r["n"] != "5000" || r["u"] != "1000" {
			t.Fatalf("per node: %v", rows)
		}
	}
	if len(rows) != 2 {
		t.Fatalf("want one row per ingesting node: %v", rows)
	}
	// Only node a indexes: node b's journal consumer must not have run.
	if b.metric("wacht_store_events_written_total") != 0 || a.metric("wacht_store_events_written_total") != 10_000 {
		t.Fatalf("indexed by a: %v, by b: %v", a.metric("wacht_store_events_written_total"), b.metric("wacht_store_events_written_total"))
	}
}

func n0Get(u string) (bool, error) {
	resp, err := (&nodeClient).Get(u)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == 200, nil
}
