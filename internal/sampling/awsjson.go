package sampling

// Helpers for the AWS rest-json protocol as X-Ray speaks it (spec xray-api.md §1, §1.1).
// Self-contained on purpose: another package may lift this file into a shared home.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error codes served in x-amzn-ErrorType and __type.
const (
	CodeInvalidRequest    = "InvalidRequestException"
	CodeSerialization     = "SerializationException"
	CodeRuleLimitExceeded = "RuleLimitExceededException"
	CodeRuleAlreadyExists = "SamplingRuleAlreadyExists"
	CodeInternalFailure   = "InternalFailure"
	CodeUnknownOperation  = "UnknownOperationException"
	CodeRequestTooLarge   = "RequestEntityTooLargeException"
)

const (
	maxRequestBody    = 1 << 20
	requestIDHeader   = "x-amzn-RequestId"
	errorTypeHeader   = "x-amzn-ErrorType"
	contentTypeHeader = "Content-Type"
	contentTypeJSON   = "application/json"
	// maxEpochSeconds bounds accepted timestamps (year ~5138) so millisecond maths cannot overflow.
	maxEpochSeconds = 1e11
)

// APIError is an error with an AWS error code and HTTP status. Engine methods return it
// so any HTTP layer can answer exactly as the X-Ray service would.
type APIError struct {
	Status  int    // HTTP status code
	Code    string // AWS error code, e.g. InvalidRequestException
	Message string // human message; names the offending field
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func invalidRequest(format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// AWSTime is a timestamp on the wire: a JSON number of seconds since the epoch with a
// millisecond fraction (1795619839.136). The Go SDK rejects string timestamps, so it
// always marshals as a number; unmarshalling is lenient (numbers, numeric strings,
// RFC 3339 / ISO-8601). The zero value marshals as 0.
type AWSTime struct{ time.Time }

// MarshalJSON writes epoch seconds with at most three decimals.
func (t AWSTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("0"), nil
	}
	ms := t.UnixMilli()
	var b []byte
	if ms < 0 {
		b = append(b, '-')
		ms = -ms
	}
	sec, frac := ms/1000, ms%1000
	b = strconv.AppendInt(b, sec, 10)
	if frac != 0 {
		f := fmt.Sprintf("%03d", frac)
		b = append(b, '.')
		b = append(b, strings.TrimRight(f, "0")...)
	}
	return b, nil
}

// UnmarshalJSON accepts a number, a numeric string, or an ISO-8601 string. null leaves
// the value unchanged (absent).
func (t *AWSTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		parsed, err := parseTimestampString(s)
		if err != nil {
			return err
		}
		t.Time = parsed
		return nil
	}
	parsed, err := parseEpochSeconds(string(b))
	if err != nil {
		return err
	}
	t.Time = parsed
	return nil
}

func parseTimestampString(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if ts, err := parseEpochSeconds(s); err == nil {
		return ts, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02"} {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q: want epoch seconds or ISO-8601", truncate(s, 40))
}

// parseEpochSeconds parses decimal seconds exactly (no float rounding for the common
// "1795619839.136" form) and falls back to float parsing for exponents.
func parseEpochSeconds(s string) (time.Time, error) {
	bad := fmt.Errorf("invalid timestamp %q: want epoch seconds", truncate(s, 40))
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.Abs(f) > maxEpochSeconds {
			return time.Time{}, bad
		}
		// A float64 holds ~16 significant digits: keep microseconds, drop the noise.
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), nil
	}
	intPart, fracPart, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	if intPart == "" && fracPart == "" || !allDigits(intPart) || !allDigits(fracPart) || len(intPart) > 12 {
		return time.Time{}, bad
	}
	var sec, nsec int64
	if intPart != "" {
		sec, _ = strconv.ParseInt(intPart, 10, 64) // ≤12 digits: cannot fail
	}
	if sec > maxEpochSeconds {
		return time.Time{}, bad
	}
	const nanoDigits = 9
	if len(fracPart) > nanoDigits {
		fracPart = fracPart[:nanoDigits]
	}
	if fracPart != "" {
		v, _ := strconv.ParseInt(fracPart, 10, 64) // ≤9 digits: cannot fail
		nsec = v * int64(math.Pow10(nanoDigits-len(fracPart)))
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	return time.Unix(sec, nsec).UTC(), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// decodeRequest reads a JSON object body into v. An empty body counts as {}; unknown
// members are ignored; null members stay absent. Errors are SerializationException
// (or RequestEntityTooLargeException for bodies over 1 MiB).
func decodeRequest(r *http.Request, v any) *APIError {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return &APIError{Status: http.StatusBadRequest, Code: CodeSerialization, Message: "reading request body: " + err.Error()}
	}
	if len(body) > maxRequestBody {
		return &APIError{Status: http.StatusRequestEntityTooLarge, Code: CodeRequestTooLarge, Message: "request body exceeds 1 MiB"}
	}
	return decodeBody(body, v)
}

func decodeBody(body []byte, v any) *APIError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] != '{' {
		return &APIError{Status: http.StatusBadRequest, Code: CodeSerialization, Message: "request body must be a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return &APIError{Status: http.StatusBadRequest, Code: CodeSerialization, Message: describeJSONError(err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &APIError{Status: http.StatusBadRequest, Code: CodeSerialization, Message: "unexpected data after the JSON object"}
	}
	return nil
}

// describeJSONError names the member when encoding/json knows it.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return fmt.Sprintf("%s: cannot use JSON %s here (want %s)", typeErr.Field, typeErr.Value, jsonKind(typeErr.Type.Kind().String()))
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "malformed JSON: unexpected end of body"
	}
	return "malformed JSON: " + err.Error()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int32", "int64":
		return "integer"
	case "float64":
		return "number"
	case "string":
		return "string"
	case "map", "struct":
		return "object"
	case "slice":
		return "array"
	case "bool":
		return "boolean"
	}
	return goKind
}

// writeJSON answers 200 with v as JSON.
func writeJSON(w http.ResponseWriter, requestID string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, requestID, &APIError{Status: http.StatusInternalServerError, Code: CodeInternalFailure, Message: "encoding response: " + err.Error()})
		return
	}
	h := w.Header()
	h.Set(contentTypeHeader, contentTypeJSON)
	h.Set(requestIDHeader, requestID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeError answers with the status, x-amzn-ErrorType and a {"__type","message"} body.
func writeError(w http.ResponseWriter, requestID string, e *APIError) {
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	h := w.Header()
	h.Set(contentTypeHeader, contentTypeJSON)
	h.Set(requestIDHeader, requestID)
	h.Set(errorTypeHeader, e.Code)
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// asAPIError turns any error into an APIError; unexpected ones become 500 InternalFailure.
func asAPIError(err error) *APIError {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr
	}
	return &APIError{Status: http.StatusInternalServerError, Code: CodeInternalFailure, Message: err.Error()}
}

// randomRequestID returns a version-4 UUID from crypto/rand.
func randomRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "00000000-0000-4000-8000-000000000000"
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
