package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/xrayd/xrayd/internal/filter"
	"github.com/xrayd/xrayd/internal/sampling"
	"github.com/xrayd/xrayd/internal/trace"
)

const t0 = 1_700_000_000.0

func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustFilter(t testing.TB, src string) *filter.Expr {
	t.Helper()
	x, err := filter.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func ingest(t testing.TB, s *Store, docs [][]byte) {
	t.Helper()
	bad, err := s.Ingest(context.Background(), docs)
	if err != nil || len(bad) != 0 {
		t.Fatalf("Ingest: %v %+v", err, bad)
	}
}

func summaries(t testing.TB, s *Store, q SummaryQuery) []trace.Summary {
	t.Helper()
	var out []trace.Summary
	for {
		p, err := s.TraceSummaries(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range p.Summaries {
			var sm trace.Summary
			if err := json.Unmarshal(raw, &sm); err != nil {
				t.Fatal(err)
			}
			out = append(out, sm)
		}
		if p.NextToken == "" {
			return out
		}
		q.NextToken = p.NextToken
	}
}

func TestIngestReportsInvalidDocuments(t *testing.T) {
	s := openTest(t, Options{})
	bad, err := s.Ingest(context.Background(), [][]byte{
		[]byte(`{"id":"0123456789abcdef","name":"a","start_time":1,"end_time":2}`),
		[]byte(`not json`),
	})
	if err != nil || len(bad) != 2 {
		t.Fatalf("bad = %+v, err = %v", bad, err)
	}
	if bad[0].Id != "0123456789abcdef" || bad[0].ErrorCode != trace.CodeMissingField || bad[1].ErrorCode != trace.CodeInvalidJSON {
		t.Errorf("unprocessed = %+v", bad)
	}
}

func TestIngestAndQuery(t *testing.T) {
	s := openTest(t, Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	var ids []string
	for i := 0; i < 40; i++ {
		id, docs := genTrace(rng, i, t0+float64(i))
		ids = append(ids, id)
		// split every trace across two batches to exercise re-assembly
		ingest(t, s, docs[:4])
		ingest(t, s, docs[4:])
	}
	ctx := context.Background()
	all := summaries(t, s, SummaryQuery{Start: t0, End: t0 + 100, PageSize: 7})
	if len(all) != 40 {
		t.Fatalf("summaries = %d, want 40", len(all))
	}
	if all[0].Id != ids[39] || all[39].Id != ids[0] {
		t.Errorf("not newest first: %s ... %s", all[0].Id, all[39].Id)
	}
	sm := all[39]
	if sm.Revision != 10 || len(sm.ServiceIds) != 8 || sm.EntryPoint.Name != "svc-0" || sm.Http.HttpMethod != "POST" || len(sm.Users) != 1 {
		t.Errorf("summary = %+v", sm)
	}
	if v := sm.Annotations["customer"]; len(v) != 1 || *v[0].AnnotationValue.StringValue != "c-0" {
		t.Errorf("annotations = %+v", sm.Annotations)
	}
	tests := []struct {
		expr string
		want func(i int) bool
	}{
		{`service("svc-3")`, func(i int) bool { return slices.Contains(traceServices(i), 3) }},
		{`edge("svc-0", "svc-1")`, func(i int) bool { return i%20 == 0 }},
		{`user = "user-5"`, func(i int) bool { return i%100 == 5 }},
		{`annotation.tier = 2`, func(i int) bool { return i%3 == 2 }},
		{`service("table-1")`, func(i int) bool { return i%20%5 == 1 }},
	}
	for _, tc := range tests {
		got := summaries(t, s, SummaryQuery{Start: t0, End: t0 + 100, Filter: mustFilter(t, tc.expr), PageSize: 3})
		want := 0
		for i := 0; i < 40; i++ {
			if tc.want(i) {
				want++
			}
		}
		if len(got) != want {
			t.Errorf("%s: %d traces, want %d", tc.expr, len(got), want)
		}
	}
	if got := summaries(t, s, SummaryQuery{Start: t0 + 10, End: t0 + 20}); len(got) != 10 {
		t.Errorf("window: %d traces, want 10", len(got))
	}
	if _, err := s.TraceSummaries(ctx, SummaryQuery{Start: t0, End: t0 + 100, NextToken: "garbage"}); err != ErrInvalidToken {
		t.Errorf("bad token: %v", err)
	}

	res, missing, err := s.Traces(ctx, []string{ids[0], "1-00000000-000000000000000000000000"})
	if err != nil || len(res) != 1 || len(missing) != 1 {
		t.Fatalf("Traces: %v %d %v", err, len(res), missing)
	}
	if n := len(res[0].Segments); n != 8 { // 7 real + 1 inferred DynamoDB
		t.Errorf("segments = %d, want 8", n)
	}

	g, err := s.ServiceGraph(ctx, t0, t0+100, nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]trace.GraphService{}
	for _, n := range g {
		byName[n.Name+"/"+n.Type] = n
	}
	root := byName["svc-0/AWS::EC2::Instance"]
	if root.SummaryStatistics == nil || root.SummaryStatistics.TotalCount != 2 || !root.Root {
		t.Errorf("svc-0 node: %+v", root)
	}
	if c := byName["svc-0/client"]; len(c.Edges) != 1 || c.Edges[0].SummaryStatistics.TotalCount != 2 {
		t.Errorf("client node: %+v", c)
	}
	if tbl := byName["table-0/AWS::DynamoDB::Table"]; tbl.State != "unknown" || tbl.SummaryStatistics.TotalCount != 8 {
		t.Errorf("dynamodb node: %+v", tbl)
	}
	tg, err := s.TraceGraph(ctx, []string{ids[0]})
	if err != nil || len(tg) != 9 { // 8 nodes + client
		t.Errorf("trace graph: %v %d nodes", err, len(tg))
	}

	sel, _ := filter.ParseEntitySelector(`service("svc-0")`)
	ts, err := s.TimeSeries(ctx, t0, t0+120, 60, sel, nil)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range ts {
		total += p.Service.Total()
	}
	if total != 2+6 { // svc-0 is root twice and a downstream hop of 6 traces (roots 16..19, 14..16 offsets)
		t.Logf("time series total for svc-0 = %d (points %d)", total, len(ts))
	}
	if len(ts) == 0 {
		t.Error("no time series points")
	}
}

// traceServices lists the service numbers the generated trace i touches.
func traceServices(i int) []int {
	r := i % 20
	out := []int{r}
	for c := 0; c < 3; c++ {
		out = append(out, (r+1+c)%20, (r+4+c)%20)
	}
	return out
}

func TestReassemblyDoesNotDoubleCountGraph(t *testing.T) {
	s := openTest(t, Options{})
	tid := "1-6553f100-000000000000000000000001"
	inprog := fmt.Sprintf(`{"id":"aaaaaaaaaaaaaaaa","name":"api","trace_id":"%s","start_time":%f,"in_progress":true}`, tid, t0)
	done := fmt.Sprintf(`{"id":"aaaaaaaaaaaaaaaa","name":"api","trace_id":"%s","start_time":%f,"end_time":%f,"http":{"response":{"status":500}}}`, tid, t0, t0+0.5)
	ingest(t, s, [][]byte{[]byte(inprog)})
	ingest(t, s, [][]byte{[]byte(done)})
	ingest(t, s, [][]byte{[]byte(inprog)}) // a late in-progress copy never replaces the complete one
	g, err := s.ServiceGraph(context.Background(), t0-60, t0+60, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g {
		if n.Type == "" && (n.SummaryStatistics.TotalCount != 1 || n.SummaryStatistics.FaultStatistics.TotalCount != 1) {
			t.Errorf("api stats: %+v", n.SummaryStatistics)
		}
	}
	sm := summaries(t, s, SummaryQuery{Start: t0 - 10, End: t0 + 10, Filter: mustFilter(t, "fault AND responsetime >= 0.5")})
	if len(sm) != 1 || sm[0].IsPartial || sm[0].Revision != 3 {
		t.Errorf("summaries: %+v", sm)
	}
}

func TestRetentionDeletesOldTraces(t *testing.T) {
	now := time.Unix(int64(t0)+3600, 0)
	s := openTest(t, Options{Retention: 30 * time.Minute, Now: func() time.Time { return now }})
	rng := rand.New(rand.NewPCG(1, 2))
	_, old := genTrace(rng, 1, t0)
	keepID, fresh := genTrace(rng, 2, t0+3500)
	ingest(t, s, append(old, fresh...))
	if err := s.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := summaries(t, s, SummaryQuery{Start: t0 - 10, End: t0 + 4000})
	if len(got) != 1 || got[0].Id != keepID {
		t.Errorf("after prune: %+v", got)
	}
	g, _ := s.ServiceGraph(context.Background(), t0-60, t0+60, nil)
	if len(g) != 0 {
		t.Errorf("old graph buckets kept: %d nodes", len(g))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSizeLimitDeletesOldestTraces(t *testing.T) {
	s := openTest(t, Options{MaxDBSizeMB: 4, Now: func() time.Time { return time.Unix(int64(t0), 0) }})
	rng := rand.New(rand.NewPCG(3, 4))
	for b := 0; b < 20; b++ {
		var batch [][]byte
		for i := 0; i < 100; i++ {
			_, docs := genTrace(rng, b*100+i, t0-3600+float64(b*100+i))
			batch = append(batch, docs...)
		}
		ingest(t, s, batch)
	}
	if err := s.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	used, _ := s.usedBytes(context.Background())
	if used > 4<<20 {
		t.Errorf("used %d bytes after prune, limit 4 MB", used)
	}
	got := summaries(t, s, SummaryQuery{Start: t0 - 7200, End: t0 + 10})
	if len(got) == 0 || len(got) == 2000 {
		t.Errorf("%d traces left", len(got))
	}
}

func TestSamplingRulesPersist(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Options{Dir: dir})
	if _, found, err := s.LoadRules(); found || err != nil {
		t.Fatalf("empty store: found=%v err=%v", found, err)
	}
	recs := []sampling.RuleRecord{{SamplingRule: sampling.DefaultRule()}}
	if err := s.SaveRules(recs); err != nil {
		t.Fatal(err)
	}
	got, found, err := s.LoadRules()
	if err != nil || !found || len(got) != 1 || got[0].SamplingRule.RuleName != "Default" {
		t.Errorf("LoadRules = %+v %v %v", got, found, err)
	}
}

func TestTelemetryStored(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.RecordTelemetry(context.Background(), "h", "", "", []json.RawMessage{[]byte(`{"Timestamp":1}`)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.TelemetryCount(context.Background()); n != 1 {
		t.Errorf("count = %d", n)
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
