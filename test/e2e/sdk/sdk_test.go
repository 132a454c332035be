// Package sdk runs the real daemon binary with real X-Ray clients: the Node.js SDK
// (npm aws-xray-sdk-core) sending segments, and the AWS CLI reading them back from the
// local backend. Tools that are missing make the tests skip, except under CI=true.
package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	xraysvc "github.com/aws/aws-sdk-go-v2/service/xray"

	"github.com/xrayd/xrayd/internal/testutil/fakexray"
)

var (
	repoRoot string
	binary   string
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Join(filepath.Dir(file), "..", "..", "..")
	dir, err := os.MkdirTemp("", "xrayd-sdk-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "xray")
	build := exec.Command("go", "build", "-o", binary, "./cmd/xray")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building xray: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need skips the test when a tool is missing, or fails it under CI=true.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true (.ci/run installs it)", what)
	}
	t.Skipf("skipping: %s is not available (see .ci/run for how to install it)", what)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type daemon struct {
	cmd      *exec.Cmd
	addr     string
	out      *bytes.Buffer
	xrayConn *xraysvc.Client
}

// startDaemon runs the binary with args plus -b/-t on one free address.
func startDaemon(t *testing.T, env []string, args ...string) *daemon {
	t.Helper()
	addr := freeAddr(t)
	d := &daemon{addr: addr, out: &bytes.Buffer{}}
	d.cmd = exec.Command(binary, append(args, "-b", addr, "-t", addr, "-o", "-n", "us-east-1")...)
	d.cmd.Dir = t.TempDir()
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.cmd.Process.Signal(os.Interrupt)
		d.cmd.Wait()
		if t.Failed() {
			t.Logf("daemon output:\n%s", d.out.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for exec.Command(binary, "health", "-t", addr).Run() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not become healthy:\n%s", d.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.xrayConn = xraysvc.New(xraysvc.Options{BaseEndpoint: aws.String("http://" + addr), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDE2E", "e2e-secret", "")})
	return d
}

func nodeModules(t *testing.T) string {
	dir := filepath.Join(repoRoot, "test", "e2e", "node")
	_, errNode := exec.LookPath("node")
	_, errMod := os.Stat(filepath.Join(dir, "node_modules", "aws-xray-sdk-core"))
	need(t, errNode == nil && errMod == nil, "node with npm package aws-xray-sdk-core (npm install --prefix test/e2e/node)")
	return dir
}

func emitWithNode(t *testing.T, daemonAddr string, n int) []string {
	t.Helper()
	dir := nodeModules(t)
	cmd := exec.Command("node", "emit.js", fmt.Sprint(n))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AWS_XRAY_DAEMON_ADDRESS="+daemonAddr)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node emit.js: %v", err)
	}
	ids := strings.Fields(string(out))
	if len(ids) != n {
		t.Fatalf("node printed %d trace ids: %q", len(ids), out)
	}
	return ids
}

func TestNodeSDKToLocalBackendReadBackWithGoSDKAndCLI(t *testing.T) {
	d := startDaemon(t, nil, "--backend", "local", "--data-dir", t.TempDir())
	ids := emitWithNode(t, d.addr, 3)
	ctx := context.Background()
	start, end := time.Now().Add(-10*time.Minute), time.Now().Add(time.Minute)
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := d.xrayConn.GetTraceSummaries(ctx, &xraysvc.GetTraceSummariesInput{StartTime: &start, EndTime: &end,
			FilterExpression: aws.String(`service("node-app") AND annotation.runtime = "node" AND user = "bob"`)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.TraceSummaries) == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("found %d of %d Node traces", len(res.TraceSummaries), len(ids))
		}
		time.Sleep(100 * time.Millisecond)
	}
	traces, err := d.xrayConn.BatchGetTraces(ctx, &xraysvc.BatchGetTracesInput{TraceIds: ids})
	if err != nil || len(traces.Traces) != len(ids) {
		t.Fatalf("BatchGetTraces: %v, %d traces", err, len(traces.Traces))
	}
	for _, tr := range traces.Traces {
		// The Node segment plus the inferred segment for the remote orders-db call.
		if len(tr.Segments) != 2 {
			t.Fatalf("trace %s has %d segments, want 2", aws.ToString(tr.Id), len(tr.Segments))
		}
	}

	// The AWS CLI, signing with any key, reads the same data back.
	_, err = exec.LookPath("aws")
	need(t, err == nil, "the AWS CLI (apt-get install awscli)")
	cli := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command("aws", append(args, "--endpoint-url", "http://"+d.addr, "--region", "us-east-1", "--output", "json")...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDCLI", "AWS_SECRET_ACCESS_KEY=cli-secret", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("aws %v: %v\n%s", args, err, msg)
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("aws %v: %v\n%s", args, err, out)
		}
		return v
	}
	sums := cli("xray", "get-trace-summaries", "--start-time", fmt.Sprint(start.Unix()), "--end-time", fmt.Sprint(end.Unix()), "--filter-expression", `service("node-app")`)
	if got := len(sums["TraceSummaries"].([]any)); got != len(ids) {
		t.Fatalf("CLI get-trace-summaries found %d traces", got)
	}
	bt := cli("xray", "batch-get-traces", "--trace-ids", ids[0])
	if got := len(bt["Traces"].([]any)); got != 1 {
		t.Fatalf("CLI batch-get-traces returned %d traces", got)
	}
	graph := cli("xray", "get-service-graph", "--start-time", fmt.Sprint(start.Unix()), "--end-time", fmt.Sprint(end.Unix()))
	if !strings.Contains(fmt.Sprint(graph["Services"]), "orders-db") {
		t.Fatalf("CLI get-service-graph lacks the inferred node: %v", graph["Services"])
	}
	rules := cli("xray", "get-sampling-rules")
	if !strings.Contains(fmt.Sprint(rules), "Default") {
		t.Fatalf("CLI get-sampling-rules: %v", rules)
	}
	created := cli("xray", "create-sampling-rule", "--sampling-rule",
		`{"RuleName":"node","ResourceARN":"*","Priority":10,"FixedRate":0.5,"ReservoirSize":2,"ServiceName":"node-app","ServiceType":"*","Host":"*","HTTPMethod":"*","URLPath":"*","Version":1}`)
	if !strings.Contains(fmt.Sprint(created), "sampling-rule/node") {
		t.Fatalf("CLI create-sampling-rule: %v", created)
	}
}

func TestNodeSDKThroughRelayToSignedXRay(t *testing.T) {
	fx := fakexray.New("us-east-1")
	defer fx.Close()
	cfg := filepath.Join(t.TempDir(), "cfg.yaml")
	os.WriteFile(cfg, []byte("Version: 2\nEndpoint: "+fx.URL+"\n"), 0o644)
	d := startDaemon(t, []string{"AWS_ACCESS_KEY_ID=" + fakexray.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + fakexray.SecretAccessKey, "AWS_EC2_METADATA_DISABLED=true"}, "-c", cfg)
	ids := emitWithNode(t, d.addr, 5)
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, _ := fx.Count()
		if n == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d Node segments reached X-Ray", n, len(ids))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, doc := range fx.Docs() {
		var seg struct {
			TraceID string `json:"trace_id"`
			Name    string
		}
		if err := json.Unmarshal([]byte(doc), &seg); err != nil || seg.Name != "node-app" || !strings.Contains(strings.Join(ids, " "), seg.TraceID) {
			t.Fatalf("unexpected document %.120s (%v)", doc, err)
		}
	}
	if fx.BadSigs.Load() != 0 {
		t.Fatal("bad signature")
	}
}
