package awsconf

import (
	"context"
	"testing"
	"time"
)

func TestIdentity(t *testing.T) {
	imdsSrv := fakeIMDS(t, "us-east-1", "ip-10-0-0-1.ec2.internal", "i-0abc")
	tests := []struct {
		name             string
		o                Options
		env              env
		wantHost, wantID string
	}{
		{"env wins", Options{IMDSEndpoint: imdsSrv.URL}, env{"AWS_HOSTNAME": "h", "AWS_INSTANCE_ID": "i"}, "h", "i"},
		{"IMDS fills the gaps", Options{IMDSEndpoint: imdsSrv.URL}, env{"AWS_HOSTNAME": "h"}, "h", "i-0abc"},
		{"IMDS", Options{IMDSEndpoint: imdsSrv.URL}, env{}, "ip-10-0-0-1.ec2.internal", "i-0abc"},
		{"local mode skips IMDS", Options{IMDSEndpoint: imdsSrv.URL, LocalMode: true}, env{"AWS_INSTANCE_ID": "i"}, "", "i"},
		{"IMDS disabled", Options{IMDSEndpoint: imdsSrv.URL}, env{"AWS_EC2_METADATA_DISABLED": "true"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Getenv = tt.env.get
			h, id := Identity(context.Background(), o)
			if h != tt.wantHost || id != tt.wantID {
				t.Fatalf("got %q, %q; want %q, %q", h, id, tt.wantHost, tt.wantID)
			}
		})
	}
}

func TestIdentityGivesUpWithinASecond(t *testing.T) {
	srv := hangingServer(t)
	start := time.Now()
	h, id := Identity(context.Background(), Options{IMDSEndpoint: srv.URL, Getenv: env{}.get})
	if h != "" || id != "" {
		t.Fatalf("got %q, %q", h, id)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("took %v", d)
	}
}
