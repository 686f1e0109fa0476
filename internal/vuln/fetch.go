package vuln

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Default feed locations (the configuration's vuln.feeds keys override them).
const (
	DefaultKEVURL  = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
	DefaultEPSSURL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
)

// maxFeedBytes bounds a downloaded or unpacked feed.
const maxFeedBytes = 1 << 30

// FetchFeed reads a feed from an http(s) URL or a file, un-gzipping it
// when it is compressed. client nil is http.DefaultClient.
func FetchFeed(ctx context.Context, client *http.Client, src string) ([]byte, error) {
	var data []byte
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		if client == nil {
			client = http.DefaultClient
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, fmt.Errorf("download %s: %w", src, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("download %s: %w", src, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("download %s: %s", src, resp.Status)
		}
		if data, err = io.ReadAll(io.LimitReader(resp.Body, maxFeedBytes)); err != nil {
			return nil, fmt.Errorf("download %s: %w", src, err)
		}
	} else {
		var err error
		if data, err = os.ReadFile(src); err != nil {
			return nil, fmt.Errorf("read feed: %w", err)
		}
	}
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("gunzip %s: %w", src, err)
		}
		if data, err = io.ReadAll(io.LimitReader(zr, maxFeedBytes)); err != nil {
			return nil, fmt.Errorf("gunzip %s: %w", src, err)
		}
	}
	return data, nil
}

// FeedsResult says what UpdateFeeds imported.
type FeedsResult struct {
	KEV  int `json:"kev"`
	EPSS int `json:"epss"`
}

// UpdateFeeds downloads the KEV catalog and the EPSS scores, imports both
// and re-prioritizes active findings. Both are downloaded and parsed
// before either replaces what is stored.
func (s *Service) UpdateFeeds(ctx context.Context, client *http.Client, kevURL, epssURL string) (FeedsResult, error) {
	var res FeedsResult
	kev, err := FetchFeed(ctx, client, kevURL)
	if err != nil {
		return res, fmt.Errorf("kev feed: %w", err)
	}
	if _, err := ParseKEV(bytes.NewReader(kev)); err != nil {
		return res, fmt.Errorf("kev feed %s: %w", kevURL, err)
	}
	epss, err := FetchFeed(ctx, client, epssURL)
	if err != nil {
		return res, fmt.Errorf("epss feed: %w", err)
	}
	if _, err := ParseEPSS(bytes.NewReader(epss)); err != nil {
		return res, fmt.Errorf("epss feed %s: %w", epssURL, err)
	}
	if res.KEV, err = s.importKEV(ctx, bytes.NewReader(kev)); err != nil {
		return res, err
	}
	if res.EPSS, err = s.importEPSS(ctx, bytes.NewReader(epss)); err != nil {
		return res, err
	}
	return res, s.Reprioritize(ctx)
}

// RunFeeds updates the feeds every interval until ctx ends (the first
// update right away), logging failures.
func (s *Service) RunFeeds(ctx context.Context, client *http.Client, kevURL, epssURL string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := s.UpdateFeeds(ctx, client, kevURL, epssURL)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("vuln_feeds_update_failed", "err", err)
		case err == nil:
			s.log.Info("vuln_feeds_updated", "kev", res.KEV, "epss", res.EPSS)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
