// Package export moves queued segments to a backend. An Exporter takes batches from the
// byte-bounded queue, hands them to a Sender (X-Ray, the local store, OTLP), and owns what
// every backend needs alike: batching by count, bytes and age, bounded concurrency,
// exponential backoff with jitter on throttling and failures, re-queueing instead of
// dropping, a maximum age, and a drain with a deadline at shutdown.
package export

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xrayd/xrayd/internal/counters"
)

// Sender delivers one batch of segment documents to a backend.
type Sender interface {
	// Name is the backend's name for logs and metrics ("xray", "local", "otlp").
	Name() string
	// Send delivers docs in one call. A non-nil error means the whole call failed; return a
	// *CallError to say whether it is worth retrying. Per-document refusals go in Result.
	Send(ctx context.Context, docs [][]byte) (Result, error)
}

// MultiSender is implemented by senders that can make several calls at once more cheaply
// than one goroutine per call: writing every request before waiting for the first answer
// costs one thread wake-up for the group instead of several per call, which at tens of
// thousands of segments a second is most of a relay's CPU. results[i] and errs[i] are
// what Send would have returned for batches[i].
type MultiSender interface {
	Sender
	SendMany(ctx context.Context, batches [][][]byte) (results []Result, errs []error)
}

// Result is what a backend said about a batch it accepted.
type Result struct {
	Unprocessed []Unprocessed
}

// Unprocessed is one document the backend did not take.
type Unprocessed struct {
	Index     int    // position of the document in the batch
	ID        string // segment id, when known
	TraceID   string // trace id, when known
	Code      string // backend error code
	Message   string
	Retryable bool // true for throttling or internal errors: the document is sent again
}

// CallError describes a failed backend call.
type CallError struct {
	Class      counters.ErrorClass
	Status     int    // HTTP status, 0 when no response
	Code       string // backend error type, e.g. ThrottledException
	Retryable  bool
	Throttled  bool
	RetryAfter time.Duration // backend's hint, 0 when none
	Err        error
}

func (e *CallError) Error() string {
	switch {
	case e.Status != 0 && e.Code != "":
		return fmt.Sprintf("HTTP %d %s: %v", e.Status, e.Code, e.Err)
	case e.Status != 0:
		return fmt.Sprintf("HTTP %d: %v", e.Status, e.Err)
	default:
		return fmt.Sprintf("%s: %v", e.Class, e.Err)
	}
}

func (e *CallError) Unwrap() error { return e.Err }

// AsCallError returns err as a *CallError, classifying plain errors as retryable "other"
// failures (a context deadline as a timeout).
func AsCallError(err error) *CallError {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &CallError{Class: counters.ErrTimeout, Retryable: true, Err: err}
	}
	return &CallError{Class: counters.ErrOther, Retryable: true, Err: err}
}
