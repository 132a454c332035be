package xray

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// directClient is a minimal HTTP/1.1 client for the upload hot path. net/http hands every
// request to a writer goroutine and every response to a reader goroutine; at hundreds of
// calls a second those hand-offs (thread wake-ups) cost more than the upload itself. Here
// the calling goroutine writes the request with one writev and reads the answer on a
// kept-alive connection. It is used only for direct connections (no outbound proxy);
// everything else goes through net/http.
type directClient struct {
	addr      string // host:port to dial
	tlsConfig *tls.Config
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)

	mu   sync.Mutex
	idle []*pconn
}

type pconn struct {
	c  net.Conn
	br *bufio.Reader
}

const maxIdle = 64

func newDirectClient(endpointHost, scheme string, tr *http.Transport) *directClient {
	addr := endpointHost
	if _, _, err := net.SplitHostPort(addr); err != nil {
		if scheme == "https" {
			addr = net.JoinHostPort(addr, "443")
		} else {
			addr = net.JoinHostPort(addr, "80")
		}
	}
	d := &directClient{addr: addr}
	if scheme == "https" {
		var cfg *tls.Config
		if tr != nil && tr.TLSClientConfig != nil {
			cfg = tr.TLSClientConfig.Clone()
		} else {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		cfg.NextProtos = []string{"http/1.1"}
		d.tlsConfig = cfg
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	d.dial = dialer.DialContext
	if tr != nil && tr.DialContext != nil {
		d.dial = tr.DialContext
	}
	return d
}

func (d *directClient) get(ctx context.Context) (*pconn, bool, error) {
	d.mu.Lock()
	if n := len(d.idle); n > 0 {
		pc := d.idle[n-1]
		d.idle = d.idle[:n-1]
		d.mu.Unlock()
		return pc, true, nil
	}
	d.mu.Unlock()
	c, err := d.dial(ctx, "tcp", d.addr)
	if err != nil {
		return nil, false, err
	}
	if d.tlsConfig != nil {
		tc := tls.Client(c, d.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, false, err
		}
		c = tc
	}
	return &pconn{c: c, br: bufio.NewReaderSize(c, 4096)}, false, nil
}

func (d *directClient) put(pc *pconn) {
	d.mu.Lock()
	if len(d.idle) < maxIdle {
		d.idle = append(d.idle, pc)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	pc.c.Close()
}

// closeIdle closes kept-alive connections.
func (d *directClient) closeIdle() {
	d.mu.Lock()
	idle := d.idle
	d.idle = nil
	d.mu.Unlock()
	for _, pc := range idle {
		pc.c.Close()
	}
}

// do sends a request (hdr: request line and headers, already signed) with body and
// returns the status, headers and body of the answer.
func (d *directClient) do(ctx context.Context, hdr, body []byte) (int, http.Header, []byte, error) {
	pc, reused, err := d.get(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	status, h, rb, keep, err := d.roundTrip(ctx, pc, hdr, body)
	if err != nil && reused && status == 0 && ctx.Err() == nil {
		// A kept-alive connection the server had closed: try once on a fresh one.
		pc.c.Close()
		if pc, _, err = d.get(ctx); err != nil {
			return 0, nil, nil, err
		}
		status, h, rb, keep, err = d.roundTrip(ctx, pc, hdr, body)
	}
	if err != nil || !keep {
		pc.c.Close()
	} else {
		d.put(pc)
	}
	return status, h, rb, err
}

func (d *directClient) roundTrip(ctx context.Context, pc *pconn, hdr, body []byte) (status int, h http.Header, rb []byte, keep bool, err error) {
	stop := pc.arm(ctx)
	defer stop()
	if err = pc.write(hdr, body); err != nil {
		return 0, nil, nil, false, err
	}
	return pc.read()
}

// arm applies ctx's deadline to the connection and aborts blocking I/O when ctx ends
// early (the drain deadline); call the returned function when done.
func (pc *pconn) arm(ctx context.Context) func() bool {
	if dl, ok := ctx.Deadline(); ok {
		pc.c.SetDeadline(dl)
	} else {
		pc.c.SetDeadline(time.Time{})
	}
	return context.AfterFunc(ctx, func() { pc.c.SetDeadline(time.Unix(1, 0)) })
}

// write sends the request line, headers and body with one writev.
func (pc *pconn) write(hdr, body []byte) error {
	bufs := net.Buffers{hdr, body}
	_, err := bufs.WriteTo(pc.c)
	return err
}

// read reads one answer.
func (pc *pconn) read() (status int, h http.Header, rb []byte, keep bool, err error) {
	return readAnswer(pc.br)
}

// inflight is one request of a group: written, answer not yet read. It keeps no
// reference to the request's bytes, so the caller can reuse them for the next request.
type inflight struct {
	pc     *pconn
	reused bool
	stop   func() bool
	err    error
}

// begin takes a connection and writes the request; the answer is read by end. Writing
// every request of a group before reading any answer lets the group wait once.
func (d *directClient) begin(ctx context.Context, hdr, body []byte) *inflight {
	f := &inflight{}
	f.pc, f.reused, f.err = d.get(ctx)
	if f.err != nil {
		return f
	}
	f.stop = f.pc.arm(ctx)
	f.err = f.pc.write(hdr, body)
	return f
}

// end reads the answer of a request started by begin and returns its connection. stale
// reports a kept-alive connection the server had already closed: the request never got
// an answer and should be sent once more (with do, which dials afresh when it must).
func (d *directClient) end(ctx context.Context, f *inflight) (status int, h http.Header, rb []byte, stale bool, err error) {
	if f.err != nil && f.pc == nil {
		return 0, nil, nil, false, f.err
	}
	var keep bool
	err = f.err
	if err == nil {
		status, h, rb, keep, err = f.pc.read()
	}
	f.stop()
	if err != nil || !keep {
		f.pc.c.Close()
	} else {
		d.put(f.pc)
	}
	stale = err != nil && f.reused && status == 0 && ctx.Err() == nil
	return status, h, rb, stale, err
}
