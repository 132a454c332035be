package awsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/http/httpproxy"
)

// Transport settings. Per-call deadlines come from the caller's context; these only keep
// a dead network from holding a connection attempt forever.
const (
	dialTimeout         = 5 * time.Second
	tlsHandshakeTimeout = 5 * time.Second
	idleConnTimeout     = 90 * time.Second
	proxyIdleTimeout    = 30 * time.Second
	clientBackstop      = 2 * time.Minute
)

// newHTTPClients returns the client for daemon-originated calls and the one for the TCP
// proxy's relayed requests. Both use the same proxy selection and TLS settings.
func newHTTPClients(o Options) (api, relay *http.Client, err error) {
	proxy, err := proxyFunc(o)
	if err != nil {
		return nil, nil, err
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.NoVerifySSL} //nolint:gosec // opt-in NoVerifySSL
	if bundle := o.Getenv("AWS_CA_BUNDLE"); bundle != "" {
		pem, err := o.ReadFile(bundle)
		if err != nil {
			return nil, nil, fmt.Errorf("reading AWS_CA_BUNDLE %s: %w", bundle, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("AWS_CA_BUNDLE %s holds no PEM certificates", bundle)
		}
		tlsConf.RootCAs = pool
	}
	base := &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       idleConnTimeout,
		// Detect a silently dead HTTP/2 connection quickly, as upstream does.
		HTTP2: &http.HTTP2Config{SendPingTimeout: time.Second, PingTimeout: 2 * time.Second},
	}
	relayTr := base.Clone()
	// The proxy signs what it sends; a transparently added Accept-Encoding would be
	// unsigned and the response would reach the SDK still compressed.
	relayTr.DisableCompression = true
	relayTr.IdleConnTimeout = proxyIdleTimeout
	return &http.Client{Transport: base, Timeout: clientBackstop},
		&http.Client{Transport: relayTr, Timeout: clientBackstop}, nil
}

// proxyFunc: -p/ProxyAddress for every request; else HTTPS_PROXY (or https_proxy) for
// https targets, honouring NO_PROXY/no_proxy (loopback targets are never proxied).
func proxyFunc(o Options) (func(*http.Request) (*url.URL, error), error) {
	if o.ProxyAddress != "" {
		u, err := url.Parse(o.ProxyAddress)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("Bad proxy URL: %q: use a URL with a scheme, like http://proxy.example.com:3128", o.ProxyAddress)
		}
		return http.ProxyURL(u), nil
	}
	cfg := httpproxy.Config{
		HTTPSProxy: firstNonEmpty(o.Getenv("HTTPS_PROXY"), o.Getenv("https_proxy")),
		NoProxy:    firstNonEmpty(o.Getenv("NO_PROXY"), o.Getenv("no_proxy")),
	}
	if cfg.HTTPSProxy == "" {
		return nil, nil
	}
	if _, err := url.Parse(cfg.HTTPSProxy); err != nil {
		return nil, fmt.Errorf("Bad proxy URL: HTTPS_PROXY %q: %w", cfg.HTTPSProxy, err)
	}
	pf := cfg.ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return pf(r.URL) }, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
