// Package fakexray is an in-process X-Ray endpoint for tests and benchmarks. It verifies
// every request's SigV4 signature (by re-signing the request with the SDK signer and the
// shared secret), records the documents it accepts, and can misbehave on demand: answer
// 5xx or throttle a fraction of calls, be down, be slow, or reset connections.
package fakexray

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Credentials the fake accepts.
const (
	AccessKeyID     = "AKIDFAKEXRAY"
	SecretAccessKey = "fake-secret-for-tests"
)

// Faults make the fake misbehave; change them with Server.SetFaults.
type Faults struct {
	FailRate     float64       // fraction of calls answered 500
	ThrottleRate float64       // fraction of calls answered 429 ThrottledException
	ResetRate    float64       // fraction of calls whose connection is reset without an answer
	Down         bool          // every call answered 503
	Delay        time.Duration // every answer waits this long
	Unprocessed  func(doc string) (code string, ok bool)
}

// Server is a fake X-Ray endpoint.
type Server struct {
	*httptest.Server
	Region string

	mu        sync.Mutex
	faults    Faults
	docs      []string
	counts    map[string]int
	telemetry []json.RawMessage
	sampling  int
	other     []string

	Calls       atomic.Int64
	BadSigs     atomic.Int64
	OKCalls     atomic.Int64
	FailedCalls atomic.Int64
	rng         *rand.Rand
	rngMu       sync.Mutex
	// Logf, when set, reports signature problems (e.g. t.Logf).
	Logf func(format string, args ...any)
}

// New starts a fake on a loopback port. Close it with Close.
func New(region string) *Server {
	s := &Server{Region: region, counts: map[string]int{}, rng: rand.New(rand.NewPCG(1, 2))}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// NewTLS starts a fake speaking HTTPS with a test certificate; use its Client().
func NewTLS(region string) *Server {
	s := &Server{Region: region, counts: map[string]int{}, rng: rand.New(rand.NewPCG(1, 2))}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// NewListener makes a fake on an existing listener (benchmarks).
func NewListener(region string, l net.Listener) *Server {
	s := &Server{Region: region, counts: map[string]int{}, rng: rand.New(rand.NewPCG(1, 2))}
	s.Server = &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(s.serve)}}
	s.Server.Start()
	return s
}

// SetFaults replaces the fault settings.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Docs returns every accepted document in arrival order.
func (s *Server) Docs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.docs...)
}

// Count returns how many distinct documents arrived and how many arrivals in total.
func (s *Server) Count() (distinct, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.counts), len(s.docs)
}

// Has reports how many times doc arrived.
func (s *Server) Has(doc string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[doc]
}

// Telemetry returns the PutTelemetryRecords bodies received.
func (s *Server) Telemetry() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.telemetry...)
}

// SamplingCalls returns how many sampling calls arrived (signed).
func (s *Server) SamplingCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sampling
}

func (s *Server) roll() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.Calls.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if err := Verify(r, body, s.Region); err != nil {
		s.BadSigs.Add(1)
		if s.Logf != nil {
			s.Logf("fakexray: %s %s: %v", r.Method, r.URL.Path, err)
		}
		writeErr(w, http.StatusForbidden, "InvalidSignatureException", err.Error())
		return
	}
	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if r.URL.Path == "/TraceSegments" {
		switch p := s.roll(); {
		case f.Down:
			s.FailedCalls.Add(1)
			writeErr(w, http.StatusServiceUnavailable, "ServiceUnavailable", "down")
			return
		case p < f.ResetRate:
			s.FailedCalls.Add(1)
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					if tc, ok := c.(*net.TCPConn); ok {
						tc.SetLinger(0)
					}
					c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case p < f.ResetRate+f.FailRate:
			s.FailedCalls.Add(1)
			writeErr(w, http.StatusInternalServerError, "InternalFailure", "injected failure")
			return
		case p < f.ResetRate+f.FailRate+f.ThrottleRate:
			s.FailedCalls.Add(1)
			writeErr(w, http.StatusTooManyRequests, "ThrottledException", "Rate exceeded")
			return
		}
	}
	switch r.URL.Path {
	case "/TraceSegments":
		var in struct{ TraceSegmentDocuments []string }
		if err := json.Unmarshal(body, &in); err != nil {
			writeErr(w, http.StatusBadRequest, "SerializationException", err.Error())
			return
		}
		type unp struct{ Id, ErrorCode, Message string }
		var out struct{ UnprocessedTraceSegments []unp }
		out.UnprocessedTraceSegments = []unp{}
		s.mu.Lock()
		for _, d := range in.TraceSegmentDocuments {
			if f.Unprocessed != nil {
				if code, bad := f.Unprocessed(d); bad {
					var idDoc struct {
						ID string `json:"id"`
					}
					_ = json.Unmarshal([]byte(d), &idDoc)
					out.UnprocessedTraceSegments = append(out.UnprocessedTraceSegments, unp{idDoc.ID, code, "injected"})
					continue
				}
			}
			s.docs = append(s.docs, d)
			s.counts[d]++
		}
		s.mu.Unlock()
		s.OKCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	case "/TelemetryRecords":
		s.mu.Lock()
		s.telemetry = append(s.telemetry, json.RawMessage(body))
		s.mu.Unlock()
		w.Write([]byte("{}"))
	case "/GetSamplingRules", "/SamplingTargets", "/SamplingStatisticSummaries":
		s.mu.Lock()
		s.sampling++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/GetSamplingRules" {
			io.WriteString(w, `{"SamplingRuleRecords":[{"SamplingRule":{"RuleName":"Default","RuleARN":"arn:aws:xray:us-east-1:000000000000:sampling-rule/Default","ResourceARN":"*","Priority":10000,"FixedRate":1,"ReservoirSize":100,"ServiceName":"*","ServiceType":"*","Host":"*","HTTPMethod":"*","URLPath":"*","Version":1,"Attributes":{}},"CreatedAt":0,"ModifiedAt":1}]}`)
			return
		}
		if r.URL.Path == "/SamplingTargets" {
			io.WriteString(w, `{"SamplingTargetDocuments":[],"LastRuleModification":1,"UnprocessedStatistics":[]}`)
			return
		}
		io.WriteString(w, `{"SamplingStatisticSummaries":[]}`)
	default:
		s.mu.Lock()
		s.other = append(s.other, r.URL.Path)
		s.mu.Unlock()
		writeErr(w, http.StatusNotFound, "UnknownOperationException", "unknown operation "+r.URL.Path)
	}
}

// Verify checks r's SigV4 Authorization header against the fake's secret by signing a
// copy of the request (same signed headers, same time, same payload) with the SDK signer.
func Verify(r *http.Request, body []byte, region string) error {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") {
		return fmt.Errorf("missing or unsupported Authorization header %q", auth)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[0] != AccessKeyID || cred[2] != region || cred[3] != "xray" || cred[4] != "aws4_request" {
		return fmt.Errorf("bad credential scope %q (want %s/<date>/%s/xray/aws4_request)", fields["Credential"], AccessKeyID, region)
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("bad X-Amz-Date: %v", err)
	}
	if d := time.Since(when); d > 15*time.Minute || d < -15*time.Minute {
		return fmt.Errorf("request time %v too skewed", when)
	}
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	clone, _ := http.NewRequestWithContext(context.Background(), r.Method, u.String(), bytes.NewReader(body))
	clone.Host = r.Host
	clone.ContentLength = int64(len(body))
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		switch h {
		case "host", "content-length":
			continue
		}
		for _, v := range r.Header.Values(h) {
			clone.Header.Add(h, v)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	clone.Header.Del("X-Amz-Date")
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), creds, clone, hex.EncodeToString(sum[:]), "xray", region, when); err != nil {
		return err
	}
	want := sigOf(clone.Header.Get("Authorization"))
	if got := fields["Signature"]; got != want {
		return fmt.Errorf("signature mismatch (signed headers %s)", fields["SignedHeaders"])
	}
	return nil
}

func sigOf(auth string) string {
	_, sig, _ := strings.Cut(auth, "Signature=")
	return sig
}
