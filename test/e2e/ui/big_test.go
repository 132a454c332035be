package uie2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BenchmarkUIListLoadBigDataset measures how long the trace list takes to show its first
// page in a real browser with a large database: from navigation to the first rendered
// row. It needs a database made by the store's big benchmark (100,000 traces, 1,000,000
// segments, timestamps from 1,700,000,000 over one hour):
//
//	XRAYD_BIG_BENCH=1 XRAYD_BIG_DIR=/tmp/xrayd-big go test -run TestBigDataset ./internal/store/
//	XRAYD_UI_BIG_DIR=/tmp/xrayd-big go test -run '^$' -bench UIListLoad -benchtime 5x ./test/e2e/ui/
func BenchmarkUIListLoadBigDataset(b *testing.B) {
	dir := os.Getenv("XRAYD_UI_BIG_DIR")
	if dir == "" {
		b.Skip("set XRAYD_UI_BIG_DIR to a database made by the store's big benchmark")
	}
	findChromium(b)
	bin := filepath.Join(b.TempDir(), "xray")
	build := exec.Command("go", "build", "-o", bin, "./cmd/xray")
	build.Dir = moduleRoot(b)
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building: %v\n%s", err, out)
	}
	tcp := fmt.Sprintf("127.0.0.1:%d", freePort(b, "tcp"))
	udp := fmt.Sprintf("127.0.0.1:%d", freePort(b, "udp"))
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--backend", "local", "--data-dir", dir, "--retention", "1000000h", "-b", udp, "-t", tcp)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for exec.Command(bin, "health", "-t", tcp).Run() != nil {
		if time.Now().After(deadline) {
			b.Fatalf("daemon not healthy:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	p := page{t: b, ctx: browser(b)}
	url := "http://" + tcp + "/#/traces?range=custom&start=1700000000&end=1700003600"
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.do(chromedp.Navigate("about:blank"))
		start := time.Now()
		p.do(chromedp.Navigate(url))
		p.waitFor("the first page of traces", `document.querySelectorAll('tr.trace-row').length > 0`, 30*time.Second)
		total += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/load")
	b.ReportMetric(0, "ns/op")
	rows := p.eval(`String(document.querySelectorAll('tr.trace-row').length)`)
	b.Logf("first page: %s rows", rows)
}
