package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/xrayd/xrayd/internal/api"
	"github.com/xrayd/xrayd/internal/export"
	"github.com/xrayd/xrayd/internal/sampling"
	"github.com/xrayd/xrayd/internal/segment"
	"github.com/xrayd/xrayd/internal/store"
	"github.com/xrayd/xrayd/internal/ui"
)

// localBackend stores segments in SQLite and serves the X-Ray API and the UI itself.
type localBackend struct {
	d        *Daemon
	store    *store.Store
	sampling *sampling.Engine
	api      *api.API
	mux      http.Handler
}

func newLocalBackend(ctx context.Context, d *Daemon) (*localBackend, error) {
	cfg := d.cfg
	st, err := store.Open(ctx, store.Options{Dir: cfg.DataDir, Retention: cfg.Retention, MaxDBSizeMB: cfg.MaxDBSizeMB, Logger: d.log})
	if err != nil {
		return nil, fmt.Errorf("opening the local store in %s: %w", cfg.DataDir, err)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	eng, err := sampling.New(sampling.Options{Region: region, RulesFile: cfg.SamplingRulesFile, Persister: st, Logger: d.log})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("loading sampling rules: %w", err)
	}
	a := api.New(api.Options{Store: st, Sampling: eng, Logger: d.log, Counters: d.counters, AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, Region: region})
	l := &localBackend{d: d, store: st, sampling: eng, api: a}
	uiHandler := ui.Handler()
	l.mux = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			uiHandler.ServeHTTP(w, r)
			return
		}
		a.ServeHTTP(w, r)
	})
	d.log.Info("Local X-Ray backend", "database", st.Path(), "retention", cfg.Retention, "max_db_size_mb", cfg.MaxDBSizeMB)
	if !loopbackAddress(cfg.TCPAddress) && cfg.AccessKeyID == "" {
		d.log.Warn("The local backend's API and UI are reachable from other hosts without authentication; traces hold URLs, users and errors. Bind -t to 127.0.0.1, or set Xrayd.AccessKeyID and Xrayd.SecretAccessKey in cfg.yaml to require SigV4-signed calls",
			"address", cfg.TCPAddress)
	}
	return l, nil
}

func loopbackAddress(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (l *localBackend) sender() export.Sender { return localSender{l.store} }

func (l *localBackend) exporterOptions(o *export.Options) {
	// SQLite takes one writer; larger batches amortise each transaction.
	o.BatchSize = 2000
	o.MaxInflight = 1
	o.FlushInterval = 200 * time.Millisecond // traces show up in the UI quickly
}

func (l *localBackend) handler() http.Handler { return l.mux }

func (l *localBackend) start(ctx context.Context) error { return l.store.Start(ctx) }

func (l *localBackend) shutdown(ctx context.Context) error {
	err := l.store.Shutdown(ctx)
	if cerr := l.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// localSender hands batches to the store.
type localSender struct{ st *store.Store }

func (localSender) Name() string { return "local" }

func (s localSender) Send(ctx context.Context, docs [][]byte) (export.Result, error) {
	bad, err := s.st.Ingest(ctx, docs)
	if err != nil {
		return export.Result{}, &export.CallError{Retryable: true, Err: err}
	}
	var res export.Result
	for _, u := range bad {
		_, tid := segment.IDs(docs[u.Index])
		res.Unprocessed = append(res.Unprocessed, export.Unprocessed{Index: u.Index, ID: u.Id, TraceID: tid, Code: u.ErrorCode, Message: u.Message})
	}
	return res, nil
}
