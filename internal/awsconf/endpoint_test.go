package awsconf

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestResolveEndpoint(t *testing.T) {
	tests := []struct {
		name       string
		env        env
		configured string
		region     string
		want       string
		wantErr    string
	}{
		{"aws", env{}, "", "us-east-1", "https://xray.us-east-1.amazonaws.com", ""},
		{"aws-cn", env{}, "", "cn-north-1", "https://xray.cn-north-1.amazonaws.com.cn", ""},
		{"aws-us-gov", env{}, "", "us-gov-west-1", "https://xray.us-gov-west-1.amazonaws.com", ""},
		{"aws-iso", env{}, "", "us-iso-east-1", "https://xray.us-iso-east-1.c2s.ic.gov", ""},
		{"aws-iso-b", env{}, "", "us-isob-east-1", "https://xray.us-isob-east-1.sc2s.sgov.gov", ""},
		{"aws-iso-e", env{}, "", "eu-isoe-west-1", "https://xray.eu-isoe-west-1.cloud.adc-e.uk", ""},
		{"aws-iso-f", env{}, "", "us-isof-south-1", "https://xray.us-isof-south-1.csp.hci.ic.gov", ""},
		{"aws-eusc", env{}, "", "eusc-de-east-1", "https://xray.eusc-de-east-1.amazonaws.eu", ""},
		{"unknown region falls back to aws", env{}, "", "xx-new-1", "https://xray.xx-new-1.amazonaws.com", ""},
		{"fips", env{"AWS_USE_FIPS_ENDPOINT": "true"}, "", "us-east-1", "https://xray-fips.us-east-1.amazonaws.com", ""},
		{"fips gov", env{"AWS_USE_FIPS_ENDPOINT": "TRUE"}, "", "us-gov-east-1", "https://xray-fips.us-gov-east-1.amazonaws.com", ""},
		{"dual-stack", env{"AWS_USE_DUALSTACK_ENDPOINT": "true"}, "", "eu-west-1", "https://xray.eu-west-1.api.aws", ""},
		{"configured endpoint", env{"AWS_ENDPOINT_URL": "http://b:1"}, "http://a:2000", "us-east-1", "http://a:2000", ""},
		{"configured endpoint trailing slash", env{}, "https://a/base/", "us-east-1", "https://a/base", ""},
		{"AWS_ENDPOINT_URL_XRAY beats Endpoint", env{"AWS_ENDPOINT_URL_XRAY": "http://x:1", "AWS_ENDPOINT_URL": "http://b:1"}, "http://a:2", "us-east-1", "http://x:1", ""},
		{"AWS_ENDPOINT_URL last", env{"AWS_ENDPOINT_URL": "http://b:1"}, "", "us-east-1", "http://b:1", ""},
		{"ignore configured endpoint URLs", env{"AWS_ENDPOINT_URL_XRAY": "http://x:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "", "us-east-1", "https://xray.us-east-1.amazonaws.com", ""},
		{"fips ignored for custom endpoint", env{"AWS_USE_FIPS_ENDPOINT": "true"}, "http://a:1", "us-east-1", "http://a:1", ""},
		{"endpoint without scheme", env{}, "localhost:2000", "us-east-1", "", "-e"},
		{"env endpoint without host", env{"AWS_ENDPOINT_URL_XRAY": "https://"}, "", "us-east-1", "", "AWS_ENDPOINT_URL_XRAY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := resolveEndpoint(tt.env.get, tt.configured, tt.region)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want mention of %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || u.String() != tt.want {
				t.Fatalf("got %v, %v; want %s", u, err, tt.want)
			}
		})
	}
}

func TestJoinPathKeepsBasePath(t *testing.T) {
	for _, tt := range []struct{ base, want string }{
		{"https://xray.us-east-1.amazonaws.com", "https://xray.us-east-1.amazonaws.com/TraceSegments"},
		{"http://localhost:4566/xray", "http://localhost:4566/xray/TraceSegments"},
	} {
		b, _ := url.Parse(tt.base)
		if got := joinPath(b, "/TraceSegments").String(); got != tt.want {
			t.Errorf("joinPath(%s) = %s, want %s", tt.base, got, tt.want)
		}
	}
}

func TestProxySelection(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		env     env
		target  string
		want    string // "" = direct
		wantErr bool
	}{
		{"no proxy", Options{}, env{}, "https://xray.us-east-1.amazonaws.com/x", "", false},
		{"explicit proxy", Options{ProxyAddress: "http://p:3128"}, env{"HTTPS_PROXY": "http://q:1"}, "https://xray.us-east-1.amazonaws.com/x", "http://p:3128", false},
		{"explicit proxy without scheme", Options{ProxyAddress: "p:3128"}, env{}, "", "", true},
		{"explicit proxy unparsable", Options{ProxyAddress: "http://[::1"}, env{}, "", "", true},
		{"HTTPS_PROXY", Options{}, env{"HTTPS_PROXY": "http://q:1"}, "https://xray.us-east-1.amazonaws.com/x", "http://q:1", false},
		{"https_proxy lower case", Options{}, env{"https_proxy": "http://q:2"}, "https://xray.us-east-1.amazonaws.com/x", "http://q:2", false},
		{"NO_PROXY domain", Options{}, env{"HTTPS_PROXY": "http://q:1", "NO_PROXY": ".amazonaws.com"}, "https://xray.us-east-1.amazonaws.com/x", "", false},
		{"no_proxy lower case", Options{}, env{"HTTPS_PROXY": "http://q:1", "no_proxy": "amazonaws.com"}, "https://xray.us-east-1.amazonaws.com/x", "", false},
		{"NO_PROXY other host", Options{}, env{"HTTPS_PROXY": "http://q:1", "NO_PROXY": "example.com"}, "https://xray.us-east-1.amazonaws.com/x", "http://q:1", false},
		{"HTTPS_PROXY does not apply to http targets", Options{}, env{"HTTPS_PROXY": "http://q:1"}, "http://xray.local:2000/x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Getenv = tt.env.get
			api, relay, err := newHTTPClients(o.withDefaults())
			if tt.wantErr {
				if err == nil || !strings.HasPrefix(err.Error(), "Bad proxy URL") {
					t.Fatalf("err = %v, want Bad proxy URL", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*http.Client{api, relay} {
				req, _ := http.NewRequest(http.MethodPost, tt.target, nil)
				tr := c.Transport.(*http.Transport)
				var got string
				if tr.Proxy != nil {
					u, err := tr.Proxy(req)
					if err != nil {
						t.Fatal(err)
					}
					if u != nil {
						got = u.String()
					}
				}
				if got != tt.want {
					t.Fatalf("proxy = %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestHTTPClientSettings(t *testing.T) {
	api, relay, err := newHTTPClients(Options{NoVerifySSL: true}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	at, rt := api.Transport.(*http.Transport), relay.Transport.(*http.Transport)
	if !at.TLSClientConfig.InsecureSkipVerify || !rt.TLSClientConfig.InsecureSkipVerify {
		t.Error("NoVerifySSL not applied")
	}
	if !rt.DisableCompression || at.DisableCompression {
		t.Error("only the relay transport must disable compression")
	}
	if rt.IdleConnTimeout != proxyIdleTimeout {
		t.Errorf("relay idle timeout = %v", rt.IdleConnTimeout)
	}
	if !at.ForceAttemptHTTP2 {
		t.Error("HTTP/2 not allowed")
	}
}

func TestCABundle(t *testing.T) {
	o := Options{Getenv: env{"AWS_CA_BUNDLE": "/ca.pem"}.get, ReadFile: func(string) ([]byte, error) { return []byte("nope"), nil }}
	if _, _, err := newHTTPClients(o.withDefaults()); err == nil || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") {
		t.Fatalf("err = %v", err)
	}
}
