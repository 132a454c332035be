package awsconf

import (
	"fmt"
	"net/url"
	"strings"
)

// partition is the part of the AWS partition table the X-Ray endpoint rules use.
type partition struct {
	prefix          string // region name prefix, checked longest first
	dnsSuffix       string
	dualStackSuffix string
}

// partitions mirrors the SDK's partitions.json; the first matching prefix wins, and a
// region matching none belongs to the aws partition (as in the SDK).
var partitions = [...]partition{
	{"us-isob-", "sc2s.sgov.gov", "api.aws.scloud"},
	{"us-isof-", "csp.hci.ic.gov", "api.aws.hci.ic.gov"},
	{"us-iso-", "c2s.ic.gov", "api.aws.ic.gov"},
	{"eu-isoe-", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"},
	{"eusc-", "amazonaws.eu", "api.amazonwebservices.eu"},
	{"cn-", "amazonaws.com.cn", "api.amazonwebservices.com.cn"},
	{"us-gov-", "amazonaws.com", "api.aws"},
}

var awsPartition = partition{"", "amazonaws.com", "api.aws"}

func partitionFor(region string) partition {
	for _, p := range partitions {
		if strings.HasPrefix(region, p.prefix) {
			return p
		}
	}
	return awsPartition
}

// resolveEndpoint applies daemon.md §9 to both API calls and the proxy target:
// AWS_ENDPOINT_URL_XRAY, then the Endpoint setting, then AWS_ENDPOINT_URL, then the
// regional endpoint (FIPS and dual-stack per AWS_USE_FIPS_ENDPOINT and
// AWS_USE_DUALSTACK_ENDPOINT). AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips the two
// environment URLs, as the SDKs do.
func resolveEndpoint(getenv func(string) string, configured, region string) (*url.URL, error) {
	ignoreEnv := strings.EqualFold(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true")
	type source struct{ value, name string }
	sources := []source{
		{getenv("AWS_ENDPOINT_URL_XRAY"), "AWS_ENDPOINT_URL_XRAY"},
		{configured, "the Endpoint setting (-e)"},
		{getenv("AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL"},
	}
	for i, s := range sources {
		if s.value == "" || (ignoreEnv && i != 1) {
			continue
		}
		return parseEndpoint(s.value, s.name)
	}
	return regionalEndpoint(region,
		strings.EqualFold(getenv("AWS_USE_FIPS_ENDPOINT"), "true"),
		strings.EqualFold(getenv("AWS_USE_DUALSTACK_ENDPOINT"), "true")), nil
}

func parseEndpoint(raw, from string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid X-Ray endpoint %q from %s: use a URL like https://host[:port]", raw, from)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// regionalEndpoint builds https://xray[-fips].<region>.<suffix>.
func regionalEndpoint(region string, fips, dualStack bool) *url.URL {
	p := partitionFor(region)
	host, suffix := "xray.", p.dnsSuffix
	if fips {
		host = "xray-fips."
	}
	if dualStack {
		suffix = p.dualStackSuffix
	}
	return &url.URL{Scheme: "https", Host: host + region + "." + suffix}
}

// joinPath appends an operation path to the endpoint, keeping any base path it has.
func joinPath(base *url.URL, path string) *url.URL {
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + path
	u.RawPath = ""
	return &u
}
