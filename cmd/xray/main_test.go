package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xrayd/xrayd/internal/testutil/fakexray"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xray-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "xray")
	out, err := exec.Command("go", "build", "-ldflags", "-X main.version=9.9.9-test", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building xray: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func command(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir() // no stray ./cfg.yaml
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true", "AWS_ACCESS_KEY_ID="+fakexray.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+fakexray.SecretAccessKey, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	return cmd
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := command(t, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), o.String(), e.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, o.String(), e.String()
}

func TestExitCodesMatchUpstream(t *testing.T) {
	dir := t.TempDir()
	badCfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badCfg, []byte("Version: 2\nSocket:\n  UDPAddress: 127.0.0.1:2000\nBogus: 1\n"), 0o644)
	noVersion := filepath.Join(dir, "nover.yaml")
	os.WriteFile(noVersion, []byte("Region: us-east-1\n"), 0o644)
	tests := []struct {
		name         string
		args         []string
		code         int
		stdout, errs string
	}{
		{"version", []string{"-v"}, 0, "AWS X-Ray daemon version: 9.9.9-test\n", ""},
		{"version long", []string{"--version"}, 0, "AWS X-Ray daemon version: 9.9.9-test", ""},
		{"help", []string{"-h"}, 0, "Usage: X-Ray [options]", ""},
		{"help wins over version", []string{"-v", "--help"}, 0, "Usage: X-Ray [options]", ""},
		{"unknown flag", []string{"-bogus"}, 2, "Usage: X-Ray [options]", "flag provided but not defined: -bogus"},
		{"missing argument", []string{"-m"}, 2, "", "flag needs an argument: -m"},
		{"bad int", []string{"-m", "abc"}, 2, "", `invalid value "abc" for flag -m`},
		{"three dashes", []string{"---v"}, 2, "", "bad flag syntax: ---v"},
		{"unknown config key", []string{"-c", badCfg}, 1, "", "[Error] Bogus flag is invalid. Please refer to AWS X-Ray Documentation for more information."},
		{"config without version", []string{"-c", noVersion}, 1, "", "[Error] Config Version is missing."},
		{"missing config file", []string{"-c", filepath.Join(dir, "nope.yaml")}, 1, "", "Error occur when using config flag: open"},
		{"too little memory", []string{"-m", "2", "-o", "-n", "us-east-1", "-b", "127.0.0.1:0", "-t", "127.0.0.1:0"}, 1, "", "Not enough Buffers Memory Allocated. Min Buffers Memory required: 3 MB."},
		{"bare port", []string{"-b", "2000"}, 1, "", "2000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr+stdout, tt.errs) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
		})
	}
}

func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	fx := fakexray.New("us-east-1")
	defer fx.Close()
	fx.SetFaults(fakexray.Faults{Down: true}) // keep everything buffered until the signal
	udp, tcp := "127.0.0.1:"+strings.Split(freePort(t), ":")[1], freePort(t)
	cfg := filepath.Join(t.TempDir(), "cfg.yaml")
	os.WriteFile(cfg, []byte("Version: 2\nEndpoint: "+fx.URL+"\n"), 0o644)
	cmd := command(t, "-c", cfg, "-o", "-n", "us-east-1", "-b", udp, "-t", tcp)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, tcp)
	c, err := net.Dial("udp", udp)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		fmt.Fprintf(c, "{\"format\":\"json\",\"version\":1}\n{\"id\":\"%016x\",\"n\":%d}", i, i)
	}
	c.Close()
	time.Sleep(300 * time.Millisecond)
	fx.SetFaults(fakexray.Faults{})
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("exit: %v\n%s", err, out.String())
	}
	if n, _ := fx.Count(); n != 300 {
		t.Fatalf("delivered %d of 300 after SIGTERM\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "Drained") {
		t.Fatalf("no drain report in the log:\n%s", out.String())
	}
}

func waitHealthy(t *testing.T, tcp string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, _ := runCmd(t, "health", "-t", tcp)
		if code == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon never became healthy")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestHealthSubcommandFailsWithoutDaemon(t *testing.T) {
	code, _, stderr := runCmd(t, "health", "-t", freePort(t))
	if code != 1 || !strings.Contains(stderr, "no daemon answering") {
		t.Fatalf("exit %d stderr %s", code, stderr)
	}
	if code, _, _ := runCmd(t, "health", "-t", "nonsense"); code != 2 {
		t.Fatalf("bad address: exit %d, want 2", code)
	}
}
