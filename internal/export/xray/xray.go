// Package xray is the exporter's AWS X-Ray backend: it writes PutTraceSegments request
// bodies by hand (documents escaped straight into a reused buffer), signs them (sign.go
// on the direct path, the AWS SDK's SigV4 signer through net/http), and maps the answer
// onto export.Result.
package xray

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/xrayd/xrayd/internal/awsjson"
	"github.com/xrayd/xrayd/internal/export"
	"github.com/xrayd/xrayd/internal/export/httpc"
	"github.com/xrayd/xrayd/internal/segment"
)

// Options configure a Sender.
type Options struct {
	Endpoint    *url.URL // e.g. https://xray.us-east-1.amazonaws.com; any path is ignored
	Region      string
	Credentials aws.CredentialsProvider
	Client      *http.Client
	UserAgent   string
	// Direct, when true, sends through xrayd's own HTTP/1.1 client instead of Client,
	// using Client's transport for TLS settings and dialing. Set it only when no outbound
	// proxy applies to Endpoint.
	Direct bool
	Now    func() time.Time
}

// Sender implements export.Sender for PutTraceSegments.
type Sender struct {
	o      Options
	url    string
	signer *v4.Signer
	bufs   sync.Pool      // *reqBuf
	direct *httpc.Client  // own HTTP/1.1 client, when no proxy applies
	writer *requestWriter // signs and writes requests for direct
}

// reqBuf holds one request's headers and body between calls.
type reqBuf struct{ hdr, body []byte }

// New makes a Sender.
func New(o Options) *Sender {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	u := *o.Endpoint
	u.Path, u.RawPath, u.RawQuery = "/TraceSegments", "", ""
	s := &Sender{o: o, url: u.String(), signer: v4.NewSigner(func(so *v4.SignerOptions) { so.DisableURIPathEscaping = true })}
	if o.Direct {
		tr, _ := o.Client.Transport.(*http.Transport)
		var tlsBase *tls.Config
		var dial httpc.DialFunc
		if tr != nil {
			tlsBase = tr.TLSClientConfig
			dial = tr.DialContext
		}
		s.direct = httpc.New(&u, tlsBase, dial)
		s.writer = newRequestWriter(&u, o.Region, o.UserAgent)
	}
	return s
}

// Close releases kept-alive connections.
func (s *Sender) Close() {
	if s.direct != nil {
		s.direct.CloseIdle()
	}
}

// Name implements export.Sender.
func (s *Sender) Name() string { return "xray" }

// AppendBody appends a PutTraceSegments request body holding docs to dst.
func AppendBody(dst []byte, docs [][]byte) []byte {
	dst = append(dst, `{"TraceSegmentDocuments":[`...)
	for i, d := range docs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = segment.AppendJSONString(dst, d)
	}
	return append(dst, "]}"...)
}

func (s *Sender) getBuf() *reqBuf {
	b, _ := s.bufs.Get().(*reqBuf)
	if b == nil {
		b = &reqBuf{body: make([]byte, 0, 64<<10)}
	}
	return b
}

func (s *Sender) putBuf(b *reqBuf) {
	b.hdr, b.body = b.hdr[:0], b.body[:0]
	s.bufs.Put(b)
}

// Send implements export.Sender.
func (s *Sender) Send(ctx context.Context, docs [][]byte) (export.Result, error) {
	if s.direct != nil {
		res, errs := s.SendMany(ctx, [][][]byte{docs})
		return res[0], errs[0]
	}
	b := s.getBuf()
	defer s.putBuf(b)
	b.body = AppendBody(b.body, docs)
	req, err := s.signedRequest(ctx, b.body)
	if err != nil {
		return export.Result{}, err
	}
	status, header, rb, err := s.viaNetHTTP(req)
	resp, err := s.outcome(ctx, status, header, rb, err)
	if err != nil {
		return export.Result{}, err
	}
	return parseResponse(resp, docs)
}

// credentials returns the current credentials, or a retryable error.
func (s *Sender) credentials(ctx context.Context) (aws.Credentials, error) {
	if s.o.Credentials == nil {
		return aws.Credentials{}, &export.CallError{Retryable: true, Err: fmt.Errorf("no AWS credentials provider configured")}
	}
	creds, err := s.o.Credentials.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, &export.CallError{Retryable: true, Err: fmt.Errorf("retrieving AWS credentials: %w", err)}
	}
	return creds, nil
}

// directRequest appends the signed request line and headers for body to dst.
func (s *Sender) directRequest(ctx context.Context, dst, body []byte) ([]byte, error) {
	creds, err := s.credentials(ctx)
	if err != nil {
		return dst, err
	}
	return s.writer.appendRequest(dst, creds, s.o.Now(), body), nil
}

// signedRequest builds and signs a PutTraceSegments request for body.
func (s *Sender) signedRequest(ctx context.Context, body []byte) (*http.Request, error) {
	sum := sha256.Sum256(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, &export.CallError{Retryable: false, Err: fmt.Errorf("building request: %w", err)}
	}
	now := s.o.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amzn-Xray-Timestamp", strconv.FormatFloat(float64(now.UnixNano())/1e9, 'f', 9, 64))
	if s.o.UserAgent != "" {
		req.Header.Set("User-Agent", s.o.UserAgent)
	}
	creds, err := s.credentials(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "xray", s.o.Region, now); err != nil {
		return nil, &export.CallError{Retryable: true, Err: fmt.Errorf("signing request: %w", err)}
	}
	return req, nil
}

// outcome turns a round trip's result into the response body or a classified error.
func (s *Sender) outcome(ctx context.Context, status int, header http.Header, rb []byte, err error) ([]byte, error) {
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: %v", ctx.Err(), err)
		}
		return nil, export.ClassifyTransportError(err)
	}
	if status/100 != 2 {
		code, msg := ErrorType(header, rb)
		return nil, export.ClassifyResponse(status, code, header, fmt.Errorf("%s", msg))
	}
	return rb, nil
}

// SendMany implements export.MultiSender: with the direct client it writes every
// request before reading any answer, so the group costs one wait instead of one each.
// Each request's bytes are built into one reused buffer and dropped once written: the
// memory of a group in flight is its documents (counted in the budget), not their
// request bodies as well. A request that met a stale kept-alive connection is built again.
func (s *Sender) SendMany(ctx context.Context, batches [][][]byte) ([]export.Result, []error) {
	results := make([]export.Result, len(batches))
	errs := make([]error, len(batches))
	if s.direct == nil {
		for i, docs := range batches {
			results[i], errs[i] = s.Send(ctx, docs)
		}
		return results, errs
	}
	b := s.getBuf()
	defer s.putBuf(b)
	flights := make([]*httpc.Flight, len(batches))
	for i, docs := range batches {
		b.body = AppendBody(b.body[:0], docs)
		var err error
		if b.hdr, err = s.directRequest(ctx, b.hdr[:0], b.body); err != nil {
			errs[i] = err
			continue
		}
		flights[i] = s.direct.Begin(ctx, b.hdr, b.body)
	}
	for i, f := range flights {
		if f == nil {
			continue
		}
		a, stale, err := s.direct.End(ctx, f)
		if stale {
			b.body = AppendBody(b.body[:0], batches[i])
			if b.hdr, err = s.directRequest(ctx, b.hdr[:0], b.body); err == nil {
				a, err = s.direct.Do(ctx, b.hdr, b.body)
			}
		}
		var body []byte
		body, errs[i] = s.outcome(ctx, a.Status, a.Header, a.Body, err)
		if errs[i] == nil {
			results[i], errs[i] = parseResponse(body, batches[i])
		}
	}
	return results, errs
}

func (s *Sender) viaNetHTTP(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, nil, nil, fmt.Errorf("reading response: %w", err)
	}
	return resp.StatusCode, resp.Header, rb, nil
}

// ErrorType extracts an AWS JSON-protocol error type and message from a response; with
// no message in the body, the body itself (trimmed, at most 200 bytes) is the message.
func ErrorType(h http.Header, body []byte) (code, msg string) {
	code, msg = awsjson.ErrorCode(h, body)
	if msg == "" {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200]
		}
	}
	return code, msg
}

// noneUnprocessed reports the usual answer, {"UnprocessedTraceSegments":[]} (or {}),
// without a JSON decoder: on the hot path that is hundreds of reflective decodes a second.
func noneUnprocessed(body []byte) bool {
	rest := bytes.TrimSpace(body)
	if !bytes.HasPrefix(rest, []byte("{")) || !bytes.HasSuffix(rest, []byte("}")) {
		return false
	}
	rest = bytes.TrimSpace(rest[1 : len(rest)-1])
	if len(rest) == 0 {
		return true
	}
	rest, ok := bytes.CutPrefix(rest, []byte(`"UnprocessedTraceSegments"`))
	if !ok {
		return false
	}
	rest, ok = bytes.CutPrefix(bytes.TrimSpace(rest), []byte(":"))
	if !ok {
		return false
	}
	rest, ok = bytes.CutPrefix(bytes.TrimSpace(rest), []byte("["))
	if !ok {
		return false
	}
	return bytes.Equal(bytes.TrimSpace(rest), []byte("]"))
}

func parseResponse(body []byte, docs [][]byte) (export.Result, error) {
	if noneUnprocessed(body) {
		return export.Result{}, nil
	}
	var out struct {
		UnprocessedTraceSegments []struct {
			ID        string `json:"Id"`
			ErrorCode string `json:"ErrorCode"`
			Message   string `json:"Message"`
		}
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			// The call succeeded; a garbled answer must not make us resend everything.
			return export.Result{}, nil
		}
	}
	if len(out.UnprocessedTraceSegments) == 0 {
		return export.Result{}, nil
	}
	// Map ids back to positions; documents without a readable id cannot be matched.
	index := make(map[string][]int, len(docs))
	traceIDs := make([]string, len(docs))
	for i, d := range docs {
		id, tid := segment.IDs(d)
		traceIDs[i] = tid
		index[id] = append(index[id], i)
	}
	var res export.Result
	for _, u := range out.UnprocessedTraceSegments {
		idx := -1
		if l := index[u.ID]; len(l) > 0 {
			idx, index[u.ID] = l[0], l[1:]
		}
		tid := ""
		if idx >= 0 {
			tid = traceIDs[idx]
		}
		res.Unprocessed = append(res.Unprocessed, export.Unprocessed{
			Index: idx, ID: u.ID, TraceID: tid, Code: u.ErrorCode, Message: u.Message,
			Retryable: export.RetryableCode(u.ErrorCode),
		})
	}
	return res, nil
}
