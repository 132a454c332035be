package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	xraysvc "github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"

	"github.com/xrayd/xrayd/internal/config"
)

func startLocal(t *testing.T, tweak func(*config.Config)) (*Daemon, *xraysvc.Client) {
	t.Helper()
	cfg := config.Defaults()
	cfg.UDPAddress, cfg.TCPAddress = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Backend = []string{"local"}
	cfg.DataDir = t.TempDir()
	cfg.BufferMemoryMB = 16
	cfg.LocalMode = true
	if tweak != nil {
		tweak(cfg)
	}
	logs := &syncBuffer{}
	d, err := New(context.Background(), Options{Config: cfg, Version: "test", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	client := xraysvc.New(xraysvc.Options{
		BaseEndpoint: aws.String("http://" + d.TCPAddr().String()), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
	})
	return d, client
}

func TestLocalBackendStoresUDPSegmentsAndAnswersTheXRayAPI(t *testing.T) {
	d, client := startLocal(t, nil)
	ctx := context.Background()
	now := time.Now()
	tid := fmt.Sprintf("1-%08x-%024x", now.Unix(), 42)
	start := float64(now.UnixMilli())/1000 - 1
	api := fmt.Sprintf(`{"trace_id":%q,"id":"a000000000000001","name":"api","origin":"AWS::EC2::Instance","start_time":%.3f,"end_time":%.3f,"user":"alice","annotations":{"game":"chess","level":7},"http":{"request":{"method":"POST","url":"http://api.example.com/play"},"response":{"status":500}},"fault":true,"subsegments":[{"id":"b000000000000001","name":"DynamoDB","namespace":"aws","start_time":%.3f,"end_time":%.3f,"aws":{"operation":"GetItem","table_name":"games"}},{"id":"b000000000000002","name":"scores","namespace":"remote","start_time":%.3f,"end_time":%.3f,"http":{"request":{"method":"GET","url":"http://scores/"},"response":{"status":200}}}]}`,
		tid, start, start+1.5, start+0.1, start+0.3, start+0.4, start+0.9)
	scores := fmt.Sprintf(`{"trace_id":%q,"id":"c000000000000001","parent_id":"b000000000000002","name":"scores","start_time":%.3f,"end_time":%.3f}`, tid, start+0.45, start+0.85)
	c := udpConnLocal(t, d)
	for _, doc := range []string{api, scores} {
		fmt.Fprintf(c, "{\"format\":\"json\",\"version\":1}\n%s", doc)
	}
	// A second trace through PutTraceSegments, with one invalid document.
	tid2 := fmt.Sprintf("1-%08x-%024x", now.Unix(), 43)
	out, err := client.PutTraceSegments(ctx, &xraysvc.PutTraceSegmentsInput{TraceSegmentDocuments: []string{
		fmt.Sprintf(`{"trace_id":%q,"id":"d000000000000001","name":"worker","start_time":%.3f,"end_time":%.3f}`, tid2, start, start+0.2),
		`{"trace_id":"bogus","id":"d000000000000002","name":"worker","start_time":1,"end_time":2}`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.UnprocessedTraceSegments) != 1 || aws.ToString(out.UnprocessedTraceSegments[0].Id) != "d000000000000002" {
		t.Fatalf("unprocessed %+v", out.UnprocessedTraceSegments)
	}

	window := &xraysvc.GetTraceSummariesInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Minute))}
	var sums []types.TraceSummary
	waitUntil(t, 10*time.Second, "both traces stored", func() bool {
		res, err := client.GetTraceSummaries(ctx, window)
		if err != nil {
			t.Fatal(err)
		}
		sums = res.TraceSummaries
		return len(sums) == 2
	})
	filtered := *window
	filtered.FilterExpression = aws.String(`service("api") AND fault AND annotation.game = "chess" AND user = "alice" AND responsetime > 1`)
	res, err := client.GetTraceSummaries(ctx, &filtered)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.TraceSummaries) != 1 || aws.ToString(res.TraceSummaries[0].Id) != tid {
		t.Fatalf("filtered summaries: %+v", res.TraceSummaries)
	}
	s := res.TraceSummaries[0]
	if !aws.ToBool(s.HasFault) || s.Http == nil || aws.ToInt32(s.Http.HttpStatus) != 500 || len(s.Users) != 1 {
		t.Fatalf("summary fields: %+v", s)
	}
	bad := *window
	bad.FilterExpression = aws.String(`service("api" AND`)
	if _, err := client.GetTraceSummaries(ctx, &bad); err == nil || !strings.Contains(err.Error(), "InvalidRequestException") {
		t.Fatalf("bad filter: %v", err)
	}

	traces, err := client.BatchGetTraces(ctx, &xraysvc.BatchGetTracesInput{TraceIds: []string{tid}})
	if err != nil {
		t.Fatal(err)
	}
	if len(traces.Traces) != 1 || len(traces.Traces[0].Segments) < 3 {
		t.Fatalf("BatchGetTraces: %+v", traces.Traces)
	}

	graph, err := client.GetServiceGraph(ctx, &xraysvc.GetServiceGraphInput{StartTime: window.StartTime, EndTime: window.EndTime})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, svc := range graph.Services {
		names[aws.ToString(svc.Name)+"|"+aws.ToString(svc.Type)] = aws.ToString(svc.State)
	}
	for _, want := range []string{"api|AWS::EC2::Instance", "games|AWS::DynamoDB::Table", "scores|", "worker|"} {
		found := false
		for k := range names {
			if strings.HasPrefix(k, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("service graph lacks %s; has %v", want, names)
		}
	}
	tg, err := client.GetTraceGraph(ctx, &xraysvc.GetTraceGraphInput{TraceIds: []string{tid}})
	if err != nil || len(tg.Services) < 3 {
		t.Fatalf("GetTraceGraph: %v %d", err, len(tg.Services))
	}
	ts, err := client.GetTimeSeriesServiceStatistics(ctx, &xraysvc.GetTimeSeriesServiceStatisticsInput{
		StartTime: window.StartTime, EndTime: window.EndTime, EntitySelectorExpression: aws.String(`service("api")`), Period: aws.Int32(60)})
	if err != nil || len(ts.TimeSeriesServiceStatistics) == 0 {
		t.Fatalf("GetTimeSeriesServiceStatistics: %v %+v", err, ts)
	}
	rules, err := client.GetSamplingRules(ctx, &xraysvc.GetSamplingRulesInput{})
	if err != nil || len(rules.SamplingRuleRecords) != 1 || aws.ToString(rules.SamplingRuleRecords[0].SamplingRule.RuleName) != "Default" {
		t.Fatalf("GetSamplingRules: %v %+v", err, rules)
	}
	if got := d.Counters().Rejected.Load(); got != 1 {
		t.Fatalf("rejected counter %d, want 1", got)
	}
}

func TestLocalBackendServesTheUIWithCSP(t *testing.T) {
	d, _ := startLocal(t, nil)
	resp, err := http.Get("http://" + d.TCPAddr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(string(body), "<html") {
		t.Fatalf("UI: %d csp=%q", resp.StatusCode, csp)
	}
	resp, err = http.Post("http://"+d.TCPAddr().String()+"/NoSuchOperation", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("X-Amzn-Errortype") == "" {
		t.Fatalf("unknown operation: %d %v", resp.StatusCode, resp.Header)
	}
}
