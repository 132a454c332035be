package awsconf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xrayd/xrayd/internal/awsjson"
	"github.com/xrayd/xrayd/internal/counters"
)

// ErrCredentials marks a call that was not sent because credentials were unavailable.
var ErrCredentials = errors.New("AWS credentials unavailable")

// maxResponseBytes bounds what Call reads from an X-Ray response.
const maxResponseBytes = 4 << 20

// SignedPost POSTs a JSON body to APIEndpoint+path, SigV4-signed for service "xray" in
// the daemon's region, with the daemon's User-Agent and X-Amzn-Xray-Timestamp. The caller
// closes the response body. Credential failures wrap ErrCredentials and send nothing.
func (a *AWS) SignedPost(ctx context.Context, path string, body []byte) (*http.Response, error) {
	req, err := a.signedRequest(ctx, path, body)
	if err != nil {
		return nil, err
	}
	return a.HTTPClient.Do(req)
}

func (a *AWS) signedRequest(ctx context.Context, path string, body []byte) (*http.Request, error) {
	creds, err := a.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, joinPath(a.APIEndpoint, path).String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building request for %s: %w", path, err)
	}
	now := a.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", a.UserAgent)
	req.Header.Set("X-Amzn-Xray-Timestamp", xrayTimestamp(now))
	sum := sha256.Sum256(body)
	if err := a.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "xray", a.Region, now); err != nil {
		return nil, fmt.Errorf("signing request for %s: %w", path, err)
	}
	return req, nil
}

// xrayTimestamp formats t as unix seconds with 9 decimals.
func xrayTimestamp(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10) + "." + fmt.Sprintf("%09d", t.Nanosecond())
}

// Call is SignedPost that reads the response: it returns the body of a 2xx response, or
// an *APIError for any other status.
func (a *AWS) Call(ctx context.Context, path string, body []byte) ([]byte, error) {
	resp, err := a.SignedPost(ctx, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("reading %s response: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, parseAPIError(resp, data)
	}
	return data, nil
}

// APIError is a non-2xx answer from X-Ray.
type APIError struct {
	StatusCode int
	Code       string // e.g. ThrottledException; may be empty
	Message    string
	RequestID  string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("X-Ray returned HTTP %d", e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request id " + e.RequestID + ")"
	}
	return s
}

// Throttled reports whether the service asked the caller to slow down.
func (e *APIError) Throttled() bool {
	return e.StatusCode == http.StatusTooManyRequests || strings.Contains(e.Code, "Throttl")
}

// parseAPIError reads the error code as SDKs do (xray-api.md §1.1).
func parseAPIError(resp *http.Response, body []byte) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Amzn-Requestid")}
	e.Code, e.Message = awsjson.ErrorCode(resp.Header, body)
	return e
}

// ErrorClass classifies a failed call for telemetry's BackendConnectionErrors.
func ErrorClass(err error) counters.ErrorClass {
	var apiErr *APIError
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &apiErr):
		if apiErr.StatusCode >= 500 {
			return counters.ErrHTTP5XX
		}
		if apiErr.StatusCode >= 400 {
			return counters.ErrHTTP4XX
		}
		return counters.ErrOther
	case errors.Is(err, context.DeadlineExceeded):
		return counters.ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return counters.ErrConnectionRefused
	case errors.As(err, &dnsErr):
		return counters.ErrUnknownHost
	case errors.As(err, &netErr) && netErr.Timeout():
		return counters.ErrTimeout
	}
	return counters.ErrOther
}
