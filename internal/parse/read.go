package parse

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/wacht-soc/wacht/event"
)

// ReadAll turns one whole input (a file, an HTTP body) into events: a
// MultiParser gets it at once, any other parser line by line, headers
// included, after a Reset. Lines longer than maxLine bytes (0: no limit)
// are cut there and the event says so. Every event gets its format, a time
// (the ingest time when the record has none) and its id; events whose
// record failed to parse carry the error. An error from emit stops the
// read and is returned; a MultiParser's error about the input as a whole
// (not a readable file) is returned after the events it could read.
func (in *Instance) ReadAll(data []byte, base event.Event, maxLine int, emit func(*event.Event) error) error {
	if mp, ok := in.Parser.(MultiParser); ok {
		return mp.ParseAll(data, base, func(ev *event.Event) error {
			e := *ev
			e.Format = in.Info.Format()
			if e.Time.IsZero() {
				e.Time = e.IngestTime
			}
			e.ComputeID()
			return emit(&e)
		})
	}
	in.Reset()
	for n, off := 1, 0; off < len(data); n++ {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off
		}
		line := bytes.TrimRight(data[off:end], "\r")
		off = end + 1
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		size := len(line)
		if maxLine > 0 && size > maxLine {
			line = line[:maxLine]
		}
		ev := base
		err := in.Record(line, &ev)
		if errors.Is(err, ErrNoEvent) {
			continue
		}
		if maxLine > 0 && size > maxLine {
			ev.AddError("line " + strconv.Itoa(n) + " truncated: " + strconv.Itoa(size) + " bytes is more than the limit of " + strconv.Itoa(maxLine))
		}
		if err := emit(&ev); err != nil {
			return err
		}
	}
	return nil
}
