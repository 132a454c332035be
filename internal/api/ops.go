package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/xrayd/xrayd/internal/awsjson"
	"github.com/xrayd/xrayd/internal/filter"
	"github.com/xrayd/xrayd/internal/store"
	"github.com/xrayd/xrayd/internal/trace"
)

// lenientInt accepts a JSON integer, a float with no fraction, or a numeric string.
type lenientInt struct {
	v   int64
	set bool
}

func (l *lenientInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) {
		return fmt.Errorf("%s is not an integer", b)
	}
	l.v, l.set = int64(f), true
	return nil
}

func decode(body []byte, v any) error { return awsjson.Decode(body, v) }

// window validates a required [StartTime, EndTime) pair.
func window(start, end *awsjson.Time) (float64, float64, error) {
	if start == nil || end == nil {
		return 0, 0, awsjson.InvalidRequest("StartTime and EndTime are required")
	}
	if *start >= *end {
		return 0, 0, awsjson.InvalidRequest("StartTime must be before EndTime")
	}
	return float64(*start), float64(*end), nil
}

func (a *API) putTraceSegments(r *http.Request, body []byte) (any, error) {
	var in struct {
		TraceSegmentDocuments []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TraceSegmentDocuments == nil {
		return nil, awsjson.InvalidRequest("TraceSegmentDocuments is required")
	}
	docs := make([][]byte, len(in.TraceSegmentDocuments))
	for i, d := range in.TraceSegmentDocuments {
		docs[i] = []byte(d)
	}
	bad, err := a.opts.Store.Ingest(r.Context(), docs)
	if err != nil {
		return nil, err
	}
	if c := a.opts.Counters; c != nil {
		c.MarkReceived()
		c.Received.Add(int64(len(docs) - len(bad)))
		c.Rejected.Add(int64(len(bad)))
	}
	if bad == nil {
		bad = []store.Unprocessed{}
	}
	return struct {
		UnprocessedTraceSegments []store.Unprocessed
	}{bad}, nil
}

func (a *API) putTelemetryRecords(r *http.Request, body []byte) (any, error) {
	var in struct {
		TelemetryRecords                     []json.RawMessage
		EC2InstanceId, Hostname, ResourceARN string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TelemetryRecords == nil {
		return nil, awsjson.InvalidRequest("TelemetryRecords is required")
	}
	if err := a.opts.Store.RecordTelemetry(r.Context(), in.Hostname, in.EC2InstanceId, in.ResourceARN, in.TelemetryRecords); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// parseFilter parses a filter expression; syntax errors become 400s with the parser's message.
func parseFilter(src string) (*filter.Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	x, err := filter.Parse(src)
	if err != nil {
		return nil, awsjson.InvalidRequest("invalid FilterExpression: %s", err.Error())
	}
	return x, nil
}

func (a *API) getTraceSummaries(r *http.Request, body []byte) (any, error) {
	var in struct {
		StartTime, EndTime *awsjson.Time
		TimeRangeType      string
		Sampling           bool
		FilterExpression   string
		NextToken          string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	start, end, err := window(in.StartTime, in.EndTime)
	if err != nil {
		return nil, err
	}
	switch in.TimeRangeType {
	case "", store.RangeTraceID, store.RangeEvent, store.RangeService:
	default:
		return nil, awsjson.InvalidRequest("TimeRangeType must be TraceId, Event or Service, not %q", in.TimeRangeType)
	}
	x, err := parseFilter(in.FilterExpression)
	if err != nil {
		return nil, err
	}
	page, err := a.opts.Store.TraceSummaries(r.Context(), store.SummaryQuery{Start: start, End: end,
		TimeRangeType: in.TimeRangeType, Filter: x, NextToken: in.NextToken})
	if errors.Is(err, store.ErrInvalidToken) {
		return nil, awsjson.InvalidRequest("%s", err.Error())
	}
	if err != nil {
		return nil, err
	}
	return struct {
		TraceSummaries       []json.RawMessage
		ApproximateTime      awsjson.Time
		TracesProcessedCount int64
		NextToken            string `json:",omitempty"`
	}{page.Summaries, awsjson.Time(page.ApproximateTime), page.TracesProcessedCount, page.NextToken}, nil
}

func traceIDs(ids []string) error {
	if ids == nil {
		return awsjson.InvalidRequest("TraceIds is required")
	}
	for _, id := range ids {
		if len(id) < 1 || len(id) > 35 {
			return awsjson.InvalidRequest("TraceIds: %q must be 1 to 35 characters", id)
		}
	}
	return nil
}

func (a *API) batchGetTraces(r *http.Request, body []byte) (any, error) {
	var in struct {
		TraceIds  []string
		NextToken string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := traceIDs(in.TraceIds); err != nil {
		return nil, err
	}
	traces, missing, err := a.opts.Store.Traces(r.Context(), in.TraceIds)
	if err != nil {
		return nil, err
	}
	if missing == nil {
		missing = []string{}
	}
	return struct {
		Traces              []store.TraceResult
		UnprocessedTraceIds []string
	}{traces, missing}, nil
}

// group resolves GroupName/GroupARN. Only the Default group (all traces) exists.
func group(name, arn string) error {
	if name == "" && arn == "" || name == "Default" || strings.HasSuffix(arn, ":group/Default") {
		return nil
	}
	return awsjson.InvalidRequest("group %q not found", name+arn)
}

func (a *API) getServiceGraph(r *http.Request, body []byte) (any, error) {
	var in struct {
		StartTime, EndTime  *awsjson.Time
		GroupName, GroupARN string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	start, end, err := window(in.StartTime, in.EndTime)
	if err != nil {
		return nil, err
	}
	if err := group(in.GroupName, in.GroupARN); err != nil {
		return nil, err
	}
	svcs, err := a.opts.Store.ServiceGraph(r.Context(), start, end, nil)
	if err != nil {
		return nil, err
	}
	return struct {
		StartTime, EndTime       awsjson.Time
		Services                 []trace.GraphService
		ContainsOldGroupVersions bool
	}{*in.StartTime, *in.EndTime, svcs, false}, nil
}

func (a *API) getTraceGraph(r *http.Request, body []byte) (any, error) {
	var in struct {
		TraceIds []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := traceIDs(in.TraceIds); err != nil {
		return nil, err
	}
	svcs, err := a.opts.Store.TraceGraph(r.Context(), in.TraceIds)
	if err != nil {
		return nil, err
	}
	return struct{ Services []trace.GraphService }{svcs}, nil
}

type timeSeriesEntry struct {
	Timestamp                awsjson.Time
	EdgeSummaryStatistics    *trace.Statistics      `json:",omitempty"`
	ServiceSummaryStatistics *trace.Statistics      `json:",omitempty"`
	ResponseTimeHistogram    []trace.HistogramEntry `json:",omitempty"`
}

func (a *API) getTimeSeries(r *http.Request, body []byte) (any, error) {
	var in struct {
		StartTime, EndTime       *awsjson.Time
		GroupName, GroupARN      string
		EntitySelectorExpression string
		Period                   lenientInt
		ForecastStatistics       bool
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	start, end, err := window(in.StartTime, in.EndTime)
	if err != nil {
		return nil, err
	}
	if err := group(in.GroupName, in.GroupARN); err != nil {
		return nil, err
	}
	period := int64(60)
	if in.Period.set {
		if in.Period.v < 60 || in.Period.v%60 != 0 {
			return nil, awsjson.InvalidRequest("Period must be 60 or a multiple of 60 seconds, not %d", in.Period.v)
		}
		period = in.Period.v
	}
	var sel *filter.Selector
	if strings.TrimSpace(in.EntitySelectorExpression) != "" {
		if sel, err = filter.ParseEntitySelector(in.EntitySelectorExpression); err != nil {
			return nil, awsjson.InvalidRequest("invalid EntitySelectorExpression: %s", err.Error())
		}
	}
	points, err := a.opts.Store.TimeSeries(r.Context(), start, end, period, sel, nil)
	if err != nil {
		return nil, err
	}
	out := make([]timeSeriesEntry, 0, len(points))
	for _, p := range points {
		e := timeSeriesEntry{Timestamp: awsjson.Time(p.Timestamp)}
		hist := p.Service
		if p.Edge != nil {
			st := p.Edge.Stats()
			e.EdgeSummaryStatistics = &st
			if sel != nil {
				hist = p.Edge
			}
		}
		if p.Service != nil {
			st := p.Service.Stats()
			e.ServiceSummaryStatistics = &st
		}
		if hist != nil {
			e.ResponseTimeHistogram = hist.Histogram()
		}
		out = append(out, e)
	}
	return struct {
		TimeSeriesServiceStatistics []timeSeriesEntry
		ContainsOldGroupVersions    bool
	}{out, false}, nil
}

type groupOut struct {
	GroupName, GroupARN string
	FilterExpression    string `json:",omitempty"`
}

func (a *API) defaultGroup() groupOut {
	region := a.opts.Region
	if region == "" {
		region = "us-east-1"
	}
	return groupOut{GroupName: "Default", GroupARN: "arn:aws:xray:" + region + ":000000000000:group/Default"}
}

func (a *API) getGroups(r *http.Request, body []byte) (any, error) {
	if err := decode(body, &struct{}{}); err != nil {
		return nil, err
	}
	return struct{ Groups []groupOut }{[]groupOut{a.defaultGroup()}}, nil
}

func (a *API) getGroup(r *http.Request, body []byte) (any, error) {
	var in struct{ GroupName, GroupARN string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.GroupName == "" && in.GroupARN == "" {
		return nil, awsjson.InvalidRequest("GroupName or GroupARN is required")
	}
	if err := group(in.GroupName, in.GroupARN); err != nil {
		return nil, err
	}
	return struct{ Group groupOut }{a.defaultGroup()}, nil
}
