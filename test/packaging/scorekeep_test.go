package packaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a started program; done is closed once it has exited.
type process struct {
	out  *syncBuffer
	done chan struct{}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startProcess starts a program and stops it with SIGTERM (then SIGKILL after 30 s) when the
// test ends, logging its output if the test failed.
func startProcess(t *testing.T, env []string, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &process{out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not exit within 30 s of SIGTERM", filepath.Base(name))
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(name), p.out.String())
		}
	})
	return p
}

func httpOK(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestScorekeepTracesReachLocalBackend runs README's walkthrough: the daemon with the embedded
// local backend, the sample app sending to it, a few requests, then POST /TraceSummaries.
func TestScorekeepTracesReachLocalBackend(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("builds linux binaries")
	}
	bin := xrayBinary(t, runtime.GOARCH)
	if !bin.real {
		missing(t, "cmd/xray does not exist yet")
	}
	root := repoRoot(t)
	scorekeep := filepath.Join(shared.dir, "scorekeep")
	run(t, root, []string{"CGO_ENABLED=0"}, "go", "build", "-o", scorekeep, "./examples/scorekeep")

	daemonAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	daemon := startProcess(t, nil, bin.path, "--backend", "local", "--data-dir", t.TempDir(),
		"-b", daemonAddr, "-t", daemonAddr, "-o", "-n", "us-east-1")
	healthy := func() bool { return httpOK("http://" + daemonAddr + "/healthz") }
	if !waitFor(20*time.Second, func() bool { return daemon.exited() || healthy() }) || !healthy() {
		if daemon.exited() {
			// Until the local backend is wired in, cmd/xray rejects --backend local and exits.
			missing(t, "xray --backend local exited before answering /healthz:\n%s", daemon.out.String())
		}
		t.Fatalf("xray --backend local never became healthy on %s", daemonAddr)
	}

	appAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startProcess(t, []string{"AWS_XRAY_DAEMON_ADDRESS=" + daemonAddr, "SCOREKEEP_ADDR=" + appAddr}, scorekeep)
	if !waitFor(15*time.Second, func() bool { return httpOK("http://" + appAddr + "/healthz") }) {
		t.Fatalf("scorekeep never answered on %s", appAddr)
	}

	// Two games, one read: three traces, each spanning several hops.
	want := map[string]string{} // trace id -> player
	for _, user := range []string{"alice", "bob"} {
		var game Game
		id := call(t, http.MethodPost, "http://"+appAddr+"/api/game", `{"user":"`+user+`"}`, http.StatusCreated, &game)
		want[id] = user
		if user == "alice" {
			want[call(t, http.MethodGet, "http://"+appAddr+"/api/game/"+game.ID, "", http.StatusOK, nil)] = user
		}
	}

	var got map[string]traceSummary
	if !waitFor(20*time.Second, func() bool {
		got = traceSummaries(t, daemonAddr, "")
		for id := range want {
			if _, ok := got[id]; !ok {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("POST /TraceSummaries: want traces %v, got %v", keys(want), keys(got))
	}
	for id, user := range want {
		s := got[id]
		if !s.hasUser(user) {
			t.Errorf("trace %s: users %+v, want %s", id, s.Users, user)
		}
		t.Logf("trace %s: user %s, duration %.6f s", id, user, s.Duration)
	}

	// The sample app's annotation, as README suggests filtering on it.
	alice := traceSummaries(t, daemonAddr, `annotation.player = "alice"`)
	for id, user := range want {
		if _, ok := alice[id]; ok != (user == "alice") {
			t.Errorf(`filter annotation.player = "alice": trace %s of %s included=%v`, id, user, ok)
		}
	}
	if resp, err := http.Get("http://" + daemonAddr + "/"); err == nil {
		t.Logf("UI at http://%s/: %s %s", daemonAddr, resp.Status, resp.Header.Get("Content-Type"))
		resp.Body.Close()
	}
}

// Game is the part of scorekeep's game the test reads.
type Game struct {
	ID string `json:"id"`
}

// call sends a request to scorekeep and returns the trace id xray.Handler reported in the
// X-Amzn-Trace-Id response header.
func call(t *testing.T, method, url, body string, status int, out any) string {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, resp.StatusCode, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	for _, part := range strings.Split(resp.Header.Get("X-Amzn-Trace-Id"), ";") {
		if v, ok := strings.CutPrefix(part, "Root="); ok {
			return v
		}
	}
	t.Fatalf("%s %s: no Root in X-Amzn-Trace-Id %q", method, url, resp.Header.Get("X-Amzn-Trace-Id"))
	return ""
}

type traceSummary struct {
	ID       string  `json:"Id"`
	Duration float64 `json:"Duration"`
	Users    []struct {
		UserName string `json:"UserName"`
	} `json:"Users"`
}

func (s traceSummary) hasUser(name string) bool {
	for _, u := range s.Users {
		if u.UserName == name {
			return true
		}
	}
	return false
}

// traceSummaries asks the local backend for the last ten minutes of traces (all pages).
func traceSummaries(t *testing.T, addr, filter string) map[string]traceSummary {
	t.Helper()
	out := map[string]traceSummary{}
	now := time.Now().Unix()
	next := ""
	for page := 0; page < 20; page++ {
		in := map[string]any{"StartTime": now - 600, "EndTime": now + 60}
		if filter != "" {
			in["FilterExpression"] = filter
		}
		if next != "" {
			in["NextToken"] = next
		}
		b, _ := json.Marshal(in)
		resp, err := http.Post("http://"+addr+"/TraceSummaries", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /TraceSummaries (filter %q): %s: %s", filter, resp.Status, body)
		}
		var res struct {
			TraceSummaries []traceSummary
			NextToken      string
		}
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatalf("POST /TraceSummaries: %v: %s", err, body)
		}
		for _, s := range res.TraceSummaries {
			out[s.ID] = s
		}
		if next = res.NextToken; next == "" {
			break
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
