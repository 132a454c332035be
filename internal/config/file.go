package config

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Upstream's config-file messages (daemon.md §3.4), all exit 1.
const (
	migrationTail = "Use X-Ray Daemon Config Migration Script to update the config file. Please refer to AWS X-Ray Documentation for more information."
	docsTail      = "Please refer to AWS X-Ray Documentation for more information."

	MsgVersionMissing   = "Config Version is missing. " + migrationTail             // error A
	MsgVersionIncorrect = "Config Version Setting is not correct. " + migrationTail // error B
	msgRetiredKey       = "%s flag is not supported any more. " + docsTail          // error C
	msgMigrationKey     = "%s flag is not supported. " + migrationTail              // error D
	msgInvalidKey       = "%s flag is invalid. " + docsTail                         // error E
	msgFileError        = "Error occur when using config flag: %v"                  // error F
)

// fileConfig mirrors cfg.yaml. Every field has an explicit tag: yaml.v3 would
// otherwise match lower-cased names, and upstream's keys are case-sensitive.
type fileConfig struct {
	TotalBufferSizeMB int    `yaml:"TotalBufferSizeMB"`
	Concurrency       int    `yaml:"Concurrency"`
	Endpoint          string `yaml:"Endpoint"`
	Region            string `yaml:"Region"`
	Socket            struct {
		UDPAddress string `yaml:"UDPAddress"`
		TCPAddress string `yaml:"TCPAddress"`
	} `yaml:"Socket"`
	Logging struct {
		LogRotation *bool  `yaml:"LogRotation"` // pointer: an explicit false must survive the merge
		LogLevel    string `yaml:"LogLevel"`
		LogPath     string `yaml:"LogPath"`
	} `yaml:"Logging"`
	LocalMode    bool      `yaml:"LocalMode"`
	ResourceARN  string    `yaml:"ResourceARN"`
	RoleARN      string    `yaml:"RoleARN"`
	NoVerifySSL  bool      `yaml:"NoVerifySSL"`
	ProxyAddress string    `yaml:"ProxyAddress"`
	Version      int       `yaml:"Version"`
	Xrayd        xraydFile `yaml:"Xrayd"`
}

// xraydFile is the `Xrayd:` mapping; keys are Config's field names.
type xraydFile struct {
	Backend                yamlList          `yaml:"Backend"` // "xray,otlp" or a YAML list
	DataDir                string            `yaml:"DataDir"`
	LogFormat              string            `yaml:"LogFormat"`
	SpoolDir               string            `yaml:"SpoolDir"`
	SpoolMaxMB             int               `yaml:"SpoolMaxMB"`
	DrainTimeout           time.Duration     `yaml:"DrainTimeout"`
	MaxRetryAge            time.Duration     `yaml:"MaxRetryAge"`
	ReceiveBufferBytes     yamlByteSize      `yaml:"ReceiveBufferBytes"`
	OTLPEndpoint           string            `yaml:"OTLPEndpoint"`
	OTLPProtocol           string            `yaml:"OTLPProtocol"`
	OTLPHeaders            map[string]string `yaml:"OTLPHeaders"`
	OTLPInsecure           bool              `yaml:"OTLPInsecure"`
	Retention              time.Duration     `yaml:"Retention"`
	MaxDBSizeMB            int               `yaml:"MaxDBSizeMB"`
	AccessKeyID            string            `yaml:"AccessKeyID"`
	SecretAccessKey        string            `yaml:"SecretAccessKey"`
	SamplingRulesFile      string            `yaml:"SamplingRulesFile"`
	HealthFailureThreshold time.Duration     `yaml:"HealthFailureThreshold"`
}

// validKeys are the flattened paths a -c file may contain (daemon.md §3.2, §3.3).
var validKeys = map[string]bool{
	"TotalBufferSizeMB": true, "Concurrency": true, "Endpoint": true, "Region": true,
	"Socket.UDPAddress": true, "Socket.TCPAddress": true,
	"Logging.LogRotation": true, "Logging.LogLevel": true, "Logging.LogPath": true,
	"LocalMode": true, "ResourceARN": true, "RoleARN": true, "NoVerifySSL": true,
	"ProxyAddress": true, "Version": true,
	// Upstream's validator knows the hidden proxy block only in lower case; the
	// values are accepted and ignored.
	"proxyserver.idleconntimeout": true, "proxyserver.maxidleconnsperhost": true, "proxyserver.maxidleconns": true,

	"Xrayd.Backend": true, "Xrayd.DataDir": true, "Xrayd.LogFormat": true, "Xrayd.SpoolDir": true,
	"Xrayd.SpoolMaxMB": true, "Xrayd.DrainTimeout": true, "Xrayd.MaxRetryAge": true,
	"Xrayd.ReceiveBufferBytes": true, "Xrayd.OTLPEndpoint": true, "Xrayd.OTLPProtocol": true,
	"Xrayd.OTLPHeaders": true, "Xrayd.OTLPInsecure": true, "Xrayd.Retention": true,
	"Xrayd.MaxDBSizeMB": true, "Xrayd.AccessKeyID": true, "Xrayd.SecretAccessKey": true,
	"Xrayd.SamplingRulesFile": true, "Xrayd.HealthFailureThreshold": true,
}

// retiredKeys give error C, migrationKeys error D.
var (
	retiredKeys = map[string]bool{
		"Profile.CPU": true, "Profile.Memory": true, "Socket.BufferSizeKB": true,
		"Logging.LogFormat": true, "Processor.BatchProcessorQueueSize": true,
	}
	migrationKeys = map[string]bool{
		"LogRotation": true, "Processor.Region": true, "Processor.Endpoint": true,
		"Processor.Routine": true, "MemoryLimit": true,
	}
)

// parseFile turns cfg.yaml bytes into a Config (built-in defaults for every absent or
// zero value). validate runs the key validation upstream applies to -c files only.
func parseFile(data []byte, validate bool) (*Config, error) {
	if validate {
		if err := validateKeys(data); err != nil {
			return nil, err
		}
	}
	var fc fileConfig
	if err := yaml.Unmarshal(data, &fc); err != nil {
		return nil, exitf(1, msgFileError, err)
	}
	if fc.Version != 1 && fc.Version != 2 {
		return nil, exitf(1, "%s", MsgVersionIncorrect)
	}
	return fc.toConfig()
}

// validateKeys applies daemon.md §3.3: flatten one level, in file order; a missing
// Version wins over everything, then each path must be valid.
func validateKeys(data []byte) error {
	paths, err := flatten(data)
	if err != nil {
		return exitf(1, msgFileError, err)
	}
	for i, p := range paths {
		if i == 0 && !hasVersion(paths) {
			return exitf(1, "%s", MsgVersionMissing)
		}
		switch {
		case validKeys[p]:
		case retiredKeys[p]:
			return exitf(1, msgRetiredKey, p)
		case migrationKeys[p]:
			return exitf(1, msgMigrationKey, p)
		default:
			return exitf(1, msgInvalidKey, p)
		}
	}
	return nil
}

func hasVersion(paths []string) bool {
	for _, p := range paths {
		if p == "Version" {
			return true
		}
	}
	return false
}

// flatten lists the key paths of the top-level mapping: `Parent.Child` for each child
// of a mapping value (deeper levels are not inspected), the bare name otherwise.
func flatten(data []byte) ([]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil // empty file: nothing to validate, fails later on Version
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		var m map[string]any // produces the decoder's own error text
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		return nil, nil
	}
	var paths []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i].Value, deref(root.Content[i+1])
		if val.Kind != yaml.MappingNode || len(val.Content) == 0 {
			if val.Kind != yaml.MappingNode {
				paths = append(paths, key)
			}
			continue
		}
		for j := 0; j+1 < len(val.Content); j += 2 {
			paths = append(paths, key+"."+val.Content[j].Value)
		}
	}
	return paths, nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// toConfig merges fc over the built-in defaults: zero values mean "default".
func (fc *fileConfig) toConfig() (*Config, error) {
	c := Defaults()
	setIf(&c.ResourceARN, fc.ResourceARN)
	c.LocalMode = fc.LocalMode
	c.BufferMemoryMB = fc.TotalBufferSizeMB
	setIf(&c.Region, fc.Region)
	setIf(&c.UDPAddress, fc.Socket.UDPAddress)
	setIf(&c.TCPAddress, fc.Socket.TCPAddress)
	setIf(&c.RoleARN, fc.RoleARN)
	setIf(&c.LogFile, fc.Logging.LogPath)
	setIf(&c.LogLevel, fc.Logging.LogLevel)
	setIf(&c.ProxyAddress, fc.ProxyAddress)
	setIf(&c.Concurrency, fc.Concurrency)
	setIf(&c.Endpoint, fc.Endpoint)
	c.NoVerifySSL = fc.NoVerifySSL
	if fc.Logging.LogRotation != nil {
		c.LogRotation = *fc.Logging.LogRotation
	}
	c.Version = fc.Version

	x := &fc.Xrayd
	if len(x.Backend) > 0 {
		b, err := parseBackends(strings.Join(x.Backend, ","))
		if err != nil {
			return nil, xraydError("Backend", strings.Join(x.Backend, ","), err)
		}
		c.Backend = b
	}
	setIf(&c.DataDir, x.DataDir)
	if x.LogFormat != "" {
		if err := oneOf(x.LogFormat, "text", "json"); err != nil {
			return nil, xraydError("LogFormat", x.LogFormat, err)
		}
		c.LogFormat = x.LogFormat
	}
	setIf(&c.SpoolDir, x.SpoolDir)
	setIf(&c.OTLPEndpoint, x.OTLPEndpoint)
	if x.OTLPProtocol != "" {
		if err := oneOf(x.OTLPProtocol, "http", "grpc"); err != nil {
			return nil, xraydError("OTLPProtocol", x.OTLPProtocol, err)
		}
		c.OTLPProtocol = x.OTLPProtocol
	}
	for k, v := range x.OTLPHeaders {
		if k == "" {
			return nil, xraydError("OTLPHeaders", "", fmt.Errorf("header name must not be empty"))
		}
		c.OTLPHeaders[k] = v
	}
	c.OTLPInsecure = x.OTLPInsecure
	setIf(&c.AccessKeyID, x.AccessKeyID)
	setIf(&c.SecretAccessKey, x.SecretAccessKey)
	setIf(&c.SamplingRulesFile, x.SamplingRulesFile)
	if x.ReceiveBufferBytes != 0 {
		c.ReceiveBufferBytes = int(x.ReceiveBufferBytes)
	}
	for _, n := range []struct {
		name string
		v    int
		dst  *int
	}{{"SpoolMaxMB", x.SpoolMaxMB, &c.SpoolMaxMB}, {"MaxDBSizeMB", x.MaxDBSizeMB, &c.MaxDBSizeMB}} {
		if n.v < 0 {
			return nil, xraydError(n.name, fmt.Sprint(n.v), errNotPositive)
		}
		setIf(n.dst, n.v)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		dst  *time.Duration
	}{
		{"DrainTimeout", x.DrainTimeout, &c.DrainTimeout}, {"MaxRetryAge", x.MaxRetryAge, &c.MaxRetryAge},
		{"Retention", x.Retention, &c.Retention}, {"HealthFailureThreshold", x.HealthFailureThreshold, &c.HealthFailureThreshold},
	} {
		if d.v < 0 {
			return nil, xraydError(d.name, d.v.String(), errNotPositive)
		}
		setIf(d.dst, d.v)
	}
	return c, nil
}

func xraydError(key, value string, err error) *ExitError {
	return exitf(1, "invalid value %q for Xrayd.%s in the config file: %v", value, key, err)
}

func setIf[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// yamlList accepts either a comma-separated string or a list of strings.
type yamlList []string

func (l *yamlList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = strings.Split(s, ",")
		if s == "" {
			*l = nil
		}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// yamlByteSize accepts an integer or a string with a binary suffix ("8MiB").
type yamlByteSize int

func (b *yamlByteSize) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := parseByteSize(s)
	if err != nil {
		return fmt.Errorf("line %d: Xrayd.ReceiveBufferBytes: %w", n.Line, err)
	}
	*b = yamlByteSize(v)
	return nil
}
