package awsconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/xrayd/xrayd/internal/awsconf/sigtest"
	"github.com/xrayd/xrayd/internal/counters"
)

var testCreds = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SessionToken: "session"}

func testAWS(t *testing.T, endpoint string) *AWS {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	api, _, err := newHTTPClients(Options{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.CloseIdleConnections)
	return &AWS{
		Region:      "eu-central-1",
		Credentials: credentials.StaticCredentialsProvider{Value: testCreds},
		HTTPClient:  api,
		APIEndpoint: u,
		UserAgent:   userAgent("1.2.3", "AWS_ECS_EC2"),
		signer:      v4.NewSigner(),
		now:         func() time.Time { return time.Unix(1795619839, 136000007) },
	}
}

func TestSignedPostSignsAndStamps(t *testing.T) {
	type seen struct {
		path, ct, ts, ua string
		auth             string
		verr             error
		body             string
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("X-Amzn-Xray-Timestamp"),
			r.Header.Get("User-Agent"), r.Header.Get("Authorization"), sigtest.Verify(r, body, testCreds, "eu-central-1", "xray"), string(body)}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	a := testAWS(t, srv.URL+"/base")
	fixed := time.Unix(1795619839, 136000007)
	if got := xrayTimestamp(fixed); got != "1795619839.136000007" {
		t.Fatalf("xrayTimestamp = %s", got)
	}
	out, err := a.Call(context.Background(), "/TelemetryRecords", []byte(`{"TelemetryRecords":[]}`))
	if err != nil || string(out) != "{}" {
		t.Fatalf("Call = %q, %v", out, err)
	}
	s := <-got
	if s.verr != nil {
		t.Fatalf("signature: %v", s.verr)
	}
	if s.path != "/base/TelemetryRecords" || s.ct != "application/json" || s.body != `{"TelemetryRecords":[]}` {
		t.Fatalf("request = %+v", s)
	}
	if !strings.Contains(s.auth, "x-amzn-xray-timestamp") {
		t.Fatalf("timestamp header not signed: %s", s.auth)
	}
	if !regexp.MustCompile(`^\d{10}\.\d{9}$`).MatchString(s.ts) {
		t.Fatalf("X-Amzn-Xray-Timestamp = %q", s.ts)
	}
	if !regexp.MustCompile(`^aws-sdk-go-v2/\S+ .* xray-agent/xray-daemon/1\.2\.3 exec-env/AWS_ECS_EC2 OS/\w+-\w+$`).MatchString(s.ua) {
		t.Fatalf("User-Agent = %q", s.ua)
	}
}

func TestUserAgentDefaults(t *testing.T) {
	if ua := userAgent("", ""); !strings.Contains(ua, "xray-agent/xray-daemon/unknown exec-env/UNKNOWN OS/") {
		t.Fatalf("ua = %q", ua)
	}
}

func TestCallReturnsAPIError(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   string
		body     string
		wantCode string
		wantMsg  string
		class    counters.ErrorClass
	}{
		{"header code", 429, "ThrottledException:http://internal.amazon.com/", `{"message":"slow down"}`, "ThrottledException", "slow down", counters.ErrHTTP4XX},
		{"body __type with namespace", 400, "", `{"__type":"com.amazon#InvalidRequestException","Message":"bad"}`, "InvalidRequestException", "bad", counters.ErrHTTP4XX},
		{"body code", 403, "", `{"code":"AccessDeniedException","message":"no"}`, "AccessDeniedException", "no", counters.ErrHTTP4XX},
		{"5xx without body", 503, "", ``, "", "", counters.ErrHTTP5XX},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("X-Amzn-ErrorType", tt.header)
				}
				w.Header().Set("X-Amzn-RequestId", "req-1")
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			_, err := testAWS(t, srv.URL).Call(context.Background(), "/TraceSegments", []byte(`{}`))
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v", err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Code != tt.wantCode || apiErr.Message != tt.wantMsg || apiErr.RequestID != "req-1" {
				t.Fatalf("apiErr = %+v", apiErr)
			}
			if got := ErrorClass(err); got != tt.class {
				t.Fatalf("class = %v, want %v", got, tt.class)
			}
			if tt.status == 429 && !apiErr.Throttled() {
				t.Fatal("429 not throttled")
			}
		})
	}
}

func TestSignedPostWithoutCredentialsSendsNothing(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	a := testAWS(t, srv.URL)
	a.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no providers")
	})
	_, err := a.SignedPost(context.Background(), "/TraceSegments", nil)
	if !errors.Is(err, ErrCredentials) || hits != 0 {
		t.Fatalf("err = %v, hits = %d", err, hits)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestErrorClass(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want counters.ErrorClass
	}{
		{"deadline", fmt.Errorf("post: %w", context.DeadlineExceeded), counters.ErrTimeout},
		{"net timeout", &url.Error{Op: "Post", URL: "u", Err: timeoutErr{}}, counters.ErrTimeout},
		{"refused", &url.Error{Op: "Post", URL: "u", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, counters.ErrConnectionRefused},
		{"unknown host", &url.Error{Op: "Post", URL: "u", Err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}}}, counters.ErrUnknownHost},
		{"500", &APIError{StatusCode: 500}, counters.ErrHTTP5XX},
		{"other", errors.New("boom"), counters.ErrOther},
	}
	for _, tt := range tests {
		if got := ErrorClass(tt.err); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestErrorClassOnRealRefusedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = testAWS(t, "http://"+addr).Call(context.Background(), "/TraceSegments", []byte(`{}`))
	if got := ErrorClass(err); got != counters.ErrConnectionRefused {
		t.Fatalf("class = %v for %v", got, err)
	}
}
