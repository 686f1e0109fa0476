package pdf_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/comply/pdf"
	"github.com/wacht-soc/wacht/internal/comply/rego"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// printerNoCleanup is a second, independent browser for the test.
func printerNoCleanup(t *testing.T) *pdf.Printer {
	t.Helper()
	p, err := pdf.New("")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newService(t *testing.T, db *store.DB, p comply.PDFPrinter, c *clock) *comply.Service {
	t.Helper()
	src := comply.FactFunc{ID: "accounts", Fn: func(_ context.Context, _ string, _ time.Time, f *comply.Facts) error {
		f.Accounts = []comply.AccountFact{{ID: "u1", Name: "jürgen", Role: "admin", Privileged: true, MFA: true},
			{ID: "u2", Name: "björn", Role: "admin", Privileged: true, MFA: false}}
		return nil
	}}
	svc, err := comply.New(db, comply.Options{Engine: rego.New(), Sources: []comply.FactSource{src}, Now: c.Now, PDF: p})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

var (
	creationRe  = regexp.MustCompile(`/CreationDate \(D:(\d{14})`)
	xrefEntryRe = regexp.MustCompile(`(\d{10}) (\d{5}) ([nf]) ?\r?\n`)
	startRe     = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
)

// checkXref fails unless startxref points at the cross-reference table
// and every in-use entry at its "N 0 obj".
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
	n := 0
	for i, e := range xrefEntryRe.FindAllSubmatch(pdf[at:at+trailer], -1) {
		if string(e[3]) != "n" {
			continue
		}
		n++
		off, _ := strconv.Atoi(string(e[1]))
		if want := fmt.Sprintf("%d 0 obj", i); !bytes.HasPrefix(pdf[off:], []byte(want)) {
			t.Fatalf("xref entry %d: offset %d holds %q, want %q", i, off, pdf[off:min(len(pdf), off+12)], want)
		}
	}
	if n == 0 {
		t.Fatal("empty cross-reference table")
	}
}

// TestReportPDFDeterministic: one report printed by two separately
// started browsers gives byte-identical PDFs dated at the report's as-of
// time, although Chromium stamps each print with the wall clock.
func TestReportPDFDeterministic(t *testing.T) {
	p1 := printer(t)
	p2 := printerNoCleanup(t)
	t.Cleanup(p2.Close)
	rep := germanReport()
	var html bytes.Buffer
	if err := comply.RenderHTML(&html, rep); err != nil {
		t.Fatal(err)
	}
	raw, err := p1.PDF(context.Background(), html.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m := creationRe.FindSubmatch(raw)
	if m == nil {
		t.Fatalf("Chromium's PDF has no /CreationDate: the normalization has nothing to do; check this test")
	}
	if string(m[1]) == rep.To.Format("20060102150405") {
		t.Fatalf("Chromium's own date equals the report's; the test proves nothing")
	}
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)}
		a, err := newService(t, db, p1, c).RenderPDF(context.Background(), rep)
		if err != nil {
			t.Fatal(err)
		}
		b, err := newService(t, db, p2, c).RenderPDF(context.Background(), rep)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("two prints of one report differ (%d and %d bytes)", len(a), len(b))
		}
		if got := creationRe.FindSubmatch(a); got == nil || string(got[1]) != rep.To.Format("20060102150405") {
			t.Fatalf("normalized /CreationDate %q, want the report's %s", got, rep.To)
		}
		checkXref(t, a)
		if text := squash(libraryText(t, a)); !strings.Contains(text, squash("Postfachübernahme bei Müller & Söhne")) {
			t.Fatalf("normalized PDF lost its text: %q", text[:min(len(text), 200)])
		}
	})
}

// TestBundleCarriesPDFReports: with a printer the evidence bundle holds
// every report as PDF in German and English next to the HTML, listed in
// the signed manifest; two exports of the same data are byte-identical and
// the bundle verifies.
func TestBundleCarriesPDFReports(t *testing.T) {
	p := printer(t)
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		svc := newService(t, db, p, c)
		if _, _, err := svc.Evaluate(ctx, "a", c.Now(), comply.CauseDemand, "test"); err != nil {
			t.Fatal(err)
		}
		skey, vkey, err := note.GenerateKey(nil, "wacht-test")
		if err != nil {
			t.Fatal(err)
		}
		signer, err := note.NewSigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		from, to := c.Now().Add(-24*time.Hour), c.Now().Add(time.Hour)
		var b1, b2 bytes.Buffer
		m, err := svc.Export(ctx, "a", from, to, &b1, comply.ExportOptions{Signer: signer, VerifierKey: vkey})
		if err != nil {
			t.Fatal(err)
		}
		c.Add(90 * time.Minute) // the wall clock must not show
		if _, err := svc.Export(ctx, "a", from, to, &b2, comply.ExportOptions{Signer: signer, VerifierKey: vkey}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
			t.Fatal("two exports of the same data differ")
		}
		if strings.Contains(m.Notes, "HTML only") {
			t.Fatalf("manifest notes %q with a printer", m.Notes)
		}
		listed := map[string]bool{}
		for _, f := range m.Files {
			listed[f.Path] = true
		}
		zr, err := zip.NewReader(bytes.NewReader(b1.Bytes()), int64(b1.Len()))
		if err != nil {
			t.Fatal(err)
		}
		pdfs := 0
		for _, f := range zr.File {
			if !strings.HasSuffix(f.Name, ".pdf") {
				continue
			}
			pdfs++
			if !listed[f.Name] {
				t.Errorf("%s is not in the manifest", f.Name)
			}
			rc, _ := f.Open()
			data, _ := io.ReadAll(rc)
			rc.Close()
			checkXref(t, data)
			if f.Name == "reports/iso27001-soa.de.pdf" {
				text := squash(libraryText(t, data))
				for _, want := range []string{"Erklärung zur Anwendbarkeit", "A.8.5", "Maßnahme"} {
					if !strings.Contains(text, squash(want)) {
						t.Errorf("%s lacks %q", f.Name, want)
					}
				}
			}
		}
		if want := len(comply.ReportKinds()) * 2; pdfs != want {
			t.Fatalf("bundle holds %d PDFs, want %d", pdfs, want)
		}
		rep, err := comply.VerifyBundle(bytes.NewReader(b1.Bytes()), int64(b1.Len()), vkey)
		if err != nil || !rep.OK {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	})
}
