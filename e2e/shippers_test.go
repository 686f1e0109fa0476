package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireTool finds a shipper binary or skips; with
// WACHT_REQUIRE_SHIPPERS=1 (set by `make test`) a missing one fails.
func requireTool(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("WACHT_REQUIRE_SHIPPERS") == "1" {
			t.Fatalf("%s is missing (make test installs it): %v", path, err)
		}
		t.Skipf("%s not installed; run make test", path)
	}
}

// sendLines writes newline-framed BSD syslog lines to addr, retrying the
// connection while the shipper starts.
func sendLines(t *testing.T, addr, tag string, n int) {
	t.Helper()
	var c net.Conn
	var err error
	for i := 0; i < 100; i++ {
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("connect to shipper %s: %v", addr, err)
	}
	defer c.Close()
	stamp := time.Now().Format(time.Stamp)
	for i := 0; i < n; i++ {
		fmt.Fprintf(c, "<86>%s appsrv %s[%d]: shipped message %d for user alice\n", stamp, tag, 4000+i, i)
	}
}

func checkShipped(t *testing.T, n *node, tag string, want int) {
	t.Helper()
	if got := n.waitCount(`syslog.appname:`+tag, want, 30*time.Second); got != want {
		t.Fatalf("%d of %d messages forwarded by %s are stored:\n%s", got, want, tag, n.stderr.String())
	}
	rows := n.search(`syslog.appname:` + tag + ` | fields host.name, syslog.version, syslog.facility, syslog.procid, _msg | limit 1`)
	r := rows[0]
	if r["host.name"] != "appsrv" || r["syslog.version"] != "1" || r["syslog.facility"] != "10" || !strings.HasPrefix(strings.TrimSpace(r["_msg"]), "shipped message") {
		t.Fatalf("forwarded message not parsed as RFC 5424: %v", r)
	}
	if n.metric("wacht_ingest_rejected_total", `listener="syslog-tcp"`) != 0 {
		t.Fatal("frames from the shipper were rejected")
	}
}

// TestRsyslogForwardsRFC5424OctetCounted runs Debian's rsyslogd as a relay
// that forwards RFC 5424 with octet-counting framing over TCP.
func TestRsyslogForwardsRFC5424OctetCounted(t *testing.T) {
	requireTool(t, "/usr/sbin/rsyslogd")
	n := newNode(t)
	n.start()
	dir := t.TempDir()
	in := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	host, port, _ := net.SplitHostPort(in)
	_, wport, _ := net.SplitHostPort(n.tcpAddr)
	conf := fmt.Sprintf(`global(workDirectory=%q)
module(load="imtcp")
input(type="imtcp" address=%q port=%q)
action(type="omfwd" target="127.0.0.1" port=%q protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
`, dir, host, port, wport)
	cf := filepath.Join(dir, "rsyslog.conf")
	os.WriteFile(cf, []byte(conf), 0o644)
	cmd := exec.Command("/usr/sbin/rsyslogd", "-n", "-f", cf, "-i", filepath.Join(dir, "pid"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sendLines(t, in, "rsyslogtest", 200)
	checkShipped(t, n, "rsyslogtest", 200)
}

// TestSyslogNGForwardsRFC5424 runs syslog-ng (unpacked from Debian's
// package beside rsyslog, which it conflicts with) with its syslog()
// destination: RFC 5424 with octet counting over TCP.
func TestSyslogNGForwardsRFC5424(t *testing.T) {
	root := os.Getenv("WACHT_TEST_SYSLOG_NG")
	if root == "" {
		root = filepath.Join(os.TempDir(), "wacht-syslog-ng")
	}
	bin := filepath.Join(root, "usr/sbin/syslog-ng")
	requireTool(t, bin)
	mods, _ := filepath.Glob(filepath.Join(root, "usr/lib/syslog-ng/3.*"))
	if len(mods) == 0 {
		t.Fatalf("no syslog-ng module directory under %s", root)
	}
	n := newNode(t)
	n.start()
	dir := t.TempDir()
	in := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, port, _ := net.SplitHostPort(in)
	_, wport, _ := net.SplitHostPort(n.tcpAddr)
	conf := fmt.Sprintf(`@version: 3.35
options { keep-hostname(yes); };
source s_in { network(ip("127.0.0.1") port(%s) transport("tcp")); };
destination d_wacht { syslog("127.0.0.1" port(%s) transport("tcp")); };
log { source(s_in); destination(d_wacht); };
`, port, wport)
	cf := filepath.Join(dir, "syslog-ng.conf")
	os.WriteFile(cf, []byte(conf), 0o644)
	cmd := exec.Command(bin, "-F", "-e", "--no-caps", "-f", cf, "-R", filepath.Join(dir, "persist"),
		"-p", filepath.Join(dir, "pid"), "-c", filepath.Join(dir, "ctl"), "--module-path", mods[0])
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+strings.Join([]string{
		filepath.Join(root, "usr/lib/x86_64-linux-gnu"), filepath.Join(root, "usr/lib/syslog-ng"), filepath.Join(root, "lib/x86_64-linux-gnu")}, ":"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sendLines(t, in, "syslogngtest", 200)
	checkShipped(t, n, "syslogngtest", 200)
}
