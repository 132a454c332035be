package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"
	sdksampling "github.com/aws/aws-xray-sdk-go/strategy/sampling"
	xraysdk "github.com/aws/aws-xray-sdk-go/xray"

	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/sampling"
	"github.com/xrayd/xrayd/internal/store"
)

type fixture struct {
	srv      *httptest.Server
	store    *store.Store
	client   *xray.Client
	counters *counters.Set
}

func newFixture(t *testing.T, akid, secret string) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng, err := sampling.New(sampling.Options{Region: "us-east-1", AccountID: "000000000000", Persister: st})
	if err != nil {
		t.Fatal(err)
	}
	c := &counters.Set{}
	srv := httptest.NewServer(New(Options{Store: st, Sampling: eng, Counters: c, AccessKeyID: akid, SecretAccessKey: secret, Region: "us-east-1"}))
	t.Cleanup(srv.Close)
	client := xray.New(xray.Options{BaseEndpoint: aws.String(srv.URL), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		// Default retries: the SDK retries a kept-alive connection that net/http closed
		// under it (aws-sdk-go-v2#2737), which -race runs hit now and then.
		RetryMaxAttempts: 3})
	return &fixture{srv: srv, store: st, client: client, counters: c}
}

// sampleTrace is a two-service trace: api (EC2, root, user alice, annotations) calls
// backend (traced) and DynamoDB table "users" (inferred).
func sampleTrace(now time.Time, n int, status int) (string, []string) {
	ts := float64(now.Unix()) - 30 + float64(n)
	tid := fmt.Sprintf("1-%08x-%024d", int64(ts), n)
	root := fmt.Sprintf(`{"name":"api","id":"a%015d","trace_id":"%s","start_time":%f,"end_time":%f,"origin":"AWS::EC2::Instance","user":"alice",
		"http":{"request":{"method":"GET","url":"http://api/x/%d","client_ip":"10.0.0.1","user_agent":"ua"},"response":{"status":%d}},
		"annotations":{"game":"g%d","level":%d,"vip":true},
		"subsegments":[
		 {"id":"b%015d","name":"backend","namespace":"remote","start_time":%f,"end_time":%f,"http":{"request":{"url":"http://backend/","traced":true},"response":{"status":200}}},
		 {"id":"c%015d","name":"DynamoDB","namespace":"aws","start_time":%f,"end_time":%f,"aws":{"operation":"GetItem","table_name":"users"},"http":{"response":{"status":200}}}]}`,
		n, tid, ts, ts+1.5, n, status, n, n, n, ts+0.1, ts+0.6, n, ts+0.7, ts+0.8)
	callee := fmt.Sprintf(`{"name":"backend","id":"d%015d","trace_id":"%s","parent_id":"b%015d","start_time":%f,"end_time":%f,"http":{"response":{"status":200}}}`,
		n, tid, n, ts+0.15, ts+0.55)
	return tid, []string{root, callee}
}

func TestEndToEndWithSDKClient(t *testing.T) {
	f := newFixture(t, "", "")
	ctx := context.Background()
	now := time.Now()
	var ids []string
	var docs []string
	for i := 0; i < 12; i++ {
		status := 200
		if i%4 == 3 {
			status = 503
		}
		id, d := sampleTrace(now, i, status)
		ids = append(ids, id)
		docs = append(docs, d...)
	}
	docs = append(docs, `{"id":"bad"}`)
	put, err := f.client.PutTraceSegments(ctx, &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs})
	if err != nil {
		t.Fatal(err)
	}
	if len(put.UnprocessedTraceSegments) != 1 || aws.ToString(put.UnprocessedTraceSegments[0].ErrorCode) != "InvalidId" {
		t.Errorf("unprocessed = %+v", put.UnprocessedTraceSegments)
	}
	if f.counters.Received.Load() != 24 || f.counters.Rejected.Load() != 1 {
		t.Errorf("counters received=%d rejected=%d", f.counters.Received.Load(), f.counters.Rejected.Load())
	}

	start, end := now.Add(-5*time.Minute), now.Add(time.Minute)
	sums, err := f.client.GetTraceSummaries(ctx, &xray.GetTraceSummariesInput{StartTime: &start, EndTime: &end,
		FilterExpression: aws.String(`service("backend") AND fault AND annotation.vip = true AND user = "alice"`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums.TraceSummaries) != 3 {
		t.Fatalf("fault traces = %d, want 3", len(sums.TraceSummaries))
	}
	s := sums.TraceSummaries[0]
	if aws.ToString(s.Id) != ids[11] || !aws.ToBool(s.HasFault) || aws.ToFloat64(s.ResponseTime) != 1.5 ||
		aws.ToInt32(s.Http.HttpStatus) != 503 || aws.ToString(s.Http.HttpMethod) != "GET" || aws.ToString(s.Users[0].UserName) != "alice" {
		t.Errorf("summary = %+v", s)
	}
	if v := s.Annotations["level"]; len(v) != 1 {
		t.Errorf("annotations = %+v", s.Annotations)
	} else if nv, ok := v[0].AnnotationValue.(*types.AnnotationValueMemberNumberValue); !ok || nv.Value != 11 {
		t.Errorf("level annotation = %#v", v[0].AnnotationValue)
	}
	if len(s.ServiceIds) != 3 || aws.ToString(s.EntryPoint.Name) != "api" {
		t.Errorf("service ids = %+v", s.ServiceIds)
	}

	// pagination through the paginator: page size is 100, so make the filter match all
	p := xray.NewGetTraceSummariesPaginator(f.client, &xray.GetTraceSummariesInput{StartTime: &start, EndTime: &end})
	total := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total += len(page.TraceSummaries)
	}
	if total != 12 {
		t.Errorf("all summaries = %d", total)
	}

	bt, err := f.client.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: []string{ids[0], "1-00000000-000000000000000000000000"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bt.Traces) != 1 || len(bt.Traces[0].Segments) != 3 || len(bt.UnprocessedTraceIds) != 1 {
		t.Fatalf("BatchGetTraces = %+v", bt)
	}
	inferred := 0
	for _, seg := range bt.Traces[0].Segments {
		var m map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(seg.Document)), &m); err != nil {
			t.Fatal(err)
		}
		if m["inferred"] == true {
			inferred++
			if m["origin"] != "AWS::DynamoDB::Table" {
				t.Errorf("inferred = %v", m)
			}
		}
	}
	if inferred != 1 {
		t.Errorf("inferred segments = %d", inferred)
	}

	g, err := f.client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: &start, EndTime: &end})
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]types.Service{}
	for _, n := range g.Services {
		nodes[aws.ToString(n.Name)+"/"+aws.ToString(n.Type)] = n
	}
	api, users, client := nodes["api/AWS::EC2::Instance"], nodes["users/AWS::DynamoDB::Table"], nodes["api/client"]
	if api.SummaryStatistics == nil || aws.ToInt64(api.SummaryStatistics.TotalCount) != 12 ||
		aws.ToInt64(api.SummaryStatistics.FaultStatistics.TotalCount) != 3 || !aws.ToBool(api.Root) {
		t.Errorf("api node = %+v", api)
	}
	if aws.ToString(users.State) != "unknown" || len(client.Edges) != 1 || aws.ToInt32(client.Edges[0].ReferenceId) != aws.ToInt32(api.ReferenceId) {
		t.Errorf("users=%+v client=%+v", users, client)
	}
	if len(api.Edges) != 2 {
		t.Errorf("api edges = %d", len(api.Edges))
	}
	for _, e := range api.Edges {
		if aws.ToInt64(e.SummaryStatistics.TotalCount) != 12 || len(e.ResponseTimeHistogram) == 0 {
			t.Errorf("edge = %+v", e)
		}
	}

	tg, err := f.client.GetTraceGraph(ctx, &xray.GetTraceGraphInput{TraceIds: ids[:2]})
	if err != nil || len(tg.Services) != 4 {
		t.Fatalf("GetTraceGraph: %v %d", err, len(tg.Services))
	}

	tsOut, err := f.client.GetTimeSeriesServiceStatistics(ctx, &xray.GetTimeSeriesServiceStatisticsInput{StartTime: &start, EndTime: &end,
		EntitySelectorExpression: aws.String(`service("api")`), Period: aws.Int32(60)})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range tsOut.TimeSeriesServiceStatistics {
		n += aws.ToInt64(p.ServiceSummaryStatistics.TotalCount)
	}
	if n != 12 {
		t.Errorf("time series total = %d", n)
	}

	if _, err := f.client.PutTelemetryRecords(ctx, &xray.PutTelemetryRecordsInput{TelemetryRecords: []types.TelemetryRecord{{Timestamp: &now, SegmentsReceivedCount: aws.Int32(3)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.GetSamplingRules(ctx, &xray.GetSamplingRulesInput{}); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t, "", "")
	tests := []struct {
		path, body string
		status     int
		code, msg  string
	}{
		{"/Nope", `{}`, 404, "UnknownOperationException", ""},
		{"/TraceSummaries", `{"StartTime":10,"EndTime":5}`, 400, "InvalidRequestException", "StartTime must be before EndTime"},
		{"/TraceSummaries", `{"StartTime":"2024-01-01T00:00:00Z","EndTime":"1704070000","FilterExpression":"responsetime >"}`, 400, "InvalidRequestException", "FilterExpression"},
		{"/TraceSummaries", `{"StartTime":1,"EndTime":5,"NextToken":"x"}`, 400, "InvalidRequestException", "NextToken"},
		{"/TraceSummaries", `{"StartTime":1`, 400, "SerializationException", ""},
		{"/TraceSegments", `{}`, 400, "InvalidRequestException", "TraceSegmentDocuments"},
		{"/TimeSeriesServiceStatistics", `{"StartTime":1,"EndTime":5,"Period":"61"}`, 400, "InvalidRequestException", "Period"},
		{"/ServiceGraph", `{"StartTime":1,"EndTime":5,"GroupName":"nope"}`, 400, "InvalidRequestException", "group"},
	}
	for _, tc := range tests {
		resp, err := http.Post(f.srv.URL+tc.path, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("x-amzn-ErrorType") != tc.code || body.Type != tc.code ||
			!strings.Contains(body.Message, tc.msg) || resp.Header.Get("x-amzn-RequestId") == "" {
			t.Errorf("%s %s: %d %q %+v", tc.path, tc.body, resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body)
		}
	}
}

func signedRequest(t *testing.T, url, path, body, akid, secret string, at time.Time) *http.Request {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+path, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Date", at.UTC().Format("20060102T150405Z"))
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
		req, hashHex(body), "xray", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestSignatureVerification(t *testing.T) {
	f := newFixture(t, "AKID", "SECRET")
	now := time.Now()
	start, end := now.Add(-time.Minute), now
	// the SDK client signs with the right key
	if _, err := f.client.GetServiceGraph(context.Background(), &xray.GetServiceGraphInput{StartTime: &start, EndTime: &end}); err != nil {
		t.Fatalf("signed SDK call refused: %v", err)
	}
	body := `{"StartTime":1,"EndTime":2}`
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"good key", signedRequest(t, f.srv.URL, "/ServiceGraph", body, "AKID", "SECRET", now), 200, ""},
		{"wrong secret", signedRequest(t, f.srv.URL, "/ServiceGraph", body, "AKID", "WRONG", now), 403, "InvalidSignatureException"},
		{"unknown key", signedRequest(t, f.srv.URL, "/ServiceGraph", body, "OTHER", "SECRET", now), 403, "UnrecognizedClientException"},
		{"clock skew", signedRequest(t, f.srv.URL, "/ServiceGraph", body, "AKID", "SECRET", now.Add(-20*time.Minute)), 403, "InvalidSignatureException"},
		{"unsigned", mustReq(http.NewRequest(http.MethodPost, f.srv.URL+"/ServiceGraph", strings.NewReader(body))), 403, "MissingAuthenticationTokenException"},
		{"unsigned sampling rules", mustReq(http.NewRequest(http.MethodPost, f.srv.URL+"/GetSamplingRules", strings.NewReader(`{}`))), 200, ""},
		{"unsigned sampling targets", mustReq(http.NewRequest(http.MethodPost, f.srv.URL+"/SamplingTargets", strings.NewReader(`{"SamplingStatisticsDocuments":[]}`))), 200, ""},
		{"unsigned rule creation", mustReq(http.NewRequest(http.MethodPost, f.srv.URL+"/CreateSamplingRule", strings.NewReader(`{}`))), 403, "MissingAuthenticationTokenException"},
	}
	tampered := signedRequest(t, f.srv.URL, "/ServiceGraph", body, "AKID", "SECRET", now)
	tampered.Body = http.NoBody
	tampered.ContentLength = 0
	tests = append(tests, struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{"tampered body", tampered, 403, "InvalidSignatureException"})
	for _, tc := range tests {
		resp, err := http.DefaultClient.Do(tc.req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("x-amzn-ErrorType") != tc.code {
			t.Errorf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), tc.status, tc.code)
		}
	}
	bad := xray.New(xray.Options{BaseEndpoint: aws.String(f.srv.URL), Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "NOPE", "")})
	if _, err := bad.GetServiceGraph(context.Background(), &xray.GetServiceGraphInput{StartTime: &start, EndTime: &end}); err == nil ||
		!strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Errorf("wrong secret via SDK: %v", err)
	}
}

func mustReq(r *http.Request, err error) *http.Request {
	if err != nil {
		panic(err)
	}
	r.Header.Set("Content-Type", "application/json")
	return r
}

// TestSegmentsFromXRaySDK runs the real aws-xray-sdk-go against a UDP socket and feeds
// what it emits through the API.
func TestSegmentsFromXRaySDK(t *testing.T) {
	f := newFixture(t, "", "")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	strat, err := sdksampling.NewLocalizedStrategyFromJSONBytes([]byte(`{"version":2,"default":{"fixed_target":1000,"rate":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := xraysdk.Configure(xraysdk.Config{DaemonAddr: pc.LocalAddr().String(), SamplingStrategy: strat, ServiceVersion: "1.0"}); err != nil {
		t.Fatal(err)
	}
	ctx, seg := xraysdk.BeginSegment(context.Background(), "sdk-service")
	_ = xraysdk.AddAnnotation(ctx, "order", "o-42")
	sctx, sub := xraysdk.BeginSubsegment(ctx, "work")
	_ = xraysdk.AddAnnotation(sctx, "items", 3)
	time.Sleep(2 * time.Millisecond)
	sub.Close(nil)
	seg.Close(nil)
	traceID := seg.TraceID

	var docs []string
	buf := make([]byte, 65536)
	_ = pc.SetReadDeadline(time.Now().Add(2 * time.Second))
	for len(docs) < 1 {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("reading the SDK's datagram: %v", err)
		}
		_, body, ok := strings.Cut(string(buf[:n]), "\n")
		if !ok {
			t.Fatalf("datagram without header: %q", buf[:n])
		}
		docs = append(docs, body)
	}
	put, err := f.client.PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs})
	if err != nil || len(put.UnprocessedTraceSegments) != 0 {
		t.Fatalf("put: %v %+v", err, put.UnprocessedTraceSegments)
	}
	now := time.Now()
	start, end := now.Add(-time.Minute), now.Add(time.Minute)
	sums, err := f.client.GetTraceSummaries(context.Background(), &xray.GetTraceSummariesInput{StartTime: &start, EndTime: &end,
		FilterExpression: aws.String(`annotation.order = "o-42" AND annotation.items = 3`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums.TraceSummaries) != 1 || aws.ToString(sums.TraceSummaries[0].Id) != traceID {
		t.Fatalf("summaries = %+v", sums.TraceSummaries)
	}
}
