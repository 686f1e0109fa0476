package vlstore

import (
	"sort"
	"strconv"

	"github.com/VictoriaMetrics/VictoriaLogs/lib/logstorage"

	"github.com/wacht-soc/wacht/event"
)

// The engine silently ignores (with a log line) entries over these limits;
// fit shortens such an entry instead and says what it did, so that nothing
// is lost without a count and a mark on the event.
const (
	maxFields    = 2000
	maxNameBytes = 128
	// maxRowBytes stays below the engine's 2 MiB estimate limit.
	maxRowBytes = 2<<20 - 64<<10
)

// fit makes fields storable. It returns the fields and the reason they
// were changed ("" when they were not). Order of remedies: drop
// event.original, shorten long names, drop fields past the limit, cut the
// longest values.
func fit(fields []logstorage.Field) ([]logstorage.Field, string) {
	reason := ""
	note := func(r string) {
		if reason == "" {
			reason = r
		}
	}
	for i := range fields {
		if len(fields[i].Name) > maxNameBytes {
			fields[i].Name = fields[i].Name[:maxNameBytes]
			note("field_name_too_long")
		}
	}
	if len(fields) > maxFields {
		fields = fields[:maxFields-1]
		note("too_many_fields")
	}
	if logstorage.EstimatedJSONRowLen(fields) > maxRowBytes {
		note("event_too_large")
		for i := range fields {
			if fields[i].Name == event.FieldRaw {
				fields = append(fields[:i], fields[i+1:]...)
				break
			}
		}
		// Cut the longest values until the row fits.
		for logstorage.EstimatedJSONRowLen(fields) > maxRowBytes {
			idx := make([]int, len(fields))
			for i := range idx {
				idx[i] = i
			}
			sort.Slice(idx, func(a, b int) bool { return len(fields[idx[a]].Value) > len(fields[idx[b]].Value) })
			over := logstorage.EstimatedJSONRowLen(fields) - maxRowBytes
			f := &fields[idx[0]]
			keep := max(len(f.Value)-over-1024, len(f.Value)/2)
			f.Value = f.Value[:keep]
		}
	}
	if reason != "" {
		msg := "event shortened to fit the store: " + reason + " (limits: " + strconv.Itoa(maxFields) + " fields, " +
			strconv.Itoa(maxNameBytes) + "-byte names, " + strconv.Itoa(maxRowBytes) + " bytes)"
		for i := range fields {
			if fields[i].Name == event.FieldError {
				fields[i].Value += "; " + msg
				return fields, reason
			}
		}
		fields = append(fields, logstorage.Field{Name: event.FieldError, Value: msg})
	}
	return fields, reason
}
