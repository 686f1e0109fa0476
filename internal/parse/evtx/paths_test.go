package evtx

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

// ParseAll renders events straight from the resolved record; Records hands
// out a tree of Nodes, and Record.Event/XML work from that tree. The two
// must give the same events, byte for byte.

// eventsBothWays parses data with ParseAll and through Records + Event.
func eventsBothWays(data []byte) (fast, tree []*event.Event, fastErr, treeErr error) {
	base := event.Event{Tenant: "t1", IngestTime: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}
	var p Parser
	fastErr = p.ParseAll(data, base, func(ev *event.Event) error {
		fast = append(fast, ev)
		return nil
	})
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fast, nil, fastErr, err
	}
	treeErr = f.Records(func(r Record) error {
		ev := r.Event(base)
		ev.Format = "evtx/" + Version
		if ev.Time.IsZero() {
			ev.Time = ev.IngestTime
		}
		if x := r.XML(); x != string(ev.Raw) {
			return fmt.Errorf("record %d: XML() and Event().Raw differ:\n%s\n%s", r.RecordID, x, ev.Raw)
		}
		ev.ComputeID()
		tree = append(tree, ev)
		return nil
	})
	return fast, tree, fastErr, treeErr
}

// compareBothWays fails t when ParseAll and the Records tree disagree.
func compareBothWays(t testing.TB, name string, data []byte) int {
	t.Helper()
	fast, tree, fastErr, treeErr := eventsBothWays(data)
	if fmt.Sprint(fastErr) != fmt.Sprint(treeErr) {
		t.Fatalf("%s: ParseAll error %v, Records error %v", name, fastErr, treeErr)
	}
	if len(fast) != len(tree) {
		t.Fatalf("%s: ParseAll made %d events, Records %d", name, len(fast), len(tree))
	}
	for i := range fast {
		if diff := parsetest.DiffEvents(fast[i], tree[i]); diff != "" {
			t.Fatalf("%s: event %d: %s", name, i, diff)
		}
	}
	return len(fast)
}

func TestParseAllMatchesRecords(t *testing.T) {
	t.Run("built", func(t *testing.T) {
		if n := compareBothWays(t, "two chunks", twoChunkFile()); n != 4 {
			t.Fatalf("%d events, want 4", n)
		}
	})
	for _, archive := range []string{"evtx-attack-samples.tgz", "deepbluecli-evtx.tgz"} {
		t.Run(archive, func(t *testing.T) {
			files, _ := readArchive(t, archive)
			total := 0
			for _, af := range files {
				total += compareBothWays(t, af.name, af.data)
			}
			if total == 0 {
				t.Fatal("no events")
			}
		})
	}
}
