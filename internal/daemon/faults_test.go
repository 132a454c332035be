package daemon

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xrayd/xrayd/internal/config"
	"github.com/xrayd/xrayd/internal/testutil/fakexray"
)

// sendAtRate sends n documents at about rate per second and returns them.
func sendAtRate(t *testing.T, c net.Conn, first, n, rate int) []string {
	t.Helper()
	docs := make([]string, 0, n)
	const chunk = 20
	interval := time.Duration(float64(time.Second) * chunk / float64(rate))
	next := time.Now()
	for i := 0; i < n; i++ {
		d := doc(first+i, 900)
		docs = append(docs, d)
		if _, err := fmt.Fprintf(c, "{\"format\":\"json\",\"version\":1}\n%s", d); err != nil {
			t.Fatal(err)
		}
		if i%chunk == chunk-1 {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
	}
	return docs
}

// checkDelivered asserts every document arrived, unaltered, and the counters add up.
func checkDelivered(t *testing.T, td *testDaemon, docs []string, allowDuplicates bool) {
	t.Helper()
	missing, dup := 0, 0
	for _, d := range docs {
		switch n := td.fx.Has(d); {
		case n == 0:
			missing++
		case n > 1:
			dup++
		}
	}
	c := td.Counters()
	t.Logf("calls=%d failed=%d ok=%d; received=%d sent=%d retried=%d dropped=%d rejected=%d; missing=%d duplicates=%d",
		td.fx.Calls.Load(), td.fx.FailedCalls.Load(), td.fx.OKCalls.Load(), c.Received.Load(), c.Sent.Load(), c.Retried.Load(), c.DroppedTotal(), c.Rejected.Load(), missing, dup)
	if missing > 0 {
		t.Fatalf("%d of %d documents lost", missing, len(docs))
	}
	if dup > 0 && !allowDuplicates {
		t.Fatalf("%d duplicates", dup)
	}
	if td.fx.BadSigs.Load() != 0 {
		t.Fatalf("%d unsigned or badly signed requests", td.fx.BadSigs.Load())
	}
	if got := c.Sent.Load() + c.DroppedTotal() + c.Rejected.Load(); c.Received.Load() != int64(len(docs)) || got != c.Received.Load() {
		t.Fatalf("counts do not add up: received %d, sent+dropped+rejected %d, documents %d", c.Received.Load(), got, len(docs))
	}
}

func TestFaultsEverySegmentDelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("fault tests take about a minute")
	}
	tests := []struct {
		name       string
		faults     fakexray.Faults
		n, rate    int
		duplicates bool
		during     func(td *testDaemon) // runs while sending
	}{
		{name: "30% of calls answer 5xx", faults: fakexray.Faults{FailRate: 0.3}, n: 4000, rate: 2000},
		{name: "30% of calls throttled", faults: fakexray.Faults{ThrottleRate: 0.3}, n: 4000, rate: 2000},
		{name: "connections reset mid-request", faults: fakexray.Faults{ResetRate: 0.3}, n: 4000, rate: 2000, duplicates: true},
		{name: "every answer 3 s slow", faults: fakexray.Faults{Delay: 3 * time.Second}, n: 4000, rate: 2000, duplicates: true},
		{name: "backend down for 10 s then back", faults: fakexray.Faults{Down: true}, n: 24000, rate: 2000, during: func(td *testDaemon) {
			time.AfterFunc(10*time.Second, func() { td.fx.SetFaults(fakexray.Faults{}) })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := startRelay(t, func(c *config.Config) { c.BufferMemoryMB = 200 })
			td.fx.SetFaults(tt.faults)
			if tt.during != nil {
				tt.during(td)
			}
			docs := sendAtRate(t, udpConn(t, td), 0, tt.n, tt.rate)
			waitUntil(t, 10*time.Second, "all datagrams read", func() bool { return td.Counters().Received.Load() == int64(len(docs)) })
			td.shutdown(t, 25*time.Second)
			checkDelivered(t, td, docs, tt.duplicates)
		})
	}
}

func TestShutdownDrainsTwentyThousandBufferedSegments(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 20,000 segments")
	}
	td := startRelay(t, func(c *config.Config) { c.BufferMemoryMB = 100 })
	td.fx.SetFaults(fakexray.Faults{Down: true})
	docs := sendAtRate(t, udpConn(t, td), 0, 20000, 20000)
	waitUntil(t, 10*time.Second, "all datagrams read", func() bool { return td.Counters().Received.Load() == 20000 })
	if b := td.queue.Bytes(); b < 19000*1000 {
		t.Fatalf("only %d bytes buffered; the test needs the segments held back", b)
	}
	td.fx.SetFaults(fakexray.Faults{})
	td.shutdown(t, 25*time.Second)
	checkDelivered(t, td, docs, false)
}

func TestBudgetOverflowDropsOldestAndCountsThem(t *testing.T) {
	td := startRelay(t, func(c *config.Config) { c.BufferMemoryMB = 3 })
	td.fx.SetFaults(fakexray.Faults{Down: true})
	docs := sendAtRate(t, udpConn(t, td), 0, 5000, 20000) // ~5 MB into a 3 MB budget
	waitUntil(t, 10*time.Second, "all datagrams read", func() bool { return td.Counters().Received.Load() == 5000 })
	td.fx.SetFaults(fakexray.Faults{})
	td.shutdown(t, 25*time.Second)
	c := td.Counters()
	dropped := c.DroppedTotal()
	if dropped == 0 || c.Sent.Load()+dropped != 5000 {
		t.Fatalf("sent %d dropped %d", c.Sent.Load(), dropped)
	}
	// Drop-oldest: the newest documents all survive; of the oldest, few do (a batch that
	// was in flight when the budget overflowed is not evicted).
	oldKept, newKept := 0, 0
	for i := 0; i < 1000; i++ {
		oldKept += td.fx.Has(docs[i])
		newKept += td.fx.Has(docs[len(docs)-1-i])
	}
	if newKept != 1000 || oldKept > 300 {
		t.Fatalf("budget did not drop the oldest: kept %d of the oldest 1000, %d of the newest 1000", oldKept, newKept)
	}
	if want := fmt.Sprint(dropped); !strings.Contains(td.logs.String(), "Dropping oldest") {
		t.Fatalf("no warning about the %s drops", want)
	}
}
