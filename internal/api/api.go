// Package api is wacht's HTTP surface: the REST API, the ingest endpoints
// (mounted from package ingest) and operations endpoints. It translates HTTP
// to calls on the domain packages and owns nothing else — except the one
// access seam every request passes: authenticate, then authorize against
// the permission the route declares. Deny by default: a route without a
// permission is not served.
package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/ingest"
)

// Deps are what the API calls.
type Deps struct {
	Auth    Authenticator
	Store   eventstore.EventStore
	Ingest  *ingest.HTTP
	Metrics *metrics.Set
	// Ready reports problems that make the node not ready (nil: ready).
	Ready func() error
	// Status describes the node for /api/v1/status.
	Status func() any
	// PublicPaths are served without a token (/healthz, /readyz, /metrics).
	PublicPaths []string
	Log         *slog.Logger
}

// Route is one endpoint and the permission it requires.
type Route struct {
	Pattern string
	Perm    Permission // empty: public (only for PublicPaths)
	Handler http.HandlerFunc
}

// Server is the HTTP handler.
type Server struct {
	d      Deps
	mux    *http.ServeMux
	routes []Route
	access AccessHooks // installed by the access module (UseAccess)
}

// New builds the server.
func New(d Deps) *Server {
	s := &Server{d: d, mux: http.NewServeMux()}
	s.routes = []Route{
		{"GET /healthz", "", s.healthz},
		{"GET /readyz", "", s.readyz},
		{"GET /metrics", "", s.metrics},
		{"GET /api/v1/status", PermStatusRead, s.status},
		{"GET /api/v1/events/search", PermEventsRead, s.search},
		{"POST /api/v1/ingest", PermEventsWrite, d.Ingest.Lines},
		{"POST /api/v1/ingest/file", PermEventsWrite, d.Ingest.File},
		// Elasticsearch-compatible.
		{"GET /{$}", PermEventsWrite, d.Ingest.ESInfo},
		{"HEAD /{$}", PermEventsWrite, d.Ingest.ESInfo},
		{"POST /_bulk", PermEventsWrite, d.Ingest.ESBulk},
		{"PUT /_bulk", PermEventsWrite, d.Ingest.ESBulk},
		{"POST /{index}/_bulk", PermEventsWrite, d.Ingest.ESBulk},
		{"/_license", PermEventsWrite, d.Ingest.ESSetup},
		{"/_xpack", PermEventsWrite, d.Ingest.ESSetup},
		{"/_nodes", PermEventsWrite, d.Ingest.ESSetup},
		// Splunk HEC-compatible.
		{"POST /services/collector", PermEventsWrite, d.Ingest.HECEvent},
		{"POST /services/collector/event", PermEventsWrite, d.Ingest.HECEvent},
		{"POST /services/collector/event/1.0", PermEventsWrite, d.Ingest.HECEvent},
		{"POST /services/collector/raw", PermEventsWrite, d.Ingest.HECRaw},
		{"POST /services/collector/raw/1.0", PermEventsWrite, d.Ingest.HECRaw},
		{"GET /services/collector/health", PermEventsWrite, d.Ingest.HECHealth},
		{"GET /services/collector/health/1.0", PermEventsWrite, d.Ingest.HECHealth},
	}
	// Profiling for operators (admin only).
	s.routes = append(s.routes,
		Route{"GET /debug/pprof/", PermDebug, pprof.Index},
		Route{"GET /debug/pprof/profile", PermDebug, pprof.Profile},
		Route{"GET /debug/pprof/heap", PermDebug, pprof.Handler("heap").ServeHTTP},
		Route{"GET /debug/pprof/goroutine", PermDebug, pprof.Handler("goroutine").ServeHTTP},
	)
	// Setup calls of Beats and Elastic Agent (templates, ILM, pipelines):
	// GET, HEAD and PUT only, so that they never shadow POST /{index}/_bulk.
	for _, prefix := range []string{"/_index_template/", "/_ilm/", "/_ingest/", "/_component_template/", "/_data_stream/"} {
		for _, m := range []string{"GET ", "HEAD ", "PUT "} {
			s.routes = append(s.routes, Route{m + prefix, PermEventsWrite, d.Ingest.ESSetup})
		}
	}
	for _, rt := range s.routes {
		s.mux.Handle(rt.Pattern, s.guard(rt))
	}
	return s
}

// Mount adds routes of a domain (cases, intel …). Every route must name
// the permission it requires; Mount panics otherwise, since a route
// without one would be refused to everybody anyway.
func (s *Server) Mount(routes ...Route) {
	for _, rt := range routes {
		if rt.Perm == "" {
			panic("api: route " + rt.Pattern + " has no permission")
		}
		s.routes = append(s.routes, rt)
		s.mux.Handle(rt.Pattern, s.guard(rt))
	}
}

// Routes lists the endpoints (the access matrix test walks them).
func (s *Server) Routes() []Route { return s.routes }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

// guard authenticates and authorizes before the handler runs, and records
// state-changing calls (and denied ones) in the audit trail.
func (s *Server) guard(rt Route) http.Handler {
	path := rt.Pattern
	if i := strings.IndexByte(path, ' '); i >= 0 {
		path = path[i+1:]
	}
	public := rt.Perm == "" && slices.Contains(s.d.PublicPaths, path)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				id := newErrorID()
				s.d.Log.Error("http_handler_panic", "error_id", id, "path", r.URL.Path, "panic", fmt.Sprint(v))
				writeError(w, http.StatusInternalServerError, "internal error (id "+id+")")
			}
		}()
		securityHeaders(w, r)
		if public {
			rt.Handler(w, r)
			return
		}
		if rt.Perm == PermSignIn {
			// Sign-in is how a caller gets a credential: anonymous,
			// throttled by the lockout, audited (never its body).
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			rt.Handler(sw, r)
			s.audit(r, rt, Identity{Subject: "anonymous"}, sw.status, "", "")
			return
		}
		id, status, msg := s.authenticate(r)
		if status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="wacht"`)
			}
			writeError(w, status, msg)
			return
		}
		now := time.Now
		if s.access.Now != nil {
			now = s.access.Now
		}
		d := Decide(Request{Identity: id, Perm: rt.Perm, Method: r.Method, Source: SourceAddr(r), Time: now()})
		if !d.Allow {
			if d.StepUp {
				w.Header().Set("WWW-Authenticate", `Bearer realm="wacht", error="insufficient_user_authentication"`)
			}
			s.audit(r, rt, id, d.Status, "", d.Reason)
			writeError(w, d.Status, d.Reason)
			return
		}
		if !auditedCall(r.Method, rt.Perm) {
			rt.Handler(w, r.WithContext(contextWith(r.Context(), id)))
			return
		}
		var body hash.Hash
		// Event ingest is audited without a hash of its body: the body is
		// the events themselves (stored, with source and peer), and hashing
		// every byte shippers send cost ~5% of ingest CPU.
		if r.Body != nil && r.Body != http.NoBody && s.access.Audit != nil && rt.Perm != PermEventsWrite {
			body = sha256.New()
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.TeeReader(r.Body, body), r.Body}
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			var reqHash string
			if body != nil {
				reqHash = hex.EncodeToString(body.Sum(nil))
			}
			s.audit(r, rt, id, sw.status, reqHash, "")
		}()
		rt.Handler(sw, r.WithContext(contextWith(r.Context(), id)))
	})
}

// authenticate finds the caller: an API token in Authorization, else a
// session cookie (which must carry the CSRF token on writes). A non-zero
// status is the refusal.
func (s *Server) authenticate(r *http.Request) (Identity, int, string) {
	if tok := tokenFrom(r); tok != "" {
		id, err := s.d.Auth.Authenticate(r.Context(), tok)
		if err != nil {
			if !errors.Is(err, ErrDenied) {
				eid := newErrorID()
				s.d.Log.Error("authenticate_failed", "error_id", eid, "err", err)
				return id, http.StatusServiceUnavailable, "cannot check credentials now (id " + eid + ")"
			}
			return id, http.StatusUnauthorized, "invalid, expired or revoked token"
		}
		if id.Method == AuthNone {
			id.Method = AuthToken
		}
		return id, 0, ""
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || s.access.Sessions == nil {
		return Identity{}, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token> or sign in"
	}
	id, err := s.access.Sessions.AuthenticateSession(r.Context(), c.Value, r.Header.Get(TenantHeader))
	if err != nil {
		if !errors.Is(err, ErrDenied) {
			eid := newErrorID()
			s.d.Log.Error("authenticate_session_failed", "error_id", eid, "err", err)
			return id, http.StatusServiceUnavailable, "cannot check credentials now (id " + eid + ")"
		}
		return id, http.StatusUnauthorized, "session expired or signed out: sign in again"
	}
	if !safeMethod(r.Method) {
		got := r.Header.Get(CSRFHeader)
		if id.CSRF == "" || subtle.ConstantTimeCompare([]byte(got), []byte(id.CSRF)) != 1 {
			return id, http.StatusForbidden, "missing or wrong " + CSRFHeader + " header"
		}
	}
	return id, 0, ""
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// auditedCall: every state change, and reads of sensitive data.
func auditedCall(method string, p Permission) bool {
	return !safeMethod(method) || Sensitive(p) || p.Resource() == "audit"
}

func (s *Server) audit(r *http.Request, rt Route, id Identity, status int, reqHash, denied string) {
	if s.access.Audit == nil {
		return
	}
	now := time.Now
	if s.access.Now != nil {
		now = s.access.Now
	}
	s.access.Audit(r.Context(), AuditEntry{Time: now(), Identity: id, Method: r.Method, Path: r.URL.Path,
		Route: rt.Pattern, Perm: rt.Perm, Status: status, Source: r.RemoteAddr, RequestHash: reqHash, Denied: denied})
}

// securityHeaders: strict CSP (no inline script), no framing, HSTS under TLS.
func securityHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush passes flushes through (streamed answers).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newErrorID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// actorOf names the caller for audit and timeline entries.
func actorOf(r *http.Request) string {
	if id, ok := IdentityFrom(r.Context()); ok && id.Subject != "" {
		return id.Subject
	}
	return "unknown"
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// TenantOf is the tenant of an authenticated request.
func TenantOf(r *http.Request) string {
	if id, ok := IdentityFrom(r.Context()); ok && id.Tenant != "" {
		return id.Tenant
	}
	return event.DefaultTenant
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok\n")
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	if s.d.Ready != nil {
		if err := s.d.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: "+err.Error()+"\n")
			return
		}
	}
	_, _ = io.WriteString(w, "ready\n")
}

func (s *Server) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	s.d.Metrics.WritePrometheus(w)
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.d.Status())
}

// ParseTime reads an API time: RFC 3339, Unix seconds, or a duration before
// now ("24h", "7d" meaning that long ago).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(n*1e9)).UTC(), nil
	}
	d, err := parseAgo(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339, Unix seconds or a duration like 24h or 7d", s)
	}
	return now.Add(-d), nil
}

func parseAgo(s string) (time.Duration, error) {
	s = strings.TrimPrefix(s, "-")
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil {
			return 0, err
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}

// search serves GET /api/v1/events/search?q=&start=&end=&limit= as
// streamed NDJSON, one object per row.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := time.Now()
	start, err := ParseTime(q.Get("start"), now)
	if err != nil {
		writeError(w, http.StatusBadRequest, "start: "+err.Error())
		return
	}
	end, err := ParseTime(q.Get("end"), now)
	if err != nil {
		writeError(w, http.StatusBadRequest, "end: "+err.Error())
		return
	}
	limit := 1000
	if l := q.Get("limit"); l != "" {
		limit, err = strconv.Atoi(l)
		if err != nil || limit < 0 {
			writeError(w, http.StatusBadRequest, "limit: want a number ≥ 0")
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	flusher, _ := w.(http.Flusher)
	var buf []byte
	rows := 0
	err = s.d.Store.Query(r.Context(), eventstore.Query{
		Tenant: TenantOf(r), LogsQL: q.Get("q"), Start: start, End: end, Limit: limit,
	}, func(row eventstore.Row) error {
		buf = AppendRowJSON(buf[:0], row)
		buf = append(buf, '\n')
		rows++
		if _, err := w.Write(buf); err != nil {
			return err
		}
		if flusher != nil && rows%1000 == 0 {
			flusher.Flush()
		}
		return nil
	})
	if err != nil {
		if rows == 0 {
			status := http.StatusInternalServerError
			msg := "search failed"
			if errors.Is(err, eventstore.ErrBadQuery) {
				status, msg = http.StatusBadRequest, err.Error()
			} else {
				eid := newErrorID()
				s.d.Log.Error("search_failed", "error_id", eid, "err", err)
				msg += " (id " + eid + ")"
			}
			writeError(w, status, msg)
			return
		}
		// Headers are gone: end the stream with an error object.
		_, _ = w.Write(append(append([]byte(`{"_error":`), event.AppendJSONString(nil, err.Error())...), "}\n"...))
	}
}

// AppendRowJSON renders a result row as a JSON object.
func AppendRowJSON(dst []byte, row eventstore.Row) []byte {
	dst = append(dst, '{')
	for i, f := range row {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = event.AppendJSONString(dst, f.Name)
		dst = append(dst, ':')
		dst = event.AppendJSONString(dst, f.Value)
	}
	return append(dst, '}')
}
