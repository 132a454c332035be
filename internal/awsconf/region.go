package awsconf

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// imdsBudget bounds every instance-metadata lookup so a laptop without IMDS never hangs.
const imdsBudget = time.Second

// resolveRegion applies daemon.md §7; sdkRegion is the SDK default config's region,
// consulted only in local mode.
func resolveRegion(ctx context.Context, o Options, sdkRegion string) (string, error) {
	if o.Region != "" {
		o.Logger.Debug("Fetch region " + o.Region + " from commandline/config file")
		return o.Region, nil
	}
	if r := o.Getenv("AWS_REGION"); r != "" {
		o.Logger.Debug("Fetch region " + r + " from environment variables")
		return r, nil
	}
	if o.LocalMode {
		if sdkRegion != "" {
			o.Logger.Debug("Fetch region " + sdkRegion + " from local config")
			return sdkRegion, nil
		}
	} else {
		if r := o.Getenv("AWS_DEFAULT_REGION"); r != "" {
			o.Logger.Debug("Fetch region " + r + " from environment variables (AWS_DEFAULT_REGION)")
			return r, nil
		}
		if r := ecsRegion(o); r != "" {
			o.Logger.Debug("Fetch region " + r + " from ECS metadata file")
			return r, nil
		}
		if r := imdsRegion(ctx, o); r != "" {
			o.Logger.Debug("Fetch region " + r + " from ec2 metadata")
			return r, nil
		}
	}
	return "", fmt.Errorf("%w Set -n/--region, Region in cfg.yaml or AWS_REGION.", ErrNoRegion)
}

// ecsRegion reads the region from the ECS container metadata file's TaskARN
// (arn:aws:ecs:<region>:...). Any problem is logged and yields "".
func ecsRegion(o Options) string {
	if !strings.EqualFold(o.Getenv("ECS_ENABLE_CONTAINER_METADATA"), "true") {
		return ""
	}
	path := o.Getenv("ECS_CONTAINER_METADATA_FILE")
	if path == "" {
		return ""
	}
	data, err := o.ReadFile(path)
	if err != nil {
		o.Logger.Warn("Unable to read ECS metadata file, skipping it", "path", path, "error", err)
		return ""
	}
	r, err := regionFromECSMetadata(data)
	if err != nil {
		o.Logger.Warn("Unable to get region from ECS metadata file, skipping it", "path", path, "error", err)
		return ""
	}
	return r
}

// regionFromECSMetadata is the pure part of ecsRegion.
func regionFromECSMetadata(data []byte) (string, error) {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("parsing: %w", err)
	}
	arn, ok := doc["TaskARN"].(string)
	if !ok {
		return "", fmt.Errorf("TaskARN is missing or not a string")
	}
	parts := strings.Split(arn, ":")
	if len(parts) < 4 || parts[3] == "" {
		return "", fmt.Errorf("TaskARN %q has no region field", arn)
	}
	return parts[3], nil
}

// imdsRegion asks EC2 instance metadata for the region within imdsBudget.
func imdsRegion(ctx context.Context, o Options) string {
	client, closeIdle := newIMDSClient(o)
	defer closeIdle()
	if client == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, imdsBudget)
	defer cancel()
	out, err := client.GetRegion(ctx, &imds.GetRegionInput{})
	if err != nil {
		o.Logger.Debug("Unable to get region from ec2 metadata", "error", err)
		return ""
	}
	return out.Region
}

// newIMDSClient returns an IMDS client with fail-fast settings, or nil when IMDS is
// disabled by AWS_EC2_METADATA_DISABLED. The returned func releases idle connections.
func newIMDSClient(o Options) (*imds.Client, func()) {
	if strings.EqualFold(o.Getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		return nil, func() {}
	}
	endpoint := o.IMDSEndpoint
	if endpoint == "" {
		endpoint = o.Getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	}
	// Never through a proxy: IMDS is link-local.
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 500 * time.Millisecond}).DialContext,
		ResponseHeaderTimeout: imdsBudget,
		MaxIdleConnsPerHost:   1,
	}
	client := imds.New(imds.Options{
		Endpoint:          endpoint,
		ClientEnableState: imds.ClientEnabled,
		HTTPClient:        &http.Client{Transport: tr},
		Retryer:           aws.NopRetryer{},
	})
	return client, tr.CloseIdleConnections
}
