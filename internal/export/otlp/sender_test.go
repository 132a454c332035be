package otlp

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/export"
	"github.com/xrayd/xrayd/internal/queue"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1700000000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSender(t testing.TB, o Options) *Sender {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// completeFixtures are the documents that translate straight to finished spans.
func completeFixtures(t testing.TB) [][]byte {
	var docs [][]byte
	for _, n := range []string{"full_segment.json", "independent_subsegment.json", "containers.json", "lambda_cause_id.json", "subsegment_array.json", "escapes.json"} {
		docs = append(docs, readFixture(t, n))
	}
	return docs
}

func TestSendHTTPDeliversTheTranslatedSpans(t *testing.T) {
	rcv := newHTTPReceiver(t, nil)
	s := newSender(t, Options{Endpoint: rcv.URL, Headers: map[string]string{"Authorization": "Bearer t0k3n", "X-Tenant": "blue"}})
	docs := completeFixtures(t)
	res, err := s.Send(context.Background(), docs)
	if err != nil || len(res.Unprocessed) != 0 {
		t.Fatalf("send: %v %+v", err, res)
	}
	if rcv.requests() != 1 {
		t.Fatalf("%d requests for one batch", rcv.requests())
	}
	want, _ := Translate(docs)
	if got := canonicalJSON(t, rcv.traces()); !bytes.Equal(got, canonicalJSON(t, want)) {
		t.Fatalf("received spans differ from the translation:\n%s", lineDiff(string(canonicalJSON(t, want)), string(got)))
	}
	h := rcv.header[0]
	if h.Get("Content-Type") != "application/x-protobuf" || h.Get("Content-Encoding") != "gzip" ||
		h.Get("Authorization") != "Bearer t0k3n" || h.Get("X-Tenant") != "blue" {
		t.Fatalf("headers %v", h)
	}
}

func TestSendGRPCDeliversTheTranslatedSpans(t *testing.T) {
	rcv := newGRPCReceiver(t, nil)
	s := newSender(t, Options{Endpoint: rcv.addr, Protocol: "grpc", Insecure: true, Headers: map[string]string{"Authorization": "Bearer t0k3n"}})
	docs := completeFixtures(t)
	if _, err := s.Send(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	want, _ := Translate(docs)
	if got := canonicalJSON(t, rcv.traces()); !bytes.Equal(got, canonicalJSON(t, want)) {
		t.Fatalf("received spans differ from the translation:\n%s", lineDiff(string(canonicalJSON(t, want)), string(got)))
	}
	if md := rcv.md[0]; len(md.Get("authorization")) != 1 || md.Get("authorization")[0] != "Bearer t0k3n" {
		t.Fatalf("metadata %v", md)
	}
	if rcv.compression[0] != "gzip" {
		t.Fatalf("request compression %q", rcv.compression[0])
	}
	// The same endpoint spelled as a URL.
	s2 := newSender(t, Options{Endpoint: "http://" + rcv.addr, Protocol: "grpc"})
	if _, err := s2.Send(context.Background(), docs[:1]); err != nil {
		t.Fatal(err)
	}
}

func TestSendReportsInvalidDocumentsAndSendsTheRest(t *testing.T) {
	rcv := newHTTPReceiver(t, nil)
	s := newSender(t, Options{Endpoint: rcv.URL})
	docs := [][]byte{readFixture(t, "escapes.json"), []byte(`not json`), []byte(`{"name":"x","start_time":1,"end_time":2}`), readFixture(t, "containers.json")}
	res, err := s.Send(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unprocessed) != 2 || res.Unprocessed[0].Index != 1 || res.Unprocessed[1].Index != 2 ||
		res.Unprocessed[0].Retryable || res.Unprocessed[1].Code != "MissingId" {
		t.Fatalf("unprocessed %+v", res.Unprocessed)
	}
	if n := rcv.traces().SpanCount(); n != 2 {
		t.Fatalf("received %d spans, want 2", n)
	}
	// Nothing valid: no call at all.
	if res, err := s.Send(context.Background(), docs[1:3]); err != nil || len(res.Unprocessed) != 2 || rcv.requests() != 1 {
		t.Fatalf("all-invalid batch: %v %+v, %d requests", err, res, rcv.requests())
	}
}

func TestSendHTTPClassifiesFailures(t *testing.T) {
	doc := [][]byte{readFixture(t, "escapes.json")}
	tests := []struct {
		name       string
		status     int
		header     http.Header
		retryable  bool
		throttled  bool
		class      counters.ErrorClass
		retryAfter time.Duration
	}{
		{"503", 503, nil, true, false, counters.ErrHTTP5XX, 0},
		{"502", 502, nil, true, false, counters.ErrHTTP5XX, 0},
		{"504", 504, nil, true, false, counters.ErrHTTP5XX, 0},
		{"429 with Retry-After", 429, http.Header{"Retry-After": {"7"}}, true, true, counters.ErrHTTP4XX, 7 * time.Second},
		{"503 with Retry-After date", 503, http.Header{"Retry-After": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}}, true, false, counters.ErrHTTP5XX, 59 * time.Minute},
		{"400", 400, nil, false, false, counters.ErrHTTP4XX, 0},
		{"401", 401, nil, false, false, counters.ErrHTTP4XX, 0},
		{"500", 500, nil, false, false, counters.ErrHTTP5XX, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newHTTPReceiver(t, func(int) (int, http.Header, []byte) {
				return tt.status, tt.header, []byte("go away")
			})
			_, err := newSender(t, Options{Endpoint: rcv.URL}).Send(context.Background(), doc)
			var ce *export.CallError
			if !errors.As(err, &ce) {
				t.Fatalf("err %v is not a CallError", err)
			}
			if ce.Retryable != tt.retryable || ce.Throttled != tt.throttled || ce.Class != tt.class || ce.Status != tt.status {
				t.Fatalf("%+v", ce)
			}
			if ce.RetryAfter < tt.retryAfter || (tt.retryAfter == 0 && ce.RetryAfter != 0) {
				t.Fatalf("retry after %v, want %v", ce.RetryAfter, tt.retryAfter)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		rcv := newHTTPReceiver(t, nil)
		rcv.Close()
		_, err := newSender(t, Options{Endpoint: rcv.URL}).Send(context.Background(), doc)
		if ce := export.AsCallError(err); err == nil || !ce.Retryable || ce.Class != counters.ErrConnectionRefused {
			t.Fatalf("%v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		_, err := newSender(t, Options{Endpoint: srv.URL, Timeout: 50 * time.Millisecond}).Send(context.Background(), doc)
		if ce := export.AsCallError(err); err == nil || !ce.Retryable || ce.Class != counters.ErrTimeout {
			t.Fatalf("%v", err)
		}
	})
	t.Run("status message from google.rpc.Status body", func(t *testing.T) {
		st := status.New(codes.InvalidArgument, "span 3 has no name").Proto()
		b, _ := proto.Marshal(st)
		rcv := newHTTPReceiver(t, func(int) (int, http.Header, []byte) {
			return 400, http.Header{"Content-Type": {"application/x-protobuf"}}, b
		})
		_, err := newSender(t, Options{Endpoint: rcv.URL}).Send(context.Background(), doc)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("span 3 has no name")) {
			t.Fatalf("%v", err)
		}
	})
}

func TestSendHTTPCountsPartialSuccess(t *testing.T) {
	rcv := newHTTPReceiver(t, func(int) (int, http.Header, []byte) {
		resp := ptraceotlp.NewExportResponse()
		resp.PartialSuccess().SetRejectedSpans(2)
		resp.PartialSuccess().SetErrorMessage("spans too old")
		b, _ := resp.MarshalProto()
		return 200, http.Header{"Content-Type": {"application/x-protobuf"}}, b
	})
	s := newSender(t, Options{Endpoint: rcv.URL})
	if _, err := s.Send(context.Background(), completeFixtures(t)); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().RejectedSpans; got != 2 {
		t.Fatalf("rejected %d", got)
	}
}

func TestSendGRPCClassifiesStatusCodes(t *testing.T) {
	withRetry, _ := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)})
	tests := []struct {
		name       string
		err        error
		retryable  bool
		throttled  bool
		class      counters.ErrorClass
		retryAfter time.Duration
	}{
		{"unavailable", status.Error(codes.Unavailable, "down"), true, false, counters.ErrHTTP5XX, 0},
		{"resource exhausted", withRetry.Err(), true, true, counters.ErrHTTP4XX, 3 * time.Second},
		{"deadline exceeded", status.Error(codes.DeadlineExceeded, "slow"), true, false, counters.ErrTimeout, 0},
		{"aborted", status.Error(codes.Aborted, "conflict"), true, false, counters.ErrOther, 0},
		{"invalid argument", status.Error(codes.InvalidArgument, "bad span"), false, false, counters.ErrHTTP4XX, 0},
		{"unauthenticated", status.Error(codes.Unauthenticated, "who"), false, false, counters.ErrHTTP4XX, 0},
		{"internal", status.Error(codes.Internal, "oops"), false, false, counters.ErrHTTP5XX, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newGRPCReceiver(t, func(int) error { return tt.err })
			s := newSender(t, Options{Endpoint: rcv.addr, Protocol: "grpc", Insecure: true})
			_, err := s.Send(context.Background(), [][]byte{readFixture(t, "escapes.json")})
			var ce *export.CallError
			if !errors.As(err, &ce) {
				t.Fatalf("err %v is not a CallError", err)
			}
			if ce.Retryable != tt.retryable || ce.Throttled != tt.throttled || ce.Class != tt.class || ce.RetryAfter != tt.retryAfter {
				t.Fatalf("%+v", ce)
			}
		})
	}
	t.Run("nobody listening", func(t *testing.T) {
		rcv := newGRPCReceiver(t, nil)
		rcv.srv.Stop()
		s := newSender(t, Options{Endpoint: rcv.addr, Protocol: "grpc", Insecure: true, Timeout: 2 * time.Second})
		_, err := s.Send(context.Background(), [][]byte{readFixture(t, "escapes.json")})
		if ce := export.AsCallError(err); err == nil || !ce.Retryable {
			t.Fatalf("%v", err)
		}
	})
}

// uniqueDocs makes n complete segments with distinct ids.
func uniqueDocs(n int) [][]byte {
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = fmt.Appendf(nil, `{"name":"svc","id":"%016x","trace_id":"1-65000000-%024x","start_time":1700000000.5,"end_time":1700000001}`, i+1, i+1)
	}
	return docs
}

func spanIDs(td ptrace.Traces) map[string]int {
	ids := map[string]int{}
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		ss := td.ResourceSpans().At(i).ScopeSpans()
		for j := 0; j < ss.Len(); j++ {
			for k := 0; k < ss.At(j).Spans().Len(); k++ {
				ids[ss.At(j).Spans().At(k).SpanID().String()]++
			}
		}
	}
	return ids
}

// runExporter drives s with the shared exporter, as the daemon does, and returns the
// counters once everything is drained.
func runExporter(t *testing.T, s export.Sender, docs [][]byte) *counters.Set {
	t.Helper()
	var c counters.Set
	var pool queue.Pool
	q := queue.New(64<<20, &pool, func(ev []*queue.Item) { c.AddDropped(counters.DropBudget, int64(len(ev))) })
	e := export.New(export.Options{Queue: q, Sender: s, Counters: &c, BatchSize: 50, FlushInterval: 10 * time.Millisecond,
		BackoffInitial: time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		it := pool.Item(d)
		it.Enqueued = time.Now()
		q.Push(it)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if n := e.Shutdown(ctx); n != 0 {
		t.Fatalf("%d undelivered", n)
	}
	return &c
}

func TestExporterRetriesThroughHTTPOutageWithoutLoss(t *testing.T) {
	rcv := newHTTPReceiver(t, func(n int) (int, http.Header, []byte) {
		if n <= 5 {
			return http.StatusServiceUnavailable, nil, []byte("warming up")
		}
		return 0, nil, nil
	})
	s := newSender(t, Options{Endpoint: rcv.URL})
	docs := uniqueDocs(500)
	c := runExporter(t, s, docs)
	ids := spanIDs(rcv.traces())
	if len(ids) != 500 {
		t.Fatalf("received %d distinct spans of 500", len(ids))
	}
	if c.BackendErrors(counters.ErrHTTP5XX) < 5 || c.Retried.Load() == 0 || c.DroppedTotal() != 0 || c.Sent.Load() != 500 {
		t.Fatalf("5xx %d retried %d dropped %d sent %d", c.BackendErrors(counters.ErrHTTP5XX), c.Retried.Load(), c.DroppedTotal(), c.Sent.Load())
	}
}

func TestExporterRetriesThroughGRPCOutageWithoutLoss(t *testing.T) {
	rcv := newGRPCReceiver(t, func(n int) error {
		if n <= 5 {
			return status.Error(codes.Unavailable, "restarting")
		}
		return nil
	})
	s := newSender(t, Options{Endpoint: rcv.addr, Protocol: "grpc", Insecure: true})
	c := runExporter(t, s, uniqueDocs(500))
	if ids := spanIDs(rcv.traces()); len(ids) != 500 {
		t.Fatalf("received %d distinct spans of 500", len(ids))
	}
	if c.DroppedTotal() != 0 || c.Retried.Load() == 0 {
		t.Fatalf("dropped %d retried %d", c.DroppedTotal(), c.Retried.Load())
	}
}

func TestInProgressIsHeldUntilItsCompleteVersion(t *testing.T) {
	rcv := newHTTPReceiver(t, nil)
	clk := newClock()
	s := newSender(t, Options{Endpoint: rcv.URL, Now: clk.Now})
	if _, err := s.Send(context.Background(), [][]byte{readFixture(t, "in_progress.json")}); err != nil {
		t.Fatal(err)
	}
	if rcv.requests() != 0 || s.Stats().Held != 1 {
		t.Fatalf("in-progress sent at once: %d requests, held %d", rcv.requests(), s.Stats().Held)
	}
	clk.Advance(30 * time.Second)
	if _, err := s.Send(context.Background(), [][]byte{readFixture(t, "complete.json")}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if _, err := s.Send(context.Background(), [][]byte{readFixture(t, "escapes.json")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rcv.traces()
	if ids := spanIDs(got); ids["7f7e7d7c7b7a7978"] != 1 {
		t.Fatalf("segment exported %d times", ids["7f7e7d7c7b7a7978"])
	}
	spans, _ := spansByName(got)
	job := spans["batch-job"]
	if _, ok := job.Attributes().Get(attrXRayInProgress); ok || job.EndTimestamp() != 1704067260750000000 {
		t.Fatalf("exported the in-progress version: end %d attrs %v", job.EndTimestamp(), job.Attributes().AsRaw())
	}
	if st := s.Stats(); st.Held != 0 || st.Unfinished != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestInProgressTimesOutAsUnfinishedSpan(t *testing.T) {
	rcv := newHTTPReceiver(t, nil)
	clk := newClock()
	s := newSender(t, Options{Endpoint: rcv.URL, Now: clk.Now, InProgressTimeout: time.Minute})
	if _, err := s.Send(context.Background(), [][]byte{readFixture(t, "in_progress.json")}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(59 * time.Second)
	if _, err := s.Send(context.Background(), [][]byte{readFixture(t, "escapes.json")}); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Held != 1 {
		t.Fatal("released before its timeout")
	}
	clk.Advance(time.Second)
	if _, err := s.Send(context.Background(), [][]byte{readFixture(t, "containers.json")}); err != nil {
		t.Fatal(err)
	}
	spans, _ := spansByName(rcv.traces())
	job, ok := spans["batch-job"]
	if !ok {
		t.Fatal("timed-out in-progress segment not exported")
	}
	if job.EndTimestamp() != job.StartTimestamp() {
		t.Fatalf("unfinished span end %d start %d", job.EndTimestamp(), job.StartTimestamp())
	}
	wantAttrs(t, "unfinished", job.Attributes(), map[string]any{attrXRayInProgress: true})
	if st := s.Stats(); st.Held != 0 || st.Unfinished != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The complete version still goes out when it finally comes.
	if _, err := s.Send(context.Background(), [][]byte{readFixture(t, "complete.json")}); err != nil {
		t.Fatal(err)
	}
	if n := spanIDs(rcv.traces())["7f7e7d7c7b7a7978"]; n != 2 {
		t.Fatalf("complete version after timeout: %d exports", n)
	}
}

func TestInProgressArrivingAfterItsCompleteVersionIsDropped(t *testing.T) {
	rcv := newHTTPReceiver(t, nil)
	clk := newClock()
	s := newSender(t, Options{Endpoint: rcv.URL, Now: clk.Now})
	if _, err := s.Send(context.Background(), [][]byte{readFixture(t, "complete.json"), readFixture(t, "in_progress.json")}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Held != 0 || st.Superseded != 1 || st.Unfinished != 0 {
		t.Fatalf("stats %+v", st)
	}
	if n := spanIDs(rcv.traces())["7f7e7d7c7b7a7978"]; n != 1 {
		t.Fatalf("exported %d times", n)
	}
}

func inProgressDocs(n int) [][]byte {
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = fmt.Appendf(nil, `{"name":"job","id":"%016x","trace_id":"1-65000000-%024x","start_time":1700000000,"in_progress":true}`, i+1, i+1)
	}
	return docs
}

func TestInProgressStateIsBoundedByCountAndBytes(t *testing.T) {
	rcv := newHTTPReceiver(t, nil)
	s := newSender(t, Options{Endpoint: rcv.URL, MaxInProgress: 3})
	if _, err := s.Send(context.Background(), inProgressDocs(5)); err != nil {
		t.Fatal(err)
	}
	ids := spanIDs(rcv.traces())
	if st := s.Stats(); st.Held != 3 || st.Unfinished != 2 || len(ids) != 2 || ids["0000000000000001"] != 1 || ids["0000000000000002"] != 1 {
		t.Fatalf("stats %+v, exported early %v", st, ids)
	}

	rcv2 := newHTTPReceiver(t, nil)
	docs := inProgressDocs(4)
	s2 := newSender(t, Options{Endpoint: rcv2.URL, MaxInProgressBytes: int64(2*len(docs[0]) + 1)})
	if _, err := s2.Send(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	if st := s2.Stats(); st.Held != 2 || st.HeldBytes > int64(2*len(docs[0])+1) || st.Unfinished != 2 {
		t.Fatalf("byte-bounded stats %+v", st)
	}
}

func TestFlushExportsHeldSegmentsAndKeepsThemWhenItFails(t *testing.T) {
	var mu sync.Mutex
	down := true
	rcv := newHTTPReceiver(t, func(int) (int, http.Header, []byte) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable, nil, nil
		}
		return 0, nil, nil
	})
	s := newSender(t, Options{Endpoint: rcv.URL})
	if _, err := s.Send(context.Background(), inProgressDocs(3)); err != nil {
		t.Fatal(err)
	}
	err := s.Flush(context.Background())
	if ce := export.AsCallError(err); err == nil || !ce.Retryable {
		t.Fatalf("flush against a down backend: %v", err)
	}
	if s.Stats().Held != 3 {
		t.Fatalf("held %d after a failed flush", s.Stats().Held)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ids := spanIDs(rcv.traces()); len(ids) != 3 || s.Stats().Held != 0 || s.Stats().Unfinished != 3 {
		t.Fatalf("flushed %v stats %+v", ids, s.Stats())
	}
}

func TestSweepExportsTimedOutSegmentsWithoutTraffic(t *testing.T) {
	rcv := newHTTPReceiver(t, nil)
	s := newSender(t, Options{Endpoint: rcv.URL, InProgressTimeout: 30 * time.Millisecond})
	if _, err := s.Send(context.Background(), inProgressDocs(1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Unfinished == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if rcv.requests() != 1 || s.Stats().Unfinished != 1 {
		t.Fatalf("requests %d stats %+v", rcv.requests(), s.Stats())
	}
}

func TestNewValidatesOptionsAndResolvesEndpoints(t *testing.T) {
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{}, "Endpoint is empty"},
		{Options{Endpoint: "http://x", Protocol: "thrift"}, `Protocol "thrift"`},
		{Options{Endpoint: "ftp://x"}, "scheme must be http or https"},
		{Options{Endpoint: "http://x", Headers: map[string]string{"": "v"}}, "header name is empty"},
		{Options{Endpoint: "http://x", Headers: map[string]string{"X-A": "v\r\nX-B: w"}}, "line break"},
		{Options{Endpoint: "http://x", Headers: map[string]string{"X A": "v"}}, "not a valid header name"},
		{Options{Endpoint: "https://x", CAFile: "/nonexistent/ca.pem"}, "reading the OTLP CA file"},
		{Options{Endpoint: "x:4317/path", Protocol: "grpc"}, "want host:port"},
	} {
		_, err := New(tt.o)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.o, err, tt.want)
		}
	}
	for in, want := range map[string]string{
		"http://collector:4318":            "http://collector:4318/v1/traces",
		"http://collector:4318/":           "http://collector:4318/v1/traces",
		"https://collector/otlp/v1/traces": "https://collector/otlp/v1/traces",
		"collector:4318":                   "https://collector:4318/v1/traces",
	} {
		u, err := httpURL(in, false)
		if err != nil || u.String() != want {
			t.Errorf("%s -> %v %v, want %s", in, u, err, want)
		}
	}
	if u, _ := httpURL("collector:4318", true); u.String() != "http://collector:4318/v1/traces" {
		t.Errorf("insecure scheme-less endpoint -> %s", u)
	}
	for in, want := range map[string][2]any{
		"collector:4317":         {"collector:4317", false},
		"http://collector:4317":  {"collector:4317", true},
		"https://collector:4317": {"collector:4317", false},
		":4317":                  {"localhost:4317", false},
	} {
		got, plain, err := grpcTarget(in, false)
		if err != nil || got != want[0] || plain != want[1] {
			t.Errorf("%s -> %s %v %v", in, got, plain, err)
		}
	}
}

func TestSendHTTPSWithCAFileOrSkipVerify(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := [][]byte{readFixture(t, "escapes.json")}
	if _, err := newSender(t, Options{Endpoint: srv.URL, CAFile: ca}).Send(context.Background(), doc); err != nil {
		t.Fatalf("with CA file: %v", err)
	}
	if _, err := newSender(t, Options{Endpoint: srv.URL, InsecureSkipVerify: true}).Send(context.Background(), doc); err != nil {
		t.Fatalf("skip verify: %v", err)
	}
	if _, err := newSender(t, Options{Endpoint: srv.URL}).Send(context.Background(), doc); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
}

func TestHeldSubsegmentIsForgottenWhenItArrivesEmbeddedInItsSegment(t *testing.T) {
	rcv := newHTTPReceiver(t, nil)
	clk := newClock()
	s := newSender(t, Options{Endpoint: rcv.URL, Now: clk.Now})
	sub := `{"type":"subsegment","id":"0101010101010101","trace_id":"1-65a00000-aaaaaaaaaaaaaaaaaaaaaaaa","parent_id":"7f7e7d7c7b7a7978","name":"step-1","start_time":1704067200.3,"in_progress":true}`
	if _, err := s.Send(context.Background(), [][]byte{[]byte(sub)}); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Held != 1 {
		t.Fatal("in-progress subsegment not held")
	}
	// complete.json embeds step-1, complete.
	if _, err := s.Send(context.Background(), [][]byte{readFixture(t, "complete.json")}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Held != 0 || st.Unfinished != 0 {
		t.Fatalf("stats %+v", st)
	}
	if n := spanIDs(rcv.traces())["0101010101010101"]; n != 1 {
		t.Fatalf("step-1 exported %d times", n)
	}
}

func TestExporterDeliversEachSegmentOnceWhenInProgressAndCompleteVersionsRace(t *testing.T) {
	rcv := newHTTPReceiver(t, func(n int) (int, http.Header, []byte) {
		if n%4 == 0 {
			return http.StatusServiceUnavailable, nil, nil // retries reorder batches
		}
		return 0, nil, nil
	})
	s := newSender(t, Options{Endpoint: rcv.URL})
	var docs [][]byte
	for i := 1; i <= 300; i++ {
		ip := fmt.Appendf(nil, `{"name":"job","id":"%016x","trace_id":"1-65000000-%024x","start_time":1700000000,"in_progress":true}`, i, i)
		done := fmt.Appendf(nil, `{"name":"job","id":"%016x","trace_id":"1-65000000-%024x","start_time":1700000000,"end_time":1700000001}`, i, i)
		docs = append(docs, ip, done)
	}
	c := runExporter(t, s, docs)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := spanIDs(rcv.traces())
	for i := 1; i <= 300; i++ {
		if n := ids[fmt.Sprintf("%016x", i)]; n != 1 {
			t.Fatalf("segment %d exported %d times", i, n)
		}
	}
	if st := s.Stats(); st.Unfinished != 0 || st.Held != 0 || c.DroppedTotal() != 0 {
		t.Fatalf("stats %+v dropped %d", st, c.DroppedTotal())
	}
}

// withNetHTTP makes s send through net/http, as it does when a proxy applies.
func withNetHTTP(t *testing.T, s *Sender) *Sender {
	ht, ok := s.tr.(*httpTransport)
	if !ok || ht.direct == nil {
		t.Fatal("expected the direct HTTP client on a loopback endpoint")
	}
	ht.direct = nil
	return s
}

func TestSendThroughNetHTTPWhenAProxyApplies(t *testing.T) {
	rcv := newHTTPReceiver(t, func(n int) (int, http.Header, []byte) {
		if n == 1 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"3"}}, nil
		}
		return 0, nil, nil
	})
	s := withNetHTTP(t, newSender(t, Options{Endpoint: rcv.URL, Headers: map[string]string{"Authorization": "Bearer x"}}))
	docs := completeFixtures(t)
	_, err := s.Send(context.Background(), docs)
	if ce := export.AsCallError(err); err == nil || !ce.Throttled || ce.RetryAfter != 3*time.Second {
		t.Fatalf("%v", err)
	}
	if _, err := s.Send(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	want, _ := Translate(docs)
	if got := canonicalJSON(t, rcv.traces()); !bytes.Equal(got, canonicalJSON(t, want)) {
		t.Fatal("received spans differ from the translation")
	}
	if h := rcv.header[0]; h.Get("Content-Encoding") != "gzip" || h.Get("Authorization") != "Bearer x" {
		t.Fatalf("headers %v", h)
	}
	rcv.Close()
	_, err = s.Send(context.Background(), docs)
	// Refused, or (when net/http had kept the old connection) a write on a closed one.
	if ce := export.AsCallError(err); err == nil || !ce.Retryable || ce.Class != counters.ErrConnectionRefused && ce.Class != counters.ErrOther {
		t.Fatalf("%v", err)
	}
}

func TestDirectClientReusesConnectionsAndSurvivesServerCloses(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		n := len(conns)
		mu.Unlock()
		if r.Header.Get("Content-Length") == "" || r.Header.Get("Host") == "evil" {
			t.Errorf("framing headers %v", r.Header)
		}
		if n == 2 {
			w.Header().Set("Connection", "close")
		}
	}))
	srv.Start()
	defer srv.Close()
	s := newSender(t, Options{Endpoint: srv.URL, Headers: map[string]string{"content-length": "1", "Host": "evil", "X-Ok": "yes"}})
	doc := [][]byte{readFixture(t, "escapes.json")}
	for i := 0; i < 5; i++ {
		if _, err := s.Send(context.Background(), doc); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	n := len(conns)
	mu.Unlock()
	if n != 1 {
		t.Fatalf("%d connections for 5 sequential calls", n)
	}
	// A kept-alive connection the server dropped is replaced transparently.
	srv.CloseClientConnections()
	if _, err := s.Send(context.Background(), doc); err != nil {
		t.Fatalf("after the server closed the idle connection: %v", err)
	}
	for i := 0; i < 3; i++ { // the second connection is closed by "Connection: close"
		if _, err := s.Send(context.Background(), doc); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSendGRPCOverTLSWithCAFile(t *testing.T) {
	certSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	certSrv.Close() // only its certificate (for 127.0.0.1) is needed
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &grpcReceiver{addr: ln.Addr().String()}
	r.srv = grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&certSrv.TLS.Certificates[0])))
	ptraceotlp.RegisterGRPCServer(r.srv, r)
	done := make(chan struct{})
	go func() { defer close(done); _ = r.srv.Serve(ln) }()
	defer func() { r.srv.Stop(); <-done }()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := [][]byte{readFixture(t, "escapes.json")}
	if _, err := newSender(t, Options{Endpoint: "https://" + r.addr, Protocol: "grpc", CAFile: ca}).Send(context.Background(), doc); err != nil {
		t.Fatalf("gRPC over TLS: %v", err)
	}
	if r.traces().SpanCount() == 0 {
		t.Fatal("no spans arrived over TLS")
	}
	if _, err := newSender(t, Options{Endpoint: "https://" + r.addr, Protocol: "grpc"}).Send(context.Background(), doc); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
}

func TestSendManyCarriesAGroupInOneRequestAndSplitsUnprocessedPerBatch(t *testing.T) {
	rcv := newHTTPReceiver(t, nil)
	s := newSender(t, Options{Endpoint: rcv.URL})
	good := uniqueDocs(6)
	batches := [][][]byte{
		{good[0], []byte(`not json`), good[1]},
		{good[2]},
		{[]byte(`{"name":"x","start_time":1,"end_time":2}`), good[3], good[4], good[5]},
	}
	results, errs := s.SendMany(context.Background(), batches)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if rcv.requests() != 1 {
		t.Fatalf("%d requests for one group, want 1", rcv.requests())
	}
	if len(results[0].Unprocessed) != 1 || results[0].Unprocessed[0].Index != 1 ||
		len(results[1].Unprocessed) != 0 ||
		len(results[2].Unprocessed) != 1 || results[2].Unprocessed[0].Index != 0 || results[2].Unprocessed[0].Code != "MissingId" {
		t.Fatalf("unprocessed per batch: %+v", results)
	}
	if ids := spanIDs(rcv.traces()); len(ids) != 6 {
		t.Fatalf("received %d distinct spans, want 6", len(ids))
	}
	// A group larger than maxGroupBytes is split; every batch still gets its answer.
	big := make([]byte, maxGroupBytes/2+1)
	for i := range big {
		big[i] = 'x'
	}
	var large [][][]byte
	for _, d := range uniqueDocs(3) {
		doc := append(append(d[:len(d)-1:len(d)-1], `,"metadata":{"pad":"`...), big...)
		doc = append(doc, `"}}`...)
		large = append(large, [][]byte{doc})
	}
	before := rcv.requests()
	_, errs = s.SendMany(context.Background(), large)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("large batch %d: %v", i, err)
		}
	}
	if n := rcv.requests() - before; n != 3 {
		t.Fatalf("%d requests for three documents over half the group limit each, want 3", n)
	}
	// A failed request fails every batch it carried.
	rcv2 := newHTTPReceiver(t, func(int) (int, http.Header, []byte) { return 503, nil, nil })
	s2 := newSender(t, Options{Endpoint: rcv2.URL})
	_, errs = s2.SendMany(context.Background(), batches)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("batch %d: no error from a failing receiver", i)
		}
	}
}
