// Package segment understands the bytes an X-Ray SDK sends: the datagram header line,
// the escaping of documents into API request bodies, and cheap extraction of ids for logs.
// It does no I/O.
package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// Errors returned by ParseDatagram. They are the reasons a datagram is rejected at intake.
var (
	ErrMissingHeader = errors.New("missing header: no newline in datagram")
	ErrEmptyBody     = errors.New("missing segment: nothing after the header line")
	ErrInvalidHeader = errors.New(`invalid header: want {"format":"json","version":1}`)
)

// The two spellings the SDKs send; checked before falling back to a full JSON decode.
var (
	headerCompact = []byte(`{"format":"json","version":1}`)
	headerSpaced  = []byte(`{"format": "json", "version": 1}`)
)

// ParseDatagram splits a datagram at its first newline, checks the header and returns the
// body: everything after the newline, byte for byte. The body aliases b.
//
// The header must be one JSON value whose "format" is "json" (any case) and whose "version"
// is the integer 1. Member names match case-insensitively and the last duplicate wins, as
// upstream's decoder does; surrounding whitespace is fine, trailing bytes are not.
func ParseDatagram(b []byte) (body []byte, err error) {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return nil, ErrMissingHeader
	}
	header, body := b[:nl], b[nl+1:]
	if len(body) == 0 {
		return nil, ErrEmptyBody
	}
	if !ValidHeader(header) {
		return nil, ErrInvalidHeader
	}
	return body, nil
}

// ValidHeader reports whether header (without its newline) is an accepted header line.
func ValidHeader(header []byte) bool {
	if bytes.Equal(header, headerCompact) || bytes.Equal(header, headerSpaced) {
		return true
	}
	// encoding/json matches struct field names case-insensitively and lets the last
	// duplicate win, which is exactly upstream's behaviour.
	var h struct {
		Format  *string
		Version *int
	}
	if err := json.Unmarshal(header, &h); err != nil {
		return false
	}
	return h.Format != nil && strings.EqualFold(*h.Format, "json") && h.Version != nil && *h.Version == 1
}

// Header returns the header part of a datagram for log lines (at most max bytes).
func Header(b []byte, max int) []byte {
	if nl := bytes.IndexByte(b, '\n'); nl >= 0 {
		b = b[:nl]
	}
	if len(b) > max {
		b = b[:max]
	}
	return b
}
