package intel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// Feed is a source pulled on a schedule over HTTP: a list, CSV, STIX
// bundle, MISP event or feed, or a TAXII 2.1 collection.
type Feed struct {
	Tenant     string        `json:"tenant"`
	Name       string        `json:"name"`
	URL        string        `json:"url"`
	Format     string        `json:"format"` // auto, plain, csv, stix, misp, warninglist, taxii
	Interval   time.Duration `json:"interval"`
	Confidence int           `json:"confidence"`
	TLP        TLP           `json:"tlp"`
	Enabled    bool          `json:"enabled"`
	// ETag and LastModified are the validators of the last answer (for a
	// TAXII feed, LastModified holds the added_after of the next poll).
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	LastPulled   time.Time `json:"last_pulled,omitzero"`
	NextPull     time.Time `json:"next_pull,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	LastCount    int64     `json:"last_count"`
}

var feedName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

// Validate checks a feed definition; errors are safe to show.
func (f *Feed) Validate() error {
	if !feedName.MatchString(f.Name) {
		return fmt.Errorf("%w: feed name %q: letters, digits, '.', '_', '-', at most 64", ErrInvalid, f.Name)
	}
	u, err := url.Parse(f.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: feed url %q: want http:// or https://", ErrInvalid, f.URL)
	}
	switch f.Format {
	case "", "auto", "plain", "csv", "stix", "misp", "warninglist", "taxii":
	default:
		return fmt.Errorf("%w: feed format %q", ErrInvalid, f.Format)
	}
	if f.Interval < time.Minute {
		return fmt.Errorf("%w: feed interval %s: at least 1m", ErrInvalid, f.Interval)
	}
	if f.Confidence < 0 || f.Confidence > 100 {
		return fmt.Errorf("%w: feed confidence %d: want 0 to 100", ErrInvalid, f.Confidence)
	}
	return nil
}

const selectFeed = `SELECT tenant, name, url, format, interval_s, confidence, tlp, etag, last_modified, last_pulled, next_pull,
	last_error, last_count, enabled FROM intel_feeds`

func scanFeed(sc interface{ Scan(...any) error }) (Feed, error) {
	var f Feed
	var secs int64
	var tlp string
	var enabled int
	var lp, np store.Timestamp
	err := sc.Scan(&f.Tenant, &f.Name, &f.URL, &f.Format, &secs, &f.Confidence, &tlp, &f.ETag, &f.LastModified, &lp, &np,
		&f.LastError, &f.LastCount, &enabled)
	f.Interval = time.Duration(secs) * time.Second
	f.TLP, _ = ParseTLP(tlp)
	f.Enabled = enabled != 0
	f.LastPulled, f.NextPull = lp.Time, np.Time
	return f, err
}

// PutFeed creates or replaces a feed definition (its pull state is kept
// when only settings change; a new URL pulls afresh).
func (s *Service) PutFeed(ctx context.Context, f Feed) error {
	if err := f.Validate(); err != nil {
		return err
	}
	enabled := 0
	if f.Enabled {
		enabled = 1
	}
	return s.repo.db.Tx(ctx, func(tx *store.Tx) error {
		var oldURL string
		err := tx.QueryRow(ctx, "SELECT url FROM intel_feeds WHERE tenant = ? AND name = ?", f.Tenant, f.Name).Scan(&oldURL)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.Exec(ctx, `INSERT INTO intel_feeds (tenant, name, url, format, interval_s, confidence, tlp, enabled, next_pull)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.Tenant, f.Name, f.URL, f.Format, int64(f.Interval/time.Second), f.Confidence,
				f.TLP.String(), enabled, store.TimeOf(s.now()))
		case err != nil:
		case oldURL != f.URL:
			_, err = tx.Exec(ctx, `UPDATE intel_feeds SET url = ?, format = ?, interval_s = ?, confidence = ?, tlp = ?, enabled = ?,
				etag = '', last_modified = '', next_pull = ? WHERE tenant = ? AND name = ?`, f.URL, f.Format, int64(f.Interval/time.Second),
				f.Confidence, f.TLP.String(), enabled, store.TimeOf(s.now()), f.Tenant, f.Name)
		default:
			_, err = tx.Exec(ctx, `UPDATE intel_feeds SET format = ?, interval_s = ?, confidence = ?, tlp = ?, enabled = ?
				WHERE tenant = ? AND name = ?`, f.Format, int64(f.Interval/time.Second), f.Confidence, f.TLP.String(), enabled, f.Tenant, f.Name)
		}
		if err != nil {
			return fmt.Errorf("store feed %s: %w", f.Name, err)
		}
		return nil
	})
}

// Feeds lists a tenant's feeds.
func (s *Service) Feeds(ctx context.Context, tenant string) ([]Feed, error) {
	rows, err := s.repo.db.Query(ctx, selectFeed+" WHERE tenant = ? ORDER BY name", tenant)
	if err != nil {
		return nil, fmt.Errorf("list feeds: %w", err)
	}
	defer rows.Close()
	var out []Feed
	for rows.Next() {
		f, err := scanFeed(rows)
		if err != nil {
			return nil, fmt.Errorf("list feeds: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Feed returns one feed.
func (s *Service) Feed(ctx context.Context, tenant, name string) (Feed, error) {
	f, err := scanFeed(s.repo.db.QueryRow(ctx, selectFeed+" WHERE tenant = ? AND name = ?", tenant, name))
	if errors.Is(err, sql.ErrNoRows) {
		return f, store.ErrNotFound
	}
	if err != nil {
		return f, fmt.Errorf("get feed %s: %w", name, err)
	}
	return f, nil
}

// DeleteFeed removes a feed definition (its indicators stay).
func (s *Service) DeleteFeed(ctx context.Context, tenant, name string) error {
	res, err := s.repo.db.Exec(ctx, "DELETE FROM intel_feeds WHERE tenant = ? AND name = ?", tenant, name)
	if err != nil {
		return fmt.Errorf("delete feed %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DueFeeds claims the enabled feeds of every tenant whose next pull is due
// at now, moving their next pull one interval on so that another node (or
// the next tick) does not pull them too.
func (s *Service) DueFeeds(ctx context.Context, now time.Time) ([]Feed, error) {
	var out []Feed
	err := s.repo.db.Tx(ctx, func(tx *store.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, selectFeed+" WHERE enabled = 1 AND (next_pull IS NULL OR next_pull <= ?) ORDER BY next_pull"+
			tx.Dialect().ForUpdateSkipLocked(), store.TimeOf(now))
		if err != nil {
			return err
		}
		for rows.Next() {
			f, err := scanFeed(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, f := range out {
			if _, err := tx.Exec(ctx, "UPDATE intel_feeds SET next_pull = ? WHERE tenant = ? AND name = ?",
				store.TimeOf(now.Add(f.Interval)), f.Tenant, f.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim due feeds: %w", err)
	}
	return out, nil
}

// FeedPulled records the outcome of a pull.
func (s *Service) FeedPulled(ctx context.Context, f Feed, at time.Time, count int64, pullErr error) error {
	msg := ""
	if pullErr != nil {
		msg = truncate(pullErr.Error(), 500)
	}
	_, err := s.repo.db.Exec(ctx, `UPDATE intel_feeds SET etag = ?, last_modified = ?, last_pulled = ?, last_error = ?, last_count = ?
		WHERE tenant = ? AND name = ?`, f.ETag, f.LastModified, store.TimeOf(at), msg, count, f.Tenant, f.Name)
	if err != nil {
		return fmt.Errorf("record pull of feed %s: %w", f.Name, err)
	}
	return nil
}
