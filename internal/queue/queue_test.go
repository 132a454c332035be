package queue

import (
	"fmt"
	"testing"
	"time"
)

func item(s string) *Item { return &Item{Data: []byte(s), Enqueued: time.Unix(0, 0)} }

func drain(q *Queue) []string {
	var out []string
	for _, it := range q.Pop(nil, 1<<30, 1<<40) {
		out = append(out, string(it.Data))
	}
	return out
}

func TestQueueDropsOldestWhenFull(t *testing.T) {
	var dropped []string
	q := New(10, nil, func(ev []*Item) {
		for _, it := range ev {
			dropped = append(dropped, string(it.Data))
		}
	})
	q.Push(item("aaaa"), item("bbbb"))
	if n := q.Push(item("cccc")); n != 1 {
		t.Fatalf("evicted %d, want 1", n)
	}
	if fmt.Sprint(dropped) != "[aaaa]" {
		t.Fatalf("dropped %v", dropped)
	}
	if got := fmt.Sprint(drain(q)); got != "[bbbb cccc]" {
		t.Fatalf("left %v", got)
	}
}

func TestQueueAccountsRealSizeNotSlots(t *testing.T) {
	q := New(1000, nil, nil)
	for i := 0; i < 100; i++ {
		q.Push(item("0123456789"))
	}
	if q.Len() != 100 || q.Bytes() != 1000 {
		t.Fatalf("len=%d bytes=%d", q.Len(), q.Bytes())
	}
}

func TestQueueInFlightBytesCountUntilDone(t *testing.T) {
	q := New(8, nil, nil)
	q.Push(item("aaaa"), item("bbbb"))
	batch := q.Pop(nil, 1, 100)
	if q.Bytes() != 8 {
		t.Fatalf("bytes %d, want 8 (reserved)", q.Bytes())
	}
	q.Push(item("cccc")) // over budget: evicts queued bbbb, not the in-flight one
	if got := fmt.Sprint(drain(q)); got != "[cccc]" {
		t.Fatalf("left %v", got)
	}
	q.Done(batch)
	if q.Bytes() != 4 {
		t.Fatalf("bytes %d after Done, want 4", q.Bytes())
	}
}

func TestQueuePushFrontRequeuesOldestFirst(t *testing.T) {
	q := New(100, nil, nil)
	q.Push(item("a"), item("b"), item("c"))
	batch := q.Pop(nil, 2, 100)
	q.Push(item("d"))
	q.PushFront(batch)
	if got := fmt.Sprint(drain(q)); got != "[a b c d]" {
		t.Fatalf("order %v", got)
	}
}

func TestQueuePopRespectsByteLimitButTakesOne(t *testing.T) {
	q := New(100, nil, nil)
	q.Push(item("aaaaaaaaaa"), item("b"))
	if got := q.Pop(nil, 10, 5); len(got) != 1 {
		t.Fatalf("popped %d, want 1 oversize item", len(got))
	}
}

func TestPoolReusesItemsBySizeClass(t *testing.T) {
	var p Pool
	it := p.Item(make([]byte, 1000))
	if len(it.Data) != 1000 || cap(it.Data) != 1024 {
		t.Fatalf("len %d cap %d", len(it.Data), cap(it.Data))
	}
	p.release(it)
	if c := p.Item([]byte("abc")); string(c.Data) != "abc" {
		t.Fatalf("data %q", c.Data)
	}
	if big := p.Item(make([]byte, 70000)); len(big.Data) != 70000 {
		t.Fatal("oversize item")
	}
}

func BenchmarkQueuePushPop(b *testing.B) {
	var p Pool
	q := New(1<<30, &p, nil)
	doc := make([]byte, 1000)
	batch := make([]*Item, 0, 50)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		q.Push(p.Item(doc))
		if q.Len() >= 50 {
			batch = q.Pop(batch[:0], 50, 1<<20)
			q.Done(batch)
		}
	}
}

func TestQueueTracksInFlightBytes(t *testing.T) {
	q := New(100, nil, nil)
	q.Push(item("aaaa"), item("bbbb"), item("cc"))
	a := q.Pop(nil, 2, 100)
	if q.InFlightBytes() != 8 {
		t.Fatalf("in flight %d, want 8", q.InFlightBytes())
	}
	q.PushFront(a[1:])
	q.Done(a[:1])
	if q.InFlightBytes() != 0 || q.Bytes() != 6 {
		t.Fatalf("in flight %d bytes %d", q.InFlightBytes(), q.Bytes())
	}
}
