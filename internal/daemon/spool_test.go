package daemon

import (
	"testing"
	"time"

	"github.com/xrayd/xrayd/internal/config"
	"github.com/xrayd/xrayd/internal/testutil/fakexray"
)

func TestSpoolKeepsWhatTheDrainCouldNotSendAndSendsItAfterRestart(t *testing.T) {
	dir := t.TempDir()
	spoolCfg := func(c *config.Config) { c.SpoolDir = dir; c.SpoolMaxMB = 64 }
	first := startRelay(t, spoolCfg)
	first.fx.SetFaults(fakexray.Faults{Down: true})
	docs := sendAtRate(t, udpConn(t, first), 0, 2000, 20000)
	waitUntil(t, 10*time.Second, "all datagrams read", func() bool { return first.Counters().Received.Load() == 2000 })
	first.shutdown(t, 300*time.Millisecond) // backend down: nothing can be sent in time
	if c := first.Counters(); c.DroppedTotal() != 0 {
		t.Fatalf("%d segments dropped although the spool had room", c.DroppedTotal())
	}

	second := startRelay(t, spoolCfg)
	waitUntil(t, 15*time.Second, "spooled segments delivered after restart", func() bool { n, _ := second.fx.Count(); return n == len(docs) })
	for _, d := range docs {
		if second.fx.Has(d) != 1 {
			t.Fatalf("spooled document lost or altered: %.80s", d)
		}
	}
	waitUntil(t, 5*time.Second, "spool emptied", func() bool { return second.spool.Bytes() == 0 })
}

func TestSpoolCatchesBudgetOverflowDuringAnOutage(t *testing.T) {
	td := startRelay(t, func(c *config.Config) { c.BufferMemoryMB = 3; c.SpoolDir = t.TempDir(); c.SpoolMaxMB = 64 })
	td.fx.SetFaults(fakexray.Faults{Down: true})
	docs := sendAtRate(t, udpConn(t, td), 0, 6000, 20000) // about 6 MB into a 3 MB budget
	waitUntil(t, 10*time.Second, "all datagrams read", func() bool { return td.Counters().Received.Load() == 6000 })
	if td.spool.Bytes() == 0 {
		t.Fatal("nothing was spooled although the budget overflowed")
	}
	td.fx.SetFaults(fakexray.Faults{})
	waitUntil(t, 30*time.Second, "everything delivered, spool replayed", func() bool { n, _ := td.fx.Count(); return n == len(docs) })
	if c := td.Counters(); c.DroppedTotal() != 0 {
		t.Fatalf("%d dropped", c.DroppedTotal())
	}
}
