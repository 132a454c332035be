//go:build !(linux && (amd64 || arm64))

package udp

import (
	"errors"
	"net"
)

// genericSocket reads one datagram per call through the runtime's poller. It serves the
// platforms without the raw recvmmsg reader (macOS, Windows, 32-bit Linux).
type genericSocket struct {
	conn *net.UDPConn
	buf  []byte
}

func openSocket(addr *net.UDPAddr, o Options) (socket, error) {
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return nil, err
	}
	if o.ReceiveBuffer > 0 {
		_ = conn.SetReadBuffer(o.ReceiveBuffer)
	}
	return &genericSocket{conn: conn, buf: make([]byte, MaxDatagram)}, nil
}

func (g *genericSocket) serve(fn func([][]byte), flush func()) error {
	one := make([][]byte, 1)
	for {
		n, _, err := g.conn.ReadFromUDP(g.buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return net.ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// Windows reports ICMP port-unreachable on UDP sockets; keep reading.
			continue
		}
		one[0] = g.buf[:n]
		fn(one)
		flush()
	}
}

func (g *genericSocket) close() error        { return g.conn.Close() }
func (g *genericSocket) localAddr() net.Addr { return g.conn.LocalAddr() }
func (g *genericSocket) rcvbuf() int         { return 0 }
