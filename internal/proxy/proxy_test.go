package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/xrayd/xrayd/internal/awsconf/sigtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var creds = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SessionToken: "session-token"}

// received is what the fake X-Ray saw.
type received struct {
	method, path string
	header       http.Header
	body         string
	sigErr       error
}

// fakeXRay verifies every signature and records requests.
type fakeXRay struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

func newFakeXRay(t *testing.T) *fakeXRay {
	t.Helper()
	f := &fakeXRay{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, received{r.Method, r.URL.Path, r.Header.Clone(), string(body),
			sigtest.Verify(r, body, creds, "eu-west-1", "xray")})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-RequestId", "rid-1")
		w.Write([]byte(`{"SamplingRuleRecords":[]}`))
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeXRay) last(t *testing.T) received {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("fake X-Ray got no request")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeXRay) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// startProxy serves the proxy on loopback, as the daemon does.
func startProxy(t *testing.T, o Options) string {
	t.Helper()
	if o.Region == "" {
		o.Region = "eu-west-1"
	}
	if o.Credentials == nil {
		o.Credentials = credentials.StaticCredentialsProvider{Value: creds}
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)
	o.Client = client
	p := New(o)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) == 0 || r.TransferEncoding[0] != "chunked" {
			t.Errorf("test client did not send a chunked body (%v)", r.TransferEncoding)
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// send posts like aws-xray-sdk-go's sampling client: chunked body, no signature.
func send(t *testing.T, method, target string, body string, header http.Header) *http.Response {
	t.Helper()
	// io.MultiReader hides the length, so the client sends Transfer-Encoding: chunked.
	req, err := http.NewRequest(method, target, io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func xrayError(t *testing.T, resp *http.Response) (code, msg string) {
	t.Helper()
	var b struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatalf("error body: %v", err)
	}
	if h := resp.Header.Get("X-Amzn-ErrorType"); h != b.Type {
		t.Fatalf("x-amzn-ErrorType %q != __type %q", h, b.Type)
	}
	return b.Type, b.Message
}

func TestProxyForwardsAllowListedOperationsSigned(t *testing.T) {
	xr := newFakeXRay(t)
	envoy := http.Header{
		"X-Forwarded-For":                {"10.0.0.1"},
		"X-Forwarded-Proto":              {"http"},
		"X-Envoy-Expected-Rq-Timeout-Ms": {"15000"},
		"X-Envoy-Attempt-Count":          {"1"},
		"Via":                            {"1.1 envoy"},
		"Forwarded":                      {"for=10.0.0.1"},
		"X-Request-Id":                   {"6c1f0e1e"},
		"Authorization":                  {"AWS4-HMAC-SHA256 Credential=stale"},
		"X-Amz-Date":                     {"20000101T000000Z"},
		"X-Amz-Security-Token":           {"stale"},
		"Proxy-Authorization":            {"Basic eA=="},
		"Content-Type":                   {"application/json"},
	}
	tests := []struct {
		name   string
		path   string
		header http.Header
	}{
		{"sdk sampling rules, chunked and unsigned", "/GetSamplingRules", http.Header{"Content-Type": {"application/json"}}},
		{"sdk sampling targets", "/SamplingTargets", nil},
		{"statistic summaries", "/SamplingStatisticSummaries", nil},
		{"collector segments through envoy", "/TraceSegments", envoy},
		{"collector telemetry", "/TelemetryRecords", envoy},
	}
	url := startProxy(t, Options{Target: mustURL(t, xr.URL+"/prefix/")})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"NextToken":null,"path":"` + tt.path + `"}`
			resp := send(t, http.MethodPost, url+tt.path, body, tt.header)
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(got) != `{"SamplingRuleRecords":[]}` {
				t.Fatalf("response %d %s", resp.StatusCode, got)
			}
			if resp.Header.Get("X-Amzn-RequestId") != "rid-1" {
				t.Error("response header not passed back")
			}
			r := xr.last(t)
			if r.sigErr != nil {
				t.Fatalf("signature: %v", r.sigErr)
			}
			if r.method != http.MethodPost || r.path != "/prefix"+tt.path || r.body != body {
				t.Fatalf("forwarded %s %s %q", r.method, r.path, r.body)
			}
			if r.header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", r.header.Get("Content-Type"))
			}
			if r.header.Get("X-Amz-Security-Token") != "session-token" {
				t.Errorf("session token = %q", r.header.Get("X-Amz-Security-Token"))
			}
			for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Envoy-Expected-Rq-Timeout-Ms",
				"X-Envoy-Attempt-Count", "Via", "Forwarded", "X-Request-Id", "Proxy-Authorization", "Transfer-Encoding"} {
				if v := r.header.Get(h); v != "" {
					t.Errorf("%s forwarded: %q", h, v)
				}
			}
			if strings.Contains(r.header.Get("Authorization"), "stale") || r.header.Get("X-Amz-Date") == "20000101T000000Z" {
				t.Error("client's signature forwarded")
			}
		})
	}
}

func TestProxyRefusesOtherRequests(t *testing.T) {
	xr := newFakeXRay(t)
	url := startProxy(t, Options{Target: mustURL(t, xr.URL)})
	tests := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown path", http.MethodPost, "/anything/else", 404, "UnknownOperationException"},
		{"query-only API not proxied", http.MethodPost, "/TraceSummaries", 404, "UnknownOperationException"},
		{"root", http.MethodGet, "/", 404, "UnknownOperationException"},
		{"GET on an operation", http.MethodGet, "/GetSamplingRules", 405, "MethodNotAllowedException"},
		{"PUT on an operation", http.MethodPut, "/TraceSegments", 405, "MethodNotAllowedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := send(t, tt.method, url+tt.path, "{}", nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			code, msg := xrayError(t, resp)
			if code != tt.code {
				t.Fatalf("code = %q", code)
			}
			if tt.status == 404 && !strings.Contains(msg, "/GetSamplingRules, /SamplingTargets") {
				t.Fatalf("message does not list the operations: %q", msg)
			}
			if tt.status == 405 && resp.Header.Get("Allow") != "POST" {
				t.Fatalf("Allow = %q", resp.Header.Get("Allow"))
			}
		})
	}
	if xr.count() != 0 {
		t.Fatalf("forwarded %d refused requests", xr.count())
	}
}

func TestProxyWithoutCredentialsAnswers503AndForwardsNothing(t *testing.T) {
	xr := newFakeXRay(t)
	var logs bytes.Buffer
	url := startProxy(t, Options{
		Target: mustURL(t, xr.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no valid providers in chain")
		}),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	resp := send(t, http.MethodPost, url+"/GetSamplingRules", "{}", nil)
	if resp.StatusCode != 503 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if _, msg := xrayError(t, resp); !strings.Contains(msg, "credentials") {
		t.Fatalf("message = %q", msg)
	}
	if xr.count() != 0 {
		t.Fatal("forwarded unsigned")
	}
	if !strings.Contains(logs.String(), "no valid providers") {
		t.Fatalf("not logged: %s", logs.String())
	}
}

func TestProxyUpstreamDownAnswers502AndLogs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	var logs syncBuffer
	url := startProxy(t, Options{Target: mustURL(t, dead), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	resp := send(t, http.MethodPost, url+"/SamplingTargets", "{}", nil)
	if resp.StatusCode != 502 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if code, _ := xrayError(t, resp); code != "BadGateway" {
		t.Fatalf("code = %q", code)
	}
	if !strings.Contains(logs.String(), "Proxy cannot reach X-Ray") {
		t.Fatalf("not logged: %s", logs.String())
	}
}

func TestProxyUpstreamTimeoutAnswers504(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // the server notices the client leaving only once the body is consumed
		<-r.Context().Done()
	}))
	defer slow.Close()
	url := startProxy(t, Options{Target: mustURL(t, slow.URL), Timeout: 100 * time.Millisecond})
	start := time.Now()
	resp := send(t, http.MethodPost, url+"/GetSamplingRules", "{}", nil)
	if resp.StatusCode != 504 || time.Since(start) > 2*time.Second {
		t.Fatalf("status = %d after %v", resp.StatusCode, time.Since(start))
	}
}

func TestProxyBodyLimit(t *testing.T) {
	xr := newFakeXRay(t)
	url := startProxy(t, Options{Target: mustURL(t, xr.URL), MaxBodyBytes: 16})
	resp := send(t, http.MethodPost, url+"/TraceSegments", strings.Repeat("x", 17), nil)
	if resp.StatusCode != 413 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if xr.count() != 0 {
		t.Fatal("oversized body forwarded")
	}
	resp = send(t, http.MethodPost, url+"/TraceSegments", strings.Repeat("x", 16), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status at the limit = %d", resp.StatusCode)
	}
}

func TestProxyPassesErrorsThrough(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-ErrorType", "ThrottledException")
		w.WriteHeader(429)
		w.Write([]byte(`{"message":"Rate exceeded"}`))
	}))
	defer up.Close()
	url := startProxy(t, Options{Target: mustURL(t, up.URL)})
	resp := send(t, http.MethodPost, url+"/SamplingTargets", "{}", nil)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 429 || resp.Header.Get("X-Amzn-ErrorType") != "ThrottledException" || string(b) != `{"message":"Rate exceeded"}` {
		t.Fatalf("got %d %v %s", resp.StatusCode, resp.Header, b)
	}
}

func TestCopyResponseHeadersDropsHopByHop(t *testing.T) {
	src := http.Header{
		"Connection":         {"keep-alive, X-Hop"},
		"X-Hop":              {"1"},
		"Keep-Alive":         {"timeout=5"},
		"Transfer-Encoding":  {"chunked"},
		"Upgrade":            {"h2c"},
		"Proxy-Authenticate": {"Basic"},
		"Trailer":            {"X-T"},
		"Content-Type":       {"application/json"},
		"X-Amzn-Requestid":   {"rid"},
		"X-Amzn-Errortype":   {"ThrottledException"},
	}
	dst := http.Header{}
	copyResponseHeaders(dst, src)
	want := http.Header{"Content-Type": {"application/json"}, "X-Amzn-Requestid": {"rid"}, "X-Amzn-Errortype": {"ThrottledException"}}
	if len(dst) != len(want) {
		t.Fatalf("got %v, want %v", dst, want)
	}
	for k, v := range want {
		if dst.Get(k) != v[0] {
			t.Fatalf("%s = %q", k, dst.Get(k))
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger written from server goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
