package daemon

import (
	"context"
	"fmt"
	"net/http"

	"github.com/xrayd/xrayd/internal/awsjson"
	"github.com/xrayd/xrayd/internal/export"
	"github.com/xrayd/xrayd/internal/export/otlp"
	"github.com/xrayd/xrayd/internal/sampling"
)

// otlpBackend translates segments to OTLP spans for any OpenTelemetry backend. Alone, it
// also answers the SDKs' sampling calls itself (there is no X-Ray to forward them to).
type otlpBackend struct {
	d        *Daemon
	otlp     *otlp.Sender
	sampling http.Handler
}

func newOTLPBackend(ctx context.Context, d *Daemon) (*otlpBackend, error) {
	cfg := d.cfg
	s, err := otlp.New(otlp.Options{
		Endpoint: cfg.OTLPEndpoint, Protocol: cfg.OTLPProtocol, Headers: cfg.OTLPHeaders,
		Insecure: cfg.OTLPInsecure, InsecureSkipVerify: cfg.OTLPInsecure, Logger: d.log,
	})
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	eng, err := sampling.New(sampling.Options{Region: region, RulesFile: cfg.SamplingRulesFile, Logger: d.log})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("loading sampling rules: %w", err)
	}
	routes := eng.Routes()
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := routes[r.URL.Path]; ok {
			h(w, r)
			return
		}
		awsjson.WriteError(w, awsjson.Errorf(http.StatusNotFound, "UnknownOperationException",
			"with --backend otlp, xrayd answers only the X-Ray sampling operations on this port"))
	})
	d.log.Info("OTLP exporter", "endpoint", cfg.OTLPEndpoint, "protocol", cfg.OTLPProtocol)
	return &otlpBackend{d: d, otlp: s, sampling: mux}, nil
}

func (b *otlpBackend) sender() export.Sender { return b.otlp }

func (b *otlpBackend) exporterOptions(o *export.Options) {
	// As the relay: full batches start eight at a time (or after 50 ms), and the OTLP
	// sender carries each group in one request.
	o.GroupBatches = 8
}

func (b *otlpBackend) handler() http.Handler { return b.sampling }

func (b *otlpBackend) start(ctx context.Context) error { return nil }

// shutdown runs after the exporter drained: in-progress segments still held are sent as
// unfinished spans, then connections close.
func (b *otlpBackend) shutdown(ctx context.Context) error {
	if err := b.otlp.Flush(ctx); err != nil {
		b.d.log.Warn("OTLP: in-progress segments could not be flushed", "error", err)
	}
	return b.otlp.Close()
}
