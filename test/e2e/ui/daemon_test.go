package uie2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func freePort(t testing.TB, network string) int {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDaemon builds cmd/xray and runs it with the local backend; it returns the HTTP base
// URL (API and UI) and the UDP address.
func startDaemon(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "xray")
	build := exec.Command("go", "build", "-o", bin, "./cmd/xray")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the daemon: %v\n%s", err, out)
	}
	udp := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	tcp := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--backend", "local", "--data-dir", filepath.Join(dir, "data"),
		"-b", udp, "-t", tcp, "-o", "-n", "us-east-1")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the daemon: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("daemon output:\n%s", logs.String())
		}
	})
	base := "http://" + tcp
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/TraceSummaries",
			strings.NewReader(fmt.Sprintf(`{"StartTime":%d,"EndTime":%d}`, time.Now().Add(-time.Minute).Unix(), time.Now().Unix()+1)))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base, udp
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("the daemon exited early: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not answer POST /TraceSummaries with 200 (last: %v)\n%s", err, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestUIAgainstRealDaemon is the acceptance test: the real binary with --backend local,
// seeded through PutTraceSegments and UDP, driven in Chromium.
func TestUIAgainstRealDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon; skipped with -short")
	}
	findChromium(t)
	base, udpAddr := startDaemon(t)
	scenario(t, base, udpAddr, screenshotDir(t), func(docs []map[string]any) { putSegments(t, base, docs) })
}

// TestRealDaemonServesUIWithSecurityHeaders checks the wiring without a browser.
func TestRealDaemonServesUIWithSecurityHeaders(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon; skipped with -short")
	}
	base, _ := startDaemon(t)
	for _, path := range []string{"/", "/static/js/app.js"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, res.StatusCode)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy = %q", path, csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
	}
}
