package feeds

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/wacht-soc/wacht/internal/intel"
)

// readLines reads plain lists — one value per line, '#' or ';' comments,
// optionally a second column (IPsum's count of blacklists naming the
// address, read as confidence) — and CSV files with a header naming a
// "value" column (optional type, confidence, tlp, tags, description) or
// else taking the first column.
func readLines(ctx context.Context, name string, r io.Reader, o Options, sink Sink, isCSV bool) error {
	if isCSV {
		return readCSV(ctx, name, r, o, sink)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' || s[0] == ';' || strings.HasPrefix(s, "//") {
			continue
		}
		if i := strings.Index(s, " #"); i > 0 {
			s = strings.TrimSpace(s[:i])
		}
		value, rest := s, ""
		if i := strings.IndexAny(s, " \t,"); i > 0 {
			value, rest = s[:i], strings.TrimSpace(s[i+1:])
		}
		ind := base(o)
		if n, err := strconv.Atoi(rest); err == nil && n > 0 && o.Confidence == 0 {
			// IPsum: how many blacklists list the address.
			ind.Confidence = min(100, 30+10*n)
		}
		if err := addGuessed(ctx, sink, ind, value); err != nil {
			return fmt.Errorf("%s line %d: %w", name, line, err)
		}
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

func base(o Options) intel.Indicator {
	return intel.Indicator{Confidence: o.Confidence, TLP: o.TLP, Tags: slices.Clip(o.Tags)}
}

// addGuessed types a bare value; values of no known type are handed on as
// unknown so the import counts them invalid.
func addGuessed(ctx context.Context, sink Sink, ind intel.Indicator, value string) error {
	t, v, ok := intel.Guess(value)
	if !ok {
		ind.Type, ind.Value = intel.TypeUnknown, value
		return sink.Add(ctx, ind)
	}
	ind.Type, ind.Value = t, v
	return sink.Add(ctx, ind)
}

func readCSV(ctx context.Context, name string, r io.Reader, o Options, sink Sink) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.ReuseRecord = true
	cr.LazyQuotes = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	vi, hasHeader := col["value"]
	if !hasHeader {
		for _, alt := range []string{"indicator", "ioc", "ip", "domain", "url", "hash"} {
			if i, ok := col[alt]; ok {
				vi, hasHeader = i, true
				break
			}
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	handle := func(rec []string) error {
		if vi >= len(rec) {
			return nil
		}
		ind := base(o)
		value := strings.TrimSpace(rec[vi])
		if value == "" {
			return nil
		}
		if !hasHeader {
			return addGuessed(ctx, sink, ind, value)
		}
		if c, err := strconv.Atoi(get(rec, "confidence")); err == nil {
			ind.Confidence = c
		}
		if t, err := intel.ParseTLP(get(rec, "tlp")); err == nil && get(rec, "tlp") != "" {
			ind.TLP = t
		}
		if tags := get(rec, "tags"); tags != "" {
			for _, t := range strings.Split(tags, ";") {
				if t = strings.TrimSpace(t); t != "" {
					ind.Tags = append(ind.Tags, t)
				}
			}
		}
		ind.Description = get(rec, "description")
		if ts := get(rec, "type"); ts != "" {
			if t, err := intel.ParseType(ts); err == nil {
				ind.Type, ind.Value = t, value
				return sink.Add(ctx, ind)
			}
		}
		return addGuessed(ctx, sink, ind, value)
	}
	if !hasHeader {
		vi = 0
		if err := handle(header); err != nil {
			return err
		}
	}
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if err := handle(rec); err != nil {
			return err
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
}
