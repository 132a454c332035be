package config

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParseFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("Version: 2\nX: &a {b: 1}\nY: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, validate := range []bool{true, false} {
			c, err := parseFile(data, validate)
			if err != nil {
				var ee *ExitError
				if !errors.As(err, &ee) || ee.Code != 1 || ee.Msg == "" {
					t.Fatalf("error %#v is not an exit-1 ExitError", err)
				}
				continue
			}
			if c.Version != 1 && c.Version != 2 {
				t.Fatalf("accepted Version %d", c.Version)
			}
			if len(c.Backend) == 0 || c.DrainTimeout <= 0 || c.ReceiveBufferBytes <= 0 {
				t.Fatalf("unresolved defaults: %+v", c)
			}
		}
	})
}

func FuzzLoadArgs(f *testing.F) {
	for _, s := range []string{
		"-h", "-v", "---v", "-o false -n x", "-n a --region b", "-m abc", "-m", "foo -v",
		"-c testdata/valid_v2.yaml -l dev", "-c testdata/unknown_key.yaml -v", "--backend=xray,otlp --otlp-header a=b",
		"-b :2000 -t [::1]:2000", "--receive-buffer 8MiB --drain-timeout 1s", "-l LOUD -f /tmp/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var out, errOut bytes.Buffer
		env := Env{
			Args: strings.Split(line, " "), Version: "v", Stdout: &out, Stderr: &errOut,
			SearchPaths:   []string{},
			TotalRAMBytes: func() (uint64, error) { return testRAM, nil },
			ReadFile: func(p string) ([]byte, error) {
				if strings.HasPrefix(p, "testdata/") && !strings.Contains(p, "..") {
					return os.ReadFile(p)
				}
				return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
			},
			// Pure resolution: no DNS lookups while fuzzing.
			Resolve: func(_, addr string) error { _, _, err := net.SplitHostPort(addr); return err },
		}
		c, action, err := Load(env)
		var ee *ExitError
		switch {
		case err == nil && action == ActionRun:
			if c == nil || c.BufferMemoryMB < MinBufferMemoryMB || len(c.Backend) == 0 {
				t.Fatalf("bad config %+v", c)
			}
		case err == nil:
			if out.Len() == 0 {
				t.Fatal("help/version printed nothing")
			}
		case errors.As(err, &ee) && ee.Code == 2:
			if out.String() != Usage() || errOut.String() != ee.Msg+"\n" {
				t.Fatalf("exit 2 without message and usage: %q %q", out.String(), errOut.String())
			}
		case errors.As(err, &ee) && ee.Code == 1:
			if out.Len() != 0 || errOut.Len() != 0 {
				t.Fatal("exit-1 errors must not be printed by Load")
			}
		default:
			t.Fatalf("unexpected error %#v", err)
		}
	})
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"8388608", "8MiB", "1G", "0", "-1", "1.5M", "99999999999999999999K"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseByteSize(s)
		if err == nil && (n <= 0 || n > maxByteSize) {
			t.Fatalf("parseByteSize(%q) = %d", s, n)
		}
	})
}
