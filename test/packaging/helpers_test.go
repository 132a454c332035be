package packaging

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testVersion is linked into every binary the tests build, so `-v` output can be checked.
const testVersion = "9.8.7-pkgtest"

// shared holds what TestMain prepares: a work directory outlived by every test.
var shared struct {
	dir string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xrayd-packaging-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func inCI() bool { return os.Getenv("CI") == "true" }

// installHints says how to get each external tool on Debian 12 (see /work/shared/TOOLING.md).
var installHints = map[string]string{
	"nfpm":        "go install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2",
	"podman":      "apt-get install -y podman buildah runc",
	"debootstrap": "apt-get install -y debootstrap",
	"dpkg":        "a Debian-based machine",
	"dpkg-deb":    "a Debian-based machine",
	"rpm":         "apt-get install -y rpm",
	"zip":         "apt-get install -y zip",
	"unzip":       "apt-get install -y unzip",
}

// missing skips the test, or fails it under CI=true, because a prerequisite is absent.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatalf("CI=true: %s", msg)
	}
	t.Skip(msg)
}

// needTool returns the path of an external tool or skips/fails with the install step.
func needTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if name == "nfpm" {
		if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "nfpm")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	missing(t, "%s not found; install it with: %s", name, installHints[name])
	return ""
}

// repoRoot is the module root: tests run in test/packaging.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// run executes a command and fails the test with its output if it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// On failure the caller gets everything the command said.
		return stdout.String() + stderr.String(), err
	}
	// On success only stdout: podman, for one, prints harmless warnings on stderr.
	return stdout.String(), nil
}

// binary is a built xray: real (cmd/xray) or the placeholder used until cmd/xray exists.
type binary struct {
	path string
	real bool
}

var builds sync.Map // key "goos/goarch" -> *buildResult

type buildResult struct {
	once sync.Once
	bin  binary
	err  error
}

// xrayBinary builds cmd/xray for linux/goarch (CGO_ENABLED=0, version testVersion) once per
// test run. Until cmd/xray exists it builds a placeholder that implements only -v, health,
// /healthz and SIGTERM; tests needing the real daemon check bin.real.
func xrayBinary(t *testing.T, goarch string) binary {
	t.Helper()
	v, _ := builds.LoadOrStore("linux/"+goarch, &buildResult{})
	b := v.(*buildResult)
	b.once.Do(func() { b.bin, b.err = buildXray(repoRoot(t), goarch) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}

func hasCmdXray(root string) bool {
	m, _ := filepath.Glob(filepath.Join(root, "cmd", "xray", "*.go"))
	return len(m) > 0
}

func buildXray(root, goarch string) (binary, error) {
	out := filepath.Join(shared.dir, "bin", "linux-"+goarch, "xray")
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + goarch}
	ldflags := "-s -w -X main.version=" + testVersion
	if hasCmdXray(root) {
		if o, err := runErr(root, env, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/xray"); err != nil {
			return binary{}, fmt.Errorf("building cmd/xray: %v\n%s", err, o)
		}
		return binary{path: out, real: true}, nil
	}
	src := filepath.Join(shared.dir, "placeholder")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return binary{}, err
	}
	files := map[string]string{"go.mod": "module placeholder\n\ngo 1.22\n", "main.go": placeholderMain}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			return binary{}, err
		}
	}
	env = append(env, "GOFLAGS=-mod=mod", "GOWORK=off")
	if o, err := runErr(src, env, "go", "build", "-ldflags", ldflags, "-o", out, "."); err != nil {
		return binary{}, fmt.Errorf("building placeholder xray: %v\n%s", err, o)
	}
	return binary{path: out, real: false}, nil
}

// placeholderMain stands in for cmd/xray before it exists: same -v output, `health -t`,
// GET /healthz on the TCP address, a UDP socket on -b, clean exit on SIGTERM.
const placeholderMain = `package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

var version = "unknown"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "health" {
		fs := flag.NewFlagSet("health", flag.ExitOnError)
		addr := fs.String("t", "127.0.0.1:2000", "")
		fs.Parse(os.Args[2:])
		c := http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get("http://" + *addr + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			os.Exit(1)
		}
		return
	}
	b := flag.String("b", "127.0.0.1:2000", "")
	t := flag.String("t", "127.0.0.1:2000", "")
	v := flag.Bool("v", false, "")
	flag.String("c", "", ""); flag.String("n", "", ""); flag.Bool("o", false, "")
	flag.String("l", "", ""); flag.String("f", "", "")
	flag.Parse()
	if *v {
		fmt.Println("AWS X-Ray daemon version: " + version)
		return
	}
	pc, err := net.ListenPacket("udp", *b)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer pc.Close()
	ln, err := net.Listen("tcp", *t)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	go http.Serve(ln, mux)
	fmt.Println("placeholder xray listening", *b, *t)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
`

// freePort returns a loopback port that is free for both TCP and UDP right now.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free TCP+UDP port on 127.0.0.1")
	return 0
}

// waitFor polls cond every 100 ms until it returns true or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

// copyFile copies src to dst with the given mode, creating dst's directory.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}
