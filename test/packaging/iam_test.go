package packaging

import (
	"path/filepath"
	"slices"
	"testing"
)

type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Principal map[string]any `json:"Principal"`
	Action    any            `json:"Action"` // string or list
	Resource  any            `json:"Resource"`
	Condition map[string]any `json:"Condition"`
}

func actions(s policyStatement) []string {
	switch a := s.Action.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, v := range a {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func TestDaemonPolicyGrantsExactlyTheDaemonActions(t *testing.T) {
	var p policyDocument
	decodeStrict(t, filepath.Join(repoRoot(t), "deploy", "iam", "xray-daemon-policy.json"), &p)
	if p.Version != "2012-10-17" {
		t.Errorf("Version %q, want 2012-10-17", p.Version)
	}
	want := []string{
		"xray:GetSamplingRules",
		"xray:GetSamplingStatisticSummaries",
		"xray:GetSamplingTargets",
		"xray:PutTelemetryRecords",
		"xray:PutTraceSegments",
	}
	var got []string
	for _, s := range p.Statement {
		if s.Effect != "Allow" || s.Resource != "*" {
			t.Errorf("statement %q: Effect %q Resource %v, want Allow on *", s.Sid, s.Effect, s.Resource)
		}
		got = append(got, actions(s)...)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("actions %q, want exactly %q", got, want)
	}
}

func TestTaskRoleTrustPolicyIsForECSTasks(t *testing.T) {
	var p policyDocument
	decodeStrict(t, filepath.Join(repoRoot(t), "deploy", "iam", "ecs-task-role-trust-policy.json"), &p)
	if len(p.Statement) != 1 {
		t.Fatalf("%d statements, want 1", len(p.Statement))
	}
	s := p.Statement[0]
	if s.Principal["Service"] != "ecs-tasks.amazonaws.com" || !slices.Equal(actions(s), []string{"sts:AssumeRole"}) {
		t.Errorf("principal %v actions %q, want ecs-tasks.amazonaws.com / sts:AssumeRole", s.Principal, actions(s))
	}
	if s.Condition == nil {
		t.Error("no Condition: add aws:SourceAccount / aws:SourceArn against the confused deputy")
	}
}
