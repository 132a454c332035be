package queue

import (
	"fmt"
	"testing"
	"time"
)

// item makes an item whose buffer is exactly s, so it counts len(s)+ItemOverhead.
func item(s string) *Item {
	b := make([]byte, len(s))
	copy(b, s)
	return &Item{Data: b, Enqueued: time.Unix(0, 0)}
}

// sz is what items of these lengths count against the budget.
func sz(lens ...int) int64 {
	var n int64
	for _, l := range lens {
		n += int64(l) + ItemOverhead
	}
	return n
}

func drain(q *Queue) []string {
	var out []string
	for _, it := range q.Pop(nil, 1<<30, 1<<40) {
		out = append(out, string(it.Data))
	}
	return out
}

func TestQueueDropsOldestWhenFull(t *testing.T) {
	var dropped []string
	q := New(sz(4, 4)+2, nil, func(ev []*Item) {
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
	q := New(100*sz(10), nil, nil)
	for i := 0; i < 100; i++ {
		q.Push(item("0123456789"))
	}
	if q.Len() != 100 || q.Bytes() != 100*sz(10) {
		t.Fatalf("len=%d bytes=%d", q.Len(), q.Bytes())
	}
}

func TestQueueInFlightBytesCountUntilDone(t *testing.T) {
	q := New(sz(4, 4), nil, nil)
	q.Push(item("aaaa"), item("bbbb"))
	batch := q.Pop(nil, 1, 1000)
	if q.Bytes() != sz(4, 4) {
		t.Fatalf("bytes %d, want %d (reserved)", q.Bytes(), sz(4, 4))
	}
	q.Push(item("cccc")) // over budget: evicts queued bbbb, not the in-flight one
	if got := fmt.Sprint(drain(q)); got != "[cccc]" {
		t.Fatalf("left %v", got)
	}
	q.Done(batch)
	if q.Bytes() != sz(4) {
		t.Fatalf("bytes %d after Done, want %d", q.Bytes(), sz(4))
	}
}

func TestQueuePushFrontRequeuesOldestFirst(t *testing.T) {
	q := New(1000, nil, nil)
	q.Push(item("a"), item("b"), item("c"))
	batch := q.Pop(nil, 2, 1000)
	q.Push(item("d"))
	q.PushFront(batch)
	if got := fmt.Sprint(drain(q)); got != "[a b c d]" {
		t.Fatalf("order %v", got)
	}
}

func TestQueuePopRespectsByteLimitButTakesOne(t *testing.T) {
	q := New(1000, nil, nil)
	q.Push(item("aaaaaaaaaa"), item("b"))
	if got := q.Pop(nil, 10, 5); len(got) != 1 {
		t.Fatalf("popped %d, want 1 oversize item", len(got))
	}
}

func TestPoolSizeClassesWasteAtMostAnEighth(t *testing.T) {
	seen := map[int]int{} // class -> capacity
	prevClass, prevSize := 0, 0
	for n := 1; n <= maxClass; n++ {
		c, size := classFor(n)
		if c < 0 || c >= numClasses || size < n {
			t.Fatalf("classFor(%d) = %d, %d", n, c, size)
		}
		if n > minClass && float64(size-n) > float64(n)/8 {
			t.Fatalf("classFor(%d): capacity %d wastes more than an eighth", n, size)
		}
		if s, ok := seen[c]; ok && s != size {
			t.Fatalf("class %d has capacities %d and %d", c, s, size)
		}
		seen[c] = size
		if c < prevClass || size < prevSize {
			t.Fatalf("classes not monotonic at %d", n)
		}
		prevClass, prevSize = c, size
		// A buffer of a class's exact capacity maps back to the same class (release).
		if c2, s2 := classFor(size); c2 != c || s2 != size {
			t.Fatalf("capacity %d of class %d maps to %d/%d", size, c, c2, s2)
		}
	}
	if c, _ := classFor(maxClass + 1); c != -1 {
		t.Fatal("oversize has a class")
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
	q := New(1000, nil, nil)
	q.Push(item("aaaa"), item("bbbb"), item("cc"))
	a := q.Pop(nil, 2, 1000)
	if q.InFlightBytes() != sz(4, 4) {
		t.Fatalf("in flight %d, want %d", q.InFlightBytes(), sz(4, 4))
	}
	q.PushFront(a[1:])
	q.Done(a[:1])
	if q.InFlightBytes() != 0 || q.Bytes() != sz(4, 2) {
		t.Fatalf("in flight %d bytes %d", q.InFlightBytes(), q.Bytes())
	}
}

func TestQueuePushFrontManyBatchesKeepsOrderAndCopiesRarely(t *testing.T) {
	q := New(1<<30, nil, nil)
	// 4,000 queued, 3,200 in flight: the queue compacts its consumed prefix away.
	for i := 0; i < 4000; i++ {
		q.Push(item(fmt.Sprint(i)))
	}
	var batches [][]*Item
	for i := 0; i < 64; i++ {
		batches = append(batches, q.Pop(nil, 50, 1<<20))
	}
	// Failed calls return their batches newest first, as they finish.
	copies := 0
	for i := len(batches) - 1; i >= 0; i-- {
		before := &q.items[0]
		q.PushFront(batches[i])
		if &q.items[0] != before {
			copies++
		}
	}
	if copies > 4 {
		t.Fatalf("%d copies of the queue for 64 returned batches", copies)
	}
	all := q.Pop(nil, 1<<30, 1<<40)
	if len(all) != 4000 {
		t.Fatalf("%d items", len(all))
	}
	for i, it := range all {
		if string(it.Data) != fmt.Sprint(i) {
			t.Fatalf("item %d is %s", i, it.Data)
		}
	}
	q.Done(all)
	if q.Bytes() != 0 || q.InFlightBytes() != 0 {
		t.Fatalf("bytes %d in flight %d", q.Bytes(), q.InFlightBytes())
	}
}

func TestPoolKeepsAtMostMaxFreeBytes(t *testing.T) {
	p := Pool{MaxFree: 10 << 10}
	var items []*Item
	for i := 0; i < 100; i++ {
		items = append(items, p.Item(make([]byte, 1000)))
	}
	p.release(items...)
	if got := p.FreeBytes(); got != 10<<10 {
		t.Fatalf("free %d bytes, want %d (10 buffers of 1 KiB)", got, 10<<10)
	}
	// Reuse takes from the free list.
	for i := 0; i < 10; i++ {
		if it := p.Item([]byte("x")); len(it.Data) != 1 {
			t.Fatal("bad item")
		}
		p.Item(make([]byte, 1000))
	}
	if got := p.FreeBytes(); got != 0 {
		t.Fatalf("free %d bytes after reuse, want 0", got)
	}
}
