package awsconf

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
)

func TestCheckCredentials(t *testing.T) {
	fail := func(err error) aws.CredentialsProvider {
		return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, err })
	}
	tests := []struct {
		name    string
		role    string
		prov    aws.CredentialsProvider
		want    string
		wantNil bool
	}{
		{"ok", "", aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return testCreds, nil }), "", true},
		{"nothing found", "", fail(errors.New("failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, ...")), ErrNoCredentials.Error(), false},
		{"role denied", "arn:aws:iam::1:role/r", fail(&smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform sts:AssumeRole"}), "cannot assume role arn:aws:iam::1:role/r: AccessDenied: not authorized", false},
		{"role without base credentials", "arn:aws:iam::1:role/r", fail(errors.New("no providers")), "cannot assume role arn:aws:iam::1:role/r: no AWS credentials found", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &AWS{Credentials: tt.prov, roleARN: tt.role}
			err := a.CheckCredentials(context.Background())
			if tt.wantNil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestCheckCredentialsWithEmptyChain(t *testing.T) {
	hermetic(t)
	a, err := Resolve(context.Background(), Options{Region: "us-east-1", Getenv: env{}.get})
	if err != nil {
		t.Fatal(err)
	}
	defer a.HTTPClient.CloseIdleConnections()
	if err := a.CheckCredentials(context.Background()); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("err = %v", err)
	}
}

// TestAssumeRoleUsesRegionalSTSAndSessionName runs -r against a fake STS.
func TestAssumeRoleUsesRegionalSTSAndSessionName(t *testing.T) {
	hermetic(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDBASE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "base-secret")
	forms := make(chan url.Values, 4)
	auths := make(chan string, 4)
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f, _ := url.ParseQuery(string(b))
		forms <- f
		auths <- r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIAROLE</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken>
<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/xray-daemon</Arn><AssumedRoleId>AROA:xray-daemon</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult></AssumeRoleResponse>`)
	}))
	defer sts.Close()
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)

	a, err := Resolve(context.Background(), Options{Region: "eu-north-1", RoleARN: "arn:aws:iam::1:role/r", Getenv: env{}.get})
	if err != nil {
		t.Fatal(err)
	}
	defer a.HTTPClient.CloseIdleConnections()
	if _, ok := a.Credentials.(*aws.CredentialsCache); !ok {
		t.Fatalf("credentials %T not cached", a.Credentials)
	}
	for range 2 { // the second call is served from the cache
		c, err := a.Credentials.Retrieve(context.Background())
		if err != nil || c.AccessKeyID != "ASIAROLE" || c.SessionToken != "tok" {
			t.Fatalf("creds = %+v, %v", c, err)
		}
	}
	f := <-forms
	if f.Get("Action") != "AssumeRole" || f.Get("RoleSessionName") != "xray-daemon" || f.Get("RoleArn") != "arn:aws:iam::1:role/r" {
		t.Fatalf("form = %v", f)
	}
	if auth := <-auths; !strings.Contains(auth, "/eu-north-1/sts/aws4_request") {
		t.Fatalf("STS not signed for the daemon region: %s", auth)
	}
	if len(forms) != 0 {
		t.Fatal("credentials not cached")
	}
}
