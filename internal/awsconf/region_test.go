package awsconf

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestResolveRegionOrder(t *testing.T) {
	imdsSrv := fakeIMDS(t, "ap-south-1", "h", "i-1")
	ecsFiles := map[string][]byte{
		"/good":   []byte(`{"TaskARN":"arn:aws:ecs:eu-west-3:123456789012:task/c/abc"}`),
		"/number": []byte(`{"TaskARN":42}`),
		"/short":  []byte(`{"TaskARN":"arn:aws"}`),
		"/junk":   []byte(`not json`),
	}
	readFile := func(p string) ([]byte, error) {
		if b, ok := ecsFiles[p]; ok {
			return b, nil
		}
		return nil, os.ErrNotExist
	}
	ecs := func(path string) env {
		return env{"ECS_ENABLE_CONTAINER_METADATA": "TRUE", "ECS_CONTAINER_METADATA_FILE": path, "AWS_EC2_METADATA_DISABLED": "true"}
	}
	tests := []struct {
		name      string
		o         Options
		env       env
		sdkRegion string
		want      string
	}{
		{"flag beats everything", Options{Region: "us-west-1"}, env{"AWS_REGION": "eu-west-1"}, "sa-east-1", "us-west-1"},
		{"AWS_REGION next", Options{}, env{"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-2"}, "", "eu-west-1"},
		{"AWS_DEFAULT_REGION accepted outside local mode", Options{}, env{"AWS_DEFAULT_REGION": "eu-west-2", "AWS_EC2_METADATA_DISABLED": "true"}, "", "eu-west-2"},
		{"ECS metadata file", Options{}, ecs("/good"), "", "eu-west-3"},
		{"ECS TaskARN not a string is skipped", Options{}, ecs("/number"), "", ""},
		{"ECS TaskARN without region is skipped", Options{}, ecs("/short"), "", ""},
		{"ECS file not JSON is skipped", Options{}, ecs("/junk"), "", ""},
		{"ECS file missing is skipped", Options{}, ecs("/missing"), "", ""},
		{"ECS file ignored unless enabled", Options{}, env{"ECS_CONTAINER_METADATA_FILE": "/good", "AWS_EC2_METADATA_DISABLED": "true"}, "", ""},
		{"IMDS", Options{IMDSEndpoint: imdsSrv.URL}, env{}, "", "ap-south-1"},
		{"non-local ignores the SDK region", Options{}, env{"AWS_EC2_METADATA_DISABLED": "true"}, "sa-east-1", ""},
		{"local mode uses the SDK region", Options{LocalMode: true}, env{}, "sa-east-1", "sa-east-1"},
		{"local mode never asks IMDS", Options{LocalMode: true, IMDSEndpoint: imdsSrv.URL}, env{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Getenv, o.ReadFile = tt.env.get, readFile
			got, err := resolveRegion(context.Background(), o.withDefaults(), tt.sdkRegion)
			if tt.want == "" {
				if !errors.Is(err, ErrNoRegion) || !strings.Contains(err.Error(), "-n/--region") {
					t.Fatalf("got %q, %v; want ErrNoRegion with a hint", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestIMDSRegionGivesUpWithinASecond(t *testing.T) {
	srv := hangingServer(t)
	o := Options{IMDSEndpoint: srv.URL, Getenv: env{}.get}.withDefaults()
	start := time.Now()
	_, err := resolveRegion(context.Background(), o, "")
	if !errors.Is(err, ErrNoRegion) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("took %v, want about 1s at most", d)
	}
}

func TestResolveLocalModeReadsProfileRegion(t *testing.T) {
	hermetic(t)
	cfgPath := os.Getenv("AWS_CONFIG_FILE")
	if err := os.WriteFile(cfgPath, []byte("[default]\nregion = ca-central-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := Resolve(context.Background(), Options{LocalMode: true, Getenv: env{}.get, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.HTTPClient.CloseIdleConnections()
	if a.Region != "ca-central-1" {
		t.Fatalf("region = %q", a.Region)
	}
	if got := a.APIEndpoint.String(); got != "https://xray.ca-central-1.amazonaws.com" {
		t.Fatalf("endpoint = %q", got)
	}
}

func TestResolveFailsWithoutRegion(t *testing.T) {
	hermetic(t)
	_, err := Resolve(context.Background(), Options{Getenv: env{"AWS_EC2_METADATA_DISABLED": "true"}.get})
	if !errors.Is(err, ErrNoRegion) {
		t.Fatalf("err = %v", err)
	}
}

func TestResolveRejectsBrokenProfile(t *testing.T) {
	hermetic(t)
	t.Setenv("AWS_PROFILE", "does-not-exist")
	_, err := Resolve(context.Background(), Options{Region: "us-east-1", Getenv: env{}.get})
	if err == nil || !strings.Contains(err.Error(), "AWS_PROFILE") {
		t.Fatalf("err = %v", err)
	}
}

func TestResolveReadsMetadataFileFromDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ecs.json")
	os.WriteFile(path, []byte(`{"TaskARN":"arn:aws:ecs:us-gov-west-1:1:task/x"}`), 0o600)
	o := Options{Getenv: env{"ECS_ENABLE_CONTAINER_METADATA": "true", "ECS_CONTAINER_METADATA_FILE": path, "AWS_EC2_METADATA_DISABLED": "true"}.get}
	got, err := resolveRegion(context.Background(), o.withDefaults(), "")
	if err != nil || got != "us-gov-west-1" {
		t.Fatalf("got %q, %v", got, err)
	}
}
