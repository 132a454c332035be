// Package awsconf turns the daemon's settings and the environment into everything needed
// to talk to AWS: the region, a lazy credentials provider (optionally assuming a role),
// the X-Ray endpoint, HTTP clients with the configured proxy and TLS settings, and a
// helper that signs daemon-originated API calls.
//
// Choices that differ from upstream, on purpose:
//   - AWS_DEFAULT_REGION is also read outside local mode (before the ECS file and IMDS);
//     upstream ignores it there and refuses to start.
//   - A malformed ECS metadata file is logged and skipped instead of crashing.
//   - The proxy target uses the same resolution as API calls (including
//     AWS_ENDPOINT_URL_XRAY and every partition), so the two can never disagree.
//   - HTTPS_PROXY and https_proxy are honoured together with NO_PROXY/no_proxy.
//   - STS calls for -r go through the daemon's HTTP client (proxy and TLS settings apply).
package awsconf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Options are the daemon settings that shape the AWS side.
type Options struct {
	Region       string // -n / Region; empty means discover
	RoleARN      string // -r / RoleARN; empty means use the default chain directly
	ProxyAddress string // -p / ProxyAddress; must carry a scheme (http://host:port)
	Endpoint     string // -e / Endpoint
	NoVerifySSL  bool   // NoVerifySSL: skip TLS certificate verification
	LocalMode    bool   // -o / LocalMode: no ECS/IMDS discovery, SDK region allowed

	// Getenv reads the environment variables the daemon itself interprets (region, proxy,
	// endpoints, FIPS/dual-stack, IMDS, identity). Nil means os.Getenv. The SDK's
	// credentials chain always reads the process environment.
	Getenv func(string) string
	Logger *slog.Logger
	// Version is the daemon version shown in the User-Agent ("unknown" when empty).
	Version string
	// IMDSEndpoint overrides the EC2 instance metadata endpoint (tests).
	IMDSEndpoint string
	// ReadFile reads the ECS metadata file and the CA bundle. Nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// AWS is the resolved AWS configuration shared by the exporter, the proxy and telemetry.
type AWS struct {
	Region string
	// Credentials is lazy: nothing is fetched until the first signed request or
	// CheckCredentials. Results are cached until they expire.
	Credentials aws.CredentialsProvider
	// HTTPClient carries daemon-originated calls (PutTraceSegments, PutTelemetryRecords).
	HTTPClient *http.Client
	// ProxyHTTPClient carries requests relayed by the TCP proxy (no compression, short idle).
	ProxyHTTPClient *http.Client
	// APIEndpoint is where daemon-originated calls go.
	APIEndpoint *url.URL
	// ProxyTarget is where proxied SDK calls go (the same resolution as APIEndpoint).
	ProxyTarget *url.URL
	// UserAgent is sent on daemon-originated calls.
	UserAgent string

	roleARN string
	signer  *v4.Signer
	now     func() time.Time
	logger  *slog.Logger
}

// ErrNoRegion is returned by Resolve when no source gives a region. The text is upstream's.
var ErrNoRegion = errors.New("Cannot fetch region variable from config file, environment variables, ecs metadata, or ec2 metadata. Use local-mode to use the local config region.")

// Resolve builds the AWS configuration. It may read the ECS metadata file and ask EC2
// instance metadata for the region (at most about a second), but never fetches credentials.
func Resolve(ctx context.Context, o Options) (*AWS, error) {
	o = o.withDefaults()
	httpClient, proxyClient, err := newHTTPClients(o)
	if err != nil {
		return nil, err
	}

	// The SDK config supplies the credentials chain, and in local mode the region.
	// Loading it does no network I/O.
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading AWS shared config (check AWS_PROFILE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE): %w", err)
	}

	region, err := resolveRegion(ctx, o, cfg.Region)
	if err != nil {
		return nil, err
	}
	o.Logger.Info("Using region: " + region)

	endpoint, err := resolveEndpoint(o.Getenv, o.Endpoint, region)
	if err != nil {
		return nil, err
	}
	target := *endpoint

	a := &AWS{
		Region:          region,
		Credentials:     cfg.Credentials,
		HTTPClient:      httpClient,
		ProxyHTTPClient: proxyClient,
		APIEndpoint:     endpoint,
		ProxyTarget:     &target,
		UserAgent:       userAgent(o.Version, o.Getenv("AWS_EXECUTION_ENV")),
		roleARN:         o.RoleARN,
		signer:          v4.NewSigner(),
		now:             time.Now,
		logger:          o.Logger,
	}
	if a.Credentials == nil {
		a.Credentials = aws.AnonymousCredentials{}
	}
	if o.RoleARN != "" {
		cfg.Region = region
		stsClient := sts.NewFromConfig(cfg, func(so *sts.Options) {
			so.HTTPClient = httpClient
		})
		a.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, o.RoleARN,
			func(ro *stscreds.AssumeRoleOptions) { ro.RoleSessionName = "xray-daemon" }))
	}
	return a, nil
}

func (o Options) withDefaults() Options {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = "unknown"
	}
	return o
}

// userAgent mirrors upstream: the SDK's own part followed by the daemon's suffix.
func userAgent(version, execEnv string) string {
	if execEnv == "" {
		execEnv = "UNKNOWN"
	}
	if version == "" {
		version = "unknown"
	}
	return fmt.Sprintf("aws-sdk-go-v2/%s os/%s lang/go#%s xray-agent/xray-daemon/%s exec-env/%s OS/%s-%s",
		aws.SDKVersion, runtime.GOOS, strings.TrimPrefix(runtime.Version(), "go"),
		version, execEnv, runtime.GOOS, runtime.GOARCH)
}
