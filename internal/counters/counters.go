// Package counters holds the daemon's own counters: one struct, created once by the
// daemon and passed to every component that counts (intake, queue, exporters) and to
// every component that reports (telemetry, metrics). All fields are safe for concurrent use.
package counters

import "sync/atomic"

// DropReason says why a segment was dropped after it was accepted.
type DropReason int

// Drop reasons. Keep in sync with DropReasonNames.
const (
	DropBudget  DropReason = iota // memory budget full: oldest segment evicted
	DropMaxAge                    // retried until it outlived its maximum age
	DropDrain                     // still buffered when the shutdown deadline passed
	DropInvalid                   // the backend refused it as invalid (UnprocessedTraceSegments, not retryable)
	DropSpool                     // the on-disk spool was full or failed
	numDropReasons
)

// DropReasonNames are the label values used in metrics and logs.
var DropReasonNames = [numDropReasons]string{"budget", "max_age", "drain", "invalid", "spool"}

// String returns the reason's label.
func (r DropReason) String() string {
	if r < 0 || r >= numDropReasons {
		return "unknown"
	}
	return DropReasonNames[r]
}

// ErrorClass classifies a failed backend call, as upstream's telemetry does.
type ErrorClass int

// Backend error classes, matching PutTelemetryRecords' BackendConnectionErrors.
const (
	ErrTimeout ErrorClass = iota
	ErrConnectionRefused
	ErrHTTP4XX
	ErrHTTP5XX
	ErrUnknownHost
	ErrOther
	numErrorClasses
)

// ErrorClassNames are the label values used in metrics.
var ErrorClassNames = [numErrorClasses]string{"timeout", "connection_refused", "http_4xx", "http_5xx", "unknown_host", "other"}

// String returns the class's label.
func (c ErrorClass) String() string {
	if c < 0 || c >= numErrorClasses {
		return "unknown"
	}
	return ErrorClassNames[c]
}

// Set is the daemon's counters. The zero value is ready to use. Counters only grow;
// telemetry computes per-period deltas itself (see Snapshot).
type Set struct {
	Received      atomic.Int64 // non-empty datagrams read (and documents accepted over the API)
	Rejected      atomic.Int64 // datagrams refused at intake (bad header, empty body) plus invalid unprocessed entries
	Sent          atomic.Int64 // segments the backend accepted
	Retried       atomic.Int64 // segments re-sent after a failed or throttled call
	dropped       [numDropReasons]atomic.Int64
	backendErrors [numErrorClasses]atomic.Int64
	Batches       atomic.Int64 // upload calls that succeeded
	everReceived  atomic.Bool
}

// AddDropped counts n segments dropped for reason r.
func (s *Set) AddDropped(r DropReason, n int64) { s.dropped[r].Add(n) }

// Dropped returns the segments dropped for reason r so far.
func (s *Set) Dropped(r DropReason) int64 { return s.dropped[r].Load() }

// DroppedTotal returns all segments dropped so far, whatever the reason.
func (s *Set) DroppedTotal() int64 {
	var t int64
	for i := range s.dropped {
		t += s.dropped[i].Load()
	}
	return t
}

// AddBackendError counts one failed backend call of class c.
func (s *Set) AddBackendError(c ErrorClass) { s.backendErrors[c].Add(1) }

// BackendErrors returns the failed calls of class c so far.
func (s *Set) BackendErrors(c ErrorClass) int64 { return s.backendErrors[c].Load() }

// MarkReceived records that at least one datagram has ever arrived (telemetry starts then).
func (s *Set) MarkReceived() {
	if !s.everReceived.Load() {
		s.everReceived.Store(true)
	}
}

// EverReceived reports whether any datagram has ever arrived.
func (s *Set) EverReceived() bool { return s.everReceived.Load() }

// Snapshot is a point-in-time copy of the counters.
type Snapshot struct {
	Received, Rejected, Sent, Retried int64
	Dropped                           [numDropReasons]int64
	BackendErrors                     [numErrorClasses]int64
	// Gauges: the queue fills them in (metrics reads it directly); Sub keeps them as is.
	QueueBytes, QueueSegments int64
}

// Snapshot copies the counters. Fields are read one by one, so a snapshot taken while
// segments flow may be off by the few segments in flight between two loads.
func (s *Set) Snapshot() Snapshot {
	var sn Snapshot
	sn.Received = s.Received.Load()
	sn.Rejected = s.Rejected.Load()
	sn.Sent = s.Sent.Load()
	sn.Retried = s.Retried.Load()
	for i := range s.dropped {
		sn.Dropped[i] = s.dropped[i].Load()
	}
	for i := range s.backendErrors {
		sn.BackendErrors[i] = s.backendErrors[i].Load()
	}
	return sn
}

// DroppedTotal sums the snapshot's drops.
func (sn Snapshot) DroppedTotal() int64 {
	var t int64
	for _, v := range sn.Dropped {
		t += v
	}
	return t
}

// Sub returns sn - prev, field by field (gauges are taken from sn as they are).
func (sn Snapshot) Sub(prev Snapshot) Snapshot {
	d := sn
	d.Received -= prev.Received
	d.Rejected -= prev.Rejected
	d.Sent -= prev.Sent
	d.Retried -= prev.Retried
	for i := range d.Dropped {
		d.Dropped[i] -= prev.Dropped[i]
	}
	for i := range d.BackendErrors {
		d.BackendErrors[i] -= prev.BackendErrors[i]
	}
	return d
}
