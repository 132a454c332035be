package udp

import (
	"fmt"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/queue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T) (*Server, *queue.Queue, *counters.Set) {
	t.Helper()
	var c counters.Set
	pool := new(queue.Pool)
	q := queue.New(1<<30, pool, nil)
	s, err := Listen(Options{Addr: "127.0.0.1:0", ReceiveBuffer: 4 << 20, Queue: q, Pool: pool, Counters: &c})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Close(); <-s.Done() })
	return s, q, &c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServerQueuesValidDatagramsAndCountsRejects(t *testing.T) {
	s, q, c := start(t)
	conn, err := net.Dial("udp", s.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := []string{
		"{\"format\":\"json\",\"version\":1}\n{\"id\":\"a\"}",
		"{\"format\": \"json\", \"version\": 1}\n{\"id\":\"b\"}",
		"no header here",
		"{\"format\":\"json\",\"version\":2}\n{}",
		"{\"format\":\"json\",\"version\":1}\n",
	}
	for _, d := range send {
		conn.Write([]byte(d))
	}
	waitFor(t, "5 datagrams", func() bool { return c.Received.Load() == 5 })
	if c.Rejected.Load() != 3 {
		t.Fatalf("rejected %d, want 3", c.Rejected.Load())
	}
	items := q.Pop(nil, 10, 1<<20)
	if len(items) != 2 || string(items[0].Data) != `{"id":"a"}` || string(items[1].Data) != `{"id":"b"}` {
		t.Fatalf("queued %d items", len(items))
	}
}

func TestServerKeepsUpWithABurst(t *testing.T) {
	s, q, c := start(t)
	conn, err := net.Dial("udp", s.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = 5000
	pad := make([]byte, 900)
	for i := range pad {
		pad[i] = 'x'
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(conn, "{\"format\":\"json\",\"version\":1}\n{\"n\":%d,\"pad\":%q}", i, pad)
	}
	waitFor(t, "the burst", func() bool { return c.Received.Load() == n })
	if q.Len() != n {
		t.Fatalf("queued %d of %d", q.Len(), n)
	}
}

func TestListenRefusesBadAddress(t *testing.T) {
	if _, err := Listen(Options{Addr: "2000"}); err == nil {
		t.Fatal("bare port accepted")
	}
	s, _, _ := start(t)
	if _, err := Listen(Options{Addr: s.LocalAddr().String()}); err == nil {
		t.Fatal("second bind on the same port accepted")
	}
}

func TestCloseStopsAnIdleServerPromptly(t *testing.T) {
	var c counters.Set
	s, err := Listen(Options{Addr: "127.0.0.1:0", Queue: queue.New(1<<20, nil, nil), Counters: &c})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	time.Sleep(200 * time.Millisecond) // let it go idle and block
	start := time.Now()
	s.Close()
	<-s.Done()
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Fatalf("close took %v", d)
	}
}
