package ueba

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// TestRareInPeers: an IT tool that half the fleet runs is no news on a
// new IT host but is on a finance workstation; the group comes from the
// asset inventory (PeerOf) or from an event field.
func TestRareInPeers(t *testing.T) {
	for _, viaField := range []bool{false, true} {
		t.Run(fmt.Sprint("event_field=", viaField), func(t *testing.T) {
			group := func(host string) string {
				var i int
				fmt.Sscanf(host, "ws-%d", &i)
				if i%2 == 0 {
					return "IT"
				}
				return "finance"
			}
			cfg := Config{LearningPeriod: 24 * time.Hour}
			if viaField {
				cfg.PeerFields = []string{"host.group"}
			} else {
				cfg.PeerOf = func(tenant, host string) string { return group(host) }
			}
			en := NewEngine(cfg)
			ev := func(at time.Time, host, img string) *event.Event {
				e := &event.Event{Time: at, Tenant: "t", Fields: []event.Field{{Name: "host.name", Value: event.String(host)},
					{Name: "process.executable", Value: event.String(img)}}}
				if viaField {
					e.Fields = append(e.Fields, event.Field{Name: "host.group", Value: event.String(group(host))})
				}
				return e
			}
			var got []Anomaly
			for h := range 30 {
				var evs []*event.Event
				for i := range 20 {
					host := fmt.Sprintf("ws-%d", i)
					evs = append(evs, ev(simStart.Add(time.Duration(h)*time.Hour), host, `c:\windows\explorer.exe`))
					if group(host) == "IT" {
						evs = append(evs, ev(simStart.Add(time.Duration(h)*time.Hour+time.Minute), host, `c:\tools\PsExec.exe`))
					}
				}
				got = en.Process(evs, got)
			}
			if len(got) != 0 {
				t.Fatalf("anomalies while learning: %+v", got)
			}
			at := simStart.Add(31 * time.Hour)
			got = en.Process([]*event.Event{ev(at, "ws-3", `c:\tools\PsExec.exe`)}, got)
			var peer *Anomaly
			for i := range got {
				if got[i].Detector == DetRarePeer {
					peer = &got[i]
				}
				if got[i].Detector == DetRareProcess {
					t.Errorf("fleet-wide rarity for a tool on half the fleet: %+v", got[i])
				}
			}
			if peer == nil {
				t.Fatalf("no rare-in-peers anomaly: %+v", got)
			}
			if peer.Entity.Value != `ws-3|c:\tools\psexec.exe` || !strings.Contains(peer.Peers, "finance (10 hosts)") ||
				peer.Observed != "1 of 10 peer hosts" || !strings.Contains(peer.Baseline, "11 hosts fleet-wide") {
				t.Errorf("explanation: %+v", peer)
			}
			// A second finance host is already the second in its group,
			// and an IT host running it is no news.
			more := en.Process([]*event.Event{ev(at, "ws-5", `c:\tools\PsExec.exe`)}, nil)
			for _, a := range more {
				if a.Detector == DetRarePeer {
					t.Errorf("second host of the group still rare: %+v", a)
				}
			}
		})
	}
}
