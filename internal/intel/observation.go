package intel

import (
	"strings"

	"github.com/wacht-soc/wacht/event"
)

// eventObservation shows an event to the STIX pattern evaluator as the
// cyber-observable objects it describes: ipv4-addr:value is any of its
// address fields, file:hashes.'SHA-256' its file.hash.sha256, and so on.
// Paths without a mapping fall back to the field "<type>.<path>".
type eventObservation struct{ ev *event.Event }

var stixFields = map[string][]string{
	"ipv4-addr:value":                 {"source.ip", "destination.ip", "client.ip", "server.ip", "related.ip"},
	"ipv6-addr:value":                 {"source.ip", "destination.ip", "client.ip", "server.ip", "related.ip"},
	"domain-name:value":               {"dns.question.name", "url.domain", "destination.domain", "server.domain", "tls.client.server_name"},
	"url:value":                       {"url.full", "url.original"},
	"email-addr:value":                {"email.from.address", "email.to.address", "email.sender.address", "user.email"},
	"email-message:from_ref.value":    {"email.from.address"},
	"email-message:subject":           {"email.subject"},
	"file:name":                       {"file.name"},
	"file:size":                       {"file.size"},
	"file:hashes.md5":                 {"file.hash.md5", "process.hash.md5"},
	"file:hashes.sha-1":               {"file.hash.sha1", "process.hash.sha1"},
	"file:hashes.sha1":                {"file.hash.sha1", "process.hash.sha1"},
	"file:hashes.sha-256":             {"file.hash.sha256", "process.hash.sha256"},
	"file:hashes.sha256":              {"file.hash.sha256", "process.hash.sha256"},
	"file:hashes.sha-512":             {"file.hash.sha512"},
	"file:hashes.sha512":              {"file.hash.sha512"},
	"network-traffic:dst_port":        {"destination.port"},
	"network-traffic:src_port":        {"source.port"},
	"network-traffic:dst_ref.value":   {"destination.ip"},
	"network-traffic:src_ref.value":   {"source.ip"},
	"network-traffic:protocols":       {"network.transport", "network.protocol"},
	"process:name":                    {"process.name"},
	"process:command_line":            {"process.command_line"},
	"process:pid":                     {"process.pid"},
	"user-account:user_id":            {"user.name", "user.id"},
	"user-account:account_login":      {"user.name"},
	"windows-registry-key:key":        {"registry.path", "registry.key"},
	"mutex:name":                      {"mutex.name"},
	"autonomous-system:number":        {"source.as.number", "destination.as.number"},
	"x509-certificate:hashes.sha-1":   {"tls.server.hash.sha1"},
	"x509-certificate:hashes.sha-256": {"tls.server.hash.sha256"},
	"x509-certificate:serial_number":  {"tls.server.x509.serial_number"},
	"software:name":                   {"package.name"},
	"directory:path":                  {"file.directory"},
	"artifact:hashes.sha-256":         {"file.hash.sha256"},
	"network-traffic:extensions.http-request-ext.request_method": {"http.request.method"},
}

// Values implements stix.Observation.
func (o eventObservation) Values(objectType, path string) []string {
	key := objectType + ":" + strings.ToLower(path)
	names, ok := stixFields[key]
	if !ok {
		names = []string{objectType + "." + path}
	}
	var out []string
	hash := strings.Contains(key, ":hashes.")
	for _, n := range names {
		for i := range o.ev.Fields {
			f := &o.ev.Fields[i]
			if f.Name != n {
				continue
			}
			add := func(v event.Value) {
				s := v.String()
				if hash {
					s = strings.ToLower(s)
				}
				if s != "" {
					out = append(out, s)
				}
			}
			if f.Value.Kind() == event.KindArray {
				for _, v := range f.Value.Array() {
					add(v)
				}
			} else {
				add(f.Value)
			}
		}
	}
	return out
}
