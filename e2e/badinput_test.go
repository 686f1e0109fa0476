package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestBadInputIsRefusedClearlyAndLosesNothing throws malformed and hostile
// input at every listener and checks that each gets a clear answer or
// counter, that the server stays up, and that what was accepted before is
// still there.
func TestBadInputIsRefusedClearlyAndLosesNothing(t *testing.T) {
	n := newNode(t, "WACHT_SYSLOG_IDLE_TIMEOUT=2s")
	n.start()
	auth := "Bearer " + n.token

	// Accepted before the abuse.
	var good bytes.Buffer
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&good, `{"src":"before-abuse","i":%d}`+"\n", i)
	}
	if st, b, _ := n.do("POST", "/api/v1/ingest", auth, good.Bytes()); st != 200 {
		t.Fatalf("good batch: %d %s", st, b)
	}

	t.Run("http", func(t *testing.T) {
		deep := strings.Repeat(`{"a":`, 10_000) + "1" + strings.Repeat("}", 10_000)
		cases := []struct {
			name, body string
			hdr        []string
			status     int
			contains   string
		}{
			{"json nested 10,000 deep is kept with an error", deep + "\n", nil, 200, `"parse_errors":1`},
			{"invalid utf-8 is kept with an error", "{\"msg\":\"\xff\xfe bad\"}\n", nil, 200, `"accepted":1`},
			{"binary garbage is kept with an error", "\x00\x01\x02\x03garbage\x7f\n", nil, 200, `"parse_errors":1`},
			{"10 MB line is refused naming the line", "{}\n" + strings.Repeat("x", 10<<20) + "\n", nil, 413, "line 2 is larger than the event limit"},
			{"bad gzip", "not gzip", []string{"Content-Encoding", "gzip"}, 400, "gzip"},
			{"unknown format", "{}\n", nil, 400, "unknown parser"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				path := "/api/v1/ingest"
				if c.name == "unknown format" {
					path += "?format=nope"
				}
				st, b, _ := n.do("POST", path, auth, []byte(c.body), c.hdr...)
				if st != c.status || !strings.Contains(string(b), c.contains) {
					t.Fatalf("status %d body %s; want %d containing %q", st, b, c.status, c.contains)
				}
			})
		}
		// A gzip bomb beyond the request limit is cut off with 413.
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
		zw.Write(bytes.Repeat([]byte(`{"a":1}`+"\n"), (20<<20)/8))
		zw.Close()
		st, b, _ := n.do("POST", "/api/v1/ingest", auth, z.Bytes(), "Content-Encoding", "gzip")
		if st != 413 || !strings.Contains(string(b), "larger than the limit") {
			t.Fatalf("gzip bomb: %d %s", st, b)
		}
		// No token, bad token.
		if st, _, _ := n.do("POST", "/api/v1/ingest", "", []byte("{}\n")); st != 401 {
			t.Fatalf("no token: %d", st)
		}
		if st, _, _ := n.do("POST", "/api/v1/ingest", "Bearer wacht_nope", []byte("{}\n")); st != 401 {
			t.Fatalf("bad token: %d", st)
		}
	})

	t.Run("syslog tcp", func(t *testing.T) {
		stamp := time.Now().UTC().Format(time.Stamp)
		send := func(data []byte) {
			c, err := net.Dial("tcp", n.tcpAddr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write(data)
			c.Close()
		}
		// Truncated octet-counted frame: announced 500 bytes, sends 20.
		send([]byte("500 <14>1 2026-01-01T00:00:00Z h a - - - short"))
		// Invalid UTF-8 and binary garbage, newline framed.
		send([]byte("<14>" + stamp + " host app: bad \xff\xfe utf8 abuse-marker-1\n"))
		garbage := make([]byte, 4096)
		rand.Read(garbage)
		send(append(bytes.ReplaceAll(garbage, []byte("\n"), []byte(" ")), '\n'))
		// A 10 MB line: kept truncated to the event limit and marked.
		send([]byte("<14>" + stamp + " host app: abuse-marker-2 " + strings.Repeat("y", 10<<20) + "\n"))
		// A slow sender: one message dribbled over 1.5 s is still accepted.
		c, err := net.Dial("tcp", n.tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		msg := "<14>" + stamp + " host app: abuse-marker-3 slow\n"
		for i := 0; i < len(msg); i += 5 {
			c.Write([]byte(msg[i:min(i+5, len(msg))]))
			time.Sleep(150 * time.Millisecond)
		}
		c.Close()
		// An idle connection is closed after syslog.idle_timeout (2s here).
		idle, err := net.Dial("tcp", n.tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		idle.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("idle connection: read returned %v, want EOF from the server closing it", err)
		}
		if got := n.waitCount(`"abuse-marker-1" or "abuse-marker-2" or "abuse-marker-3"`, 3, 20*time.Second); got != 3 {
			t.Fatalf("%d of the 3 marked syslog messages are stored", got)
		}
		rows := n.search(`"abuse-marker-2" | fields _error`)
		if len(rows) != 1 || !strings.Contains(rows[0]["_error"], "bytes is more than the limit of 1048576") {
			t.Fatalf("10 MB line: %v", rows)
		}
		if n.metric("wacht_ingest_rejected_total", `reason="bad_frame"`) < 1 {
			t.Error("truncated frame not counted as bad_frame")
		}
		if n.metric("wacht_ingest_rejected_total", `reason="idle_timeout"`) < 1 {
			t.Error("idle connection not counted")
		}
		if n.metric("wacht_ingest_rejected_total", `reason="event_too_large_truncated"`) < 1 {
			t.Error("10 MB line not counted")
		}
	})

	// Still up, and nothing accepted earlier is lost.
	if st, _, _ := n.do("GET", "/healthz", "", nil); st != 200 {
		t.Fatalf("healthz after abuse: %d", st)
	}
	if got := n.waitCount("src:before-abuse", 500, 20*time.Second); got != 500 {
		t.Fatalf("%d of 500 events accepted before the abuse are searchable", got)
	}
	if n.metric("wacht_ingest_parse_errors_total") < 3 {
		t.Error("parse errors not counted")
	}
	n.stop()
}
