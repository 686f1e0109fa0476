// Package console is wacht's web interface: server-rendered pages
// (html/template) that htmx updates in part, server-sent events for live
// numbers, and uPlot charts. Every page is a route with a permission,
// mounted through the API's guard (api.Server.MountPages), so a page is
// authenticated, authorized and tenant-scoped exactly like the API call
// behind it; writes need the session's CSRF token, which the first-party
// script sends as X-CSRF-Token. No inline script or style: the strict
// Content-Security-Policy of the guard holds for every page.
//
// The browser files come from package web: first-party JS/CSS always,
// the npm bundle (htmx, uPlot) when `make web` ran before the build. A
// page without the bundle still renders and says how to build it.
//
// Pages are added per domain: a domain's service is an optional field of
// Options, and its pages are routed only when it is set. Domains whose
// services live in their own modules (playbooks, detection rules, ATT&CK,
// threat intel, audit) are reached through Options.API, the node's API
// handler, called in process as the signed-in caller (apicall.go): the
// API's guard decides those reads and writes exactly as for the browser.
// Incident changes go the same way, so every write of the console is an
// API call with the API's permission, validation and audit record.
package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Health is the node's state as the overview shows it.
type Health struct {
	Version    string
	Uptime     string
	Ready      string // "ready" or what is wrong
	Retention  string
	StoreRows  uint64
	StoreBytes uint64
	ReadOnly   bool
	Oldest     time.Time
	Newest     time.Time
	JournalLag uint64
	Listeners  []Listener
}

// Listener is one bound ingest or HTTP address.
type Listener struct{ Name, Addr string }

// Options are what the console shows. Nil services leave their pages out.
type Options struct {
	Events eventstore.EventStore
	// Cases adds the alert queue and incident pages and the overview's
	// alert and incident tiles.
	Cases *cases.Service
	// API is the node's API handler: pages of domains that run in their
	// own modules (playbooks, rules, ATT&CK, intel, audit) call it in
	// process as the signed-in caller. Nil leaves those pages out.
	API http.Handler
	// Users and Tokens add the settings pages that list them.
	Users  *auth.Users
	Tokens *auth.TokenStore
	// DB is the state database: saved views of the alert queue, and the
	// tenants overview of the admin pages. Nil leaves them out.
	DB *store.DB
	// Bus pushes live updates (alerts, incidents) to open overviews.
	Bus *bus.Bus
	// Health describes the node; Metrics writes its metrics set as
	// Prometheus text.
	Health  func() Health
	Metrics func(io.Writer)
	// OIDC shows the single sign-on button on the login page.
	OIDC bool
	// Now is the clock; Tick paces live updates and metric samples
	// (default: a 5 s ticker).
	Now  func() time.Time
	Tick func() (<-chan time.Time, func())
	Log  *slog.Logger
}

// Service serves the console.
type Service struct {
	o       Options
	pages   map[string]*template.Template
	assets  map[string]asset // by name under /console/assets/
	bundled bool
	sampler *sampler
	trends  trendCache
}

type asset struct {
	body  []byte
	ctype string
	hash  string // first 12 hex digits of the SHA-256, for cache busting
}

// New parses the templates and loads the browser files.
func New(o Options) (*Service, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Tick == nil {
		o.Tick = func() (<-chan time.Time, func()) {
			t := time.NewTicker(5 * time.Second)
			return t.C, t.Stop
		}
	}
	if o.Health == nil {
		o.Health = func() Health { return Health{Ready: "unknown"} }
	}
	s := &Service{o: o, pages: map[string]*template.Template{}, assets: map[string]asset{}, sampler: newSampler(o.Metrics)}
	if err := s.loadAssets(); err != nil {
		return nil, err
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	return s, nil
}

// Run samples the metrics on the Tick clock until ctx ends.
func (s *Service) Run(ctx context.Context) {
	c, stop := s.o.Tick()
	defer stop()
	s.sampler.take(s.o.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case <-c:
			s.sampler.take(s.o.Now())
		}
	}
}

// Sample takes one metrics sample at the console's clock (tests and Run).
func (s *Service) Sample() { s.sampler.take(s.o.Now()) }

// Bundled reports whether the npm bundle is in the binary.
func (s *Service) Bundled() bool { return s.bundled }

func (s *Service) loadAssets() error {
	add := func(fsys fs.FS) error {
		return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return fmt.Errorf("read console asset %s: %w", p, err)
			}
			sum := sha256.Sum256(b)
			ct := mime.TypeByExtension(path.Ext(p))
			if ct == "" {
				ct = "application/octet-stream"
			}
			s.assets[p] = asset{body: b, ctype: ct, hash: hex.EncodeToString(sum[:6])}
			return nil
		})
	}
	if err := add(web.Static()); err != nil {
		return err
	}
	if b, ok := web.Bundle(); ok {
		if err := add(b); err != nil {
			return err
		}
		s.bundled = true
	}
	return nil
}

// AssetURL is the cache-busting address of a browser file.
func (s *Service) AssetURL(name string) string {
	a, ok := s.assets[name]
	if !ok {
		return api.ConsolePrefix + "assets/" + name
	}
	return api.ConsolePrefix + "assets/" + name + "?v=" + a.hash
}

// ServeAsset serves GET /console/assets/{name}: public (the login page
// needs it), immutable when asked for by its hash.
func (s *Service) ServeAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, api.ConsolePrefix+"assets/")
	a, ok := s.assets[name]
	if !ok {
		http.Error(w, "no such console file", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	if r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+a.hash+`"`)
	if r.Header.Get("If-None-Match") == `"`+a.hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(a.body)
}

// Console permissions are the domains' own: a page needs what the API
// call behind it needs. These are the ones the console names.
const (
	permCasesRead  api.Permission = "cases:read"
	permCasesWrite api.Permission = "cases:write"
	permAlertsRead api.Permission = "alerts:read"
)

func init() {
	for _, p := range []api.Permission{permCasesRead, permCasesWrite, permAlertsRead} {
		api.RegisterPermission(p, api.RoleAdmin)
	}
}

// Routes are the console's pages, each with its permission. Mount them
// with api.Server.MountPages, and ServeAsset with MountPublicAssets.
func (s *Service) Routes() []api.Route {
	p := api.ConsolePrefix
	rs := []api.Route{
		{Pattern: "GET " + p + "{$}", Perm: api.PermSession, Handler: s.home},
		{Pattern: "GET " + p + "login", Perm: api.PermSignIn, Handler: s.login},
		{Pattern: "GET " + p + "overview", Perm: api.PermStatusRead, Handler: s.overview},
		{Pattern: "GET " + p + "overview/live", Perm: api.PermStatusRead, Handler: s.overviewLive},
		{Pattern: "GET " + p + "overview/trends", Perm: api.PermStatusRead, Handler: s.overviewTrends},
		{Pattern: "GET " + p + "hunt", Perm: api.PermEventsRead, Handler: s.hunt},
		{Pattern: "GET " + p + "hunt/rule-draft", Perm: api.PermEventsRead, Handler: s.ruleDraft},
		{Pattern: "GET " + p + "settings", Perm: api.PermSession, Handler: s.settings},
	}
	if s.o.Users != nil {
		rs = append(rs, api.Route{Pattern: "GET " + p + "settings/users", Perm: api.PermUsersRead, Handler: s.users})
	}
	if s.o.API != nil {
		rs = append(rs, s.adminWriteRoutes()...)
	}
	rs = append(rs, s.settingsAdminRoutes()...)
	if s.o.Tokens != nil {
		rs = append(rs, api.Route{Pattern: "GET " + p + "settings/tokens", Perm: api.PermTokensRead, Handler: s.tokens})
	}
	if s.o.Cases != nil {
		rs = append(rs,
			api.Route{Pattern: "GET " + p + "alerts", Perm: permAlertsRead, Handler: s.alerts},
			api.Route{Pattern: "POST " + p + "alerts/triage", Perm: permCasesWrite, Handler: s.triage},
			api.Route{Pattern: "GET " + p + "incidents", Perm: permCasesRead, Handler: s.incidents},
			api.Route{Pattern: "GET " + p + "incidents/{id}", Perm: permCasesRead, Handler: s.incident},
			api.Route{Pattern: "GET " + p + "incidents/{id}/report/{regime}/{stage}", Perm: permCasesRead, Handler: s.reportDraft},
			api.Route{Pattern: "GET " + p + "observe", Perm: permCasesWrite, Handler: s.observe},
		)
		rs = append(rs, s.incidentWriteRoutes()...)
		rs = append(rs, s.exceptionRoutes()...)
		if s.o.DB != nil {
			rs = append(rs, s.viewRoutes()...)
		}
	}
	if s.o.API != nil {
		rs = append(rs, s.playbookRoutes()...)
		rs = append(rs, s.rulesRoutes()...)
		rs = append(rs, s.intelRoutes()...)
		rs = append(rs, s.adminRoutes()...)
		rs = append(rs, s.complianceRoutes()...)
		rs = append(rs, s.riskRoutes()...)
	}
	return rs
}

// navItem is one entry of the navigation, shown when the role may open it.
type navItem struct {
	Key, Label, Href string
	Perm             api.Permission
	Needs            func(*Service) bool
}

var nav = []navItem{
	{"overview", "Overview", "overview", api.PermStatusRead, nil},
	{"alerts", "Alerts", "alerts", permAlertsRead, func(s *Service) bool { return s.o.Cases != nil }},
	{"incidents", "Incidents", "incidents", permCasesRead, func(s *Service) bool { return s.o.Cases != nil }},
	{"hunt", "Hunt", "hunt", api.PermEventsRead, nil},
	{"rules", "Rules", "rules", "rules:read", func(s *Service) bool { return s.o.API != nil }},
	{"intel", "Intel", "intel", "intel:read", func(s *Service) bool { return s.o.API != nil }},
	{"playbooks", "Playbooks", "playbooks", permPlaybooksRead, func(s *Service) bool { return s.o.API != nil }},
	{"approvals", "Approvals", "approvals", permApprovalsRead, func(s *Service) bool { return s.o.API != nil }},
	{"risk", "Risk", "risk", permRiskRead, func(s *Service) bool { return s.o.API != nil }},
	{"compliance", "Compliance", "compliance", api.PermComplianceRead, func(s *Service) bool { return s.o.API != nil }},
	{"audit", "Audit", "audit", api.PermAuditRead, func(s *Service) bool { return s.o.API != nil }},
	{"settings", "Settings", "settings", api.PermSession, nil},
}

// page is what every template gets.
type page struct {
	Title   string
	Active  string
	ID      api.Identity
	User    string
	Nav     []navItem
	CSRF    string
	Bundled bool
	Data    any
	s       *Service
}

func (s *Service) newPage(r *http.Request, active, title string, data any) page {
	id, _ := api.IdentityFrom(r.Context())
	p := page{Title: title, Active: active, ID: id, User: strings.TrimPrefix(id.Subject, "user:"),
		CSRF: id.CSRF, Bundled: s.bundled, Data: data, s: s}
	for _, n := range nav {
		if (n.Needs == nil || n.Needs(s)) && api.Allowed(id.Role, n.Perm) {
			p.Nav = append(p.Nav, n)
		}
	}
	return p
}

// Can reports whether the caller's role grants perm (templates hide what
// the guard would refuse).
func (p page) Can(perm string) bool { return api.Allowed(p.ID.Role, api.Permission(perm)) }

func (s *Service) parseTemplates() error {
	funcs := template.FuncMap{
		"asset":  s.AssetURL,
		"ts":     timeTag,
		"since":  func(t time.Time) string { return ago(s.o.Now(), t) },
		"bytes":  humanBytes,
		"num":    humanNum,
		"rate":   func(v float64) string { return fmt.Sprintf("%.1f", v) },
		"json":   jsonAttr,
		"lower":  strings.ToLower,
		"prefix": func() string { return api.ConsolePrefix },
		"fv": func(base, rng, name, value string) fieldValue {
			return fieldValue{Name: name, Value: value, A: actionsFor(base, rng, name, value)}
		},
		"tsText": func(v string) template.HTML {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return template.HTML(template.HTMLEscapeString(v))
			}
			return timeTag(t)
		},
		"cell":        func(r huntRow, name string) string { return eventstore.Row(r.Fields).Get(name) },
		"entityField": entityField,
		"list":        func(v ...string) []string { return v },
		"mulf":        func(a, b float64) float64 { return a * b },
		"huntFor":     func(q string) string { return huntURL(q, "7d") },
		"u64":         func(n int64) uint64 { return uint64(max(n, 0)) },
		"join":        func(v []string) string { return strings.Join(v, " ") },
		"breached":    breached,
		"nextDue":     nextDue,
		"obsCtx": func(inc string, can bool, alerts any) obsRows {
			return obsRows{Incident: inc, CanObs: can, Alerts: alerts}
		},
		"fvObs":     withObs,
		"fvExc":     withException,
		"obsVals":   func(kind, value string) map[string]string { return map[string]string{"kind": kind, "value": value} },
		"tbl":       func(alerts []cases.Alert, can bool) alertTable { return alertTable{Alerts: alerts, Can: can} },
		"get":       getField,
		"pct":       func(a, b int) int { return pct(a, b) },
		"heat":      heatClass,
		"hasPrefix": strings.HasPrefix,
	}
	base, err := template.New("base").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/fields.html")
	if err != nil {
		return fmt.Errorf("parse console layout: %w", err)
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" || name == "fields" {
			continue
		}
		t, err := base.Clone()
		if err == nil {
			_, err = t.ParseFS(templateFiles, n)
		}
		if err != nil {
			return fmt.Errorf("parse console page %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

// render writes a page (tmpl "layout") or, for htmx requests naming a
// fragment, just that fragment.
func (s *Service) render(w http.ResponseWriter, r *http.Request, name, tmpl string, p page) {
	t, ok := s.pages[name]
	if !ok {
		s.fail(w, r, fmt.Errorf("console page %s missing", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, tmpl, p); err != nil {
		s.fail(w, r, fmt.Errorf("render console page %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Vary", "HX-Request")
	_, _ = w.Write(buf.Bytes())
}

// fail answers an internal error with an id that is also logged; the
// message shown carries no internals.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	id := errorID()
	s.o.Log.Error("console_request_failed", "error_id", id, "path", r.URL.Path, "err", err)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `<p class="error">Something went wrong on the server (error id %s). The log has the details.</p>`,
		template.HTMLEscapeString(id))
}

// userError is shown as it is (bad input).
type userError struct{ msg string }

func (e userError) Error() string { return e.msg }

func isUserError(err error) bool {
	var ue userError
	return errors.As(err, &ue) || errors.Is(err, eventstore.ErrBadQuery) || cases.IsUserError(err)
}

func (s *Service) home(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "", "", nil)
	dest := "settings"
	if len(p.Nav) > 0 {
		dest = p.Nav[0].Href
	}
	http.Redirect(w, r, api.ConsolePrefix+dest, http.StatusSeeOther)
}

type loginData struct {
	OIDC  bool
	Next  string
	Error string
}

func (s *Service) login(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, api.ConsolePrefix) || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		next = api.ConsolePrefix
	}
	p := page{Title: "Sign in", Bundled: s.bundled, s: s, Data: loginData{OIDC: s.o.OIDC, Next: next}}
	s.render(w, r, "login", "layout", p)
}
