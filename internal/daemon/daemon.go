// Package daemon wires xrayd's components together and owns their start and shutdown
// order: UDP intake -> queue -> exporter(s) -> backend, the TCP side (proxy or local API,
// health, metrics, UI) and telemetry.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/xrayd/xrayd/internal/awsconf"
	"github.com/xrayd/xrayd/internal/config"
	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/export"
	"github.com/xrayd/xrayd/internal/export/xray"
	"github.com/xrayd/xrayd/internal/logging"
	"github.com/xrayd/xrayd/internal/metrics"
	"github.com/xrayd/xrayd/internal/proxy"
	"github.com/xrayd/xrayd/internal/queue"
	"github.com/xrayd/xrayd/internal/spool"
	"github.com/xrayd/xrayd/internal/telemetry"
	"github.com/xrayd/xrayd/internal/udp"
)

// Options are what main hands the daemon.
type Options struct {
	Config  *config.Config
	Version string
	Logger  *slog.Logger
	Getenv  func(string) string
	// IMDSEndpoint and ReadFile are for tests of AWS discovery.
	IMDSEndpoint string
}

// Daemon is one running xrayd.
type Daemon struct {
	o        Options
	cfg      *config.Config
	log      *slog.Logger
	counters *counters.Set
	pool     *queue.Pool
	queue    *queue.Queue
	udp      *udp.Server
	exporter *export.Exporter
	metrics  *metrics.Metrics
	http     *http.Server
	tcp      net.Listener
	backend  backend     // the first backend: xray relay, local store or OTLP
	fanout   []*pipeline // further backends, each with its own queue and exporter
	tcpSide  backend     // the backend that serves the TCP address
	spool    *spool.Spool
	started  time.Time
	stopBg   context.CancelFunc

	dropLog *logging.Limited
	wg      sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// pipeline is one more backend in a fan-out: its own copy of every segment, its own
// budget share, its own retries.
type pipeline struct {
	name     string
	backend  backend
	queue    *queue.Queue
	exporter *export.Exporter
}

// backend is what differs between relay mode and the local backend.
type backend interface {
	sender() export.Sender
	exporterOptions(o *export.Options)
	handler() http.Handler // serves everything on the TCP address that is not /healthz or /metrics
	start(ctx context.Context) error
	shutdown(ctx context.Context) error
}

// New builds the daemon and binds its sockets. The order of fatal checks follows
// upstream: UDP bind, memory, proxy URL / AWS config / region, TCP address.
func New(ctx context.Context, o Options) (*Daemon, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := o.Config
	d := &Daemon{o: o, cfg: cfg, log: o.Logger, counters: new(counters.Set), pool: new(queue.Pool)}
	d.dropLog = logging.NewLimited(d.log, 10*time.Second, time.Now)
	d.log.Info("Initializing AWS X-Ray daemon " + o.Version)

	if err := openSpool(d); err != nil {
		return nil, err
	}
	// With several backends each gets an equal share of the budget.
	budget := int64(cfg.BufferMemoryMB) << 20 / int64(len(cfg.Backend))
	d.queue = queue.New(budget, d.pool, d.onEvict)
	d.log.Info(fmt.Sprintf("Using buffer memory limit of %d MB", cfg.BufferMemoryMB))

	backends := make([]backend, 0, len(cfg.Backend))
	fail := func(err error) (*Daemon, error) {
		for _, b := range backends {
			_ = b.shutdown(context.WithoutCancel(ctx))
		}
		if d.udp != nil {
			d.udp.Close()
		}
		return nil, err
	}
	// Queues first: the UDP socket is bound before anything else can fail, as upstream.
	var extra []*queue.Queue
	for _, name := range cfg.Backend[1:] {
		p := &pipeline{name: name}
		p.queue = queue.New(budget, d.pool, d.evictFrom(name))
		d.fanout = append(d.fanout, p)
		extra = append(extra, p.queue)
	}
	var err error
	d.udp, err = udp.Listen(udp.Options{
		Addr: cfg.UDPAddress, ReceiveBuffer: cfg.ReceiveBufferBytes, Queue: d.queue, Extra: extra, Pool: d.pool,
		Counters: d.counters, Logger: d.log,
	})
	if err != nil {
		return fail(err)
	}
	for _, name := range cfg.Backend {
		var b backend
		switch name {
		case "local":
			b, err = newLocalBackend(ctx, d)
		case "otlp":
			b, err = newOTLPBackend(ctx, d)
		default:
			b, err = newRelayBackend(ctx, d)
		}
		if err != nil {
			return fail(err)
		}
		backends = append(backends, b)
	}
	d.backend = backends[0]
	d.tcpSide = tcpBackend(cfg.Backend, backends)
	d.metrics = metrics.New(d.counters, o.Version, d.queueStats)
	eo := d.exporterOptions(d.queue, d.backend)
	if d.spool != nil {
		eo.Spill = d.spill
	}
	d.exporter = export.New(eo)
	for i, p := range d.fanout {
		p.backend = backends[i+1]
		p.exporter = export.New(d.exporterOptions(p.queue, p.backend))
	}

	d.tcp, err = net.Listen("tcp", cfg.TCPAddress)
	if err != nil {
		if cfg.HasBackend("local") {
			// The local backend is useless without its API; say so and stop.
			return fail(fmt.Errorf("the local backend cannot serve its API on TCP %s: %w (choose another address with -t)", cfg.TCPAddress, err))
		}
		// Upstream keeps running UDP-only when the TCP listen fails; so do we, loudly.
		d.log.Error("proxy http server failed to listen: " + err.Error())
		d.tcp = nil
	}
	d.http = &http.Server{
		Handler:           d.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	return d, nil
}

// exporterOptions are the options every backend's exporter starts from.
func (d *Daemon) exporterOptions(q *queue.Queue, b backend) export.Options {
	eo := export.Options{
		Queue: q, Sender: b.sender(), Counters: d.counters, Logger: d.log,
		MaxRetryAge: d.cfg.MaxRetryAge, ObserveCall: d.metrics.ObserveCall,
	}
	if d.cfg.Concurrency > 0 {
		// Concurrency is upstream's baseline; a slow backend may use up to 32x more
		// calls in flight so that latency alone never forces drops.
		eo.MaxInflight = d.cfg.Concurrency * 32
	}
	b.exporterOptions(&eo)
	return eo
}

// tcpBackend picks who answers on the TCP address: the local backend's API and UI, else
// the X-Ray proxy, else (OTLP alone) the local sampling service.
func tcpBackend(names []string, backends []backend) backend {
	for _, want := range []string{"local", "xray", "otlp"} {
		for i, n := range names {
			if n == want {
				return backends[i]
			}
		}
	}
	return backends[0]
}

func (d *Daemon) queueStats() (bytes, segments int64) {
	bytes, segments = d.queue.Bytes(), int64(d.queue.Len())
	for _, p := range d.fanout {
		bytes += p.queue.Bytes()
		segments += int64(p.queue.Len())
	}
	return bytes, segments
}

// evictFrom is the eviction callback of a fan-out backend's queue.
func (d *Daemon) evictFrom(name string) func([]*queue.Item) {
	return func(items []*queue.Item) {
		d.counters.AddDropped(counters.DropBudget, int64(len(items)))
		if ok, suppressed := d.dropLog.Allow("budget-" + name); ok {
			d.log.Warn("Segment buffer is full. Dropping oldest segment documents. Consider increasing memory limit (-m / TotalBufferSizeMB)",
				"backend", name, "dropped", len(items), "earlier_warnings_suppressed", suppressed)
		}
	}
}

// onEvict runs under the queue's lock when the budget is exceeded.
func (d *Daemon) onEvict(items []*queue.Item) {
	kept := d.spill(items, counters.DropBudget)
	if kept == len(items) {
		return
	}
	items = items[kept:]
	d.counters.AddDropped(counters.DropBudget, int64(len(items)))
	if ok, suppressed := d.dropLog.Allow("budget"); ok {
		d.log.Warn("Segment buffer is full. Dropping oldest segment documents. Consider increasing memory limit (-m / TotalBufferSizeMB)",
			"dropped", len(items), "dropped_total", d.counters.Dropped(counters.DropBudget), "earlier_warnings_suppressed", suppressed,
			"budget_mb", d.cfg.BufferMemoryMB)
	}
}

// UDPAddr is the bound UDP address.
func (d *Daemon) UDPAddr() net.Addr { return d.udp.LocalAddr() }

// TCPAddr is the bound TCP address, nil when the listen failed.
func (d *Daemon) TCPAddr() net.Addr {
	if d.tcp == nil {
		return nil
	}
	return d.tcp.Addr()
}

// Counters are the daemon's counters.
func (d *Daemon) Counters() *counters.Set { return d.counters }

// Start runs every component.
func (d *Daemon) Start(ctx context.Context) error {
	d.started = time.Now()
	if err := d.backend.start(ctx); err != nil {
		return err
	}
	if err := d.exporter.Start(ctx); err != nil {
		return err
	}
	for _, p := range d.fanout {
		if err := p.backend.start(ctx); err != nil {
			return err
		}
		if err := p.exporter.Start(ctx); err != nil {
			return err
		}
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	d.stopBg = stop
	if d.spool != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.replaySpool(bg)
		}()
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.udp.Serve(); err != nil {
			d.log.Error("UDP reader stopped", "error", err)
		}
	}()
	if d.tcp != nil {
		if d.cfg.HasBackend("local") {
			d.log.Info("Serving the X-Ray API and the UI on http://" + d.tcp.Addr().String() + "/")
		} else {
			d.log.Info("Starting proxy http server on " + d.tcp.Addr().String())
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.http.Serve(d.tcp); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("TCP server stopped", "error", err)
			}
		}()
	}
	return nil
}

// Shutdown stops intake, drains the queue within ctx's deadline and stops everything.
// Later calls return the first call's result.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.shutdownOnce.Do(func() { d.shutdownErr = d.shutdown(ctx) })
	return d.shutdownErr
}

func (d *Daemon) shutdown(ctx context.Context) error {
	start := time.Now()
	_ = d.udp.Close()
	if d.stopBg != nil {
		d.stopBg()
	}
	queued := d.queue.Len()
	sentBefore := d.counters.Sent.Load()
	d.log.Info("Draining buffered segments", "queued", queued, "deadline", deadlineString(ctx))
	var fanWG sync.WaitGroup
	for _, p := range d.fanout {
		fanWG.Add(1)
		go func() {
			defer fanWG.Done()
			if n := p.exporter.Shutdown(ctx); n > 0 {
				d.log.Error("Shutdown deadline passed before everything was sent", "backend", p.name, "undelivered", n)
			}
		}()
	}
	undelivered := d.exporter.Shutdown(ctx)
	fanWG.Wait()
	flushed := d.counters.Sent.Load() - sentBefore
	if undelivered > 0 {
		d.log.Error("Shutdown deadline passed before everything was sent", "flushed", flushed, "undelivered", undelivered, "seconds", time.Since(start).Seconds())
	} else {
		d.log.Info("Drained", "flushed", flushed, "seconds", time.Since(start).Seconds())
	}
	// The HTTP side stays up during the drain (the local backend answers queries, the
	// proxy finishes sampling calls); close it now, giving in-flight requests a moment.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = d.http.Shutdown(hctx)
	err := d.backend.shutdown(context.WithoutCancel(ctx))
	for _, p := range d.fanout {
		if perr := p.backend.shutdown(context.WithoutCancel(ctx)); perr != nil && err == nil {
			err = perr
		}
	}
	d.wg.Wait()
	if d.spool != nil {
		if serr := d.spool.Close(); serr != nil && err == nil {
			err = serr
		}
		if b := d.spool.Bytes(); b > 0 {
			d.log.Info("Segments kept in the spool for the next start", "bytes", b, "dir", d.cfg.SpoolDir)
		}
	}
	return err
}

func deadlineString(ctx context.Context) string {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl).Round(time.Millisecond).String()
	}
	return "none"
}

// relayBackend forwards to AWS X-Ray.
type relayBackend struct {
	d         *Daemon
	aws       *awsconf.AWS
	xray      *xray.Sender
	proxy     *proxy.Proxy
	telemetry *telemetry.Reporter
	awsOpts   awsconf.Options
}

func newRelayBackend(ctx context.Context, d *Daemon) (*relayBackend, error) {
	cfg := d.cfg
	ao := awsconf.Options{
		Region: cfg.Region, RoleARN: cfg.RoleARN, ProxyAddress: cfg.ProxyAddress, Endpoint: cfg.Endpoint,
		NoVerifySSL: cfg.NoVerifySSL, LocalMode: cfg.LocalMode, Getenv: d.o.Getenv, Logger: d.log,
		Version: d.o.Version, IMDSEndpoint: d.o.IMDSEndpoint,
	}
	a, err := awsconf.Resolve(ctx, ao)
	if err != nil {
		return nil, err
	}
	d.log.Info("HTTP Proxy server using X-Ray Endpoint : " + a.ProxyTarget.String())
	r := &relayBackend{d: d, aws: a, awsOpts: ao}
	r.xray = xray.New(xray.Options{Endpoint: a.APIEndpoint, Region: a.Region, Credentials: a.Credentials, Client: a.HTTPClient, UserAgent: a.UserAgent, Direct: directRoute(a.HTTPClient, a.APIEndpoint)})
	r.proxy = proxy.New(proxy.Options{Target: a.ProxyTarget, Region: a.Region, Credentials: a.Credentials, Client: a.ProxyHTTPClient, Logger: d.log, UserAgent: a.UserAgent, MaxBodyBytes: 8 << 20})
	return r, nil
}

func (r *relayBackend) sender() export.Sender { return r.xray }
func (r *relayBackend) exporterOptions(o *export.Options) {
	// Start full batches eight at a time (or after 50 ms): at 20,000 segments/s that is
	// one group every 20 ms instead of one every tick.
	o.GroupBatches = 8
}
func (r *relayBackend) handler() http.Handler { return r.proxy }

func (r *relayBackend) start(ctx context.Context) error {
	go func() {
		// One clear line instead of a failing upload per batch later.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := r.aws.CheckCredentials(cctx); err != nil {
			r.d.log.Warn(err.Error())
		}
	}()
	// Instance metadata may take up to a second; resolve identity before the first
	// telemetry record is due rather than at start-up.
	hostname, instanceID := awsconf.Identity(ctx, r.awsOpts)
	r.telemetry = telemetry.New(telemetry.Options{
		Counters: r.d.counters, Hostname: hostname, InstanceID: instanceID, ResourceARN: r.d.cfg.ResourceARN, Logger: r.d.log,
		Send: func(ctx context.Context, body []byte) error {
			_, err := r.aws.Call(ctx, "/TelemetryRecords", body)
			return err
		},
	})
	return r.telemetry.Start(ctx)
}

func (r *relayBackend) shutdown(ctx context.Context) error {
	defer r.xray.Close()
	if r.telemetry == nil {
		return nil
	}
	// The final telemetry record gets a few seconds even after the drain deadline.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.telemetry.Shutdown(tctx); err != nil {
		r.d.log.Debug("Final telemetry record not sent", "error", err)
	}
	return nil
}

// directRoute reports whether uploads to endpoint go straight to it (no outbound proxy),
// so that the exporter's own HTTP/1.1 client may be used.
func directRoute(c *http.Client, endpoint *url.URL) bool {
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		return false
	}
	if tr.Proxy == nil {
		return true
	}
	u, err := tr.Proxy(&http.Request{URL: endpoint, Header: http.Header{}})
	return err == nil && u == nil
}
