package sampling

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Timing of the local GetSamplingTargets algorithm (spec §5.3).
const (
	// TargetInterval is the reporting interval handed to clients.
	TargetInterval = 10 * time.Second
	// QuotaTTL is how long a ReservoirQuota stays valid.
	QuotaTTL = 60 * time.Second
	// StaleStatistics is the age beyond which a statistics document is refused.
	StaleStatistics = time.Hour
	// activeWindow: a client counts toward a rule's split while it reported this recently.
	activeWindow = 2 * TargetInterval
	// summaryWindow is the width of GetSamplingStatisticSummaries' windows.
	summaryWindow = 10 * time.Second
)

// Unprocessed-statistics error codes. A code starting with 4 makes SDKs refetch rules.
const (
	unprocessedCode         = "400"
	unprocessedRuleNotFound = "rule not found"
)

// StatisticsDocument is one client's report for one rule (SamplingStatisticsDocument).
type StatisticsDocument struct {
	RuleName     string  `json:"RuleName"`
	ClientID     string  `json:"ClientID"`
	Timestamp    AWSTime `json:"Timestamp"`
	RequestCount int     `json:"RequestCount"`
	SampledCount int     `json:"SampledCount"`
	BorrowCount  int     `json:"BorrowCount"`
}

// TargetDocument is a rule's new FixedRate and the reporting client's quota.
type TargetDocument struct {
	RuleName          string  `json:"RuleName"`
	FixedRate         float64 `json:"FixedRate"`
	ReservoirQuota    int     `json:"ReservoirQuota"`
	ReservoirQuotaTTL AWSTime `json:"ReservoirQuotaTTL"`
	Interval          int     `json:"Interval"`
}

// UnprocessedStatistic says why a statistics document was refused.
type UnprocessedStatistic struct {
	RuleName  string `json:"RuleName"`
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

// TargetsOutput is GetSamplingTargets' result.
type TargetsOutput struct {
	SamplingTargetDocuments []TargetDocument       `json:"SamplingTargetDocuments"`
	LastRuleModification    AWSTime                `json:"LastRuleModification"`
	UnprocessedStatistics   []UnprocessedStatistic `json:"UnprocessedStatistics"`
}

// StatisticSummary is one rule's totals over its most recent 10-second window.
type StatisticSummary struct {
	RuleName     string  `json:"RuleName"`
	Timestamp    AWSTime `json:"Timestamp"` // start of the window
	RequestCount int     `json:"RequestCount"`
	BorrowCount  int     `json:"BorrowCount"`
	SampledCount int     `json:"SampledCount"`
}

// validateStatistics checks the model constraints of a GetSamplingTargets call; one bad
// document fails the whole call, as the service's input validation does.
func validateStatistics(docs []StatisticsDocument) *APIError {
	if len(docs) > maxStatisticsDocs {
		return invalidRequest("SamplingStatisticsDocuments may hold at most %d documents, got %d", maxStatisticsDocs, len(docs))
	}
	for i := range docs {
		d := &docs[i]
		field := func(name string) string { return "SamplingStatisticsDocuments[" + strconv.Itoa(i) + "]." + name }
		if err := validateRuleName(d.RuleName, field("RuleName")); err != nil {
			return err
		}
		if !isHex(d.ClientID, clientIDLen) {
			return invalidRequest("%s must be %d hexadecimal characters, got %q", field("ClientID"), clientIDLen, truncate(d.ClientID, 40))
		}
		if d.Timestamp.IsZero() {
			return invalidRequest("%s is required", field("Timestamp"))
		}
		for _, c := range []struct {
			name string
			v    int
		}{{"RequestCount", d.RequestCount}, {"SampledCount", d.SampledCount}, {"BorrowCount", d.BorrowCount}} {
			if c.v < 0 || c.v > maxInt32 {
				return invalidRequest("%s must be between 0 and %d, got %d", field(c.name), maxInt32, c.v)
			}
		}
	}
	return nil
}

// GetSamplingTargets records the statistics and returns each reporting client's share of
// the rules' reservoirs (spec §5.3). Unknown rules and stale documents go to
// UnprocessedStatistics; a malformed call returns an *APIError.
func (e *Engine) GetSamplingTargets(docs []StatisticsDocument) (TargetsOutput, error) {
	if err := validateStatistics(docs); err != nil {
		return TargetsOutput{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	out := TargetsOutput{
		SamplingTargetDocuments: []TargetDocument{},
		UnprocessedStatistics:   []UnprocessedStatistic{},
		LastRuleModification:    AWSTime{e.lastMod},
	}
	// First pass records everything, so clients reporting in the same call all count.
	type target struct {
		st       *ruleState
		clientID string
	}
	var targets []target
	for i := range docs {
		d := &docs[i]
		st, ok := e.rules[d.RuleName]
		switch {
		case !ok:
			out.UnprocessedStatistics = append(out.UnprocessedStatistics, UnprocessedStatistic{d.RuleName, unprocessedCode, unprocessedRuleNotFound})
			continue
		case d.Timestamp.Before(now.Add(-StaleStatistics)):
			out.UnprocessedStatistics = append(out.UnprocessedStatistics, UnprocessedStatistic{d.RuleName, unprocessedCode,
				"statistics timestamp is more than " + StaleStatistics.String() + " old"})
			continue
		}
		st.record(now, d)
		if !slices.ContainsFunc(targets, func(t target) bool { return t.st == st }) {
			targets = append(targets, target{st, strings.ToLower(d.ClientID)})
		}
	}
	for _, t := range targets {
		r := &t.st.rec.SamplingRule
		out.SamplingTargetDocuments = append(out.SamplingTargetDocuments, TargetDocument{
			RuleName:          r.RuleName,
			FixedRate:         r.FixedRate,
			ReservoirQuota:    t.st.quota(now, t.clientID, r.ReservoirSize),
			ReservoirQuotaTTL: AWSTime{now.Add(QuotaTTL)},
			Interval:          int(TargetInterval / time.Second),
		})
	}
	return out, nil
}

// record adds a document's counts to the current window and marks its client active.
func (st *ruleState) record(now time.Time, d *StatisticsDocument) {
	start := windowStart(now)
	if !st.window.start.Equal(start) {
		st.window = statWindow{start: start}
	}
	st.window.requests += int64(d.RequestCount)
	st.window.sampled += int64(d.SampledCount)
	st.window.borrowed += int64(d.BorrowCount)
	st.clients[strings.ToLower(d.ClientID)] = now
}

// quota splits size among the clients active within activeWindow: each gets
// size/n and the first size%n clients in ClientID order one more, so shares sum to size.
// Clients that went quiet are forgotten here.
func (st *ruleState) quota(now time.Time, clientID string, size int) int {
	var active []string
	for id, last := range st.clients {
		if now.Sub(last) > activeWindow {
			delete(st.clients, id)
			continue
		}
		active = append(active, id)
	}
	n := len(active)
	if n == 0 { // cannot happen: the caller just reported
		return size
	}
	slices.Sort(active)
	idx, _ := slices.BinarySearch(active, clientID)
	q := size / n
	if idx < size%n {
		q++
	}
	return q
}

func windowStart(t time.Time) time.Time {
	sec := t.Unix()
	w := int64(summaryWindow / time.Second)
	sec -= ((sec % w) + w) % w
	return time.Unix(sec, 0).UTC()
}

// StatisticSummaries returns, for every rule that has received statistics, the totals
// of its most recent 10-second window, in rule evaluation order.
func (e *Engine) StatisticSummaries() []StatisticSummary {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []StatisticSummary{}
	for _, st := range e.order {
		if st.window.start.IsZero() {
			continue
		}
		out = append(out, StatisticSummary{
			RuleName:     st.rec.SamplingRule.RuleName,
			Timestamp:    AWSTime{st.window.start},
			RequestCount: clampInt32(st.window.requests),
			BorrowCount:  clampInt32(st.window.borrowed),
			SampledCount: clampInt32(st.window.sampled),
		})
	}
	return out
}

func clampInt32(v int64) int {
	if v > maxInt32 {
		return maxInt32
	}
	return int(v)
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
