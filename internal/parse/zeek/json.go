package zeek

import (
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/jsonsource"
	"github.com/wacht-soc/wacht/internal/parse/timestamp"
)

// JSONVersion is the version of the Zeek JSON parser.
const JSONVersion = "1"

// JSONSpec is the Zeek JSON source: one log record per line, the log type
// in "_path" (the json-streaming-logs package and Zeek's own JSON writer
// with a path field) or "@stream" (Corelight's streaming shape, which also
// writes "id_orig_h" for "id.orig_h"). Times written as ISO 8601 text ("ts":
// "2018-03-24T17:15:20.865716Z") or as epoch numbers ("ts": 1521911720.8)
// become time values, as they are in TSV.
func JSONSpec() jsonsource.Spec {
	return jsonsource.Spec{
		Name:        "zeekjson",
		Version:     JSONVersion,
		Description: "Zeek JSON logs",
		TimeKeys:    []string{"ts"},
		Finish: func(ev *event.Event) {
			for i := range ev.Fields {
				f := &ev.Fields[i]
				switch f.Value.Kind() {
				case event.KindString:
					if t, ok := isoTime(f.Value.Str()); ok {
						f.Value = event.Time(t)
					}
				case event.KindInt, event.KindFloat:
					if f.Name == "ts" && !ev.Time.IsZero() {
						// Zeek's times have microseconds; drop float noise.
						ev.Time = ev.Time.Round(time.Microsecond)
						f.Value = event.Time(ev.Time)
					}
				case event.KindArray:
					arr := f.Value.Array()
					for j, el := range arr {
						if el.Kind() == event.KindString {
							if t, ok := isoTime(el.Str()); ok {
								arr[j] = event.Time(t)
							}
						}
					}
				}
			}
			path := ev.GetString("_path")
			if path == "" {
				// Corelight's streaming logs as OTRF recorded them.
				path = ev.GetString("@stream")
			}
			Finish(ev, path)
		},
	}
}

// isoTime reads the exact shape Zeek writes for times in JSON,
// "2006-01-02T15:04:05.000000Z", and nothing looser, so that ordinary
// strings stay strings.
func isoTime(s string) (t time.Time, ok bool) {
	if len(s) < 20 || len(s) > 30 || s[4] != '-' || s[10] != 'T' || s[len(s)-1] != 'Z' {
		return t, false
	}
	t, n, zoned, err := timestamp.ISO([]byte(s), time.UTC)
	if err != nil || !zoned || n != len(s) {
		return t, false
	}
	return t.UTC(), true
}

func init() { jsonsource.Register(JSONSpec()) }
