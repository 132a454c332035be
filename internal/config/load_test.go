package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testRAM = 8 << 30 // 8 GiB -> 81 MB of buffers

type outcome struct {
	cfg    *Config
	action Action
	err    error
	stdout string
	stderr string
}

// code is the exit code Load's result maps to (0 for Run/Help/Version).
func (o outcome) code() int {
	var ee *ExitError
	if errors.As(o.err, &ee) {
		return ee.Code
	}
	if o.err != nil {
		return -1
	}
	return 0
}

func (o outcome) msg() string {
	if o.err == nil {
		return ""
	}
	return o.err.Error()
}

func load(t testing.TB, args []string, tweak ...func(*Env)) outcome {
	t.Helper()
	var out, errOut bytes.Buffer
	env := Env{
		Args: args, Version: "3.6.6-test", Stdout: &out, Stderr: &errOut,
		SearchPaths:   []string{},
		TotalRAMBytes: func() (uint64, error) { return testRAM, nil },
	}
	for _, f := range tweak {
		f(&env)
	}
	c, a, err := Load(env)
	return outcome{cfg: c, action: a, err: err, stdout: out.String(), stderr: errOut.String()}
}

// autoFile makes path the only existing auto-discovered file, with content data.
func autoFile(path, data string) func(*Env) {
	return func(e *Env) {
		e.SearchPaths = []string{"/etc/amazon/xray/cfg.yaml", "cfg.yaml"}
		e.FileExists = func(p string) bool { return p == path }
		e.ReadFile = func(p string) ([]byte, error) {
			if p == path {
				return []byte(data), nil
			}
			return os.ReadFile(p)
		}
	}
}

const (
	tailMigration = " Use X-Ray Daemon Config Migration Script to update the config file. Please refer to AWS X-Ray Documentation for more information."
	tailDocs      = " Please refer to AWS X-Ray Documentation for more information."
	msgA          = "Config Version is missing." + tailMigration
	msgB          = "Config Version Setting is not correct." + tailMigration
)

func TestConfigFileErrorsExitOneWithUpstreamMessage(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"missing_version.yaml", msgA},
		{"unknown_before_version.yaml", "Bogus flag is invalid." + tailDocs},
		{"version_3.yaml", msgB},
		{"version_0.yaml", msgB},
		{"empty.yaml", msgB},
		{"version_quoted.yaml", "Error occur when using config flag: yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str `2` into int"},
		{"retired_key.yaml", "Socket.BufferSizeKB flag is not supported any more." + tailDocs},
		{"migration_key.yaml", "Processor.Region flag is not supported." + tailMigration},
		{"migration_toplevel_logrotation.yaml", "LogRotation flag is not supported." + tailMigration},
		{"unknown_key.yaml", "Bogus flag is invalid." + tailDocs},
		{"wrong_case_key.yaml", "region flag is invalid." + tailDocs},
		{"socket_empty.yaml", "Socket flag is invalid." + tailDocs},
		{"unknown_nested.yaml", "Deep.Inner flag is invalid." + tailDocs},
		{"proxyserver_camel.yaml", "ProxyServer.IdleConnTimeout flag is invalid." + tailDocs},
		{"xrayd_unknown_key.yaml", "Xrayd.Bogus flag is invalid." + tailDocs},
		{"bad_yaml.yaml", "Error occur when using config flag: yaml: line 2: mapping values are not allowed in this context"},
		{"type_error.yaml", "Error occur when using config flag: yaml: unmarshal errors:\n  line 2: cannot unmarshal !!str `abc` into int"},
		{"does_not_exist.yaml", "Error occur when using config flag: open testdata/does_not_exist.yaml: no such file or directory"},
		{"xrayd_bad_backend.yaml", `invalid value "kafka" for Xrayd.Backend in the config file: must be xray, local or otlp`},
		{"xrayd_negative_duration.yaml", `invalid value "-5s" for Xrayd.DrainTimeout in the config file: must be greater than zero`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			o := load(t, []string{"-c", "testdata/" + tt.file})
			if o.code() != 1 || o.msg() != tt.want {
				t.Errorf("got exit %d %q\nwant exit 1 %q", o.code(), o.msg(), tt.want)
			}
			if o.stdout != "" || o.stderr != "" {
				t.Errorf("Load printed %q %q; config errors are printed by main", o.stdout, o.stderr)
			}
		})
	}
}

func TestValidConfigFilesLoad(t *testing.T) {
	v1 := Defaults()
	v1.BufferMemoryMB, v1.Region, v1.UDPAddress, v1.LogLevel, v1.LogFile, v1.LocalMode, v1.Version =
		24, "us-east-1", "127.0.0.1:3000", "warn", "/var/log/xray/xray.log", true, 1

	v2 := Defaults()
	v2.BufferMemoryMB, v2.Concurrency, v2.Endpoint, v2.Region = 10, 16, "https://xray.eu-west-1.amazonaws.com", "eu-west-1"
	v2.UDPAddress, v2.TCPAddress = "0.0.0.0:2001", "0.0.0.0:2002"
	v2.LogRotation, v2.LogLevel, v2.LogFile, v2.LocalMode = false, "debug", "/tmp/xray.log", true
	v2.ResourceARN = "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc"
	v2.RoleARN, v2.NoVerifySSL, v2.ProxyAddress, v2.Version = "arn:aws:iam::123456789012:role/xray", true, "http://10.0.0.1:3128", 2

	zero := Defaults()
	zero.BufferMemoryMB, zero.Version = 81, 2

	lower := Defaults()
	lower.BufferMemoryMB, lower.Version = 81, 2

	xd := Defaults()
	xd.BufferMemoryMB, xd.Region, xd.Version = 81, "us-west-2", 1
	xd.Backend, xd.DataDir, xd.LogFormat, xd.SpoolDir, xd.SpoolMaxMB = []string{"xray", "otlp"}, "/var/lib/xrayd", "json", "/var/spool/xrayd", 64
	xd.DrainTimeout, xd.MaxRetryAge, xd.ReceiveBufferBytes = 5*time.Second, 2*time.Minute, 4<<20
	xd.OTLPEndpoint, xd.OTLPProtocol, xd.OTLPHeaders, xd.OTLPInsecure = "https://otel.example.com:4318", "http", map[string]string{"authorization": "Bearer abc"}, true
	xd.Retention, xd.MaxDBSizeMB, xd.AccessKeyID, xd.SecretAccessKey = 24*time.Hour, 256, "AKIDEXAMPLE", "secret"
	xd.SamplingRulesFile, xd.HealthFailureThreshold = "/etc/xrayd/rules.json", 30*time.Second

	list := Defaults()
	list.BufferMemoryMB, list.Version, list.Backend = 81, 2, []string{"local"}

	tests := []struct {
		file string
		want *Config
	}{
		{"valid_v1.yaml", v1},
		{"valid_v2.yaml", v2},
		{"defaults_v2.yaml", zero},
		{"proxyserver_lower.yaml", lower},
		{"xrayd_block.yaml", xd},
		{"xrayd_backend_list.yaml", list},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			o := load(t, []string{"-c", "testdata/" + tt.file})
			if o.err != nil {
				t.Fatalf("unexpected error %v", o.err)
			}
			tt.want.ConfigFile = "testdata/" + tt.file
			if tt.want.OTLPEndpoint == "" {
				tt.want.OTLPEndpoint = DefaultOTLPHTTP
			}
			if !reflect.DeepEqual(o.cfg, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *o.cfg, *tt.want)
			}
		})
	}
}

func TestNoFileGivesBuiltInDefaults(t *testing.T) {
	o := load(t, nil)
	want := Defaults()
	want.BufferMemoryMB, want.OTLPEndpoint = 81, DefaultOTLPHTTP
	if o.err != nil || o.action != ActionRun || !reflect.DeepEqual(o.cfg, want) {
		t.Errorf("got %+v %v %v", o.cfg, o.action, o.err)
	}
}

func TestAutoDiscoveredFile(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		args     []string
		wantCode int
		wantMsg  string
		check    func(*Config) bool
	}{
		{"values become defaults", "Version: 2\nRegion: eu-north-1\n", nil, 0, "",
			func(c *Config) bool { return c.Region == "eu-north-1" && c.ConfigFile == "cfg.yaml" }},
		{"flags win over it", "Version: 2\nRegion: eu-north-1\n", []string{"-n", "us-east-2"}, 0, "",
			func(c *Config) bool { return c.Region == "us-east-2" }},
		{"unknown keys ignored", "Version: 2\nBogus: 1\nProfile:\n  CPU: x\nRegion: r\n", nil, 0, "",
			func(c *Config) bool { return c.Region == "r" }},
		{"missing Version is error B", "Region: r\n", nil, 1, msgB, nil},
		{"broken file fails a normal start", "Version: 2\nRegion: a: b\n", nil, 1,
			"Error occur when using config flag: yaml: line 2: mapping values are not allowed in this context", nil},
		{"-c file replaces it entirely", "Version: 2\nRegion: r\nConcurrency: 3\n", []string{"-c", "testdata/valid_v1.yaml"}, 0, "",
			func(c *Config) bool {
				return c.Region == "us-east-1" && c.Concurrency == 8 && c.ConfigFile == "testdata/valid_v1.yaml"
			}},
		{"-c file replaces a broken one", "Version: 9\n", []string{"-c", "testdata/valid_v1.yaml"}, 0, "",
			func(c *Config) bool { return c.Region == "us-east-1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := load(t, tt.args, autoFile("cfg.yaml", tt.data))
			if o.code() != tt.wantCode || o.msg() != tt.wantMsg {
				t.Fatalf("got exit %d %q, want %d %q", o.code(), o.msg(), tt.wantCode, tt.wantMsg)
			}
			if tt.check != nil && !tt.check(o.cfg) {
				t.Errorf("unexpected config %+v", *o.cfg)
			}
		})
	}
}

func TestFirstExistingSearchPathWins(t *testing.T) {
	files := map[string]string{"cfg.yaml": "Version: 2\nRegion: second\n", "legacy.yaml": "Version: 2\nRegion: third\n"}
	o := load(t, nil, func(e *Env) {
		e.SearchPaths = []string{"/etc/amazon/xray/cfg.yaml", "cfg.yaml", "legacy.yaml"}
		e.FileExists = func(p string) bool { _, ok := files[p]; return ok }
		e.ReadFile = func(p string) ([]byte, error) { return []byte(files[p]), nil }
	})
	if o.err != nil || o.cfg.Region != "second" {
		t.Fatalf("got %v %+v", o.err, o.cfg)
	}
}

// Upstream exits 1 on a broken auto-discovered file even for -h and -v; xrayd fixes
// that on purpose.
func TestBrokenAutoDiscoveredFileDoesNotBreakHelpOrVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-v"}, {"--version"}} {
		o := load(t, args, autoFile("cfg.yaml", "Version: 2\nRegion: a: b\n"))
		if o.err != nil || o.action == ActionRun {
			t.Errorf("%v: got %v %v", args, o.action, o.err)
		}
	}
}

func TestConfigErrorCarriesKnownLogFile(t *testing.T) {
	tests := []struct {
		name string
		args []string
		auto string
		want string
	}{
		{"-f flag", []string{"-f", "/tmp/x.log", "-c", "testdata/unknown_key.yaml"}, "", "/tmp/x.log"},
		{"auto file LogPath", []string{"-c", "testdata/unknown_key.yaml"}, "Version: 2\nLogging:\n  LogPath: /var/log/a.log\n", "/var/log/a.log"},
		{"memory error after -c", []string{"-c", "testdata/valid_v2.yaml", "-m", "1"}, "", "/tmp/xray.log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tweaks []func(*Env)
			if tt.auto != "" {
				tweaks = append(tweaks, autoFile("cfg.yaml", tt.auto))
			}
			o := load(t, tt.args, tweaks...)
			var ee *ExitError
			if !errors.As(o.err, &ee) || ee.LogFile != tt.want {
				t.Errorf("got %#v, want LogFile %q", o.err, tt.want)
			}
		})
	}
}

func TestBufferMemory(t *testing.T) {
	const notEnough = "Not enough Buffers Memory Allocated. Min Buffers Memory required: 3 MB."
	tests := []struct {
		name     string
		args     []string
		ram      uint64
		ramErr   error
		want     int
		wantCode int
		wantMsg  string
	}{
		{"flag", []string{"-m", "16"}, testRAM, nil, 16, 0, ""},
		{"file", []string{"-c", "testdata/valid_v1.yaml"}, testRAM, nil, 24, 0, ""},
		{"flag over file", []string{"-c", "testdata/valid_v1.yaml", "-m", "5"}, testRAM, nil, 5, 0, ""},
		{"explicit zero flag means auto even over file", []string{"-c", "testdata/valid_v1.yaml", "-m", "0"}, testRAM, nil, 81, 0, ""},
		{"one percent of RAM floored", nil, 1000 << 20, nil, 10, 0, ""},
		{"negative means auto", []string{"-m", "-4"}, 512 << 20, nil, 5, 0, ""},
		{"minimum three", []string{"-m", "3"}, testRAM, nil, 3, 0, ""},
		{"below three by flag", []string{"-m", "2"}, testRAM, nil, 0, 1, notEnough},
		{"below three by RAM", nil, 299 << 20, nil, 0, 1, notEnough},
		{"RAM unknown", nil, 0, errors.New("no sysinfo"), 0, 1,
			"Cannot read the total physical memory (no sysinfo). Set the buffer memory with -m."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := load(t, tt.args, func(e *Env) {
				e.TotalRAMBytes = func() (uint64, error) { return tt.ram, tt.ramErr }
			})
			if o.code() != tt.wantCode || o.msg() != tt.wantMsg {
				t.Fatalf("got exit %d %q", o.code(), o.msg())
			}
			if tt.wantCode == 0 && o.cfg.BufferMemoryMB != tt.want {
				t.Errorf("got %d MB, want %d", o.cfg.BufferMemoryMB, tt.want)
			}
		})
	}
}

func TestListenAddresses(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{"host and port", []string{"-b", "127.0.0.1:2500", "-t", "0.0.0.0:2600"}, ""},
		{"port only", []string{"-b", ":2500", "-t", ":2600"}, ""},
		{"IPv6", []string{"-b", "[::1]:2000", "-t", "[::]:2000"}, ""},
		{"bare UDP port", []string{"-b", "2000"}, "address 2000: missing port in address"},
		{"bare TCP port", []string{"-t", "2000"}, "address 2000: missing port in address"},
		{"bad UDP port", []string{"-b", "127.0.0.1:99999"}, "address 99999: invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := load(t, tt.args)
			wantCode := 0
			if tt.wantMsg != "" {
				wantCode = 1
			}
			if o.code() != wantCode || o.msg() != tt.wantMsg {
				t.Errorf("got exit %d %q, want %d %q", o.code(), o.msg(), wantCode, tt.wantMsg)
			}
		})
	}
}

func TestFatalChecksRunInUpstreamOrder(t *testing.T) {
	// UDP address before memory before TCP address.
	o := load(t, []string{"-b", "1", "-m", "1", "-t", "2"})
	if o.msg() != "address 1: missing port in address" {
		t.Errorf("got %q", o.msg())
	}
	o = load(t, []string{"-m", "1", "-t", "2"})
	if !strings.HasPrefix(o.msg(), "Not enough Buffers") {
		t.Errorf("got %q", o.msg())
	}
}

func TestLogLevelPrecedence(t *testing.T) {
	tests := []struct {
		name      string
		fileLevel string // "" = no file
		args      []string
		want      string
	}{
		{"default is prod", "", nil, "prod"},
		{"known flag", "", []string{"-l", "dev"}, "dev"},
		{"unknown flag falls back to default", "", []string{"-l", "verbose"}, "prod"},
		{"file level", "warn", nil, "warn"},
		{"flag beats file", "warn", []string{"-l", "error"}, "error"},
		{"flag equal to file", "warn", []string{"-l", "warn"}, "warn"},
		{"unknown flag falls back to file", "warn", []string{"--log-level=LOUD"}, "warn"},
		{"unknown file level means dev", "verbose", nil, "dev"},
		{"known flag beats unknown file", "verbose", []string{"-l", "info"}, "info"},
		{"unknown flag and unknown file", "verbose", []string{"-l", "x"}, "dev"},
		{"levels are case-sensitive", "", []string{"-l", "DEBUG"}, "prod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tweaks []func(*Env)
			if tt.fileLevel != "" {
				tweaks = append(tweaks, autoFile("cfg.yaml", "Version: 2\nLogging:\n  LogLevel: "+tt.fileLevel+"\n"))
			}
			o := load(t, tt.args, tweaks...)
			if o.err != nil || o.cfg.LogLevel != tt.want {
				t.Errorf("got %v %+v, want %s", o.err, o.cfg, tt.want)
			}
		})
	}
}

func TestLogLevelFromCFileUnknownMeansDev(t *testing.T) {
	o := load(t, []string{"-c", "testdata/unknown_level.yaml"})
	if o.err != nil || o.cfg.LogLevel != "dev" {
		t.Fatalf("got %v %+v", o.err, o.cfg)
	}
}

func TestMissingCFileWithLogFileInDirectory(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cfg.yaml")
	os.WriteFile(p, []byte("Version: 2\nRegion: from-c\n"), 0o644)
	o := load(t, []string{"--config=" + p})
	if o.err != nil || o.cfg.Region != "from-c" || o.cfg.ConfigFile != p {
		t.Fatalf("got %v %+v", o.err, o.cfg)
	}
}
