package otlp

import (
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // receivers accept gzip, as the collector does
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
)

// Test receivers built on the Collector's own OTLP packages, as a real backend would be.

// answer is what a receiver says to its n-th call (1-based); nil means success.
type answer func(n int) (status int, header http.Header, body []byte)

type httpReceiver struct {
	*httptest.Server
	t      testing.TB
	mu     sync.Mutex
	calls  int
	got    []ptrace.Traces
	header []http.Header
	answer answer
}

func newHTTPReceiver(t testing.TB, a answer) *httpReceiver {
	r := &httpReceiver{t: t, answer: a}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *httpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.calls++
	n := r.calls
	r.mu.Unlock()
	if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
		http.Error(w, "wrong path or method", http.StatusNotFound)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.answer != nil {
		if status, h, b := r.answer(n); status != 0 {
			for k, v := range h {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
			_, _ = w.Write(b)
			if status/100 != 2 {
				return
			}
			r.keep(raw, req.Header)
			return
		}
	}
	if r.keep(raw, req.Header) {
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := ptraceotlp.NewExportResponse().MarshalProto()
		_, _ = w.Write(b)
		return
	}
	http.Error(w, "bad protobuf", http.StatusBadRequest)
}

func (r *httpReceiver) keep(raw []byte, h http.Header) bool {
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(raw); err != nil {
		r.t.Errorf("receiver: %v", err)
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, req.Traces())
	r.header = append(r.header, h.Clone())
	return true
}

// traces merges everything received so far.
func (r *httpReceiver) traces() ptrace.Traces {
	r.mu.Lock()
	defer r.mu.Unlock()
	return merge(r.got)
}

func (r *httpReceiver) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func merge(l []ptrace.Traces) ptrace.Traces {
	out := ptrace.NewTraces()
	for _, td := range l {
		c := ptrace.NewTraces()
		td.CopyTo(c)
		c.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
	}
	return out
}

type grpcReceiver struct {
	ptraceotlp.UnimplementedGRPCServer
	addr   string
	srv    *grpc.Server
	mu     sync.Mutex
	calls  int
	got    []ptrace.Traces
	md     []metadata.MD
	answer func(n int) error
	// compression is the grpc-encoding of each request, seen by a stats handler.
	compression []string
}

func newGRPCReceiver(t testing.TB, a func(n int) error) *grpcReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &grpcReceiver{addr: ln.Addr().String(), answer: a}
	r.srv = grpc.NewServer(grpc.StatsHandler(compressionSeen{r}))
	ptraceotlp.RegisterGRPCServer(r.srv, r)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		r.srv.Stop()
		<-done
	})
	return r
}

func (r *grpcReceiver) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	r.mu.Lock()
	r.calls++
	n := r.calls
	r.mu.Unlock()
	if r.answer != nil {
		if err := r.answer(n); err != nil {
			return ptraceotlp.NewExportResponse(), err
		}
	}
	c := ptrace.NewTraces()
	req.Traces().CopyTo(c)
	md, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	r.got = append(r.got, c)
	r.md = append(r.md, md)
	r.mu.Unlock()
	return ptraceotlp.NewExportResponse(), nil
}

func (r *grpcReceiver) traces() ptrace.Traces {
	r.mu.Lock()
	defer r.mu.Unlock()
	return merge(r.got)
}

// compressionSeen records the compression of each incoming request.
type compressionSeen struct{ r *grpcReceiver }

func (c compressionSeen) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (c compressionSeen) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (c compressionSeen) HandleConn(context.Context, stats.ConnStats) {}

func (c compressionSeen) HandleRPC(_ context.Context, s stats.RPCStats) {
	if h, ok := s.(*stats.InHeader); ok {
		c.r.mu.Lock()
		c.r.compression = append(c.r.compression, h.Compression)
		c.r.mu.Unlock()
	}
}
