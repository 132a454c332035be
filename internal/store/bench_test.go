package store

import (
	"context"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/xrayd/xrayd/internal/filter"
)

// genBatches pre-generates batches of about batchDocs documents, nTraces traces spread
// evenly over span seconds from start.
func genBatches(nTraces, batchDocs int, start, span float64) (batches [][][]byte, ids []string, raw int64) {
	return genBatchesFrom(0, nTraces, batchDocs, start, span)
}

func genBatchesFrom(first, nTraces, batchDocs int, start, span float64) (batches [][][]byte, ids []string, raw int64) {
	rng := rand.New(rand.NewPCG(7, uint64(first)))
	var cur [][]byte
	for i := 0; i < nTraces; i++ {
		id, docs := genTrace(rng, first+i, start+span*float64(i)/float64(nTraces))
		ids = append(ids, id)
		for _, d := range docs {
			raw += int64(len(d))
		}
		cur = append(cur, docs...)
		if len(cur) >= batchDocs {
			batches = append(batches, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches, ids, raw
}

// BenchmarkIngest measures Ingest in batches of 500 documents (50 traces).
func BenchmarkIngest(b *testing.B) {
	s := openTest(b, Options{})
	batches, _, _ := genBatches(max(b.N, 1)*50, 500, t0, 3600)
	b.ResetTimer()
	start := time.Now()
	segs := 0
	for i := 0; i < b.N; i++ {
		bad, err := s.Ingest(context.Background(), batches[i])
		if err != nil || len(bad) > 0 {
			b.Fatal(err, bad)
		}
		segs += len(batches[i])
	}
	b.ReportMetric(float64(segs)/time.Since(start).Seconds(), "segments/s")
}

// TestBigDataset loads 1,000,000 segments (100,000 traces, 20 services, one hour) and
// times the read APIs. Run with XRAYD_BIG_BENCH=1 (XRAYD_BIG_TRACES overrides the
// trace count):
//
//	XRAYD_BIG_BENCH=1 go test -run TestBigDataset -v -timeout 30m ./internal/store/
func TestBigDataset(t *testing.T) {
	if os.Getenv("XRAYD_BIG_BENCH") == "" {
		t.Skip("set XRAYD_BIG_BENCH=1 to run the 1M-segment benchmark")
	}
	nTraces := 100_000
	if v, err := strconv.Atoi(os.Getenv("XRAYD_BIG_TRACES")); err == nil && v > 0 {
		nTraces = v
	}
	dir := os.Getenv("XRAYD_BIG_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	s := openTest(t, Options{Dir: dir})
	ctx := context.Background()
	// generate and ingest 10,000 traces at a time to bound memory; only Ingest is timed
	var ids []string
	var raw int64
	segs := 0
	var el time.Duration
	for lo := 0; lo < nTraces; lo += 10_000 {
		n := min(10_000, nTraces-lo)
		batches, bids, braw := genBatchesFrom(lo, n, 1000, t0+3600*float64(lo)/float64(nTraces), 3600*float64(n)/float64(nTraces))
		ids, raw = append(ids, bids...), raw+braw
		start := time.Now()
		for _, b := range batches {
			bad, err := s.Ingest(ctx, b)
			if err != nil || len(bad) > 0 {
				t.Fatal(err, bad)
			}
			segs += len(b)
		}
		el += time.Since(start)
	}
	t.Logf("ingest: %d segments, %d traces in %v = %.0f segments/s", segs, nTraces, el.Round(time.Millisecond), float64(segs)/el.Seconds())
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	size := s.SizeBytes()
	t.Logf("size: raw JSON %d bytes, database %d bytes = %.2fx", raw, size, float64(size)/float64(raw))

	x, err := filter.Parse(`service("svc-3") AND responsetime > 1`)
	if err != nil {
		t.Fatal(err)
	}
	timeIt(t, "GetTraceSummaries service(\"svc-3\") AND responsetime > 1, 1h, first page", 20, func() {
		p, err := s.TraceSummaries(ctx, SummaryQuery{Start: t0, End: t0 + 3600, Filter: x})
		if err != nil || len(p.Summaries) == 0 {
			t.Fatal(err, len(p.Summaries))
		}
	})
	timeIt(t, "GetTraceSummaries all pages of the same filter", 3, func() {
		q := SummaryQuery{Start: t0, End: t0 + 3600, Filter: x}
		for {
			p, err := s.TraceSummaries(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if p.NextToken == "" {
				return
			}
			q.NextToken = p.NextToken
		}
	})
	rng := rand.New(rand.NewPCG(1, 1))
	timeIt(t, "BatchGetTraces 5 traces", 50, func() {
		pick := make([]string, 5)
		for i := range pick {
			pick[i] = ids[rng.IntN(len(ids))]
		}
		r, _, err := s.Traces(ctx, pick)
		if err != nil || len(r) != 5 {
			t.Fatal(err, len(r))
		}
	})
	timeIt(t, "GetServiceGraph 1h", 20, func() {
		g, err := s.ServiceGraph(ctx, t0, t0+3600, nil)
		if err != nil || len(g) == 0 {
			t.Fatal(err)
		}
	})
	timeIt(t, "GetTimeSeriesServiceStatistics 1h, period 60", 20, func() {
		sel, _ := filter.ParseEntitySelector(`service("svc-3")`)
		if _, err := s.TimeSeries(ctx, t0, t0+3600, 60, sel, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func timeIt(t *testing.T, name string, n int, fn func()) {
	d := make([]time.Duration, n)
	for i := range d {
		st := time.Now()
		fn()
		d[i] = time.Since(st)
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	p95 := d[min(n-1, (n*95+99)/100-1)]
	t.Logf("%s: p50 %v p95 %v (n=%d)", name, d[n/2].Round(10*time.Microsecond), p95.Round(10*time.Microsecond), n)
}
