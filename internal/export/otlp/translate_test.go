package otlp

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protowire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "segments", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// canonicalJSON renders traces with ptrace.JSONMarshaler, then orders resource spans,
// spans and every attribute list so that the golden files do not depend on map or
// batch order.
func canonicalJSON(t testing.TB, td ptrace.Traces) []byte {
	t.Helper()
	raw, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	v = canonical(v)
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func canonical(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = canonical(e)
		}
		if l, ok := x["attributes"].([]any); ok {
			sort.SliceStable(l, func(i, j int) bool { return key(l[i], "key") < key(l[j], "key") })
		}
		if l, ok := x["spans"].([]any); ok {
			sort.SliceStable(l, func(i, j int) bool { return key(l[i], "spanId") < key(l[j], "spanId") })
		}
		if l, ok := x["resourceSpans"].([]any); ok {
			sort.SliceStable(l, func(i, j int) bool { return firstSpanID(l[i]) < firstSpanID(l[j]) })
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = canonical(e)
		}
		return x
	}
	return v
}

func key(v any, k string) string {
	m, _ := v.(map[string]any)
	s, _ := m[k].(string)
	return s
}

func firstSpanID(rs any) string {
	m, _ := rs.(map[string]any)
	for _, ss := range asList(m["scopeSpans"]) {
		for _, sp := range asList(ss.(map[string]any)["spans"]) {
			return key(sp, "traceId") + key(sp, "spanId")
		}
	}
	return ""
}

func asList(v any) []any { l, _ := v.([]any); return l }

func TestTranslateMatchesGoldenFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "segments", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			td, unp := Translate([][]byte{readFixture(t, name)})
			if len(unp) != 0 {
				t.Fatalf("unprocessed: %+v", unp)
			}
			got := canonicalJSON(t, td)
			golden := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("translation of %s differs from %s (run with -update after checking):\n%s", name, golden, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the first differing lines, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

// spansByName indexes every span of td, and remembers each one's resource.
func spansByName(td ptrace.Traces) (map[string]ptrace.Span, map[string]pcommon.Resource) {
	spans := map[string]ptrace.Span{}
	res := map[string]pcommon.Resource{}
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j).Spans()
			for k := 0; k < ss.Len(); k++ {
				spans[ss.At(k).Name()] = ss.At(k)
				res[ss.At(k).Name()] = rs.Resource()
			}
		}
	}
	return spans, res
}

func attr(t *testing.T, m pcommon.Map, k string) any {
	t.Helper()
	v, ok := m.Get(k)
	if !ok {
		t.Errorf("attribute %q missing from %v", k, m.AsRaw())
		return nil
	}
	return v.AsRaw()
}

func wantAttrs(t *testing.T, what string, m pcommon.Map, want map[string]any) {
	t.Helper()
	for k, w := range want {
		if got := attr(t, m, k); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: %s = %v (%T), want %v (%T)", what, k, got, got, w, w)
		}
	}
}

func TestTranslateFullSegmentFieldByField(t *testing.T) {
	td, unp := Translate([][]byte{readFixture(t, "full_segment.json")})
	if len(unp) != 0 {
		t.Fatal(unp)
	}
	if td.SpanCount() != 6 || td.ResourceSpans().Len() != 1 {
		t.Fatalf("spans %d resources %d, want 6 in 1", td.SpanCount(), td.ResourceSpans().Len())
	}
	spans, res := spansByName(td)
	root := spans["orders-api"]
	wantTrace := "581cf771a006649127e371903a2de979"
	if root.TraceID().String() != wantTrace || root.SpanID().String() != "70de5b6f19ff9a0a" || !root.ParentSpanID().IsEmpty() {
		t.Errorf("root ids %s %s parent %s", root.TraceID(), root.SpanID(), root.ParentSpanID())
	}
	if root.Kind() != ptrace.SpanKindServer {
		t.Errorf("root kind %v", root.Kind())
	}
	if root.StartTimestamp() != 1478293361271000000 || root.EndTimestamp() != 1478293361449000000 {
		t.Errorf("root times %d %d", root.StartTimestamp(), root.EndTimestamp())
	}
	if root.Status().Code() != ptrace.StatusCodeError || root.Status().Message() != "Table not found: orders" {
		t.Errorf("root status %v %q", root.Status().Code(), root.Status().Message())
	}
	wantAttrs(t, "root", root.Attributes(), map[string]any{
		"http.method": "POST", "http.url": "https://orders.example.com/api/orders?id=7", "http.user_agent": "curl/8.5.0",
		"http.client_ip": "78.255.233.48", "http.status_code": int64(500), "http.response_content_length": int64(2156),
		"aws.xray.x_forwarded_for": true, "enduser.id": "alice@example.com", "aws.account_id": "123456789012",
		"aws.xray.error": true, "aws.xray.fault": true, "aws.xray.throttle": true,
		"customer_tier": "gold", "order_count": int64(3), "discount": 0.15, "express": true,
		"aws.xray.metadata.default": `{"cart":{"items":[1,2,3],"note":"gift wrap"}}`,
		"aws.xray.metadata.debug":   `{"retries":0}`,
	})
	for _, k := range []string{"ignored_null", "ignored_object", "aws.xray.in_progress"} {
		if _, ok := root.Attributes().Get(k); ok {
			t.Errorf("root has %q", k)
		}
	}
	wantAttrs(t, "resource", res["orders-api"].Attributes(), map[string]any{
		"service.name": "orders-api", "service.version": "1.4.2", "cloud.provider": "aws", "cloud.platform": "aws_ec2",
		"cloud.account.id": "123456789012", "cloud.availability_zone": "us-west-2c", "host.id": "i-0b5a4678fc325bg98",
		"host.type": "m5.large", "host.image.id": "ami-0123456789abcdef0", "telemetry.sdk.name": "X-Ray for Java",
		"telemetry.sdk.version": "2.15.0", "telemetry.sdk.language": "java", "aws.xray.origin": "AWS::EC2::Instance",
		"aws.xray.resource_arn": "arn:aws:ec2:us-west-2:123456789012:instance/i-0b5a4678fc325bg98",
	})

	evs := root.Events()
	if evs.Len() != 2 {
		t.Fatalf("events %d", evs.Len())
	}
	ev := evs.At(0)
	if ev.Name() != "exception" || ev.Timestamp() != root.EndTimestamp() {
		t.Errorf("event %q at %d", ev.Name(), ev.Timestamp())
	}
	wantAttrs(t, "exception", ev.Attributes(), map[string]any{
		"exception.type": "ResourceNotFoundException", "exception.message": "Table not found: orders",
		"aws.xray.exception.id": "e4c4e0c9f54c5d3a", "aws.xray.exception.remote": true,
		"aws.xray.exception.truncated": int64(2), "aws.xray.exception.skipped": int64(1), "aws.xray.exception.cause": "1c2d3e4f5a6b7c8d",
		"exception.stacktrace": "ResourceNotFoundException: Table not found: orders\n" +
			"\tat com.example.OrdersRepo.save(OrdersRepo.java: 42)\n" +
			"\tat com.example.OrdersApi.post(OrdersApi.java: 17)\n" +
			"\tat java.lang.Thread.run(: <unknown>)\n",
	})

	ddb := spans["DynamoDB"]
	if ddb.Kind() != ptrace.SpanKindClient || ddb.ParentSpanID() != root.SpanID() || ddb.TraceID() != root.TraceID() {
		t.Errorf("dynamodb kind %v parent %s trace %s", ddb.Kind(), ddb.ParentSpanID(), ddb.TraceID())
	}
	if ddb.Status().Code() != ptrace.StatusCodeError {
		t.Errorf("dynamodb status %v", ddb.Status().Code())
	}
	wantAttrs(t, "dynamodb", ddb.Attributes(), map[string]any{
		"aws.service": "DynamoDB", "aws.operation": "PutItem", "aws.region": "us-west-2", "aws.table_name": "orders",
		"aws.request_id": "3AIENM5J4ELQ3SPODHKBIRVIC3VV4KQNSO5AEMVJF66Q9ASUAAJG", "aws.xray.retries": int64(1), "http.status_code": int64(400),
	})
	sqs := spans["SQS"]
	wantAttrs(t, "sqs", sqs.Attributes(), map[string]any{
		"aws.service": "SQS", "aws.queue_url": "https://sqs.us-west-2.amazonaws.com/123456789012/orders-queue",
		"aws.xray.precursor_ids": []any{"53995c3f42cd8ad8"},
	})
	if sqs.Status().Code() != ptrace.StatusCodeUnset {
		t.Errorf("sqs status %v", sqs.Status().Code())
	}
	remote := spans["payments.example.com"]
	if remote.Kind() != ptrace.SpanKindClient || remote.Status().Code() != ptrace.StatusCodeError {
		t.Errorf("remote kind %v status %v", remote.Kind(), remote.Status().Code())
	}
	if _, ok := remote.Attributes().Get("aws.service"); ok {
		t.Error("remote subsegment has aws.service")
	}
	wantAttrs(t, "remote", remote.Attributes(), map[string]any{"aws.xray.traced": true, "http.status_code": int64(404), "http.response_content_length": "-1"})
	local := spans["marshal"]
	if local.Kind() != ptrace.SpanKindInternal || local.ParentSpanID() != remote.SpanID() {
		t.Errorf("nested local kind %v parent %s", local.Kind(), local.ParentSpanID())
	}
	sql := spans["orders@db.example.com"]
	wantAttrs(t, "sql", sql.Attributes(), map[string]any{
		"db.connection_string": "jdbc:postgresql://db.example.com:5432", "db.name": "orders", "db.system": "PostgreSQL",
		"db.statement": "INSERT INTO orders VALUES (?, ?)", "db.user": "app", "aws.xray.sql.preparation": "statement",
		"aws.xray.sql.database_version": "15.4", "aws.xray.sql.driver_version": "PostgreSQL JDBC 42.6.0",
	})
}

func TestTranslateIndependentSubsegmentsKeepTheirParent(t *testing.T) {
	td, _ := Translate([][]byte{readFixture(t, "independent_subsegment.json"), readFixture(t, "subsegment_array.json")})
	spans, res := spansByName(td)
	sub := spans["api.example.com"]
	if sub.ParentSpanID().String() != "53995c3f42cd8ad8" || sub.Kind() != ptrace.SpanKindClient {
		t.Errorf("independent subsegment parent %s kind %v", sub.ParentSpanID(), sub.Kind())
	}
	if sub.StartTimestamp() != 1478293361271000000 || sub.EndTimestamp() != 1478293361449000000 {
		t.Errorf("exponent times %d %d", sub.StartTimestamp(), sub.EndTimestamp())
	}
	wantAttrs(t, "resource", res["api.example.com"].Attributes(), map[string]any{"service.name": "api.example.com", "cloud.provider": "unknown"})
	cache, ddb := spans["cache"], spans["DynamoDB"]
	if cache.Kind() != ptrace.SpanKindInternal || cache.ParentSpanID().String() != "aaaaaaaaaaaaaaaa" {
		t.Errorf("array element 1: kind %v parent %s", cache.Kind(), cache.ParentSpanID())
	}
	if ddb.ParentSpanID() != cache.SpanID() || ddb.Kind() != ptrace.SpanKindClient {
		t.Errorf("array element 2: parent %s kind %v", ddb.ParentSpanID(), ddb.Kind())
	}
}

func TestTranslateInProgressBecomesUnfinishedSpan(t *testing.T) {
	td, _ := Translate([][]byte{readFixture(t, "in_progress.json"), readFixture(t, "complete.json")})
	rss := td.ResourceSpans()
	first := rss.At(0).ScopeSpans().At(0).Spans().At(0)
	if first.EndTimestamp() != first.StartTimestamp() || first.StartTimestamp() != 1704067200250000000 {
		t.Errorf("unfinished span times %d %d", first.StartTimestamp(), first.EndTimestamp())
	}
	wantAttrs(t, "in progress", first.Attributes(), map[string]any{"aws.xray.in_progress": true})
	spans, _ := spansByName(td)
	if _, ok := spans["batch-job"].Attributes().Get("aws.xray.in_progress"); ok {
		t.Error("complete segment marked in progress")
	}
	step2 := spans["step-2"]
	wantAttrs(t, "embedded in progress", step2.Attributes(), map[string]any{"aws.xray.in_progress": true})
	if step2.EndTimestamp() != step2.StartTimestamp() {
		t.Errorf("embedded in-progress end %d", step2.EndTimestamp())
	}
}

func TestTranslateContainersAndLinks(t *testing.T) {
	td, _ := Translate([][]byte{readFixture(t, "containers.json"), readFixture(t, "lambda_cause_id.json")})
	spans, res := spansByName(td)
	wantAttrs(t, "containers", res["checkout"].Attributes(), map[string]any{
		"cloud.platform": "aws_eks", "container.name": "checkout-7c9f", "container.id": "abcdef0123456789",
		"k8s.pod.name": "checkout-7c9f-xk2p", "k8s.cluster.name": "prod-eks", "aws.ecs.task.arn": "arn:aws:ecs:eu-west-1:210987654321:task/xyz",
		"aws.ecs.launchtype": "FARGATE", "cloud.availability_zone": "eu-west-1a", "service.namespace": "checkout-prod",
		"service.instance.id": "17", "service.version": "v42", "telemetry.sdk.language": "go",
		"aws.log.group.names": []any{"/aws/eks/prod/checkout"},
	})
	if got := spans["checkout"].StartTimestamp(); got != 1693499614123456000 {
		t.Errorf("microsecond start %d", got)
	}
	if p := spans["checkout"].ParentSpanID().String(); p != "9f8e7d6c5b4a3f2e" {
		t.Errorf("segment parent %s", p)
	}
	fn := spans["resize-image"]
	if fn.Status().Code() != ptrace.StatusCodeError || fn.Status().Message() != "cccccccccccccccc" {
		t.Errorf("cause id status %v %q", fn.Status().Code(), fn.Status().Message())
	}
	wantAttrs(t, "lambda", res["resize-image"].Attributes(), map[string]any{"cloud.platform": "aws_lambda", "cloud.provider": "aws"})
	if fn.Links().Len() != 1 || fn.Links().At(0).SpanID().String() != "eeeeeeeeeeeeeeee" {
		t.Fatalf("links %d", fn.Links().Len())
	}
	wantAttrs(t, "s3", spans["S3"].Attributes(), map[string]any{"aws.s3.bucket": "images", "aws.s3.key": "cat.jpg"})
}

func TestTranslateReportsInvalidDocumentsByPosition(t *testing.T) {
	good := readFixture(t, "in_progress.json")
	tests := []struct {
		name, doc, code string
	}{
		{"not json", `{"id":`, "InvalidJSON"},
		{"garbage", `hello`, "InvalidJSON"},
		{"empty", ``, "InvalidJSON"},
		{"not an object", `42`, "InvalidJSON"},
		{"trailing data", `{"id":"0000000000000001"} x`, "InvalidJSON"},
		{"missing id", `{"name":"a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1,"end_time":2}`, "MissingId"},
		{"bad id", `{"id":"xyz","name":"a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1,"end_time":2}`, "InvalidId"},
		{"missing trace", `{"id":"0000000000000001","name":"a","start_time":1,"end_time":2}`, "MissingTraceId"},
		{"bad trace", `{"id":"0000000000000001","name":"a","trace_id":"2-581cf771-a006649127e371903a2de979","start_time":1,"end_time":2}`, "InvalidTraceId"},
		{"missing name", `{"id":"0000000000000001","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1,"end_time":2}`, "MissingName"},
		{"missing start", `{"id":"0000000000000001","name":"a","trace_id":"1-581cf771-a006649127e371903a2de979","end_time":2}`, "MissingStartTime"},
		{"bad nested id", `{"id":"0000000000000001","name":"a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1,"end_time":2,"subsegments":[{"name":"b","start_time":1}]}`, "MissingId"},
		{"subsegment without parent", `{"type":"subsegment","id":"0000000000000001","name":"a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1,"end_time":2}`, "MissingParentId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td, unp := Translate([][]byte{good, []byte(tt.doc), good})
			if len(unp) != 1 || unp[0].Index != 1 || unp[0].Code != tt.code || unp[0].Retryable || unp[0].Message == "" {
				t.Fatalf("unprocessed %+v, want one %s at index 1", unp, tt.code)
			}
			if td.SpanCount() != 2 {
				t.Fatalf("%d spans from the two good documents", td.SpanCount())
			}
		})
	}
	_, unp := Translate([][]byte{[]byte(`{"id":"0000000000000007","trace_id":"1-581cf771-a006649127e371903a2de979"}`)})
	if unp[0].ID != "0000000000000007" || unp[0].TraceID != "1-581cf771-a006649127e371903a2de979" {
		t.Errorf("ids not reported: %+v", unp[0])
	}
}

func TestTranslateToleratesWrongTypesAndEscapes(t *testing.T) {
	doc := `{"name":"a","id":"0000000000000001","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1.5,"end_time":"soon",` +
		`"http":"x","aws":[1],"annotations":{"ok":"y\u00e9\n","bad":[1]},"metadata":"nope","cause":7,"subsegments":[1,"x"],"in_progress":"no"}`
	td, unp := Translate([][]byte{[]byte(doc)})
	if len(unp) != 0 || td.SpanCount() != 1 {
		t.Fatalf("unprocessed %+v spans %d", unp, td.SpanCount())
	}
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	wantAttrs(t, "lenient", sp.Attributes(), map[string]any{"ok": "yé\n", "aws.xray.in_progress": true})
	if _, ok := sp.Attributes().Get("bad"); ok {
		t.Error("array annotation kept")
	}
}

func TestDecoderHandlesSurrogatesAndInvalidUTF8(t *testing.T) {
	var d decoder
	for in, want := range map[string]string{
		`"\ud83d\ude00"`:   "😀",
		`"\ud83d"`:         "\uFFFD",
		`"\ud83dx"`:        "\uFFFDx",
		"\"a\xffb\"":       "a\uFFFDb",
		"\"a\xff\\nb\"":    "a\uFFFD\nb",
		`"\/\\\"\b\f\r\t"`: "/\\\"\b\f\r\t",
	} {
		d.reset([]byte(in))
		b, ok := d.text()
		got := string(b)
		if !ok || got != want || d.end() != nil {
			t.Errorf("%q -> %q (%v, %v), want %q", in, got, ok, d.err, want)
		}
	}
}

func TestParseTimeIsExactForDecimals(t *testing.T) {
	for in, want := range map[string]int64{
		"1478293361.271":    1478293361271000000,
		"1478293361":        1478293361000000000,
		"1478293361.123456": 1478293361123456000,
		"1.478293361271E9":  1478293361271000000,
		"0.5":               500000000,
	} {
		got, err := parseTime([]byte(in))
		if err != nil || got != want {
			t.Errorf("%s -> %d %v, want %d", in, got, err, want)
		}
	}
}

func FuzzTranslate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "segments", "*.json"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(`{"a":[[[[[[[[[[]]]]]]]]]]}`))
	f.Add([]byte(`"\ud800\udc00"`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		td, unp := Translate([][]byte{doc})
		if len(unp) == 0 && td.SpanCount() == 0 {
			t.Fatal("document neither translated nor reported")
		}
		if _, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td); err != nil {
			t.Fatal(err)
		}
		if len(unp) == 0 && !json.Valid(doc) {
			t.Fatalf("invalid JSON accepted: %q", doc)
		}
	})
}

func TestTranslateGroupsConsecutiveDocumentsOfOneResource(t *testing.T) {
	docs := [][]byte{
		readFixture(t, "in_progress.json"),
		[]byte(`{"name":"batch-job","id":"0000000000000002","trace_id":"1-65a00000-bbbbbbbbbbbbbbbbbbbbbbbb","start_time":1,"end_time":2,"origin":"AWS::ECS::Container","aws":{"ecs":{"container":"batch"}}}`),
		readFixture(t, "escapes.json"),
		readFixture(t, "in_progress.json"),
	}
	td, _ := Translate(docs)
	rss := td.ResourceSpans()
	if rss.Len() != 3 {
		t.Fatalf("%d resource spans, want 3 (two alike in a row, one other, one again)", rss.Len())
	}
	if n := rss.At(0).ScopeSpans().At(0).Spans().Len(); n != 2 {
		t.Fatalf("first resource holds %d spans, want 2", n)
	}
}

func TestProtobufLengthsOfEverySize(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 1 << 21} {
		var p pb
		p.b = append(p.b, 0xAA)
		st := p.begin(3)
		for i := 0; i < n; i++ {
			p.b = append(p.b, byte(i))
		}
		p.end(st)
		if p.b[0] != 0xAA {
			t.Fatal("prefix clobbered")
		}
		num, typ, tagLen := protowire.ConsumeTag(p.b[1:])
		v, m := protowire.ConsumeBytes(p.b[1+tagLen:])
		if num != 3 || typ != protowire.BytesType || m < 0 || len(v) != n || 1+tagLen+m != len(p.b) {
			t.Fatalf("length %d: field %d type %d consumed %d of %d", n, num, typ, m, len(p.b))
		}
		for i := range v {
			if v[i] != byte(i) {
				t.Fatalf("length %d: content moved wrongly at %d", n, i)
			}
		}
	}
}
