// Package ui serves the local backend's embedded web UI: one HTML page and its static
// assets, compiled into the binary with go:embed so the UI works offline.
//
// The UI is a client of the X-Ray HTTP API served by the local backend (POST /TraceSummaries,
// /Traces, /ServiceGraph, ...); this package serves only files and owns no data.
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// ContentSecurityPolicy is sent with every response of the UI handler. Segment documents are
// untrusted input rendered by the UI; the policy forbids inline script so that a rendering
// bug cannot become script execution.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; " +
	"base-uri 'none'; form-action 'self'; object-src 'none'"

//go:embed static
var embedded embed.FS

// asset is one embedded file, prepared once when the handler is built.
type asset struct {
	body        []byte
	gzipped     []byte // nil when compression does not pay
	etag        string
	contentType string
	cacheable   bool // versioned by ETag; revalidated but may be reused
}

type handler struct {
	assets map[string]*asset // URL path -> asset
}

// Handler returns the UI's HTTP handler. It answers GET and HEAD for "/" (the application
// page, also at "/index.html") and "/static/..." (scripts, styles, icons), with the
// Content-Security-Policy and X-Content-Type-Options headers on every response. Unknown
// paths get 404; other methods get 405. The daemon routes every GET that is not /healthz
// or /metrics here and POSTs to the X-Ray API.
func Handler() http.Handler {
	h, err := newHandler(embedded)
	if err != nil {
		// The embedded tree is fixed at compile time; the unit tests walk it, so this
		// cannot happen in a tested build.
		panic(fmt.Sprintf("ui: preparing embedded assets: %v", err))
	}
	return h
}

func newHandler(fsys fs.FS) (*handler, error) {
	h := &handler{assets: map[string]*asset{}}
	err := fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		a := newAsset(p, body)
		if p == "static/index.html" {
			a.cacheable = false
			h.assets["/"] = a
			h.assets["/index.html"] = a
			return nil
		}
		h.assets["/"+p] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	if h.assets["/"] == nil {
		return nil, fmt.Errorf("static/index.html is missing from the embedded files")
	}
	return h, nil
}

func newAsset(name string, body []byte) *asset {
	sum := sha256.Sum256(body)
	a := &asset{
		body:        body,
		etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		contentType: contentType(name),
		cacheable:   true,
	}
	if compressible(a.contentType) && len(body) > 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body)*9/10 {
			a.gzipped = buf.Bytes()
		}
	}
	return a
}

// contentType is explicit rather than left to mime.TypeByExtension, whose answer depends on
// the host's /etc/mime.types; with nosniff a wrong type would break the page.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".json":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	default:
		return "application/octet-stream"
	}
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || ct == "image/svg+xml" || ct == "application/json"
}

func setSecurityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	setSecurityHeaders(hd)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: the UI serves GET and HEAD only", http.StatusMethodNotAllowed)
		return
	}
	a := h.assets[r.URL.Path]
	if a == nil {
		hd.Set("Cache-Control", "no-store")
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	hd.Set("Content-Type", a.contentType)
	hd.Set("ETag", a.etag)
	hd.Set("Vary", "Accept-Encoding")
	if a.cacheable {
		// Asset names carry no version, so let the browser keep them briefly and
		// revalidate with the ETag afterwards; an upgraded binary is picked up within a minute.
		hd.Set("Cache-Control", "public, max-age=60, must-revalidate")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gzipped != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hd.Set("Content-Encoding", "gzip")
		body = a.gzipped
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		part = strings.TrimPrefix(part, "W/")
		if part == etag || part == "*" {
			return true
		}
	}
	return false
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		params = strings.TrimSpace(params)
		if q, ok := strings.CutPrefix(params, "q="); ok {
			v, err := strconv.ParseFloat(q, 64)
			return err == nil && v > 0
		}
		return true
	}
	return false
}
