// Command xray is xrayd: a drop-in replacement for the AWS X-Ray daemon, with retries, a
// byte-accurate memory budget, graceful drain, health, metrics and an embedded local
// X-Ray backend. This is the only place that exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/xrayd/xrayd/internal/config"
	"github.com/xrayd/xrayd/internal/daemon"
	"github.com/xrayd/xrayd/internal/logging"
	"github.com/xrayd/xrayd/internal/memtrim"
)

// version is set at link time: -ldflags "-X main.version=3.6.6-xrayd.1".
var version = "unknown"

func main() {
	if os.Getenv("XRAY_DAEMON_MEMORY_PROFILE") == "" {
		// Heap profiling samples an allocation every 512 KiB and records its stack:
		// walking those stacks keeps pages of the binary's tables resident for nothing
		// unless a profile was asked for.
		runtime.MemProfileRate = 0
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "health" {
		return runHealth(args[1:], stdout, stderr)
	}
	cfg, action, err := config.Load(config.Env{Args: args, Version: version, Stdout: stdout, Stderr: stderr})
	if err != nil {
		return reportConfigError(err, stderr)
	}
	switch action {
	case config.ActionHelp, config.ActionVersion:
		return 0
	}
	log, closer, err := logging.New(logging.Options{
		Level: levelOf(cfg.LogLevel), Format: cfg.LogFormat, File: cfg.LogFile, Rotate: cfg.LogRotation, Stdout: stdout,
	})
	if err != nil {
		fmt.Fprint(stderr, logging.Line(time.Now(), nil, slog.LevelError, "Opening log file: "+err.Error()))
		return 1
	}
	defer closer.Close()
	if stop := startProfiles(log); stop != nil {
		defer stop()
	}

	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit(cfg))
	}
	// Package initialisation is over: its pages of the binary can go before start-up
	// maps more (this lowers the start-up peak; the release after Start does the rest).
	_, _ = memtrim.Release()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := daemon.New(ctx, daemon.Options{Config: cfg, Version: version, Logger: log})
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	if err := d.Start(ctx); err != nil {
		log.Error(err.Error())
		return 1
	}
	// Start-up (AWS configuration, the config file, the local store) leaves garbage that
	// an idle daemon would otherwise keep mapped until the next GC cycle, and pages of the
	// binary that only package initialisation read.
	debug.FreeOSMemory()
	if n, err := memtrim.Release(); err != nil {
		log.Debug("Could not release start-up pages of the executable", "error", err)
	} else {
		log.Debug("Released start-up pages of the executable", "bytes", n)
	}
	<-ctx.Done()
	stop()
	log.Info("Got shutdown signal", "drain_timeout", cfg.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
	defer cancel()
	// A second signal cuts the drain short.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sig:
			log.Warn("Second signal: abandoning the drain")
			cancel()
		case <-dctx.Done():
		}
	}()
	if err := d.Shutdown(dctx); err != nil {
		log.Error("Shutdown: " + err.Error())
	}
	return 0
}

// memoryLimit is the Go runtime's soft memory limit: the segment budget plus a little
// room for the daemon itself. Without it the garbage collector lets the heap grow to twice
// the live data, so a full budget would cost twice its size; with it, a backend outage
// costs about the budget. The local backend needs more room for SQLite and queries.
// GOMEMLIMIT in the environment overrides it.
func memoryLimit(cfg *config.Config) int64 {
	extra := int64(6 << 20)
	if cfg.HasBackend("local") || cfg.HasBackend("otlp") {
		extra = 128 << 20
	}
	return int64(cfg.BufferMemoryMB)<<20 + extra
}

func levelOf(name string) slog.Level {
	if l, ok := logging.ParseLevel(name); ok {
		return l
	}
	return logging.LevelTrace
}

// reportConfigError prints a config failure the way upstream does and returns the exit code.
func reportConfigError(err error, stderr io.Writer) int {
	var ee *config.ExitError
	if !errors.As(err, &ee) {
		fmt.Fprint(stderr, logging.Line(time.Now(), nil, slog.LevelError, err.Error()))
		return 1
	}
	if ee.Reported {
		return ee.Code
	}
	line := logging.Line(time.Now(), nil, slog.LevelError, ee.Msg)
	fmt.Fprint(stderr, line)
	if ee.LogFile != "" {
		if f, ferr := os.OpenFile(ee.LogFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); ferr == nil {
			fmt.Fprint(f, line)
			f.Close()
		}
	}
	return ee.Code
}
