package export

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/queue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeSender struct {
	mu    sync.Mutex
	got   map[string]int
	calls int
	fn    func(call int, docs [][]byte) (Result, error)
}

func (f *fakeSender) Name() string { return "fake" }

func (f *fakeSender) Send(ctx context.Context, docs [][]byte) (Result, error) {
	f.mu.Lock()
	f.calls++
	call := f.calls
	f.mu.Unlock()
	var res Result
	var err error
	if f.fn != nil {
		res, err = f.fn(call, docs)
	}
	if err != nil {
		return res, err
	}
	skip := map[int]bool{}
	for _, u := range res.Unprocessed {
		skip[u.Index] = true
	}
	f.mu.Lock()
	for i, d := range docs {
		if !skip[i] {
			f.got[string(d)]++
		}
	}
	f.mu.Unlock()
	return res, nil
}

func (f *fakeSender) delivered() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.got {
		out[k] = v
	}
	return out
}

func setup(t *testing.T, budget int64, fn func(int, [][]byte) (Result, error), tweak func(*Options)) (*Exporter, *queue.Queue, *fakeSender, *counters.Set) {
	t.Helper()
	var c counters.Set
	var pool queue.Pool
	q := queue.New(budget, &pool, func(ev []*queue.Item) { c.AddDropped(counters.DropBudget, int64(len(ev))) })
	fs := &fakeSender{got: map[string]int{}, fn: fn}
	o := Options{Queue: q, Sender: fs, Counters: &c, FlushInterval: 20 * time.Millisecond, BackoffInitial: time.Millisecond, BackoffMax: 20 * time.Millisecond}
	if tweak != nil {
		tweak(&o)
	}
	e := New(o)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, q, fs, &c
}

func push(q *queue.Queue, n int) {
	var pool queue.Pool
	for i := 0; i < n; i++ {
		it := pool.Item([]byte(fmt.Sprintf("doc-%d", i)))
		it.Enqueued = time.Now()
		q.Push(it)
	}
}

// pushSized queues n distinct documents of size bytes each (1 KiB buffers for 1000).
func pushSized(q *queue.Queue, n, size int) {
	var pool queue.Pool
	for i := 0; i < n; i++ {
		doc := fmt.Appendf(make([]byte, 0, size), `{"id":"%016x"}`, i)
		it := pool.Item(append(doc, make([]byte, size-len(doc))...))
		it.Enqueued = time.Now()
		q.Push(it)
	}
}

func shutdown(t *testing.T, e *Exporter, d time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return e.Shutdown(ctx)
}

func TestExporterDeliversEverythingInBatches(t *testing.T) {
	e, q, fs, c := setup(t, 1<<20, nil, nil)
	push(q, 1234)
	if n := shutdown(t, e, 5*time.Second); n != 0 {
		t.Fatalf("undelivered %d", n)
	}
	if got := len(fs.delivered()); got != 1234 || c.Sent.Load() != 1234 {
		t.Fatalf("delivered %d sent %d", got, c.Sent.Load())
	}
	if fs.calls < 1234/50 {
		t.Fatalf("calls %d: batches larger than 50?", fs.calls)
	}
}

func TestExporterRetriesFailuresWithoutLoss(t *testing.T) {
	fail := func(call int, docs [][]byte) (Result, error) {
		if call%3 != 0 { // two of three calls fail
			return Result{}, &CallError{Class: counters.ErrHTTP5XX, Status: 500, Retryable: true, Err: errors.New("boom")}
		}
		return Result{}, nil
	}
	e, q, fs, c := setup(t, 1<<20, fail, nil)
	push(q, 500)
	if n := shutdown(t, e, 10*time.Second); n != 0 {
		t.Fatalf("undelivered %d", n)
	}
	got := fs.delivered()
	if len(got) != 500 {
		t.Fatalf("delivered %d of 500", len(got))
	}
	if c.Retried.Load() == 0 || c.BackendErrors(counters.ErrHTTP5XX) == 0 {
		t.Fatalf("retried %d errors %d", c.Retried.Load(), c.BackendErrors(counters.ErrHTTP5XX))
	}
	if c.Sent.Load() != 500 {
		t.Fatalf("sent %d", c.Sent.Load())
	}
}

func TestExporterRequeuesRetryableUnprocessedAndCountsInvalid(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	fn := func(call int, docs [][]byte) (Result, error) {
		var res Result
		mu.Lock()
		defer mu.Unlock()
		for i, d := range docs {
			switch string(d) {
			case "doc-1":
				res.Unprocessed = append(res.Unprocessed, Unprocessed{Index: i, Code: "InvalidTraceId"})
			case "doc-2":
				if !seen["doc-2"] {
					seen["doc-2"] = true
					res.Unprocessed = append(res.Unprocessed, Unprocessed{Index: i, Code: "ThrottledException", Retryable: true})
				}
			}
		}
		return res, nil
	}
	e, q, fs, c := setup(t, 1<<20, fn, nil)
	push(q, 10)
	shutdown(t, e, 5*time.Second)
	got := fs.delivered()
	if got["doc-1"] != 0 || got["doc-2"] != 1 || len(got) != 9 {
		t.Fatalf("delivered %v", got)
	}
	if c.Rejected.Load() != 1 || c.Sent.Load() != 9 {
		t.Fatalf("rejected %d sent %d", c.Rejected.Load(), c.Sent.Load())
	}
}

func TestExporterDropsNonRetryableBatchAndCountsIt(t *testing.T) {
	fn := func(int, [][]byte) (Result, error) {
		return Result{}, &CallError{Class: counters.ErrHTTP4XX, Status: 400, Code: "SerializationException", Err: errors.New("bad")}
	}
	e, q, _, c := setup(t, 1<<20, fn, nil)
	push(q, 5)
	shutdown(t, e, 2*time.Second)
	if c.Dropped(counters.DropInvalid) != 5 {
		t.Fatalf("dropped invalid %d", c.Dropped(counters.DropInvalid))
	}
}

func TestExporterDrainDeadlineCountsWhatIsLeft(t *testing.T) {
	fn := func(int, [][]byte) (Result, error) {
		return Result{}, &CallError{Class: counters.ErrConnectionRefused, Retryable: true, Err: errors.New("down")}
	}
	e, q, _, c := setup(t, 1<<20, fn, nil)
	push(q, 120)
	n := shutdown(t, e, 200*time.Millisecond)
	if n != 120 || c.Dropped(counters.DropDrain) != 120 {
		t.Fatalf("undelivered %d dropped %d", n, c.Dropped(counters.DropDrain))
	}
	if q.Bytes() != 0 {
		t.Fatalf("queue still accounts %d bytes", q.Bytes())
	}
}

func TestExporterWaitsForBackendThenDeliversWithinBudget(t *testing.T) {
	var mu sync.Mutex
	down := true
	fn := func(int, [][]byte) (Result, error) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return Result{}, &CallError{Class: counters.ErrHTTP5XX, Status: 503, Retryable: true, Err: errors.New("unavailable")}
		}
		return Result{}, nil
	}
	e, q, fs, c := setup(t, 1<<20, fn, nil)
	push(q, 300)
	time.Sleep(150 * time.Millisecond)
	mu.Lock()
	down = false
	mu.Unlock()
	shutdown(t, e, 5*time.Second)
	if len(fs.delivered()) != 300 || c.DroppedTotal() != 0 {
		t.Fatalf("delivered %d dropped %d", len(fs.delivered()), c.DroppedTotal())
	}
}

func TestExporterDropsExpiredSegments(t *testing.T) {
	e, q, fs, c := setup(t, 1<<20, nil, func(o *Options) { o.MaxRetryAge = time.Minute })
	var pool queue.Pool
	old := pool.Item([]byte("old"))
	old.Enqueued = time.Now().Add(-time.Hour)
	q.Push(old)
	push(q, 1)
	shutdown(t, e, 2*time.Second)
	if c.Dropped(counters.DropMaxAge) != 1 || len(fs.delivered()) != 1 {
		t.Fatalf("max-age drops %d delivered %v", c.Dropped(counters.DropMaxAge), fs.delivered())
	}
}

func TestExporterFlushesPartialBatchAfterInterval(t *testing.T) {
	e, q, fs, _ := setup(t, 1<<20, nil, nil)
	defer shutdown(t, e, time.Second)
	push(q, 3)
	deadline := time.Now().Add(2 * time.Second)
	for len(fs.delivered()) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(fs.delivered()) != 3 {
		t.Fatal("partial batch was not flushed by the idle timer")
	}
}

func TestBackoffGrowsAndHonoursThrottling(t *testing.T) {
	e := New(Options{Queue: queue.New(1, nil, nil), Sender: &fakeSender{}, Rand: func() float64 { return 0.999 }})
	e.failures = 1
	if d := e.backoffLocked(&CallError{}); d < 90*time.Millisecond || d > 100*time.Millisecond {
		t.Fatalf("first backoff %v", d)
	}
	if d := e.backoffLocked(&CallError{Throttled: true}); d < 900*time.Millisecond {
		t.Fatalf("throttle backoff %v", d)
	}
	e.failures = 30
	if d := e.backoffLocked(&CallError{}); d > 5*time.Second {
		t.Fatalf("capped backoff %v", d)
	}
}

func TestExporterGroupsFullBatchesUntilEnoughOrOldEnough(t *testing.T) {
	e, q, fs, _ := setup(t, 1<<20, nil, func(o *Options) {
		o.BatchSize, o.GroupBatches, o.GroupWait, o.FlushInterval = 10, 3, 200*time.Millisecond, time.Hour
	})
	defer shutdown(t, e, time.Second)
	push(q, 20) // two full batches: fewer than the group
	time.Sleep(50 * time.Millisecond)
	if n := len(fs.delivered()); n != 0 {
		t.Fatalf("%d delivered before the group was complete", n)
	}
	// Once the oldest document has waited GroupWait, the next push starts what is full.
	time.Sleep(200 * time.Millisecond)
	push(q, 1)
	deadline := time.Now().Add(2 * time.Second)
	for len(fs.delivered()) < 20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(fs.delivered()); n < 20 {
		t.Fatalf("%d delivered after GroupWait, want the 2 full batches", n)
	}
}

func TestExporterBoundsBytesInFlight(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var inCalls, maxDocs int
	e, q, fs, _ := setup(t, 1<<30, func(call int, docs [][]byte) (Result, error) {
		mu.Lock()
		inCalls += len(docs)
		maxDocs = max(maxDocs, inCalls)
		mu.Unlock()
		<-release
		mu.Lock()
		inCalls -= len(docs)
		mu.Unlock()
		return Result{}, nil
	}, func(o *Options) {
		o.BatchSize = 10
		o.MaxInflight = 1000
		o.MaxInflightBytes = 20 * (1024 + queue.ItemOverhead) // two batches of 1 KiB documents
	})
	pushSized(q, 200, 1000)
	time.Sleep(100 * time.Millisecond)
	if f := q.InFlightBytes(); f > 20*(1024+queue.ItemOverhead) {
		t.Fatalf("%d bytes in flight, want at most %d", f, 20*(1024+queue.ItemOverhead))
	}
	close(release)
	if n := shutdown(t, e, 5*time.Second); n != 0 || len(fs.delivered()) != 200 {
		t.Fatalf("undelivered %d, delivered %d of 200", n, len(fs.delivered()))
	}
	if maxDocs > 20 {
		t.Fatalf("%d documents in calls at once, want at most 20", maxDocs)
	}
}

func TestExporterRestartsSmallAfterAFailure(t *testing.T) {
	var mu sync.Mutex
	failing := true
	failures := 0
	inCalls, maxAfter := 0, 0
	release := make(chan struct{})
	const batchBytes = 10 * (1024 + queue.ItemOverhead)
	e, q, fs, _ := setup(t, 1<<30, func(call int, docs [][]byte) (Result, error) {
		mu.Lock()
		if failing {
			failures++
			mu.Unlock()
			return Result{}, &CallError{Class: counters.ErrHTTP5XX, Status: 503, Retryable: true, Err: errors.New("down")}
		}
		inCalls += len(docs)
		maxAfter = max(maxAfter, inCalls)
		mu.Unlock()
		<-release
		mu.Lock()
		inCalls -= len(docs)
		mu.Unlock()
		return Result{}, nil
	}, func(o *Options) {
		o.BatchSize = 10
		o.MaxInflight = 1000
		o.MaxInflightBytes = 32 * batchBytes
	})
	pushSized(q, 200, 1000)
	// The backend comes back once every call of the first wave (started before any
	// failure, with the whole allowance) has failed and returned its batch.
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		back := failures > 0 && q.InFlightBytes() == 0
		if back {
			failing = false
		}
		mu.Unlock()
		if back || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the backoff ends; calls start and block
	mu.Lock()
	got := maxAfter
	mu.Unlock()
	close(release)
	if n := shutdown(t, e, 5*time.Second); n != 0 || len(fs.delivered()) != 200 {
		t.Fatalf("undelivered %d, delivered %d of 200", n, len(fs.delivered()))
	}
	// Before any call succeeded, at most one batch (a thirty-second of MaxInflightBytes)
	// may be in flight.
	if got == 0 || got > 10 {
		t.Fatalf("%d documents in calls after the failure, want 1..10", got)
	}
}
