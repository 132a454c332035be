package xray

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/export"
	"github.com/xrayd/xrayd/internal/testutil/fakexray"
)

func newSender(t *testing.T, fx *fakexray.Server, secret string) *Sender {
	return newSenderMode(t, fx, secret, false)
}

func newSenderMode(t *testing.T, fx *fakexray.Server, secret string, direct bool) *Sender {
	u, _ := url.Parse(fx.URL)
	s := New(Options{Endpoint: u, Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider(fakexray.AccessKeyID, secret, ""), Client: fx.Client(), UserAgent: "xrayd-test", Direct: direct})
	t.Cleanup(s.Close)
	return s
}

func TestDirectClientOverHTTPAndTLSDeliversSignedAndReusesConnections(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			fx := fakexray.New("us-west-2")
			if tls {
				fx.Close()
				fx = fakexray.NewTLS("us-west-2")
			}
			defer fx.Close()
			fx.Logf = t.Logf
			s := newSenderMode(t, fx, fakexray.SecretAccessKey, true)
			for i := 0; i < 20; i++ {
				d := []byte(fmt.Sprintf(`{"id":"%016x","name":"quote \" here"}`, i))
				if _, err := s.Send(context.Background(), [][]byte{d}); err != nil {
					t.Fatal(err)
				}
				if fx.Has(string(d)) != 1 {
					t.Fatalf("doc %d missing", i)
				}
			}
			if fx.BadSigs.Load() != 0 {
				t.Fatal("bad signature")
			}
			if s.direct.Idle() != 1 {
				t.Fatalf("%d idle connections, want 1 reused", s.direct.Idle())
			}
			fx.SetFaults(fakexray.Faults{ThrottleRate: 1})
			_, err := s.Send(context.Background(), [][]byte{[]byte(`{}`)})
			if ce := export.AsCallError(err); err == nil || !ce.Throttled {
				t.Fatalf("throttle not seen: %v", err)
			}
			fx.SetFaults(fakexray.Faults{Delay: time.Second})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err = s.Send(ctx, [][]byte{[]byte(`{}`)})
			if ce := export.AsCallError(err); err == nil || ce.Class != counters.ErrTimeout {
				t.Fatalf("timeout not classified: %v %+v", err, ce)
			}
		})
	}
}

func TestSendDeliversDocumentsUnalteredAndSigned(t *testing.T) {
	fx := fakexray.New("us-west-2")
	defer fx.Close()
	fx.Logf = t.Logf
	docs := [][]byte{
		[]byte(`{"trace_id":"1-5f84c7a1-2b1a5e6e9f0d9d0c1a2b3c4d","id":"70de5b6f19ff9a0a","name":"a","start_time":1,"end_time":2}`),
		[]byte("{\"name\":\"quotes \\\" tabs\t newline\\n é 日本\"}\n"),
	}
	if _, err := newSender(t, fx, fakexray.SecretAccessKey).Send(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if fx.Has(string(d)) != 1 {
			t.Fatalf("document altered or missing: %q; got %q", d, fx.Docs())
		}
	}
	if fx.BadSigs.Load() != 0 {
		t.Fatal("bad signature")
	}
}

func TestSendWithWrongSecretIsRefusedAndRetryable(t *testing.T) {
	fx := fakexray.New("us-west-2")
	defer fx.Close()
	_, err := newSender(t, fx, "wrong").Send(context.Background(), [][]byte{[]byte(`{}`)})
	var ce *export.CallError
	if !errors.As(err, &ce) || ce.Status != 403 || ce.Code != "InvalidSignatureException" || ce.Class != counters.ErrHTTP4XX {
		t.Fatalf("err = %#v", err)
	}
}

func TestSendClassifiesBackendFailures(t *testing.T) {
	tests := []struct {
		name      string
		faults    fakexray.Faults
		class     counters.ErrorClass
		throttled bool
	}{
		{"5xx", fakexray.Faults{FailRate: 1}, counters.ErrHTTP5XX, false},
		{"throttled", fakexray.Faults{ThrottleRate: 1}, counters.ErrHTTP4XX, true},
		{"down", fakexray.Faults{Down: true}, counters.ErrHTTP5XX, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := fakexray.New("us-west-2")
			defer fx.Close()
			fx.SetFaults(tt.faults)
			_, err := newSender(t, fx, fakexray.SecretAccessKey).Send(context.Background(), [][]byte{[]byte(`{}`)})
			ce := export.AsCallError(err)
			if err == nil || !ce.Retryable || ce.Class != tt.class || ce.Throttled != tt.throttled {
				t.Fatalf("err=%v ce=%+v", err, ce)
			}
		})
	}
}

func TestSendMapsUnprocessedSegmentsToTheirDocuments(t *testing.T) {
	fx := fakexray.New("us-west-2")
	defer fx.Close()
	fx.SetFaults(fakexray.Faults{Unprocessed: func(doc string) (string, bool) {
		var d struct{ Name string }
		json.Unmarshal([]byte(doc), &d)
		switch d.Name {
		case "bad":
			return "InvalidTraceId", true
		case "busy":
			return "ThrottledException", true
		}
		return "", false
	}})
	docs := [][]byte{
		[]byte(`{"id":"0000000000000001","trace_id":"1-00000001-000000000000000000000001","name":"ok"}`),
		[]byte(`{"id":"0000000000000002","trace_id":"1-00000001-000000000000000000000002","name":"bad"}`),
		[]byte(`{"id":"0000000000000003","trace_id":"1-00000001-000000000000000000000003","name":"busy"}`),
	}
	res, err := newSender(t, fx, fakexray.SecretAccessKey).Send(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unprocessed) != 2 {
		t.Fatalf("unprocessed %+v", res.Unprocessed)
	}
	bad, busy := res.Unprocessed[0], res.Unprocessed[1]
	if bad.Index != 1 || bad.Retryable || bad.TraceID != "1-00000001-000000000000000000000002" || bad.Code != "InvalidTraceId" {
		t.Fatalf("bad %+v", bad)
	}
	if busy.Index != 2 || !busy.Retryable {
		t.Fatalf("busy %+v", busy)
	}
}

func BenchmarkAppendBody50x1KB(b *testing.B) {
	doc := make([]byte, 1024)
	for i := range doc {
		doc[i] = 'a' + byte(i%26)
	}
	docs := make([][]byte, 50)
	for i := range docs {
		docs[i] = doc
	}
	buf := make([]byte, 0, 128<<10)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendBody(buf[:0], docs)
	}
}

func TestSendManyResendsOverStaleKeptAliveConnections(t *testing.T) {
	fx := fakexray.New("us-west-2")
	defer fx.Close()
	fx.Logf = t.Logf
	s := newSenderMode(t, fx, fakexray.SecretAccessKey, true)
	group := func(round int) [][][]byte {
		var g [][][]byte
		for b := 0; b < 4; b++ {
			var docs [][]byte
			for d := 0; d < 3; d++ {
				docs = append(docs, []byte(fmt.Sprintf(`{"id":"%016x","name":"r%d b%d d%d"}`, round*100+b*10+d, round, b, d)))
			}
			g = append(g, docs)
		}
		return g
	}
	for round := 0; round < 3; round++ {
		if round > 0 {
			// The server drops every kept-alive connection between groups: the next
			// group's writes go to dead connections and must be sent again, rebuilt.
			fx.CloseClientConnections()
		}
		g := group(round)
		_, errs := s.SendMany(context.Background(), g)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d batch %d: %v", round, i, err)
			}
		}
		for _, docs := range g {
			for _, d := range docs {
				if fx.Has(string(d)) != 1 {
					t.Fatalf("round %d: %s delivered %d times", round, d, fx.Has(string(d)))
				}
			}
		}
	}
	if fx.BadSigs.Load() != 0 {
		t.Fatal("bad signature")
	}
}

func TestNoneUnprocessedRecognisesOnlyEmptyAnswers(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{`{"UnprocessedTraceSegments":[]}`, true},
		{` { "UnprocessedTraceSegments" : [ ] } ` + "\n", true},
		{`{}`, true},
		{`{"UnprocessedTraceSegments":[{"Id":"a","ErrorCode":"x"}]}`, false},
		{`{"UnprocessedTraceSegments":[],"Other":1}`, false},
		{`{"Other":[]}`, false},
		{``, false},
		{`[]`, false},
		{`{"UnprocessedTraceSegments":null}`, false},
	}
	for _, tt := range tests {
		if got := noneUnprocessed([]byte(tt.body)); got != tt.want {
			t.Errorf("noneUnprocessed(%q) = %v, want %v", tt.body, got, tt.want)
		}
		// Whatever the fast path says, the full parse must agree on "nothing unprocessed".
		if tt.want {
			res, err := parseResponse([]byte(tt.body), nil)
			if err != nil || len(res.Unprocessed) != 0 {
				t.Errorf("parseResponse(%q) = %+v, %v", tt.body, res, err)
			}
		}
	}
}
