package zeek

import (
	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
)

// entityRule copies the first usable value of the from fields to the ECS
// field ecs (normalize.Entity).
type entityRule struct {
	ecs  string
	from []string
}

// commonEntities apply to every log; pathEntities adds those of one log
// type. Both tables are read only.
var commonEntities = []entityRule{
	{normalize.SourceIP, []string{"id.orig_h", "id_orig_h"}},
	{normalize.SourcePort, []string{"id.orig_p", "id_orig_p"}},
	{normalize.DestIP, []string{"id.resp_h", "id_resp_h"}},
	{normalize.DestPort, []string{"id.resp_p", "id_resp_p"}},
	{"network.transport", []string{"proto"}},
}

var (
	dnsEntities  = []entityRule{{normalize.DNSQuestion, []string{"query"}}}
	httpEntities = []entityRule{
		{"url.domain", []string{"host"}},
		{"url.path", []string{"uri"}},
		{"http.request.method", []string{"method"}},
		{"user_agent.original", []string{"user_agent"}},
	}
	sslEntities   = []entityRule{{"tls.client.server_name", []string{"server_name"}}}
	filesEntities = []entityRule{
		{normalize.FileHashPrefix + "md5", []string{"md5"}},
		{normalize.FileHashPrefix + "sha1", []string{"sha1"}},
		{normalize.FileHashPrefix + "sha256", []string{"sha256"}},
		{"file.name", []string{"filename"}},
	}
	smbFilesEntities = []entityRule{
		{"file.path", []string{"path"}},
		{"file.name", []string{"name"}},
	}
	ntlmEntities = []entityRule{
		{normalize.UserName, []string{"username", "cookie"}},
		{normalize.UserDomain, []string{"domainname"}},
		{normalize.HostName, []string{"hostname"}},
	}
	kerberosEntities = []entityRule{{normalize.UserName, []string{"client"}}}
	smtpEntities     = []entityRule{
		{normalize.EmailFrom, []string{"mailfrom", "from"}},
		{normalize.EmailTo, []string{"rcptto", "to"}},
		{"email.subject", []string{"subject"}},
	}
	userEntities   = []entityRule{{normalize.UserName, []string{"user"}}}
	noticeEntities = []entityRule{{"rule.name", []string{"note"}}}
)

func pathEntities(path string) []entityRule {
	switch path {
	case "dns":
		return dnsEntities
	case "http":
		return httpEntities
	case "ssl":
		return sslEntities
	case "files", "pe":
		return filesEntities
	case "smb_files":
		return smbFilesEntities
	case "ntlm", "rdp":
		return ntlmEntities
	case "kerberos":
		return kerberosEntities
	case "smtp":
		return smtpEntities
	case "ssh", "ftp":
		return userEntities
	case "notice":
		return noticeEntities
	}
	return nil
}

// plan is what finish looks up, resolved once per header to column
// indices: a record then finds its time, entities and message without
// searching its fields by name. It applies when every name involved is
// unambiguous (no column named twice, nor like a field the parser adds);
// otherwise fast is false and records go through finish.
type plan struct {
	fast bool
	// extra is how many fields a record may get beyond its columns.
	extra    int
	ts       int // column of "ts", or -1
	entities []entityCols
	msg      int // column of the message key, or -1
	host     int // http: columns of host and uri
	uri      int
	auth     int // ssh, ftp: column of auth_success
}

type entityCols struct {
	ecs  string
	cols []int
}

// makePlan resolves the lookups of finish for the columns of h.
func makePlan(h *header) *plan {
	pl := &plan{ts: -1, msg: -1, host: -1, uri: -1, auth: -1}
	rules := append(append([]entityRule(nil), commonEntities...), pathEntities(h.path)...)
	pl.extra = 1 + len(rules) + 1 // _path, entities, url.full or event.outcome
	col := make(map[string]int, len(h.cols))
	added := map[string]bool{"_path": true, normalize.URLFull: true, normalize.EventOutcome: true}
	for _, r := range rules {
		if added[r.ecs] {
			return pl // an entity named twice
		}
		added[r.ecs] = true
	}
	for i, c := range h.cols {
		if _, dup := col[c.name]; dup || added[c.name] {
			return pl
		}
		col[c.name] = i
	}
	// find is the column of a looked-up name; ok is false when the name
	// could find a field the parser adds instead.
	ok := true
	find := func(name string) int {
		if added[name] {
			ok = false
		}
		if i, found := col[name]; found {
			return i
		}
		return -1
	}
	pl.ts = find("ts")
	for _, r := range rules {
		e := entityCols{ecs: r.ecs}
		for _, name := range r.from {
			if i := find(name); i >= 0 {
				e.cols = append(e.cols, i)
			}
		}
		pl.entities = append(pl.entities, e)
	}
	if key := messageKey(h.path); key != "" {
		pl.msg = find(key)
	}
	switch h.path {
	case "http":
		pl.host, pl.uri = find("host"), find("uri")
	case "ssh", "ftp":
		pl.auth = find("auth_success")
	}
	pl.fast = ok
	return pl
}

// finishPlanned is finish for a record whose fields came from the columns
// of the planned header alone; at holds each column's field index, -1 for
// unset columns.
func finishPlanned(ev *event.Event, h *header, at []int32) {
	pl := h.plan
	// get is the value of a column, nil when the column is unset or not
	// in the header.
	get := func(col int) *event.Value {
		if col < 0 || at[col] < 0 {
			return nil
		}
		return &ev.Fields[at[col]].Value
	}
	if v := get(pl.ts); v != nil && v.Kind() == event.KindTime {
		ev.Time = v.Time()
	}
	ev.LogSource = h.ls
	for i := range pl.entities {
		e := &pl.entities[i]
		for _, c := range e.cols {
			if v := get(c); v != nil && usable(v) {
				ev.Add(e.ecs, *v)
				break
			}
		}
	}
	switch h.path {
	case "http":
		var host, uri string
		if v := get(pl.host); v != nil {
			host = v.String()
		}
		if v := get(pl.uri); v != nil {
			uri = v.String()
		}
		if host != "" && uri != "" {
			ev.Add(normalize.URLFull, event.String("http://"+host+uri))
		}
	case "ssh", "ftp":
		if v := get(pl.auth); v != nil && v.Kind() == event.KindBool {
			ev.Add(normalize.EventOutcome, event.String(outcome(v.Bool())))
		}
	}
	if v := get(pl.msg); v != nil {
		if s := v.String(); s != "" {
			ev.Message = h.path + " " + s
			return
		}
	}
	ev.Message = pathMessage(h.path)
}

// usable is normalize's test for a value worth copying to an entity: not
// null and, for strings, neither empty nor "-".
func usable(v *event.Value) bool {
	if v.IsNull() {
		return false
	}
	if v.Kind() != event.KindString {
		return true
	}
	s := v.Str()
	return s != "" && s != "-"
}
