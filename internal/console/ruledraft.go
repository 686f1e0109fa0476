package console

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/wacht-soc/wacht/internal/api"
)

// "Save as rule draft" on the hunt page: the hunt's LogsQL query becomes
// a Sigma rule draft the analyst downloads or copies into a rule folder
// (or a pull request). The draft is not stored: a rule goes live through
// the rule folders and their review, not from a browser.
//
// The translation is deliberately modest. Field filters (field:value,
// field:="value", field:prefix*, field:~"regex", -field:value) become a
// selection (and a filter for the negated ones); bare words and *:value
// become keywords; pipes, time filters and anything the draft cannot
// express (OR, parentheses) are left out and listed in the description,
// so the author sees what to finish by hand.

// ruleDraft is the draft and what was left out of it.
type ruleDraft struct {
	Query   string
	Range   string
	YAML    string
	Skipped []string
	File    string // suggested file name
}

// draftTerm is one term of a query.
type draftTerm struct {
	field, value, modifier string
	negated                bool
}

// splitQuery splits the filter part of a LogsQL query (before the first
// pipe) into terms, keeping quoted strings whole.
func splitQuery(q string) []string {
	var out []string
	var cur strings.Builder
	quote := rune(0)
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range q {
		switch {
		case quote != 0:
			cur.WriteRune(r)
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'' || r == '`':
			quote = r
			cur.WriteRune(r)
		case r == '|':
			flush()
			return out
		case unicode.IsSpace(r):
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}

// unquote strips one pair of LogsQL quotes.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'' || v[0] == '`') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
		if v != "" && strings.ContainsRune(`"'`, rune(v[0])) {
			return v
		}
		return strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(v)
	}
	return v
}

// parseTerm reads one term; ok is false for what the draft leaves out.
func parseTerm(t string) (draftTerm, bool) {
	var d draftTerm
	if strings.HasPrefix(t, "-") || strings.HasPrefix(t, "!") {
		d.negated = true
		t = t[1:]
	}
	if t == "" || strings.ContainsAny(t[:1], "()") || strings.HasSuffix(t, ")") {
		return d, false
	}
	i := strings.IndexByte(t, ':')
	if i < 0 || (t[0] == '"' || t[0] == '\'') {
		d.value = unquote(t)
		return d, d.value != "" && d.value != "*"
	}
	d.field, t = t[:i], t[i+1:]
	switch {
	case strings.HasPrefix(t, "="):
		t = t[1:]
	case strings.HasPrefix(t, "~"):
		d.modifier, t = "re", t[1:]
	case strings.HasPrefix(t, ">") || strings.HasPrefix(t, "<") || strings.HasPrefix(t, "!") || strings.HasPrefix(t, "("):
		return d, false
	}
	quoted := len(t) > 0 && (t[0] == '"' || t[0] == '\'')
	d.value = unquote(t)
	if d.modifier == "" && !quoted && strings.HasSuffix(d.value, "*") && len(d.value) > 1 {
		d.modifier, d.value = "startswith", strings.TrimSuffix(d.value, "*")
	}
	if d.field == "_time" || d.field == "_stream" || d.field == "_stream_id" || d.value == "" {
		return d, false
	}
	if d.field == "_msg" || d.field == "*" {
		d.field = ""
	}
	return d, true
}

// logsourceFor guesses a Sigma logsource from the query's fields and
// values (the author should check it).
func logsourceFor(terms []draftTerm) [][2]string {
	has := func(pred func(draftTerm) bool) bool {
		for _, t := range terms {
			if pred(t) {
				return true
			}
		}
		return false
	}
	field := func(prefixes ...string) bool {
		return has(func(t draftTerm) bool {
			for _, p := range prefixes {
				if strings.HasPrefix(strings.ToLower(t.field), p) {
					return true
				}
			}
			return false
		})
	}
	value := func(words ...string) bool {
		return has(func(t draftTerm) bool {
			for _, w := range words {
				if strings.Contains(strings.ToLower(t.value), w) {
					return true
				}
			}
			return false
		})
	}
	switch {
	case field("process.", "image", "commandline", "parentimage"):
		if field("winlog.", "eventid") || value(".exe", "powershell", "cmd") {
			return [][2]string{{"category", "process_creation"}, {"product", "windows"}}
		}
		return [][2]string{{"category", "process_creation"}}
	case field("winlog.", "eventid", "event.code"):
		return [][2]string{{"product", "windows"}, {"service", "security"}}
	case field("dns."):
		return [][2]string{{"category", "dns"}}
	case field("url.", "http.", "user_agent."):
		return [][2]string{{"category", "webserver"}}
	case value("sshd", "ssh_login") || field("ssh."):
		return [][2]string{{"product", "linux"}, {"service", "sshd"}}
	case field("source.ip", "destination.ip", "destination.port", "network."):
		return [][2]string{{"category", "network_connection"}}
	}
	return [][2]string{{"product", "wacht"}, {"category", "application"}}
}

// buildRuleDraft turns query into a Sigma rule draft by author.
func buildRuleDraft(query, author, date string) (ruleDraft, error) {
	query = strings.TrimSpace(query)
	d := ruleDraft{Query: query}
	if query == "" {
		return d, userError{"a rule draft needs a hunt query; run one first"}
	}
	if strings.ContainsAny(query, "\r\n") {
		return d, userError{"a query is one line"}
	}
	if !utf8.ValidString(query) {
		return d, userError{"the query is not valid UTF-8"}
	}
	if i := strings.IndexByte(query, '|'); i >= 0 {
		d.Skipped = append(d.Skipped, "the pipes "+strings.TrimSpace(query[i:]))
	}
	var sel, filter []draftTerm
	var keywords []string
	var all []draftTerm
	for _, raw := range splitQuery(query) {
		switch strings.ToUpper(raw) {
		case "AND", "*":
			continue
		case "OR", "NOT":
			d.Skipped = append(d.Skipped, raw)
			continue
		}
		t, ok := parseTerm(raw)
		if !ok {
			d.Skipped = append(d.Skipped, raw)
			continue
		}
		all = append(all, t)
		switch {
		case t.field == "" && !t.negated:
			keywords = append(keywords, t.value)
		case t.field == "":
			d.Skipped = append(d.Skipped, raw)
		case t.negated:
			filter = append(filter, t)
		default:
			sel = append(sel, t)
		}
	}
	if len(sel) == 0 && len(keywords) == 0 {
		// Nothing positive to match: the whole query as one keyword, for
		// the author to rewrite.
		keywords = []string{query}
	}
	det := mapNode()
	var cond []string
	if len(sel) > 0 {
		det.Content = append(det.Content, scalar("selection"), termsNode(sel))
		cond = append(cond, "selection")
	}
	if len(keywords) > 0 {
		kw := &yaml.Node{Kind: yaml.SequenceNode}
		for _, k := range keywords {
			kw.Content = append(kw.Content, scalar(k))
		}
		det.Content = append(det.Content, scalar("keywords"), kw)
		cond = append(cond, "keywords")
	}
	c := strings.Join(cond, " and ")
	if len(filter) > 0 {
		det.Content = append(det.Content, scalar("filter"), termsNode(filter))
		c += " and not filter"
	}
	det.Content = append(det.Content, scalar("condition"), scalar(c))

	desc := "Drafted from the hunt query " + query + "."
	if len(d.Skipped) > 0 {
		desc += " Left out (finish by hand): " + strings.Join(d.Skipped, ", ") + "."
	}
	ls := mapNode()
	for _, kv := range logsourceFor(all) {
		ls.Content = append(ls.Content, scalar(kv[0]), scalar(kv[1]))
	}
	title := "Hunt: " + query
	if len([]rune(title)) > 100 {
		title = string([]rune(title)[:97]) + "..."
	}
	doc := mapNode()
	for _, kv := range [][2]any{{"title", title}, {"id", newUUID()}, {"status", "experimental"},
		{"description", desc}, {"author", author}, {"date", date}, {"logsource", ls}, {"detection", det},
		{"falsepositives", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{scalar("Unknown; review the hunt's results before enabling")}}},
		{"level", "medium"}} {
		doc.Content = append(doc.Content, scalar(kv[0].(string)))
		if n, ok := kv[1].(*yaml.Node); ok {
			doc.Content = append(doc.Content, n)
		} else {
			doc.Content = append(doc.Content, scalar(kv[1].(string)))
		}
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(4)
	if err := enc.Encode(doc); err != nil {
		return d, fmt.Errorf("encode rule draft of %q: %w", query, err)
	}
	_ = enc.Close()
	d.YAML = b.String()
	d.File = draftFileName(query)
	return d, nil
}

// termsNode is a selection map: field (with modifier) to value; a field
// given several values gets a list (any of them).
func termsNode(ts []draftTerm) *yaml.Node {
	keys := []string{}
	vals := map[string][]string{}
	for _, t := range ts {
		k := t.field
		if t.modifier != "" {
			k += "|" + t.modifier
		}
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = append(vals[k], t.value)
	}
	n := mapNode()
	for _, k := range keys {
		n.Content = append(n.Content, scalar(k))
		if len(vals[k]) == 1 {
			n.Content = append(n.Content, scalar(vals[k][0]))
			continue
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, v := range vals[k] {
			seq.Content = append(seq.Content, scalar(v))
		}
		n.Content = append(n.Content, seq)
	}
	return n
}

func mapNode() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

// scalar is a string node; strings YAML would read as another type are
// quoted.
func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	return n
}

// draftFileName is a file name made of the query's words.
func draftFileName(q string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(q) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
		if b.Len() >= 48 {
			break
		}
	}
	name := strings.Trim(b.String(), "_")
	if name == "" {
		name = "hunt"
	}
	return "draft_" + name + ".yml"
}

// newUUID is a random (version 4) UUID for the draft's id.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ruleDraft serves GET /console/hunt/rule-draft?q=…: the draft as a page
// to copy, or with download=1 as a YAML file.
func (s *Service) ruleDraft(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, _ := api.IdentityFrom(r.Context())
	author := strings.TrimPrefix(strings.TrimPrefix(id.Subject, "user:"), "token:")
	d, err := buildRuleDraft(q.Get("q"), author, s.o.Now().UTC().Format("2006-01-02"))
	d.Range = q.Get("range")
	if err != nil && !isUserError(err) {
		s.fail(w, r, err)
		return
	}
	if err == nil && q.Get("download") == "1" {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+d.File+`"`)
		_, _ = w.Write([]byte(d.YAML))
		return
	}
	data := struct {
		ruleDraft
		Error       string
		DownloadURL string
		BackURL     string
	}{ruleDraft: d, BackURL: huntURL(d.Query, d.Range)}
	if err != nil {
		data.Error = err.Error()
	} else {
		data.DownloadURL = api.ConsolePrefix + "hunt/rule-draft?" + url.Values{"q": {d.Query}, "download": {"1"}}.Encode()
	}
	s.render(w, r, "ruledraft", "layout", s.newPage(r, "hunt", "Rule draft", data))
}
