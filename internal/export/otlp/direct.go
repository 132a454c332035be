package otlp

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// directClient posts to one OTLP/HTTP endpoint over kept-alive HTTP/1.1 connections,
// from the calling goroutine: the request goes out in one writev and the answer is read
// right after. net/http hands each request to a writer and a reader goroutine; those
// wake-ups cost more CPU per call than the translation of a whole batch, which is the
// difference between meeting the X-Ray exporter's CPU per segment and not. It is used
// only when no outbound proxy applies; otherwise net/http does the work.
type directClient struct {
	addr   string // host:port to dial
	prefix []byte // request line and fixed headers
	tls    *tls.Config
	dialer net.Dialer

	mu   sync.Mutex
	idle []*directConn
}

type directConn struct {
	c   net.Conn
	br  *bufio.Reader
	hdr []byte
}

const maxIdleDirect = 64

func newDirectClient(u *url.URL, headers map[string]string, tlsCfg *tls.Config) *directClient {
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	d := &directClient{addr: addr, dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}}
	if u.Scheme == "https" {
		d.tls = tlsCfg.Clone()
		if d.tls.ServerName == "" {
			d.tls.ServerName = u.Hostname()
		}
		d.tls.NextProtos = []string{"http/1.1"}
	}
	p := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	if _, ok := headers["User-Agent"]; !ok {
		p = append(p, "User-Agent: xrayd\r\n"...)
	}
	for k, v := range headers {
		switch k = http.CanonicalHeaderKey(k); k {
		case "Host", "Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding", "Connection":
			continue // framing is this client's
		}
		p = fmt.Appendf(p, "%s: %s\r\n", k, v)
	}
	d.prefix = append(p, "Content-Type: application/x-protobuf\r\nContent-Encoding: gzip\r\nContent-Length: "...)
	return d
}

// validHeaders reports the first header that cannot be written on the wire as is.
func validHeaders(h map[string]string) error {
	for k, v := range h {
		for i := 0; i < len(k); i++ {
			if c := k[i]; c <= ' ' || c >= 0x7f || c == ':' {
				return fmt.Errorf("OTLP Headers: %q is not a valid header name", k)
			}
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c == '\r' || c == '\n' || c == 0 {
				return fmt.Errorf("OTLP Headers: the value of %q holds a line break", k)
			}
		}
	}
	return nil
}

// post sends body and returns the answer's status, headers and (decompressed) body.
func (d *directClient) post(ctx context.Context, body []byte) (int, http.Header, []byte, error) {
	dc, reused, err := d.get(ctx)
	if err != nil {
		return 0, nil, nil, d.ctxErr(ctx, err)
	}
	status, h, answer, keep, err := d.roundTrip(ctx, dc, body)
	if err != nil && reused && status == 0 && ctx.Err() == nil {
		// The server closed the kept-alive connection meanwhile: once more on a new one.
		dc.c.Close()
		if dc, _, err = d.get(ctx); err != nil {
			return 0, nil, nil, d.ctxErr(ctx, err)
		}
		status, h, answer, keep, err = d.roundTrip(ctx, dc, body)
	}
	if err != nil || !keep {
		dc.c.Close()
	} else {
		d.put(dc)
	}
	return status, h, answer, d.ctxErr(ctx, err)
}

// ctxErr makes an error caused by the context's end say so, for classification.
func (d *directClient) ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: %v", ctx.Err(), err)
	}
	return err
}

func (d *directClient) roundTrip(ctx context.Context, dc *directConn, body []byte) (status int, h http.Header, answer []byte, keep bool, err error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = dc.c.SetDeadline(dl)
	} else {
		_ = dc.c.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = dc.c.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			keep = false // the abort may still land on the connection: do not reuse it
		}
	}()
	dc.hdr = append(append(dc.hdr[:0], d.prefix...), strconv.Itoa(len(body))...)
	dc.hdr = append(dc.hdr, "\r\n\r\n"...)
	bufs := net.Buffers{dc.hdr, body}
	if _, err := bufs.WriteTo(dc.c); err != nil {
		return 0, nil, nil, false, err
	}
	resp, err := http.ReadResponse(dc.br, nil)
	if err != nil {
		return 0, nil, nil, false, err
	}
	answer, err = readBody(resp)
	resp.Body.Close() // reads what is left of the answer
	if err != nil {
		return resp.StatusCode, resp.Header, nil, false, nil
	}
	// Bytes past the answer would be read as the next one's: do not reuse then.
	return resp.StatusCode, resp.Header, answer, !resp.Close && dc.br.Buffered() == 0, nil
}

func (d *directClient) get(ctx context.Context) (*directConn, bool, error) {
	d.mu.Lock()
	if n := len(d.idle); n > 0 {
		dc := d.idle[n-1]
		d.idle = d.idle[:n-1]
		d.mu.Unlock()
		return dc, true, nil
	}
	d.mu.Unlock()
	c, err := d.dialer.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, false, err
	}
	if d.tls != nil {
		tc := tls.Client(c, d.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, false, err
		}
		c = tc
	}
	return &directConn{c: c, br: bufio.NewReaderSize(c, 4096)}, false, nil
}

func (d *directClient) put(dc *directConn) {
	d.mu.Lock()
	if len(d.idle) < maxIdleDirect {
		d.idle = append(d.idle, dc)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	dc.c.Close()
}

func (d *directClient) closeIdle() {
	d.mu.Lock()
	idle := d.idle
	d.idle = nil
	d.mu.Unlock()
	for _, dc := range idle {
		dc.c.Close()
	}
}
