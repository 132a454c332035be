// Package config turns the command line and the cfg.yaml file into one validated
// Config, following the upstream X-Ray daemon's start-up order, precedence, messages
// and exit codes (daemon.md §2–§5). It reads the config file and nothing else: no
// printing except usage/version/flag errors to the injected writers, no os.Exit.
package config

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// Config is the resolved configuration of one daemon run.
type Config struct {
	// Upstream settings (daemon.md §2.2, §3.2).

	ResourceARN    string
	LocalMode      bool
	BufferMemoryMB int // resolved: -m/TotalBufferSizeMB if > 0, else 1 % of RAM; always >= 3
	Region         string
	UDPAddress     string
	TCPAddress     string
	RoleARN        string
	LogFile        string
	LogLevel       string // resolved: dev, debug, info, warn, error or prod
	ProxyAddress   string
	Concurrency    int // 8 by default; negative is kept (upstream: no uploaders at all)
	Endpoint       string
	NoVerifySSL    bool
	LogRotation    bool
	Version        int    // the file's Version (1 or 2); 0 when no file was loaded
	ConfigFile     string // the file actually loaded, "" if none

	// xrayd additions: flags, and the `Xrayd:` mapping of cfg.yaml (keys Xrayd.<Field>).

	Backend                []string // some of "xray", "local", "otlp"; never empty
	DataDir                string
	LogFormat              string // "text" or "json"
	SpoolDir               string // "" disables the spool
	SpoolMaxMB             int
	DrainTimeout           time.Duration
	MaxRetryAge            time.Duration // how long a segment may wait for a failing backend
	ReceiveBufferBytes     int           // SO_RCVBUF requested for the UDP socket
	OTLPEndpoint           string        // resolved: defaults to http://localhost:4318 (http) or :4317 (grpc)
	OTLPProtocol           string        // "http" or "grpc"
	OTLPHeaders            map[string]string
	OTLPInsecure           bool
	Retention              time.Duration // local backend
	MaxDBSizeMB            int           // local backend
	AccessKeyID            string        // config file only: the local backend verifies SigV4 when set
	SecretAccessKey        string        // config file only
	SamplingRulesFile      string        // local backend JSON rules file
	HealthFailureThreshold time.Duration // config file only
}

// HasBackend reports whether name is one of the configured backends.
func (c *Config) HasBackend(name string) bool { return slices.Contains(c.Backend, name) }

// Built-in defaults.
const (
	DefaultAddress       = "127.0.0.1:2000"
	DefaultConcurrency   = 8
	DefaultLogLevel      = "prod"
	DefaultDataDir       = "./xray-data"
	DefaultSpoolMaxMB    = 512
	DefaultDrainTimeout  = 25 * time.Second
	DefaultMaxRetryAge   = 10 * time.Minute
	DefaultReceiveBuffer = 8 << 20
	DefaultRetention     = 72 * time.Hour
	DefaultMaxDBSizeMB   = 1024
	DefaultHealthFailure = 60 * time.Second
	DefaultOTLPHTTP      = "http://localhost:4318"
	DefaultOTLPGRPC      = "http://localhost:4317"
	MinBufferMemoryMB    = 3
)

// Defaults returns the configuration used when there is no file and no flag.
func Defaults() *Config {
	return &Config{
		UDPAddress:             DefaultAddress,
		TCPAddress:             DefaultAddress,
		LogLevel:               DefaultLogLevel,
		Concurrency:            DefaultConcurrency,
		LogRotation:            true,
		Backend:                []string{"xray"},
		DataDir:                DefaultDataDir,
		LogFormat:              "text",
		SpoolMaxMB:             DefaultSpoolMaxMB,
		DrainTimeout:           DefaultDrainTimeout,
		MaxRetryAge:            DefaultMaxRetryAge,
		ReceiveBufferBytes:     DefaultReceiveBuffer,
		OTLPProtocol:           "http",
		OTLPHeaders:            map[string]string{},
		Retention:              DefaultRetention,
		MaxDBSizeMB:            DefaultMaxDBSizeMB,
		HealthFailureThreshold: DefaultHealthFailure,
	}
}

// Action tells cmd/xray what to do after Load.
type Action int

const (
	// ActionRun means start the daemon with the returned Config.
	ActionRun Action = iota
	// ActionHelp means the usage text was printed; exit 0.
	ActionHelp
	// ActionVersion means the version line was printed; exit 0.
	ActionVersion
)

// ExitError is a start-up failure together with upstream's exit code.
//
// Code 1 (config file, memory, addresses): Msg is upstream's exact message; Load has
// printed nothing, cmd/xray logs `<time> [Error] <Msg>` to stderr and appends it to
// LogFile when set. Code 2 (flag syntax or value): Load already printed Msg on stderr
// and the usage on stdout (Reported is true); cmd/xray only exits.
type ExitError struct {
	Code     int
	Msg      string
	LogFile  string // the log file known when the error happened (-f, or LogPath of the file read)
	Reported bool
}

func (e *ExitError) Error() string { return e.Msg }

func exitf(code int, format string, args ...any) *ExitError {
	return &ExitError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Env is everything Load reads from the outside world, injected for tests. Nil
// functions fall back to the real system.
type Env struct {
	Args          []string // command-line arguments without the program name
	Version       string   // printed by -v
	Stdout        io.Writer
	Stderr        io.Writer
	FileExists    func(path string) bool
	ReadFile      func(path string) ([]byte, error)
	TotalRAMBytes func() (uint64, error)
	// SearchPaths are the auto-discovered config locations, first existing wins;
	// nil means DefaultSearchPaths.
	SearchPaths []string
	// Resolve checks a listen address ("udp" or "tcp"); nil uses net.ResolveUDPAddr
	// and net.ResolveTCPAddr.
	Resolve func(network, address string) error
}

// DefaultSearchPaths are upstream's auto-discovered config locations (daemon.md §3.1).
func DefaultSearchPaths() []string {
	return []string{"/etc/amazon/xray/cfg.yaml", "cfg.yaml", "github.com/aws/aws-xray-daemon/pkg/cfg.yaml"}
}
