package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wacht-soc/wacht/internal/api"
)

// Pages of domains whose services live in their own modules (playbooks,
// rules, intel, ATT&CK, audit) read and write through the HTTP API, in
// process: the console replays the caller's credential (session cookie
// and CSRF token, or bearer token) and tenant on a request to the API
// handler. The API's guard then decides exactly as it would for the
// browser — same permission, same tenant, same step-up, same audit —
// so a page can never show or change more than the API allows.

// maxAPIAnswer bounds what the console reads of one in-process answer.
const maxAPIAnswer = 32 << 20

// apiError is an API refusal or failure, with the API's message.
type apiError struct {
	Status int
	Msg    string
	StepUp bool // the action needs a recent second factor
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Msg, e.Status) }

// asAPIError returns the API error in err, if any.
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	ok := errors.As(err, &ae)
	return ae, ok
}

// hasAPI reports whether the in-process API is wired.
func (s *Service) hasAPI() bool { return s.o.API != nil }

// call sends method path (with query) to the API as the caller of r,
// with body encoded as JSON when not nil, and decodes the answer into
// out when not nil. A non-2xx answer is an *apiError.
func (s *Service) call(r *http.Request, method, path string, body, out any) error {
	if s.o.API == nil {
		return errors.New("console: the API is not wired")
	}
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode API body for %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), method, path, rd)
	if err != nil {
		return fmt.Errorf("API request %s %s: %w", method, path, err)
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range []string{"Authorization", "Cookie", api.TenantHeader, "User-Agent", "X-Forwarded-For"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if id, ok := api.IdentityFrom(r.Context()); ok && id.CSRF != "" {
		req.Header.Set(api.CSRFHeader, id.CSRF)
	}
	rec := httptest.NewRecorder()
	s.o.API.ServeHTTP(rec, req)
	res := rec.Result()
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAPIAnswer))
	if err != nil {
		return fmt.Errorf("read API answer of %s %s: %w", method, path, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		ae := &apiError{Status: res.StatusCode, Msg: http.StatusText(res.StatusCode),
			StepUp: strings.Contains(res.Header.Get("WWW-Authenticate"), "insufficient_user_authentication")}
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			ae.Msg = e.Error
		}
		return ae
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode API answer of %s %s: %w", method, path, err)
		}
	}
	return nil
}

// userMessage turns an error of a write into what the page says: the
// API's own words for refusals and bad input; nothing internal otherwise
// (ok is false: the caller fails the request).
func userMessage(err error) (string, bool) {
	if ae, ok := asAPIError(err); ok && ae.Status < 500 {
		return ae.Msg, true
	}
	if isUserError(err) {
		return err.Error(), true
	}
	return "", false
}

// back answers a console write: htmx requests are sent (HX-Redirect) to
// dest, others redirected; msg is shown there as a notice.
func back(w http.ResponseWriter, r *http.Request, dest, msg string) {
	if msg != "" {
		sep := "?"
		if strings.Contains(dest, "?") {
			sep = "&"
		}
		dest += sep + "msg=" + queryEscape(msg)
	}
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", dest)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
}
