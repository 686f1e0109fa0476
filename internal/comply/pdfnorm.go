package comply

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// NormalizePDF makes a printed PDF depend only on its content: Chromium
// stamps the document information dictionary with the wall clock
// (/CreationDate, /ModDate), and some versions add a random trailer /ID
// and XMP metadata with dates and UUIDs. The dates become at (the report's
// as-of time, UTC) and the identifiers are derived from the SHA-256 of the
// document with them blanked, so the same report gives the same bytes.
// The file stays valid: the cross-reference table's offsets and
// startxref are moved by what the edits added or removed.
//
// It understands classic cross-reference tables (what Chromium writes);
// a PDF it cannot parse is an error naming where it went wrong.
func NormalizePDF(pdf []byte, at time.Time) ([]byte, error) {
	xrefAt, err := startXref(pdf)
	if err != nil {
		return nil, err
	}
	at = at.UTC()
	var edits []pdfEdit
	// Info dictionary dates: literal strings of any length.
	infoDate := []byte("(D:" + at.Format("20060102150405") + "+00'00')")
	for _, m := range pdfInfoDateRe.FindAllSubmatchIndex(pdf, -1) {
		edits = append(edits, pdfEdit{at: m[2], end: m[3], with: infoDate})
	}
	// XMP dates and UUIDs: rewritten in place with the same length, since
	// they sit in a stream whose /Length must not change.
	for _, m := range pdfXMPDateRe.FindAllIndex(pdf, -1) {
		edits = append(edits, pdfEdit{at: m[0], end: m[1], with: xmpDate(pdf[m[0]:m[1]], at)})
	}
	// Identifiers are blanked, the document hashed, then filled from the
	// hash.
	for _, m := range pdfUUIDRe.FindAllIndex(pdf, -1) {
		edits = append(edits, pdfEdit{at: m[0], end: m[1], fill: uuidFill})
	}
	for _, m := range pdfIDRe.FindAllSubmatchIndex(pdf, -1) {
		for g := 2; g+1 < len(m); g += 2 {
			n := m[g+1] - m[g]
			edits = append(edits, pdfEdit{at: m[g], end: m[g+1], fill: func(h []byte) []byte {
				for len(h) < n {
					h = append(h, h...)
				}
				return h[:n]
			}})
		}
	}
	for i := range edits {
		if edits[i].fill != nil {
			edits[i].with = edits[i].fill(bytes.Repeat([]byte("0"), 128))
		}
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].at < edits[j].at })
	for i := 1; i < len(edits); i++ {
		if edits[i].at < edits[i-1].end {
			return nil, fmt.Errorf("normalize PDF: overlapping metadata at byte %d", edits[i].at)
		}
	}
	blank, err := fixXref(applyEdits(pdf, edits), pdf, xrefAt, edits)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(blank)
	seed := hex.EncodeToString(sum[:])
	for i := range edits {
		if edits[i].fill != nil {
			edits[i].with = edits[i].fill(hexDigits(seed, i))
		}
	}
	out := applyEdits(pdf, edits)
	return fixXref(out, pdf, xrefAt, edits)
}

var (
	pdfInfoDateRe = regexp.MustCompile(`/(?:CreationDate|ModDate)\s*(\((?:[^()\\]|\\.)*\))`)
	pdfXMPDateRe  = regexp.MustCompile(`(?:(?:xmp:(?:CreateDate|ModifyDate|MetadataDate))>|(?:xmp:(?:CreateDate|ModifyDate|MetadataDate))=")\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?`)
	pdfUUIDRe     = regexp.MustCompile(`uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	pdfIDRe       = regexp.MustCompile(`/ID\s*\[\s*<([0-9A-Fa-f]*)>\s*<([0-9A-Fa-f]*)>\s*\]`)
	startXrefRe   = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
	xrefHeadRe    = regexp.MustCompile(`^(\d+) (\d+)[ \t]*\r?\n`)
)

type pdfEdit struct {
	at, end int
	with    []byte
	// fill builds an identifier from 128 hex digits.
	fill func(hex []byte) []byte
}

// uuidFill lays hex digits out as an XMP uuid.
func uuidFill(h []byte) []byte {
	return fmt.Appendf(nil, "uuid:%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

func applyEdits(src []byte, edits []pdfEdit) []byte {
	out := make([]byte, 0, len(src)+64)
	last := 0
	for _, e := range edits {
		out = append(out, src[last:e.at]...)
		out = append(out, e.with...)
		last = e.end
	}
	return append(out, src[last:]...)
}

// hexDigits returns 128 hex digits from the seed; the i-th identifier
// gets its own, so that two UUIDs stay distinct.
func hexDigits(seed string, i int) []byte {
	a := sha256.Sum256([]byte(seed + "/" + strconv.Itoa(i)))
	b := sha256.Sum256(a[:])
	return []byte(hex.EncodeToString(a[:]) + hex.EncodeToString(b[:]))
}

// xmpDate rewrites the digits of an XMP date to at, keeping its layout
// (and so its length): the zone becomes UTC.
func xmpDate(old []byte, at time.Time) []byte {
	out := append([]byte(nil), old...)
	i := bytes.IndexAny(out, "0123456789")
	stamp := at.Format("2006-01-02T15:04:05")
	copy(out[i:], stamp)
	rest := out[i+len(stamp):]
	for j := range rest {
		switch {
		case rest[j] >= '0' && rest[j] <= '9':
			rest[j] = '0'
		case rest[j] == '-':
			rest[j] = '+'
		}
	}
	return out
}

func startXref(pdf []byte) (int, error) {
	tail := pdf[max(0, len(pdf)-1024):]
	m := startXrefRe.FindSubmatch(tail)
	if m == nil {
		return 0, fmt.Errorf("normalize PDF: no startxref at the end of the file")
	}
	at, err := strconv.Atoi(string(m[1]))
	if err != nil || at < 0 || at >= len(pdf) || !bytes.HasPrefix(pdf[at:], []byte("xref")) {
		return 0, fmt.Errorf("normalize PDF: startxref %s does not point at a cross-reference table", m[1])
	}
	return at, nil
}

// fixXref moves every offset of the cross-reference table (found at
// xrefAt in the original src) and startxref by the size changes of the
// edits before it.
func fixXref(out, src []byte, xrefAt int, edits []pdfEdit) ([]byte, error) {
	shift := func(off int) int {
		d := 0
		for _, e := range edits {
			if e.at >= off {
				break
			}
			d += len(e.with) - (e.end - e.at)
		}
		return off + d
	}
	newXref := shift(xrefAt)
	if !bytes.HasPrefix(out[newXref:], []byte("xref")) {
		return nil, fmt.Errorf("normalize PDF: an edit touched the cross-reference table at byte %d", xrefAt)
	}
	p := newXref + len("xref")
	for p < len(out) && (out[p] == '\r' || out[p] == '\n' || out[p] == ' ') {
		p++
	}
	for {
		m := xrefHeadRe.FindSubmatch(out[p:])
		if m == nil {
			break // the trailer
		}
		count, _ := strconv.Atoi(string(m[2]))
		p += len(m[0])
		for range count {
			if p+20 > len(out) || (out[p+17] != 'n' && out[p+17] != 'f') || out[p+10] != ' ' {
				return nil, fmt.Errorf("normalize PDF: bad cross-reference entry at byte %d", p)
			}
			if out[p+17] == 'n' {
				off, err := strconv.Atoi(string(out[p : p+10]))
				if err != nil || off >= len(src) {
					return nil, fmt.Errorf("normalize PDF: bad cross-reference offset at byte %d", p)
				}
				copy(out[p:p+10], fmt.Sprintf("%010d", shift(off)))
			}
			p += 20
		}
	}
	// startxref is the last number: rewrite it (its length may change).
	loc := startXrefRe.FindSubmatchIndex(out[max(0, len(out)-1024):])
	if loc == nil {
		return nil, fmt.Errorf("normalize PDF: startxref lost")
	}
	base := max(0, len(out)-1024)
	res := append([]byte(nil), out[:base+loc[2]]...)
	res = append(res, strconv.Itoa(newXref)...)
	return append(res, out[base+loc[3]:]...), nil
}
