package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// WindowRule collapses repeated matches of a rule: within Window of the
// first match, matches of the rule with the same GroupBy values become one
// alert with a count and first / last seen. It is configuration
// (detect.suppress), so rule files stay as published.
type WindowRule struct {
	// Rule is a rule id (or name or title, as RuleID reports it), or "*"
	// for every rule without an entry of its own.
	Rule string `json:"rule" yaml:"rule"`
	// GroupBy are entity names (host.name, user.name, source.ip…) or event
	// fields; matches with equal values are one alert. Empty: every match
	// of the rule within the window is one alert.
	GroupBy []string      `json:"group_by,omitempty" yaml:"group_by"`
	Window  time.Duration `json:"window" yaml:"window"`
}

// Validate checks a window rule.
func (w WindowRule) Validate() error {
	if strings.TrimSpace(w.Rule) == "" {
		return fmt.Errorf("suppress: rule is required (a rule id or *)")
	}
	if w.Window <= 0 {
		return fmt.Errorf("suppress %s: window must be positive", w.Rule)
	}
	return nil
}

// WindowInfo is set on the detections of a rule with a suppression window.
// The first match of a group opens the window and is published at once
// (Count 1); later matches within the window are counted, not published;
// when the window ends a closing detection (Closing) reports the total
// Count and the first and last event times. Both carry the same DedupKey.
type WindowInfo struct {
	Count   uint64            `json:"count"`
	First   time.Time         `json:"first_seen"`
	Last    time.Time         `json:"last_seen"`
	Window  string            `json:"window"`
	GroupBy map[string]string `json:"group_by,omitempty"`
	Closing bool              `json:"closing,omitempty"`
}

// maxWindows bounds the open windows; beyond it matches are published
// as they come (never dropped) and counted in Summary.WindowOverflow.
const maxWindows = 100_000

type openWindow struct {
	opened time.Time // on the service's clock
	window time.Duration
	info   WindowInfo
	last   Detection // the latest match, whose events the closing detection carries
}

// windows holds the open suppression windows.
type windows struct {
	byRule map[string]WindowRule
	any    *WindowRule

	mu       sync.Mutex
	open     map[string]*openWindow
	overflow uint64
}

func newWindows(rules []WindowRule) *windows {
	w := &windows{byRule: map[string]WindowRule{}, open: map[string]*openWindow{}}
	for _, r := range rules {
		if r.Rule == "*" {
			r := r
			w.any = &r
			continue
		}
		w.byRule[r.Rule] = r
	}
	return w
}

func (w *windows) ruleFor(id string) (WindowRule, bool) {
	if r, ok := w.byRule[id]; ok {
		return r, true
	}
	if w.any != nil {
		return *w.any, true
	}
	return WindowRule{}, false
}

// groupValues reads the group-by values of d: entities first, then the
// fields of its events, then correlation group-by values.
func groupValues(d *Detection, fields []string) map[string]string {
	out := make(map[string]string, len(fields))
	for _, f := range fields {
		v, ok := d.Entities[f]
		if !ok {
			for _, ev := range d.Events {
				if x, found := ev.Get(f); found && !x.IsNull() {
					v, ok = x.String(), true
					break
				}
			}
		}
		if !ok && d.Correlation != nil {
			v = d.Correlation.GroupBy[f]
		}
		out[f] = v
	}
	return out
}

// admit decides whether d is published now. Matches of a windowed rule
// get their WindowInfo and a DedupKey of rule and group-by values. When d
// opens a new window for a group whose previous window ended unclosed,
// that window's closing detection is returned too.
func (w *windows) admit(d *Detection, now time.Time) (bool, *Detection) {
	r, ok := w.ruleFor(d.RuleID)
	if !ok {
		return true, nil
	}
	vals := groupValues(d, r.GroupBy)
	h := sha256.New()
	h.Write([]byte("window\x00" + d.RuleID))
	for _, f := range r.GroupBy {
		h.Write([]byte{0})
		h.Write([]byte(vals[f]))
	}
	d.DedupKey = hex.EncodeToString(h.Sum(nil)[:16])
	key := d.Tenant + "\x00" + d.DedupKey
	w.mu.Lock()
	defer w.mu.Unlock()
	o := w.open[key]
	if o != nil && now.Sub(o.opened) < o.window && !now.Before(o.opened) {
		o.info.Count++
		if d.Time.Before(o.info.First) {
			o.info.First = d.Time
		}
		if d.Time.After(o.info.Last) {
			o.info.Last = d.Time
		}
		o.last = *d
		return false, nil
	}
	var closed *Detection
	if o != nil {
		delete(w.open, key)
		closed = o.closing()
	}
	info := WindowInfo{Count: 1, First: d.Time, Last: d.Time, Window: r.Window.String()}
	if len(r.GroupBy) > 0 {
		info.GroupBy = vals
	}
	d.Window = &info
	if len(w.open) >= maxWindows {
		w.overflow++
		return true, closed
	}
	w.open[key] = &openWindow{opened: now, window: r.Window, info: info, last: *d}
	return true, closed
}

// closing is the detection that reports a window's repeats (nil: none).
func (o *openWindow) closing() *Detection {
	if o.info.Count < 2 {
		return nil
	}
	d := o.last
	info := o.info
	info.Closing = true
	d.Window = &info
	d.Time = info.Last
	return &d
}

// close ends the windows that are over at now (all when now is zero) and
// returns a closing detection for each that collapsed repeats.
func (w *windows) close(now time.Time) []Detection {
	w.mu.Lock()
	var keys []string
	for k, o := range w.open {
		if now.IsZero() || now.Sub(o.opened) >= o.window || now.Before(o.opened) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []Detection
	for _, k := range keys {
		o := w.open[k]
		delete(w.open, k)
		if d := o.closing(); d != nil {
			out = append(out, *d)
		}
	}
	w.mu.Unlock()
	return out
}

// stats returns the open windows and the overflow count.
func (w *windows) stats() (int, uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.open), w.overflow
}
