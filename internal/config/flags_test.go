package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// upstreamUsage is daemon.md §2.3, written out independently of usageText.
const upstreamUsage = `Usage: X-Ray [options]
	-a	--resource-arn	Amazon Resource Name (ARN) of the AWS resource running the daemon.
	-o	--local-mode	Don't check for EC2 instance metadata.
	-m	--buffer-memory	Change the amount of memory in MB that buffers can use (minimum 3).
	-n	--region	Send segments to X-Ray service in a specific region.
	-b	--bind		Overrides default UDP address (127.0.0.1:2000).
	-t	--bind-tcp	Overrides default TCP address (127.0.0.1:2000).
	-r	--role-arn	Assume the specified IAM role to upload segments to a different account.
	-c	--config	Load a configuration file from the specified path.
	-f	--log-file	Output logs to the specified file path.
	-l	--log-level	Log level, from most verbose to least: dev, debug, info, warn, error, prod (default).
	-p	--proxy-address	Proxy address through which to upload segments.
	-v	--version	Show AWS X-Ray daemon version.
	-h	--help		Show this screen
`

func TestUsageStartsWithUpstreamTextByteForByte(t *testing.T) {
	if !strings.HasPrefix(Usage(), upstreamUsage) {
		t.Fatalf("usage differs from upstream:\n%q", Usage())
	}
	for _, f := range []string{"--backend", "--data-dir", "--log-format", "--spool-dir", "--spool-max-mb",
		"--drain-timeout", "--max-retry-age", "--receive-buffer", "--otlp-endpoint", "--otlp-protocol",
		"--otlp-header", "--otlp-insecure", "--retention", "--max-db-size-mb", "--sampling-rules"} {
		if !strings.Contains(Usage(), "\t"+f+"\t") {
			t.Errorf("usage does not list %s", f)
		}
	}
}

// dashForms lists every spelling upstream accepts for a value flag.
func dashForms(short, long, value string) [][]string {
	var out [][]string
	for _, name := range []string{short, long} {
		for _, dash := range []string{"-", "--"} {
			out = append(out, []string{dash + name, value}, []string{dash + name + "=" + value})
		}
	}
	return out
}

func TestEveryUpstreamFlagInEveryForm(t *testing.T) {
	tests := []struct {
		short, long, value string
		get                func(*Config) string
	}{
		{"a", "resource-arn", "arn:aws:x", func(c *Config) string { return c.ResourceARN }},
		{"m", "buffer-memory", "7", func(c *Config) string { return fmt.Sprint(c.BufferMemoryMB) }},
		{"n", "region", "ap-south-1", func(c *Config) string { return c.Region }},
		{"b", "bind", "127.0.0.1:3000", func(c *Config) string { return c.UDPAddress }},
		{"t", "bind-tcp", "0.0.0.0:3001", func(c *Config) string { return c.TCPAddress }},
		{"r", "role-arn", "arn:aws:iam::1:role/r", func(c *Config) string { return c.RoleARN }},
		{"c", "config", "testdata/valid_v1.yaml", func(c *Config) string { return c.ConfigFile }},
		{"f", "log-file", "/tmp/x.log", func(c *Config) string { return c.LogFile }},
		{"l", "log-level", "debug", func(c *Config) string { return c.LogLevel }},
		{"p", "proxy-address", "http://10.0.0.1:3128", func(c *Config) string { return c.ProxyAddress }},
	}
	for _, tt := range tests {
		for _, args := range dashForms(tt.short, tt.long, tt.value) {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				o := load(t, args)
				if o.err != nil {
					t.Fatal(o.err)
				}
				if got := tt.get(o.cfg); got != tt.value {
					t.Errorf("got %q, want %q", got, tt.value)
				}
			})
		}
	}
}

func TestBooleanFlagForms(t *testing.T) {
	tests := []struct {
		args []string
		file bool // start from a file with LocalMode: true
		want bool
	}{
		{[]string{"-o"}, false, true},
		{[]string{"--o"}, false, true},
		{[]string{"-local-mode"}, false, true},
		{[]string{"--local-mode"}, false, true},
		{[]string{"-o=true"}, false, true},
		{[]string{"--local-mode=1"}, false, true},
		{[]string{"-o=false"}, true, false},
		{[]string{"--local-mode=false"}, true, false},
		{nil, true, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := tt.args
			if tt.file {
				args = append([]string{"-c", "testdata/valid_v1.yaml"}, args...)
			}
			o := load(t, args)
			if o.err != nil || o.cfg.LocalMode != tt.want {
				t.Errorf("got %v %+v", o.err, o.cfg)
			}
		})
	}
}

func TestFlagParsingQuirks(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(*Config) bool
	}{
		{"-o false sets -o and ends parsing", []string{"-o", "false", "-n", "eu-west-3"},
			func(c *Config) bool { return c.LocalMode && c.Region == "" }},
		{"last occurrence wins across short and long", []string{"-n", "a", "--region", "b"},
			func(c *Config) bool { return c.Region == "b" }},
		{"first non-flag stops parsing, -v ignored", []string{"foo", "-v"},
			func(c *Config) bool { return true }},
		{"double dash stops parsing", []string{"-n", "a", "--", "-n", "b"},
			func(c *Config) bool { return c.Region == "a" }},
		{"flag beats -c file whatever the order", []string{"-n", "x", "-c", "testdata/valid_v1.yaml"},
			func(c *Config) bool { return c.Region == "x" && c.BufferMemoryMB == 24 }},
		{"empty -c means no file", []string{"-c", ""},
			func(c *Config) bool { return c.ConfigFile == "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := load(t, tt.args)
			if o.err != nil || o.action != ActionRun || !tt.check(o.cfg) {
				t.Errorf("got %v %v %+v", o.action, o.err, o.cfg)
			}
		})
	}
}

func TestFlagSyntaxErrorsExitTwoWithUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"---v"}, "bad flag syntax: ---v"},
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--bogus=1"}, "flag provided but not defined: -bogus"},
		{[]string{"-m"}, "flag needs an argument: -m"},
		{[]string{"--region"}, "flag needs an argument: -region"},
		{[]string{"-m", "abc"}, `invalid value "abc" for flag -m: parse error`},
		{[]string{"--buffer-memory=1.5"}, `invalid value "1.5" for flag -buffer-memory: parse error`},
		{[]string{"-o=maybe"}, `invalid boolean value "maybe" for -o: parse error`},
		{[]string{"-c", "testdata/unknown_key.yaml", "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--backend=foo"}, `invalid value "foo" for flag -backend: must be xray, local or otlp`},
		{[]string{"-backend", "xray,,otlp"}, `invalid value "xray,,otlp" for flag -backend: must be xray, local or otlp`},
		{[]string{"--backend", "xray,xray"}, `invalid value "xray,xray" for flag -backend: xray is listed twice`},
		{[]string{"--log-format", "xml"}, `invalid value "xml" for flag -log-format: must be text or json`},
		{[]string{"--otlp-protocol", "udp"}, `invalid value "udp" for flag -otlp-protocol: must be http or grpc`},
		{[]string{"--otlp-header", "novalue"}, `invalid value "novalue" for flag -otlp-header: must be key=value`},
		{[]string{"--otlp-header", "=v"}, `invalid value "=v" for flag -otlp-header: must be key=value`},
		{[]string{"--spool-max-mb", "0"}, `invalid value "0" for flag -spool-max-mb: must be greater than zero`},
		{[]string{"--max-db-size-mb", "x"}, `invalid value "x" for flag -max-db-size-mb: parse error`},
		{[]string{"--drain-timeout", "5"}, `invalid value "5" for flag -drain-timeout: parse error: use a duration such as 30s, 10m or 72h`},
		{[]string{"--retention", "-1h"}, `invalid value "-1h" for flag -retention: must be greater than zero`},
		{[]string{"--receive-buffer", "8MB"}, `invalid value "8MB" for flag -receive-buffer: unknown unit "MB": use bytes or K/KiB, M/MiB, G/GiB`},
		{[]string{"--receive-buffer", "2GiB"}, `invalid value "2GiB" for flag -receive-buffer: must be at most 1073741824 bytes (1GiB)`},
		{[]string{"--receive-buffer", "0"}, `invalid value "0" for flag -receive-buffer: must be greater than zero`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o := load(t, tt.args)
			if o.code() != 2 || o.msg() != tt.want {
				t.Fatalf("got exit %d %q, want 2 %q", o.code(), o.msg(), tt.want)
			}
			if o.stderr != tt.want+"\n" || o.stdout != Usage() {
				t.Errorf("stderr %q stdout %q", o.stderr, o.stdout)
			}
			if ee := o.err.(*ExitError); !ee.Reported {
				t.Error("flag errors are reported by Load")
			}
		})
	}
}

func TestHelpPrintsUsageAndExitsZero(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"-h=true"}, {"-v", "-h"},
		{"-n", "x", "--h"}, {"-c", "testdata/unknown_key.yaml", "-h"}, {"-c", "testdata/does_not_exist.yaml", "-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			o := load(t, args)
			if o.err != nil || o.action != ActionHelp || o.stdout != Usage() || o.stderr != "" {
				t.Errorf("got %v %v stdout %q stderr %q", o.action, o.err, o.stdout, o.stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{[]string{"-v"}, 0, "AWS X-Ray daemon version: 3.6.6-test\n"},
		{[]string{"--version"}, 0, "AWS X-Ray daemon version: 3.6.6-test\n"},
		{[]string{"-version=true"}, 0, "AWS X-Ray daemon version: 3.6.6-test\n"},
		{[]string{"-v", "-c", "testdata/valid_v2.yaml"}, 0, "AWS X-Ray daemon version: 3.6.6-test\n"},
		{[]string{"-v", "-m", "1"}, 0, "AWS X-Ray daemon version: 3.6.6-test\n"}, // run checks come after -v
		{[]string{"-v", "-c", "testdata/unknown_key.yaml"}, 1, ""},               // an invalid -c file wins
		{[]string{"-v=false"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o := load(t, tt.args)
			if o.code() != tt.wantCode || o.stdout != tt.wantOut {
				t.Errorf("got exit %d %q stdout %q", o.code(), o.msg(), o.stdout)
			}
			if tt.wantOut != "" && o.action != ActionVersion {
				t.Errorf("action %v", o.action)
			}
		})
	}
}

func TestXraydFlags(t *testing.T) {
	o := load(t, []string{
		"--backend", "local,otlp", "--data-dir", "/d", "--log-format", "json", "--spool-dir", "/s",
		"--spool-max-mb", "10", "--drain-timeout", "3s", "--max-retry-age", "1m", "--receive-buffer", "1MiB",
		"--otlp-endpoint", "http://c:4317", "--otlp-protocol", "grpc", "--otlp-header", "a=1",
		"--otlp-header=b=x=y", "--otlp-insecure", "--retention", "1h", "--max-db-size-mb", "5",
		"--sampling-rules", "/r.json",
	})
	if o.err != nil {
		t.Fatal(o.err)
	}
	c := o.cfg
	got := []any{c.Backend, c.DataDir, c.LogFormat, c.SpoolDir, c.SpoolMaxMB, c.DrainTimeout, c.MaxRetryAge,
		c.ReceiveBufferBytes, c.OTLPEndpoint, c.OTLPProtocol, c.OTLPHeaders, c.OTLPInsecure, c.Retention,
		c.MaxDBSizeMB, c.SamplingRulesFile}
	want := []any{[]string{"local", "otlp"}, "/d", "json", "/s", 10, 3 * time.Second, time.Minute,
		1 << 20, "http://c:4317", "grpc", map[string]string{"a": "1", "b": "x=y"}, true, time.Hour,
		5, "/r.json"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if !c.HasBackend("otlp") || c.HasBackend("xray") {
		t.Errorf("HasBackend wrong for %v", c.Backend)
	}
}

func TestXraydFlagsOverrideFileAndMergeHeaders(t *testing.T) {
	o := load(t, []string{"-c", "testdata/xrayd_block.yaml", "--backend", "xray", "--otlp-header", "x=1",
		"--otlp-header", "authorization=Basic z", "--receive-buffer", "65536"})
	if o.err != nil {
		t.Fatal(o.err)
	}
	c := o.cfg
	if !reflect.DeepEqual(c.Backend, []string{"xray"}) || c.ReceiveBufferBytes != 65536 || c.DataDir != "/var/lib/xrayd" ||
		!reflect.DeepEqual(c.OTLPHeaders, map[string]string{"authorization": "Basic z", "x": "1"}) {
		t.Errorf("got %+v", *c)
	}
}

func TestOTLPEndpointDefaultFollowsProtocol(t *testing.T) {
	for proto, want := range map[string]string{"http": DefaultOTLPHTTP, "grpc": DefaultOTLPGRPC} {
		o := load(t, []string{"--otlp-protocol", proto})
		if o.err != nil || o.cfg.OTLPEndpoint != want {
			t.Errorf("%s: got %v %+v", proto, o.err, o.cfg)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"8388608", 8 << 20, true}, {"8MiB", 8 << 20, true}, {"8M", 8 << 20, true}, {"64K", 64 << 10, true},
		{"64KiB", 64 << 10, true}, {"1G", 1 << 30, true}, {"1GiB", 1 << 30, true},
		{"", 0, false}, {"MiB", 0, false}, {"-1", 0, false}, {"0", 0, false}, {"1.5M", 0, false},
		{"8MB", 0, false}, {"8 MiB", 0, false}, {"99999999999999999999", 0, false}, {"1025M", 0, false},
	}
	for _, tt := range tests {
		got, err := parseByteSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseByteSize(%q) = %d, %v", tt.in, got, err)
		}
	}
}
