package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoTour runs `wacht demo --exit` as a newcomer would and follows the
// tour it prints: the token works, and the printed hunts find the story.
func TestDemoTour(t *testing.T) {
	data := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(wachtBin, "demo", "--exit", "--data", data, "--http", httpAddr,
		"--syslog-tcp", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--syslog-udp", "off")
	cmd.Env = os.Environ()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("wacht demo: %v\n%s", err, out)
	}
	t.Logf("demo ready in %s", time.Since(start).Round(time.Millisecond))
	tok := regexp.MustCompile(`WACHT_TOKEN=(wacht_[A-Za-z0-9_-]+)`).FindSubmatch(out)
	if tok == nil || !strings.Contains(string(out), "102 demo events are stored and searchable") {
		t.Fatalf("demo output lacks the token or the event count:\n%s", out)
	}
	// Serve the same data again and run the tour's hunts.
	n := &node{t: t, data: data, httpAddr: httpAddr, tcpAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), token: string(tok[1]), client: nodeClientFor()}
	n.start()
	rows := n.search(`"Failed password" | stats by (source.ip) count() hits`)
	if len(rows) != 1 || rows[0]["source.ip"] != "203.0.113.77" || rows[0]["hits"] != "36" {
		t.Fatalf("password spray hunt: %v", rows)
	}
	if c := n.count(`Image:~"(?i)rundll32" CommandLine:~"(?i)minidump"`); c != 1 {
		t.Fatalf("LSASS dump hunt found %d", c)
	}
	rows = n.search(`* | stats by (source.listener) count() n | sort by (source.listener)`)
	if fmt.Sprint(rows) != "[map[n:11 source.listener:es-bulk] map[n:33 source.listener:hec] map[n:58 source.listener:syslog-tcp]]" {
		t.Fatalf("events per listener: %v", rows)
	}
	// The starter rules turned the story into alerts and incidents.
	st, body, _ := n.do("GET", "/api/v1/alerts", "Bearer "+n.token, nil)
	if st != 200 {
		t.Fatalf("alerts: %d %s", st, body)
	}
	for _, want := range []string{"LSASS memory dump", "SSH password spray", "SSH login succeeded after failed passwords", "Web shell command"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no alert %q in %s", want, body)
		}
	}
	if st, body, _ := n.do("GET", "/api/v1/incidents", "Bearer "+n.token, nil); st != 200 || !strings.Contains(string(body), `"priority":"P`) {
		t.Fatalf("incidents: %d %.300s", st, body)
	}
	// Retro-hunt with a Sigma rule file over the stored story.
	n.env = append(n.env, "WACHT_TOKEN="+n.token, "WACHT_SERVER=http://"+httpAddr)
	out, err = n.run("hunt", "--sigma", "../internal/detect/starter/lsass_comsvcs_minidump.yml", "--since", "2h")
	if err != nil || !strings.Contains(string(out), "LSASS") {
		t.Fatalf("hunt --sigma: %v\n%s", err, out)
	}
}
