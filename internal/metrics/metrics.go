// Package metrics exposes the daemon's counters in the Prometheus text format. It reads
// the same counters.Set that telemetry reports from, so the two never disagree.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xrayd/xrayd/internal/counters"
)

// Metrics owns a private registry (no global state) with the daemon's metrics.
type Metrics struct {
	reg          *prometheus.Registry
	batchLatency *prometheus.HistogramVec
}

// New registers the counters of c, Go runtime and process metrics. queue, if not nil,
// reports the bytes and segments currently buffered.
func New(c *counters.Set, version string, queue func() (bytes, segments int64)) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		batchLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xrayd_export_batch_duration_seconds",
			Help:    "Duration of upload calls to a backend, by backend and outcome.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"backend", "outcome"}),
	}
	reg.MustRegister(m.batchLatency, &collector{c: c, queue: queue},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "xrayd_build_info", Help: "Build information.", ConstLabels: prometheus.Labels{"version": version}}, func() float64 { return 1 }))
	return m
}

// ObserveCall records one upload call.
func (m *Metrics) ObserveCall(backend string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.batchLatency.WithLabelValues(backend, outcome).Observe(d.Seconds())
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

var (
	descReceived = prometheus.NewDesc("xrayd_segments_received_total", "Non-empty datagrams received over UDP (and documents accepted over the API).", nil, nil)
	descRejected = prometheus.NewDesc("xrayd_segments_rejected_total", "Datagrams refused at intake (bad header, empty body) and documents the backend refused as invalid.", nil, nil)
	descSent     = prometheus.NewDesc("xrayd_segments_sent_total", "Segments the backend accepted.", nil, nil)
	descRetried  = prometheus.NewDesc("xrayd_segments_retried_total", "Segments sent again after a failed or throttled call.", nil, nil)
	descDropped  = prometheus.NewDesc("xrayd_segments_dropped_total", "Segments dropped after being accepted, by reason.", []string{"reason"}, nil)
	descBackend  = prometheus.NewDesc("xrayd_backend_errors_total", "Failed backend calls by class.", []string{"class"}, nil)
	descQBytes   = prometheus.NewDesc("xrayd_queue_bytes", "Bytes of segments buffered in memory (queued and in flight).", nil, nil)
	descQSegs    = prometheus.NewDesc("xrayd_queue_segments", "Segments waiting in the queue.", nil, nil)
	descBatches  = prometheus.NewDesc("xrayd_batches_sent_total", "Successful upload calls.", nil, nil)
)

type collector struct {
	c     *counters.Set
	queue func() (int64, int64)
}

func (k *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReceived, descRejected, descSent, descRetried, descDropped, descBackend, descQBytes, descQSegs, descBatches} {
		ch <- d
	}
}

func (k *collector) Collect(ch chan<- prometheus.Metric) {
	s := k.c.Snapshot()
	if k.queue != nil {
		s.QueueBytes, s.QueueSegments = k.queue()
	}
	ch <- prometheus.MustNewConstMetric(descReceived, prometheus.CounterValue, float64(s.Received))
	ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(s.Rejected))
	ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(s.Sent))
	ch <- prometheus.MustNewConstMetric(descRetried, prometheus.CounterValue, float64(s.Retried))
	for i, v := range s.Dropped {
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(v), counters.DropReason(i).String())
	}
	for i, v := range s.BackendErrors {
		ch <- prometheus.MustNewConstMetric(descBackend, prometheus.CounterValue, float64(v), counters.ErrorClass(i).String())
	}
	ch <- prometheus.MustNewConstMetric(descQBytes, prometheus.GaugeValue, float64(s.QueueBytes))
	ch <- prometheus.MustNewConstMetric(descQSegs, prometheus.GaugeValue, float64(s.QueueSegments))
	ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(k.c.Batches.Load()))
}
