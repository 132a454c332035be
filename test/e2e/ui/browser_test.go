// Package uie2e drives the embedded web UI in a real Chromium: against the real daemon
// (`xray --backend local`) when it builds, and always against a small fake backend in this
// folder that serves the same X-Ray API shapes.
package uie2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// findChromium returns the browser to drive, or skips the test (fails it under CI=true).
func findChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("XRAYD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "Chromium not found: install it (apt-get install -y chromium) or set XRAYD_CHROMIUM to a Chrome/Chromium binary to run the browser tests"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// screenshotDir is docs/screenshots when UPDATE_SCREENSHOTS=1, else a temporary folder, so
// that an ordinary test run does not modify the checkout. Only the real-daemon test
// writes the documentation's screenshots.
func screenshotDir(t *testing.T) string {
	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		return filepath.Join(moduleRoot(t), "docs", "screenshots")
	}
	return t.TempDir()
}

func moduleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("finding the module root: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func randHex(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newTraceID(at time.Time) string {
	return fmt.Sprintf("1-%08x-%s", at.Unix(), randHex(24))
}

func ts(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

// seed is the data set of the scenario: the ids the checks refer to.
type seed struct {
	orderTrace string // POST /orders, 500, with SQL and an exception
	userTrace  string // GET /users/42 -> auth (real segment) and DynamoDB (inferred)
	udpTrace   string // sent over UDP, with annotations and metadata
	total      int
}

// documents builds the segment documents of the scenario, all within the last minutes.
func documents(now time.Time) (seed, []map[string]any, []map[string]any) {
	var s seed
	var api, udp []map[string]any
	base := now.Add(-2 * time.Minute)

	// GET /users/42 -> auth.internal (traced, real segment "auth") and DynamoDB users.
	s.userTrace = newTraceID(base)
	t0 := base
	authCall := randHex(16)
	api = append(api, map[string]any{
		"name": "api", "id": randHex(16), "trace_id": s.userTrace, "origin": "AWS::EC2::Instance",
		"start_time": ts(t0), "end_time": ts(t0.Add(180 * time.Millisecond)), "user": "alice",
		"http": map[string]any{"request": map[string]any{"method": "GET", "url": "http://api.local/users/42", "client_ip": "10.0.0.7", "user_agent": "curl/8"},
			"response": map[string]any{"status": 200, "content_length": 321}},
		"aws":         map[string]any{"ec2": map[string]any{"instance_id": "i-0abc", "availability_zone": "us-east-1a"}},
		"annotations": map[string]any{"tenant": "acme", "cart_items": 3},
		"subsegments": []any{
			map[string]any{"name": "auth.internal", "id": authCall, "namespace": "remote",
				"start_time": ts(t0.Add(10 * time.Millisecond)), "end_time": ts(t0.Add(60 * time.Millisecond)),
				"http": map[string]any{"request": map[string]any{"method": "POST", "url": "http://auth.internal/check", "traced": true}, "response": map[string]any{"status": 200}}},
			map[string]any{"name": "DynamoDB", "id": randHex(16), "namespace": "aws",
				"start_time": ts(t0.Add(70 * time.Millisecond)), "end_time": ts(t0.Add(150 * time.Millisecond)),
				"aws":  map[string]any{"operation": "GetItem", "table_name": "users", "region": "us-east-1", "request_id": "R1"},
				"http": map[string]any{"response": map[string]any{"status": 200}}},
		},
	}, map[string]any{
		"name": "auth", "id": randHex(16), "trace_id": s.userTrace, "parent_id": authCall, "origin": "AWS::ECS::Container",
		"start_time": ts(t0.Add(15 * time.Millisecond)), "end_time": ts(t0.Add(55 * time.Millisecond)),
		"http": map[string]any{"request": map[string]any{"method": "POST", "url": "http://auth.internal/check"}, "response": map[string]any{"status": 200}},
		"subsegments": []any{map[string]any{"name": "verify-token", "id": randHex(16),
			"start_time": ts(t0.Add(20 * time.Millisecond)), "end_time": ts(t0.Add(40 * time.Millisecond))}},
	})

	// POST /orders -> 500 with a SQL subsegment that faulted.
	t1 := base.Add(10 * time.Second)
	s.orderTrace = newTraceID(t1)
	excID := randHex(16)
	api = append(api, map[string]any{
		"name": "api", "id": randHex(16), "trace_id": s.orderTrace, "origin": "AWS::EC2::Instance",
		"start_time": ts(t1), "end_time": ts(t1.Add(920 * time.Millisecond)), "fault": true,
		"http": map[string]any{"request": map[string]any{"method": "POST", "url": "http://api.local/orders"}, "response": map[string]any{"status": 500}},
		"cause": map[string]any{"working_directory": "/srv/api", "exceptions": []any{map[string]any{
			"id": excID, "type": "OrderError", "message": "could not store order <script>alert(1)</script>",
			"stack": []any{
				map[string]any{"path": "orders/store.go", "line": 88, "label": "orders.(*Store).Insert"},
				map[string]any{"path": "orders/handler.go", "line": 41, "label": "orders.Handler.ServeHTTP"},
			}}}},
		"subsegments": []any{map[string]any{
			"name": "orders-db@db.local", "id": randHex(16), "namespace": "remote",
			"start_time": ts(t1.Add(100 * time.Millisecond)), "end_time": ts(t1.Add(880 * time.Millisecond)), "fault": true,
			"sql": map[string]any{"url": "postgres://db.local:5432/orders", "sanitized_query": "INSERT INTO orders VALUES ($1, $2)",
				"database_type": "PostgreSQL", "database_version": "16.2", "user": "app"},
			"cause": map[string]any{"exceptions": []any{map[string]any{"id": randHex(16), "type": "pq.Error", "message": "deadlock detected", "remote": true}}},
		}},
	})

	// Background traffic: a spread of response times and statuses for the histogram and paging.
	statuses := []int{200, 200, 200, 201, 200, 404, 200, 429, 200, 503, 200, 200}
	for i := range 24 {
		at := base.Add(time.Duration(20+i*3) * time.Second)
		st := statuses[i%len(statuses)]
		rt := time.Duration(20+(i*i*7)%600) * time.Millisecond
		api = append(api, map[string]any{
			"name": "api", "id": randHex(16), "trace_id": newTraceID(at), "origin": "AWS::EC2::Instance",
			"start_time": ts(at), "end_time": ts(at.Add(rt)),
			"http": map[string]any{"request": map[string]any{"method": "GET", "url": fmt.Sprintf("http://api.local/items/%d", i)}, "response": map[string]any{"status": st}},
			"subsegments": []any{map[string]any{"name": "DynamoDB", "id": randHex(16), "namespace": "aws",
				"start_time": ts(at.Add(2 * time.Millisecond)), "end_time": ts(at.Add(rt / 2)),
				"aws": map[string]any{"operation": "Query", "table_name": "users"}}},
		})
	}

	// A worker trace over UDP, with annotations and metadata.
	t2 := base.Add(30 * time.Second)
	s.udpTrace = newTraceID(t2)
	udp = append(udp, map[string]any{
		"name": "worker", "id": randHex(16), "trace_id": s.udpTrace, "origin": "AWS::ECS::Container",
		"start_time": ts(t2), "end_time": ts(t2.Add(340 * time.Millisecond)),
		"annotations": map[string]any{"job": "resize", "attempt": 2, "retry": true},
		"metadata":    map[string]any{"default": map[string]any{"input": map[string]any{"w": 640, "h": 480}}},
		"subsegments": []any{map[string]any{"name": "SQS", "id": randHex(16), "namespace": "aws",
			"start_time": ts(t2.Add(300 * time.Millisecond)), "end_time": ts(t2.Add(330 * time.Millisecond)),
			"aws": map[string]any{"operation": "SendMessage", "queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"}}},
	})
	s.total = 2 + 24 + 1
	return s, api, udp
}

func putSegments(t *testing.T, endpoint string, docs []map[string]any) {
	t.Helper()
	client := xray.New(xray.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
	for i := 0; i < len(docs); i += 20 {
		var batch []string
		for _, d := range docs[i:min(i+20, len(docs))] {
			b, _ := json.Marshal(d)
			batch = append(batch, string(b))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := client.PutTraceSegments(ctx, &xray.PutTraceSegmentsInput{TraceSegmentDocuments: batch})
		cancel()
		if err != nil {
			t.Fatalf("PutTraceSegments: %v", err)
		}
		if len(out.UnprocessedTraceSegments) > 0 {
			u := out.UnprocessedTraceSegments[0]
			t.Fatalf("PutTraceSegments left %d unprocessed, first: %s %s", len(out.UnprocessedTraceSegments), aws.ToString(u.ErrorCode), aws.ToString(u.Message))
		}
	}
}

func sendUDP(t *testing.T, addr string, docs []map[string]any) {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, d := range docs {
		b, _ := json.Marshal(d)
		if _, err := conn.Write(append([]byte("{\"format\":\"json\",\"version\":1}\n"), b...)); err != nil {
			t.Fatalf("sending UDP datagram: %v", err)
		}
	}
}

// browser starts a headless Chromium and fails the test on any page exception or console
// error (CSP violations are console errors).
func browser(t testing.TB) context.Context {
	t.Helper()
	exe := findChromium(t)
	parent, stop := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(stop)
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithAllocatorOptions(
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1440, 900)))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 900)); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	logs := chromedp.Events(ctx, log.EntryAdded)
	problems := make(chan string, 100)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			problems <- fmt.Sprintf("page exception: %s (%s:%d)", msg, d.URL, d.LineNumber+1)
		}
	}()
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			if e := ev.Entry; e.Level == log.EntryLevelError && !strings.Contains(e.Text, "status of 400") {
				problems <- fmt.Sprintf("console %s: %s (%s)", e.Source, e.Text, e.URL)
			}
		}
	}()
	t.Cleanup(func() {
		for {
			select {
			case p := <-problems:
				t.Error(p)
			default:
				return
			}
		}
	})
	return ctx
}

type page struct {
	t   testing.TB
	ctx context.Context
}

// stepTimeout bounds every browser step so that a missing element fails fast.
const stepTimeout = 30 * time.Second

func (p page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatal(err)
	}
}

func (p page) eval(js string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it is truthy.
func (p page) waitFor(what, js string, timeout time.Duration) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		p.t.Fatalf("waiting for %s (%s): %v", what, js, err)
	}
}

func (p page) screenshot(dir, name string) {
	p.t.Helper()
	// A viewport capture: a full-page capture repaints the sticky header mid-page.
	p.do(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`), chromedp.Sleep(200*time.Millisecond))
	buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func jsq(s string) string { b, _ := json.Marshal(s); return string(b) }

// scenario is the browser walk-through shared by the fake and the real backend.
// Screenshots go to shots.
func scenario(t *testing.T, base, udpAddr, shots string, seedAPI func(docs []map[string]any)) {
	ctx := browser(t)
	p := page{t, ctx}

	s, apiDocs, udpDocs := documents(time.Now())
	seedAPI(apiDocs)
	sendUDP(t, udpAddr, udpDocs)

	// Trace list: every seeded trace is listed (following "Load more" pages).
	p.do(chromedp.Navigate(base + "/#/traces?range=1h"))
	p.waitFor("the first rows", `document.querySelectorAll('#trace-table tbody tr').length > 0`, 20*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := p.eval(`String(document.querySelectorAll('#trace-table tbody tr').length)`)
		if n == fmt.Sprint(s.total) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("list shows %s traces, want %d", n, s.total)
		}
		if p.eval(`String(!document.getElementById('load-more').hidden)`) == "true" {
			p.do(chromedp.Click(chromedp.ID("load-more")))
		} else {
			// UDP data may still be on its way through the daemon's batching.
			p.do(chromedp.Sleep(500*time.Millisecond), chromedp.Navigate(base+"/#/traces?range=1h&r="+randHex(4)))
		}
		p.do(chromedp.Sleep(300 * time.Millisecond))
	}
	if got := p.eval(`String(document.querySelectorAll('#trace-table .badge.fault').length > 0)`); got != "true" {
		t.Error("no fault badge in the list")
	}
	if got := p.eval(`String(document.querySelectorAll('svg.histogram .bar').length > 1)`); got != "true" {
		t.Error("latency histogram has no bars")
	}
	// Sorting by response time, descending: the slowest trace (the 0.92 s order) comes first.
	p.do(chromedp.Click(chromedp.CSS(`button.sort[data-sort="response"]`)))
	if first := p.eval(`document.querySelector('#trace-table tbody tr').dataset.id`); first != s.orderTrace {
		t.Errorf("sorted by response time, first row is %s, want %s", first, s.orderTrace)
	}
	p.do(chromedp.Click(chromedp.CSS(`button.sort[data-sort="time"]`)))
	p.screenshot(shots, "trace-list.png")

	// Filter: an invalid expression shows the API's message inline; a valid one narrows the list.
	p.do(chromedp.SetValue(chromedp.ID("filter"), `http.url CONTAINS`), chromedp.Click(chromedp.ID("filter-apply")))
	p.waitFor("the filter error", `!document.getElementById('filter-error').hidden`, 15*time.Second)
	if msg := p.eval(`document.getElementById('filter-error').textContent`); !strings.Contains(msg, "InvalidRequestException") {
		t.Errorf("filter error = %q, want the API's InvalidRequestException message", msg)
	}
	p.do(chromedp.Click(chromedp.ID("filter-clear")))
	p.waitFor("the unfiltered list", `document.getElementById('filter-error').hidden && document.querySelectorAll('#trace-table tbody tr').length > 1`, 15*time.Second)
	p.do(chromedp.SetValue(chromedp.ID("filter"), `http.url CONTAINS "/orders"`), chromedp.Click(chromedp.ID("filter-apply")))
	p.waitFor("the filtered list", `(() => { const r = document.querySelectorAll('#trace-table tbody tr');
		return r.length === 1 && r[0].dataset.id === `+jsq(s.orderTrace)+`; })()`, 15*time.Second)

	// Keyboard: focus the order row and press Enter to open it.
	p.do(chromedp.Focus(chromedp.CSS(`#trace-table tr[data-id=`+jsq(s.orderTrace)+`]`)), chromedp.KeyEvent("\r"))
	p.waitFor("the trace view", `location.hash === '#/trace/' + `+jsq(s.orderTrace)+` && document.querySelectorAll('#waterfall .wf-row').length >= 2`, 15*time.Second)
	names := p.eval(`[...document.querySelectorAll('#waterfall .wf-row')].map(r => r.dataset.name).join('|')`)
	for _, want := range []string{"api", "orders-db@db.local"} {
		if !strings.Contains("|"+names+"|", "|"+want+"|") {
			t.Errorf("waterfall rows %q lack %q", names, want)
		}
	}
	if got := p.eval(`document.querySelector('#waterfall .wf-row').className`); !strings.Contains(got, "st-fault") {
		t.Errorf("root row class = %q, want st-fault", got)
	}
	detail := p.eval(`document.getElementById('detail').textContent`)
	for _, want := range []string{"OrderError", "could not store order <script>alert(1)</script>", "orders.(*Store).Insert", "HTTP", "500"} {
		if !strings.Contains(detail, want) {
			t.Errorf("root detail lacks %q", want)
		}
	}
	if n := p.eval(`String(document.querySelectorAll('#detail script').length)`); n != "0" {
		t.Error("segment text was parsed as HTML in the detail panel")
	}
	p.do(chromedp.Click(chromedp.CSS(`#waterfall .wf-row[data-name="orders-db@db.local"]`)))
	p.waitFor("the SQL detail", `document.getElementById('detail').textContent.includes('INSERT INTO orders')`, 5*time.Second)
	p.screenshot(shots, "trace-view.png")
	p.do(chromedp.Click(chromedp.ID("copy-id")))
	p.waitFor("the copy confirmation", `document.querySelector('.copy-status').textContent !== ''`, 5*time.Second)
	p.do(chromedp.Click(chromedp.ID("tab-raw")))
	if raw := p.eval(`document.getElementById('raw-json').textContent`); !strings.Contains(raw, s.orderTrace) || !strings.Contains(raw, "sanitized_query") {
		t.Error("raw JSON view lacks the trace id or the SQL document")
	}

	// The user trace shows the callee segment nested under the calling subsegment.
	p.do(chromedp.Navigate(base + "/#/trace/" + s.userTrace))
	p.waitFor("the user trace", `document.querySelectorAll('#waterfall .wf-row').length >= 4`, 15*time.Second)
	levels := p.eval(`[...document.querySelectorAll('#waterfall .wf-row')].map(r => r.dataset.name + ':' + r.getAttribute('aria-level')).join(' ')`)
	for _, want := range []string{"api:1", "auth.internal:2", "auth:3", "verify-token:4"} {
		if !strings.Contains(" "+levels+" ", " "+want+" ") {
			t.Errorf("waterfall levels %q lack %q", levels, want)
		}
	}
	p.do(chromedp.Click(chromedp.CSS(`#waterfall .wf-row[data-name="api"]`)))
	p.waitFor("annotations", `document.getElementById('detail').textContent.includes('tenant')`, 5*time.Second)

	// Service map: nodes (real, inferred, client) and edges; selecting lists their traces.
	p.do(chromedp.Navigate(base + "/#/map?range=1h"))
	p.waitFor("the service map", `document.querySelectorAll('svg.map .node').length >= 4`, 20*time.Second)
	nodes := p.eval(`[...document.querySelectorAll('svg.map .node')].map(n => n.dataset.name + '/' + n.dataset.type).join(' ')`)
	for _, want := range []string{"api/AWS::EC2::Instance", "auth/AWS::ECS::Container", "users/AWS::DynamoDB::Table", "api/client", "worker/AWS::ECS::Container"} {
		if !strings.Contains(" "+nodes+" ", " "+want+" ") {
			t.Errorf("map nodes %q lack %q", nodes, want)
		}
	}
	edges := p.eval(`[...document.querySelectorAll('svg.map .edge')].map(e => e.dataset.from + '>' + e.dataset.to).join(' ')`)
	for _, want := range []string{"api>auth", "api>users", "api>orders-db@db.local"} {
		if !strings.Contains(" "+edges+" ", " "+want+" ") {
			t.Errorf("map edges %q lack %q", edges, want)
		}
	}
	p.do(chromedp.Click(chromedp.CSS(`svg.map .edge[data-from="api"][data-to="auth"]`)))
	p.waitFor("the edge's traces", `[...document.querySelectorAll('#side-traces a')].some(a => a.getAttribute('href') === '#/trace/' + `+jsq(s.userTrace)+`)`, 15*time.Second)
	if href := p.eval(`new URLSearchParams(document.getElementById('side-open-list').getAttribute('href').split('?')[1]).get('filter')`); href != `edge("api", "auth")` {
		t.Errorf("edge link filter = %q, want edge(\"api\", \"auth\")", href)
	}
	p.do(chromedp.Focus(chromedp.CSS(`svg.map .node[data-name="api"][data-type="AWS::EC2::Instance"]`)), chromedp.KeyEvent("\r"))
	p.waitFor("the node's traces", `document.getElementById('side-title').textContent === 'api' && document.querySelectorAll('#side-traces a').length > 3`, 15*time.Second)
	p.screenshot(shots, "service-map.png")

	// Live: a trace sent now appears in the open list without a reload.
	p.do(chromedp.Navigate(base + "/#/traces?range=15m"))
	p.waitFor("the list", `document.querySelectorAll('#trace-table tbody tr').length > 0`, 15*time.Second)
	p.eval(`window.__notReloaded = 'yes'`)
	liveID := newTraceID(time.Now())
	now := time.Now()
	sendUDP(t, udpAddr, []map[string]any{{
		"name": "api", "id": randHex(16), "trace_id": liveID, "start_time": ts(now), "end_time": ts(now.Add(42 * time.Millisecond)),
		"http": map[string]any{"request": map[string]any{"method": "GET", "url": "http://api.local/live"}, "response": map[string]any{"status": 200}},
	}})
	p.waitFor("the live trace", `!!document.querySelector('#trace-table tr[data-id=`+jsq(liveID)+`]')`, 30*time.Second)
	if p.eval(`window.__notReloaded`) != "yes" {
		t.Error("the page reloaded to show the live trace")
	}

	// Narrow window: the list stays usable.
	p.do(chromedp.EmulateViewport(420, 860))
	p.do(chromedp.Sleep(300 * time.Millisecond))
	if w := p.eval(`String(document.documentElement.scrollWidth <= window.innerWidth + 1)`); w != "true" {
		t.Error("the list overflows a 420 px window horizontally")
	}
	p.screenshot(shots, "trace-list-narrow.png")
}

func TestUIAgainstFakeBackend(t *testing.T) {
	findChromium(t)
	base, udpAddr := startFake(t)
	scenario(t, base, udpAddr, t.TempDir(), func(docs []map[string]any) { putSegments(t, base, docs) })
}
