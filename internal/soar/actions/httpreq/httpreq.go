// Package httpreq holds the outgoing HTTP connectors of playbooks:
// http.request (any JSON or text API, e.g. a firewall's) and chat.post
// (Slack, Microsoft Teams and Mattermost incoming webhooks). Both reach
// only hosts on the node's allow-list and send the step's idempotency key.
package httpreq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/wacht-soc/wacht/internal/soar"
)

func init() {
	soar.RegisterAction(soar.ActionInfo{ID: soar.ActionPrefix + "http.request", New: func() soar.Action { return new(Request) }, SideEffects: true})
	soar.RegisterAction(soar.ActionInfo{ID: soar.ActionPrefix + "chat.post", New: func() soar.Action { return new(ChatPost) }, SideEffects: true})
}

// maxBody bounds the response body kept as the step's output.
const maxBody = 1 << 20

// Request is http.request: one HTTP call.
type Request struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	// JSON is sent as the body with Content-Type application/json.
	JSON any `json:"json,omitempty"`
	// Body is sent as is (text), when JSON is not set.
	Body string `json:"body,omitempty"`
	// Expect lists the statuses that count as success (default: 2xx).
	Expect []int `json:"expect,omitempty"`
}

// Validate implements soar.Validator.
func (r *Request) Validate() error {
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	r.Method = strings.ToUpper(r.Method)
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead:
	default:
		return fmt.Errorf("method %q is not GET, POST, PUT, PATCH, DELETE or HEAD", r.Method)
	}
	if r.URL == "" {
		return errors.New("url is required")
	}
	if r.JSON != nil && r.Body != "" {
		return errors.New("set json or body, not both")
	}
	return nil
}

// Response is the output of http.request.
type Response struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	// Body is the decoded JSON answer, or its text.
	Body any `json:"body"`
}

// Run implements soar.Action.
func (r *Request) Run(ctx context.Context, call *soar.Call) (any, error) {
	var body io.Reader
	ctype := ""
	switch {
	case r.JSON != nil:
		b, err := json.Marshal(r.JSON)
		if err != nil {
			return nil, soar.Permanent(fmt.Errorf("encode json: %w", err))
		}
		body, ctype = bytes.NewReader(b), "application/json"
	case r.Body != "":
		body, ctype = strings.NewReader(r.Body), "text/plain; charset=utf-8"
	}
	resp, err := send(ctx, call, r.Method, r.URL, r.Headers, body, ctype)
	if err != nil {
		return nil, err
	}
	ok := resp.Status/100 == 2
	if len(r.Expect) > 0 {
		ok = false
		for _, c := range r.Expect {
			ok = ok || c == resp.Status
		}
	}
	if !ok {
		return resp, statusError(resp)
	}
	return resp, nil
}

// send performs a request to an allowed host with the idempotency key.
func send(ctx context.Context, call *soar.Call, method, rawURL string, headers map[string]string, body io.Reader, ctype string) (*Response, error) {
	u, err := call.Deps.CheckURL(rawURL)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, soar.Permanent(fmt.Errorf("build request: %w", err))
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if ctype != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Idempotency-Key", call.IdempotencyKey)
	req.Header.Set("User-Agent", "wacht-playbook/1")
	resp, err := call.Deps.HTTP.Do(req)
	if err != nil {
		// The URL may carry a secret; the error names only the host.
		return nil, fmt.Errorf("%s %s: %w", method, u.Host, unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read answer of %s: %w", u.Host, err)
	}
	out := &Response{Status: resp.StatusCode, Headers: map[string]string{}}
	for _, h := range []string{"Content-Type", "Location", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			out.Headers[h] = v
		}
	}
	var js any
	if len(b) > 0 && json.Unmarshal(b, &js) == nil {
		out.Body = js
	} else {
		out.Body = string(b)
	}
	return out, nil
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// statusError classifies a failed answer: client errors other than 408
// and 429 will not get better by retrying.
func statusError(r *Response) error {
	err := fmt.Errorf("answer %d", r.Status)
	if r.Status >= 400 && r.Status < 500 && r.Status != http.StatusRequestTimeout && r.Status != http.StatusTooManyRequests {
		return soar.Permanent(err)
	}
	return err
}

// ChatKind is a chat system's incoming webhook flavour.
type ChatKind string

// Chat kinds.
const (
	ChatSlack      ChatKind = "slack"
	ChatTeams      ChatKind = "teams"
	ChatMattermost ChatKind = "mattermost"
)

// ChatPost is chat.post: a message to an incoming webhook.
type ChatPost struct {
	Kind ChatKind `json:"kind"`
	// Webhook is the webhook URL (usually ${{ secrets.NAME }}).
	Webhook string `json:"webhook"`
	Text    string `json:"text"`
	// Channel overrides the webhook's channel (Slack, Mattermost).
	Channel string `json:"channel,omitempty"`
}

// Validate implements soar.Validator.
func (c *ChatPost) Validate() error {
	switch c.Kind {
	case ChatSlack, ChatTeams, ChatMattermost:
	default:
		return fmt.Errorf("kind %q is not slack, teams or mattermost", c.Kind)
	}
	if c.Webhook == "" || c.Text == "" {
		return errors.New("webhook and text are required")
	}
	return nil
}

// Run implements soar.Action.
func (c *ChatPost) Run(ctx context.Context, call *soar.Call) (any, error) {
	var payload map[string]any
	switch c.Kind {
	case ChatSlack, ChatMattermost:
		payload = map[string]any{"text": c.Text}
		if c.Channel != "" {
			payload["channel"] = c.Channel
		}
	case ChatTeams:
		payload = map[string]any{"@type": "MessageCard", "@context": "https://schema.org/extensions", "text": c.Text}
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, soar.Permanent(err)
	}
	resp, err := send(ctx, call, http.MethodPost, c.Webhook, nil, bytes.NewReader(b), "application/json")
	if err != nil {
		return nil, err
	}
	if resp.Status/100 != 2 {
		return resp, statusError(resp)
	}
	return map[string]any{"status": resp.Status, "kind": string(c.Kind)}, nil
}

var (
	_ soar.Action    = (*Request)(nil)
	_ soar.Validator = (*Request)(nil)
	_ soar.Action    = (*ChatPost)(nil)
	_ soar.Validator = (*ChatPost)(nil)
)
