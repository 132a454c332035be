package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/xrayd/xrayd/internal/export/httpc"
)

// directClient posts to one OTLP/HTTP endpoint through httpc, xrayd's own HTTP/1.1
// client: the request goes out in one writev from the calling goroutine and the answer is
// read right after. net/http hands each request to a writer and a reader goroutine; those
// wake-ups cost more CPU per call than the translation of a whole batch. It is used only
// when no outbound proxy applies; otherwise net/http does the work.
type directClient struct {
	prefix []byte // request line and fixed headers, up to the Content-Length value
	c      *httpc.Client
}

func newDirectClient(u *url.URL, headers map[string]string, tlsCfg *tls.Config) *directClient {
	p := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	if _, ok := headers["User-Agent"]; !ok {
		p = append(p, "User-Agent: xrayd\r\n"...)
	}
	for k, v := range headers {
		switch k = http.CanonicalHeaderKey(k); k {
		case "Host", "Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding", "Connection":
			continue // framing is this client's
		}
		p = fmt.Appendf(p, "%s: %s\r\n", k, v)
	}
	p = append(p, "Content-Type: application/x-protobuf\r\nContent-Encoding: gzip\r\nContent-Length: "...)
	return &directClient{prefix: p, c: httpc.New(u, tlsCfg, nil)}
}

// validHeaders reports the first header that cannot be written on the wire as is.
func validHeaders(h map[string]string) error {
	for k, v := range h {
		for i := 0; i < len(k); i++ {
			if c := k[i]; c <= ' ' || c >= 0x7f || c == ':' {
				return fmt.Errorf("OTLP Headers: %q is not a valid header name", k)
			}
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c == '\r' || c == '\n' || c == 0 {
				return fmt.Errorf("OTLP Headers: the value of %q holds a line break", k)
			}
		}
	}
	return nil
}

// post sends body and returns the answer's status, headers and (decompressed) body.
func (d *directClient) post(ctx context.Context, body []byte) (int, http.Header, []byte, error) {
	hdr := make([]byte, 0, len(d.prefix)+24)
	hdr = append(hdr, d.prefix...)
	hdr = strconv.AppendInt(hdr, int64(len(body)), 10)
	hdr = append(hdr, "\r\n\r\n"...)
	a, err := d.c.Do(ctx, hdr, body)
	if err != nil {
		return a.Status, a.Header, nil, err
	}
	answer := a.Body
	if strings.EqualFold(a.Encoding, "gzip") {
		zr, zerr := gzip.NewReader(bytes.NewReader(answer))
		if zerr != nil {
			return a.Status, a.Header, nil, nil // an unreadable answer is no answer
		}
		answer, zerr = io.ReadAll(io.LimitReader(zr, 1<<20))
		if zerr != nil {
			return a.Status, a.Header, nil, nil
		}
	}
	return a.Status, a.Header, answer, nil
}

func (d *directClient) closeIdle() { d.c.CloseIdle() }
