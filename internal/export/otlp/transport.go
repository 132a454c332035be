package otlp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/export"
)

// transport sends one ExportTraceServiceRequest, given in protobuf. It returns the
// backend's partial-success answer (rejected spans and why); errors are *export.CallError.
type transport interface {
	export(ctx context.Context, req []byte) (rejected int64, msg string, err error)
	close() error
}

func tlsConfig(o *Options) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // the user asked for it
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the OTLP CA file %s: %w", o.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the OTLP CA file %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// httpTransport is OTLP/HTTP: a gzip-compressed protobuf POSTed to <endpoint>/v1/traces.
type httpTransport struct {
	url     string
	headers map[string]string
	client  *http.Client
	direct  *directClient // when no proxy applies
	bufs    sync.Pool     // *bytes.Buffer
	gzips   sync.Pool     // *gzip.Writer
}

func newHTTPTransport(o *Options) (*httpTransport, error) {
	u, err := httpURL(o.Endpoint, o.Insecure)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // the exporter runs many calls at once
	if u.Scheme == "https" {
		if tr.TLSClientConfig, err = tlsConfig(o); err != nil {
			return nil, err
		}
	}
	h := &httpTransport{url: u.String(), headers: o.Headers, client: &http.Client{Transport: tr}}
	if proxy, err := tr.Proxy(&http.Request{URL: u}); err == nil && proxy == nil {
		cfg := tr.TLSClientConfig
		if cfg == nil {
			cfg = &tls.Config{}
		}
		h.direct = newDirectClient(u, o.Headers, cfg)
	}
	return h, nil
}

// httpURL resolves the endpoint: a missing scheme means https (http when insecure), and
// /v1/traces is added unless the path already names it.
func httpURL(endpoint string, plain bool) (*url.URL, error) {
	if !strings.Contains(endpoint, "://") {
		if plain {
			endpoint = "http://" + endpoint
		} else {
			endpoint = "https://" + endpoint
		}
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("OTLP endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("OTLP endpoint %q: scheme must be http or https", endpoint)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("OTLP endpoint %q has no host", endpoint)
	}
	if !strings.HasSuffix(u.Path, "/v1/traces") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	return u, nil
}

func (h *httpTransport) export(ctx context.Context, raw []byte) (int64, string, error) {
	buf, _ := h.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	zw, _ := h.gzips.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(buf, gzip.BestSpeed)
	} else {
		zw.Reset(buf)
	}
	_, _ = zw.Write(raw)
	_ = zw.Close()
	h.gzips.Put(zw)

	if h.direct != nil {
		status, header, answer, err := h.direct.post(ctx, buf.Bytes())
		h.bufs.Put(buf)
		if err != nil {
			return 0, "", export.ClassifyTransportError(err)
		}
		return answerOf(status, header, answer)
	}
	// The transport may still be writing the body after Do returns (an early answer), so
	// the buffer goes back to the pool only once the transport has closed the body.
	body := &requestBody{Reader: bytes.NewReader(buf.Bytes())}
	defer func() {
		if body.closed.Load() {
			h.bufs.Put(buf)
		}
	}()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, body)
	if err != nil {
		return 0, "", &export.CallError{Class: counters.ErrOther, Err: fmt.Errorf("building the request: %w", err)}
	}
	hr.ContentLength = int64(buf.Len())
	for k, v := range h.headers {
		hr.Header.Set(k, v)
	}
	hr.Header.Set("Content-Type", "application/x-protobuf")
	hr.Header.Set("Content-Encoding", "gzip")
	resp, err := h.client.Do(hr)
	if err != nil {
		return 0, "", export.ClassifyTransportError(err)
	}
	defer resp.Body.Close()
	answer, err := readBody(resp)
	if err != nil {
		answer = nil
	}
	return answerOf(resp.StatusCode, resp.Header, answer)
}

// answerOf reads an OTLP/HTTP answer: partial success for 2xx, a CallError otherwise.
func answerOf(status int, h http.Header, answer []byte) (int64, string, error) {
	if status/100 == 2 {
		if len(answer) == 0 {
			return 0, "", nil // delivered; an unreadable answer must not cause a resend
		}
		return partialSuccess(h.Get("Content-Type"), answer)
	}
	return 0, "", classifyHTTP(status, h, statusMessage(h.Get("Content-Type"), answer))
}

// requestBody remembers whether the HTTP transport has closed it.
type requestBody struct {
	*bytes.Reader
	closed atomic.Bool
}

func (b *requestBody) Close() error {
	b.closed.Store(true)
	return nil
}

func readBody(resp *http.Response) ([]byte, error) {
	var r io.Reader = io.LimitReader(resp.Body, 1<<20)
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = io.LimitReader(zr, 1<<20)
	}
	return io.ReadAll(r)
}

func partialSuccess(contentType string, body []byte) (int64, string, error) {
	resp := ptraceotlp.NewExportResponse()
	var err error
	if strings.Contains(contentType, "json") {
		err = resp.UnmarshalJSON(body)
	} else {
		err = resp.UnmarshalProto(body)
	}
	if err != nil {
		return 0, "", nil
	}
	ps := resp.PartialSuccess()
	return ps.RejectedSpans(), ps.ErrorMessage(), nil
}

// statusMessage pulls the message out of an OTLP error body (a google.rpc.Status), or
// shows the start of whatever the server sent.
func statusMessage(contentType string, body []byte) string {
	if strings.Contains(contentType, "protobuf") {
		var st rpcstatus.Status
		if proto.Unmarshal(body, &st) == nil && st.GetMessage() != "" {
			return st.GetMessage()
		}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	if msg == "" {
		msg = "no message"
	}
	return msg
}

// classifyHTTP applies the OTLP/HTTP rules: only 429, 502, 503 and 504 are worth retrying;
// Retry-After is honoured in either of its forms.
func classifyHTTP(code int, h http.Header, msg string) *export.CallError {
	ce := export.ClassifyResponse(code, "", h, errors.New(msg))
	switch code {
	case http.StatusTooManyRequests:
		ce.Retryable, ce.Throttled = true, true
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		ce.Retryable = true
	default:
		ce.Retryable = false
	}
	if ra := h.Get("Retry-After"); ra != "" && ce.RetryAfter == 0 {
		if t, err := http.ParseTime(ra); err == nil {
			if d := time.Until(t); d > 0 {
				ce.RetryAfter = d
			}
		}
	}
	return ce
}

func (h *httpTransport) close() error {
	h.client.CloseIdleConnections()
	if h.direct != nil {
		h.direct.closeIdle()
	}
	return nil
}

// grpcTransport is OTLP/gRPC over one long-lived connection, gzip-compressed.
type grpcTransport struct {
	conn   *grpc.ClientConn
	client ptraceotlp.GRPCClient
	md     metadata.MD
}

func newGRPCTransport(o *Options) (*grpcTransport, error) {
	target, plain, err := grpcTarget(o.Endpoint, o.Insecure)
	if err != nil {
		return nil, err
	}
	var creds credentials.TransportCredentials
	if plain {
		creds = insecure.NewCredentials()
	} else {
		cfg, err := tlsConfig(o)
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(cfg)
	}
	// The per-connection compressor keeps gzip at its fastest level without changing the
	// process-wide one that grpc/encoding/gzip registers (default level, several times
	// the CPU). gRPC keeps this option throughout 1.x.
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds),
		grpc.WithCompressor(&grpcGzip{})) //nolint:staticcheck // see above
	if err != nil {
		return nil, fmt.Errorf("OTLP endpoint %q: %w", o.Endpoint, err)
	}
	md := metadata.MD{}
	for k, v := range o.Headers {
		md.Set(strings.ToLower(k), v)
	}
	return &grpcTransport{conn: conn, client: ptraceotlp.NewGRPCClient(conn), md: md}, nil
}

// grpcTarget accepts host:port or an http(s) URL; http:// (or insecure) means plain text.
func grpcTarget(endpoint string, plain bool) (target string, isPlain bool, err error) {
	switch {
	case strings.HasPrefix(endpoint, "http://"):
		endpoint, plain = strings.TrimPrefix(endpoint, "http://"), true
	case strings.HasPrefix(endpoint, "https://"):
		endpoint = strings.TrimPrefix(endpoint, "https://")
	}
	endpoint = strings.TrimSuffix(endpoint, "/")
	if strings.HasPrefix(endpoint, ":") {
		endpoint = "localhost" + endpoint
	}
	if endpoint == "" || strings.Contains(endpoint, "/") {
		return "", false, fmt.Errorf("OTLP gRPC endpoint %q: want host:port", endpoint)
	}
	return endpoint, plain, nil
}

func (g *grpcTransport) export(ctx context.Context, raw []byte) (int64, string, error) {
	// The gRPC client takes pdata: decode the request the encoder wrote.
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(raw); err != nil {
		return 0, "", &export.CallError{Class: counters.ErrOther, Err: fmt.Errorf("decoding the request: %w", err)}
	}
	if len(g.md) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, g.md)
	}
	resp, err := g.client.Export(ctx, req)
	if err != nil {
		return 0, "", classifyGRPC(err)
	}
	ps := resp.PartialSuccess()
	return ps.RejectedSpans(), ps.ErrorMessage(), nil
}

// classifyGRPC applies the OTLP/gRPC rules: Unavailable, ResourceExhausted (throttling),
// DeadlineExceeded, Aborted, Canceled, OutOfRange and DataLoss are retryable, the rest not.
// A RetryInfo detail becomes the retry hint.
func classifyGRPC(err error) *export.CallError {
	st, ok := status.FromError(err)
	if !ok {
		return export.ClassifyTransportError(err)
	}
	ce := &export.CallError{Code: st.Code().String(), Class: counters.ErrOther, Err: err}
	switch st.Code() {
	case codes.Unavailable:
		ce.Retryable = true
		msg := st.Message()
		switch {
		case strings.Contains(msg, "connection refused"):
			ce.Class = counters.ErrConnectionRefused
		case strings.Contains(msg, "no such host"):
			ce.Class = counters.ErrUnknownHost
		default:
			ce.Class = counters.ErrHTTP5XX
		}
	case codes.ResourceExhausted:
		ce.Retryable, ce.Throttled, ce.Class = true, true, counters.ErrHTTP4XX
	case codes.DeadlineExceeded:
		ce.Retryable, ce.Class = true, counters.ErrTimeout
	case codes.Aborted, codes.Canceled, codes.OutOfRange, codes.DataLoss:
		ce.Retryable = true
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.FailedPrecondition, codes.Unauthenticated:
		ce.Class = counters.ErrHTTP4XX
	default:
		ce.Class = counters.ErrHTTP5XX
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			ce.RetryAfter = ri.GetRetryDelay().AsDuration()
		}
	}
	return ce
}

func (g *grpcTransport) close() error { return g.conn.Close() }

// grpcGzip is gRPC's per-connection Compressor doing gzip at BestSpeed; answers are
// decompressed by the "gzip" codec grpc/encoding/gzip registers.
type grpcGzip struct {
	pool sync.Pool // *gzip.Writer
}

func (c *grpcGzip) Do(w io.Writer, p []byte) error {
	zw, _ := c.pool.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
	} else {
		zw.Reset(w)
	}
	defer c.pool.Put(zw)
	if _, err := zw.Write(p); err != nil {
		return err
	}
	return zw.Close()
}

func (c *grpcGzip) Type() string { return grpcgzip.Name }

// logPartial reports spans a backend refused inside a successful answer; OTLP says not
// to retry them.
func logPartial(l *slog.Logger, rejected int64, msg string, spans int) {
	if rejected > 0 || msg != "" {
		l.Warn("OTLP backend rejected spans", "rejected", rejected, "spans", spans, "message", msg)
	}
}
