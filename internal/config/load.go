package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/xrayd/xrayd/internal/logging"
)

// Load runs upstream's start-up order (daemon.md §2.1): read the auto-discovered
// config file, parse the flags with its values as defaults, and when -c is given
// validate and read that file instead and parse the flags again on top of it; then
// handle -v, then resolve and check what a run needs (UDP address, buffer memory, TCP
// address, log level).
//
// Deliberate fix of an upstream weakness: upstream reads the auto-discovered file
// before anything else, so a broken ./cfg.yaml makes even -h and -v exit 1. Here its
// error is held back: -h and -v still print and exit 0, a -c file replaces it
// entirely, and only a normal start fails with it (exit 1, same message).
//
// Errors are *ExitError.
func Load(env Env) (*Config, Action, error) {
	env.fillDefaults()

	autoPath, autoCfg, autoErr := env.discover()
	base := autoCfg
	if autoErr != nil {
		base = Defaults()
	}
	c, st, err := env.parseFlags(base)
	if err != nil {
		act, err := helpOr(err)
		return nil, act, err
	}
	c.ConfigFile = autoPath
	fileLevel := base.LogLevel

	if st.configPath != "" {
		fileCfg, ferr := env.loadFile(st.configPath, true)
		if ferr != nil {
			ferr.LogFile = c.LogFile
			return nil, ActionRun, ferr
		}
		// The first parse succeeded, so this one cannot fail.
		if c, st, err = env.parseFlags(fileCfg); err != nil {
			act, err := helpOr(err)
			return nil, act, err
		}
		c.ConfigFile = st.configPath
		fileLevel = fileCfg.LogLevel
		autoErr = nil // a -c file replaces the auto-discovered one
	}

	if st.version {
		fmt.Fprintf(env.Stdout, "AWS X-Ray daemon version: %s\n", env.Version)
		return nil, ActionVersion, nil
	}
	if autoErr != nil {
		autoErr.LogFile = c.LogFile
		return nil, ActionRun, autoErr
	}
	if rerr := env.resolve(c, fileLevel); rerr != nil {
		rerr.LogFile = c.LogFile
		return nil, ActionRun, rerr
	}
	return c, ActionRun, nil
}

func (env *Env) fillDefaults() {
	if env.Stdout == nil {
		env.Stdout = os.Stdout
	}
	if env.Stderr == nil {
		env.Stderr = os.Stderr
	}
	if env.FileExists == nil {
		env.FileExists = func(p string) bool { _, err := os.Stat(p); return err == nil }
	}
	if env.ReadFile == nil {
		env.ReadFile = os.ReadFile
	}
	if env.TotalRAMBytes == nil {
		env.TotalRAMBytes = TotalRAM
	}
	if env.SearchPaths == nil {
		env.SearchPaths = DefaultSearchPaths()
	}
	if env.Resolve == nil {
		env.Resolve = resolveAddr
	}
}

// discover loads the first existing auto-discovered file, without key validation.
func (env *Env) discover() (string, *Config, *ExitError) {
	for _, p := range env.SearchPaths {
		if env.FileExists(p) {
			c, err := env.loadFile(p, false)
			return p, c, err
		}
	}
	return "", Defaults(), nil
}

func (env *Env) loadFile(path string, validate bool) (*Config, *ExitError) {
	data, err := env.ReadFile(path)
	if err != nil {
		return nil, exitf(1, msgFileError, err)
	}
	c, err := parseFile(data, validate)
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			return nil, ee
		}
		return nil, exitf(1, msgFileError, err)
	}
	return c, nil
}

// parseFlags parses env.Args over a copy of defaults. Flag errors are printed like
// Go's flag package does for upstream: the message on stderr, usage on stdout.
func (env *Env) parseFlags(defaults *Config) (*Config, *cliState, error) {
	c := *defaults
	c.Backend = append([]string(nil), defaults.Backend...)
	c.OTLPHeaders = make(map[string]string, len(defaults.OTLPHeaders))
	for k, v := range defaults.OTLPHeaders {
		c.OTLPHeaders[k] = v
	}
	st := &cliState{}
	err := newFlagSet(&c, st).Parse(env.Args)
	switch {
	case err == nil:
		return &c, st, nil
	case errors.Is(err, flag.ErrHelp):
		io.WriteString(env.Stdout, usageText)
		return nil, nil, helpError{}
	default:
		fmt.Fprintln(env.Stderr, err)
		io.WriteString(env.Stdout, usageText)
		return nil, nil, &ExitError{Code: 2, Msg: err.Error(), Reported: true}
	}
}

// helpError unwinds Load after -h; Load turns it into ActionHelp.
type helpError struct{}

func (helpError) Error() string { return "help requested" }

func helpOr(err error) (Action, error) {
	if errors.As(err, new(helpError)) {
		return ActionHelp, nil
	}
	return ActionRun, err
}

// resolve finishes a Config for a run, in upstream's order of fatal checks (UDP
// address, memory, TCP address), then the log level and xrayd defaults.
func (env *Env) resolve(c *Config, fileLevel string) *ExitError {
	if err := env.Resolve("udp", c.UDPAddress); err != nil {
		return exitf(1, "%v", err)
	}
	if c.BufferMemoryMB <= 0 {
		ram, err := env.TotalRAMBytes()
		if err != nil {
			return exitf(1, "Cannot read the total physical memory (%v). Set the buffer memory with -m.", err)
		}
		c.BufferMemoryMB = int(ram / (100 << 20)) // floor(1 % of RAM in MiB)
	}
	if c.BufferMemoryMB < MinBufferMemoryMB {
		return exitf(1, "Not enough Buffers Memory Allocated. Min Buffers Memory required: 3 MB.")
	}
	if err := env.Resolve("tcp", c.TCPAddress); err != nil {
		return exitf(1, "%v", err)
	}
	c.LogLevel = resolveLevel(c.LogLevel, fileLevel)
	if c.OTLPEndpoint == "" {
		c.OTLPEndpoint = DefaultOTLPHTTP
		if c.OTLPProtocol == "grpc" {
			c.OTLPEndpoint = DefaultOTLPGRPC
		}
	}
	return nil
}

// resolveLevel applies upstream's quirks (daemon.md §4): the flag wins when it
// differs from the file's level and is known; an unknown flag value falls back to the
// file's level; an unknown file level means the most verbose level, dev.
func resolveLevel(flagLevel, fileLevel string) string {
	if _, ok := logging.ParseLevel(flagLevel); ok && flagLevel != fileLevel {
		return flagLevel
	}
	if _, ok := logging.ParseLevel(fileLevel); ok {
		return fileLevel
	}
	return "dev"
}

func resolveAddr(network, address string) error {
	var err error
	if network == "udp" {
		_, err = net.ResolveUDPAddr(network, address)
	} else {
		_, err = net.ResolveTCPAddr(network, address)
	}
	return err
}
