package console

import (
	"bufio"
	"bytes"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The overview's ingest numbers come from the node's metrics set (the
// same counters /metrics exports), sampled on the node's clock into a
// short ring so that rates and the events/s chart need no scraper.

// sampleKeep is how many samples the ring holds (an hour at 10 s).
const sampleKeep = 360

// sample is the counters of interest at one instant.
type sample struct {
	at      time.Time
	written float64 // events stored (all listeners)
	// per "listener/format": received, accepted, parse errors; per
	// "listener/reason": rejected, dropped.
	sources map[string]*sourceCounts
}

type sourceCounts struct {
	Listener, Format                                string
	Received, Accepted, ParseErrors, Rejected, Drop float64
}

// sampler keeps the ring. It is safe for concurrent use.
type sampler struct {
	read func(io.Writer) // Prometheus text of the metrics set
	mu   sync.Mutex
	ring []sample
}

func newSampler(read func(io.Writer)) *sampler { return &sampler{read: read} }

// take reads the metrics now and appends a sample at t.
func (s *sampler) take(t time.Time) {
	if s.read == nil {
		return
	}
	var buf bytes.Buffer
	s.read(&buf)
	smp := parseMetrics(&buf)
	smp.at = t
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ring) >= sampleKeep {
		s.ring = append(s.ring[:0], s.ring[1:]...)
	}
	s.ring = append(s.ring, smp)
}

// Rate is events stored per second over the last interval, and the series
// of per-interval rates for the chart (unix seconds, events/s).
type Rate struct {
	PerSecond float64   `json:"-"`
	X         []int64   `json:"x"`
	Y         []float64 `json:"y"`
}

func (s *sampler) rate() Rate {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r Rate
	for i := 1; i < len(s.ring); i++ {
		a, b := s.ring[i-1], s.ring[i]
		dt := b.at.Sub(a.at).Seconds()
		if dt <= 0 {
			continue
		}
		v := max(0, (b.written-a.written)/dt)
		r.X = append(r.X, b.at.Unix())
		r.Y = append(r.Y, v)
		r.PerSecond = v
	}
	return r
}

// SourceHealth is one listener and format (or reason) with its totals
// and its rate over the last interval.
type SourceHealth struct {
	Listener, Format                                   string
	Received, Accepted, ParseErrors, Rejected, Dropped float64
	PerSecond                                          float64
}

// Problem reports a source that lost or refused events.
func (h SourceHealth) Problem() bool { return h.Rejected > 0 || h.Dropped > 0 }

func (s *sampler) sources() []SourceHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ring) == 0 {
		return nil
	}
	last := s.ring[len(s.ring)-1]
	var prev *sample
	if len(s.ring) > 1 {
		prev = &s.ring[len(s.ring)-2]
	}
	out := make([]SourceHealth, 0, len(last.sources))
	for k, c := range last.sources {
		h := SourceHealth{Listener: c.Listener, Format: c.Format, Received: c.Received, Accepted: c.Accepted,
			ParseErrors: c.ParseErrors, Rejected: c.Rejected, Dropped: c.Drop}
		if prev != nil {
			if p, ok := prev.sources[k]; ok {
				if dt := last.at.Sub(prev.at).Seconds(); dt > 0 {
					h.PerSecond = max(0, (c.Accepted-p.Accepted)/dt)
				}
			}
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Listener != out[j].Listener {
			return out[i].Listener < out[j].Listener
		}
		return out[i].Format < out[j].Format
	})
	return out
}

// parseMetrics reads the counters the overview shows from Prometheus text.
func parseMetrics(r io.Reader) sample {
	smp := sample{sources: map[string]*sourceCounts{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], name[i:]
		}
		if name == "wacht_store_events_written_total" {
			smp.written = v
			continue
		}
		if !strings.HasPrefix(name, "wacht_ingest_") {
			continue
		}
		listener := label(labels, "listener")
		format := label(labels, "format")
		if format == "" {
			format = label(labels, "reason")
		}
		if listener == "" {
			continue
		}
		key := listener + "/" + format
		c := smp.sources[key]
		if c == nil {
			c = &sourceCounts{Listener: listener, Format: format}
			smp.sources[key] = c
		}
		switch name {
		case "wacht_ingest_received_total":
			c.Received += v
		case "wacht_ingest_accepted_total":
			c.Accepted += v
		case "wacht_ingest_parse_errors_total":
			c.ParseErrors += v
		case "wacht_ingest_rejected_total":
			c.Rejected += v
		case "wacht_ingest_dropped_total":
			c.Drop += v
		}
	}
	return smp
}

// label returns the value of name in a Prometheus label set {a="x",b="y"}.
func label(labels, name string) string {
	i := strings.Index(labels, name+`="`)
	if i < 0 || (i > 0 && labels[i-1] != '{' && labels[i-1] != ',') {
		return ""
	}
	rest := labels[i+len(name)+2:]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return rest[:j]
}
