package daemon

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // receivers accept gzip, as the collector does

	"github.com/xrayd/xrayd/internal/config"
	"github.com/xrayd/xrayd/internal/testutil/fakexray"
)

// spanSink collects spans from an OTLP receiver, by span name.
type spanSink struct {
	mu    sync.Mutex
	spans map[string]ptrace.Span
	down  bool // answer 503 / Unavailable
	calls int
}

func (s *spanSink) add(td ptrace.Traces) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := ptrace.NewSpan()
				spans.At(k).CopyTo(sp)
				s.spans[sp.SpanID().String()] = sp
			}
		}
	}
}

func (s *spanSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.spans)
}

func (s *spanSink) setDown(v bool) {
	s.mu.Lock()
	s.down = v
	s.mu.Unlock()
}

func (s *spanSink) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.down
}

// httpReceiver is an OTLP/HTTP receiver built on the collector's pdata OTLP types.
func httpReceiver(t *testing.T) (*spanSink, string) {
	sink := &spanSink{spans: map[string]ptrace.Span{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		if sink.isDown() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		raw, _ := io.ReadAll(body)
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(raw); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		sink.add(req.Traces())
		out, _ := ptraceotlp.NewExportResponse().MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return sink, srv.URL
}

type grpcSink struct {
	ptraceotlp.UnimplementedGRPCServer
	sink *spanSink
}

func (g *grpcSink) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	g.sink.add(req.Traces())
	return ptraceotlp.NewExportResponse(), nil
}

func grpcReceiver(t *testing.T) (*spanSink, string) {
	sink := &spanSink{spans: map[string]ptrace.Span{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, &grpcSink{sink: sink})
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return sink, "http://" + ln.Addr().String()
}

func startOTLP(t *testing.T, tweak func(*config.Config)) *Daemon {
	t.Helper()
	cfg := config.Defaults()
	cfg.UDPAddress, cfg.TCPAddress = "127.0.0.1:0", "127.0.0.1:0"
	cfg.BufferMemoryMB = 32
	cfg.LocalMode = true
	tweak(cfg)
	logs := &syncBuffer{}
	d, err := New(context.Background(), Options{Config: cfg, Version: "test", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Shutdown(ctx)
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	return d
}

func sendSegments(t *testing.T, d *Daemon, n int) []string {
	t.Helper()
	c := udpConnLocal(t, d)
	now := float64(time.Now().UnixMilli()) / 1000
	var ids []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%016x", 0xabc000+i)
		ids = append(ids, id)
		doc := fmt.Sprintf(`{"trace_id":"1-%08x-%024x","id":%q,"name":"svc","start_time":%.3f,"end_time":%.3f,"http":{"request":{"method":"GET","url":"http://svc/x"},"response":{"status":200}},"annotations":{"k":"v"}}`,
			int64(now), i, id, now, now+0.25)
		fmt.Fprintf(c, "{\"format\":\"json\",\"version\":1}\n%s", doc)
		if i%100 == 99 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	return ids
}

func TestOTLPExportOverHTTPAndGRPC(t *testing.T) {
	for _, proto := range []string{"http", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			var sink *spanSink
			var url string
			if proto == "http" {
				sink, url = httpReceiver(t)
			} else {
				sink, url = grpcReceiver(t)
			}
			d := startOTLP(t, func(c *config.Config) {
				c.Backend = []string{"otlp"}
				c.OTLPEndpoint, c.OTLPProtocol, c.OTLPInsecure = url, proto, true
			})
			ids := sendSegments(t, d, 300)
			waitUntil(t, 15*time.Second, "all spans at the receiver", func() bool { return sink.count() == len(ids) })
			sink.mu.Lock()
			defer sink.mu.Unlock()
			for _, id := range ids {
				sp, ok := sink.spans[id]
				if !ok {
					t.Fatalf("span %s missing", id)
				}
				if sp.Name() != "svc" || sp.Kind() != ptrace.SpanKindServer || sp.EndTimestamp()-sp.StartTimestamp() != 250_000_000 {
					t.Fatalf("span %s: name %q kind %v duration %v", id, sp.Name(), sp.Kind(), sp.EndTimestamp()-sp.StartTimestamp())
				}
				if v, ok := sp.Attributes().Get("k"); !ok || v.Str() != "v" {
					t.Fatalf("span %s lacks annotation k=v: %v", id, sp.Attributes().AsRaw())
				}
			}
		})
	}
}

func TestFanOutToXRayAndOTLPAndOTLPOutageRetried(t *testing.T) {
	sink, url := httpReceiver(t)
	sink.setDown(true)
	fx := fakexray.New("us-west-2")
	defer fx.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", fakexray.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", fakexray.SecretAccessKey)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	d := startOTLP(t, func(c *config.Config) {
		c.Backend = []string{"xray", "otlp"}
		c.OTLPEndpoint, c.OTLPProtocol = url, "http"
		c.Region, c.Endpoint = "us-west-2", fx.URL
	})
	ids := sendSegments(t, d, 500)
	waitUntil(t, 10*time.Second, "all documents at X-Ray", func() bool { n, _ := fx.Count(); return n == len(ids) })
	if sink.count() != 0 {
		t.Fatal("the OTLP receiver is down but got spans")
	}
	time.Sleep(500 * time.Millisecond)
	sink.setDown(false)
	waitUntil(t, 20*time.Second, "all spans at the OTLP receiver after its outage", func() bool { return sink.count() == len(ids) })
	if fx.BadSigs.Load() != 0 {
		t.Fatal("bad signatures")
	}
	// The X-Ray proxy still serves the TCP address in a fan-out.
	resp, err := http.Post("http://"+d.TCPAddr().String()+"/GetSamplingRules", "application/json", bytes.NewReader([]byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || fx.SamplingCalls() != 1 {
		t.Fatalf("sampling through the proxy: %d, %d calls", resp.StatusCode, fx.SamplingCalls())
	}
}

func TestOTLPAloneAnswersSamplingLocally(t *testing.T) {
	_, url := httpReceiver(t)
	d := startOTLP(t, func(c *config.Config) {
		c.Backend = []string{"otlp"}
		c.OTLPEndpoint = url
	})
	resp, err := http.Post("http://"+d.TCPAddr().String()+"/GetSamplingRules", "application/json", bytes.NewReader([]byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"Default"`)) {
		t.Fatalf("GetSamplingRules: %d %s", resp.StatusCode, body)
	}
}
