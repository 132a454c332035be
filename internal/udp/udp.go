// Package udp is the daemon's intake: it owns the UDP socket, reads datagrams in batches
// into reused buffers, checks each header, and pushes the accepted documents into the
// queue as pooled copies. It is the hot path: no allocation and no goroutine hand-off per
// datagram, and on Linux no scheduler wake-up per datagram either (see socket_linux.go).
package udp

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/queue"
	"github.com/xrayd/xrayd/internal/segment"
)

// MaxDatagram is the receive buffer per datagram, as upstream's.
const MaxDatagram = 65536

// Options configure a Server.
type Options struct {
	Addr          string // host:port to bind
	ReceiveBuffer int    // SO_RCVBUF to ask for, bytes; 0 keeps the kernel default
	Queue         *queue.Queue
	// Extra queues each receive their own copy of every accepted document (fan-out to
	// several backends).
	Extra    []*queue.Queue
	Pool     *queue.Pool
	Counters *counters.Set
	Logger   *slog.Logger
	// Tick is how long the Linux reader sleeps between bursts while traffic flows; it
	// trades a little latency for far fewer wake-ups. Default 8ms: under the 10 ms after
	// which the runtime preempts a goroutine (the raw sleep keeps its P).
	Tick time.Duration
	// IdleAfter is how long without traffic before the reader blocks instead of ticking.
	IdleAfter time.Duration
	Now       func() time.Time
}

// Server reads datagrams and queues their documents.
type Server struct {
	o    Options
	sock socket
	done chan struct{}

	items    []*queue.Item   // reused per burst
	extra    [][]*queue.Item // per extra queue
	rejectMu sync.Mutex
	rejects  map[error]*rejectLog
}

type rejectLog struct {
	last       time.Time
	suppressed int
}

// socket is the platform's batched reader.
type socket interface {
	// serve reads until the socket is closed, calling fn with each batch of datagrams
	// (the slices are only valid during fn) and flush once the socket has been drained.
	// It returns net.ErrClosed when closed.
	serve(fn func(dgrams [][]byte), flush func()) error
	close() error
	localAddr() net.Addr
	rcvbuf() int
}

// Listen binds the UDP address. Errors name the address.
func Listen(o Options) (*Server, error) {
	if o.Tick <= 0 {
		o.Tick = 8 * time.Millisecond
	}
	if o.IdleAfter <= 0 {
		o.IdleAfter = 100 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Counters == nil {
		o.Counters = new(counters.Set)
	}
	if o.Pool == nil {
		o.Pool = new(queue.Pool)
	}
	addr, err := net.ResolveUDPAddr("udp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("resolving UDP address %q: %w", o.Addr, err)
	}
	sock, err := openSocket(addr, o)
	if err != nil {
		return nil, fmt.Errorf("listening on UDP %s: %w", o.Addr, err)
	}
	s := &Server{o: o, sock: sock, done: make(chan struct{}), rejects: map[error]*rejectLog{}, extra: make([][]*queue.Item, len(o.Extra))}
	if o.ReceiveBuffer > 0 {
		got := sock.rcvbuf()
		if got < o.ReceiveBuffer {
			o.Logger.Warn("UDP receive buffer smaller than requested: bursts may be dropped by the kernel; raise net.core.rmem_max (sysctl) or grant CAP_NET_ADMIN",
				"requested_bytes", o.ReceiveBuffer, "obtained_bytes", got)
		} else {
			o.Logger.Info("UDP receive buffer", "bytes", got)
		}
	}
	return s, nil
}

// LocalAddr is the bound address.
func (s *Server) LocalAddr() net.Addr { return s.sock.localAddr() }

// Serve reads until Close. It returns nil after Close.
func (s *Server) Serve() error {
	defer close(s.done)
	err := s.sock.serve(s.handle, s.flush)
	if err == net.ErrClosed {
		return nil
	}
	return err
}

// Close stops reading and waits for Serve to return if it is running.
func (s *Server) Close() error {
	return s.sock.close()
}

// Done is closed when Serve has returned.
func (s *Server) Done() <-chan struct{} { return s.done }

// handle checks one batch of datagrams and keeps the accepted ones for flush; a big
// burst is pushed in parts so memory stays bounded.
func (s *Server) handle(dgrams [][]byte) {
	now := s.o.Now()
	var received, rejected int64
	for _, d := range dgrams {
		if len(d) == 0 {
			continue
		}
		received++
		body, err := segment.ParseDatagram(d)
		if err != nil {
			rejected++
			s.logReject(err, d, now)
			continue
		}
		it := s.o.Pool.Item(body)
		it.Enqueued = now
		s.items = append(s.items, it)
		for i := range s.extra {
			c := s.o.Pool.Item(body)
			c.Enqueued = now
			s.extra[i] = append(s.extra[i], c)
		}
	}
	if received > 0 {
		s.o.Counters.Received.Add(received)
		s.o.Counters.MarkReceived()
	}
	if rejected > 0 {
		s.o.Counters.Rejected.Add(rejected)
	}
	if len(s.items) >= maxPending {
		s.flush()
	}
}

// maxPending is how many documents a drain cycle collects before pushing them.
const maxPending = 1024

// flush pushes what the last drain collected in one go: one queue operation and one
// chance for the exporter to start every full batch together.
func (s *Server) flush() {
	if len(s.items) == 0 {
		return
	}
	for i, q := range s.o.Extra {
		q.Push(s.extra[i]...)
		clear(s.extra[i])
		s.extra[i] = s.extra[i][:0]
	}
	s.o.Queue.Push(s.items...)
	clear(s.items)
	s.items = s.items[:0]
}

// logReject logs at most one line per reason per 10 s, with the count suppressed since.
func (s *Server) logReject(err error, d []byte, now time.Time) {
	s.rejectMu.Lock()
	rl := s.rejects[err]
	if rl == nil {
		rl = &rejectLog{}
		s.rejects[err] = rl
	}
	if !rl.last.IsZero() && now.Sub(rl.last) < 10*time.Second {
		rl.suppressed++
		s.rejectMu.Unlock()
		return
	}
	suppressed := rl.suppressed
	rl.last, rl.suppressed = now, 0
	s.rejectMu.Unlock()
	s.o.Logger.Warn("Rejected datagram", "reason", err.Error(), "header", string(segment.Header(d, 120)), "bytes", len(d), "similar_rejections_suppressed", suppressed)
}
