// Package awsjson holds the small pieces of AWS's JSON protocols that the daemon shares:
// epoch-second timestamps, error bodies and request ids for the local backend's handlers,
// and reading the error answers of AWS's services for its clients.
package awsjson

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Time is a timestamp in seconds since the epoch (fraction allowed). It marshals as a
// JSON number, which is what AWS SDKs expect, and unmarshals leniently from numbers,
// numeric strings and ISO-8601 / RFC 3339 strings.
type Time float64

// FromTime converts t to epoch seconds with microsecond precision.
func FromTime(t time.Time) Time {
	return Time(float64(t.UnixMicro()) / 1e6)
}

// Std returns the time as a time.Time.
func (t Time) Std() time.Time {
	sec, frac := math.Modf(float64(t))
	return time.Unix(int64(sec), int64(math.Round(frac*1e9)))
}

// MarshalJSON writes the time as a JSON number with at most microsecond precision.
func (t Time) MarshalJSON() ([]byte, error) {
	v := math.Round(float64(t)*1e6) / 1e6
	return strconv.AppendFloat(nil, v, 'f', -1, 64), nil
}

// UnmarshalJSON accepts 1700000000, 1700000000.123, 1.7E9, "1700000000.5" and
// "2023-11-14T22:13:20Z" (also without a zone, taken as UTC).
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := ParseTime(s)
		if err != nil {
			return err
		}
		*t = v
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s is not a number", b)
	}
	*t = Time(f)
	return nil
}

var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// ParseTime parses a numeric string or an ISO-8601 time.
func ParseTime(s string) (Time, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return Time(f), nil
	}
	for _, l := range isoLayouts {
		if v, err := time.Parse(l, s); err == nil {
			return FromTime(v), nil
		}
	}
	return 0, fmt.Errorf("timestamp %q is neither epoch seconds nor ISO-8601", s)
}

// Error is an AWS-style error: an HTTP status, an error code (the x-amzn-ErrorType) and
// a message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidRequest is the usual 400 InvalidRequestException.
func InvalidRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, "InvalidRequestException", format, args...)
}

// RequestIDHeader is the response header that carries the request id.
const RequestIDHeader = "x-amzn-RequestId"

// NewRequestID returns a random UUID-shaped request id.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// WriteError writes err in AWS's rest-json error form: the status, the x-amzn-ErrorType
// header and a {"__type","message"} body. Errors that are not *Error become 500
// InternalFailure.
func WriteError(w http.ResponseWriter, err error) {
	e, ok := err.(*Error)
	if !ok {
		e = &Error{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
	}
	h := w.Header()
	h.Set("x-amzn-ErrorType", e.Code)
	h.Set("Content-Type", "application/json")
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// WriteJSON writes v as a 200 application/json response.
func WriteJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// Decode unmarshals a request body into v. An empty body is read as {}. Malformed JSON
// is a 400 SerializationException.
func Decode(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if ok := asTypeError(err, &te); ok {
			return Errorf(http.StatusBadRequest, "SerializationException", "member %s: cannot read a JSON %s as %s", te.Field, te.Value, te.Type)
		}
		return Errorf(http.StatusBadRequest, "SerializationException", "request body is not valid JSON: %v", err)
	}
	return nil
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

// ErrorCode reads an AWS JSON-protocol error answer as the SDKs do: the code from the
// X-Amzn-ErrorType header, else the body's __type or code, without a ":<details>"
// suffix or a "<namespace>#" prefix; the message from the body's message or Message
// (empty when it has neither).
func ErrorCode(h http.Header, body []byte) (code, message string) {
	var b struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(body, &b)
	code = h.Get("X-Amzn-ErrorType")
	if code == "" {
		code = b.Type
	}
	if code == "" {
		code = b.Code
	}
	code, _, _ = strings.Cut(code, ":")
	code = code[strings.LastIndexByte(code, '#')+1:]
	message = b.Message
	if message == "" {
		message = b.MessageU
	}
	return code, message
}
