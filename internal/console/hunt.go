package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/eventstore"
)

// huntRanges are the time picker's choices.
var huntRanges = []struct {
	Key  string
	Span time.Duration
	Step time.Duration // histogram bucket
}{
	{"15m", 15 * time.Minute, 30 * time.Second},
	{"1h", time.Hour, time.Minute},
	{"24h", 24 * time.Hour, 5 * time.Minute},
	{"7d", 7 * 24 * time.Hour, time.Hour},
	{"30d", 30 * 24 * time.Hour, 6 * time.Hour},
}

// huntLimit bounds the rows a hunt shows.
const huntLimit = 200

type huntData struct {
	Query   string
	Range   string
	Ranges  []string
	Ran     bool
	Error   string
	Rows    []huntRow
	Columns []string
	Fields  []fieldStat
	Hist    histogram
	Hits    int64
	Limit   int
}

// huntRow is one event: its time, its message and every field.
type huntRow struct {
	Time   string
	Msg    string
	Fields []eventstore.Field
}

// fieldStat is a field of the results with its top values.
type fieldStat struct {
	Name   string
	Count  int
	Values []countOf
}

// histogram is hits over time for uPlot: unix seconds and counts, one
// bucket per step from From to To (empty buckets are zeros).
type histogram struct {
	X    []int64 `json:"x"`
	Y    []int64 `json:"y"`
	From int64   `json:"from"`
	To   int64   `json:"to"`
}

func (s *Service) hunt(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := huntData{Query: strings.TrimSpace(q.Get("q")), Range: q.Get("range"), Limit: huntLimit}
	for _, hr := range huntRanges {
		d.Ranges = append(d.Ranges, hr.Key)
	}
	span, step := 24*time.Hour, 5*time.Minute
	found := false
	for _, hr := range huntRanges {
		if hr.Key == d.Range {
			span, step, found = hr.Span, hr.Step, true
		}
	}
	if !found {
		d.Range = "24h"
	}
	if d.Query != "" {
		d.Ran = true
		if err := s.runHunt(r.Context(), api.TenantOf(r), &d, span, step); err != nil {
			if !isUserError(err) {
				s.fail(w, r, err)
				return
			}
			d.Error = err.Error()
		}
	}
	p := s.newPage(r, "hunt", "Hunt", d)
	if r.Header.Get("HX-Request") != "" && r.Header.Get("HX-Target") == "hunt-results" {
		w.Header().Set("HX-Push-Url", api.ConsolePrefix+"hunt?"+url.Values{"q": {d.Query}, "range": {d.Range}}.Encode())
		s.render(w, r, "hunt", "results", p)
		return
	}
	s.render(w, r, "hunt", "layout", p)
}

func (s *Service) runHunt(ctx context.Context, tenant string, d *huntData, span, step time.Duration) error {
	end := s.o.Now()
	start := end.Add(-span)
	if strings.Contains(d.Query, "\n") {
		return userError{"a query is one line"}
	}
	stats := map[string]map[string]int{}
	err := s.o.Events.Query(ctx, eventstore.Query{Tenant: tenant, LogsQL: d.Query, Start: start, End: end, Limit: huntLimit},
		func(row eventstore.Row) error {
			hr := huntRow{}
			for _, f := range row {
				switch f.Name {
				case "_time":
					hr.Time = f.Value
				case "_msg":
					hr.Msg = f.Value
				}
				if f.Value == "" {
					continue
				}
				hr.Fields = append(hr.Fields, f)
				if f.Name != "_time" && f.Name != "_msg" && f.Name != "_stream_id" {
					if stats[f.Name] == nil {
						stats[f.Name] = map[string]int{}
					}
					stats[f.Name][f.Value]++
				}
			}
			d.Rows = append(d.Rows, hr)
			return nil
		})
	if err != nil {
		return err
	}
	d.Fields = fieldStats(stats)
	if strings.Contains(d.Query, "|") {
		// A query with pipes has its own shape: show its columns, no
		// histogram over it.
		seen := map[string]bool{}
		for _, row := range d.Rows {
			for _, f := range row.Fields {
				if !seen[f.Name] {
					seen[f.Name] = true
					d.Columns = append(d.Columns, f.Name)
				}
			}
		}
		return nil
	}
	h, total, err := s.histogram(ctx, tenant, d.Query, start, end, step)
	if err != nil {
		return err
	}
	d.Hist, d.Hits = h, total
	return nil
}

// histogram counts hits per bucket with `| stats by (_time:step) count()`
// (buckets aligned to multiples of step since the epoch).
func (s *Service) histogram(ctx context.Context, tenant, query string, start, end time.Time, step time.Duration) (histogram, int64, error) {
	counts := map[int64]int64{}
	var total int64
	err := s.o.Events.Query(ctx, eventstore.Query{Tenant: tenant, LogsQL: query + " | stats by (_time:" + logsqlDuration(step) + ") count() hits",
		Start: start, End: end}, func(row eventstore.Row) error {
		t, err := time.Parse(time.RFC3339Nano, row.Get("_time"))
		if err != nil {
			return nil
		}
		n, _ := strconv.ParseInt(row.Get("hits"), 10, 64)
		counts[t.Truncate(step).Unix()] += n
		total += n
		return nil
	})
	if err != nil {
		return histogram{}, 0, fmt.Errorf("count hits over time: %w", err)
	}
	h := histogram{From: start.Unix(), To: end.Unix()}
	for t := start.Truncate(step); !t.After(end); t = t.Add(step) {
		h.X = append(h.X, t.Unix())
		h.Y = append(h.Y, counts[t.Unix()])
	}
	return h, total, nil
}

// logsqlDuration writes d as LogsQL does: 30s, 5m, 1h.
func logsqlDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// fieldStats orders fields by how many rows have them, with their five
// most frequent values.
func fieldStats(stats map[string]map[string]int) []fieldStat {
	out := make([]fieldStat, 0, len(stats))
	for name, vals := range stats {
		fs := fieldStat{Name: name}
		for v, n := range vals {
			fs.Count += n
			fs.Values = append(fs.Values, countOf{v, n})
		}
		sort.Slice(fs.Values, func(i, j int) bool {
			if fs.Values[i].Count != fs.Values[j].Count {
				return fs.Values[i].Count > fs.Values[j].Count
			}
			return fs.Values[i].Key < fs.Values[j].Key
		})
		if len(fs.Values) > 5 {
			fs.Values = fs.Values[:5]
		}
		out = append(out, fs)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// fieldFilter is the LogsQL filter for field = value (exact match).
func fieldFilter(name, value string) string {
	if name == "*" {
		return "*:" + strconv.Quote(value)
	}
	return quoteField(name) + ":=" + strconv.Quote(value)
}

// fieldValue is a value with its actions, for the "fieldvalue" template.
type fieldValue struct {
	Name, Value string
	A           fieldActions
}

// entityField is the event field an entity kind is found in ("*": any).
func entityField(kind string) string {
	switch kind {
	case "host":
		return "host.name"
	case "user", "account":
		return "user.name"
	case "url":
		return "url.original"
	case "process":
		return "process.executable"
	case "file":
		return "file.path"
	}
	return "*"
}

func quoteField(name string) string {
	for _, c := range name {
		if !(c == '_' || c == '.' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return strconv.Quote(name)
		}
	}
	return name
}

// huntURL is the hunt page for a query.
func huntURL(q, rng string) string {
	v := url.Values{"q": {q}}
	if rng != "" {
		v.Set("range", rng)
	}
	return api.ConsolePrefix + "hunt?" + v.Encode()
}

// fieldActions are what every field value offers: filter in, filter
// out, hunt for it, look it up in threat intel, add it as an observable
// (to the incident on the page, else to one chosen), and create an
// exception from it when the value comes from an alert. base is the
// current query ("" outside a hunt).
type fieldActions struct {
	In, Out, Hunt, Intel, Observe string
	// ObsIncident is the incident a one-click "add as observable" posts
	// to (the incident page); ObsKind its kind.
	ObsIncident, ObsKind string
	// Exception is the form that makes an exception (alerts only).
	Exception string
}

func actionsFor(base, rng, name, value string) fieldActions {
	f := fieldFilter(name, value)
	a := fieldActions{Hunt: huntURL(f, rng), Intel: intelURL(value), Observe: observeURL(obsKind(name), value)}
	if base == "" || base == "*" {
		a.In, a.Out = huntURL(f, rng), huntURL("* -"+f, rng)
	} else {
		a.In, a.Out = huntURL(base+" "+f, rng), huntURL(base+" -"+f, rng)
	}
	return a
}
