// Package otlp is the exporter's OpenTelemetry backend: it translates X-Ray segment
// documents into OTLP spans (the mapping of the Collector's awsxrayreceiver) and sends
// each batch as one ExportTraceServiceRequest over OTLP/HTTP or OTLP/gRPC.
//
// In-progress documents are held until their complete version arrives, so that a backend
// sees each span once and finished; one that waits longer than InProgressTimeout is
// exported as unfinished (end = start, aws.xray.in_progress = true). Retries, backoff,
// queueing and draining belong to export.Exporter, which calls Send.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xrayd/xrayd/internal/export"
)

// Defaults for Options.
const (
	DefaultTimeout            = 10 * time.Second
	DefaultInProgressTimeout  = 60 * time.Second
	DefaultMaxInProgress      = 10000
	DefaultMaxInProgressBytes = 16 << 20
)

// Options configure a Sender. Zero values take the defaults.
type Options struct {
	// Endpoint is the collector: for "http" a URL such as http://localhost:4318 (the path
	// /v1/traces is added unless present; without a scheme https is assumed, or http when
	// Insecure); for "grpc" host:port or http(s)://host:port.
	Endpoint string
	// Protocol is "http" (default) or "grpc".
	Protocol string
	// Headers are added to every request (gRPC metadata), e.g. for authentication.
	Headers map[string]string
	// Insecure means plain text: no TLS for gRPC, http:// for a scheme-less HTTP endpoint.
	Insecure bool
	// CAFile is a PEM bundle of the CAs to trust instead of the system's.
	CAFile string
	// InsecureSkipVerify disables the server certificate check.
	InsecureSkipVerify bool
	// Timeout bounds each call, inside whatever deadline the caller's context has;
	// default 10s.
	Timeout time.Duration
	// InProgressTimeout is how long an in-progress document waits for its complete
	// version before it is exported as unfinished; default 60s.
	InProgressTimeout time.Duration
	// MaxInProgress and MaxInProgressBytes bound the held in-progress documents; the
	// oldest are exported as unfinished to make room. Defaults 10000 and 16 MiB.
	MaxInProgress      int
	MaxInProgressBytes int64
	Logger             *slog.Logger
	Now                func() time.Time
}

func (o *Options) defaults() {
	if o.Protocol == "" {
		o.Protocol = "http"
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.InProgressTimeout <= 0 {
		o.InProgressTimeout = DefaultInProgressTimeout
	}
	if o.MaxInProgress <= 0 {
		o.MaxInProgress = DefaultMaxInProgress
	}
	if o.MaxInProgressBytes <= 0 {
		o.MaxInProgressBytes = DefaultMaxInProgressBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Validate reports the first option that cannot work, naming it.
func (o *Options) Validate() error {
	if o.Endpoint == "" {
		return errors.New("OTLP Endpoint is empty: set --otlp-endpoint to the collector's URL")
	}
	if o.Protocol != "" && o.Protocol != "http" && o.Protocol != "grpc" {
		return fmt.Errorf("OTLP Protocol %q is not supported: use http or grpc", o.Protocol)
	}
	for k := range o.Headers {
		if k == "" {
			return errors.New("OTLP Headers: a header name is empty")
		}
	}
	return validHeaders(o.Headers)
}

// Sender implements export.Sender for OTLP backends.
type Sender struct {
	o       Options
	tr      transport
	pending *pending
	tpool   sync.Pool // *translator

	unfinished atomic.Int64 // spans exported unfinished after waiting for their complete version
	rejected   atomic.Int64 // spans the backend refused in partial-success answers

	ctx    context.Context // ends at Close; aborts a sweep in flight
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Stats describe the Sender's own state, for metrics.
type Stats struct {
	Held          int   // in-progress documents waiting for their complete version
	HeldBytes     int64 // their size
	Unfinished    int64 // exported as unfinished (timeout, bounds or Flush)
	Superseded    int64 // in-progress versions dropped because the complete one came first
	HeldDropped   int64 // held documents lost: a failed export left no room to keep them
	RejectedSpans int64 // refused by the backend in partial-success answers
}

// New makes a Sender and starts the goroutine that exports timed-out in-progress
// documents when no batch comes to carry them. Close stops it.
func New(o Options) (*Sender, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o.defaults()
	var tr transport
	var err error
	switch o.Protocol {
	case "grpc":
		tr, err = newGRPCTransport(&o)
	default:
		tr, err = newHTTPTransport(&o)
	}
	if err != nil {
		return nil, err
	}
	s := &Sender{
		o: o, tr: tr,
		pending: newPending(o.InProgressTimeout, o.MaxInProgress, o.MaxInProgressBytes),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.sweep()
	return s, nil
}

// Name implements export.Sender.
func (s *Sender) Name() string { return "otlp" }

// Stats reports the in-progress state and counts.
func (s *Sender) Stats() Stats {
	n, b, sup, dropped := s.pending.stats()
	return Stats{Held: n, HeldBytes: b, Unfinished: s.unfinished.Load(), Superseded: sup, HeldDropped: dropped, RejectedSpans: s.rejected.Load()}
}

// Send implements export.Sender: docs become one ExportTraceServiceRequest, together
// with any held in-progress documents whose time is up. Documents that cannot be
// translated are reported in Result.Unprocessed and not retried.
func (s *Sender) Send(ctx context.Context, docs [][]byte) (export.Result, error) {
	t := s.translator()
	defer s.tpool.Put(t)
	now := s.o.Now()
	var res export.Result
	for i, doc := range docs {
		segs, err := t.p.parse(doc)
		if err != nil {
			res.Unprocessed = append(res.Unprocessed, unprocessed(i, doc, err))
			continue
		}
		for _, seg := range segs {
			if seg.inProgress {
				raw := doc
				if seg.independentElement {
					raw = seg.raw
				}
				t.holds = append(t.holds, holdRequest{key: keyOf(&seg.traceID, seg), doc: raw})
				continue
			}
			t.done = append(t.done, keyOf(&seg.traceID, seg))
			t.embeddedKeys(&seg.traceID, seg.firstChild)
			t.enc.document(seg)
		}
	}
	out := s.pending.update(t.done, t.embedded, t.holds, now)
	clear(t.holds) // the documents belong to the caller
	if err := s.export(ctx, t, out); err != nil {
		return export.Result{}, err
	}
	return res, nil
}

// maxGroupBytes bounds the documents SendMany puts in one request: under the 4 MiB
// that gRPC servers accept by default once translated.
const maxGroupBytes = 2 << 20

// SendMany implements export.MultiSender. OTLP requests are not tied to X-Ray's batches,
// so the batches of a group go out together in as few requests as fit maxGroupBytes:
// one call, one wait, one compression per group instead of one per batch. A failed
// request fails every batch it carried.
func (s *Sender) SendMany(ctx context.Context, batches [][][]byte) ([]export.Result, []error) {
	results := make([]export.Result, len(batches))
	errs := make([]error, len(batches))
	for start := 0; start < len(batches); {
		end, size, n := start, 0, 0
		for end < len(batches) {
			b := 0
			for _, d := range batches[end] {
				b += len(d)
			}
			if end > start && size+b > maxGroupBytes {
				break
			}
			size, n, end = size+b, n+len(batches[end]), end+1
		}
		docs := make([][]byte, 0, n)
		for _, b := range batches[start:end] {
			docs = append(docs, b...)
		}
		res, err := s.Send(ctx, docs)
		// Hand each batch its own errors, with indexes into it.
		offset := 0
		for i := start; i < end; i++ {
			errs[i] = err
			for _, u := range res.Unprocessed {
				if u.Index >= offset && u.Index < offset+len(batches[i]) {
					u.Index -= offset
					results[i].Unprocessed = append(results[i].Unprocessed, u)
				}
			}
			offset += len(batches[i])
		}
		start = end
	}
	return results, errs
}

func (s *Sender) translator() *translator {
	t, _ := s.tpool.Get().(*translator)
	if t == nil {
		t = new(translator)
	}
	t.enc.reset()
	clear(t.holds) // drop references to documents
	t.done, t.embedded, t.holds = t.done[:0], t.embedded[:0], t.holds[:0]
	return t
}

// export sends what t has encoded plus the held entries in out, as unfinished spans. On
// failure the entries go back to the pending set.
func (s *Sender) export(ctx context.Context, t *translator, out []*pendingEntry) error {
	for _, e := range out {
		_ = t.add(e.doc) // it parsed when it was held
	}
	if t.enc.spans == 0 {
		return nil
	}
	spans := t.enc.spans
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	rejected, msg, err := s.tr.export(ctx, t.enc.finish())
	if err != nil {
		if lost := s.pending.restore(out); lost > 0 {
			s.o.Logger.Warn("Dropped in-progress segments: the OTLP export failed and the in-progress buffer is full", "count", lost, "error", err)
		}
		return err
	}
	s.unfinished.Add(int64(len(out)))
	if rejected > 0 || msg != "" {
		s.rejected.Add(rejected)
		logPartial(s.o.Logger, rejected, msg, spans)
	}
	return nil
}

// Flush exports every held in-progress document now, as unfinished spans, in one call.
// Call it at shutdown, after the exporter has drained, and before Close.
func (s *Sender) Flush(ctx context.Context) error {
	out := s.pending.takeAll()
	if len(out) == 0 {
		return nil
	}
	t := s.translator()
	defer s.tpool.Put(t)
	if err := s.export(ctx, t, out); err != nil {
		return fmt.Errorf("flushing %d in-progress segments: %w", len(out), err)
	}
	return nil
}

// flushExpired exports the held documents whose time is up.
func (s *Sender) flushExpired(ctx context.Context) error {
	out := s.pending.expired(s.o.Now())
	if len(out) == 0 {
		return nil
	}
	t := s.translator()
	defer s.tpool.Put(t)
	return s.export(ctx, t, out)
}

// sweep exports timed-out in-progress documents when traffic is too thin to carry them
// in a batch. A failure leaves them held for the next sweep or batch.
func (s *Sender) sweep() {
	defer s.wg.Done()
	every := min(max(s.o.InProgressTimeout/4, 10*time.Millisecond), 5*time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		if oldest, ok := s.pending.oldest(); !ok || s.o.Now().Sub(oldest) < s.o.InProgressTimeout {
			continue
		}
		if err := s.flushExpired(s.ctx); err != nil {
			s.o.Logger.Debug("Exporting timed-out in-progress segments failed; will try again", "error", err)
		}
	}
}

// Close stops the sweeper and releases connections. It does not send: call Flush first.
func (s *Sender) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.tr.close()
}
