package pdf_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/hex"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/comply/pdf"
)

func printer(t testing.TB) *pdf.Printer {
	t.Helper()
	p, err := pdf.New("")
	if err != nil {
		if os.Getenv("WACHT_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("WACHT_REQUIRE_CHROMIUM is set: %v", err)
		}
		t.Skipf("no Chromium: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func germanReport() *comply.Report {
	at := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	return &comply.Report{Kind: comply.ReportGDPR, Lang: "de", Tenant: "default", From: at.AddDate(0, -3, 0), To: at,
		OnTime: 0.5, Judged: 2, Runs: 3,
		Breaches: []comply.BreachRow{{Incident: "inc-1", Title: "Postfachübernahme bei Müller & Söhne, Straße 5", Created: "2026-03-01T08:00:00Z",
			Severity: "hoch", Status: "geschlossen", OnTime: true}}}
}

// TestGermanReportPDFTextIsExtractable prints a German report with
// umlauts and ß and reads its text back out of the PDF (through the
// fonts' ToUnicode maps, as a PDF reader or a search engine does).
func TestGermanReportPDFTextIsExtractable(t *testing.T) {
	p := printer(t)
	var html bytes.Buffer
	if err := comply.RenderHTML(&html, germanReport()); err != nil {
		t.Fatal(err)
	}
	out, err := p.PDF(context.Background(), html.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", out[:min(len(out), 16)])
	}
	text := squash(extractText(t, out))
	for _, want := range []string{"Verzeichnis der Verletzungen", "Postfachübernahme bei Müller & Söhne, Straße 5", "Fristgerecht", "Mandant"} {
		if !strings.Contains(text, squash(want)) {
			t.Errorf("PDF text lacks %q; have %q", want, text[:min(len(text), 400)])
		}
	}
}

// BenchmarkSoAPDF prints the 93-row SoA with a warm browser (the issue
// asks ≤ 5 s).
func BenchmarkSoAPDF(b *testing.B) {
	p := printer(b)
	rep := &comply.Report{Kind: comply.ReportSoA, Lang: "de", Tenant: "default", To: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC),
		View: &comply.View{Framework: comply.FrameworkISO27001, Summary: map[comply.Status]int{}}}
	cats, _ := comply.BuiltinCatalogs()
	for _, c := range cats {
		if c.ID == comply.FrameworkISO27001 {
			for _, r := range c.Requirements {
				rep.View.Rows = append(rep.View.Rows, comply.ControlRow{ID: r.ID, Title: r.Title, Group: r.Group, Applicable: true, Status: comply.StatusPass})
			}
		}
	}
	var html bytes.Buffer
	if err := comply.RenderHTML(&html, rep); err != nil {
		b.Fatal(err)
	}
	if _, err := p.PDF(context.Background(), html.Bytes()); err != nil { // warm up
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		out, err := p.PDF(context.Background(), html.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := comply.NormalizePDF(out, rep.To); err != nil { // as RenderPDF does
			b.Fatal(err)
		}
	}
}

func squash(s string) string { return strings.Join(strings.Fields(s), "") }

var (
	objRe     = regexp.MustCompile(`(?s)(\d+) 0 obj\s*(.*?)endobj`)
	streamRe  = regexp.MustCompile(`(?s)stream\r?\n(.*?)\r?\nendstream`)
	toUniRe   = regexp.MustCompile(`/ToUnicode (\d+) 0 R`)
	fontResRe = regexp.MustCompile(`(?s)/Font\s*<<(.*?)>>`)
	fontRefRe = regexp.MustCompile(`/(\w+) (\d+) 0 R`)
	contentRe = regexp.MustCompile(`/Contents (\d+) 0 R`)
	bfcharRe  = regexp.MustCompile(`(?s)beginbfchar(.*?)endbfchar`)
	bfrangeRe = regexp.MustCompile(`(?s)beginbfrange(.*?)endbfrange`)
	hexRe     = regexp.MustCompile(`<([0-9A-Fa-f]*)>`)
	tokenRe   = regexp.MustCompile(`/(\w+)\s+[\d.]+\s+Tf|<([0-9A-Fa-f]*)>`)
)

// extractText is a small PDF text extractor for Chromium's output: Type0
// fonts with Identity-H encoding and ToUnicode CMaps, Flate content
// streams, no object streams.
func extractText(t *testing.T, data []byte) string {
	t.Helper()
	objs := map[string][]byte{}
	for _, m := range objRe.FindAllSubmatch(data, -1) {
		objs[string(m[1])] = m[2]
	}
	stream := func(num string) []byte {
		m := streamRe.FindSubmatch(objs[num])
		if m == nil {
			t.Fatalf("object %s has no stream", num)
		}
		r, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			t.Fatalf("object %s: %v", num, err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("object %s: %v", num, err)
		}
		return b
	}
	cmaps := map[string]map[uint16]string{} // font object → code → text
	for num, body := range objs {
		if m := toUniRe.FindSubmatch(body); m != nil {
			cmaps[num] = parseCMap(stream(string(m[1])))
		}
	}
	var out strings.Builder
	for _, body := range objs {
		if !bytes.Contains(body, []byte("/Type /Page\n")) && !bytes.Contains(body, []byte("/Type /Page ")) {
			continue
		}
		fonts := map[string]string{}
		if m := fontResRe.FindSubmatch(body); m != nil {
			for _, r := range fontRefRe.FindAllSubmatch(m[1], -1) {
				fonts[string(r[1])] = string(r[2])
			}
		}
		c := contentRe.FindSubmatch(body)
		if c == nil {
			continue
		}
		var cmap map[uint16]string
		for _, tok := range tokenRe.FindAllSubmatch(stream(string(c[1])), -1) {
			if tok[1] != nil {
				cmap = cmaps[fonts[string(tok[1])]]
				continue
			}
			raw, _ := hex.DecodeString(string(tok[2]))
			for i := 0; i+1 < len(raw); i += 2 {
				out.WriteString(cmap[uint16(raw[i])<<8|uint16(raw[i+1])])
			}
		}
		out.WriteByte('\n')
	}
	return out.String()
}

func utf16hex(s string) string {
	b, _ := hex.DecodeString(s)
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return string(utf16.Decode(u))
}

func parseCMap(b []byte) map[uint16]string {
	out := map[uint16]string{}
	for _, sec := range bfcharRe.FindAllSubmatch(b, -1) {
		hs := hexRe.FindAllSubmatch(sec[1], -1)
		for i := 0; i+1 < len(hs); i += 2 {
			code, _ := strconv.ParseUint(string(hs[i][1]), 16, 16)
			out[uint16(code)] = utf16hex(string(hs[i+1][1]))
		}
	}
	for _, sec := range bfrangeRe.FindAllSubmatch(b, -1) {
		for _, line := range strings.Split(string(sec[1]), "\n") {
			hs := hexRe.FindAllStringSubmatch(line, -1)
			if len(hs) < 3 {
				continue
			}
			lo, _ := strconv.ParseUint(hs[0][1], 16, 16)
			hi, _ := strconv.ParseUint(hs[1][1], 16, 16)
			if strings.Contains(line, "[") {
				for i, h := range hs[2:] {
					out[uint16(lo)+uint16(i)] = utf16hex(h[1])
				}
				continue
			}
			base := []rune(utf16hex(hs[2][1]))
			for c := lo; c <= hi && len(base) > 0; c++ {
				r := append([]rune(nil), base...)
				r[len(r)-1] += rune(c - lo)
				out[uint16(c)] = string(r)
			}
		}
	}
	return out
}
