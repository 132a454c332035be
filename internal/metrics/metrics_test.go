package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xrayd/xrayd/internal/counters"
)

func TestMetricsExposeTheSharedCounters(t *testing.T) {
	var c counters.Set
	c.Received.Add(7)
	c.Sent.Add(5)
	c.AddDropped(counters.DropBudget, 2)
	c.AddBackendError(counters.ErrHTTP5XX)
	m := New(&c, "1.2.3", func() (int64, int64) { return 1234, 3 })
	m.ObserveCall("xray", 20*time.Millisecond, nil)
	m.ObserveCall("xray", time.Second, errors.New("x"))
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		"xrayd_segments_received_total 7",
		"xrayd_segments_sent_total 5",
		`xrayd_segments_dropped_total{reason="budget"} 2`,
		`xrayd_backend_errors_total{class="http_5xx"} 1`,
		"xrayd_queue_bytes 1234",
		`xrayd_export_batch_duration_seconds_count{backend="xray",outcome="error"} 1`,
		`xrayd_build_info{version="1.2.3"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("missing %q", want)
		}
	}
}
