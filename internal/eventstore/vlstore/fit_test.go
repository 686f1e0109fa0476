package vlstore

import (
	"strings"
	"testing"

	"github.com/VictoriaMetrics/VictoriaLogs/lib/logstorage"

	"github.com/wacht-soc/wacht/event"
)

func TestFitShortensWhatTheEngineWouldDrop(t *testing.T) {
	f := func(name string, in []logstorage.Field, reason string, check func([]logstorage.Field) bool) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			out, why := fit(in)
			if why != reason {
				t.Fatalf("reason %q, want %q", why, reason)
			}
			if logstorage.EstimatedJSONRowLen(out) > maxRowBytes || len(out) > maxFields {
				t.Fatalf("still over the limits: %d bytes, %d fields", logstorage.EstimatedJSONRowLen(out), len(out))
			}
			if reason != "" {
				last := out[len(out)-1]
				if last.Name != event.FieldError || !strings.Contains(last.Value, reason) {
					t.Fatalf("not marked: %v", last)
				}
			}
			if !check(out) {
				t.Fatalf("unexpected result")
			}
		})
	}
	big := strings.Repeat("x", 3<<20)
	f("small event untouched", []logstorage.Field{{Name: "_msg", Value: "hi"}}, "", func(o []logstorage.Field) bool { return len(o) == 1 })
	f("original dropped first", []logstorage.Field{{Name: "_msg", Value: big[:1<<20]}, {Name: event.FieldRaw, Value: big[:1<<20+100]}}, "event_too_large",
		func(o []logstorage.Field) bool { return o[0].Value == big[:1<<20] && o[1].Name == event.FieldError })
	f("huge message cut", []logstorage.Field{{Name: "_msg", Value: big}, {Name: "host", Value: "a"}}, "event_too_large",
		func(o []logstorage.Field) bool { return len(o[0].Value) > 1<<20 && o[1].Value == "a" })
	long := strings.Repeat("n", 300)
	f("long name", []logstorage.Field{{Name: long, Value: "v"}}, "field_name_too_long", func(o []logstorage.Field) bool { return o[0].Name == long[:maxNameBytes] })
	many := make([]logstorage.Field, 2500)
	for i := range many {
		many[i] = logstorage.Field{Name: "f" + strings.Repeat("1", i%50), Value: "v"}
	}
	f("too many fields", many, "too_many_fields", func(o []logstorage.Field) bool { return len(o) == maxFields })
}
