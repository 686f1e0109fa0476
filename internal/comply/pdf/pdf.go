// Package pdf prints wacht's HTML reports to PDF with headless Chromium
// through chromedp. It is the one adapter that drives a browser: only
// internal/app and this package's tests import it. The browser starts on
// the first print and stays warm until Close.
package pdf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/wacht-soc/wacht/internal/comply"
)

// EnvChromium names the browser binary when it is not on PATH.
const EnvChromium = "WACHT_CHROMIUM"

// ErrNoChromium: no browser was found; HTML reports still work.
var ErrNoChromium = errors.New("PDF needs headless Chromium: install chromium or set " + EnvChromium + "; HTML reports work without it")

// Find returns the browser to use: $WACHT_CHROMIUM, else chromium,
// chromium-browser, google-chrome or headless_shell on PATH.
func Find() (string, error) {
	if p := os.Getenv(EnvChromium); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvChromium, p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// Printer renders HTML pages to PDF. It is safe for concurrent use; prints
// run one at a time in one browser.
type Printer struct {
	exec    string
	timeout time.Duration

	mu      sync.Mutex
	browser context.Context
	cancel  context.CancelFunc
}

// New returns a printer using the browser at execPath ("" finds one).
func New(execPath string) (*Printer, error) {
	if execPath == "" {
		var err error
		if execPath, err = Find(); err != nil {
			return nil, err
		}
	}
	return &Printer{exec: execPath, timeout: 60 * time.Second}, nil
}

func (p *Printer) start() error {
	if p.browser != nil {
		return nil
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(p.exec), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	if err := chromedp.Run(bctx); err != nil {
		bcancel()
		acancel()
		return fmt.Errorf("start chromium %s: %w", p.exec, err)
	}
	p.browser = bctx
	p.cancel = func() { bcancel(); acancel() }
	return nil
}

// PDF prints html (a self-contained page) on A4 and returns the PDF.
func (p *Printer) PDF(ctx context.Context, html []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.start(); err != nil {
		return nil, err
	}
	tab, cancel := chromedp.NewContext(p.browser)
	defer cancel()
	tab, cancelT := context.WithTimeout(tab, p.timeout)
	defer cancelT()
	stop := context.AfterFunc(ctx, cancelT)
	defer stop()
	var out []byte
	err := chromedp.Run(tab,
		chromedp.Navigate("about:blank"),
		chromedp.ActionFunc(func(ctx context.Context) error {
			tree, err := page.GetFrameTree().Do(ctx)
			if err != nil {
				return err
			}
			return page.SetDocumentContent(tree.Frame.ID, string(html)).Do(ctx)
		}),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			out, _, err = page.PrintToPDF().WithPrintBackground(true).
				WithPaperWidth(8.27).WithPaperHeight(11.69).
				WithMarginTop(0.4).WithMarginBottom(0.4).WithMarginLeft(0.4).WithMarginRight(0.4).Do(ctx)
			return err
		}))
	if err != nil {
		return nil, fmt.Errorf("print PDF: %w", err)
	}
	return out, nil
}

// Close stops the browser.
func (p *Printer) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		p.cancel()
		p.browser, p.cancel = nil, nil
	}
}

var _ comply.PDFPrinter = (*Printer)(nil)
