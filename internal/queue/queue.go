// Package queue is the daemon's memory budget: a FIFO of segment documents bounded by the
// bytes they really occupy. When a push would exceed the budget the oldest documents are
// evicted and reported, never the newest, and the pusher never blocks.
package queue

import (
	"sync"
	"time"
)

// Item is one queued document. Data is owned by the queue while the item is queued and by
// whoever popped it afterwards; return it with Release when done.
type Item struct {
	Data     []byte
	Enqueued time.Time // first time the document entered the daemon
	Attempts int       // failed upload attempts so far
}

// ItemOverhead is what a queued item costs beyond its buffer: the Item (a 64-byte
// allocation) and its slot in the queue.
const ItemOverhead = 64 + 8

// Size is the bytes an item counts against the budget: the memory it really holds, its
// buffer's capacity plus ItemOverhead, not just the document's length.
func (it *Item) Size() int64 { return int64(cap(it.Data)) + ItemOverhead }

// Queue is a byte-bounded FIFO. It is safe for concurrent use.
type Queue struct {
	mu     sync.Mutex
	budget int64
	bytes  int64 // bytes of queued items plus bytes reserved by in-flight batches
	flying int64 // bytes reserved by in-flight batches (popped, not yet Done or back)
	items  []*Item
	head   int
	ready  chan struct{} // signalled (non-blocking) when items are pushed
	pool   *Pool
	onDrop func(evicted []*Item)
	onPush func() // called after every Push, outside the lock, on the pusher's goroutine
}

// OnPush sets a function run after every Push on the pushing goroutine, outside the
// queue's lock. The exporter uses it to start full batches without waking a goroutine.
// Set it before the queue is shared.
func (q *Queue) OnPush(fn func()) { q.onPush = fn }

// New makes a queue that holds at most budget bytes. onDrop, if not nil, is called with
// evicted items (outside the lock is not guaranteed: it runs under the queue's lock and
// must not call back into the queue); the queue releases them after onDrop returns.
func New(budget int64, pool *Pool, onDrop func(evicted []*Item)) *Queue {
	return &Queue{budget: budget, ready: make(chan struct{}, 1), pool: pool, onDrop: onDrop}
}

// Ready is signalled when a push finds the queue empty; a consumer that waits for the
// first document selects on it. Later pushes do not signal (see OnPush).
func (q *Queue) Ready() <-chan struct{} { return q.ready }

// Budget returns the byte budget.
func (q *Queue) Budget() int64 { return q.budget }

// Push appends items (in order) and evicts the oldest queued items if the budget is
// exceeded. An item larger than the whole budget is evicted at once. It returns how many
// items were evicted.
func (q *Queue) Push(items ...*Item) int {
	q.mu.Lock()
	wasEmpty := q.head == len(q.items)
	for _, it := range items {
		q.items = append(q.items, it)
		q.bytes += it.Size()
	}
	evicted := q.evictLocked()
	q.mu.Unlock()
	if wasEmpty {
		q.signal()
	}
	if q.onPush != nil {
		q.onPush()
	}
	return evicted
}

// PushFront puts items back at the head of the queue (in the given order), as when a
// failed batch is returned for a retry; they are the oldest, so they are evicted first.
// The bytes were reserved by Pop, so only the reservation is converted back.
func (q *Queue) PushFront(items []*Item) int {
	q.mu.Lock()
	for _, it := range items {
		q.flying -= it.Size()
	}
	n := len(items)
	if q.head >= n {
		q.head -= n
		copy(q.items[q.head:], items)
	} else {
		// Leave room in front for the other calls of a failed group or a backend outage
		// returning their batches too: the room doubles with each copy, so returning k batches
		// copies the queue O(log k) times, not k times.
		rest := q.items[q.head:]
		room := max(n, len(rest), 256)
		merged := make([]*Item, room+len(rest))
		copy(merged[room:], rest)
		q.head = room - n
		copy(merged[q.head:], items)
		q.items = merged
	}
	evicted := q.evictLocked()
	q.mu.Unlock()
	q.signal()
	return evicted
}

func (q *Queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// evictLocked drops oldest queued items until the budget holds. In-flight bytes (popped
// but not yet done) also count, so a retrying backend cannot make the daemon exceed it.
func (q *Queue) evictLocked() int {
	if q.bytes <= q.budget {
		return 0
	}
	start := q.head
	for q.bytes > q.budget && q.head < len(q.items) {
		q.bytes -= q.items[q.head].Size()
		q.head++
	}
	evicted := q.items[start:q.head]
	if q.onDrop != nil {
		q.onDrop(evicted)
	}
	if q.pool != nil {
		q.pool.release(evicted...)
	}
	clear(evicted)
	q.compactLocked()
	return len(evicted)
}

func (q *Queue) compactLocked() {
	if q.head == len(q.items) {
		q.items = q.items[:0]
		q.head = 0
		return
	}
	// Reclaim the consumed prefix once it dominates, so the slice does not grow forever.
	if q.head > 1024 && q.head > len(q.items)/2 {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
}

// Len returns the number of queued items (not counting in-flight ones).
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// Bytes returns queued plus in-flight bytes.
func (q *Queue) Bytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// Oldest returns the enqueue time of the oldest queued item, or false if empty.
func (q *Queue) Oldest() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return time.Time{}, false
	}
	return q.items[q.head].Enqueued, true
}

// Pop moves up to max items (and at most maxBytes, but always at least one) from the head
// into dst. Their bytes stay reserved against the budget until Done or PushFront.
func (q *Queue) Pop(dst []*Item, max int, maxBytes int64) []*Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	var b int64
	for q.head < len(q.items) && len(dst) < max {
		it := q.items[q.head]
		if len(dst) > 0 && b+it.Size() > maxBytes {
			break
		}
		b += it.Size()
		dst = append(dst, it)
		q.items[q.head] = nil
		q.head++
	}
	q.flying += b
	q.compactLocked()
	return dst
}

// Done releases the reservation of items that left the daemon (sent or dropped) and
// returns them and their buffers to the pool; the caller must not touch them afterwards.
func (q *Queue) Done(items []*Item) {
	var b int64
	for _, it := range items {
		b += it.Size()
	}
	if q.pool != nil {
		q.pool.release(items...)
	} else {
		for _, it := range items {
			it.Data = nil
		}
	}
	q.mu.Lock()
	q.bytes -= b
	q.flying -= b
	q.mu.Unlock()
}

// InFlightBytes returns the bytes of popped items not yet Done or pushed back.
func (q *Queue) InFlightBytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.flying
}
