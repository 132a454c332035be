package daemon

import (
	"encoding/json"
	"fmt"
	"github.com/xrayd/xrayd/internal/export"
	"net/http"
	"time"
)

// routes is the TCP address's mux: health and metrics for every mode, the rest to the
// backend (the allow-listed proxy, or the local X-Ray API and UI).
func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", d.healthz)
	mux.Handle("GET /metrics", d.metrics.Handler())
	mux.Handle("/", d.tcpSide.handler())
	return mux
}

// Health is the daemon's view of itself.
type Health struct {
	Status        string  `json:"status"` // "ok" or "unhealthy"
	Reason        string  `json:"reason,omitempty"`
	Backend       string  `json:"backend"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	QueuedBytes   int64   `json:"queued_bytes"`
	BudgetBytes   int64   `json:"budget_bytes"`
	Received      int64   `json:"segments_received"`
	Sent          int64   `json:"segments_sent"`
	Dropped       int64   `json:"segments_dropped"`
}

// Health reports 503-worthy problems: intake stopped, or the backend failing for longer
// than the configured threshold.
func (d *Daemon) Health() Health {
	h := Health{
		Status: "ok", Backend: d.backend.sender().Name(), UptimeSeconds: time.Since(d.started).Seconds(),
		QueuedBytes: d.queue.Bytes(), BudgetBytes: d.queue.Budget(),
		Received: d.counters.Received.Load(), Sent: d.counters.Sent.Load(), Dropped: d.counters.DroppedTotal(),
	}
	select {
	case <-d.udp.Done():
		h.Status, h.Reason = "unhealthy", "UDP intake has stopped"
		return h
	default:
	}
	exporters := []*export.Exporter{d.exporter}
	names := []string{h.Backend}
	for _, p := range d.fanout {
		exporters = append(exporters, p.exporter)
		names = append(names, p.backend.sender().Name())
	}
	for i, e := range exporters {
		if since, lastErr := e.Health(); !since.IsZero() && time.Since(since) > d.cfg.HealthFailureThreshold {
			h.Status = "unhealthy"
			h.Reason = fmt.Sprintf("backend %s failing for %s: %s", names[i], time.Since(since).Round(time.Second), lastErr)
			break
		}
	}
	h.QueuedBytes, _ = d.queueStats()
	return h
}

func (d *Daemon) healthz(w http.ResponseWriter, r *http.Request) {
	h := d.Health()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if h.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(h)
}
