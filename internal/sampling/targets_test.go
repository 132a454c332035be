package sampling

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func clientID(n int) string { return fmt.Sprintf("%024x", n) }

func doc(ruleName string, client int, ts time.Time) StatisticsDocument {
	return StatisticsDocument{RuleName: ruleName, ClientID: clientID(client), Timestamp: AWSTime{ts}, RequestCount: 10, SampledCount: 2, BorrowCount: 1}
}

// report sends one document and returns the single target document.
func report(t *testing.T, e *Engine, c *clock, ruleName string, client int) TargetDocument {
	t.Helper()
	out, err := e.GetSamplingTargets([]StatisticsDocument{doc(ruleName, client, c.Now())})
	if err != nil {
		t.Fatalf("GetSamplingTargets: %v", err)
	}
	if len(out.SamplingTargetDocuments) != 1 {
		t.Fatalf("want 1 target, got %+v (unprocessed %+v)", out.SamplingTargetDocuments, out.UnprocessedStatistics)
	}
	return out.SamplingTargetDocuments[0]
}

func TestTargetsSplitReservoirAmongActiveClients(t *testing.T) {
	tests := []struct {
		name      string
		reservoir int
		clients   int
		want      []int // quota per client, in ClientID order
	}{
		{"one client gets everything", 5, 1, []int{5}},
		{"two clients, remainder to first", 5, 2, []int{3, 2}},
		{"three clients, remainder to first two", 5, 3, []int{2, 2, 1}},
		{"three clients, even split", 6, 3, []int{2, 2, 2}},
		{"more clients than reservoir", 2, 3, []int{1, 1, 0}},
		{"empty reservoir", 0, 2, []int{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			e := newTestEngine(t, c, rule("r", 10, func(r *Rule) { r.ReservoirSize = tt.reservoir; r.FixedRate = 0.25 }))
			// Clients report in reverse id order to prove ordering is by ClientID.
			for i := tt.clients - 1; i >= 0; i-- {
				report(t, e, c, "r", i)
			}
			sum := 0
			for i := range tt.clients {
				got := report(t, e, c, "r", i)
				if got.ReservoirQuota != tt.want[i] {
					t.Errorf("client %d quota = %d, want %d", i, got.ReservoirQuota, tt.want[i])
				}
				if got.FixedRate != 0.25 || got.Interval != 10 || !got.ReservoirQuotaTTL.Equal(c.Now().Add(60*time.Second)) {
					t.Errorf("client %d target = %+v", i, got)
				}
				sum += got.ReservoirQuota
			}
			if sum != tt.reservoir {
				t.Errorf("quotas sum to %d, want %d", sum, tt.reservoir)
			}
		})
	}
}

func TestTargetsForgetClientsSilentForTwoIntervals(t *testing.T) {
	c := newClock()
	e := newTestEngine(t, c, rule("r", 10, func(r *Rule) { r.ReservoirSize = 10 }))
	report(t, e, c, "r", 1)
	report(t, e, c, "r", 2)
	c.Advance(20 * time.Second) // exactly 2×Interval: client 2 still active
	if got := report(t, e, c, "r", 1).ReservoirQuota; got != 5 {
		t.Fatalf("at 20s quota = %d, want 5 (client 2 still active)", got)
	}
	c.Advance(time.Millisecond) // client 2 last reported 20.001s ago
	if got := report(t, e, c, "r", 1).ReservoirQuota; got != 10 {
		t.Fatalf("after 20s quota = %d, want 10 (client 2 expired)", got)
	}
}

func TestTargetsRefuseUnknownRulesAndStaleStatistics(t *testing.T) {
	c := newClock()
	e := newTestEngine(t, c, rule("r", 10))
	out, err := e.GetSamplingTargets([]StatisticsDocument{
		doc("missing", 1, c.Now()),
		doc("r", 1, c.Now().Add(-time.Hour-time.Second)),
		doc("r", 2, c.Now().Add(-time.Hour)), // exactly 1h old: accepted
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.UnprocessedStatistics) != 2 {
		t.Fatalf("unprocessed = %+v, want 2", out.UnprocessedStatistics)
	}
	u0, u1 := out.UnprocessedStatistics[0], out.UnprocessedStatistics[1]
	if u0.RuleName != "missing" || u0.ErrorCode != "400" || u0.Message != "rule not found" {
		t.Errorf("unknown rule entry = %+v", u0)
	}
	if u1.RuleName != "r" || u1.ErrorCode != "400" || !strings.Contains(u1.Message, "old") {
		t.Errorf("stale entry = %+v", u1)
	}
	if len(out.SamplingTargetDocuments) != 1 || out.SamplingTargetDocuments[0].ReservoirQuota != 5 {
		t.Errorf("targets = %+v, want one for r with the whole reservoir (stale client not counted)", out.SamplingTargetDocuments)
	}
}

func TestTargetsLastRuleModificationFollowsRuleChanges(t *testing.T) {
	c := newClock()
	e := newTestEngine(t, c)
	out, _ := e.GetSamplingTargets(nil)
	if !out.LastRuleModification.IsZero() {
		t.Fatalf("untouched rule set: LastRuleModification = %v, want zero", out.LastRuleModification)
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"create", func() error { _, err := e.CreateRule(rule("r", 10)); return err }},
		{"update", func() error { _, err := e.UpdateRule(RuleUpdate{RuleName: ptr("r"), FixedRate: ptr(0.5)}); return err }},
		{"delete", func() error { _, err := e.DeleteRule("r", ""); return err }},
	}
	for _, s := range steps {
		c.Advance(time.Minute)
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		out, _ := e.GetSamplingTargets(nil)
		if !out.LastRuleModification.Equal(c.Now()) {
			t.Errorf("after %s LastRuleModification = %v, want %v", s.name, out.LastRuleModification.Time, c.Now())
		}
	}
}

func TestTargetsRejectMalformedDocuments(t *testing.T) {
	c := newClock()
	e := newTestEngine(t, c)
	good := doc("Default", 1, c.Now())
	tests := []struct {
		name  string
		mod   func(*StatisticsDocument)
		field string
	}{
		{"short client id", func(d *StatisticsDocument) { d.ClientID = "abc" }, "ClientID"},
		{"non-hex client id", func(d *StatisticsDocument) { d.ClientID = strings.Repeat("g", 24) }, "ClientID"},
		{"empty rule name", func(d *StatisticsDocument) { d.RuleName = "" }, "RuleName"},
		{"long rule name", func(d *StatisticsDocument) { d.RuleName = strings.Repeat("x", 33) }, "RuleName"},
		{"negative request count", func(d *StatisticsDocument) { d.RequestCount = -1 }, "RequestCount"},
		{"negative sampled count", func(d *StatisticsDocument) { d.SampledCount = -1 }, "SampledCount"},
		{"negative borrow count", func(d *StatisticsDocument) { d.BorrowCount = -1 }, "BorrowCount"},
		{"no timestamp", func(d *StatisticsDocument) { d.Timestamp = AWSTime{} }, "Timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.mod(&d)
			_, err := e.GetSamplingTargets([]StatisticsDocument{good, d})
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Code != CodeInvalidRequest || !strings.Contains(apiErr.Message, "SamplingStatisticsDocuments[1]."+tt.field) {
				t.Fatalf("err = %v, want InvalidRequestException naming %s", err, tt.field)
			}
		})
	}
	t.Run("too many documents", func(t *testing.T) {
		docs := make([]StatisticsDocument, 26)
		for i := range docs {
			docs[i] = good
		}
		if _, err := e.GetSamplingTargets(docs); err == nil {
			t.Fatal("26 documents accepted")
		}
	})
}

func TestStatisticSummariesSumTheCurrentWindow(t *testing.T) {
	c := newClock()
	c.Advance(3 * time.Second) // window [t0, t0+10s)
	e := newTestEngine(t, c, rule("r", 10))
	if got := e.StatisticSummaries(); len(got) != 0 {
		t.Fatalf("before any report: %+v", got)
	}
	report(t, e, c, "r", 1)
	report(t, e, c, "r", 2)
	report(t, e, c, "Default", 1)
	got := e.StatisticSummaries()
	want := []StatisticSummary{
		{RuleName: "r", Timestamp: AWSTime{t0}, RequestCount: 20, SampledCount: 4, BorrowCount: 2},
		{RuleName: "Default", Timestamp: AWSTime{t0}, RequestCount: 10, SampledCount: 2, BorrowCount: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("summaries = %+v, want %+v", got, want)
	}
	c.Advance(10 * time.Second) // next window starts afresh
	report(t, e, c, "r", 1)
	got = e.StatisticSummaries()
	if got[0].RuleName != "r" || got[0].RequestCount != 10 || !got[0].Timestamp.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("next window summary = %+v", got[0])
	}
	if got[1].RuleName != "Default" || !got[1].Timestamp.Equal(t0) {
		t.Fatalf("Default keeps its last window: %+v", got[1])
	}
}
