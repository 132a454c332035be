package awsconf

import (
	"context"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// Identity returns the telemetry identity (daemon.md §13): AWS_HOSTNAME and
// AWS_INSTANCE_ID when set, otherwise (not in local mode) EC2 instance metadata, asked
// within about a second in total. Unknown values are "".
func Identity(ctx context.Context, o Options) (hostname, instanceID string) {
	o = o.withDefaults()
	hostname = o.Getenv("AWS_HOSTNAME")
	instanceID = o.Getenv("AWS_INSTANCE_ID")
	if o.LocalMode || (hostname != "" && instanceID != "") {
		return hostname, instanceID
	}
	client, closeIdle := newIMDSClient(o)
	defer closeIdle()
	if client == nil {
		return hostname, instanceID
	}
	ctx, cancel := context.WithTimeout(ctx, imdsBudget)
	defer cancel()
	if hostname == "" {
		h, err := metadata(ctx, client, "hostname")
		if err != nil {
			o.Logger.Debug("Get hostname metadata failed: " + err.Error())
		}
		hostname = h
	}
	if instanceID == "" {
		id, err := metadata(ctx, client, "instance-id")
		if err != nil {
			o.Logger.Error("Get instance id metadata failed: " + err.Error())
		}
		instanceID = id
	}
	return hostname, instanceID
}

func metadata(ctx context.Context, c *imds.Client, path string) (string, error) {
	out, err := c.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		return "", err
	}
	defer out.Content.Close()
	b, err := io.ReadAll(io.LimitReader(out.Content, 4096))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
