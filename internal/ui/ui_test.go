package ui

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func serve(t *testing.T, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerServesIndexAndAssetsWithTypes(t *testing.T) {
	tests := []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/static/js/app.js">`},
		{"/index.html", "text/html; charset=utf-8", "<title>"},
		{"/static/js/app.js", "text/javascript; charset=utf-8", "hashchange"},
		{"/static/js/list.js", "text/javascript; charset=utf-8", "TraceSummaries"},
		{"/static/css/app.css", "text/css; charset=utf-8", ":root"},
		{"/static/favicon.svg", "image/svg+xml", "<svg"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := serve(t, http.MethodGet, tt.path, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", res.StatusCode)
			}
			if got := res.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if b := body(t, res); !strings.Contains(b, tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
		})
	}
}

func TestEveryResponseCarriesSecurityHeaders(t *testing.T) {
	for _, target := range []string{"/", "/static/js/app.js", "/static/nope.js", "/nope"} {
		res := serve(t, http.MethodGet, target, nil)
		if got := res.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy = %q", target, got)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q", target, got)
		}
	}
}

func TestUnknownPathsAre404(t *testing.T) {
	for _, target := range []string{"/static/", "/static/js/missing.js", "/static/../ui.go", "/favicon.ico", "/TraceSummaries", "/static/js"} {
		res := serve(t, http.MethodGet, target, nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status = %d, want 404", target, res.StatusCode)
		}
	}
}

func TestOtherMethodsAre405(t *testing.T) {
	res := serve(t, http.MethodPost, "/", nil)
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("status = %d, want 405", res.StatusCode)
	}
	if got := res.Header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow = %q", got)
	}
}

func TestHeadHasHeadersButNoBody(t *testing.T) {
	get := serve(t, http.MethodGet, "/static/js/app.js", nil)
	head := serve(t, http.MethodHead, "/static/js/app.js", nil)
	if head.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", head.StatusCode)
	}
	if b := body(t, head); b != "" {
		t.Errorf("HEAD body has %d bytes", len(b))
	}
	if head.Header.Get("Content-Length") != get.Header.Get("Content-Length") || head.Header.Get("ETag") != get.Header.Get("ETag") {
		t.Errorf("HEAD headers differ from GET: %v vs %v", head.Header, get.Header)
	}
}

func TestCacheHeaders(t *testing.T) {
	index := serve(t, http.MethodGet, "/", nil)
	if got := index.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("index Cache-Control = %q, want no-cache", got)
	}
	asset := serve(t, http.MethodGet, "/static/css/app.css", nil)
	if got := asset.Header.Get("Cache-Control"); !strings.Contains(got, "max-age=") {
		t.Errorf("asset Cache-Control = %q, want a max-age", got)
	}
	etag := asset.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := serve(t, http.MethodGet, "/static/css/app.css", map[string]string{"If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET status = %d, want 304", again.StatusCode)
	}
	if b := body(t, again); b != "" {
		t.Errorf("304 has a body")
	}
	notFound := serve(t, http.MethodGet, "/static/missing.css", nil)
	if got := notFound.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("404 Cache-Control = %q, want no-store", got)
	}
}

func TestGzipWhenAccepted(t *testing.T) {
	plain := body(t, serve(t, http.MethodGet, "/static/js/trace.js", nil))
	res := serve(t, http.MethodGet, "/static/js/trace.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if !bytes.Equal(got, []byte(plain)) {
		t.Error("gzipped body differs from the plain body")
	}
	refused := serve(t, http.MethodGet, "/static/js/trace.js", map[string]string{"Accept-Encoding": "gzip;q=0"})
	if refused.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent although the client refused it with q=0")
	}
}

// The policy forbids inline script and inline style attributes; the page must not need them.
func TestEmbeddedFilesNeedNoInlineScriptOrStyle(t *testing.T) {
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	handlerAttr := regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	styleAttr := regexp.MustCompile(`(?i)<[^>]+\sstyle\s*=`)
	innerHTML := regexp.MustCompile(`\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write`)
	err := fs.WalkDir(embedded, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(embedded, p)
		src := string(b)
		switch {
		case strings.HasSuffix(p, ".html"):
			for _, re := range []*regexp.Regexp{inlineScript, handlerAttr, styleAttr} {
				if m := re.FindString(src); m != "" {
					t.Errorf("%s: inline code blocked by the CSP: %q", p, m)
				}
			}
			for _, ref := range regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(src, -1) {
				if res := serve(t, http.MethodGet, ref[1], nil); res.StatusCode != http.StatusOK {
					t.Errorf("%s references %s, which is not served (%d)", p, ref[1], res.StatusCode)
				}
			}
		case strings.HasSuffix(p, ".js"):
			if m := innerHTML.FindString(src); m != "" {
				t.Errorf("%s: uses %q; render untrusted data with textContent/createElement", p, m)
			}
			if strings.Contains(src, "http://") && !strings.Contains(src, "http://www.w3.org/2000/svg") {
				t.Errorf("%s: refers to an absolute http:// URL; the UI must work offline", p)
			}
			for _, imp := range regexp.MustCompile(`from '\./([^']+)'`).FindAllStringSubmatch(src, -1) {
				if res := serve(t, http.MethodGet, "/static/js/"+imp[1], nil); res.StatusCode != http.StatusOK {
					t.Errorf("%s imports %s, which is not served", p, imp[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := map[string]bool{
		"":                  false,
		"gzip":              true,
		"deflate, gzip":     true,
		"gzip;q=0":          false,
		"gzip; q=0.5":       true,
		"br":                false,
		"GZIP":              true,
		"identity, gzip;q=": false,
	}
	for in, want := range tests {
		if got := acceptsGzip(in); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", in, got, want)
		}
	}
}
