package xray

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func TestRequestWriterSignsLikeTheSDK(t *testing.T) {
	body := []byte(`{"TraceSegmentDocuments":["{\"id\":\"70de5b6f19ff9a0a\"}"]}`)
	tests := []struct {
		name, endpoint, region, wantHost string
		creds                            aws.Credentials
	}{
		{"https default port", "https://xray.us-east-1.amazonaws.com", "us-east-1", "xray.us-east-1.amazonaws.com",
			aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}},
		{"explicit default port", "https://xray.eu-west-1.amazonaws.com:443/ignored", "eu-west-1", "xray.eu-west-1.amazonaws.com",
			aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}},
		{"session token", "https://xray.cn-north-1.amazonaws.com.cn", "cn-north-1", "xray.cn-north-1.amazonaws.com.cn",
			aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "FwoGZXIvYXdzEBYaDH+token/with=chars"}},
		{"loopback with port", "http://127.0.0.1:2001", "us-west-2", "127.0.0.1:2001",
			aws.Credentials{AccessKeyID: "AKIDFAKE", SecretAccessKey: "fake"}},
		{"ipv6", "http://[::1]:8080", "ap-south-1", "[::1]:8080",
			aws.Credentials{AccessKeyID: "AKIDFAKE", SecretAccessKey: "fake"}},
		{"http default port ipv6", "http://[::1]:80", "us-gov-west-1", "[::1]",
			aws.Credentials{AccessKeyID: "AKIDFAKE", SecretAccessKey: "fake", SessionToken: "tok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.endpoint)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 11, 25, 23, 59, 58, 123456789, time.FixedZone("x", 3600))
			w := newRequestWriter(u, tt.region, "xrayd/test")
			// Twice: the second call uses the cached signing key.
			for round := 0; round < 2; round++ {
				hdr := w.appendRequest([]byte("prefix-kept"), tt.creds, now, body)
				if !bytes.HasPrefix(hdr, []byte("prefix-kept")) {
					t.Fatalf("dst prefix overwritten: %q", hdr)
				}
				got, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(append(hdr[len("prefix-kept"):], body...))))
				if err != nil {
					t.Fatalf("written request does not parse: %v\n%s", err, hdr)
				}
				if got.Method != "POST" || got.RequestURI != "/TraceSegments" || got.Host != tt.wantHost || got.ContentLength != int64(len(body)) {
					t.Fatalf("request line/host/length: %s %s host %q length %d", got.Method, got.RequestURI, got.Host, got.ContentLength)
				}

				want, _ := http.NewRequest("POST", "http://placeholder/TraceSegments", bytes.NewReader(body))
				want.URL.Host, want.Host = tt.wantHost, tt.wantHost
				want.Header.Set("Content-Type", "application/json")
				want.Header.Set("User-Agent", "xrayd/test")
				want.Header.Set("X-Amzn-Xray-Timestamp", strconv.FormatFloat(float64(now.UnixNano())/1e9, 'f', 9, 64))
				sum := sha256.Sum256(body)
				signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
				if err := signer.SignHTTP(context.Background(), tt.creds, want, hex.EncodeToString(sum[:]), "xray", tt.region, now); err != nil {
					t.Fatal(err)
				}
				for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amzn-Xray-Timestamp", "Content-Type", "User-Agent"} {
					if g, w := got.Header.Get(h), want.Header.Get(h); g != w {
						t.Errorf("%s:\n got %q\nwant %q", h, g, w)
					}
				}
			}
		})
	}
}

func TestRequestWriterRederivesKeyOnNewDayAndSecret(t *testing.T) {
	u, _ := url.Parse("https://xray.us-east-1.amazonaws.com")
	w := newRequestWriter(u, "us-east-1", "")
	msg := []byte("AWS4-HMAC-SHA256\n...")
	s1 := w.sign("a", "20260101", msg, nil)
	if again := w.sign("a", "20260101", msg, nil); !bytes.Equal(s1, again) {
		t.Fatal("same key, same message, different signature")
	}
	s2 := w.sign("a", "20260102", msg, nil)
	s3 := w.sign("b", "20260102", msg, nil)
	if bytes.Equal(s1, s2) || bytes.Equal(s2, s3) {
		t.Fatal("signing key not re-derived")
	}
	// Each matches a fresh derivation.
	fresh := newRequestWriter(u, "us-east-1", "")
	if !bytes.Equal(s3, fresh.sign("b", "20260102", msg, nil)) {
		t.Fatal("cached key differs from a fresh one")
	}
}

func BenchmarkRequestWriter(b *testing.B) {
	u, _ := url.Parse("https://xray.us-east-1.amazonaws.com")
	w := newRequestWriter(u, "us-east-1", "xrayd/bench")
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}
	body := bytes.Repeat([]byte("x"), 50<<10)
	dst := make([]byte, 0, 4096)
	now := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		dst = w.appendRequest(dst[:0], creds, now, body)
	}
}

func BenchmarkSDKSigner(b *testing.B) {
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}
	body := bytes.Repeat([]byte("x"), 50<<10)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	now := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest("POST", "https://xray.us-east-1.amazonaws.com/TraceSegments", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256(body)
		_ = signer.SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "xray", "us-east-1", now)
	}
}
