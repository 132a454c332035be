package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/klauspost/compress/s2"
	"math"
	"sort"

	"github.com/xrayd/xrayd/internal/trace"
)

func packDocs(contrib []byte, docs [][]byte) []byte {
	var plain bytes.Buffer
	var tmp [binary.MaxVarintLen64]byte
	plain.Write(tmp[:binary.PutUvarint(tmp[:], uint64(len(contrib)))])
	plain.Write(contrib)
	for _, d := range docs {
		plain.Write(tmp[:binary.PutUvarint(tmp[:], uint64(len(d)))])
		plain.Write(d)
	}
	return deflate(plain.Bytes())
}

// compress and decompress blobs with S2 (a Snappy successor): JSON shrinks to about a
// third, at a small fraction of DEFLATE's cost. DEFLATE's Huffman tables, built per small
// blob, were a third of the daemon's CPU when ingesting one-segment traces.
func deflate(b []byte) []byte { return s2.Encode(nil, b) }

func inflate(b []byte) ([]byte, error) { return s2.Decode(nil, b) }

// unpackDocs reverses packDocs.
func unpackDocs(blob []byte) (contrib []byte, docs [][]byte, err error) {
	plain, err := inflate(blob)
	if err != nil {
		return nil, nil, fmt.Errorf("decompressing trace documents: %w", err)
	}
	next := func() ([]byte, error) {
		n, k := binary.Uvarint(plain)
		if k <= 0 || uint64(len(plain)-k) < n {
			return nil, errors.New("corrupt trace document blob")
		}
		b := plain[k : k+int(n)]
		plain = plain[k+int(n):]
		return b, nil
	}
	if contrib, err = next(); err != nil {
		return nil, nil, err
	}
	for len(plain) > 0 {
		d, err := next()
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, d)
	}
	return contrib, docs, nil
}

// aggKey encodes an aggregate key as the graph table's key column.
func aggKey(k trace.AggKey) string {
	b, _ := json.Marshal(k)
	return string(b)
}

func parseAggKey(s string) (trace.AggKey, error) {
	var k trace.AggKey
	err := json.Unmarshal([]byte(s), &k)
	return k, err
}

// encodeAgg writes an aggregate compactly: varints, float bits and a delta-coded
// sorted histogram.
func encodeAgg(a *trace.Agg) []byte {
	b := make([]byte, 0, 64+len(a.Hist)*3)
	b = binary.AppendVarint(b, a.N)
	b = binary.AppendVarint(b, a.Root)
	for _, c := range a.Counts {
		b = binary.AppendVarint(b, c)
	}
	for _, f := range []float64{a.TotalRT, a.Start, a.End} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	keys := make([]int64, 0, len(a.Hist))
	for k := range a.Hist {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	b = binary.AppendUvarint(b, uint64(len(keys)))
	prev := int64(0)
	for _, k := range keys {
		b = binary.AppendVarint(b, k-prev)
		b = binary.AppendVarint(b, a.Hist[k])
		prev = k
	}
	return b
}

var errCorruptAgg = errors.New("corrupt graph aggregate")

// decodeAgg reverses encodeAgg, merging into dst when dst is not nil.
func decodeAgg(b []byte, dst *trace.Agg) (*trace.Agg, error) {
	a := &trace.Agg{}
	vi := func() (int64, bool) {
		v, k := binary.Varint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	var ok bool
	if a.N, ok = vi(); !ok {
		return nil, errCorruptAgg
	}
	if a.Root, ok = vi(); !ok {
		return nil, errCorruptAgg
	}
	for i := range a.Counts {
		if a.Counts[i], ok = vi(); !ok {
			return nil, errCorruptAgg
		}
	}
	if len(b) < 24 {
		return nil, errCorruptAgg
	}
	a.TotalRT = math.Float64frombits(binary.LittleEndian.Uint64(b))
	a.Start = math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
	a.End = math.Float64frombits(binary.LittleEndian.Uint64(b[16:]))
	b = b[24:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errCorruptAgg
	}
	b = b[k:]
	hist := map[int64]int64{}
	if dst != nil {
		if dst.Hist == nil {
			dst.Hist = map[int64]int64{}
		}
		hist = dst.Hist
	}
	prev := int64(0)
	for i := uint64(0); i < n; i++ {
		d, ok1 := vi()
		c, ok2 := vi()
		if !ok1 || !ok2 {
			return nil, errCorruptAgg
		}
		prev += d
		hist[prev] += c
	}
	if dst == nil {
		a.Hist = hist
		return a, nil
	}
	h := dst.Hist
	dst.Hist = nil
	dst.Merge(a, 1)
	dst.Hist = h
	return dst, nil
}

// packMeta compresses a trace's filter view and summary together: every scanned row
// needs the view, every match the summary, and one compressed stream costs less.
func packMeta(view, summary []byte) []byte {
	b := make([]byte, 0, len(view)+len(summary)+binary.MaxVarintLen64)
	b = binary.AppendUvarint(b, uint64(len(view)))
	b = append(b, view...)
	return deflate(append(b, summary...))
}

func unpackMeta(blob []byte) (view, summary []byte, err error) {
	plain, err := inflate(blob)
	if err != nil {
		return nil, nil, fmt.Errorf("decompressing trace summary: %w", err)
	}
	n, k := binary.Uvarint(plain)
	if k <= 0 || uint64(len(plain)-k) < n {
		return nil, nil, errors.New("corrupt trace summary blob")
	}
	return plain[k : k+int(n)], plain[k+int(n):], nil
}
