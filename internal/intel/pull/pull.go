// Package pull fetches the configured intel feeds on their schedule: over
// HTTP with ETag / If-Modified-Since (an unchanged feed costs one 304), or
// as incremental TAXII 2.1 polls, each into an intel import.
package pull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/feeds"
	"github.com/wacht-soc/wacht/internal/intel/taxii"
)

// Puller pulls feeds.
type Puller struct {
	svc  *intel.Service
	http *http.Client
	now  func() time.Time
	log  *slog.Logger
}

// New returns a puller; client nil uses a client with a 10 minute
// timeout.
func New(svc *intel.Service, client *http.Client, now func() time.Time, log *slog.Logger) *Puller {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute}
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Puller{svc: svc, http: client, now: now, log: log}
}

// Result says what one pull did.
type Result struct {
	Feed       string            `json:"feed"`
	NotChanged bool              `json:"not_changed"`
	Stats      intel.ImportStats `json:"stats"`
}

// Pull fetches one feed now and records the outcome on it.
func (p *Puller) Pull(ctx context.Context, f intel.Feed) (Result, error) {
	res, err := p.pull(ctx, &f)
	count := int64(res.Stats.Stored)
	if res.NotChanged {
		count = f.LastCount
	}
	if rerr := p.svc.FeedPulled(ctx, f, p.now(), count, err); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		p.log.Warn("intel_feed_pull_failed", "tenant", f.Tenant, "feed", f.Name, "err", err)
	} else {
		p.log.Info("intel_feed_pulled", "tenant", f.Tenant, "feed", f.Name, "not_changed", res.NotChanged, "stored", res.Stats.Stored)
	}
	return res, err
}

func (p *Puller) pull(ctx context.Context, f *intel.Feed) (Result, error) {
	res := Result{Feed: f.Name}
	o := feeds.Options{Confidence: f.Confidence, TLP: f.TLP}
	if f.Format == "taxii" {
		var after time.Time
		if f.LastModified != "" {
			after, _ = time.Parse(time.RFC3339Nano, f.LastModified)
		}
		im := p.svc.NewImport(f.Tenant, f.Name)
		c := &taxii.Client{HTTP: p.http}
		last, _, err := c.PollInto(ctx, f.URL, after, o, im)
		if err != nil {
			im.Abort()
			return res, err
		}
		st, err := im.Close(ctx)
		res.Stats = st
		if err == nil && last.After(after) {
			f.LastModified = last.UTC().Format(time.RFC3339Nano)
		}
		res.NotChanged = st.Read == 0
		return res, err
	}
	format, err := feeds.ParseFormat(f.Format)
	if err != nil {
		return res, err
	}
	o.Format = format
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return res, fmt.Errorf("feed %s: %w", f.Name, err)
	}
	if f.ETag != "" {
		req.Header.Set("If-None-Match", f.ETag)
	}
	if f.LastModified != "" {
		req.Header.Set("If-Modified-Since", f.LastModified)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return res, fmt.Errorf("feed %s: %w", f.Name, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		res.NotChanged = true
		return res, nil
	case http.StatusOK:
	default:
		return res, fmt.Errorf("feed %s: %s answered %s", f.Name, f.URL, resp.Status)
	}
	im := p.svc.NewImport(f.Tenant, f.Name)
	if err := feeds.Read(ctx, resp.Request.URL.Path, resp.Body, o, im); err != nil {
		im.Abort()
		return res, fmt.Errorf("feed %s: %w", f.Name, err)
	}
	st, err := im.Close(ctx)
	res.Stats = st
	if err != nil {
		return res, err
	}
	f.ETag, f.LastModified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	return res, nil
}

// RunDue pulls every feed that is due now.
func (p *Puller) RunDue(ctx context.Context) (int, error) {
	due, err := p.svc.DueFeeds(ctx, p.now())
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, f := range due {
		if _, err := p.Pull(ctx, f); err != nil {
			errs = append(errs, err)
		}
	}
	return len(due), errors.Join(errs...)
}

// Run checks for due feeds every interval until ctx ends.
func (p *Puller) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := p.RunDue(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("intel_feeds_run_failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
