package otlp

import (
	"sync"
	"time"
)

// pendingKey identifies a (sub)segment: its trace id and its own id.
type pendingKey [24]byte

func keyOf(traceID *[16]byte, s *xsegment) pendingKey {
	var k pendingKey
	copy(k[:16], traceID[:])
	copy(k[16:], s.spanID[:])
	return k
}

type pendingEntry struct {
	key        pendingKey
	doc        []byte // a private copy of the in-progress document
	arrived    time.Time
	prev, next *pendingEntry
}

// pending holds in-progress documents until their complete version arrives or they time
// out. It is bounded by count and bytes; what does not fit leaves early (to be exported
// as unfinished), never silently. It also remembers the most recent completed keys, so an
// in-progress version that arrives after its complete one (batches run concurrently and
// are retried) is dropped instead of surfacing later as a stale unfinished span.
type pending struct {
	timeout  time.Duration
	maxCount int
	maxBytes int64

	mu      sync.Mutex
	entries map[pendingKey]*pendingEntry
	head    *pendingEntry // oldest
	tail    *pendingEntry
	bytes   int64

	done     map[pendingKey]struct{}
	doneRing []pendingKey // the keys in done, oldest at doneNext once full
	doneNext int
	doneCap  int

	superseded int64 // in-progress versions dropped because the complete one was seen
	dropped    int64 // held documents lost after a failed export did not fit back
}

func newPending(timeout time.Duration, maxCount int, maxBytes int64) *pending {
	return &pending{
		timeout: timeout, maxCount: maxCount, maxBytes: maxBytes,
		entries: make(map[pendingKey]*pendingEntry),
		done:    make(map[pendingKey]struct{}),
		doneCap: maxCount,
	}
}

// holdRequest is an in-progress document to keep.
type holdRequest struct {
	key pendingKey
	doc []byte
}

// update applies what one batch brought, under one lock: the keys of complete documents
// (their in-progress versions are forgotten and late ones will be dropped), the keys of
// (sub)segments embedded in them (forgotten only), then the in-progress documents to
// hold. It returns the entries that leave now, to be exported as unfinished: those
// pushed out to stay within bounds and those whose time is up.
func (p *pending) update(done, embedded []pendingKey, holds []holdRequest, now time.Time) (out []*pendingEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range done {
		p.completeLocked(k)
	}
	if len(p.entries) > 0 {
		for _, k := range embedded {
			if e, ok := p.entries[k]; ok {
				p.remove(e)
			}
		}
	}
	for _, h := range holds {
		out = p.holdLocked(h.key, h.doc, now, out)
	}
	for p.head != nil && now.Sub(p.head.arrived) >= p.timeout {
		out = append(out, p.remove(p.head))
	}
	return out
}

func (p *pending) holdLocked(k pendingKey, doc []byte, now time.Time, out []*pendingEntry) []*pendingEntry {
	if _, ok := p.done[k]; ok {
		p.superseded++
		return out
	}
	if e, ok := p.entries[k]; ok {
		// A newer in-progress version: keep its place and first arrival time.
		p.bytes += int64(len(doc) - len(e.doc))
		e.doc = append(e.doc[:0], doc...)
	} else {
		e := &pendingEntry{key: k, doc: append([]byte(nil), doc...), arrived: now}
		p.entries[k] = e
		p.pushBack(e)
		p.bytes += int64(len(doc))
	}
	for p.head != nil && (len(p.entries) > p.maxCount || p.bytes > p.maxBytes) {
		out = append(out, p.remove(p.head))
	}
	return out
}

func (p *pending) completeLocked(k pendingKey) {
	if e, ok := p.entries[k]; ok {
		p.remove(e)
	}
	if _, ok := p.done[k]; ok {
		return
	}
	if len(p.doneRing) < p.doneCap {
		p.doneRing = append(p.doneRing, k)
	} else if len(p.doneRing) > 0 {
		delete(p.done, p.doneRing[p.doneNext])
		p.doneRing[p.doneNext] = k
		p.doneNext = (p.doneNext + 1) % len(p.doneRing)
	}
	p.done[k] = struct{}{}
}

// expired removes and returns the entries held for the timeout or longer.
func (p *pending) expired(now time.Time) (out []*pendingEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.head != nil && now.Sub(p.head.arrived) >= p.timeout {
		out = append(out, p.remove(p.head))
	}
	return out
}

// takeAll removes and returns every entry, oldest first.
func (p *pending) takeAll() (out []*pendingEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.head != nil {
		out = append(out, p.remove(p.head))
	}
	return out
}

// restore puts back entries whose export failed, in front (they are the oldest), unless a
// newer version or the complete one arrived meanwhile. What no longer fits is dropped and
// counted; it returns how many.
func (p *pending) restore(es []*pendingEntry) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	lost := 0
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if _, ok := p.entries[e.key]; ok {
			continue
		}
		if _, ok := p.done[e.key]; ok {
			continue
		}
		if len(p.entries) >= p.maxCount || p.bytes+int64(len(e.doc)) > p.maxBytes {
			lost++
			continue
		}
		p.entries[e.key] = e
		p.pushFront(e)
		p.bytes += int64(len(e.doc))
	}
	p.dropped += int64(lost)
	return lost
}

func (p *pending) stats() (count int, bytes, superseded, dropped int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries), p.bytes, p.superseded, p.dropped
}

// oldest reports the arrival time of the oldest entry.
func (p *pending) oldest() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head == nil {
		return time.Time{}, false
	}
	return p.head.arrived, true
}

func (p *pending) pushBack(e *pendingEntry) {
	e.prev, e.next = p.tail, nil
	if p.tail != nil {
		p.tail.next = e
	} else {
		p.head = e
	}
	p.tail = e
}

func (p *pending) pushFront(e *pendingEntry) {
	e.prev, e.next = nil, p.head
	if p.head != nil {
		p.head.prev = e
	} else {
		p.tail = e
	}
	p.head = e
}

func (p *pending) remove(e *pendingEntry) *pendingEntry {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		p.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		p.tail = e.prev
	}
	e.prev, e.next = nil, nil
	delete(p.entries, e.key)
	p.bytes -= int64(len(e.doc))
	return e
}
