package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/intel/feeds"
	"github.com/wacht-soc/wacht/internal/intel/stix"
)

// Client talks to a TAXII 2.1 server.
type Client struct {
	HTTP *http.Client
	// Authorize sets credentials on each request (Bearer, Basic …).
	Authorize func(*http.Request)
	// PageSize is the limit asked for per page (0: 500).
	PageSize int
}

// maxResponse bounds one response body.
const maxResponse = 256 << 20

func (c *Client) do(ctx context.Context, method, u string, body []byte, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("taxii %s %s: %w", method, u, err)
	}
	req.Header.Set("Accept", MediaTAXII)
	if body != nil {
		req.Header.Set("Content-Type", MediaTAXII)
	}
	if c.Authorize != nil {
		c.Authorize(req)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("taxii %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("taxii %s %s: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			Error       string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return nil, fmt.Errorf("taxii %s %s: %s %s%s", method, u, resp.Status, e.Title, e.Error)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("taxii %s %s: decode: %w", method, u, err)
		}
	}
	return resp.Header, nil
}

func slash(u string) string {
	if strings.HasSuffix(u, "/") {
		return u
	}
	return u + "/"
}

// Discover reads the discovery resource at u (".../taxii2/").
func (c *Client) Discover(ctx context.Context, u string) (Discovery, error) {
	var d Discovery
	_, err := c.do(ctx, http.MethodGet, slash(u), nil, &d)
	return d, err
}

// Collections lists the collections of an API root URL.
func (c *Client) Collections(ctx context.Context, root string) ([]Collection, error) {
	var out struct {
		Collections []Collection `json:"collections"`
	}
	_, err := c.do(ctx, http.MethodGet, slash(root)+"collections/", nil, &out)
	return out.Collections, err
}

// Poll reads every object of a collection (URL ending in the collection
// id) added after addedAfter, page by page, handing each page to fn. It
// returns the latest X-TAXII-Date-Added-Last seen: the addedAfter of the
// next incremental poll.
func (c *Client) Poll(ctx context.Context, collection string, addedAfter time.Time, fn func([]json.RawMessage) error) (time.Time, error) {
	last := addedAfter
	limit := c.PageSize
	if limit <= 0 {
		limit = 500
	}
	next := ""
	for page := 0; ; page++ {
		q := url.Values{}
		q.Set("limit", fmt.Sprint(limit))
		if !addedAfter.IsZero() {
			q.Set("added_after", addedAfter.UTC().Format("2006-01-02T15:04:05.000000Z"))
		}
		if next != "" {
			q.Set("next", next)
		}
		var env Envelope
		h, err := c.do(ctx, http.MethodGet, slash(collection)+"objects/?"+q.Encode(), nil, &env)
		if err != nil {
			return last, err
		}
		if t, err := time.Parse(time.RFC3339Nano, h.Get("X-TAXII-Date-Added-Last")); err == nil && t.After(last) {
			last = t
		}
		if len(env.Objects) > 0 {
			if err := fn(env.Objects); err != nil {
				return last, err
			}
		}
		if !env.More || env.Next == "" || page > 100000 {
			return last, nil
		}
		next = env.Next
	}
}

// PollInto polls a collection into an import: the indicators of each page
// go through feeds.ImportBundle. It returns the next addedAfter and the
// number of objects read.
func (c *Client) PollInto(ctx context.Context, collection string, addedAfter time.Time, o feeds.Options, sink feeds.Sink) (time.Time, int, error) {
	n := 0
	last, err := c.Poll(ctx, collection, addedAfter, func(objs []json.RawMessage) error {
		n += len(objs)
		doc, err := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--taxii-poll", "objects": objs})
		if err != nil {
			return err
		}
		b, err := stix.DecodeBundle(doc)
		if err != nil {
			return err
		}
		return feeds.ImportBundle(ctx, b, o, sink)
	})
	return last, n, err
}

// Add posts objects to a collection and returns the status.
func (c *Client) Add(ctx context.Context, collection string, objects []json.RawMessage) (*Status, error) {
	body, err := json.Marshal(map[string]any{"objects": objects})
	if err != nil {
		return nil, err
	}
	var st Status
	_, err = c.do(ctx, http.MethodPost, slash(collection)+"objects/", body, &st)
	return &st, err
}
