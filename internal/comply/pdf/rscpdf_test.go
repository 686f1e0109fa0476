package pdf_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"testing"

	rscpdf "rsc.io/pdf"

	"github.com/wacht-soc/wacht/internal/comply"
)

// libraryText reads a PDF through rsc.io/pdf, a reader wacht did not
// write: it finds every object through the cross-reference table (so a
// wrong offset fails) and inflates the streams. rsc.io/pdf does not
// decode Identity-H fonts, so the text is mapped through each font's
// ToUnicode CMap (read by the library) with this file's CMap parser.
func libraryText(t *testing.T, data []byte) string {
	t.Helper()
	r, err := rscpdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("rsc.io/pdf cannot open the PDF: %v", err)
	}
	readAll := func(v rscpdf.Value, what string) []byte {
		if v.Kind() != rscpdf.Stream {
			t.Fatalf("%s is %v, not a stream", what, v.Kind())
		}
		b, err := io.ReadAll(v.Reader())
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return b
	}
	var out strings.Builder
	if r.NumPage() == 0 {
		t.Fatal("rsc.io/pdf finds no page")
	}
	for i := 1; i <= r.NumPage(); i++ {
		p := r.Page(i)
		fonts := map[string]map[uint16]string{}
		fd := p.Resources().Key("Font")
		for _, name := range fd.Keys() {
			fonts[name] = parseCMap(readAll(fd.Key(name).Key("ToUnicode"), "page "+strconv.Itoa(i)+" font "+name+" ToUnicode"))
		}
		var content []byte
		c := p.V.Key("Contents")
		if c.Kind() == rscpdf.Array {
			for j := range c.Len() {
				content = append(content, readAll(c.Index(j), "contents")...)
			}
		} else {
			content = readAll(c, "contents")
		}
		var cmap map[uint16]string
		for _, tok := range tokenRe.FindAllSubmatch(content, -1) {
			if tok[1] != nil {
				cmap = fonts[string(tok[1])]
				continue
			}
			raw, _ := hex.DecodeString(string(tok[2]))
			for k := 0; k+1 < len(raw); k += 2 {
				out.WriteString(cmap[uint16(raw[k])<<8|uint16(raw[k+1])])
			}
		}
		out.WriteByte('\n')
	}
	return out.String()
}

// TestNormalizedPDFReadsWithLibrary: the German report, printed and
// normalized as RenderPDF does, opens in an independent PDF reader and
// its text, umlauts and ß included, comes back out.
func TestNormalizedPDFReadsWithLibrary(t *testing.T) {
	p := printer(t)
	rep := germanReport()
	var html bytes.Buffer
	if err := comply.RenderHTML(&html, rep); err != nil {
		t.Fatal(err)
	}
	raw, err := p.PDF(context.Background(), html.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	out, err := comply.NormalizePDF(raw, rep.To)
	if err != nil {
		t.Fatal(err)
	}
	// The reader does check offsets: bytes inserted before the objects
	// without moving the table make it fail.
	at := bytes.Index(out, []byte("1 0 obj"))
	shifted := append(append(append([]byte(nil), out[:at]...), "% shifted\n"...), out[at:]...)
	if _, err := rscpdf.NewReader(bytes.NewReader(shifted), int64(len(shifted))); err == nil {
		t.Fatal("rsc.io/pdf opened a PDF with wrong offsets: it proves nothing here")
	}
	text := squash(libraryText(t, out))
	for _, want := range []string{"Verzeichnis der Verletzungen", "Postfachübernahme bei Müller & Söhne, Straße 5", "Fristgerecht", "Mandant"} {
		if !strings.Contains(text, squash(want)) {
			t.Errorf("rsc.io/pdf text lacks %q; have %q", want, text[:min(len(text), 400)])
		}
	}
}
