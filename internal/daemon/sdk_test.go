package daemon

import (
	"context"
	"os"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"fmt"
	"github.com/xrayd/xrayd/internal/config"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdksampling "github.com/aws/aws-xray-sdk-go/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/xray"
)

// udpTee records every datagram an app sends and forwards it to the daemon, so a test
// can compare what the SDK emitted with what reached X-Ray.
type udpTee struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  []string
	wg   sync.WaitGroup
}

func newTee(t *testing.T, to net.Addr) *udpTee {
	t.Helper()
	in, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := net.Dial("udp", to.String())
	if err != nil {
		t.Fatal(err)
	}
	tee := &udpTee{conn: in}
	tee.wg.Add(1)
	go func() {
		defer tee.wg.Done()
		defer out.Close()
		buf := make([]byte, 65536)
		for {
			n, _, err := in.ReadFromUDP(buf)
			if err != nil {
				return
			}
			tee.mu.Lock()
			tee.got = append(tee.got, string(buf[:n]))
			tee.mu.Unlock()
			out.Write(buf[:n])
		}
	}()
	t.Cleanup(func() { in.Close(); tee.wg.Wait() })
	return tee
}

func (t *udpTee) datagrams() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.got...)
}

func TestGoSDKAppThroughDaemonToSignedXRay(t *testing.T) {
	td := startRelay(t, nil)
	tee := newTee(t, td.UDPAddr())
	// A fresh centralized strategy: its pollers start with this test's daemon.
	strategy, err := sdksampling.NewCentralizedStrategy()
	if err != nil {
		t.Fatal(err)
	}
	if err := xray.Configure(xray.Config{
		DaemonAddr:       fmt.Sprintf("tcp:%s udp:%s", td.TCPAddr(), tee.conn.LocalAddr()),
		ServiceVersion:   "1.2.3",
		SamplingStrategy: strategy,
	}); err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(xray.Handler(xray.NewFixedSegmentNamer("sdk-app"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = xray.AddAnnotation(r.Context(), "customer", "alice")
		_ = xray.Capture(r.Context(), "db-lookup", func(ctx context.Context) error {
			time.Sleep(time.Millisecond)
			return nil
		})
		fmt.Fprintln(w, "ok")
	})))
	defer app.Close()
	// The SDK fetches sampling rules through the daemon on its first request; until then
	// it samples by its local fallback (1/s + 5 %). Warm up, then expect every request.
	warm, err := http.Get(app.URL + "/warm-up")
	if err != nil {
		t.Fatal(err)
	}
	warm.Body.Close()
	waitUntil(t, 10*time.Second, "the SDK's first sampling call at X-Ray", func() bool { return td.fx.SamplingCalls() > 0 })
	time.Sleep(200 * time.Millisecond)
	const requests = 30
	for i := 0; i < requests; i++ {
		resp, err := http.Get(app.URL + fmt.Sprintf("/api/item/%d", i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	waitUntil(t, 15*time.Second, "the app's segments at X-Ray", func() bool {
		n, _ := td.fx.Count()
		return n >= requests && n == len(tee.datagrams())
	})
	for _, dg := range tee.datagrams() {
		header, body, ok := strings.Cut(dg, "\n")
		if !ok || header != `{"format": "json", "version": 1}` {
			t.Fatalf("unexpected SDK datagram header %q", header)
		}
		if td.fx.Has(body) != 1 {
			t.Fatalf("segment emitted by the SDK did not arrive intact: %.120s", body)
		}
		if !strings.Contains(body, `"customer":"alice"`) || !strings.Contains(body, `"name":"sdk-app"`) {
			t.Fatalf("segment lacks the app's data: %.200s", body)
		}
	}
	// The SDK's centralized sampling fetched its rules through the daemon's proxy, signed.
	if td.fx.BadSigs.Load() != 0 {
		t.Fatalf("%d requests with a bad signature", td.fx.BadSigs.Load())
	}
}

func TestGoSDKAppThroughDaemonToOTLP(t *testing.T) {
	sink, url := httpReceiver(t)
	rules := t.TempDir() + "/rules.json"
	if err := os.WriteFile(rules, []byte(`{"SamplingRules":[{"RuleName":"Default","FixedRate":1,"ReservoirSize":100}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startOTLP(t, func(c *config.Config) {
		c.Backend = []string{"otlp"}
		c.OTLPEndpoint = url
		c.SamplingRulesFile = rules
	})
	strategy, err := sdksampling.NewCentralizedStrategy()
	if err != nil {
		t.Fatal(err)
	}
	if err := xray.Configure(xray.Config{DaemonAddr: fmt.Sprintf("tcp:%s udp:%s", d.TCPAddr(), d.UDPAddr()), ServiceVersion: "2.0", SamplingStrategy: strategy}); err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(xray.Handler(xray.NewFixedSegmentNamer("otel-bound"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = xray.Capture(r.Context(), "db-lookup", func(ctx context.Context) error { return nil })
		fmt.Fprintln(w, "ok")
	})))
	defer app.Close()
	warm, err := http.Get(app.URL + "/warm-up")
	if err != nil {
		t.Fatal(err)
	}
	warm.Body.Close()
	time.Sleep(300 * time.Millisecond) // the SDK fetched the rules (FixedRate 1) from the daemon
	const requests = 20
	for i := 0; i < requests; i++ {
		resp, err := http.Get(app.URL + "/api")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// One server span per request and one internal span per db-lookup subsegment.
	waitUntil(t, 15*time.Second, "the app's spans at the OTLP receiver", func() bool { return sink.count() >= 2*requests })
	server, internal := 0, 0
	sink.mu.Lock()
	for _, sp := range sink.spans {
		switch {
		case sp.Name() == "otel-bound" && sp.Kind() == ptrace.SpanKindServer:
			server++
		case sp.Name() == "db-lookup":
			internal++
			if sp.ParentSpanID().IsEmpty() {
				t.Errorf("subsegment span without a parent")
			}
		}
	}
	sink.mu.Unlock()
	if server < requests || internal < requests {
		t.Fatalf("server spans %d, db-lookup spans %d, want at least %d each", server, internal, requests)
	}
}
