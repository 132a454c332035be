package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/xrayd/xrayd/internal/config"
	"github.com/xrayd/xrayd/internal/testutil/fakexray"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The AWS X-Ray SDK keeps its sampling poller and emitter for the process's life.
		goleak.IgnoreAnyFunction("github.com/aws/aws-xray-sdk-go/strategy/sampling.(*CentralizedStrategy).startRulePoller.func1"),
		goleak.IgnoreAnyFunction("github.com/aws/aws-xray-sdk-go/strategy/sampling.(*CentralizedStrategy).startRulePoller.func2"),
		goleak.IgnoreAnyFunction("github.com/aws/aws-xray-sdk-go/strategy/sampling.(*CentralizedStrategy).startTargetPoller.func1"),
		goleak.IgnoreAnyFunction("github.com/aws/aws-xray-sdk-go/strategy/sampling.(*CentralizedStrategy).startTargetPoller.func2"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

type testDaemon struct {
	*Daemon
	fx   *fakexray.Server
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRelay runs a daemon in relay mode against a fresh fake X-Ray.
func startRelay(t *testing.T, tweak func(*config.Config)) *testDaemon {
	t.Helper()
	fx := fakexray.New("us-west-2")
	fx.Logf = t.Logf
	t.Setenv("AWS_ACCESS_KEY_ID", fakexray.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", fakexray.SecretAccessKey)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	cfg := config.Defaults()
	cfg.UDPAddress, cfg.TCPAddress = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Region, cfg.LocalMode, cfg.Endpoint = "us-west-2", true, fx.URL
	cfg.BufferMemoryMB = 64
	if tweak != nil {
		tweak(cfg)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := New(context.Background(), Options{Config: cfg, Version: "test", Logger: log})
	if err != nil {
		fx.Close()
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	td := &testDaemon{Daemon: d, fx: fx, logs: logs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Shutdown(ctx)
		fx.Close()
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	return td
}

func (td *testDaemon) shutdown(t *testing.T, deadline time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := td.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func udpConn(t *testing.T, td *testDaemon) net.Conn { return udpConnLocal(t, td.Daemon) }

func udpConnLocal(t *testing.T, d *Daemon) net.Conn {
	t.Helper()
	c, err := net.Dial("udp", d.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func doc(i int, pad int) string {
	return fmt.Sprintf(`{"trace_id":"1-%08x-%024x","id":"%016x","name":"svc","start_time":%d.5,"end_time":%d.75,"annotations":{"pad":"%s"}}`,
		time.Now().Unix(), i, i, time.Now().Unix(), time.Now().Unix(), strings.Repeat("x", pad))
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRelayDeliversDatagramsSignedAndUnaltered(t *testing.T) {
	td := startRelay(t, nil)
	c := udpConn(t, td)
	var sent []string
	for i := 0; i < 500; i++ {
		d := doc(i, 700)
		sent = append(sent, d)
		header := `{"format":"json","version":1}`
		if i%2 == 1 {
			header = `{"format": "json", "version": 1}`
		}
		fmt.Fprintf(c, "%s\n%s", header, d)
		if i%50 == 0 {
			time.Sleep(time.Millisecond) // do not overrun loopback on a loaded CI machine
		}
	}
	waitUntil(t, 10*time.Second, "all documents at the fake", func() bool { n, _ := td.fx.Count(); return n == len(sent) })
	for _, d := range sent {
		if td.fx.Has(d) != 1 {
			t.Fatalf("document missing or altered: %.80s", d)
		}
	}
	if td.fx.BadSigs.Load() != 0 {
		t.Fatal("a request had a bad signature")
	}
	c2 := td.Counters()
	// The fake records documents before the daemon reads its answer.
	waitUntil(t, 5*time.Second, "sent counter", func() bool { return c2.Sent.Load() == 500 })
	if c2.Received.Load() != 500 || c2.Sent.Load() != 500 || c2.Rejected.Load() != 0 {
		t.Fatalf("received %d sent %d rejected %d", c2.Received.Load(), c2.Sent.Load(), c2.Rejected.Load())
	}
	// Shutdown sends a final telemetry record with the period's counters.
	td.shutdown(t, 10*time.Second)
	tel := td.fx.Telemetry()
	if len(tel) == 0 || !strings.Contains(string(tel[len(tel)-1]), `"SegmentsReceivedCount":500`) || !strings.Contains(string(tel[len(tel)-1]), `"SegmentsSentCount":500`) {
		t.Fatalf("telemetry records: %s", tel)
	}
}

func TestRelayRejectsBadDatagramsAndKeepsTheRest(t *testing.T) {
	td := startRelay(t, nil)
	c := udpConn(t, td)
	for _, bad := range []string{"garbage", "{\"format\":\"json\",\"version\":2}\n{}", "{\"format\":\"json\",\"version\":1}\n", "\x00\xff\n{}"} {
		c.Write([]byte(bad))
	}
	good := doc(1, 10)
	fmt.Fprintf(c, "{\"format\":\"json\",\"version\":1}\n%s", good)
	waitUntil(t, 5*time.Second, "the good document", func() bool { return td.fx.Has(good) == 1 })
	if r := td.Counters().Rejected.Load(); r != 4 {
		t.Fatalf("rejected %d, want 4", r)
	}
	if !strings.Contains(td.logs.String(), "Rejected datagram") {
		t.Fatal("no log line for rejected datagrams")
	}
}

func TestProxyForwardsOnlyAllowListedOperationsSigned(t *testing.T) {
	td := startRelay(t, nil)
	base := "http://" + td.TCPAddr().String()
	resp, err := http.Post(base+"/GetSamplingRules", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "SamplingRuleRecords") {
		t.Fatalf("sampling call: %d %s", resp.StatusCode, body)
	}
	if td.fx.SamplingCalls() != 1 || td.fx.BadSigs.Load() != 0 {
		t.Fatalf("sampling calls at fake %d, bad sigs %d", td.fx.SamplingCalls(), td.fx.BadSigs.Load())
	}
	for _, tc := range []struct{ method, path string }{{"GET", "/anything/else"}, {"POST", "/CreateGroup"}, {"POST", "/TraceSummaries"}} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Fatalf("%s %s: status %d, want a 4xx refusal", tc.method, tc.path, resp.StatusCode)
		}
	}
	if td.fx.Calls.Load() != 1 {
		t.Fatalf("fake saw %d calls, want only the allowed one", td.fx.Calls.Load())
	}
}

func TestHealthAndMetricsEndpoints(t *testing.T) {
	td := startRelay(t, func(c *config.Config) { c.HealthFailureThreshold = 100 * time.Millisecond })
	base := "http://" + td.TCPAddr().String()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("healthz %d %s", code, body)
	}
	td.fx.SetFaults(fakexray.Faults{Down: true})
	c := udpConn(t, td)
	for i := 0; i < 3; i++ {
		fmt.Fprintf(c, "{\"format\":\"json\",\"version\":1}\n%s", doc(i, 10))
		time.Sleep(600 * time.Millisecond)
	}
	waitUntil(t, 10*time.Second, "unhealthy", func() bool { code, _ := get("/healthz"); return code == 503 })
	_, body := get("/healthz")
	if !strings.Contains(body, "failing") {
		t.Fatalf("healthz reason missing: %s", body)
	}
	code, m := get("/metrics")
	if code != 200 || !strings.Contains(m, "xrayd_segments_received_total 3") || !strings.Contains(m, `xrayd_backend_errors_total{class="http_5xx"}`) {
		t.Fatalf("metrics %d:\n%s", code, m)
	}
	td.fx.SetFaults(fakexray.Faults{})
	waitUntil(t, 15*time.Second, "recovery", func() bool { n, _ := td.fx.Count(); return n == 3 })
	waitUntil(t, 5*time.Second, "healthy again", func() bool { code, _ := get("/healthz"); return code == 200 })
}
