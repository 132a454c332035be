package sampling

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"
	"github.com/aws/smithy-go"
)

// TestAWSSDKClientRoundTrip drives the handlers with the real AWS SDK for Go v2 client,
// proving the wire shapes (epoch-number timestamps, member names, error headers) decode.
func TestAWSSDKClientRoundTrip(t *testing.T) {
	c := newClock()
	e := newTestEngine(t, c)
	srv := newServer(t, e)
	client := xray.New(xray.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       "us-east-1",
		Credentials:  aws.AnonymousCredentials{},
		HTTPClient:   srv.Client(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	created, err := client.CreateSamplingRule(ctx, &xray.CreateSamplingRuleInput{SamplingRule: &types.SamplingRule{
		RuleName: aws.String("checkout"), ResourceARN: aws.String("*"), Priority: aws.Int32(5),
		FixedRate: 0.5, ReservoirSize: 7, ServiceName: aws.String("checkout"), ServiceType: aws.String("*"),
		Host: aws.String("*"), HTTPMethod: aws.String("POST"), URLPath: aws.String("/pay"), Version: aws.Int32(1),
		Attributes: map[string]string{},
	}})
	if err != nil {
		t.Fatalf("CreateSamplingRule: %v", err)
	}
	rec := created.SamplingRuleRecord
	if aws.ToString(rec.SamplingRule.RuleARN) != "arn:aws:xray:us-east-1:000000000000:sampling-rule/checkout" || !rec.CreatedAt.Equal(t0) {
		t.Fatalf("created = %+v", rec)
	}

	_, err = client.CreateSamplingRule(ctx, &xray.CreateSamplingRuleInput{SamplingRule: rec.SamplingRule})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != CodeRuleAlreadyExists {
		t.Fatalf("duplicate create: err = %v", err)
	}

	rules, err := client.GetSamplingRules(ctx, &xray.GetSamplingRulesInput{})
	if err != nil {
		t.Fatalf("GetSamplingRules: %v", err)
	}
	if n := len(rules.SamplingRuleRecords); n != 2 {
		t.Fatalf("got %d rules", n)
	}
	first, def := rules.SamplingRuleRecords[0].SamplingRule, rules.SamplingRuleRecords[1].SamplingRule
	if aws.ToString(first.RuleName) != "checkout" || first.FixedRate != 0.5 || first.ReservoirSize != 7 || aws.ToInt32(first.Priority) != 5 ||
		aws.ToString(first.HTTPMethod) != "POST" || aws.ToString(first.URLPath) != "/pay" {
		t.Errorf("first rule = %+v", first)
	}
	if aws.ToString(def.RuleName) != "Default" || aws.ToInt32(def.Priority) != 10000 || def.FixedRate != 0.05 || def.ReservoirSize != 1 || aws.ToInt32(def.Version) != 1 {
		t.Errorf("Default = %+v", def)
	}

	c.Advance(2*time.Second + 250*time.Millisecond)
	targets, err := client.GetSamplingTargets(ctx, &xray.GetSamplingTargetsInput{SamplingStatisticsDocuments: []types.SamplingStatisticsDocument{
		{RuleName: aws.String("checkout"), ClientID: aws.String("abcdef0123456789abcdef01"), Timestamp: aws.Time(c.Now()), RequestCount: 12, SampledCount: 8, BorrowCount: 1},
		{RuleName: aws.String("nope"), ClientID: aws.String("abcdef0123456789abcdef01"), Timestamp: aws.Time(c.Now()), RequestCount: 1},
	}})
	if err != nil {
		t.Fatalf("GetSamplingTargets: %v", err)
	}
	if len(targets.SamplingTargetDocuments) != 1 {
		t.Fatalf("targets = %+v", targets.SamplingTargetDocuments)
	}
	td := targets.SamplingTargetDocuments[0]
	if aws.ToString(td.RuleName) != "checkout" || td.FixedRate != 0.5 || aws.ToInt32(td.ReservoirQuota) != 7 || aws.ToInt32(td.Interval) != 10 ||
		!aws.ToTime(td.ReservoirQuotaTTL).Equal(c.Now().Add(time.Minute)) {
		t.Errorf("target = %+v (TTL %v)", td, aws.ToTime(td.ReservoirQuotaTTL))
	}
	if !aws.ToTime(targets.LastRuleModification).Equal(t0) {
		t.Errorf("LastRuleModification = %v", aws.ToTime(targets.LastRuleModification))
	}
	if len(targets.UnprocessedStatistics) != 1 || aws.ToString(targets.UnprocessedStatistics[0].ErrorCode) != "400" {
		t.Errorf("unprocessed = %+v", targets.UnprocessedStatistics)
	}

	sums, err := client.GetSamplingStatisticSummaries(ctx, &xray.GetSamplingStatisticSummariesInput{})
	if err != nil {
		t.Fatalf("GetSamplingStatisticSummaries: %v", err)
	}
	if len(sums.SamplingStatisticSummaries) != 1 {
		t.Fatalf("summaries = %+v", sums.SamplingStatisticSummaries)
	}
	s := sums.SamplingStatisticSummaries[0]
	if aws.ToString(s.RuleName) != "checkout" || s.RequestCount != 12 || s.SampledCount != 8 || s.BorrowCount != 1 || !aws.ToTime(s.Timestamp).Equal(t0) {
		t.Errorf("summary = %+v (at %v)", s, aws.ToTime(s.Timestamp))
	}

	_, err = client.DeleteSamplingRule(ctx, &xray.DeleteSamplingRuleInput{RuleName: aws.String("Default")})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != CodeInvalidRequest {
		t.Fatalf("delete Default: err = %v", err)
	}
	upd, err := client.UpdateSamplingRule(ctx, &xray.UpdateSamplingRuleInput{SamplingRuleUpdate: &types.SamplingRuleUpdate{
		RuleName: aws.String("Default"), FixedRate: aws.Float64(0.2),
	}})
	if err != nil || upd.SamplingRuleRecord.SamplingRule.FixedRate != 0.2 {
		t.Fatalf("update Default: %+v %v", upd, err)
	}
}
