// Package sigtest checks SigV4 signatures in tests: a fake AWS endpoint calls Verify on
// every request it receives to prove the request was signed correctly.
package sigtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Verify recomputes the signature of a received request from the headers it claims to
// have signed, and compares it with the one it carries. It also checks the credential
// scope (access key, region, service) and the session token.
func Verify(r *http.Request, body []byte, creds aws.Credentials, region, service string) error {
	auth := r.Header.Get("Authorization")
	fields, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return fmt.Errorf("authorization %q is not SigV4", auth)
	}
	parts := map[string]string{}
	for _, f := range strings.Split(fields, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		parts[k] = v
	}
	date := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse("20060102T150405Z", date)
	if err != nil {
		return fmt.Errorf("X-Amz-Date %q: %w", date, err)
	}
	wantScope := fmt.Sprintf("%s/%s/%s/%s/aws4_request", creds.AccessKeyID, signedAt.Format("20060102"), region, service)
	if parts["Credential"] != wantScope {
		return fmt.Errorf("credential scope %q, want %q", parts["Credential"], wantScope)
	}
	if got := r.Header.Get("X-Amz-Security-Token"); got != creds.SessionToken {
		return fmt.Errorf("security token %q, want %q", got, creds.SessionToken)
	}

	// Rebuild the request from the signed headers only and sign it again.
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	re, err := http.NewRequest(r.Method, u.String(), nil)
	if err != nil {
		return err
	}
	re.Host = r.Host
	re.ContentLength = int64(len(body))
	for _, h := range strings.Split(parts["SignedHeaders"], ";") {
		switch h {
		case "host", "content-length":
			continue
		case "x-amz-date", "x-amz-security-token":
			continue // added by the signer itself
		}
		vals := r.Header.Values(h)
		if len(vals) == 0 {
			return fmt.Errorf("signed header %q missing from the request", h)
		}
		for _, v := range vals {
			re.Header.Add(h, v)
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, re, hex.EncodeToString(sum[:]), service, region, signedAt); err != nil {
		return err
	}
	if got, want := auth, re.Header.Get("Authorization"); got != want {
		return fmt.Errorf("signature mismatch:\n got  %s\n want %s", got, want)
	}
	return nil
}
