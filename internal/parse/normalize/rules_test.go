package normalize

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/wacht-soc/wacht/event"
)

// Rules.Apply gives what Entity called rule by rule gives, on random
// events with duplicates, empty and "-" values and present ECS fields.
func TestRulesMatchEntity(t *testing.T) {
	rules := []Rule{
		{SourceIP, []string{"src", "srcip", "client_ip"}},
		{UserName, []string{"user", "usrName", "suser"}},
		{HostName, []string{"host", "dvchost"}},
		{DestPort, []string{"dpt", "dport"}},
	}
	names := []string{"src", "srcip", "client_ip", "user", "usrName", "suser", "host", "dvchost", "dpt", "dport", "other", SourceIP, HostName}
	values := []event.Value{event.String(""), event.String("-"), event.String("a"), event.String("b"), event.Int(0), event.Null()}
	compiled := NewRules(rules...)
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 5000 {
		var a event.Event
		for range rng.IntN(12) {
			a.Add(names[rng.IntN(len(names))], values[rng.IntN(len(values))])
		}
		b := a
		b.Fields = append([]event.Field(nil), a.Fields...)
		for _, r := range rules {
			Entity(&a, r.ECS, r.From...)
		}
		compiled.Apply(&b)
		if got, want := fmt.Sprint(b.Fields), fmt.Sprint(a.Fields); got != want {
			t.Fatalf("case %d:\n got %s\nwant %s", n, got, want)
		}
	}
}
