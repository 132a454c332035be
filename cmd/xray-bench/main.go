// Command xray-bench measures a daemon binary the way issue #4 asks: it starts the binary
// against a fake X-Ray endpoint on loopback, sends N segments of S bytes at R per second
// over UDP, and reports delivered %, daemon CPU per segment (utime+stime from /proc over
// the daemon's whole life), idle RSS and peak RSS. With -compare it runs the same
// workload against a second binary (an upstream build, say) and prints the ratios.
//
//	go run ./cmd/xray-bench -n 100000 -size 1024 -rate 20000
//	go run ./cmd/xray-bench -rate 0 -compare /path/to/upstream/xray
package main

import (
	"bufio"
	"compress/gzip"
	"io"
	"net/http/httptest"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xrayd/xrayd/internal/testutil/fakexray"
)

type result struct {
	binary                 string
	sent, delivered        int
	distinct               int
	cpuMicros              float64
	idleRSSKB, peakRSSKB   int
	peakAnonKB, peakFileKB int // sampled every 50 ms
	startPeakKB            int // VmHWM before traffic
	sendSeconds, drainSec  float64
	rcvbufErrors           int64
	ctxSwitches            int64
}

func main() {
	var (
		bin      = flag.String("bin", "", "daemon binary to measure (default: build ./cmd/xray)")
		compare  = flag.String("compare", "", "second binary to run the same workload against")
		n        = flag.Int("n", 100000, "segments to send")
		size     = flag.Int("size", 1024, "segment size in bytes")
		rate     = flag.Int("rate", 20000, "segments per second (0 = as fast as the sender can)")
		memMB    = flag.Int("m", 0, "-m buffer memory for the daemon (0 = its default)")
		down     = flag.Duration("down", 0, "keep the fake backend down (503) for this long from the start")
		extra    = flag.String("args", "", "extra arguments for the daemon, space separated")
		envs     = flag.String("env", "", "extra environment for the daemon, space separated K=V")
		local    = flag.Bool("local", false, "run the daemon with --backend local and count the segments it stored (from /metrics)")
		otlpMode = flag.Bool("otlp", false, "run the daemon with --backend otlp against an in-process OTLP/HTTP receiver and count spans")
		perTrace = flag.Int("per-trace", 1, "segments per trace (they share a trace id)")
		settle   = flag.Duration("settle", 15*time.Second, "how long to wait for deliveries after sending")
		repeats  = flag.Int("repeat", 1, "runs per binary (figures are printed per run)")
	)
	flag.Parse()
	if *bin == "" {
		dir, err := os.MkdirTemp("", "xray-bench")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(dir)
		*bin = filepath.Join(dir, "xray")
		// Built as the packages and images are: static, no cgo.
		build := exec.Command("go", "build", "-trimpath", "-o", *bin, "./cmd/xray")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fail(fmt.Errorf("building ./cmd/xray: %v\n%s", err, out))
		}
	}
	bins := []string{*bin}
	if *compare != "" {
		bins = append(bins, *compare)
	}
	fmt.Printf("workload: %d segments of %d bytes at %s, backend down for %v\n", *n, *size, rateString(*rate), *down)
	var results [][]result
	for _, b := range bins {
		var rs []result
		for i := 0; i < *repeats; i++ {
			r, err := run(b, *n, *size, *rate, *memMB, *down, *settle, strings.Fields(*extra), strings.Fields(*envs), *local, *otlpMode, max(*perTrace, 1))
			if err != nil {
				fail(err)
			}
			print(r)
			rs = append(rs, r)
		}
		results = append(results, rs)
	}
	if len(results) == 2 {
		a, b := results[0][0], results[1][0]
		fmt.Printf("ratios (%s / %s): delivered %.3f, CPU per segment %.2f, idle RSS %.2f, peak RSS %.2f\n",
			filepath.Base(a.binary), filepath.Base(b.binary),
			pct(a)/max(pct(b), 1e-9), a.cpuMicros/max(b.cpuMicros, 1e-9),
			float64(a.idleRSSKB)/float64(max(b.idleRSSKB, 1)), float64(a.peakRSSKB)/float64(max(b.peakRSSKB, 1)))
	}
}

func rateString(r int) string {
	if r <= 0 {
		return "full speed"
	}
	return fmt.Sprintf("%d/s", r)
}

func pct(r result) float64 { return 100 * float64(r.distinct) / float64(r.sent) }

func print(r result) {
	fmt.Printf("%-40s delivered %6.2f%% (%d/%d, %d arrivals)  CPU %.2f µs/segment  idle RSS %.1f MB (start-up peak %.1f)  peak RSS %.1f MB (sampled: anon %.1f, file %.1f)  send %.2fs drain %.2fs  kernel rcvbuf drops %d  context switches/segment %.3f\n",
		r.binary, pct(r), r.distinct, r.sent, r.delivered, r.cpuMicros, float64(r.idleRSSKB)/1024, float64(r.startPeakKB)/1024, float64(r.peakRSSKB)/1024, float64(r.peakAnonKB)/1024, float64(r.peakFileKB)/1024, r.sendSeconds, r.drainSec, r.rcvbufErrors, float64(r.ctxSwitches)/float64(max(r.distinct, 1)))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "xray-bench:", err)
	os.Exit(1)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func run(bin string, n, size, rate, memMB int, down, settle time.Duration, extra, envs []string, local, otlpMode bool, perTrace int) (result, error) {
	r := result{binary: bin, sent: n}
	fx := fakexray.New("us-east-1")
	defer fx.Close()
	if down > 0 {
		fx.SetFaults(fakexray.Faults{Down: true})
		time.AfterFunc(down, func() { fx.SetFaults(fakexray.Faults{}) })
	}
	addr, err := freeAddr()
	if err != nil {
		return r, err
	}
	dir, err := os.MkdirTemp("", "xray-bench-run")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "cfg.yaml")
	if err := os.WriteFile(cfg, []byte("Version: 2\nEndpoint: "+fx.URL+"\n"), 0o644); err != nil {
		return r, err
	}
	args := []string{"-c", cfg, "-o", "-n", "us-east-1", "-b", addr, "-t", addr, "-l", "error"}
	count := func() (int, int) { return fx.Count() }
	if local {
		args = append(args, "--backend", "local", "--data-dir", filepath.Join(dir, "data"))
		count = func() (int, int) { n := sentFromMetrics(addr); return n, n }
	}
	if otlpMode {
		recv, spans := otlpReceiver()
		defer recv.Close()
		args = append(args, "--backend", "otlp", "--otlp-endpoint", recv.URL)
		count = func() (int, int) { n := int(spans.Load()); return n, n }
	}
	if memMB > 0 {
		args = append(args, "-m", strconv.Itoa(memMB))
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+fakexray.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+fakexray.SecretAccessKey, "AWS_EC2_METADATA_DISABLED=true")
	cmd.Env = append(cmd.Env, envs...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	time.Sleep(1500 * time.Millisecond) // start-up and idle
	r.idleRSSKB = statusKB(pid, "VmRSS")
	// The peak of start-up (configuration, init of every linked package) is reported on
	// its own; the peak under load is measured from here (clear_refs 5 resets VmHWM).
	r.startPeakKB = statusKB(pid, "VmHWM")
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		fmt.Fprintf(os.Stderr, "xray-bench: cannot reset the peak RSS (%v); peak RSS includes start-up\n", err)
	}
	// VmHWM gives the peak of the total only; sample the split between the daemon's own
	// heap and stacks (RssAnon) and the pages of its binary (RssFile) while it works.
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			st := statusKBs(pid)
			r.peakAnonKB = max(r.peakAnonKB, st["RssAnon"])
			r.peakFileKB = max(r.peakFileKB, st["RssFile"])
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
		}
	}()
	rcvBefore := rcvbufErrors()

	conn, err := net.Dial("udp", addr)
	if err != nil {
		return r, err
	}
	defer conn.Close()
	payload := make([]byte, 0, size+64)
	start := time.Now()
	const chunk = 10
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) * chunk / float64(rate))
	}
	next := start
	for i := 0; i < n; i++ {
		payload = segmentDatagram(payload[:0], i, i/perTrace, size)
		if _, err := conn.Write(payload); err != nil {
			return r, err
		}
		if interval > 0 && i%chunk == chunk-1 {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
	}
	r.sendSeconds = time.Since(start).Seconds()
	// Wait until everything arrived or nothing moved for a while.
	drainStart := time.Now()
	last, lastChange := -1, time.Now()
	for {
		d, _ := count()
		if d != last {
			last, lastChange = d, time.Now()
		}
		if d >= n || time.Since(lastChange) > settle {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.drainSec = time.Since(drainStart).Seconds()
	r.distinct, r.delivered = count()
	r.cpuMicros = cpuSeconds(pid) * 1e6 / float64(max(r.distinct, 1))
	r.peakRSSKB = statusKB(pid, "VmHWM")
	close(stopSampling)
	<-sampled
	r.ctxSwitches = contextSwitches(pid)
	if os.Getenv("XRAY_BENCH_THREADS") != "" {
		printThreads(pid)
	}
	if os.Getenv("XRAY_BENCH_SMAPS") != "" {
		printMappings(pid)
	}
	r.rcvbufErrors = rcvbufErrors() - rcvBefore
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	return r, nil
}

// segmentDatagram writes a header line and a segment document of exactly size bytes.
func segmentDatagram(dst []byte, i, traceNo, size int) []byte {
	dst = append(dst, "{\"format\":\"json\",\"version\":1}\n"...)
	start := len(dst)
	now := time.Now().Unix()
	dst = fmt.Appendf(dst, `{"trace_id":"1-%08x-%024x","id":"%016x","name":"bench-%d","start_time":%d.1,"end_time":%d.2,"metadata":{"pad":"`, now, traceNo, i, i%20, now, now)
	for len(dst)-start < size-3 {
		dst = append(dst, 'x')
	}
	return append(dst, `"}}`...)
}

func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

func statusKB(pid int, key string) int { return statusKBs(pid)[key] }

// statusKBs reads the numeric fields of /proc/<pid>/status (kB for the memory ones).
func statusKBs(pid int) map[string]int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	out := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		key, rest, ok := strings.Cut(line, ":")
		if f := strings.Fields(rest); ok && len(f) > 0 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				out[key] = v
			}
		}
	}
	return out
}

func rcvbufErrors() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		if strings.HasPrefix(lines[i], "Udp:") && strings.HasPrefix(lines[i+1], "Udp:") {
			names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
			for j, n := range names {
				if n == "RcvbufErrors" && j < len(vals) {
					v, _ := strconv.ParseInt(vals[j], 10, 64)
					return v
				}
			}
		}
	}
	return 0
}

// contextSwitches sums voluntary and involuntary switches over the daemon's threads: each
// is roughly one thread wake-up, the dominant cost of a relay at these rates.
func contextSwitches(pid int) int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "voluntary_ctxt_switches:") || strings.HasPrefix(line, "nonvoluntary_ctxt_switches:") {
				v, _ := strconv.ParseInt(strings.TrimSpace(line[strings.IndexByte(line, ':')+1:]), 10, 64)
				total += v
			}
		}
	}
	return total
}

// printThreads lists each daemon thread's context switches (for diagnosis).
func printThreads(pid int) {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(filepath.Join(t, "status"))
		stat, _ := os.ReadFile(filepath.Join(t, "stat"))
		fields := strings.Fields(string(stat)[strings.LastIndexByte(string(stat), ')')+2:])
		var vol, nonvol string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "voluntary_ctxt_switches:") {
				vol = strings.TrimSpace(line[24:])
			}
			if strings.HasPrefix(line, "nonvoluntary_ctxt_switches:") {
				nonvol = strings.TrimSpace(line[27:])
			}
		}
		fmt.Printf("  thread %s: voluntary %s involuntary %s utime %s stime %s\n", filepath.Base(t), vol, nonvol, fields[11], fields[12])
	}
}

// sentFromMetrics reads xrayd_segments_sent_total from the daemon's /metrics.
func sentFromMetrics(addr string) int {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "xrayd_segments_sent_total "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int(f)
		}
	}
	return 0
}

// otlpReceiver is a minimal OTLP/HTTP receiver that counts spans.
func otlpReceiver() (*httptest.Server, *atomic.Int64) {
	var spans atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, _ := io.ReadAll(body)
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(raw); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		spans.Add(int64(req.Traces().SpanCount()))
		out, _ := ptraceotlp.NewExportResponse().MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	return srv, &spans
}

// printMappings lists the daemon's mappings with more than 64 KiB resident (diagnosis:
// which part of the binary, heap or stacks the resident set is made of).
func printMappings(pid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return
	}
	var head string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			head = line
			continue
		}
		if len(f) >= 2 && f[0] == "Rss:" {
			if kb, _ := strconv.Atoi(f[1]); kb > 64 {
				fmt.Printf("  %6d kB  %s\n", kb, head)
			}
		}
	}
}
