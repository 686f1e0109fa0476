// Package detect picks the parser for a file or an HTTP body from its first
// bytes: EVTX by its file magic; JSON by the shape of its first record
// (Winlogbeat/NXLog Windows events, CloudTrail with or without a Records
// array, Okta, Azure AD, GCP audit, GitHub audit, Suricata EVE, Zeek);
// header-driven text (Zeek TSV, W3C/IIS); and line formats by what their
// first lines look like (CEF, LEEF, auditd, Apache/nginx access logs,
// syslog, key=value). Line formats are decided by a vote over the first
// lines, so one odd line does not decide for a file.
//
// Detection is a guess from a sample. It reports why it chose, and "" when
// nothing fits, so that callers can ask for an explicit format instead of
// storing garbage.
package detect

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/accesslog"
	"github.com/wacht-soc/wacht/internal/parse/syslog"
	"github.com/wacht-soc/wacht/internal/parse/timestamp"
)

// SampleSize is how many leading bytes Detect looks at; callers pass at
// most this much (more is ignored).
const SampleSize = 64 << 10

// maxLines is how many data lines vote on a line format.
const maxLines = 20

// Result is a detected format.
type Result struct {
	// Format is the parser's short name; "" when nothing fits.
	Format string
	// Reason says what decided, for logs and error messages.
	Reason string
}

// Known reports whether a format was found.
func (r Result) Known() bool { return r.Format != "" }

// Detect guesses the format of data from its first SampleSize bytes.
func Detect(data []byte) Result {
	if len(data) > SampleSize {
		data = data[:SampleSize]
	}
	if bytes.HasPrefix(data, []byte("ElfFile\x00")) {
		return Result{"evtx", "EVTX file header"}
	}
	if bytes.HasPrefix(data, []byte("ElfChnk\x00")) {
		return Result{"evtx", "EVTX chunk header"}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return Result{"", "empty input"}
	}
	switch trimmed[0] {
	case '{', '[':
		return JSON(trimmed)
	}
	return Lines(data)
}

// pantherTypes maps the p_log_type of Panther's normalized logs to a parser.
var pantherTypes = map[string]string{
	"AWS.CloudTrail": "cloudtrail",
	"Okta.SystemLog": "okta",
	"Azure.Audit":    "azuread",
	"GCP.AuditLog":   "gcpaudit",
	"GitHub.Audit":   "githubaudit",
}

var (
	keyRE      = regexp.MustCompile(`"([A-Za-z_@$][A-Za-z0-9_.@$-]*)"\s*:`)
	pLogTypeRE = regexp.MustCompile(`"p_log_type"\s*:\s*"([^"]+)"`)
)

// JSON classifies JSON input (an object per line, one document, or an
// array of objects) by the keys of its first record.
func JSON(data []byte) Result {
	first := firstRecord(data)
	if m := pLogTypeRE.FindSubmatch(first); m != nil {
		if f, ok := pantherTypes[string(m[1])]; ok {
			return Result{f, "Panther p_log_type " + string(m[1])}
		}
	}
	keys := map[string]bool{}
	for _, m := range keyRE.FindAllSubmatch(first, 512) {
		keys[strings.ToLower(string(m[1]))] = true
	}
	has := func(ks ...string) bool {
		for _, k := range ks {
			if !keys[strings.ToLower(k)] {
				return false
			}
		}
		return true
	}
	any := func(ks ...string) bool {
		for _, k := range ks {
			if keys[strings.ToLower(k)] {
				return true
			}
		}
		return false
	}
	switch {
	case bytes.HasPrefix(bytes.TrimLeft(data, "{ \t\r\n"), []byte(`"Records"`)) || has("Records", "eventVersion", "eventSource"):
		return Result{"cloudtrail", "JSON document with a CloudTrail Records array"}
	case has("eventSource", "eventName") && any("eventVersion", "awsRegion", "eventTime", "eventType", "userIdentity", "recipientAccountId") ||
		has("eventName", "awsRegion", "recipientAccountId"):
		return Result{"cloudtrail", "JSON with CloudTrail eventSource and eventName"}
	case has("winlog") || has("EventID", "Channel") || has("EventID", "SourceName") || has("System", "EventData") || has("event_id", "channel", "provider_name") ||
		has("log_name", "event_id", "source_name"):
		return Result{"winlog", "JSON Windows event (EventID with Channel or SourceName; Winlogbeat's winlog or log_name)"}
	case has("_path") && any("ts", "_write_ts", "uid") || has("@stream", "ts") || has("@stream", "@system") ||
		has("uid", "id.orig_h") || has("uid", "id_orig_h") || has("uid", "orig_h", "resp_h"):
		return Result{"zeekjson", "JSON with Zeek's _path/@stream/uid/id.orig_h"}
	case has("event_type", "src_ip") || has("event_type", "flow_id") || has("event_type", "timestamp", "in_iface"):
		return Result{"suricata", "JSON with Suricata EVE event_type"}
	case has("eventType", "actor", "published") || has("eventType", "displayMessage") || has("eventType", "legacyEventType"):
		return Result{"okta", "JSON with Okta eventType, actor, published"}
	case has("protoPayload") || bytes.Contains(first, []byte("cloudaudit.googleapis.com")) ||
		has("logName", "insertId") || has("logName", "resource", "severity"):
		return Result{"gcpaudit", "JSON with GCP audit protoPayload"}
	case has("operationName", "category") && any("properties", "resourceId", "tenantId", "callerIpAddress", "correlationId") ||
		has("createdDateTime", "userPrincipalName", "appDisplayName") || has("activityDisplayName", "initiatedBy"):
		return Result{"azuread", "JSON with Azure operationName/category or Graph sign-in/audit keys"}
	case has("action", "actor") && any("org", "repo", "business", "@timestamp", "created_at", "actor_location"):
		return Result{"githubaudit", "JSON with GitHub audit action and actor"}
	}
	return Result{"json", "JSON without a known shape"}
}

// firstRecord returns the text of the first JSON record: the first line of
// NDJSON, the first element of an array, or the (maybe truncated) document.
func firstRecord(data []byte) []byte {
	if data[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(data))
		if _, err := dec.Token(); err == nil {
			var raw json.RawMessage
			if dec.Decode(&raw) == nil {
				return raw
			}
		}
		return data
	}
	line := data
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		line = data[:i]
	}
	if json.Valid(bytes.TrimSpace(line)) {
		return line
	}
	// A pretty-printed or truncated document: its keys anywhere.
	return data
}

// Lines classifies line-oriented text.
func Lines(data []byte) Result {
	var votes = map[string]int{}
	reasons := map[string]string{}
	lines := 0
	complete := bytes.LastIndexByte(data, '\n')
	for off := 0; off < len(data) && lines < maxLines; {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
			if complete >= 0 && len(data) == SampleSize {
				break // a cut-off last line does not vote
			}
		} else {
			end += off
		}
		line := bytes.TrimRight(data[off:end], "\r")
		off = end + 1
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if line[0] == '#' {
			switch {
			case bytes.HasPrefix(line, []byte("#separator ")), bytes.HasPrefix(line, []byte("#fields\t")):
				return Result{"zeek", "Zeek TSV header (" + string(line[:bytes.IndexAny(line, " \t")]) + ")"}
			case bytes.HasPrefix(line, []byte("#Fields:")), bytes.HasPrefix(line, []byte("#Software:")), bytes.HasPrefix(line, []byte("#Version:")):
				return Result{"w3c", "W3C extended log directive"}
			}
			continue
		}
		lines++
		f, why := Line(line)
		if f != "" {
			votes[f]++
			reasons[f] = why
		}
	}
	best, n := "", 0
	for f, v := range votes {
		if v > n || v == n && f < best {
			best, n = f, v
		}
	}
	if best == "" || n*2 < lines {
		return Result{"", "no known line format in the first lines"}
	}
	return Result{best, reasons[best]}
}

var (
	cefRE    = regexp.MustCompile(`CEF:\d+\|`)
	leefRE   = regexp.MustCompile(`LEEF:[12]\.0\|`)
	auditRE  = regexp.MustCompile(`^(node=\S+ )?type=[A-Z_]+ msg=audit\(\d+`)
	pairRE   = regexp.MustCompile(`(^|[\s,;|])[A-Za-z_][\w.-]*=("[^"]*"|[^\s,;|"]*)`)
	bsdDateR = regexp.MustCompile(`^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d `)
)

// Line guesses the format of one line.
func Line(line []byte) (format, reason string) {
	switch {
	case cefRE.Match(line):
		return "cef", "CEF header"
	case leefRE.Match(line):
		return "leef", "LEEF header"
	case auditRE.Match(line):
		return "auditd", "auditd type=… msg=audit(…)"
	}
	if len(line) > 0 && line[0] != '<' && line[0] != '{' {
		ev := event.Event{}
		var p accesslog.Parser
		if p.Parse(line, &ev) == nil {
			return "accesslog", "access log line (client ident user [time] \"request\" status size)"
		}
	}
	switch {
	case len(line) > 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '9':
		return "syslog", "syslog PRI"
	case syslog.Is5424(line):
		return "syslog", "RFC 5424 header"
	case bsdDateR.Match(line):
		return "syslog", "BSD syslog timestamp"
	}
	if _, n, _, err := timestamp.ISO(line, time.UTC); err == nil && n < len(line) && line[n] == ' ' && bytes.Count(line, []byte(" ")) >= 2 {
		return "syslog", "ISO timestamp and host"
	}
	if len(pairRE.FindAllIndex(line, 4)) >= 3 {
		return "kv", "key=value pairs"
	}
	return "", ""
}
