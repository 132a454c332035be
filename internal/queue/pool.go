package queue

import (
	"math/bits"
	"sync"
)

// Pool recycles items together with their document buffers, so a steady stream of
// segments allocates nothing once warm. Buffers come in size classes from 256 B to
// 64 KiB, eight per doubling (256, 288, 320, ... 480, 512, 576, ...), so a buffer wastes
// at most an eighth of its document: the budget counts buffers, not documents.
//
// The free lists hold at most MaxFree bytes. A sync.Pool would keep everything released
// until two garbage collections later: when a recovered backend takes the whole budget
// in a second, that is a second budget's worth of memory.
type Pool struct {
	// MaxFree bounds the bytes kept for reuse; 0 means DefaultMaxFree. Set it before use.
	MaxFree int64

	mu    sync.Mutex
	free  [numClasses][]*Item
	bytes int64
}

// DefaultMaxFree is enough for the documents of a batch group at 20,000 segments a
// second; whatever it keeps is memory outside the budget.
const DefaultMaxFree = 512 << 10

const (
	minClass   = 256
	maxClass   = 64 << 10
	numClasses = 1 + 8*8 // 256, then eight classes for each of the eight doublings to 64 KiB
)

// classFor returns the size class for n bytes and its capacity; -1 above the largest.
func classFor(n int) (int, int) {
	if n <= minClass {
		return 0, minClass
	}
	if n > maxClass {
		return -1, n
	}
	// n-1 is at least 256, 9 or more bits: keep its top four bits as the mantissa.
	shift := bits.Len(uint(n-1)) - 4 // 5..12
	m := (n-1)>>shift + 1            // 9..16
	size := m << shift
	if m == 16 {
		shift, m = shift+1, 8
	}
	return 1 + (shift-5)*8 + (m - 9), size
}

// Item returns an Item holding a pooled copy of data.
func (p *Pool) Item(data []byte) *Item {
	c, size := classFor(len(data))
	var it *Item
	if c >= 0 {
		p.mu.Lock()
		if l := p.free[c]; len(l) > 0 {
			it = l[len(l)-1]
			l[len(l)-1] = nil
			p.free[c] = l[:len(l)-1]
			p.bytes -= int64(size)
		}
		p.mu.Unlock()
	}
	if it == nil {
		it = &Item{Data: make([]byte, 0, size)}
	}
	it.Data = append(it.Data[:0], data...)
	return it
}

// release returns items and their buffers to the pool; what does not fit is left to the
// garbage collector.
func (p *Pool) release(items ...*Item) {
	limit := p.MaxFree
	if limit <= 0 {
		limit = DefaultMaxFree
	}
	p.mu.Lock()
	for _, it := range items {
		c, size := classFor(cap(it.Data))
		if c < 0 || cap(it.Data) != size || p.bytes+int64(size) > limit {
			*it = Item{}
			continue
		}
		*it = Item{Data: it.Data[:0]}
		p.free[c] = append(p.free[c], it)
		p.bytes += int64(size)
	}
	p.mu.Unlock()
}

// FreeBytes returns the bytes of buffers kept for reuse.
func (p *Pool) FreeBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}
