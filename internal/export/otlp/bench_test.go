package otlp

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	"github.com/xrayd/xrayd/internal/export"
	"github.com/xrayd/xrayd/internal/export/xray"
)

// The benchmarks compare OTLP export with X-Ray export on the same documents: 50
// realistic segments of 1 KiB per batch, both sent to the same kind of loopback server
// that reads the body and answers 200. They report wall time and process CPU time per
// segment (the CPU figure includes the in-process server's share, the same for both).

const benchBatch = 50

// benchDocs makes n segments of exactly 1 KiB, the shape an SDK sends for a web request
// with a DynamoDB call and an HTTP call.
func benchDocs(n int) [][]byte {
	docs := make([][]byte, n)
	for i := range docs {
		d := fmt.Sprintf(`{"name":"orders-api","id":"%016x","trace_id":"1-65f0c0de-%024x","start_time":1710276830.123456,"end_time":1710276830.345678,`+
			`"origin":"AWS::EC2::Instance","http":{"request":{"method":"POST","url":"https://orders.example.com/api/orders","client_ip":"203.0.113.7"},"response":{"status":200}},`+
			`"aws":{"account_id":"123456789012","ec2":{"instance_id":"i-0abc123def4567890","availability_zone":"us-west-2a"},"xray":{"sdk":"X-Ray for Go","sdk_version":"1.8.5"}},`+
			`"annotations":{"customer":"c-42","items":3},"metadata":{"default":{"note":"%%s"}},`+
			`"subsegments":[{"id":"%016x","name":"DynamoDB","namespace":"aws","start_time":1710276830.2,"end_time":1710276830.25,"aws":{"operation":"PutItem","region":"us-west-2","table_name":"orders","retries":0}},`+
			`{"id":"%016x","name":"payments.example.com","namespace":"remote","start_time":1710276830.26,"end_time":1710276830.34,"http":{"request":{"method":"POST","url":"https://payments.example.com/charge"},"response":{"status":201}}}]}`,
			i+1, i+1, 1<<40+i, 1<<41+i)
		pad := 1024 - (len(d) - 2)
		docs[i] = []byte(fmt.Sprintf(d, strings.Repeat("x", max(pad, 0))))
	}
	return docs
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perSegment runs fn b.N times and reports ns and CPU-ns per segment.
func perSegment(b *testing.B, fn func()) {
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		fn()
	}
	cpu := cpuTime() - c0
	b.StopTimer()
	n := float64(b.N * benchBatch)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/segment")
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/segment")
}

// discardServer reads each request body and answers 200 with no body.
func discardServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func BenchmarkTranslate(b *testing.B) {
	docs := benchDocs(benchBatch)
	perSegment(b, func() {
		td, unp := Translate(docs)
		if len(unp) != 0 || td.SpanCount() != 3*benchBatch {
			b.Fatal(unp)
		}
	})
}

// BenchmarkParse and BenchmarkEncode split the Sender's translation cost: decoding the
// JSON, then writing the protobuf request.
func BenchmarkParse(b *testing.B) {
	docs := benchDocs(benchBatch)
	var p parser
	perSegment(b, func() {
		for _, d := range docs {
			if _, err := p.parse(d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkParseAndEncode(b *testing.B) {
	docs := benchDocs(benchBatch)
	var t translator
	perSegment(b, func() {
		t.enc.reset()
		for _, d := range docs {
			if err := t.add(d); err != nil {
				b.Fatal(err)
			}
		}
		_ = t.enc.finish()
	})
}

func BenchmarkSendHTTP(b *testing.B) {
	srv := discardServer(b)
	s := newSender(b, Options{Endpoint: srv.URL})
	docs := benchDocs(benchBatch)
	perSegment(b, func() {
		if _, err := s.Send(context.Background(), docs); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkSendGRPC(b *testing.B) {
	addr := discardGRPCServer(b)
	s := newSender(b, Options{Endpoint: addr, Protocol: "grpc", Insecure: true})
	docs := benchDocs(benchBatch)
	perSegment(b, func() {
		if _, err := s.Send(context.Background(), docs); err != nil {
			b.Fatal(err)
		}
	})
}

// discardGRPCServer accepts any call, reads the (decompressed) message without decoding
// it and answers an empty message: the gRPC counterpart of discardServer.
func discardGRPCServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{}), grpc.UnknownServiceHandler(func(_ any, st grpc.ServerStream) error {
		var m rawMessage
		if err := st.RecvMsg(&m); err != nil {
			return err
		}
		return st.SendMsg(&rawMessage{})
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	b.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return ln.Addr().String()
}

type rawMessage struct{ n int }

type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(any) (mem.BufferSlice, error) { return nil, nil }

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	v.(*rawMessage).n = data.Len()
	return nil
}

// BenchmarkXRaySend is the baseline: the X-Ray sender (body building, SigV4 signing,
// HTTP) on the same documents against the same kind of server.
func BenchmarkXRaySend(b *testing.B) { benchXRay(b, false) }

// BenchmarkXRaySendDirect uses the X-Ray sender's own HTTP/1.1 client, as the daemon
// does when no proxy applies.
func BenchmarkXRaySendDirect(b *testing.B) { benchXRay(b, true) }

func benchXRay(b *testing.B, direct bool) {
	srv := discardServer(b)
	u, _ := url.Parse(srv.URL)
	s := xray.New(xray.Options{Endpoint: u, Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Client: srv.Client(), Direct: direct})
	b.Cleanup(s.Close)
	docs := benchDocs(benchBatch)
	perSegment(b, func() {
		if _, err := s.Send(context.Background(), docs); err != nil {
			b.Fatal(err)
		}
	})
}

func TestBenchDocsAreOneKiBAndValid(t *testing.T) {
	docs := benchDocs(3)
	for _, d := range docs {
		if len(d) != 1024 {
			t.Fatalf("bench document is %d bytes", len(d))
		}
	}
	if td, unp := Translate(docs); len(unp) != 0 || td.SpanCount() != 9 {
		t.Fatalf("%+v %d", unp, td.SpanCount())
	}
}

// BenchmarkCompareWithXRay interleaves one OTLP/HTTP call and one X-Ray call of each kind
// per iteration, so that load from elsewhere on the machine hits all of them alike, and
// reports each one's CPU per segment and the ratios the 1.5x target is about.
func BenchmarkCompareWithXRay(b *testing.B) {
	docs := benchDocs(benchBatch)
	otlpSrv, xraySrv := discardServer(b), discardServer(b)
	o := newSender(b, Options{Endpoint: otlpSrv.URL})
	u, _ := url.Parse(xraySrv.URL)
	creds := credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")
	x := xray.New(xray.Options{Endpoint: u, Region: "us-west-2", Credentials: creds, Client: xraySrv.Client()})
	xd := xray.New(xray.Options{Endpoint: u, Region: "us-west-2", Credentials: creds, Client: xraySrv.Client(), Direct: true})
	b.Cleanup(x.Close)
	b.Cleanup(xd.Close)
	senders := []interface {
		Send(context.Context, [][]byte) (export.Result, error)
	}{o, x, xd}
	cpu := make([]time.Duration, len(senders))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, s := range senders {
			c0 := cpuTime()
			if _, err := s.Send(context.Background(), docs); err != nil {
				b.Fatal(err)
			}
			cpu[k] += cpuTime() - c0
		}
	}
	n := float64(b.N * benchBatch)
	b.ReportMetric(float64(cpu[0].Nanoseconds())/n, "otlp-cpu-ns/seg")
	b.ReportMetric(float64(cpu[1].Nanoseconds())/n, "xray-cpu-ns/seg")
	b.ReportMetric(float64(cpu[2].Nanoseconds())/n, "xraydirect-cpu-ns/seg")
	b.ReportMetric(float64(cpu[0])/float64(cpu[1]), "ratio-vs-xray")
	b.ReportMetric(float64(cpu[0])/float64(cpu[2]), "ratio-vs-xraydirect")
}
