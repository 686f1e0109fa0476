package ingest

import (
	"bytes"
	"encoding/json"
)

// A file larger than one request is sent in parts cut at line ends: most
// log formats are one record per line. The parts of a file keep what its
// parser needs from before them: Zeek's and W3C's "#" header lines are
// repeated in each part, and an auditd event (several lines sharing one
// serial) is never cut in two. An EVTX file is cut between its 64 KiB
// chunks (each holds its records' templates), and each part gets the 4 KiB
// file header. Whole documents (a JSON array, one JSON document over many
// lines) cannot be cut and go in one request.

// EVTX layout: a file header, then chunks.
const (
	evtxHeader = 4096
	evtxChunk  = 64 << 10
)

// splittable reports whether a file of format can be sent in parts, and
// if not, why.
func splittable(format string, data []byte) (bool, string) {
	if format == "evtx" {
		if len(data) < evtxHeader {
			return false, "an EVTX file shorter than its header"
		}
		return true, ""
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return false, "a JSON array is one document"
	}
	if len(trimmed) > 0 && trimmed[0] == '{' {
		first := trimmed
		if i := bytes.IndexByte(first, '\n'); i >= 0 {
			first = first[:i]
		}
		if !json.Valid(bytes.TrimSpace(first)) {
			return false, "a JSON document over several lines"
		}
	}
	return true, ""
}

// nextCut is where the part of data starting at start ends: at a line end
// at most size bytes on (further only for a longer line), and for auditd
// not between two lines of one event.
func nextCut(format string, data []byte, start, size int) int {
	if len(data)-start <= size {
		return len(data)
	}
	if format == "evtx" {
		from := max(start, evtxHeader)
		return min(len(data), from+max(1, (size-evtxHeader)/evtxChunk)*evtxChunk)
	}
	end := start + size
	cut := bytes.LastIndexByte(data[start:end], '\n')
	if cut < 0 {
		// One line longer than a part: it goes whole.
		if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
			return end + i + 1
		}
		return len(data)
	}
	cut += start + 1
	if format == "auditd" {
		// Move the cut back over the lines of the event it would split.
		for cut > start && sameAuditEvent(lineBefore(data, cut), lineAt(data, cut)) {
			prev := bytes.LastIndexByte(data[start:cut-1], '\n')
			if prev < 0 {
				return nextCut("", data, start, size) // one event larger than a part
			}
			cut = start + prev + 1
		}
	}
	return cut
}

// headers tells what a part starting at a given offset needs before it:
// an EVTX file's header, or the block of "#" lines in effect in a Zeek or
// W3C log (the last such block before the part); nil when it needs none.
// Offsets must grow from call to call: each line is looked at once.
type headers struct {
	format string
	data   []byte
	pos    int    // lines before pos were looked at
	block  []byte // the last "#" block before pos
	inside bool   // pos is inside that block
}

func (h *headers) at(start int) []byte {
	if h.format == "evtx" {
		if start == 0 {
			return nil
		}
		return h.data[:evtxHeader]
	}
	if h.format != "zeek" && h.format != "w3c" {
		return nil
	}
	for h.pos < start {
		end := bytes.IndexByte(h.data[h.pos:start], '\n')
		if end < 0 {
			break
		}
		end += h.pos + 1
		if h.data[h.pos] == '#' {
			if !h.inside {
				h.block, h.inside = h.data[h.pos:h.pos], true
			}
			h.block = h.block[:len(h.block)+end-h.pos]
		} else {
			h.inside = false
		}
		h.pos = end
	}
	if start == 0 || start < len(h.data) && h.data[start] == '#' {
		return nil
	}
	return h.block
}

func lineAt(data []byte, off int) []byte {
	if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
		return data[off : off+i]
	}
	return data[off:]
}

func lineBefore(data []byte, off int) []byte {
	end := off - 1 // the newline ending it
	start := bytes.LastIndexByte(data[:end], '\n') + 1
	return data[start:end]
}

// sameAuditEvent reports whether two auditd lines carry the same
// msg=audit(time:serial) stamp.
func sameAuditEvent(a, b []byte) bool {
	sa, sb := auditStamp(a), auditStamp(b)
	return sa != nil && bytes.Equal(sa, sb)
}

func auditStamp(line []byte) []byte {
	i := bytes.Index(line, []byte("msg=audit("))
	if i < 0 {
		return nil
	}
	rest := line[i+len("msg=audit("):]
	j := bytes.IndexByte(rest, ')')
	if j < 0 {
		return nil
	}
	return rest[:j]
}
