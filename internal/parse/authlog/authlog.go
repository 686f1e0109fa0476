// Package authlog reads the authentication messages that sshd and PAM write
// to syslog ("Failed password for root from 10.0.0.5 port 22 ssh2",
// "pam_unix(sshd:auth): authentication failure; … rhost=… user=…") and adds
// who, from where and with what outcome as ECS fields: user.name,
// source.ip, source.port, event.outcome, event.action, plus the Sigma
// logsource linux/sshd or linux/auth.
package authlog

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/event"
)

// Field names added.
const (
	FieldUser    = "user.name"
	FieldSrcIP   = "source.ip"
	FieldSrcPort = "source.port"
	FieldOutcome = "event.outcome"
	FieldAction  = "event.action"
	FieldMethod  = "ssh.auth_method"
)

// Enrich looks at a syslog message from program app and, when it is an sshd
// or PAM authentication message, adds the entity fields and logsource.
func Enrich(ev *event.Event, app, msg string) {
	prog := app
	if i := strings.IndexAny(prog, "(["); i >= 0 {
		prog = prog[:i]
	}
	isSSHD := prog == "sshd" || strings.HasPrefix(prog, "sshd-")
	isPAM := strings.HasPrefix(msg, "pam_") || strings.Contains(app, "pam_")
	if !isSSHD && !isPAM {
		return
	}
	if isSSHD {
		ev.LogSource = event.LogSource{Product: "linux", Service: "sshd"}
	} else {
		ev.LogSource = event.LogSource{Product: "linux", Service: "auth"}
	}
	if isPAM {
		pam(ev, msg)
		return
	}
	sshd(ev, msg)
}

// sshd recognizes the messages of OpenSSH's auth.c and friends.
func sshd(ev *event.Event, msg string) {
	// "message repeated 5 times: [ Failed password for root from …]"
	if strings.HasPrefix(msg, "message repeated ") {
		if _, inner, ok := strings.Cut(msg, ": [ "); ok {
			msg = strings.TrimSuffix(inner, "]")
		}
	}
	type rule struct {
		prefix, action, outcome string
	}
	rules := [...]rule{
		{"Accepted ", "ssh_login", "success"},
		{"Failed ", "ssh_login", "failure"},
		{"Invalid user ", "ssh_login", "failure"},
		{"invalid user ", "ssh_login", "failure"},
		{"input_userauth_request: invalid user ", "ssh_login", "failure"},
		{"error: maximum authentication attempts exceeded for ", "ssh_login", "failure"},
		{"Disconnected from authenticating user ", "ssh_disconnect", "failure"},
		{"Disconnected from invalid user ", "ssh_disconnect", "failure"},
		{"Disconnected from user ", "ssh_disconnect", "success"},
		{"Received disconnect from ", "ssh_disconnect", "unknown"},
		{"Connection closed by ", "ssh_disconnect", "unknown"},
		{"Did not receive identification string from ", "ssh_connection", "failure"},
		{"reverse mapping checking getaddrinfo for ", "ssh_connection", "unknown"},
		{"Connection from ", "ssh_connection", "unknown"},
		{"User ", "ssh_login", "failure"}, // "User root from 1.2.3.4 not allowed because …"
		{"PAM ", "ssh_login", "failure"},  // "PAM 2 more authentication failures; …"
	}
	for _, r := range rules {
		if !strings.HasPrefix(msg, r.prefix) {
			continue
		}
		ev.Add(FieldAction, event.String(r.action))
		ev.Add(FieldOutcome, event.String(r.outcome))
		rest := msg[len(r.prefix):]
		switch r.prefix {
		case "Accepted ", "Failed ":
			// "<method> for [invalid user ]<user> from <ip> port <port> <proto>"
			if method, tail, ok := strings.Cut(rest, " for "); ok {
				ev.Add(FieldMethod, event.String(method))
				tail = strings.TrimPrefix(tail, "invalid user ")
				if user, t2, ok := strings.Cut(tail, " from "); ok {
					ev.Add(FieldUser, event.String(user))
					addrPort(ev, t2)
				}
			}
			return
		case "Invalid user ", "invalid user ", "input_userauth_request: invalid user ", "Disconnected from authenticating user ", "Disconnected from invalid user ", "Disconnected from user ":
			user, t2, _ := strings.Cut(rest, " from ")
			if user != "" && !strings.Contains(user, " ") {
				ev.Add(FieldUser, event.String(user))
			}
			addrPort(ev, t2)
			return
		case "error: maximum authentication attempts exceeded for ":
			rest = strings.TrimPrefix(rest, "invalid user ")
			user, t2, _ := strings.Cut(rest, " from ")
			ev.Add(FieldUser, event.String(user))
			addrPort(ev, t2)
			return
		case "User ":
			user, t2, ok := strings.Cut(rest, " from ")
			if ok {
				ev.Add(FieldUser, event.String(user))
				addrPort(ev, t2)
			}
			return
		case "PAM ":
			kv(ev, rest)
			return
		case "Received disconnect from ", "Connection closed by ", "Did not receive identification string from ", "Connection from ":
			rest = strings.TrimPrefix(rest, "authenticating user ")
			rest = strings.TrimPrefix(rest, "invalid user ")
			if f, _, _ := strings.Cut(rest, " "); f != "" {
				if _, err := netip.ParseAddr(f); err != nil {
					ev.Add(FieldUser, event.String(f))
					rest = rest[len(f)+1:]
				}
			}
			addrPort(ev, rest)
			return
		case "reverse mapping checking getaddrinfo for ":
			// "host [1.2.3.4] failed - POSSIBLE BREAK-IN ATTEMPT!"
			if i := strings.IndexByte(rest, '['); i >= 0 {
				if j := strings.IndexByte(rest[i:], ']'); j > 0 {
					addIP(ev, rest[i+1:i+j])
				}
			}
			return
		}
	}
}

// pam reads "pam_unix(sshd:auth): authentication failure; logname= uid=0
// euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root" and session messages.
func pam(ev *event.Event, msg string) {
	i := strings.Index(msg, ": ")
	if strings.HasPrefix(msg, "pam_") && i > 0 {
		msg = msg[i+2:]
	}
	switch {
	case strings.HasPrefix(msg, "authentication failure"), strings.HasPrefix(msg, "check pass; user unknown"):
		ev.Add(FieldAction, event.String("authentication"))
		ev.Add(FieldOutcome, event.String("failure"))
		kv(ev, msg)
	case strings.HasPrefix(msg, "session opened for user "):
		ev.Add(FieldAction, event.String("session_opened"))
		ev.Add(FieldOutcome, event.String("success"))
		user, _, _ := strings.Cut(msg[len("session opened for user "):], " ")
		ev.Add(FieldUser, event.String(strings.TrimSuffix(user, "(uid")))
	case strings.HasPrefix(msg, "session closed for user "):
		ev.Add(FieldAction, event.String("session_closed"))
		ev.Add(FieldOutcome, event.String("success"))
		user, _, _ := strings.Cut(msg[len("session closed for user "):], " ")
		ev.Add(FieldUser, event.String(user))
	}
}

// kv reads the "rhost=… user=…" pairs of PAM messages.
func kv(ev *event.Event, s string) {
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" {
			continue
		}
		switch k {
		case "rhost":
			if _, err := netip.ParseAddr(v); err == nil {
				ev.Add(FieldSrcIP, event.String(v))
			} else {
				ev.Add("source.domain", event.String(v))
			}
		case "user":
			ev.Add(FieldUser, event.String(v))
		}
	}
}

// addrPort reads "<ip> port <n>…" or "<ip>…".
func addrPort(ev *event.Event, s string) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return
	}
	if !addIP(ev, f[0]) {
		return
	}
	if len(f) >= 3 && f[1] == "port" {
		if port, err := strconv.Atoi(strings.TrimRight(f[2], ":")); err == nil {
			ev.Add(FieldSrcPort, event.Int(int64(port)))
		}
	}
}

func addIP(ev *event.Event, s string) bool {
	s = strings.TrimRight(s, ":,")
	if _, err := netip.ParseAddr(s); err != nil {
		return false
	}
	ev.Add(FieldSrcIP, event.String(s))
	return true
}
