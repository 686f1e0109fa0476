package sigma

import (
	"reflect"
	"testing"

	"github.com/wacht-soc/wacht/event"
)

// TestMatchSelections: a match names the search identifiers that were true
// for the event, in document order; filters under "not" are absent.
func TestMatchSelections(t *testing.T) {
	rules, err := ParseRules("r.yml", []byte(`title: t
id: r
logsource: {product: test}
detection:
  sel_img: {Image|endswith: '\cmd.exe'}
  sel_cli: {CommandLine|contains: whoami}
  sel_other: {CommandLine|contains: net user}
  filter_admin: {User: admin}
  condition: 1 of sel_* and not filter_admin
`))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := Compile(&Collection{Rules: rules}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := func(img, cli, user string) *event.Event {
		e := &event.Event{LogSource: event.LogSource{Product: "test"}}
		e.Add("Image", event.String(img))
		e.Add("CommandLine", event.String(cli))
		e.Add("User", event.String(user))
		return e
	}
	for _, c := range []struct {
		ev   *event.Event
		want []string
	}{
		{ev(`C:\x\cmd.exe`, "cmd /c whoami", "bob"), []string{"sel_img", "sel_cli"}},
		{ev(`C:\x\net.exe`, "net user x", "bob"), []string{"sel_other"}},
		{ev(`C:\x\cmd.exe`, "whoami", "admin"), nil},
	} {
		var got []string
		n := 0
		eng.Match(c.ev, func(m Match) { got = m.Selections; n++ })
		if (c.want == nil) != (n == 0) || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: %d matches, selections %v, want %v", c.ev.Fields, n, got, c.want)
		}
	}
}
