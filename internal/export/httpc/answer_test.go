package httpc

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// next is a second answer after each case: reading must stop exactly at the end of the
// first one when the connection is kept.
const next = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"

func TestReadAnswer(t *testing.T) {
	tests := []struct {
		name, raw  string
		status     int
		body       string
		keep       bool
		header     map[string]string // checked for unsuccessful answers
		wantErr    bool
		secondRead bool
		alone      bool // no second answer after it (the body runs to the end)
		encoding   string
	}{
		{name: "ok", raw: "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 31\r\n\r\n{\"UnprocessedTraceSegments\":[]}",
			status: 200, body: `{"UnprocessedTraceSegments":[]}`, keep: true, secondRead: true},
		{name: "lower-case headers, no reason", raw: "HTTP/1.1 200\r\ncontent-length: 2\r\n\r\n{}", status: 200, body: "{}", keep: true, secondRead: true},
		{name: "connection close", raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", status: 200, body: "{}", keep: false},
		{name: "http/1.0", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", status: 200, body: "{}", keep: false},
		{name: "http/1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}", status: 200, body: "{}", keep: true, secondRead: true},
		{name: "chunked with trailer", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\nX-Trailer: y\r\n\r\n",
			status: 200, body: `{"a":1}`, keep: true, secondRead: true},
		{name: "until close", raw: "HTTP/1.1 200 OK\r\n\r\n{\"x\":1}", status: 200, body: `{"x":1}`, keep: false, alone: true},
		{name: "100 continue first", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", status: 200, body: "{}", keep: true, secondRead: true},
		{name: "throttled", raw: "HTTP/1.1 429 Too Many Requests\r\nX-Amzn-ErrorType: ThrottledException:http://internal\r\nRetry-After: 2\r\nContent-Length: 34\r\n\r\n{\"message\":\"Rate exceeded, slow\"}\n",
			status: 429, body: "{\"message\":\"Rate exceeded, slow\"}\n", keep: true, secondRead: true,
			header: map[string]string{"X-Amzn-Errortype": "ThrottledException:http://internal", "retry-after": "2"}},
		{name: "gzip answer", raw: "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nzz", status: 200, body: "zz", keep: true, secondRead: true, encoding: "gzip"},
		{name: "204", raw: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, keep: true, secondRead: true},
		{name: "garbage", raw: "SSH-2.0-OpenSSH\r\n\r\n", wantErr: true},
		{name: "bad status", raw: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: true},
		{name: "bad length", raw: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantErr: true},
		{name: "conflicting lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x", wantErr: true},
		{name: "short body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", wantErr: true},
		{name: "too large", raw: "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n", wantErr: true},
		{name: "gzip encoding", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", wantErr: true},
		{name: "header without colon", raw: "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", wantErr: true},
		{name: "eof in headers", raw: "HTTP/1.1 200 OK\r\nContent-Le", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.raw + next))
			if tt.wantErr || tt.alone {
				br = bufio.NewReader(strings.NewReader(tt.raw))
			}
			a, keep, err := readAnswer(br)
			status, h, body := a.Status, a.Header, a.Body
			if !tt.wantErr && a.Encoding != tt.encoding {
				t.Errorf("encoding %q, want %q", a.Encoding, tt.encoding)
			}
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error; status %d body %q", status, body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || string(body) != tt.body || keep != tt.keep {
				t.Fatalf("got %d %q keep=%v, want %d %q keep=%v", status, body, keep, tt.status, tt.body, tt.keep)
			}
			for k, v := range tt.header {
				if h.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
				}
			}
			if tt.secondRead {
				a, _, err := readAnswer(br)
				if err != nil || a.Status != 200 || string(a.Body) != "{}" {
					t.Fatalf("second answer: %d %q %v", a.Status, a.Body, err)
				}
			}
		})
	}
}

// FuzzReadAnswerAgreesWithNetHTTP checks readAnswer against http.ReadResponse: whenever
// both accept an answer, they agree on its status and body.
func FuzzReadAnswerAgreesWithNetHTTP(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n{\"message\":\"down\"}"))
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\nabc"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, _, err := readAnswer(bufio.NewReader(bytes.NewReader(raw)))
		status, body := a.Status, a.Body
		resp, herr := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil || herr != nil {
			return
		}
		hbody, berr := io.ReadAll(resp.Body)
		if berr != nil || resp.StatusCode < 200 || resp.Header.Get("Content-Encoding") != "" {
			return
		}
		if status != resp.StatusCode || !bytes.Equal(body, hbody) {
			t.Fatalf("readAnswer: %d %q; net/http: %d %q", status, body, resp.StatusCode, hbody)
		}
	})
}
