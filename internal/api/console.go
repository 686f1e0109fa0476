package api

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// The console (package console) serves HTML pages through the same guard
// as the API. Two things differ for a browser, and only in how a refusal
// looks: a page asked for without a session redirects to the sign-in page,
// and a page the role may not see answers an HTML page instead of JSON.
// Authentication, authorization, CSRF, audit and security headers are the
// guard's, unchanged.

// ConsolePrefix is where the console's pages live.
const ConsolePrefix = "/console/"

// ConsoleLoginPath is the console's sign-in page.
const ConsoleLoginPath = ConsolePrefix + "login"

// MountPages adds console routes. Like Mount, every route must name the
// permission it requires.
func (s *Server) MountPages(routes ...Route) {
	for _, rt := range routes {
		if rt.Perm == "" {
			panic("api: page " + rt.Pattern + " has no permission")
		}
		s.routes = append(s.routes, rt)
		s.mux.Handle(rt.Pattern, pageRefusals(s.guard(rt)))
	}
}

// MountPublicAssets serves the console's static files (first-party and
// bundled JavaScript, CSS, fonts) to everybody: the sign-in page needs
// them before there is a session. They hold no data. The route is listed
// in Routes with no permission, like /healthz.
func (s *Server) MountPublicAssets(pattern string, h http.HandlerFunc) {
	path := pattern
	if i := strings.IndexByte(path, ' '); i >= 0 {
		path = path[i+1:]
	}
	if !strings.HasPrefix(path, ConsolePrefix) {
		panic("api: public assets outside " + ConsolePrefix + ": " + pattern)
	}
	s.d.PublicPaths = append(s.d.PublicPaths, path)
	rt := Route{Pattern: pattern, Handler: h}
	s.routes = append(s.routes, rt)
	s.mux.Handle(rt.Pattern, s.guard(rt))
}

// pageRefusals turns the guard's JSON refusals (401, 403) into what a
// browser can use. Responses of the page handlers themselves (HTML) pass
// through untouched.
func pageRefusals(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&pageWriter{ResponseWriter: w, r: r}, r)
	})
}

type pageWriter struct {
	http.ResponseWriter
	r        *http.Request
	swallow  bool
	reported bool
}

func (p *pageWriter) WriteHeader(code int) {
	if p.reported {
		return
	}
	p.reported = true
	json := strings.HasPrefix(p.Header().Get("Content-Type"), "application/json")
	if !json || (code != http.StatusUnauthorized && code != http.StatusForbidden) {
		p.ResponseWriter.WriteHeader(code)
		return
	}
	p.swallow = true
	h := p.Header()
	h.Del("Content-Type")
	if code == http.StatusUnauthorized && h.Get("WWW-Authenticate") != `Bearer realm="wacht", error="insufficient_user_authentication"` {
		next := p.r.URL.Path
		if p.r.Method != http.MethodGet || p.r.Header.Get("HX-Request") != "" {
			next = ConsolePrefix
		}
		if q := p.r.URL.RawQuery; q != "" && next == p.r.URL.Path {
			next += "?" + q
		}
		loc := ConsoleLoginPath + "?next=" + url.QueryEscape(next)
		if p.r.Header.Get("HX-Request") != "" {
			// htmx follows HX-Redirect with a full page load.
			h.Set("HX-Redirect", loc)
			p.ResponseWriter.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.Set("Location", loc)
		p.ResponseWriter.WriteHeader(http.StatusSeeOther)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	p.ResponseWriter.WriteHeader(code)
	msg := "You do not have permission to see this page."
	if code == http.StatusUnauthorized {
		msg = "This action needs a recent second factor: sign in again with your one-time code."
	}
	_ = refusalPage.Execute(p.ResponseWriter, map[string]any{"Status": code, "Message": msg})
}

func (p *pageWriter) Write(b []byte) (int, error) {
	if !p.reported {
		p.WriteHeader(http.StatusOK)
	}
	if p.swallow {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

// Flush passes flushes through (server-sent events).
func (p *pageWriter) Flush() {
	if f, ok := p.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (p *pageWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

var refusalPage = template.Must(template.New("refusal").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wacht — {{.Status}}</title>
<link rel="stylesheet" href="/console/assets/app.css"></head>
<body class="refusal"><main class="card"><h1>{{.Status}}</h1><p>{{.Message}}</p>
<p><a href="/console/">Back to the console</a> · <a href="/console/login">Sign in as someone else</a></p></main></body></html>
`))
