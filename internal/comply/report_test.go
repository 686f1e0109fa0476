package comply_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// TestReportsWithoutChromium: a node without a PDF printer still renders
// every report as HTML in German and English (umlauts intact, the same
// bytes twice); asking for PDF says why it is missing; the evidence bundle
// carries HTML only and its manifest says so.
func TestReportsWithoutChromium(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		if _, _, err := e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseDemand, "x"); err != nil {
			t.Fatal(err)
		}
		from, to := e.clock.Now().AddDate(0, -3, 0), e.clock.Now().Add(time.Hour)
		for _, kind := range comply.ReportKinds() {
			for _, lang := range []string{"de", "en"} {
				rep, err := e.svc.BuildReport(ctx, "a", kind, lang, from, to)
				if err != nil {
					t.Fatal(err)
				}
				var h1, h2 bytes.Buffer
				if err := comply.RenderHTML(&h1, rep); err != nil {
					t.Fatal(err)
				}
				e.clock.Add(time.Minute)
				rep2, _ := e.svc.BuildReport(ctx, "a", kind, lang, from, to)
				_ = comply.RenderHTML(&h2, rep2)
				if !bytes.Equal(h1.Bytes(), h2.Bytes()) {
					t.Errorf("%s.%s: two renders differ", kind, lang)
				}
				if lang == "de" && (!strings.Contains(h1.String(), "Mandant") || !strings.Contains(h1.String(), "Zeitraum")) {
					t.Errorf("%s.de has no German labels", kind)
				}
				_, err = e.svc.RenderPDF(ctx, rep)
				if !errors.Is(err, comply.ErrNoPDF) || !strings.Contains(err.Error(), "Chromium") || !strings.Contains(err.Error(), "HTML") {
					t.Fatalf("%s PDF without Chromium: %v", kind, err)
				}
			}
		}
		signer, vkey := testSigner(t)
		var b bytes.Buffer
		m, err := e.svc.Export(ctx, "a", from, to, &b, comply.ExportOptions{Signer: signer, VerifierKey: vkey})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Notes, "HTML only") {
			t.Fatalf("manifest notes %q", m.Notes)
		}
		zr, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
		if err != nil {
			t.Fatal(err)
		}
		html := 0
		for _, f := range zr.File {
			if strings.HasSuffix(f.Name, ".pdf") {
				t.Errorf("bundle without a printer holds %s", f.Name)
			}
			if strings.HasSuffix(f.Name, ".html") {
				html++
			}
		}
		if html != 6 {
			t.Fatalf("bundle holds %d HTML reports, want 6", html)
		}
	})
}
