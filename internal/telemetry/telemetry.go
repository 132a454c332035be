// Package telemetry reports the daemon's own counters to X-Ray with
// PutTelemetryRecords, as upstream does (daemon.md §13): one record per interval once a
// datagram has ever arrived, at most 30 waiting, at most 10 per call, unsent records kept
// for the next cycle, and a final cycle at shutdown.
//
// Unlike upstream, BackendConnectionErrors really count: they come from the shared
// counters, which the exporter fills by error class.
package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/xrayd/xrayd/internal/counters"
)

// Limits from upstream.
const (
	DefaultInterval = 60 * time.Second
	maxQueued       = 30
	maxPerCall      = 10
	sendTimeout     = 10 * time.Second
)

// Options configure a Reporter.
type Options struct {
	Counters *counters.Set
	// Send delivers one PutTelemetryRecords request body (for example awsconf.AWS.Call
	// on "/TelemetryRecords"). A returned error keeps the records for the next cycle.
	Send        func(ctx context.Context, body []byte) error
	Interval    time.Duration // 0 means DefaultInterval
	Now         func() time.Time
	Hostname    string
	InstanceID  string
	ResourceARN string
	Logger      *slog.Logger
}

// Reporter is the telemetry component. Start it once; Shutdown runs the final cycle.
type Reporter struct {
	o Options

	mu    sync.Mutex // guards the fields below; held for a whole cycle
	prev  counters.Snapshot
	queue []Record

	startOnce, stopOnce sync.Once
	started             bool
	cancel              context.CancelFunc
	done                chan struct{}
}

// Record is one TelemetryRecord as X-Ray expects it.
type Record struct {
	Timestamp               epochMillis
	SegmentsReceivedCount   int64
	SegmentsRejectedCount   int64
	SegmentsSentCount       int64
	SegmentsSpilloverCount  int64
	BackendConnectionErrors BackendConnectionErrors
}

// BackendConnectionErrors counts failed upload calls by class.
type BackendConnectionErrors struct {
	TimeoutCount           int64
	ConnectionRefusedCount int64
	HTTPCode4XXCount       int64
	HTTPCode5XXCount       int64
	UnknownHostCount       int64
	OtherCount             int64
}

type request struct {
	EC2InstanceID    string `json:"EC2InstanceId"`
	Hostname         string
	ResourceARN      string
	TelemetryRecords []Record
}

// epochMillis marshals as a JSON number of seconds with a millisecond fraction.
type epochMillis time.Time

func (t epochMillis) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatInt(ms/1000, 10) + "." + fmt.Sprintf("%03d", ms%1000)), nil
}

// New returns a Reporter. It does no I/O.
func New(o Options) *Reporter {
	if o.Counters == nil {
		o.Counters = &counters.Set{}
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Send == nil {
		o.Send = func(context.Context, []byte) error { return nil }
	}
	return &Reporter{o: o, done: make(chan struct{})}
}

// Start launches the periodic cycle. The context only bounds start-up.
func (r *Reporter) Start(context.Context) error {
	r.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		r.mu.Lock()
		r.started, r.cancel = true, cancel
		r.mu.Unlock()
		go r.loop(ctx)
	})
	return nil
}

func (r *Reporter) loop(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.cycle(ctx)
		}
	}
}

// Shutdown stops the periodic cycle (aborting a send in flight; its records stay queued)
// and runs one final cycle within ctx.
func (r *Reporter) Shutdown(ctx context.Context) error {
	var err error
	r.stopOnce.Do(func() {
		r.mu.Lock()
		started, cancel := r.started, r.cancel
		r.mu.Unlock()
		if !started {
			return
		}
		cancel()
		select {
		case <-r.done:
		case <-ctx.Done():
			err = ctx.Err()
			return
		}
		r.cycle(ctx)
		if n := r.pending(); n > 0 {
			err = fmt.Errorf("telemetry: %d records not sent at shutdown", n)
		}
	})
	return err
}

func (r *Reporter) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queue)
}

// cycle records the period's counters (once anything was ever received) and sends
// everything queued.
func (r *Reporter) cycle(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.o.Counters.EverReceived() {
		r.enqueue(r.record())
	}
	r.flush(ctx)
}

func (r *Reporter) record() Record {
	now := r.o.Counters.Snapshot()
	d := now.Sub(r.prev)
	r.prev = now
	e := d.BackendErrors
	return Record{
		Timestamp:             epochMillis(r.o.Now()),
		SegmentsReceivedCount: d.Received,
		SegmentsRejectedCount: d.Rejected,
		SegmentsSentCount:     d.Sent,
		// Segments refused as invalid are already in SegmentsRejectedCount.
		SegmentsSpilloverCount: d.DroppedTotal(), // every drop; invalid unprocessed entries are counted in Rejected, not as drops
		BackendConnectionErrors: BackendConnectionErrors{
			TimeoutCount:           e[counters.ErrTimeout],
			ConnectionRefusedCount: e[counters.ErrConnectionRefused],
			HTTPCode4XXCount:       e[counters.ErrHTTP4XX],
			HTTPCode5XXCount:       e[counters.ErrHTTP5XX],
			UnknownHostCount:       e[counters.ErrUnknownHost],
			OtherCount:             e[counters.ErrOther],
		},
	}
}

func (r *Reporter) enqueue(rec Record) {
	if len(r.queue) == maxQueued {
		r.o.Logger.Debug("Telemetry queue full, dropping the oldest record")
		copy(r.queue, r.queue[1:])
		r.queue = r.queue[:maxQueued-1]
	}
	r.queue = append(r.queue, rec)
}

// flush sends queued records oldest first, maxPerCall at a time, stopping at the first
// failure so the rest wait for the next cycle.
func (r *Reporter) flush(ctx context.Context) {
	for len(r.queue) > 0 {
		n := min(len(r.queue), maxPerCall)
		body, err := json.Marshal(request{
			EC2InstanceID:    r.o.InstanceID,
			Hostname:         r.o.Hostname,
			ResourceARN:      r.o.ResourceARN,
			TelemetryRecords: r.queue[:n],
		})
		if err != nil {
			r.o.Logger.Error("Telemetry records cannot be encoded", "error", err)
			return
		}
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		err = r.o.Send(sctx, body)
		cancel()
		if err != nil {
			r.o.Logger.Debug("Failed to send telemetry records, keeping them for the next cycle", "records", len(r.queue), "error", err)
			return
		}
		r.queue = append(r.queue[:0], r.queue[n:]...)
	}
}
