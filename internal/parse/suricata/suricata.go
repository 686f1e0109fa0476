// Package suricata parses Suricata EVE JSON (alert, dns, http, tls, flow,
// fileinfo, stats … records). The message is the alert signature or the
// event type; flows become source/destination entities.
package suricata

import (
	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/jsonsource"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
)

// Spec is the Suricata EVE source.
func Spec() jsonsource.Spec {
	return jsonsource.Spec{
		Name:        "suricata",
		Version:     "1",
		Description: "Suricata EVE JSON",
		TimeKeys:    []string{"timestamp"},
		MessageKeys: []string{"alert.signature"},
		LogSourceFrom: func(ev *event.Event) event.LogSource {
			ls := normalize.Source("suricata")
			ls.Service = ev.GetString("event_type")
			return ls
		},
		Entities: [][]string{
			{normalize.SourceIP, "src_ip"},
			{normalize.SourcePort, "src_port"},
			{normalize.DestIP, "dest_ip"},
			{normalize.DestPort, "dest_port"},
			{"network.transport", "proto"},
			{normalize.DNSQuestion, "dns.rrname", "dns.query.rrname"},
			{"url.domain", "http.hostname", "tls.sni"},
			{"url.path", "http.url"},
			{"rule.name", "alert.signature"},
			{"file.hash.md5", "fileinfo.md5"},
			{"file.hash.sha256", "fileinfo.sha256"},
		},
		Finish: func(ev *event.Event) {
			if ev.Message == "" {
				ev.Message = ev.GetString("event_type")
			}
			if h, p := ev.GetString("http.hostname"), ev.GetString("http.url"); h != "" && p != "" {
				ev.Add(normalize.URLFull, event.String("http://"+h+p))
			}
		},
	}
}

func init() { jsonsource.Register(Spec()) }
