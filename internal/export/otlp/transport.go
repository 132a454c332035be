package otlp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
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
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protowire"
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

// compressor gzips request bodies at BestSpeed with reused writers; both transports
// use it.
type compressor struct{ writers sync.Pool } // *gzip.Writer

// appendGzip writes raw, compressed, to the end of buf.
func (c *compressor) appendGzip(buf *bytes.Buffer, raw []byte) {
	zw, _ := c.writers.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(buf, gzip.BestSpeed)
	} else {
		zw.Reset(buf)
	}
	_, _ = zw.Write(raw)
	_ = zw.Close()
	c.writers.Put(zw)
}

// httpTransport is OTLP/HTTP: a gzip-compressed protobuf POSTed to <endpoint>/v1/traces.
type httpTransport struct {
	url     string
	headers map[string]string
	client  *http.Client
	direct  *directClient // when no proxy applies
	bufs    sync.Pool     // *bytes.Buffer
	gzip    compressor
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
	h.gzip.appendGzip(buf, raw)

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
	if strings.Contains(contentType, "json") {
		var r struct {
			PartialSuccess struct {
				RejectedSpans json.Number `json:"rejectedSpans"`
				ErrorMessage  string      `json:"errorMessage"`
			} `json:"partialSuccess"`
		}
		if json.Unmarshal(body, &r) != nil {
			return 0, "", nil
		}
		n, _ := r.PartialSuccess.RejectedSpans.Int64()
		return n, r.PartialSuccess.ErrorMessage, nil
	}
	n, msg := decodePartialSuccess(body)
	return n, msg, nil
}

// decodePartialSuccess reads ExportTraceServiceResponse.partial_success (field 1:
// rejected_spans = 1, error_message = 2) from protobuf; anything unreadable is "none".
func decodePartialSuccess(b []byte) (rejected int64, msg string) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, ""
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			ps, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, ""
			}
			b = b[n:]
			for len(ps) > 0 {
				num, typ, n := protowire.ConsumeTag(ps)
				if n < 0 {
					return rejected, msg
				}
				ps = ps[n:]
				switch {
				case num == 1 && typ == protowire.VarintType:
					v, n := protowire.ConsumeVarint(ps)
					if n < 0 {
						return rejected, msg
					}
					rejected, ps = int64(v), ps[n:]
				case num == 2 && typ == protowire.BytesType:
					v, n := protowire.ConsumeBytes(ps)
					if n < 0 {
						return rejected, msg
					}
					msg, ps = string(v), ps[n:]
				default:
					n := protowire.ConsumeFieldValue(num, typ, ps)
					if n < 0 {
						return rejected, msg
					}
					ps = ps[n:]
				}
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, ""
		}
		b = b[n:]
	}
	return rejected, msg
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

// logPartial reports spans a backend refused inside a successful answer; OTLP says not
// to retry them.
func logPartial(l *slog.Logger, rejected int64, msg string, spans int) {
	if rejected > 0 || msg != "" {
		l.Warn("OTLP backend rejected spans", "rejected", rejected, "spans", spans, "message", msg)
	}
}
