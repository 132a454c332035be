package trace

import (
	"math"
	"sort"
	"strconv"

	"github.com/xrayd/xrayd/internal/awsjson"
	"github.com/xrayd/xrayd/internal/filter"
)

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Class is the status class a completed call is counted under (fault > error > ok).
type Class uint8

// Status classes of a call.
const (
	ClassOK Class = iota
	ClassErrorOther
	ClassThrottle
	ClassFault
)

func classify(c filter.Call) Class {
	ok, err, fault, throttle := filter.Classify(c)
	switch {
	case fault:
		return ClassFault
	case err && throttle:
		return ClassThrottle
	case err:
		return ClassErrorOther
	case ok:
		return ClassOK
	}
	return ClassOK
}

// NodeKey identifies a graph node.
type NodeKey struct {
	Name      string `json:"n"`
	Type      string `json:"t,omitempty"`
	AccountID string `json:"a,omitempty"`
	Inferred  bool   `json:"i,omitempty"`
}

func keyOf(n filter.Node) NodeKey {
	return NodeKey{Name: n.Name, Type: n.Type, AccountID: n.AccountID, Inferred: n.Inferred}
}

// Node converts the key back to a filter node.
func (k NodeKey) Node() filter.Node {
	return filter.Node{Name: k.Name, Type: k.Type, AccountID: k.AccountID, Inferred: k.Inferred}
}

// Contribution is what one call adds to the service graph: a node statistic (a
// segment of the node) or an edge statistic (the caller's view of a call).
type Contribution struct {
	Edge       bool    `json:"e,omitempty"`
	From       NodeKey `json:"f"`
	To         NodeKey `json:"t,omitempty"`
	Root       bool    `json:"r,omitempty"` // node owns the root segment
	Start      float64 `json:"s"`
	End        float64 `json:"n,omitempty"`
	InProgress bool    `json:"p,omitempty"`
	Class      Class   `json:"c,omitempty"`
}

// Time is the instant that places the contribution in a time window: its end, or its
// start while in progress.
func (c Contribution) Time() float64 {
	if c.InProgress {
		return c.Start
	}
	return c.End
}

// ClientType is the Type of the client node in front of every root service.
const ClientType = "client"

// Contributions lists the graph contributions of the trace (segment.md §10).
func (t *Trace) Contributions() []Contribution {
	var out []Contribution
	mk := func(d *Doc) Contribution {
		c := Contribution{Start: d.StartTime, End: d.EndTime, InProgress: d.InProgress, Class: classify(segCall(d))}
		if d.InProgress {
			c.End = 0
		}
		return c
	}
	for _, seg := range t.AllSegments() {
		c := mk(seg)
		c.From = keyOf(t.node[seg])
		c.Root = seg == t.Root
		out = append(out, c)
	}
	if t.Root != nil {
		c := mk(t.Root)
		c.Edge = true
		c.From = NodeKey{Name: t.Root.Name, Type: ClientType}
		c.To = keyOf(t.node[t.Root])
		out = append(out, c)
	}
	t.eachCall(func(from, to, site *Doc) {
		c := mk(site)
		c.Edge = true
		c.From, c.To = keyOf(t.node[from]), keyOf(t.node[to])
		out = append(out, c)
	})
	return out
}

// AggKey identifies a node (Edge false, To zero) or an edge.
type AggKey struct {
	Edge bool    `json:"e,omitempty"`
	From NodeKey `json:"f"`
	To   NodeKey `json:"t"`
}

// Agg is the aggregated statistics of a node or edge: counts of completed calls per
// class, total response time, a millisecond histogram, and the time span. N counts
// every contribution, in-progress ones included, so that a key with only in-progress
// calls still shows in the graph.
type Agg struct {
	N       int64           `json:"n"`
	Root    int64           `json:"r,omitempty"`
	Counts  [4]int64        `json:"c"`
	TotalRT float64         `json:"t"`
	Start   float64         `json:"s"`
	End     float64         `json:"e"`
	Hist    map[int64]int64 `json:"h,omitempty"` // response time in ms -> count
}

// Add counts one contribution with weight sign (+1 to add, -1 to retract).
func (a *Agg) Add(c Contribution, sign int64) {
	a.N += sign
	if c.Root && !c.Edge {
		a.Root += sign
	}
	a.widen(c.Start, c.Time())
	if c.InProgress {
		return
	}
	rt := c.End - c.Start
	a.Counts[c.Class] += sign
	a.TotalRT += float64(sign) * rt
	if a.Hist == nil {
		a.Hist = map[int64]int64{}
	}
	ms := int64(math.Round(rt * 1000))
	a.Hist[ms] += sign
	if a.Hist[ms] == 0 {
		delete(a.Hist, ms)
	}
}

// Merge adds (sign +1) or subtracts (sign -1) another aggregate. Time spans only widen.
func (a *Agg) Merge(b *Agg, sign int64) {
	a.N += sign * b.N
	a.Root += sign * b.Root
	for i := range a.Counts {
		a.Counts[i] += sign * b.Counts[i]
	}
	a.TotalRT += float64(sign) * b.TotalRT
	if sign > 0 || a.N > 0 {
		a.widen(b.Start, b.End)
	}
	for k, v := range b.Hist {
		if a.Hist == nil {
			a.Hist = map[int64]int64{}
		}
		a.Hist[k] += sign * v
		if a.Hist[k] == 0 {
			delete(a.Hist, k)
		}
	}
}

func (a *Agg) widen(start, end float64) {
	if start == 0 && end == 0 {
		return
	}
	if a.Start == 0 || start < a.Start {
		a.Start = start
	}
	if end > a.End {
		a.End = end
	}
}

// Empty reports whether the aggregate no longer counts anything.
func (a *Agg) Empty() bool { return a.N <= 0 }

// Total is the number of completed calls.
func (a *Agg) Total() int64 { return a.Counts[0] + a.Counts[1] + a.Counts[2] + a.Counts[3] }

// Statistics is X-Ray's ServiceStatistics / EdgeStatistics shape.
type Statistics struct {
	OkCount           int64           `json:"OkCount"`
	ErrorStatistics   ErrorStatistics `json:"ErrorStatistics"`
	FaultStatistics   FaultStatistics `json:"FaultStatistics"`
	TotalCount        int64           `json:"TotalCount"`
	TotalResponseTime float64         `json:"TotalResponseTime"`
}

// ErrorStatistics counts client errors.
type ErrorStatistics struct {
	ThrottleCount int64 `json:"ThrottleCount"`
	OtherCount    int64 `json:"OtherCount"`
	TotalCount    int64 `json:"TotalCount"`
}

// FaultStatistics counts server errors.
type FaultStatistics struct {
	OtherCount int64 `json:"OtherCount"`
	TotalCount int64 `json:"TotalCount"`
}

// Stats converts the aggregate to the API's statistics shape.
func (a *Agg) Stats() Statistics {
	return Statistics{
		OkCount:           a.Counts[ClassOK],
		ErrorStatistics:   ErrorStatistics{ThrottleCount: a.Counts[ClassThrottle], OtherCount: a.Counts[ClassErrorOther], TotalCount: a.Counts[ClassThrottle] + a.Counts[ClassErrorOther]},
		FaultStatistics:   FaultStatistics{OtherCount: a.Counts[ClassFault], TotalCount: a.Counts[ClassFault]},
		TotalCount:        a.Total(),
		TotalResponseTime: round6(a.TotalRT),
	}
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// HistogramEntry is one {Value, Count} histogram bucket (Value in seconds).
type HistogramEntry struct {
	Value float64 `json:"Value"`
	Count int64   `json:"Count"`
}

// Histogram returns the aggregate's histogram sorted by value.
func (a *Agg) Histogram() []HistogramEntry {
	out := make([]HistogramEntry, 0, len(a.Hist))
	for ms, n := range a.Hist {
		if n > 0 {
			out = append(out, HistogramEntry{Value: float64(ms) / 1000, Count: n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}

// Aggregate sums contributions per key and per time bucket of bucketSec seconds
// (bucketSec <= 0 puts everything in bucket 0).
func Aggregate(cs []Contribution, bucketSec int64, sign int64, into map[BucketKey]*Agg) map[BucketKey]*Agg {
	if into == nil {
		into = map[BucketKey]*Agg{}
	}
	for _, c := range cs {
		k := BucketKey{Key: AggKey{Edge: c.Edge, From: c.From, To: c.To}}
		if bucketSec > 0 {
			k.Bucket = int64(math.Floor(c.Time()/float64(bucketSec))) * bucketSec
		}
		a := into[k]
		if a == nil {
			a = &Agg{}
			into[k] = a
		}
		a.Add(c, sign)
	}
	return into
}

// BucketKey is an aggregate key within a time bucket (epoch seconds of its start).
type BucketKey struct {
	Bucket int64
	Key    AggKey
}

// GraphService is X-Ray's Service (graph node) shape.
type GraphService struct {
	ReferenceId           int              `json:"ReferenceId"`
	Name                  string           `json:"Name,omitempty"`
	Names                 []string         `json:"Names"`
	Root                  bool             `json:"Root"`
	AccountId             string           `json:"AccountId,omitempty"`
	Type                  string           `json:"Type,omitempty"`
	State                 string           `json:"State"`
	StartTime             awsjson.Time     `json:"StartTime"`
	EndTime               awsjson.Time     `json:"EndTime"`
	Edges                 []GraphEdge      `json:"Edges"`
	SummaryStatistics     *Statistics      `json:"SummaryStatistics,omitempty"`
	DurationHistogram     []HistogramEntry `json:"DurationHistogram"`
	ResponseTimeHistogram []HistogramEntry `json:"ResponseTimeHistogram"`
}

// GraphEdge is X-Ray's Edge shape.
type GraphEdge struct {
	ReferenceId           int              `json:"ReferenceId"`
	StartTime             awsjson.Time     `json:"StartTime"`
	EndTime               awsjson.Time     `json:"EndTime"`
	SummaryStatistics     Statistics       `json:"SummaryStatistics"`
	ResponseTimeHistogram []HistogramEntry `json:"ResponseTimeHistogram"`
	Aliases               []any            `json:"Aliases"`
}

// Graph accumulates node and edge aggregates and renders the service graph.
type Graph struct {
	aggs map[AggKey]*Agg
}

// NewGraph returns an empty graph.
func NewGraph() *Graph { return &Graph{aggs: map[AggKey]*Agg{}} }

// AddAgg merges an aggregate for key k.
func (g *Graph) AddAgg(k AggKey, a *Agg) {
	cur := g.aggs[k]
	if cur == nil {
		cur = &Agg{}
		g.aggs[k] = cur
	}
	cur.Merge(a, 1)
}

// Target returns the accumulator for key k, for callers that decode straight into it.
func (g *Graph) Target(k AggKey) *Agg {
	cur := g.aggs[k]
	if cur == nil {
		cur = &Agg{}
		g.aggs[k] = cur
	}
	return cur
}

// AddTrace adds every contribution of t.
func (g *Graph) AddTrace(t *Trace) {
	for k, a := range Aggregate(t.Contributions(), 0, 1, nil) {
		g.AddAgg(k.Key, a)
	}
}

// Services renders the graph: nodes (client nodes included) with their outgoing
// edges, reference ids assigned by name, then type, then account id.
func (g *Graph) Services() []GraphService {
	nodes := map[NodeKey]*Agg{}
	for k, a := range g.aggs {
		if a.Empty() {
			continue
		}
		if !k.Edge {
			nodes[k.From] = a
			continue
		}
		for _, n := range []NodeKey{k.From, k.To} {
			if _, ok := nodes[n]; !ok {
				nodes[n] = nil
			}
		}
	}
	keys := make([]NodeKey, 0, len(nodes))
	for k := range nodes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.AccountID != b.AccountID {
			return a.AccountID < b.AccountID
		}
		return !a.Inferred && b.Inferred
	})
	ref := map[NodeKey]int{}
	for i, k := range keys {
		ref[k] = i
	}
	out := make([]GraphService, len(keys))
	for i, k := range keys {
		s := GraphService{ReferenceId: i, Name: k.Name, Names: []string{k.Name}, AccountId: k.AccountID,
			Type: k.Type, State: "active", Edges: []GraphEdge{}, DurationHistogram: []HistogramEntry{},
			ResponseTimeHistogram: []HistogramEntry{}}
		if k.Inferred || k.Type == ClientType {
			s.State = "unknown"
		}
		if a := nodes[k]; a != nil {
			st := a.Stats()
			s.SummaryStatistics = &st
			s.Root = a.Root > 0
			s.DurationHistogram = a.Histogram()
			s.ResponseTimeHistogram = a.Histogram()
		}
		out[i] = s
	}
	for k, a := range g.aggs {
		if !k.Edge || a.Empty() {
			continue
		}
		i := ref[k.From]
		out[i].Edges = append(out[i].Edges, GraphEdge{ReferenceId: ref[k.To], StartTime: awsjson.Time(a.Start),
			EndTime: awsjson.Time(a.End), SummaryStatistics: a.Stats(), ResponseTimeHistogram: a.Histogram(), Aliases: []any{}})
	}
	for i := range out {
		sort.Slice(out[i].Edges, func(a, b int) bool { return out[i].Edges[a].ReferenceId < out[i].Edges[b].ReferenceId })
		start, end := 0.0, 0.0
		if a := nodes[keys[i]]; a != nil {
			start, end = a.Start, a.End
		}
		for _, e := range out[i].Edges {
			if start == 0 || float64(e.StartTime) < start {
				start = float64(e.StartTime)
			}
			end = math.Max(end, float64(e.EndTime))
		}
		out[i].StartTime, out[i].EndTime = awsjson.Time(start), awsjson.Time(end)
	}
	return out
}
