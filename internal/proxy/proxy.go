// Package proxy is the relay-mode TCP side: it accepts the X-Ray calls SDKs and agents
// send to the daemon, unsigned, and forwards them to X-Ray re-signed with the daemon's
// credentials.
//
// Unlike upstream it forwards only POSTs to X-Ray operations a daemon client has reason
// to send (sampling calls from SDKs; PutTraceSegments and PutTelemetryRecords from agents
// such as the OpenTelemetry Collector's awsxray exporter pointed at the daemon). Each
// forwarded request is built afresh: only the body, Content-Type and Content-Encoding come
// from the client, so headers added by sidecars (Envoy's x-envoy-*, x-forwarded-*, via,
// x-request-id) and stale signatures can never reach X-Ray or break the new signature.
// It never forwards unsigned: without credentials the client gets a 503.
package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Defaults for Options.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultTimeout      = 10 * time.Second
)

// Operations are the paths the proxy forwards (POST only).
var Operations = []string{"/GetSamplingRules", "/SamplingTargets", "/SamplingStatisticSummaries", "/TraceSegments", "/TelemetryRecords"}

// Options configure a Proxy.
type Options struct {
	Target       *url.URL // X-Ray endpoint; any path in it is kept as a prefix
	Region       string   // signing region
	Credentials  aws.CredentialsProvider
	Client       *http.Client // nil: a plain client
	Logger       *slog.Logger
	MaxBodyBytes int64         // request body limit; 0 means DefaultMaxBodyBytes
	Timeout      time.Duration // per forwarded request; 0 means DefaultTimeout
	UserAgent    string        // sent upstream; empty means "xrayd-proxy"
}

// Proxy is an http.Handler relaying allow-listed X-Ray operations.
type Proxy struct {
	o       Options
	signer  *v4.Signer
	allowed map[string]bool
	now     func() time.Time
}

// New returns a Proxy. It does no I/O.
func New(o Options) *Proxy {
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = "xrayd-proxy"
	}
	p := &Proxy{o: o, signer: v4.NewSigner(), allowed: map[string]bool{}, now: time.Now}
	for _, op := range Operations {
		p.allowed[op] = true
	}
	return p
}

// ServeHTTP checks, re-signs and forwards one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.allowed[r.URL.Path] {
		writeError(w, http.StatusNotFound, "UnknownOperationException",
			"xrayd proxy forwards only X-Ray operations: "+strings.Join(Operations, ", "))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowedException",
			fmt.Sprintf("%s %s: X-Ray operations take POST", r.Method, r.URL.Path))
		return
	}
	if p.o.Target == nil {
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "xrayd proxy has no X-Ray endpoint configured")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.o.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException",
				fmt.Sprintf("request body exceeds the proxy limit of %d bytes", p.o.MaxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "SerializationException", "reading request body: "+err.Error())
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), p.o.Timeout)
	defer cancel()
	out, err := p.outgoing(ctx, r, body)
	if err != nil {
		p.o.Logger.Error("Proxy cannot sign request, not forwarding it", "path", r.URL.Path, "error", err)
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable",
			"xrayd has no AWS credentials to sign the request; set credentials for the daemon (see its start-up warning)")
		return
	}
	resp, err := p.o.Client.Do(out)
	if err != nil {
		if r.Context().Err() != nil {
			p.o.Logger.Debug("Proxy client went away", "path", r.URL.Path, "error", err)
			return
		}
		status, code := http.StatusBadGateway, "BadGateway"
		if errors.Is(err, context.DeadlineExceeded) {
			status, code = http.StatusGatewayTimeout, "GatewayTimeout"
		}
		p.o.Logger.Error("Proxy cannot reach X-Ray", "path", r.URL.Path, "endpoint", p.o.Target.Host, "error", err)
		writeError(w, status, code, fmt.Sprintf("xrayd proxy could not reach X-Ray at %s: %v", p.o.Target.Host, err))
		return
	}
	defer resp.Body.Close()
	copyResponseHeaders(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		p.o.Logger.Warn("Proxy response copy failed", "path", r.URL.Path, "error", err)
	}
}

// outgoing builds and signs the request sent to X-Ray.
func (p *Proxy) outgoing(ctx context.Context, in *http.Request, body []byte) (*http.Request, error) {
	creds, err := p.o.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("retrieving credentials: %w", err)
	}
	u := *p.o.Target
	u.Path = strings.TrimSuffix(u.Path, "/") + in.URL.Path
	u.RawPath, u.RawQuery, u.Fragment = "", in.URL.RawQuery, ""
	out, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	ct := in.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	out.Header.Set("Content-Type", ct)
	if ce := in.Header.Get("Content-Encoding"); ce != "" {
		out.Header.Set("Content-Encoding", ce)
	}
	out.Header.Set("User-Agent", p.o.UserAgent)
	sum := sha256.Sum256(body)
	if err := p.signer.SignHTTP(ctx, creds, out, hex.EncodeToString(sum[:]), "xray", p.o.Region, p.now()); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return out, nil
}

// hopByHop are never copied back to the client (RFC 9110 §7.6.1 plus the usual extras).
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

func copyResponseHeaders(dst, src http.Header) {
	named := map[string]bool{}
	for _, v := range src.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			named[http.CanonicalHeaderKey(strings.TrimSpace(f))] = true
		}
	}
	for k, vs := range src {
		if hopByHop[k] || named[k] {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
}

// writeError answers in X-Ray's error shape (xray-api.md §1.1).
func writeError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{code, msg})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", code)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
