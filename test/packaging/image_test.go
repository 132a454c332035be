package packaging

import (
	"archive/zip"
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ulimitFlags are the limits podman must be given on these machines: its defaults exceed
// what an unprivileged-resources root may set ("error setting rlimit type 7").
var ulimitFlags = []string{"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"}

var podmanConf struct {
	once sync.Once
	path string
}

// podman runs podman with a containers.conf that sets the same ulimits (needed by exec and
// healthcheck too) and runc as the runtime when it is installed (crun fails on cgroup v1
// hybrid hosts).
func podman(t *testing.T, args ...string) string {
	t.Helper()
	out, err := podmanErr(t, args...)
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func podmanErr(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := needTool(t, "podman")
	podmanConf.once.Do(func() {
		conf := "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n"
		if _, err := exec.LookPath("runc"); err == nil {
			conf += "\n[engine]\nruntime = \"runc\"\n"
		}
		podmanConf.path = filepath.Join(shared.dir, "containers.conf")
		if err := os.WriteFile(podmanConf.path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	return runErr("", []string{"CONTAINERS_CONF=" + podmanConf.path}, bin, args...)
}

// uniq names images and containers of this test run so parallel runs do not collide.
func uniq(kind string) string {
	return fmt.Sprintf("xrayd-pkgtest-%s-%d-%d", kind, os.Getpid(), time.Now().UnixNano()%1e6)
}

// buildImage builds dockerfile (relative to packaging/) with context dir and returns the tag;
// the image is removed when the test ends.
func buildImage(t *testing.T, dockerfile, context string, extra ...string) string {
	t.Helper()
	tag := "localhost/" + uniq(strings.TrimPrefix(dockerfile, "Dockerfile.")) + ":test"
	args := append([]string{"build", "--format", "docker", "--layers=false", "--no-cache", "-f", filepath.Join(repoRoot(t), "packaging", dockerfile),
		"--build-arg", "VERSION=" + testVersion, "-t", tag}, extra...)
	start := time.Now()
	podman(t, append(args, context)...)
	t.Logf("built %s in %v", tag, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { podmanErr(t, "rmi", "-f", tag) })
	return tag
}

type imageInfo struct {
	Architecture string
	Size         int64
	Config       struct {
		User         string
		Entrypoint   []string
		ExposedPorts map[string]struct{}
	}
	HealthCheck *struct{ Test []string }
}

func inspectImage(t *testing.T, tag string) imageInfo {
	t.Helper()
	var info []imageInfo
	if err := json.Unmarshal([]byte(podman(t, "image", "inspect", tag)), &info); err != nil || len(info) != 1 {
		t.Fatalf("podman image inspect %s: %v", tag, err)
	}
	t.Logf("%s: %s, %d bytes (%.1f MiB)", tag, info[0].Architecture, info[0].Size, float64(info[0].Size)/(1<<20))
	return info[0]
}

// checkImageContract checks what every xrayd image promises: ports, entrypoint, health check.
func checkImageContract(t *testing.T, info imageInfo, exe, user string) {
	t.Helper()
	for _, p := range []string{"2000/udp", "2000/tcp"} {
		if _, ok := info.Config.ExposedPorts[p]; !ok {
			t.Errorf("ExposedPorts %v lacks %s", info.Config.ExposedPorts, p)
		}
	}
	if want := []string{exe, "-b", "0.0.0.0:2000", "-t", "0.0.0.0:2000"}; !slices.Equal(info.Config.Entrypoint, want) {
		t.Errorf("Entrypoint %q, want %q", info.Config.Entrypoint, want)
	}
	if want := []string{"CMD", exe, "health", "-t", "127.0.0.1:2000"}; info.HealthCheck == nil || !slices.Equal(info.HealthCheck.Test, want) {
		t.Errorf("HealthCheck %+v, want exec form %q (built with --format docker?)", info.HealthCheck, want)
	}
	if info.Config.User != user {
		t.Errorf("User %q, want %q", info.Config.User, user)
	}
}

// startContainer runs image detached; it is removed when the test ends.
func startContainer(t *testing.T, image string, podmanArgs []string, daemonArgs ...string) string {
	t.Helper()
	name := uniq("ctr")
	args := append([]string{"run", "-d", "--name", name}, ulimitFlags...)
	args = append(append(append(args, podmanArgs...), image), daemonArgs...)
	podman(t, args...)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := podmanErr(t, "logs", name)
			t.Logf("logs of %s:\n%s", name, logs)
		}
		podmanErr(t, "rm", "-f", "-t", "2", name)
	})
	return name
}

// checkHealthy runs the container's health check by hand (no systemd timers here) until it
// passes, then checks podman recorded "healthy".
func checkHealthy(t *testing.T, name string) {
	t.Helper()
	var out string
	ok := waitFor(20*time.Second, func() bool {
		var err error
		out, err = podmanErr(t, "healthcheck", "run", name)
		return err == nil
	})
	if !ok {
		t.Fatalf("podman healthcheck run %s never passed: %s", name, out)
	}
	if st := strings.TrimSpace(podman(t, "inspect", "--format", "{{.State.Health.Status}}", name)); st != "healthy" {
		t.Errorf("health status %q, want healthy", st)
	}
}

// checkUID checks the daemon process inside the container runs as uid.
func checkUID(t *testing.T, name string, uid string) {
	t.Helper()
	pid := strings.TrimSpace(podman(t, "inspect", "--format", "{{.State.Pid}}", name))
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatalf("reading status of container pid %s: %v", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Uid:") {
			if f := strings.Fields(line); len(f) < 2 || f[1] != uid {
				t.Errorf("daemon runs as %q, want uid %s", line, uid)
			}
			return
		}
	}
}

func checkVersion(t *testing.T, image string) {
	t.Helper()
	args := append(append([]string{"run", "--rm", "--network", "none"}, ulimitFlags...), image, "-v")
	if out := strings.TrimSpace(podman(t, args...)); !strings.HasSuffix(out, "AWS X-Ray daemon version: "+testVersion) {
		t.Errorf("%s -v: %q", image, out)
	}
}

// scratchContext lays out the build context Dockerfile.scratch expects.
func scratchContext(t *testing.T, arches ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, arch := range arches {
		copyFile(t, xrayBinary(t, arch).path, filepath.Join(dir, "linux-"+arch, "xray"), 0o755)
	}
	copyFile(t, filepath.Join(repoRoot(t), "packaging", "cfg.yaml"), filepath.Join(dir, "cfg.yaml"), 0o644)
	ca := "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(ca); err != nil {
		missing(t, "%s not found: apt-get install -y ca-certificates", ca)
	}
	copyFile(t, ca, filepath.Join(dir, "ca-certificates.crt"), 0o644)
	return dir
}

func TestScratchImage(t *testing.T) {
	needTool(t, "podman")
	if runtime.GOARCH != "amd64" {
		t.Skip("runs the amd64 image: needs an amd64 host")
	}
	bin := xrayBinary(t, "amd64")
	image := buildImage(t, "Dockerfile.scratch", scratchContext(t, "amd64"))
	info := inspectImage(t, image)
	checkImageContract(t, info, "/xray", "10001:10001")
	if info.Architecture != "amd64" {
		t.Errorf("Architecture %q, want amd64", info.Architecture)
	}
	checkVersion(t, image)

	t.Run("default entrypoint passes its own health check", func(t *testing.T) {
		// Own network namespace: the daemon keeps 0.0.0.0:2000 and the image's probe of
		// 127.0.0.1:2000 is exactly what ECS and Docker would run.
		name := startContainer(t, image, []string{"--network", "none"}, "-o", "-n", "us-east-1")
		checkHealthy(t, name)
		checkUID(t, name, "10001")
	})

	t.Run("uploads a UDP segment to the configured endpoint", func(t *testing.T) {
		if !bin.real {
			missing(t, "cmd/xray does not exist yet: the placeholder binary does not upload")
		}
		testUpload(t, image, "/etc/xrayd-test/cfg.yaml", []string{"CMD", "/xray", "health"})
	})
}

// fakeXRay answers the X-Ray API on loopback and hands over every uploaded segment document.
func fakeXRay(t *testing.T) (*httptest.Server, <-chan string) {
	t.Helper()
	docs := make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/TraceSegments" {
			var in struct{ TraceSegmentDocuments []string }
			if json.Unmarshal(body, &in) == nil {
				for _, d := range in.TraceSegmentDocuments {
					select {
					case docs <- d:
					default:
					}
				}
			}
			io.WriteString(w, `{"UnprocessedTraceSegments":[]}`)
			return
		}
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	return srv, docs
}

// testUpload runs the image on the host network with free ports and a -c config pointing at
// a fake X-Ray endpoint, sends one segment over UDP, and waits for it to be uploaded; then
// checks the health probe and that SIGTERM (podman stop) ends the daemon with status 0.
func testUpload(t *testing.T, image, cfgPath string, healthCmd []string) {
	t.Helper()
	fake, docs := fakeXRay(t)
	cfg := filepath.Join(t.TempDir(), "cfg.yaml")
	if err := os.WriteFile(cfg, []byte("Version: 2\nEndpoint: \""+fake.URL+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	hc, _ := json.Marshal(append(slices.Clone(healthCmd[1:]), "-t", addr))
	name := startContainer(t, image, []string{
		"--network", "host",
		"-e", "AWS_ACCESS_KEY_ID=AKIDPKGTEST", "-e", "AWS_SECRET_ACCESS_KEY=pkgtest-secret",
		"-v", cfg + ":" + cfgPath + ":ro",
		"--health-cmd", string(hc),
	}, "-c", cfgPath, "-n", "us-east-1", "-o", "-b", addr, "-t", addr)

	if !waitFor(20*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("GET http://%s/healthz never answered 200", addr)
	}

	now := time.Now()
	traceID := fmt.Sprintf("1-%08x-%024x", now.Unix(), now.UnixNano())
	segID := fmt.Sprintf("%016x", now.UnixNano())
	doc := fmt.Sprintf(`{"trace_id":%q,"id":%q,"name":"pkgtest","start_time":%.3f,"end_time":%.3f}`,
		traceID, segID, float64(now.UnixMilli())/1000, float64(now.UnixMilli())/1000+0.05)
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(`{"format":"json","version":1}` + "\n" + doc)); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(15 * time.Second)
	for found := false; !found; {
		select {
		case d := <-docs:
			found = strings.Contains(d, segID)
		case <-deadline:
			t.Fatalf("segment %s never reached the fake endpoint %s", segID, fake.URL)
		}
	}

	checkHealthy(t, name)

	start := time.Now()
	podman(t, "stop", "-t", "30", name)
	if code := strings.TrimSpace(podman(t, "inspect", "--format", "{{.State.ExitCode}}", name)); code != "0" {
		t.Errorf("exit code after SIGTERM %s, want 0", code)
	}
	t.Logf("stopped with SIGTERM in %v", time.Since(start).Round(time.Millisecond))
}

func TestScratchImageForArm64(t *testing.T) {
	needTool(t, "podman")
	// The image needs no RUN step, so podman can assemble it for another architecture
	// without emulation. It cannot be run here; its metadata is checked instead.
	image := buildImage(t, "Dockerfile.scratch", scratchContext(t, "arm64"), "--platform", "linux/arm64")
	info := inspectImage(t, image)
	if info.Architecture != "arm64" {
		t.Errorf("Architecture %q, want arm64", info.Architecture)
	}
	checkImageContract(t, info, "/xray", "10001:10001")
}

const debianBase = "localhost/xrayd-pkgtest-debian-base:bookworm"

var baseOnce sync.Once

// debianBaseImage provides a Debian bookworm image without a registry: debootstrap (about
// 30 s, with unzip and ca-certificates) cached as a tarball under the user cache directory,
// imported into podman once; later runs reuse the image or the tarball.
func debianBaseImage(t *testing.T) string {
	t.Helper()
	needTool(t, "podman")
	if runtime.GOARCH != "amd64" {
		t.Skip("the debootstrap base is built for amd64")
	}
	baseOnce.Do(func() {
		if _, err := podmanErr(t, "image", "exists", debianBase); err == nil {
			return
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		tarball := filepath.Join(cache, "xrayd", "debian-bookworm-minbase-amd64.tar")
		if _, err := os.Stat(tarball); err != nil {
			debootstrap := needTool(t, "debootstrap")
			if os.Geteuid() != 0 {
				missing(t, "debootstrap needs root")
			}
			root := filepath.Join(shared.dir, "debootstrap")
			start := time.Now()
			run(t, "", nil, debootstrap, "--variant=minbase", "--include=unzip,ca-certificates", "bookworm", root, debianMirror())
			t.Logf("debootstrap took %v", time.Since(start).Round(time.Second))
			if err := os.MkdirAll(filepath.Dir(tarball), 0o755); err != nil {
				t.Fatal(err)
			}
			run(t, "", nil, "tar", "-C", root, "-cf", tarball+".partial", ".")
			if err := os.Rename(tarball+".partial", tarball); err != nil {
				t.Fatal(err)
			}
			os.RemoveAll(root)
		}
		podman(t, "import", tarball, debianBase)
	})
	if _, err := podmanErr(t, "image", "exists", debianBase); err != nil {
		t.Fatalf("base image %s was not created", debianBase)
	}
	return debianBase
}

// debianMirror is XRAYD_DEBIAN_MIRROR, else the machine's configured Debian mirror, else
// deb.debian.org.
func debianMirror() string {
	if m := os.Getenv("XRAYD_DEBIAN_MIRROR"); m != "" {
		return m
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	files = append(append(files, "/etc/apt/sources.list"), must(filepath.Glob("/etc/apt/sources.list.d/*.list"))...)
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			for _, fld := range fields {
				if (strings.HasPrefix(fld, "http://") || strings.HasPrefix(fld, "https://")) &&
					strings.HasSuffix(strings.TrimSuffix(fld, "/"), "/debian") {
					fh.Close()
					return fld
				}
			}
		}
		fh.Close()
	}
	return "http://deb.debian.org/debian"
}

func must[T any](v T, _ error) T { return v }

func TestDebianImage(t *testing.T) {
	base := debianBaseImage(t)
	deb, _ := packages(t)
	ctx := t.TempDir()
	copyFile(t, deb, filepath.Join(ctx, filepath.Base(deb)), 0o644)
	image := buildImage(t, "Dockerfile.debian", ctx, "--build-arg", "BASE="+base)
	info := inspectImage(t, image)
	checkImageContract(t, info, "/usr/bin/xray", "xray")
	checkVersion(t, image)
	name := startContainer(t, image, []string{"--network", "none"}, "-o", "-n", "us-east-1")
	checkHealthy(t, name)
	uid := strings.TrimSpace(podman(t, "run", "--rm", "--network", "none", "--ulimit", "nofile=20000:20000",
		"--ulimit", "nproc=32768:32768", "--entrypoint", "id", image, "-u"))
	checkUID(t, name, uid)
	if uid == "0" {
		t.Error("the xray user is root")
	}
	// The package's conffile and unit file are in place.
	ls := podman(t, "run", "--rm", "--network", "none", "--ulimit", "nofile=20000:20000",
		"--ulimit", "nproc=32768:32768", "--entrypoint", "ls", image, "/etc/amazon/xray/cfg.yaml", "/usr/lib/systemd/system/xray.service")
	if strings.Count(ls, "\n") != 2 {
		t.Errorf("files missing in image:\n%s", ls)
	}
}

func TestAmazonLinuxImageFromZip(t *testing.T) {
	base := debianBaseImage(t)
	bin := xrayBinary(t, "amd64")
	ctx := t.TempDir()
	writeZip(t, filepath.Join(ctx, "xrayd-linux-amd64-"+testVersion+".zip"), map[string]string{
		"xray":     bin.path,
		"cfg.yaml": filepath.Join(repoRoot(t), "packaging", "cfg.yaml"),
	})
	// BASE stands in for Amazon Linux (no registry here); the Dockerfile only needs a shell
	// and unzip, or a package manager to install it.
	image := buildImage(t, "Dockerfile.amazonlinux", ctx, "--build-arg", "BASE="+base)
	info := inspectImage(t, image)
	checkImageContract(t, info, "/usr/bin/xray", "10001:10001")
	checkVersion(t, image)
	name := startContainer(t, image, []string{"--network", "none"}, "-o", "-n", "us-east-1")
	checkHealthy(t, name)
	checkUID(t, name, "10001")
}

// writeZip writes a zip with the layout of packaging/package.sh's linux archives.
func writeZip(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for name, src := range files {
		fi, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		hdr, _ := zip.FileInfoHeader(fi)
		hdr.Name, hdr.Method = name, zip.Deflate
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(src)
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}
