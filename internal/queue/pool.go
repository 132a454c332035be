package queue

import (
	"math/bits"
	"sync"
)

// Pool recycles items together with their document buffers, in power-of-two size classes
// from 256 B to 64 KiB, so a steady stream of segments allocates nothing once warm.
type Pool struct {
	classes [numClasses]sync.Pool // of *Item whose Data has the class's capacity
}

const (
	minClassShift = 8  // 256 B
	maxClassShift = 16 // 64 KiB
	numClasses    = maxClassShift - minClassShift + 1
)

func classFor(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	c := bits.Len(uint(n-1)) - minClassShift
	if c >= numClasses {
		return -1
	}
	return c
}

// Item returns an Item holding a pooled copy of data.
func (p *Pool) Item(data []byte) *Item {
	c := classFor(len(data))
	var it *Item
	if c >= 0 {
		it, _ = p.classes[c].Get().(*Item)
	}
	if it == nil {
		size := len(data)
		if c >= 0 {
			size = 1 << (c + minClassShift)
		}
		it = &Item{Data: make([]byte, 0, size)}
	}
	it.Data = append(it.Data[:0], data...)
	return it
}

// release returns an item and its buffer to the pool.
func (p *Pool) release(it *Item) {
	c := classFor(cap(it.Data))
	if c < 0 || cap(it.Data) != 1<<(c+minClassShift) {
		*it = Item{}
		return
	}
	*it = Item{Data: it.Data[:0]}
	p.classes[c].Put(it)
}
