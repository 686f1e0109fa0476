package comply_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/comply"
)

// buildPDF writes a small PDF with a classic cross-reference table the way
// Chromium lays one out: objects, xref, trailer with /Info (and /ID when
// id is set), startxref.
func buildPDF(info, xmp, id string) []byte {
	objs := []string{
		"<</Type /Catalog /Pages 2 0 R /Metadata 4 0 R>>",
		"<</Type /Pages /Kids [3 0 R] /Count 1>>",
		"<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]>>",
		fmt.Sprintf("<</Type /Metadata /Subtype /XML /Length %d>>\nstream\n%s\nendstream", len(xmp), xmp),
		info,
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xd3\xeb\xe9\xe1\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d\n/Root 1 0 R\n/Info 5 0 R", len(objs)+1)
	if id != "" {
		fmt.Fprintf(&b, "\n/ID [<%s> <%s>]", id, id)
	}
	fmt.Fprintf(&b, ">>\nstartxref\n%d\n%%%%EOF", xref)
	return b.Bytes()
}

func xmpPacket(when, uuid string) string {
	return `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description xmp:CreateDate="` + when +
		`"><xmp:ModifyDate>` + when + `</xmp:ModifyDate><xmpMM:DocumentID>uuid:` + uuid +
		`</xmpMM:DocumentID><xmpMM:InstanceID>uuid:` + uuid + `</xmpMM:InstanceID></rdf:Description></rdf:RDF></x:xmpmeta>`
}

var (
	xrefEntryRe = regexp.MustCompile(`(\d{10}) (\d{5}) ([nf]) ?\r?\n`)
	startRe     = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
)

// checkXref fails unless startxref points at the table and every in-use
// entry at its "N 0 obj".
func checkXref(t testing.TB, pdf []byte) {
	t.Helper()
	m := startRe.FindSubmatch(pdf)
	if m == nil {
		t.Fatalf("no startxref")
	}
	at, _ := strconv.Atoi(string(m[1]))
	if at >= len(pdf) || !bytes.HasPrefix(pdf[at:], []byte("xref")) {
		t.Fatalf("startxref %d does not point at xref", at)
	}
	trailer := bytes.Index(pdf[at:], []byte("trailer"))
	for i, e := range xrefEntryRe.FindAllSubmatch(pdf[at:at+trailer], -1) {
		if string(e[3]) != "n" {
			continue
		}
		off, _ := strconv.Atoi(string(e[1]))
		if want := fmt.Sprintf("%d 0 obj", i); !bytes.HasPrefix(pdf[off:], []byte(want)) {
			t.Fatalf("xref entry %d: offset %d holds %q, want %q", i, off, pdf[off:min(len(pdf), off+12)], want)
		}
	}
}

// TestNormalizePDF: two prints of one report that differ in the wall
// clock (with dates of different lengths), the random /ID and the XMP
// UUIDs normalize to the same bytes, dated at the report's time, with
// valid cross-reference offsets.
func TestNormalizePDF(t *testing.T) {
	at := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	a := buildPDF("<</Producer (Skia/PDF m156)\n/CreationDate (D:20261127023527+00'00')\n/ModDate (D:20261127023527+00'00')>>",
		xmpPacket("2026-11-27T02:35:27+01:00", "0f8fad5b-d9cb-469f-a165-70867728950e"), "8D2F4A0C9B1E7F6A5D3C2B1A09F8E7D6")
	b := buildPDF("<</Producer (Skia/PDF m156)\n/CreationDate (D:20261128)\n/ModDate (D:20261128101010Z)>>",
		xmpPacket("2026-11-28T10:10:10-05:00", "7c9e6679-7425-40de-944b-e07fc1f90ae7"), "00112233445566778899AABBCCDDEEFF")
	checkXref(t, a)
	checkXref(t, b)
	na, err := comply.NormalizePDF(a, at)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := comply.NormalizePDF(b, at)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(na, nb) {
		t.Fatalf("normalized prints differ:\n%s\n---\n%s", na, nb)
	}
	checkXref(t, na)
	s := string(na)
	for _, want := range []string{"/CreationDate (D:20260331000000+00'00')", "/ModDate (D:20260331000000+00'00')",
		`xmp:CreateDate="2026-03-31T00:00:00+00:00"`, "<xmp:ModifyDate>2026-03-31T00:00:00+00:00<"} {
		if !strings.Contains(s, want) {
			t.Errorf("normalized PDF lacks %s", want)
		}
	}
	for _, old := range []string{"20261127", "8D2F4A0C", "0f8fad5b", "7c9e6679"} {
		if strings.Contains(s, old) {
			t.Errorf("normalized PDF still holds %s", old)
		}
	}
	if again, _ := comply.NormalizePDF(na, at); !bytes.Equal(again, na) {
		t.Error("normalizing twice changes the bytes")
	}
	// A different report (other content) gets another /ID.
	c := bytes.Replace(a, []byte("595 842"), []byte("842 595"), 1)
	nc, err := comply.NormalizePDF(c, at)
	if err != nil {
		t.Fatal(err)
	}
	idOf := func(p []byte) string { return string(regexp.MustCompile(`/ID \[<(\w+)>`).FindSubmatch(p)[1]) }
	if idOf(nc) == idOf(na) {
		t.Error("different documents got the same /ID")
	}
	if _, err := comply.NormalizePDF([]byte("%PDF-1.4\nno table"), at); err == nil || !strings.Contains(err.Error(), "startxref") {
		t.Errorf("a PDF without startxref: %v", err)
	}
}

// FuzzNormalizePDF: no input panics, and whatever it accepts keeps valid
// cross-reference offsets.
func FuzzNormalizePDF(f *testing.F) {
	f.Add(buildPDF("<</CreationDate (D:20261127023527+00'00')>>", xmpPacket("2026-11-27T02:35:27Z", "0f8fad5b-d9cb-469f-a165-70867728950e"), "AB"))
	f.Add(buildPDF("<</ModDate (D:2)>>", "", ""))
	f.Add([]byte("xref\n0 1\n0000000000 65535 f \ntrailer\n<<>>\nstartxref\n0\n%%EOF"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := comply.NormalizePDF(in, time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC))
		if err != nil {
			return
		}
		if m := startRe.FindSubmatch(out); m == nil {
			t.Fatalf("accepted PDF lost its startxref")
		}
	})
}
