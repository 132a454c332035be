// Command scorekeep is a small game-score service instrumented with the AWS X-Ray SDK for Go,
// to see xrayd at work: every request is a segment (xray.Handler), every call between its
// endpoints an HTTP subsegment (xray.Client), every datastore call a subsegment (xray.Capture).
//
//	go run ./cmd/xray --backend local --data-dir /tmp/xrayd   # in one terminal
//	go run ./examples/scorekeep                              # in another
//
// Segments go to the daemon named by AWS_XRAY_DAEMON_ADDRESS (default 127.0.0.1:2000).
// See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-xray-sdk-go/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/xray"
)

// sampleAll records every request: right for a demo, wrong for production traffic.
const sampleAll = `{"version": 2, "default": {"fixed_target": 1, "rate": 1.0}}`

func main() {
	addr := flag.String("addr", envOr("SCOREKEEP_ADDR", "127.0.0.1:8080"), "listen address (env SCOREKEEP_ADDR)")
	name := flag.String("name", "scorekeep", "service name: the segment name in X-Ray")
	mode := flag.String("sampling", "all", "all: record every request; centralized: sampling rules from the daemon")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, *name, *mode, log); err != nil {
		log.Error("scorekeep stopped", "err", err)
		os.Exit(1)
	}
}

func run(addr, name, mode string, log *slog.Logger) error {
	if err := configureXRay(mode); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := newServer(ln.Addr().(*net.TCPAddr), name, log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("scorekeep listening", "addr", ln.Addr().String(), "daemon", envOr("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000"))

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}

// newServer builds the HTTP server for a listener bound to self; its endpoints call each
// other through self (loopback when bound to a wildcard address).
func newServer(self *net.TCPAddr, name string, log *slog.Logger) *http.Server {
	host := self.IP.String()
	if self.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	a := &api{
		store: newStore(),
		peer: &peer{
			base:   "http://" + net.JoinHostPort(host, fmt.Sprint(self.Port)),
			client: xray.Client(&http.Client{Timeout: 5 * time.Second}),
		},
		now: time.Now,
		log: log,
	}
	return &http.Server{
		Handler:           xray.Handler(xray.NewFixedSegmentNamer(name), a.routes()),
		ReadHeaderTimeout: 5 * time.Second,
	}
}

// configureXRay sets the SDK's sampling strategy. The daemon address is left to the SDK: it
// reads AWS_XRAY_DAEMON_ADDRESS ("host:port", or "tcp:host:port udp:host:port"), else
// uses 127.0.0.1:2000.
func configureXRay(mode string) error {
	strategy, err := samplingStrategy(mode)
	if err != nil {
		return err
	}
	if err := xray.Configure(xray.Config{ServiceVersion: "1.0.0", SamplingStrategy: strategy}); err != nil {
		return fmt.Errorf("configuring the X-Ray SDK: %w", err)
	}
	return nil
}

func samplingStrategy(mode string) (sampling.Strategy, error) {
	switch mode {
	case "all":
		return sampling.NewLocalizedStrategyFromJSONBytes([]byte(sampleAll))
	case "centralized":
		return sampling.NewCentralizedStrategy()
	default:
		return nil, fmt.Errorf("-sampling %q: want all or centralized", mode)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
