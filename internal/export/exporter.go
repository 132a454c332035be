package export

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/queue"
)

// Options configure an Exporter. Zero values take the defaults noted.
type Options struct {
	Queue    *queue.Queue
	Sender   Sender
	Counters *counters.Set
	Logger   *slog.Logger

	BatchSize     int           // documents per call; default 50 (upstream's)
	MaxBatchBytes int64         // bytes per call; default 4 MiB
	FlushInterval time.Duration // send a partial batch once its oldest document waited this long; default 1s
	// GroupBatches makes the pusher wait until this many full batches are queued (or the
	// oldest document has waited GroupWait) before starting them together: fewer, larger
	// groups cost fewer thread wake-ups per segment. Default 1 (start every full batch).
	GroupBatches int
	GroupWait    time.Duration // default 50ms
	MaxInflight  int           // concurrent calls; default 64
	// MaxInflightBytes bounds the queue bytes of documents in calls at once; default
	// half the budget, so that a slow backend can have many calls open while eviction
	// still has the other half to drop the oldest from.
	MaxInflightBytes int64
	AttemptTimeout   time.Duration // per call; default 10s
	MaxRetryAge      time.Duration // a document older than this is dropped instead of sent; default 10m
	BackoffInitial   time.Duration // default 100ms
	BackoffMax       time.Duration // default 5s: how stale a recovered backend may be noticed

	// Spill, if set, receives documents the exporter gives up on (maximum age, drain
	// deadline) instead of dropping them; it returns how many it kept.
	Spill func(items []*queue.Item, reason counters.DropReason) int

	// ObserveCall, if set, is told about every call (for latency metrics).
	ObserveCall func(backend string, d time.Duration, err error)

	Now  func() time.Time
	Rand func() float64 // in [0,1), for jitter
}

func (o *Options) defaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 50
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 4 << 20
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.GroupBatches <= 0 {
		o.GroupBatches = 1
	}
	if o.GroupWait <= 0 {
		o.GroupWait = 50 * time.Millisecond
	}
	if o.MaxInflight <= 0 {
		o.MaxInflight = 64
	}
	if o.MaxInflightBytes <= 0 && o.Queue != nil {
		o.MaxInflightBytes = o.Queue.Budget() / 2
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 10 * time.Second
	}
	if o.MaxRetryAge <= 0 {
		o.MaxRetryAge = 10 * time.Minute
	}
	if o.BackoffInitial <= 0 {
		o.BackoffInitial = 100 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Counters == nil {
		o.Counters = new(counters.Set)
	}
}

// Exporter drains a queue into a Sender. Start it once; Shutdown drains it.
type Exporter struct {
	o Options

	sem      chan struct{} // in-flight call slots
	sendDone chan struct{} // signalled when a call finishes
	stopCh   chan struct{} // closed by Shutdown: flush everything, then stop
	done     chan struct{} // closed when the dispatcher returns
	ctx      context.Context
	cancel   context.CancelFunc // aborts in-flight calls at the drain deadline
	wg       sync.WaitGroup     // in-flight calls

	// window is how many bytes may be in flight now: MaxInflightBytes while calls
	// succeed; after a failure it starts again from a thirty-second of that and doubles
	// with each success, so a recovering backend (and the daemon's memory) does not take
	// the whole backlog at once.
	window atomic.Int64

	mu           sync.Mutex
	failures     int       // consecutive failed calls
	backoffUntil time.Time // no new call before this
	lastErr      string
	failingSince time.Time

	stopOnce sync.Once
}

// New makes an exporter.
func New(o Options) *Exporter {
	o.defaults()
	e := &Exporter{
		o:        o,
		sem:      make(chan struct{}, o.MaxInflight),
		sendDone: make(chan struct{}, 1),
		stopCh:   make(chan struct{}),
		done:     make(chan struct{}),
	}
	e.window.Store(o.MaxInflightBytes)
	return e
}

// Start launches the dispatcher. ctx is not retained beyond its values.
func (e *Exporter) Start(ctx context.Context) error {
	e.ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	e.o.Queue.OnPush(e.kick)
	go e.run()
	return nil
}

// kick runs on the pusher's goroutine (the UDP reader) after every push and starts the
// full batches at once, so a steady stream never needs the dispatcher to wake up.
// Partial batches, backoff and draining are the dispatcher's.
func (e *Exporter) kick() {
	if e.o.GroupBatches > 1 && e.o.Queue.Len() < e.o.GroupBatches*e.o.BatchSize {
		oldest, ok := e.o.Queue.Oldest()
		if !ok || e.o.Now().Sub(oldest) < e.o.GroupWait {
			return // a larger group soon; the next push or the dispatcher starts it
		}
	}
	if e.stopping() {
		return // the dispatcher drains
	}
	e.start(e.fill(nil))
}

// fill adds full batches to group, each with an in-flight slot, while the group has room
// and the backend is not backing off; a finishing call kicks again for the rest.
func (e *Exporter) fill(group [][]*queue.Item) [][]*queue.Item {
	for e.o.Queue.Len() >= e.o.BatchSize && len(group) < maxGroup {
		if e.ctx.Err() != nil {
			break
		}
		e.mu.Lock()
		backingOff := e.o.Now().Before(e.backoffUntil)
		e.mu.Unlock()
		if backingOff || !e.roomInFlight() {
			break
		}
		select {
		case e.sem <- struct{}{}:
		default:
			return group // every slot busy
		}
		if b := e.popLive(); b != nil {
			group = append(group, b)
		} else {
			<-e.sem
		}
	}
	return group
}

// roomInFlight keeps at most MaxInflightBytes in flight (less after a failure: see
// window). Documents in flight cannot be evicted, so if calls held most of the budget an
// overflow could only evict the newest documents; with half of it queued, eviction drops
// the oldest, as promised. One call is always allowed.
func (e *Exporter) roomInFlight() bool {
	f := e.o.Queue.InFlightBytes()
	return f == 0 || f < e.window.Load()
}

// maxGroup bounds how many batches one goroutine sends at once.
const maxGroup = 16

// start launches the calls for batches popped by the caller (each holds a sem slot).
func (e *Exporter) start(group [][]*queue.Item) {
	if len(group) == 0 {
		return
	}
	if ms, ok := e.o.Sender.(MultiSender); ok && len(group) > 1 {
		e.wg.Add(1)
		go e.callMany(ms, group)
		return
	}
	for _, b := range group {
		e.wg.Add(1)
		go e.call(b)
	}
}

// Health reports whether the backend has been failing, and since when.
func (e *Exporter) Health() (failingSince time.Time, lastErr string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failingSince, e.lastErr
}

// Shutdown flushes every queued document, including partial batches, until the queue is
// empty or ctx ends. At the deadline in-flight calls are aborted and what is left is
// handed to Spill or counted as dropped (reason drain). It returns how many documents
// could not be delivered.
func (e *Exporter) Shutdown(ctx context.Context) (undelivered int) {
	e.stopOnce.Do(func() { close(e.stopCh) })
	select {
	case <-e.done:
	case <-ctx.Done():
		e.cancel()
		<-e.done
	}
	e.cancel()
	e.wg.Wait()
	// Whatever is still queued (the deadline passed, or calls failed at the very end).
	var rest []*queue.Item
	for e.o.Queue.Len() > 0 {
		rest = e.o.Queue.Pop(rest[:0], 1<<20, 1<<62)
		undelivered += e.giveUp(rest, counters.DropDrain)
	}
	return undelivered
}

// giveUp spills or drops items and releases them; it returns how many were dropped.
func (e *Exporter) giveUp(items []*queue.Item, reason counters.DropReason) int {
	if len(items) == 0 {
		return 0
	}
	kept := 0
	if e.o.Spill != nil {
		kept = e.o.Spill(items, reason)
	}
	dropped := len(items) - kept
	if dropped > 0 {
		e.o.Counters.AddDropped(reason, int64(dropped))
	}
	e.o.Queue.Done(items)
	return dropped
}

func (e *Exporter) stopping() bool {
	select {
	case <-e.stopCh:
		return true
	default:
		return false
	}
}

// run is the dispatcher: it decides when a batch leaves and starts its call.
func (e *Exporter) run() {
	defer close(e.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// wait sleeps for d, or until the queue gets its first document (ready), a call
	// finishes (done), or a stop. Waking only for what matters keeps an active daemon
	// from waking this goroutine for every push or every call.
	wait := func(d time.Duration, ready, done bool) bool { // false when aborted
		var readyCh <-chan struct{}
		var doneCh <-chan struct{}
		if ready {
			readyCh = e.o.Queue.Ready()
		}
		if done {
			doneCh = e.sendDone
		}
		stopCh := e.stopCh
		if e.stopping() {
			stopCh = nil
		}
		timer.Reset(d)
		select {
		case <-timer.C:
		case <-readyCh:
		case <-doneCh:
		case <-stopCh:
		case <-e.ctx.Done():
			return false
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		return true
	}
	for {
		if e.ctx.Err() != nil {
			return
		}
		stopping := e.stopping()
		now := e.o.Now()
		e.mu.Lock()
		backoff := e.backoffUntil.Sub(now)
		e.mu.Unlock()
		if backoff > 0 {
			// Sleep through the backoff but wake for the drain deadline.
			timer.Reset(backoff)
			select {
			case <-timer.C:
			case <-e.ctx.Done():
				return
			}
			continue
		}
		n := e.o.Queue.Len()
		oldest, any := e.o.Queue.Oldest()
		age := now.Sub(oldest)
		full := n >= e.o.BatchSize && (n >= e.o.BatchSize*e.o.GroupBatches || age >= e.o.GroupWait)
		due := any && (stopping || full || age >= e.o.FlushInterval)
		if due {
			if !e.roomInFlight() {
				if !wait(time.Second, false, true) {
					return
				}
				continue
			}
			select {
			case e.sem <- struct{}{}:
			default:
				// All slots busy: wait for a call to finish.
				if !wait(time.Second, false, true) {
					return
				}
				continue
			}
			e.dispatch()
			continue
		}
		// Read the in-flight count before the queue: only this goroutine starts calls, so
		// with none in flight nothing can put work back after the queue is seen empty.
		if stopping && len(e.sem) == 0 && e.o.Queue.Len() == 0 {
			return
		}
		d := e.o.FlushInterval
		if any {
			d = e.o.FlushInterval - age
			if n >= e.o.BatchSize {
				d = e.o.GroupWait - age // a full batch waits for its group at most GroupWait
			}
		}
		if d < time.Millisecond {
			d = time.Millisecond
		}
		// Empty queue: wait for the first document. Otherwise only the oldest one's
		// flush time matters (full batches are started by kick); while stopping, wait
		// for in-flight calls, which may put documents back.
		if !wait(d, !any, stopping) {
			return
		}
	}
}

// dispatch pops one batch (it owns one sem slot for it), adds what full batches it can,
// and starts them together: after an outage or at a drain, the backlog goes out in
// groups, as a steady stream does.
func (e *Exporter) dispatch() {
	b := e.popLive()
	if b == nil {
		<-e.sem
		return
	}
	e.start(e.fill([][]*queue.Item{b}))
}

// popLive pops one batch, drops (or spills) the documents older than the maximum retry
// age, and returns the rest; nil when nothing is left.
func (e *Exporter) popLive() []*queue.Item {
	batch := e.o.Queue.Pop(make([]*queue.Item, 0, e.o.BatchSize), e.o.BatchSize, e.o.MaxBatchBytes)
	now := e.o.Now()
	live := batch[:0]
	var expired []*queue.Item
	for _, it := range batch {
		if now.Sub(it.Enqueued) > e.o.MaxRetryAge {
			expired = append(expired, it)
			continue
		}
		live = append(live, it)
	}
	if n := e.giveUp(expired, counters.DropMaxAge); n > 0 {
		e.o.Logger.Warn("Dropped segments older than the maximum retry age", "count", n, "max_age", e.o.MaxRetryAge, "backend", e.o.Sender.Name())
	}
	if len(live) == 0 {
		return nil
	}
	return live
}

func (e *Exporter) call(batch []*queue.Item) {
	defer e.wg.Done()
	docs := e.prepare(batch)
	ctx, cancel := context.WithTimeout(e.ctx, e.o.AttemptTimeout)
	start := time.Now()
	res, err := e.o.Sender.Send(ctx, docs)
	cancel()
	e.finish(batch, res, err, time.Since(start))
	e.release()
}

// callMany sends several batches through a MultiSender from one goroutine.
func (e *Exporter) callMany(ms MultiSender, group [][]*queue.Item) {
	defer e.wg.Done()
	all := make([][][]byte, len(group))
	n := 0
	for _, b := range group {
		n += len(b)
	}
	flat := make([][]byte, n) // one allocation for the group's document lists
	for i, b := range group {
		all[i] = e.prepareInto(flat[:len(b):len(b)], b)
		flat = flat[len(b):]
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.o.AttemptTimeout)
	start := time.Now()
	results, errs := ms.SendMany(ctx, all)
	cancel()
	d := time.Since(start)
	for i, b := range group {
		e.finish(b, results[i], errs[i], d)
	}
	for range group {
		e.release()
	}
}

// prepare returns the batch's documents and counts the re-sent ones.
func (e *Exporter) prepare(batch []*queue.Item) [][]byte {
	return e.prepareInto(make([][]byte, len(batch)), batch)
}

// prepareInto is prepare with docs (len(batch) long) provided.
func (e *Exporter) prepareInto(docs [][]byte, batch []*queue.Item) [][]byte {
	retries := 0
	for i, it := range batch {
		docs[i] = it.Data
		if it.Attempts > 0 {
			retries++
		}
	}
	if retries > 0 {
		e.o.Counters.Retried.Add(int64(retries))
	}
	return docs
}

// release frees one call slot, tells a waiting dispatcher, and starts what piled up
// meanwhile (this goroutine is awake anyway).
func (e *Exporter) release() {
	<-e.sem
	select {
	case e.sendDone <- struct{}{}:
	default:
	}
	e.kick()
}

// finish applies a call's outcome to its batch.
func (e *Exporter) finish(batch []*queue.Item, res Result, err error, took time.Duration) {
	if e.o.ObserveCall != nil {
		e.o.ObserveCall(e.o.Sender.Name(), took, err)
	}
	if err != nil {
		e.failed(batch, AsCallError(err))
		return
	}
	e.succeeded()
	var again, invalid []*queue.Item
	var seen []bool
	if len(res.Unprocessed) > 0 {
		seen = make([]bool, len(batch))
	}
	for _, u := range res.Unprocessed {
		if u.Index < 0 || u.Index >= len(batch) || seen[u.Index] {
			continue
		}
		seen[u.Index] = true
		if u.Retryable {
			batch[u.Index].Attempts++
			again = append(again, batch[u.Index])
			continue
		}
		invalid = append(invalid, batch[u.Index])
		e.o.Logger.Error("Unprocessed segment", "trace_id", u.TraceID, "id", u.ID, "code", u.Code, "message", u.Message, "backend", e.o.Sender.Name())
	}
	sent := len(batch) - len(again) - len(invalid)
	e.o.Counters.Sent.Add(int64(sent))
	e.o.Counters.Batches.Add(1)
	if len(invalid) > 0 {
		e.o.Counters.Rejected.Add(int64(len(invalid)))
	}
	if len(res.Unprocessed) > 0 {
		e.o.Logger.Info("Sent batch with unprocessed segments", "count", len(batch), "unprocessed", len(res.Unprocessed), "requeued", len(again), "seconds", took.Seconds())
	} else {
		e.o.Logger.Debug("Successfully sent batch", "count", len(batch), "seconds", took.Seconds())
	}
	if len(again) == 0 {
		e.o.Queue.Done(batch)
		return
	}
	rest := make([]*queue.Item, 0, len(batch)-len(again))
	for _, it := range batch {
		if it.Attempts == 0 || !contains(again, it) {
			rest = append(rest, it)
		}
	}
	e.o.Queue.Done(rest)
	e.requeue(again)
}

func (e *Exporter) failed(batch []*queue.Item, ce *CallError) {
	e.o.Counters.AddBackendError(ce.Class)
	now := e.o.Now()
	e.mu.Lock()
	e.failures++
	if e.failingSince.IsZero() {
		e.failingSince = now
	}
	e.lastErr = ce.Error()
	e.window.Store(max(e.o.MaxInflightBytes/32, 1))
	d := e.backoffLocked(ce)
	e.backoffUntil = now.Add(d)
	failures := e.failures
	e.mu.Unlock()
	if !ce.Retryable {
		n := e.giveUp(batch, counters.DropInvalid)
		e.o.Logger.Error("Sending segment batch failed; the backend refused it and it will not be retried", "backend", e.o.Sender.Name(), "count", len(batch), "dropped", n, "error", ce.Error())
		return
	}
	for _, it := range batch {
		it.Attempts++
	}
	if failures == 1 || failures%20 == 0 {
		e.o.Logger.Warn("Sending segment batch failed; will retry", "backend", e.o.Sender.Name(), "count", len(batch), "consecutive_failures", failures, "retry_in", d.Round(time.Millisecond), "queued_bytes", e.o.Queue.Bytes(), "error", ce.Error())
	}
	e.requeue(batch)
}

func (e *Exporter) requeue(items []*queue.Item) {
	e.o.Queue.PushFront(items)
}

func (e *Exporter) succeeded() {
	if w := e.window.Load(); w < e.o.MaxInflightBytes {
		e.window.CompareAndSwap(w, min(2*w, e.o.MaxInflightBytes))
	}
	e.mu.Lock()
	if e.failures > 0 {
		e.o.Logger.Info("Backend recovered", "backend", e.o.Sender.Name(), "after_failures", e.failures)
	}
	e.failures = 0
	e.failingSince = time.Time{}
	e.mu.Unlock()
}

// backoffLocked is exponential with jitter in [d/2, d]; throttling waits at least 1 s,
// and a Retry-After hint is honoured up to BackoffMax.
func (e *Exporter) backoffLocked(ce *CallError) time.Duration {
	d := e.o.BackoffInitial << min(e.failures-1, 20)
	if ce.Throttled && d < time.Second {
		d = time.Second
	}
	if d > e.o.BackoffMax || d <= 0 {
		d = e.o.BackoffMax
	}
	d = d/2 + time.Duration(e.o.Rand()*float64(d/2))
	if ce.RetryAfter > d {
		d = min(ce.RetryAfter, e.o.BackoffMax)
	}
	return d
}

func contains(items []*queue.Item, it *queue.Item) bool {
	for _, x := range items {
		if x == it {
			return true
		}
	}
	return false
}
