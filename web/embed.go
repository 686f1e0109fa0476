// Package web holds the console's browser files for the wacht binary to
// embed: the first-party JavaScript and CSS under static/ (committed), and
// the third-party libraries (htmx, its SSE extension, uPlot) that
// package.json pins, package-lock.json locks and `make web` bundles into
// dist/ (ignored by git, never committed).
//
// A clean clone without dist/ still builds: the embed pattern below matches
// "static" always and "dist" only when it exists (a pattern that matches
// nothing would fail the build, a missing directory named outright too).
// The console then serves its pages with a banner that says to run
// `make web`; forms still work as plain HTML.
package web

import (
	"embed"
	"io/fs"
)

// files holds static/ and, when bundled, dist/. The character classes
// match "dist" and "static" and nothing else in this folder.
//
//go:embed [ds][it][sa]*
var files embed.FS

// Static returns the first-party files (always present).
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic("web: static files missing from the embed: " + err.Error())
	}
	return sub
}

// Bundle returns the third-party bundle and whether it was built into the
// binary (`make web` before `go build`).
func Bundle() (fs.FS, bool) {
	if _, err := fs.Stat(files, "dist/manifest.json"); err != nil {
		return nil, false
	}
	sub, err := fs.Sub(files, "dist")
	if err != nil {
		return nil, false
	}
	return sub, true
}
