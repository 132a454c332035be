package sampling

import (
	"sync"
	"testing"
	"time"
)

// t0 is a fixed, window-aligned instant used as "now" by tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable clock safe to read from handler goroutines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

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

func newTestEngine(t *testing.T, c *clock, rules ...Rule) *Engine {
	t.Helper()
	e, err := New(Options{Now: c.Now, NewRequestID: func() string { return "req-1" }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, r := range rules {
		if _, err := e.CreateRule(r); err != nil {
			t.Fatalf("CreateRule(%s): %v", r.RuleName, err)
		}
	}
	return e
}

// rule returns a valid catch-all rule; mods adjust it.
func rule(name string, priority int, mods ...func(*Rule)) Rule {
	r := Rule{
		RuleName: name, ResourceARN: "*", Priority: priority, FixedRate: 0.1, ReservoirSize: 5,
		ServiceName: "*", ServiceType: "*", Host: "*", HTTPMethod: "*", URLPath: "*", Version: 1,
	}
	for _, m := range mods {
		m(&r)
	}
	return r
}

func ptr[T any](v T) *T { return &v }
