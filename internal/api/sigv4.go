package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xrayd/xrayd/internal/awsjson"
)

// maxClockSkew is how far a request's X-Amz-Date may be from the server clock.
const maxClockSkew = 15 * time.Minute

const (
	msgMissingAuth = "Missing Authentication Token"
	msgBadToken    = "The security token included in the request is invalid."
	msgBadSig      = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

func authError(code, msg string) *awsjson.Error {
	return &awsjson.Error{Status: http.StatusForbidden, Code: code, Message: msg}
}

// verifySigV4 checks the request's AWS Signature Version 4 Authorization header
// against the configured key pair: it rebuilds the canonical request from the signed
// headers, derives the signing key from the secret and the credential scope, and
// compares signatures in constant time.
func verifySigV4(r *http.Request, body []byte, accessKeyID, secret string, now time.Time) *awsjson.Error {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return authError("MissingAuthenticationTokenException", msgMissingAuth)
	}
	const algo = "AWS4-HMAC-SHA256"
	if !strings.HasPrefix(auth, algo+" ") {
		return authError("IncompleteSignatureException", "Authorization header does not use "+algo)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(auth[len(algo)+1:], ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			fields[k] = v
		}
	}
	cred, signed, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if cred == "" || signed == "" || sig == "" {
		return authError("IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return authError("IncompleteSignatureException", "Credential should be scoped to a valid region: "+cred)
	}
	if scope[0] != accessKeyID {
		return authError("UnrecognizedClientException", msgBadToken)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	ts, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return authError("IncompleteSignatureException", "X-Amz-Date header is missing or not in the form 20060102T150405Z")
	}
	if d := now.Sub(ts); d > maxClockSkew || d < -maxClockSkew {
		return authError("InvalidSignatureException", "Signature expired: "+amzDate+" is now earlier than "+
			now.Add(-maxClockSkew).UTC().Format("20060102T150405Z")+" ("+now.UTC().Format("20060102T150405Z")+" - 15 min.)")
	}
	if scope[1] != amzDate[:8] {
		return authError("InvalidSignatureException", "Credential date "+scope[1]+" does not match X-Amz-Date "+amzDate)
	}
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	switch payloadHash {
	case "":
		payloadHash = bodyHash
	case "UNSIGNED-PAYLOAD", bodyHash:
	default:
		return authError("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	canonical := canonicalRequest(r, strings.Split(signed, ";"), signed, payloadHash)
	crHash := sha256.Sum256([]byte(canonical))
	scopeStr := strings.Join(scope[1:], "/")
	toSign := algo + "\n" + amzDate + "\n" + scopeStr + "\n" + hex.EncodeToString(crHash[:])
	key := hmacSHA256([]byte("AWS4"+secret), scope[1])
	for _, p := range scope[2:] {
		key = hmacSHA256(key, p)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return authError("InvalidSignatureException", msgBadSig)
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func canonicalRequest(r *http.Request, names []string, signed, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(escapePath(path))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.Query()))
	b.WriteByte('\n')
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(headerValue(r, n))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(signed)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// escapePath applies SigV4's second URI encoding for non-S3 services.
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, awsEscape(k)+"="+awsEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

func awsEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		if v := r.Header.Get("Content-Length"); v != "" {
			return v
		}
		return strconv.FormatInt(r.ContentLength, 10)
	}
	vals := r.Header.Values(name)
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}
