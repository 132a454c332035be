// Package httpc is the exporters' HTTP/1.1 client for direct connections (no outbound
// proxy). net/http hands every request to a writer goroutine and every answer to a
// reader goroutine; at hundreds of calls a second those hand-offs (thread wake-ups) cost
// more than the upload itself. Here the calling goroutine writes the request, prepared by
// the caller, with one writev and reads the answer on a kept-alive connection. Begin and
// End split a call so that a goroutine can write several requests before it waits for
// the first answer.
package httpc

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"
)

// DialFunc dials a TCP connection.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Client sends requests to one host over kept-alive connections. Safe for concurrent use.
type Client struct {
	addr string
	tls  *tls.Config
	dial DialFunc

	mu   sync.Mutex
	idle []*conn
}

type conn struct {
	c  net.Conn
	br *bufio.Reader
}

const maxIdle = 64

// New makes a client for the endpoint u (http or https). tlsBase (may be nil) supplies
// TLS settings such as roots and verification; dial (may be nil) replaces the default
// dialer.
func New(u *url.URL, tlsBase *tls.Config, dial DialFunc) *Client {
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	c := &Client{addr: addr, dial: dial}
	if c.dial == nil {
		d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
		c.dial = d.DialContext
	}
	if u.Scheme == "https" {
		cfg := &tls.Config{}
		if tlsBase != nil {
			cfg = tlsBase.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"}
		c.tls = cfg
	}
	return c
}

// Do sends a request (hdr: request line and headers through the blank line) with body
// and reads the answer. A kept-alive connection the server had closed is replaced once.
func (c *Client) Do(ctx context.Context, hdr, body []byte) (Answer, error) {
	f := c.Begin(ctx, hdr, body)
	a, stale, err := c.End(ctx, f)
	if stale {
		a, _, err = c.End(ctx, c.begin(ctx, hdr, body, true))
	}
	return a, err
}

// Flight is a request written by Begin whose answer End reads. It keeps no reference to
// the request's bytes.
type Flight struct {
	cn     *conn
	reused bool
	stop   func() bool
	err    error
}

// Begin takes a connection and writes the request.
func (c *Client) Begin(ctx context.Context, hdr, body []byte) *Flight {
	return c.begin(ctx, hdr, body, false)
}

func (c *Client) begin(ctx context.Context, hdr, body []byte, fresh bool) *Flight {
	f := &Flight{}
	if f.err = ctx.Err(); f.err != nil {
		return f // an idle connection would otherwise carry it before the abort lands
	}
	f.cn, f.reused, f.err = c.get(ctx, fresh)
	if f.err != nil {
		return f
	}
	f.stop = f.cn.arm(ctx)
	bufs := net.Buffers{hdr, body}
	_, f.err = bufs.WriteTo(f.cn.c)
	return f
}

// End reads the answer to a request started by Begin and releases its connection.
// stale reports a kept-alive connection the server had already closed: the request got
// no answer and should be sent once more (Do does that). Errors caused by ctx's end
// wrap ctx.Err().
func (c *Client) End(ctx context.Context, f *Flight) (a Answer, stale bool, err error) {
	if f.cn == nil {
		return a, false, ctxErr(ctx, f.err)
	}
	var keep bool
	err = f.err
	if err == nil {
		a, keep, err = readAnswer(f.cn.br)
	}
	if !f.stop() {
		keep = false // the context's abort may still land on the connection
	}
	if err != nil || !keep || f.cn.br.Buffered() > 0 {
		// (Bytes past the answer would be read as the next one's.)
		f.cn.c.Close()
	} else {
		c.put(f.cn)
	}
	stale = err != nil && f.reused && a.Status == 0 && ctx.Err() == nil
	return a, stale, ctxErr(ctx, err)
}

// ctxErr makes an error caused by the context's end say so, for classification.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w: %v", ctx.Err(), err)
	}
	return err
}

// arm applies ctx's deadline to the connection and aborts blocking I/O when ctx ends
// early (the drain deadline); call the returned function when done.
func (cn *conn) arm(ctx context.Context) func() bool {
	if dl, ok := ctx.Deadline(); ok {
		_ = cn.c.SetDeadline(dl)
	} else {
		_ = cn.c.SetDeadline(time.Time{})
	}
	return context.AfterFunc(ctx, func() { _ = cn.c.SetDeadline(time.Unix(1, 0)) })
}

func (c *Client) get(ctx context.Context, fresh bool) (*conn, bool, error) {
	if !fresh {
		c.mu.Lock()
		if n := len(c.idle); n > 0 {
			cn := c.idle[n-1]
			c.idle = c.idle[:n-1]
			c.mu.Unlock()
			return cn, true, nil
		}
		c.mu.Unlock()
	}
	nc, err := c.dial(ctx, "tcp", c.addr)
	if err != nil {
		return nil, false, err
	}
	if c.tls != nil {
		tc := tls.Client(nc, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, false, err
		}
		nc = tc
	}
	return &conn{c: nc, br: bufio.NewReaderSize(nc, 4096)}, false, nil
}

func (c *Client) put(cn *conn) {
	c.mu.Lock()
	if len(c.idle) < maxIdle {
		c.idle = append(c.idle, cn)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	cn.c.Close()
}

// Idle returns how many kept-alive connections wait for reuse.
func (c *Client) Idle() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.idle)
}

// CloseIdle closes the kept-alive connections.
func (c *Client) CloseIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, cn := range idle {
		cn.c.Close()
	}
}
