package export

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xrayd/xrayd/internal/counters"
)

// ClassifyTransportError turns an error from an HTTP round trip (no response) into a
// retryable CallError with the telemetry class upstream reports.
func ClassifyTransportError(err error) *CallError {
	ce := &CallError{Class: counters.ErrOther, Retryable: true, Err: err}
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		ce.Class = counters.ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		ce.Class = counters.ErrConnectionRefused
	case errors.As(err, &dnsErr):
		ce.Class = counters.ErrUnknownHost
	case errors.As(err, &netErr) && netErr.Timeout():
		ce.Class = counters.ErrTimeout
	}
	return ce
}

// ClassifyResponse turns a non-2xx HTTP answer into a CallError. code is the AWS error
// type (from x-amzn-ErrorType or the body), possibly empty.
func ClassifyResponse(status int, code string, header http.Header, err error) *CallError {
	ce := &CallError{Status: status, Code: code, Err: err}
	switch {
	case status >= 500:
		ce.Class = counters.ErrHTTP5XX
	case status >= 400:
		ce.Class = counters.ErrHTTP4XX
	default:
		ce.Class = counters.ErrOther
	}
	lc := strings.ToLower(code)
	switch {
	case status == http.StatusTooManyRequests || strings.Contains(lc, "throttl") || strings.Contains(lc, "toomanyrequests") || lc == "slowdown" || lc == "requestlimitexceeded":
		ce.Retryable, ce.Throttled = true, true
	case status >= 500:
		ce.Retryable = true
	case status == http.StatusRequestTimeout:
		ce.Retryable = true
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		// Expired or not-yet-propagated credentials (ECS role rotation, a fresh IAM
		// policy) heal by themselves; keep the data within its maximum age.
		ce.Retryable = true
	}
	if ra := header.Get("Retry-After"); ra != "" {
		if s, perr := strconv.Atoi(ra); perr == nil && s >= 0 {
			ce.RetryAfter = time.Duration(s) * time.Second
		}
	}
	return ce
}

// RetryableCode reports whether an UnprocessedTraceSegments error code means "try later"
// rather than "this document is invalid".
func RetryableCode(code string) bool {
	lc := strings.ToLower(code)
	if strings.Contains(lc, "throttl") || strings.Contains(lc, "internal") || strings.Contains(lc, "unavailable") || strings.Contains(lc, "timeout") {
		return true
	}
	if n, err := strconv.Atoi(code); err == nil {
		return n == 429 || n >= 500
	}
	return false
}
