//go:build linux && (amd64 || arm64)

package udp

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Linux reader keeps the socket out of Go's network poller. With the poller, every
// arriving datagram wakes a thread even while the reader sleeps, and at tens of thousands
// of datagrams a second those wake-ups cost more than everything else together
// (../shared/PERF-NOTES.md). Instead, while traffic flows the reader sleeps a short tick,
// then drains the socket with recvmmsg, 64 datagrams a call, in non-blocking raw syscalls;
// after IdleAfter without traffic it blocks in poll(2) on the socket and an eventfd that
// Close writes to, so an idle daemon costs nothing.

const batch = 64

// mmsghdr mirrors struct mmsghdr on 64-bit Linux.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

type rawSocket struct {
	fd     int
	wakeFd int
	laddr  net.Addr
	tick   time.Duration
	idle   time.Duration

	mem   []byte // mapped receive buffers, batch × MaxDatagram
	bufs  [batch][]byte
	iovs  [batch]unix.Iovec
	msgs  [batch]mmsghdr
	views [][]byte

	closed    atomic.Bool
	closeOnce sync.Once
	mu        sync.Mutex // guards fds against close while serving
	serving   sync.WaitGroup
}

func openSocket(addr *net.UDPAddr, o Options) (socket, error) {
	family := unix.AF_INET
	ip4 := addr.IP.To4()
	if addr.IP != nil && ip4 == nil {
		family = unix.AF_INET6
	}
	if addr.IP == nil || addr.IP.IsUnspecified() && ip4 == nil {
		family = unix.AF_INET6 // ":2000" listens on both families, as net.ListenUDP does
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil && family == unix.AF_INET6 && addr.IP == nil {
		family = unix.AF_INET
		fd, err = unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	}
	if err != nil {
		return nil, err
	}
	if o.ReceiveBuffer > 0 {
		// SO_RCVBUFFORCE passes net.core.rmem_max when we have CAP_NET_ADMIN.
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, o.ReceiveBuffer) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, o.ReceiveBuffer)
		}
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		s4 := &unix.SockaddrInet4{Port: addr.Port}
		if ip4 != nil {
			copy(s4.Addr[:], ip4)
		}
		sa = s4
	} else {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
		s6 := &unix.SockaddrInet6{Port: addr.Port}
		if addr.IP != nil {
			copy(s6.Addr[:], addr.IP.To16())
		}
		sa = s6
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, err
	}
	wakeFd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	r := &rawSocket{fd: fd, wakeFd: wakeFd, tick: o.Tick, idle: o.IdleAfter}
	if bound, err := unix.Getsockname(fd); err == nil {
		r.laddr = toUDPAddr(bound)
	}
	// The receive buffers live outside the Go heap: 4 MiB of which a stream of small
	// datagrams touches only the first page of each slot. On the heap they would count as
	// live data and let the garbage collector double the heap around them.
	mem, err := unix.Mmap(-1, 0, batch*MaxDatagram, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		unix.Close(fd)
		unix.Close(wakeFd)
		return nil, fmt.Errorf("mapping receive buffers: %w", err)
	}
	r.mem = mem
	for i := range r.bufs {
		r.bufs[i] = mem[i*MaxDatagram : (i+1)*MaxDatagram : (i+1)*MaxDatagram]
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(MaxDatagram)
		r.msgs[i].hdr.Iov = &r.iovs[i]
		r.msgs[i].hdr.SetIovlen(1)
	}
	r.views = make([][]byte, 0, batch)
	return r, nil
}

func toUDPAddr(sa unix.Sockaddr) *net.UDPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.UDPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.UDPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	}
	return nil
}

// recvmmsg reads up to batch datagrams without blocking. RawSyscall: the call never
// blocks, and skipping the scheduler's syscall bookkeeping avoids waking sysmon.
func (r *rawSocket) recvmmsg() (int, unix.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&r.msgs[0])), batch, unix.MSG_DONTWAIT, 0, 0)
	return int(n), e
}

func (r *rawSocket) serve(fn func([][]byte), flush func()) error {
	r.mu.Lock()
	if r.closed.Load() {
		r.mu.Unlock()
		return net.ErrClosed
	}
	r.serving.Add(1)
	r.mu.Unlock()
	defer r.serving.Done()

	lastTraffic := time.Time{}
	for {
		if r.closed.Load() {
			return net.ErrClosed
		}
		n, errno := r.recvmmsg()
		if errno == 0 && n > 0 {
			views := r.views[:0]
			for i := 0; i < n; i++ {
				views = append(views, r.bufs[i][:r.msgs[i].n])
			}
			fn(views)
			if n == batch {
				continue // more may be waiting
			}
			flush()
			lastTraffic = time.Now()
			sleep(r.tick)
			continue
		}
		flush()
		switch errno {
		case unix.EAGAIN, 0:
		case unix.EINTR:
			continue
		default:
			if r.closed.Load() {
				return net.ErrClosed
			}
			// Transient errors (ENOMEM, ICMP-induced ECONNREFUSED): back off and retry.
			sleep(10 * time.Millisecond)
			continue
		}
		if time.Since(lastTraffic) < r.idle {
			sleep(r.tick)
			continue
		}
		r.waitReadable()
	}
}

// sleep pauses the reader between bursts with a raw nanosleep: no runtime timer, no
// network poller, and no syscall bookkeeping. Through the normal syscall path the
// runtime's monitor thread sees a P stuck in a syscall every tick, takes it back, and
// then polls every 20 µs; that alone was half of the daemon's context switches. The
// cost is that this goroutine keeps its P while it sleeps, so the tick stays well
// below the 10 ms after which the runtime would preempt it.
func sleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// waitReadable blocks until the socket has data or Close is called. The 1 s timeout only
// bounds how long a missed wake-up could last.
func (r *rawSocket) waitReadable() {
	fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}, {Fd: int32(r.wakeFd), Events: unix.POLLIN}}
	_, _ = unix.Poll(fds, 1000)
}

func (r *rawSocket) close() error {
	var err error
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed.Store(true)
		r.mu.Unlock()
		var one [8]byte
		one[0] = 1
		_, _ = unix.Write(r.wakeFd, one[:])
		r.serving.Wait()
		err = unix.Close(r.fd)
		unix.Close(r.wakeFd)
		for i := range r.bufs {
			r.bufs[i] = nil
		}
		clear(r.views[:cap(r.views)])
		_ = unix.Munmap(r.mem)
		r.mem = nil
	})
	return err
}

func (r *rawSocket) localAddr() net.Addr { return r.laddr }

func (r *rawSocket) rcvbuf() int {
	v, err := unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return 0
	}
	return v / 2 // the kernel reports twice what it accounts as payload
}
