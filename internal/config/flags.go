package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// usageText is upstream's usage, byte for byte (daemon.md §2.3), then xrayd's own flags.
const usageText = "Usage: X-Ray [options]\n" +
	"\t-a\t--resource-arn\tAmazon Resource Name (ARN) of the AWS resource running the daemon.\n" +
	"\t-o\t--local-mode\tDon't check for EC2 instance metadata.\n" +
	"\t-m\t--buffer-memory\tChange the amount of memory in MB that buffers can use (minimum 3).\n" +
	"\t-n\t--region\tSend segments to X-Ray service in a specific region.\n" +
	"\t-b\t--bind\t\tOverrides default UDP address (127.0.0.1:2000).\n" +
	"\t-t\t--bind-tcp\tOverrides default TCP address (127.0.0.1:2000).\n" +
	"\t-r\t--role-arn\tAssume the specified IAM role to upload segments to a different account.\n" +
	"\t-c\t--config\tLoad a configuration file from the specified path.\n" +
	"\t-f\t--log-file\tOutput logs to the specified file path.\n" +
	"\t-l\t--log-level\tLog level, from most verbose to least: dev, debug, info, warn, error, prod (default).\n" +
	"\t-p\t--proxy-address\tProxy address through which to upload segments.\n" +
	"\t-v\t--version\tShow AWS X-Ray daemon version.\n" +
	"\t-h\t--help\t\tShow this screen\n" +
	"\n" +
	"xrayd options:\n" +
	"\t--backend\tWhere segments go: xray (default), local, otlp; comma-separated for several.\n" +
	"\t--data-dir\tDirectory of the local backend's database (default ./xray-data).\n" +
	"\t--log-format\tLog line format: text (default) or json.\n" +
	"\t--spool-dir\tDirectory where segments wait on disk while a backend fails (default off).\n" +
	"\t--spool-max-mb\tMaximum size of the spool in MB (default 512).\n" +
	"\t--drain-timeout\tHow long shutdown may take to send what is buffered (default 25s).\n" +
	"\t--max-retry-age\tHow long a segment may wait for a failing backend (default 10m).\n" +
	"\t--receive-buffer\tUDP socket receive buffer in bytes, e.g. 8388608 or 8MiB (default 8MiB).\n" +
	"\t--otlp-endpoint\tOTLP endpoint URL (default http://localhost:4318, grpc :4317).\n" +
	"\t--otlp-protocol\tOTLP protocol: http (default) or grpc.\n" +
	"\t--otlp-header\tExtra OTLP request header as key=value; repeat for several.\n" +
	"\t--otlp-insecure\tUse plain-text gRPC / skip TLS verification for OTLP.\n" +
	"\t--retention\tHow long the local backend keeps traces (default 72h).\n" +
	"\t--max-db-size-mb\tMaximum size of the local backend's database in MB (default 1024).\n" +
	"\t--sampling-rules\tJSON sampling rules file for the local backend.\n"

// Usage returns the usage text printed by -h and after flag errors.
func Usage() string { return usageText }

// cliState holds the flags that are not Config fields.
type cliState struct {
	configPath string
	version    bool
}

// newFlagSet binds every flag to c's fields, so the current values of c are the
// defaults: that is how upstream makes a config file's values the flag defaults.
// Short and long names share one variable, so the last occurrence wins.
func newFlagSet(c *Config, st *cliState) *flag.FlagSet {
	fs := flag.NewFlagSet("xray", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Load prints the error line and usage itself
	fs.Usage = func() {}
	str := func(p *string, short, long string) {
		fs.StringVar(p, short, *p, "")
		fs.StringVar(p, long, *p, "")
	}
	str(&c.ResourceARN, "a", "resource-arn")
	fs.BoolVar(&c.LocalMode, "o", c.LocalMode, "")
	fs.BoolVar(&c.LocalMode, "local-mode", c.LocalMode, "")
	fs.IntVar(&c.BufferMemoryMB, "m", c.BufferMemoryMB, "")
	fs.IntVar(&c.BufferMemoryMB, "buffer-memory", c.BufferMemoryMB, "")
	str(&c.Region, "n", "region")
	str(&c.UDPAddress, "b", "bind")
	str(&c.TCPAddress, "t", "bind-tcp")
	str(&c.RoleARN, "r", "role-arn")
	str(&st.configPath, "c", "config")
	str(&c.LogFile, "f", "log-file")
	str(&c.LogLevel, "l", "log-level")
	str(&c.ProxyAddress, "p", "proxy-address")
	fs.BoolVar(&st.version, "v", false, "")
	fs.BoolVar(&st.version, "version", false, "")
	// -h/--help are deliberately not defined: the flag package then returns ErrHelp
	// the moment it meets them, which is upstream's behaviour (`-v -h` prints usage).

	fs.Var((*backendValue)(&c.Backend), "backend", "")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "")
	fs.Var(&choiceValue{p: &c.LogFormat, choices: []string{"text", "json"}}, "log-format", "")
	fs.StringVar(&c.SpoolDir, "spool-dir", c.SpoolDir, "")
	fs.Var((*positiveInt)(&c.SpoolMaxMB), "spool-max-mb", "")
	fs.Var((*positiveDuration)(&c.DrainTimeout), "drain-timeout", "")
	fs.Var((*positiveDuration)(&c.MaxRetryAge), "max-retry-age", "")
	fs.Var((*byteSizeValue)(&c.ReceiveBufferBytes), "receive-buffer", "")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", c.OTLPEndpoint, "")
	fs.Var(&choiceValue{p: &c.OTLPProtocol, choices: []string{"http", "grpc"}}, "otlp-protocol", "")
	fs.Var((*headerValue)(&c.OTLPHeaders), "otlp-header", "")
	fs.BoolVar(&c.OTLPInsecure, "otlp-insecure", c.OTLPInsecure, "")
	fs.Var((*positiveDuration)(&c.Retention), "retention", "")
	fs.Var((*positiveInt)(&c.MaxDBSizeMB), "max-db-size-mb", "")
	fs.StringVar(&c.SamplingRulesFile, "sampling-rules", c.SamplingRulesFile, "")
	return fs
}

var errNotPositive = errors.New("must be greater than zero")

// backendValue is --backend: a comma-separated list; a repeated flag replaces it.
type backendValue []string

func (b *backendValue) String() string {
	if b == nil {
		return ""
	}
	return strings.Join(*b, ",")
}

func (b *backendValue) Set(s string) error {
	v, err := parseBackends(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

func parseBackends(s string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if err := oneOf(name, "xray", "local", "otlp"); err != nil {
			return nil, err
		}
		for _, seen := range out {
			if seen == name {
				return nil, fmt.Errorf("%s is listed twice", name)
			}
		}
		out = append(out, name)
	}
	return out, nil
}

func oneOf(s string, choices ...string) error {
	for _, c := range choices {
		if s == c {
			return nil
		}
	}
	last := len(choices) - 1
	if last == 0 {
		return fmt.Errorf("must be %s", choices[0])
	}
	return fmt.Errorf("must be %s or %s", strings.Join(choices[:last], ", "), choices[last])
}

type choiceValue struct {
	p       *string
	choices []string
}

func (c *choiceValue) String() string {
	if c == nil || c.p == nil {
		return ""
	}
	return *c.p
}

func (c *choiceValue) Set(s string) error {
	if err := oneOf(s, c.choices...); err != nil {
		return err
	}
	*c.p = s
	return nil
}

type positiveInt int

func (p *positiveInt) String() string {
	if p == nil {
		return "0"
	}
	return strconv.Itoa(int(*p))
}

func (p *positiveInt) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return errors.New("parse error")
	}
	if v <= 0 {
		return errNotPositive
	}
	*p = positiveInt(v)
	return nil
}

type positiveDuration time.Duration

func (d *positiveDuration) String() string {
	if d == nil {
		return "0s"
	}
	return time.Duration(*d).String()
}

func (d *positiveDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("parse error: use a duration such as 30s, 10m or 72h")
	}
	if v <= 0 {
		return errNotPositive
	}
	*d = positiveDuration(v)
	return nil
}

type byteSizeValue int

func (b *byteSizeValue) String() string {
	if b == nil {
		return "0"
	}
	return strconv.Itoa(int(*b))
}

func (b *byteSizeValue) Set(s string) error {
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSizeValue(v)
	return nil
}

// maxByteSize caps sizes so they fit an int on every platform and stay sane.
const maxByteSize = 1 << 30

// parseByteSize reads a positive byte count: digits, optionally followed by a binary
// suffix K/KiB, M/MiB or G/GiB.
func parseByteSize(s string) (int, error) {
	num := strings.TrimRight(s, "KMGiB")
	suffix := s[len(num):]
	mult := map[string]int64{"": 1, "K": 1 << 10, "KiB": 1 << 10, "M": 1 << 20, "MiB": 1 << 20, "G": 1 << 30, "GiB": 1 << 30}[suffix]
	if mult == 0 {
		return 0, fmt.Errorf("unknown unit %q: use bytes or K/KiB, M/MiB, G/GiB", suffix)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, errors.New("parse error: use a byte count such as 8388608 or 8MiB")
	}
	if n <= 0 {
		return 0, errNotPositive
	}
	if n > maxByteSize/mult {
		return 0, fmt.Errorf("must be at most %d bytes (1GiB)", maxByteSize)
	}
	return int(n * mult), nil
}

// headerValue is --otlp-header key=value, repeatable; it adds to (and overrides keys
// of) the headers from the config file.
type headerValue map[string]string

func (h *headerValue) String() string {
	if h == nil || *h == nil {
		return ""
	}
	var parts []string
	for k, v := range *h {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (h *headerValue) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return errors.New("must be key=value")
	}
	if *h == nil {
		*h = map[string]string{}
	}
	(*h)[k] = v
	return nil
}
