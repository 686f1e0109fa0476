package console

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"time"
)

// timeTag renders a time for the browser: UTC in the text and the title,
// the machine form in datetime; the console script rewrites the text into
// the reader's zone and keeps UTC on hover.
func timeTag(t time.Time) template.HTML {
	if t.IsZero() {
		return template.HTML(`<span class="muted">—</span>`)
	}
	u := t.UTC()
	txt := u.Format("2006-01-02 15:04:05") + " UTC"
	return template.HTML(`<time datetime="` + u.Format(time.RFC3339Nano) + `" title="` + txt + `">` + txt + `</time>`)
}

// ago says how long before now t was ("3m ago"), or "in 5m" for the future.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, ""
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d.Hours()))
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	if suffix == "" {
		return "in " + s
	}
	return s + suffix
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func humanNum(v any) string {
	var f float64
	switch n := v.(type) {
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case uint64:
		f = float64(n)
	case float64:
		f = n
	default:
		return fmt.Sprint(v)
	}
	switch {
	case f >= 1e9:
		return fmt.Sprintf("%.1fG", f/1e9)
	case f >= 1e6:
		return fmt.Sprintf("%.1fM", f/1e6)
	case f >= 1e4:
		return fmt.Sprintf("%.1fk", f/1e3)
	}
	return fmt.Sprintf("%.0f", f)
}

// jsonAttr encodes v for a data- attribute (html/template escapes it):
// charts get their data this way, never through inline script.
func jsonAttr(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func errorID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
