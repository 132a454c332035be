package otlp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/export"
)

// grpcTransport speaks OTLP/gRPC as the unary call it is: one HTTP/2 POST of a
// length-prefixed, gzip-compressed ExportTraceServiceRequest to
// /opentelemetry.proto.collector.trace.v1.TraceService/Export, with the outcome in the
// grpc-status trailer. Doing it over net/http's HTTP/2 keeps google.golang.org/grpc
// out of the daemon: its start-up alone made 9 MB of the binary resident, and sending
// the request bytes the encoder already wrote avoids decoding them into pdata first.
type grpcTransport struct {
	client  *http.Client
	url     string
	headers http.Header
	gzip    compressor
	bufs    sync.Pool // *bytes.Buffer
}

const grpcPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

func newGRPCTransport(o *Options) (*grpcTransport, error) {
	target, plain, err := grpcTarget(o.Endpoint, o.Insecure)
	if err != nil {
		return nil, err
	}
	// net/http's own HTTP/2, with HTTP/1 switched off: gRPC is HTTP/2 only.
	tr := &http.Transport{
		HTTP2:     &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 10 * time.Second},
		Protocols: new(http.Protocols),
	}
	scheme := "https"
	if plain {
		scheme = "http"
		tr.Protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge, as gRPC does without TLS
	} else {
		cfg, err := tlsConfig(o)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg.Clone()
		tr.Protocols.SetHTTP2(true)
	}
	g := &grpcTransport{client: &http.Client{Transport: tr}, url: scheme + "://" + target + grpcPath, headers: http.Header{}}
	for k, v := range o.Headers {
		g.headers.Set(strings.ToLower(k), v)
	}
	return g, nil
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
	if _, _, err := net.SplitHostPort(endpoint); endpoint == "" || strings.Contains(endpoint, "/") || err != nil {
		return "", false, fmt.Errorf("OTLP gRPC endpoint %q: want host:port", endpoint)
	}
	return endpoint, plain, nil
}

func (g *grpcTransport) export(ctx context.Context, raw []byte) (int64, string, error) {
	buf, _ := g.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer g.bufs.Put(buf)
	buf.Reset()
	buf.Write([]byte{1, 0, 0, 0, 0}) // compressed flag + length, filled in below
	g.gzip.appendGzip(buf, raw)
	frame := buf.Bytes()
	binary.BigEndian.PutUint32(frame[1:5], uint32(len(frame)-5))

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(frame))
	if err != nil {
		return 0, "", &export.CallError{Class: counters.ErrOther, Err: err}
	}
	for k, v := range g.headers {
		req.Header[k] = v
	}
	req.Header.Set("content-type", "application/grpc")
	req.Header.Set("te", "trailers")
	req.Header.Set("grpc-encoding", "gzip")
	req.Header.Set("grpc-accept-encoding", "gzip")
	req.Header.Set("user-agent", "xrayd-otlp-grpc")
	if dl, ok := ctx.Deadline(); ok {
		if ms := time.Until(dl).Milliseconds(); ms > 0 {
			req.Header.Set("grpc-timeout", strconv.FormatInt(ms, 10)+"m")
		}
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, "", export.ClassifyTransportError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, "", export.ClassifyTransportError(fmt.Errorf("reading the answer: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return 0, "", classifyGRPC(httpToGRPC(resp.StatusCode), fmt.Sprintf("HTTP %d from a gRPC endpoint", resp.StatusCode), 0)
	}
	// The status is in the trailers, or in the headers of a trailers-only answer.
	st := resp.Trailer.Get("grpc-status")
	tr := resp.Trailer
	if st == "" {
		st, tr = resp.Header.Get("grpc-status"), resp.Header
	}
	code, err := strconv.Atoi(st)
	if err != nil {
		return 0, "", &export.CallError{Class: counters.ErrOther, Retryable: true, Err: fmt.Errorf("gRPC answer without grpc-status")}
	}
	if code != 0 {
		msg, _ := url.PathUnescape(tr.Get("grpc-message"))
		return 0, "", classifyGRPC(code, msg, retryDelay(tr.Get("grpc-status-details-bin")))
	}
	msg, err := grpcMessage(body, resp.Header.Get("grpc-encoding"))
	if err != nil {
		return 0, "", nil // accepted; an unreadable answer only loses partial-success details
	}
	rejected, text := decodePartialSuccess(msg)
	return rejected, text, nil
}

// grpcMessage unwraps the first length-prefixed message of a gRPC body.
func grpcMessage(body []byte, encoding string) ([]byte, error) {
	if len(body) == 0 {
		return nil, nil
	}
	if len(body) < 5 {
		return nil, fmt.Errorf("short gRPC frame")
	}
	n := binary.BigEndian.Uint32(body[1:5])
	if int(n) > len(body)-5 {
		return nil, fmt.Errorf("truncated gRPC frame")
	}
	msg := body[5 : 5+n]
	if body[0] == 1 {
		if encoding != "gzip" {
			return nil, fmt.Errorf("gRPC answer compressed with %q", encoding)
		}
		zr, err := gzip.NewReader(bytes.NewReader(msg))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(io.LimitReader(zr, 4<<20))
	}
	return msg, nil
}

// gRPC status codes used below (google.golang.org/grpc/codes).
const (
	grpcCanceled           = 1
	grpcUnknown            = 2
	grpcInvalidArgument    = 3
	grpcDeadlineExceeded   = 4
	grpcNotFound           = 5
	grpcAlreadyExists      = 6
	grpcPermissionDenied   = 7
	grpcResourceExhausted  = 8
	grpcFailedPrecondition = 9
	grpcAborted            = 10
	grpcOutOfRange         = 11
	grpcUnimplemented      = 12
	grpcInternal           = 13
	grpcUnavailable        = 14
	grpcDataLoss           = 15
	grpcUnauthenticated    = 16
)

var grpcCodeNames = map[int]string{
	grpcCanceled: "Canceled", grpcUnknown: "Unknown", grpcInvalidArgument: "InvalidArgument",
	grpcDeadlineExceeded: "DeadlineExceeded", grpcNotFound: "NotFound", grpcAlreadyExists: "AlreadyExists",
	grpcPermissionDenied: "PermissionDenied", grpcResourceExhausted: "ResourceExhausted",
	grpcFailedPrecondition: "FailedPrecondition", grpcAborted: "Aborted", grpcOutOfRange: "OutOfRange",
	grpcUnimplemented: "Unimplemented", grpcInternal: "Internal", grpcUnavailable: "Unavailable",
	grpcDataLoss: "DataLoss", grpcUnauthenticated: "Unauthenticated",
}

// httpToGRPC maps an HTTP status from a gRPC endpoint (a proxy in the way, usually) the
// way gRPC clients do.
func httpToGRPC(status int) int {
	switch status {
	case http.StatusBadRequest:
		return grpcInternal
	case http.StatusUnauthorized:
		return grpcUnauthenticated
	case http.StatusForbidden:
		return grpcPermissionDenied
	case http.StatusNotFound:
		return grpcUnimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return grpcUnavailable
	default:
		return grpcUnknown
	}
}

// retryDelay reads a RetryInfo detail from grpc-status-details-bin.
func retryDelay(details string) time.Duration {
	if details == "" {
		return 0
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(details, "="))
	if err != nil {
		return 0
	}
	var st rpcstatus.Status
	if proto.Unmarshal(raw, &st) != nil {
		return 0
	}
	for _, a := range st.GetDetails() {
		var ri errdetails.RetryInfo
		if a.MessageIs(&ri) && a.UnmarshalTo(&ri) == nil && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

// classifyGRPC applies the OTLP/gRPC rules: Unavailable, ResourceExhausted (throttling),
// DeadlineExceeded, Aborted, Canceled, OutOfRange and DataLoss are retryable, the rest not.
func classifyGRPC(code int, msg string, delay time.Duration) *export.CallError {
	name := grpcCodeNames[code]
	if name == "" {
		name = "Code(" + strconv.Itoa(code) + ")"
	}
	ce := &export.CallError{Code: name, Class: counters.ErrOther, RetryAfter: delay,
		Err: fmt.Errorf("rpc error: code = %s desc = %s", name, msg)}
	switch code {
	case grpcUnavailable:
		ce.Retryable = true
		switch {
		case strings.Contains(msg, "connection refused"):
			ce.Class = counters.ErrConnectionRefused
		case strings.Contains(msg, "no such host"):
			ce.Class = counters.ErrUnknownHost
		default:
			ce.Class = counters.ErrHTTP5XX
		}
	case grpcResourceExhausted:
		ce.Retryable, ce.Throttled, ce.Class = true, true, counters.ErrHTTP4XX
	case grpcDeadlineExceeded:
		ce.Retryable, ce.Class = true, counters.ErrTimeout
	case grpcAborted, grpcCanceled, grpcOutOfRange, grpcDataLoss:
		ce.Retryable = true
	case grpcInvalidArgument, grpcNotFound, grpcAlreadyExists, grpcPermissionDenied,
		grpcFailedPrecondition, grpcUnauthenticated:
		ce.Class = counters.ErrHTTP4XX
	default:
		ce.Class = counters.ErrHTTP5XX
	}
	return ce
}

func (g *grpcTransport) close() error {
	g.client.CloseIdleConnections()
	return nil
}
