package xray

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// requestWriter writes complete, SigV4-signed PutTraceSegments request headers for the
// direct client. The SDK's signer works on an http.Request and costs about 9 µs and 49
// allocations a call (../shared/PERF-NOTES.md); this one signs the fixed header set of
// this one request in about a microsecond, reusing the day's signing key. It signs
// exactly what the SDK's signer signs for the same request, which
// TestRequestWriterSignsLikeTheSDK checks; everything off the hot path (the TCP proxy,
// STS, the net/http route) keeps the SDK's signer.
type requestWriter struct {
	host      string // Host header: the endpoint without a default port
	region    string
	userAgent string

	mu      sync.Mutex
	keyDate string    // yyyymmdd of mac's key
	keyID   string    // secret mac's key was derived from
	mac     hash.Hash // HMAC-SHA256 under the day's signing key
}

const signedPath = "/TraceSegments"

func newRequestWriter(endpoint *url.URL, region, userAgent string) *requestWriter {
	return &requestWriter{host: hostHeader(endpoint), region: region, userAgent: userAgent}
}

// hostHeader is the endpoint's host as HTTP clients send it: without the scheme's
// default port.
func hostHeader(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return u.Host
}

// appendRequest appends the request line and headers (through the blank line) of a
// signed POST /TraceSegments carrying body.
func (w *requestWriter) appendRequest(dst []byte, creds aws.Credentials, now time.Time, body []byte) []byte {
	now = now.UTC()
	var amzDate [16]byte
	date := now.AppendFormat(amzDate[:0], "20060102T150405Z")
	sum := sha256.Sum256(body)
	var hash [64]byte
	hex.Encode(hash[:], sum[:])
	var tsb [32]byte
	ts := strconv.AppendFloat(tsb[:0], float64(now.UnixNano())/1e9, 'f', 9, 64)
	var lenb [20]byte
	length := strconv.AppendInt(lenb[:0], int64(len(body)), 10)

	// The canonical request and string to sign are built in the tail of dst, hashed, and
	// then overwritten by the real headers.
	mark := len(dst)
	c := dst
	c = append(c, "POST\n"+signedPath+"\n\n"...)
	c = appendCanonical(c, "content-length", length)
	c = append(c, "content-type:application/json\n"...)
	c = append(c, "host:"...)
	c = append(c, w.host...)
	c = append(c, '\n')
	c = appendCanonical(c, "x-amz-date", date)
	if creds.SessionToken != "" {
		c = append(c, "x-amz-security-token:"...)
		c = append(c, strings.TrimSpace(creds.SessionToken)...)
		c = append(c, '\n')
	}
	c = appendCanonical(c, "x-amzn-xray-timestamp", ts)
	c = append(c, '\n')
	signedHeaders := "content-length;content-type;host;x-amz-date;x-amzn-xray-timestamp"
	if creds.SessionToken != "" {
		signedHeaders = "content-length;content-type;host;x-amz-date;x-amz-security-token;x-amzn-xray-timestamp"
	}
	c = append(c, signedHeaders...)
	c = append(c, '\n')
	c = append(c, hash[:]...)
	canonical := sha256.Sum256(c[mark:])

	scope := string(date[:8]) + "/" + w.region + "/xray/aws4_request"
	c = c[:mark]
	c = append(c, "AWS4-HMAC-SHA256\n"...)
	c = append(c, date...)
	c = append(c, '\n')
	c = append(c, scope...)
	c = append(c, '\n')
	c = hex.AppendEncode(c, canonical[:])
	var sigb [32]byte
	sig := w.sign(creds.SecretAccessKey, string(date[:8]), c[mark:], sigb[:0])

	dst = c[:mark]
	dst = append(dst, "POST "+signedPath+" HTTP/1.1\r\nHost: "...)
	dst = append(dst, w.host...)
	dst = append(dst, "\r\nContent-Length: "...)
	dst = append(dst, length...)
	dst = append(dst, "\r\nContent-Type: application/json\r\n"...)
	if w.userAgent != "" {
		dst = append(dst, "User-Agent: "...)
		dst = append(dst, w.userAgent...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "X-Amz-Date: "...)
	dst = append(dst, date...)
	dst = append(dst, "\r\n"...)
	if creds.SessionToken != "" {
		dst = append(dst, "X-Amz-Security-Token: "...)
		dst = append(dst, creds.SessionToken...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "X-Amzn-Xray-Timestamp: "...)
	dst = append(dst, ts...)
	dst = append(dst, "\r\nAuthorization: AWS4-HMAC-SHA256 Credential="...)
	dst = append(dst, creds.AccessKeyID...)
	dst = append(dst, '/')
	dst = append(dst, scope...)
	dst = append(dst, ", SignedHeaders="...)
	dst = append(dst, signedHeaders...)
	dst = append(dst, ", Signature="...)
	dst = hex.AppendEncode(dst, sig)
	return append(dst, "\r\n\r\n"...)
}

func appendCanonical(dst []byte, name string, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':')
	dst = append(dst, value...)
	return append(dst, '\n')
}

// sign appends the HMAC of stringToSign under the signing key for secret on date
// (yyyymmdd). The key is derived once a day (or when the secret changes), and its HMAC
// state is reused.
func (w *requestWriter) sign(secret, date string, stringToSign, dst []byte) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mac == nil || w.keyDate != date || w.keyID != secret {
		w.mac = hmac.New(sha256.New, w.signingKey(secret, date))
		w.keyDate, w.keyID = date, secret
	}
	w.mac.Reset()
	w.mac.Write(stringToSign)
	return w.mac.Sum(dst)
}

// signingKey derives the SigV4 key for secret on date (yyyymmdd).
func (w *requestWriter) signingKey(secret, date string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, w.region)
	k = hmacSHA256(k, "xray")
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
