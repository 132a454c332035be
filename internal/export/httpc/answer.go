package httpc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
)

// maxAnswer bounds the body of an answer the upload path reads.
const maxAnswer = 4 << 20

// Answer is an HTTP answer as the exporters need it.
type Answer struct {
	Status int
	// Header holds the headers of an unsuccessful answer (their error type and
	// Retry-After matter then); nil for 2xx.
	Header   http.Header
	Encoding string // Content-Encoding of Body, whatever the status
	Body     []byte
}

// readAnswer reads one HTTP/1.x response from br. It is what http.ReadResponse does for
// the answers an export can get, without its allocations and reflection on the hot path.
// Bodies are delimited by Content-Length, chunked encoding, or the end of the
// connection. keep reports whether the connection can carry another request.
func readAnswer(br *bufio.Reader) (a Answer, keep bool, err error) {
	for {
		a, keep, err = readOne(br)
		if err != nil || a.Status >= 200 {
			return a, keep, err
		}
		// 1xx informational answers precede the real one.
	}
}

func readOne(br *bufio.Reader) (a Answer, keep bool, err error) {
	a.Status, a.Header, a.Encoding, a.Body, keep, err = readParts(br)
	return a, keep, err
}

func readParts(br *bufio.Reader) (status int, h http.Header, encoding string, body []byte, keep bool, err error) {
	line, err := readLine(br)
	if err != nil {
		return 0, nil, "", nil, false, err
	}
	// "HTTP/1.1 200 OK"
	proto, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(rest) < 3 || !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
		return 0, nil, "", nil, false, fmt.Errorf("malformed HTTP status line %q", line)
	}
	status, err = strconv.Atoi(string(rest[:3]))
	if err != nil || status < 100 || status > 999 || (len(rest) > 3 && rest[3] != ' ') {
		return 0, nil, "", nil, false, fmt.Errorf("malformed HTTP status line %q", line)
	}
	keep = string(proto) == "HTTP/1.1"
	length, chunked := int64(-1), false
	for {
		line, err = readLine(br)
		if err != nil {
			return status, nil, "", nil, false, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 {
			return status, nil, "", nil, false, fmt.Errorf("malformed HTTP header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			n, perr := strconv.ParseInt(string(value), 10, 64)
			if perr != nil || n < 0 || (length >= 0 && n != length) {
				return status, nil, "", nil, false, fmt.Errorf("bad Content-Length %q", value)
			}
			length = n
		case asciiEqualFold(name, "Transfer-Encoding") && string(proto) != "HTTP/1.0":
			// (HTTP/1.0 has no transfer codings: net/http ignores the header there too.)
			if !asciiEqualFold(value, "chunked") {
				return status, nil, "", nil, false, fmt.Errorf("unsupported Transfer-Encoding %q", value)
			}
			chunked = true
		case asciiEqualFold(name, "Content-Encoding"):
			encoding = string(value)
		case asciiEqualFold(name, "Connection"):
			switch {
			case asciiEqualFold(value, "close"):
				keep = false
			case asciiEqualFold(value, "keep-alive"):
				keep = true
			}
		}
		if status/100 != 2 {
			if h == nil {
				h = http.Header{}
			}
			h.Add(string(name), string(value))
		}
	}
	if status/100 == 1 || status == 204 || status == 304 {
		return status, h, encoding, nil, keep, nil
	}
	var r io.Reader
	switch {
	case chunked:
		r = httputil.NewChunkedReader(br)
		length = -1
	case length >= 0:
		if length > maxAnswer {
			return status, h, encoding, nil, false, fmt.Errorf("answer of %d bytes is too large", length)
		}
		body = make([]byte, length)
		if _, err := io.ReadFull(br, body); err != nil {
			return status, h, encoding, nil, false, fmt.Errorf("reading answer: %w", err)
		}
		return status, h, encoding, body, keep, nil
	default:
		r, keep = br, false // delimited by the end of the connection
	}
	body, err = io.ReadAll(io.LimitReader(r, maxAnswer+1))
	if err == nil && len(body) > maxAnswer {
		err = errors.New("answer too large")
	}
	if err != nil {
		return status, h, encoding, nil, false, fmt.Errorf("reading answer: %w", err)
	}
	if chunked {
		// The chunked reader stops at the last chunk; the trailer ends with a blank line.
		for {
			line, err := readLine(br)
			if err != nil {
				return status, h, encoding, nil, false, err
			}
			if len(line) == 0 {
				break
			}
		}
	}
	return status, h, encoding, body, keep, nil
}

// readLine returns one line without its CRLF; the slice is valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errors.New("HTTP answer line too long")
	}
	if err != nil {
		return nil, err
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	return line, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}
