package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealth implements `xray health [-t host:port]`: exit 0 when a daemon answers
// /healthz on that address with 200, 1 when it answers unhealthy or not at all, 2 on
// bad usage. It needs no shell, so it works as a HEALTHCHECK in a scratch image.
func runHealth(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := "127.0.0.1:2000"
	fs.StringVar(&addr, "t", addr, "TCP address of the daemon")
	fs.StringVar(&addr, "bind-tcp", addr, "TCP address of the daemon")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for an answer")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintf(stderr, "xray health: bad address %q: %v\n", addr, err)
		return 2
	}
	// A daemon bound to the wildcard address is reached on loopback.
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: *timeout}
	resp, err := client.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		fmt.Fprintf(stderr, "xray health: no daemon answering on %s: %v\n", addr, err)
		return 1
	}
	defer resp.Body.Close()
	var h struct{ Status, Reason string }
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h)
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "xray health: unhealthy (HTTP %d): %s\n", resp.StatusCode, h.Reason)
		return 1
	}
	fmt.Fprintln(stdout, "healthy")
	return 0
}
