package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/xrayd/xrayd/internal/counters"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Send that keeps bodies and can be told to fail.
type recorder struct {
	mu     sync.Mutex
	bodies [][]byte
	failAt map[int]bool // call index (0-based) -> fail
	calls  int
}

func (r *recorder) send(_ context.Context, body []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.calls
	r.calls++
	if r.failAt[i] {
		return errors.New("boom")
	}
	r.bodies = append(r.bodies, append([]byte(nil), body...))
	return nil
}

func (r *recorder) records(t *testing.T) [][]map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]map[string]any
	for _, b := range r.bodies {
		var req struct{ TelemetryRecords []map[string]any }
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		out = append(out, req.TelemetryRecords)
	}
	return out
}

// clock advances one second per reading.
func clock() func() time.Time {
	t := time.Unix(1795619839, 136_000_000)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func TestBodyMatchesPutTelemetryRecords(t *testing.T) {
	c := &counters.Set{}
	c.MarkReceived()
	c.Received.Add(8)
	c.Rejected.Add(5)
	c.Sent.Add(3)
	c.AddDropped(counters.DropBudget, 2)
	c.AddDropped(counters.DropSpool, 1)
	c.AddDropped(counters.DropInvalid, 4) // a batch the backend refused outright: a drop like any other
	c.AddBackendError(counters.ErrTimeout)
	c.AddBackendError(counters.ErrHTTP5XX)
	c.AddBackendError(counters.ErrHTTP5XX)
	c.AddBackendError(counters.ErrUnknownHost)
	rec := &recorder{}
	r := New(Options{Counters: c, Send: rec.send, Now: func() time.Time { return time.Unix(1795619839, 136_900_000) },
		Hostname: "h", InstanceID: "i-1", ResourceARN: "arn:r"})
	r.cycle(context.Background())
	want := `{"EC2InstanceId":"i-1","Hostname":"h","ResourceARN":"arn:r","TelemetryRecords":[{"Timestamp":1795619839.136,` +
		`"SegmentsReceivedCount":8,"SegmentsRejectedCount":5,"SegmentsSentCount":3,"SegmentsSpilloverCount":7,` +
		`"BackendConnectionErrors":{"TimeoutCount":1,"ConnectionRefusedCount":0,"HTTPCode4XXCount":0,"HTTPCode5XXCount":2,"UnknownHostCount":1,"OtherCount":0}}]}`
	if len(rec.bodies) != 1 || string(rec.bodies[0]) != want {
		t.Fatalf("body:\n got  %s\n want %s", rec.bodies, want)
	}
}

func TestIdentityStringsAlwaysPresent(t *testing.T) {
	c := &counters.Set{}
	c.MarkReceived()
	rec := &recorder{}
	New(Options{Counters: c, Send: rec.send, Now: clock()}).cycle(context.Background())
	var m map[string]any
	json.Unmarshal(rec.bodies[0], &m)
	for _, k := range []string{"EC2InstanceId", "Hostname", "ResourceARN"} {
		if v, ok := m[k]; !ok || v != "" {
			t.Errorf("%s = %v, %v", k, v, ok)
		}
	}
}

func TestNothingRecordedBeforeFirstDatagram(t *testing.T) {
	c := &counters.Set{}
	rec := &recorder{}
	r := New(Options{Counters: c, Send: rec.send, Now: clock()})
	r.cycle(context.Background())
	if rec.calls != 0 {
		t.Fatalf("sent %d calls before any datagram", rec.calls)
	}
	c.MarkReceived()
	c.Received.Add(1)
	r.cycle(context.Background()) // counts since start-up
	r.cycle(context.Background()) // all-zero, but still recorded
	got := rec.records(t)
	if len(got) != 2 || got[0][0]["SegmentsReceivedCount"] != 1.0 || got[1][0]["SegmentsReceivedCount"] != 0.0 {
		t.Fatalf("records = %v", got)
	}
}

func TestRecordsArePerPeriodDeltas(t *testing.T) {
	c := &counters.Set{}
	c.MarkReceived()
	rec := &recorder{}
	r := New(Options{Counters: c, Send: rec.send, Now: clock()})
	for _, n := range []int64{5, 0, 7} {
		c.Received.Add(n)
		c.Sent.Add(n)
		c.AddBackendError(counters.ErrOther)
		r.cycle(context.Background())
	}
	got := rec.records(t)
	for i, want := range []float64{5, 0, 7} {
		rr := got[i][0]
		if rr["SegmentsReceivedCount"] != want || rr["SegmentsSentCount"] != want ||
			rr["BackendConnectionErrors"].(map[string]any)["OtherCount"] != 1.0 {
			t.Fatalf("record %d = %v", i, rr)
		}
	}
}

func TestQueueKeepsNewest30AndSendsAtMost10PerCall(t *testing.T) {
	tests := []struct {
		name      string
		failing   int   // cycles whose sends fail
		wantCalls []int // records per successful call in the recovering cycle
		wantFirst float64
	}{
		{"short outage", 4, []int{5}, 1},
		{"25 queued", 24, []int{10, 10, 5}, 1},
		{"long outage drops the oldest", 40, []int{10, 10, 10}, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &counters.Set{}
			c.MarkReceived()
			rec := &recorder{failAt: map[int]bool{}}
			for i := range tt.failing {
				rec.failAt[i] = true
			}
			r := New(Options{Counters: c, Send: rec.send, Now: clock()})
			for i := 1; i <= tt.failing+1; i++ {
				c.Received.Add(int64(i)) // record i says "received i"
				r.cycle(context.Background())
			}
			got := rec.records(t)
			if len(got) != len(tt.wantCalls) {
				t.Fatalf("calls = %d, want %d", len(got), len(tt.wantCalls))
			}
			for i, n := range tt.wantCalls {
				if len(got[i]) != n {
					t.Fatalf("call %d carried %d records, want %d", i, len(got[i]), n)
				}
			}
			if first := got[0][0]["SegmentsReceivedCount"]; first != tt.wantFirst {
				t.Fatalf("oldest record sent = %v, want %v", first, tt.wantFirst)
			}
			if r.pending() != 0 {
				t.Fatalf("%d left queued", r.pending())
			}
		})
	}
}

func TestFailedCallKeepsTheRestForNextCycle(t *testing.T) {
	c := &counters.Set{}
	c.MarkReceived()
	rec := &recorder{failAt: map[int]bool{}}
	for i := range 15 {
		rec.failAt[i] = true
	}
	rec.failAt[16] = true // second call of the recovering cycle
	r := New(Options{Counters: c, Send: rec.send, Now: clock()})
	for range 16 {
		r.cycle(context.Background())
	}
	if got := rec.records(t); len(got) != 1 || len(got[0]) != 10 || r.pending() != 6 {
		t.Fatalf("calls %d, pending %d", len(got), r.pending())
	}
	r.cycle(context.Background())
	if got := rec.records(t); len(got) != 2 || len(got[1]) != 7 || r.pending() != 0 {
		t.Fatalf("after recovery: calls %d, pending %d", len(got), r.pending())
	}
}

func TestTimestampHasMillisecondFraction(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1795619839, 136_999_999), "1795619839.136"},
		{time.Unix(1795619839, 5_000_000), "1795619839.005"},
		{time.Unix(1795619839, 0), "1795619839.000"},
	} {
		b, _ := epochMillis(tt.t).MarshalJSON()
		if string(b) != tt.want {
			t.Errorf("got %s, want %s", b, tt.want)
		}
	}
}

func TestStartCyclesAndShutdownSendsFinalRecord(t *testing.T) {
	c := &counters.Set{}
	c.MarkReceived()
	var mu sync.Mutex
	var bodies int
	tick := make(chan struct{}, 100)
	send := func(context.Context, []byte) error {
		mu.Lock()
		bodies++
		mu.Unlock()
		tick <- struct{}{}
		return nil
	}
	r := New(Options{Counters: c, Send: send, Interval: 10 * time.Millisecond})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-tick:
		case <-time.After(5 * time.Second):
			t.Fatal("no periodic send")
		}
	}
	mu.Lock()
	before := bodies
	mu.Unlock()
	c.Received.Add(3)
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	after := bodies
	mu.Unlock()
	if after <= before {
		t.Fatal("no final cycle at shutdown")
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestShutdownReportsUnsentRecords(t *testing.T) {
	c := &counters.Set{}
	c.MarkReceived()
	r := New(Options{Counters: c, Interval: time.Hour, Send: func(context.Context, []byte) error { return errors.New("down") }})
	r.Start(context.Background())
	if err := r.Shutdown(context.Background()); err == nil {
		t.Fatal("want an error naming the unsent records")
	}
}

func TestShutdownWithoutStartIsNoop(t *testing.T) {
	c := &counters.Set{}
	c.MarkReceived()
	rec := &recorder{}
	if err := New(Options{Counters: c, Send: rec.send}).Shutdown(context.Background()); err != nil || rec.calls != 0 {
		t.Fatalf("err %v, calls %d", err, rec.calls)
	}
}
