package logging

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newLimitedForTest() (*Limited, *fakeClock, *bytes.Buffer) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	l, _, _ := New(Options{Stdout: &buf, Now: clk.now, Location: time.UTC})
	return NewLimited(l, time.Second, clk.now), clk, &buf
}

func TestLimitedLetsOneLinePerKeyPerIntervalAndCountsSuppressed(t *testing.T) {
	lim, clk, buf := newLimitedForTest()
	lim.Warn("drop", "Segment dropped. Consider increasing memory limit")
	lim.Warn("drop", "Segment dropped. Consider increasing memory limit")
	lim.Warn("drop", "Segment dropped. Consider increasing memory limit")
	lim.Warn("hdr", "Invalid header", "header", "x")
	clk.add(999 * time.Millisecond)
	lim.Warn("drop", "Segment dropped. Consider increasing memory limit")
	clk.add(time.Millisecond)
	lim.Warn("drop", "Segment dropped. Consider increasing memory limit")
	clk.add(5 * time.Second)
	lim.Warn("drop", "Segment dropped. Consider increasing memory limit")
	want := []string{
		"2026-01-01T00:00:00Z [Warn] Segment dropped. Consider increasing memory limit",
		"2026-01-01T00:00:00Z [Warn] Invalid header header=x",
		"2026-01-01T00:00:01Z [Warn] Segment dropped. Consider increasing memory limit suppressed=3",
		"2026-01-01T00:00:06Z [Warn] Segment dropped. Consider increasing memory limit",
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLimitedDoesNotCountLinesBelowLevel(t *testing.T) {
	lim, clk, buf := newLimitedForTest()
	for range 3 {
		lim.Log(t.Context(), LevelTrace, "k", "hidden")
	}
	clk.add(time.Hour)
	lim.Warn("k", "shown")
	if got := buf.String(); strings.Contains(got, "suppressed") || !strings.Contains(got, "shown") {
		t.Errorf("got %q", got)
	}
}

func TestLimitedPrunesIdleKeys(t *testing.T) {
	lim, clk, _ := newLimitedForTest()
	for i := range maxIdleKeys {
		lim.Allow(string(rune('a' + i)))
	}
	clk.add(2 * time.Second)
	lim.Allow("new")
	if n := len(lim.keys); n != 1 {
		t.Errorf("%d keys after prune, want 1", n)
	}
}
