package httpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

func request(u *url.URL, body string) (hdr, b []byte) {
	return fmt.Appendf(nil, "POST /echo HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", u.Host, len(body)), []byte(body)
}

func TestClientOverHTTPAndTLS(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			var mu sync.Mutex
			conns := map[string]int{}
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				conns[r.RemoteAddr]++
				mu.Unlock()
				buf := make([]byte, r.ContentLength)
				_, _ = r.Body.Read(buf)
				if r.Header.Get("X-Close") != "" {
					w.Header().Set("Connection", "close")
				}
				if string(buf) == "fail" {
					w.Header().Set("Retry-After", "3")
					w.WriteHeader(503)
				}
				fmt.Fprintf(w, "got %s", buf)
			})
			srv := httptest.NewServer(h)
			if useTLS {
				srv.Close()
				srv = httptest.NewTLSServer(h)
			}
			defer srv.Close()
			u, _ := url.Parse(srv.URL)
			var base = srv.Client().Transport.(*http.Transport).TLSClientConfig
			c := New(u, base, nil)
			defer c.CloseIdle()
			// Three requests written before any answer is read, on three connections.
			var flights []*Flight
			for i := 0; i < 3; i++ {
				hdr, b := request(u, fmt.Sprint("m", i))
				flights = append(flights, c.Begin(context.Background(), hdr, b))
			}
			for i, f := range flights {
				a, stale, err := c.End(context.Background(), f)
				if err != nil || stale || a.Status != 200 || string(a.Body) != fmt.Sprint("got m", i) || a.Header != nil {
					t.Fatalf("answer %d: %+v stale=%v %v", i, a, stale, err)
				}
			}
			if c.Idle() != 3 {
				t.Fatalf("%d idle connections, want 3", c.Idle())
			}
			hdr, b := request(u, "fail")
			a, err := c.Do(context.Background(), hdr, b)
			if err != nil || a.Status != 503 || a.Header.Get("Retry-After") != "3" {
				t.Fatalf("error answer: %+v %v", a, err)
			}
			// The server drops the kept-alive connections: Do dials afresh.
			srv.CloseClientConnections()
			time.Sleep(20 * time.Millisecond)
			hdr, b = request(u, "after")
			if a, err := c.Do(context.Background(), hdr, b); err != nil || string(a.Body) != "got after" {
				t.Fatalf("after the server closed idle connections: %+v %v", a, err)
			}
			// A context that ends aborts the call, and says so.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := c.Do(ctx, hdr, b); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled call: %v", err)
			}
		})
	}
}
