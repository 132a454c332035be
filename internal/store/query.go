package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/xrayd/xrayd/internal/filter"
	"github.com/xrayd/xrayd/internal/trace"
)

// Time range types of GetTraceSummaries.
const (
	RangeTraceID = "TraceId"
	RangeEvent   = "Event"
	RangeService = "Service"
)

// Defaults for SummaryQuery.
const (
	DefaultPageSize = 100
	DefaultMaxScan  = 20000
	// limitExceededBytes is the assembled trace size beyond which BatchGetTraces sets LimitExceeded.
	limitExceededBytes = 500 * 1024
	// maxTraceSpan bounds how long before the window a trace may start and still be
	// found by an Event/Service query (keeps the index range finite).
	maxTraceSpan = 86400
)

// ErrInvalidToken is returned for a NextToken that does not belong to the request.
var ErrInvalidToken = errors.New("the NextToken is not valid for this request; repeat the request without it")

// SummaryQuery is a GetTraceSummaries request. Times are epoch seconds; the window is
// [Start, End).
type SummaryQuery struct {
	Start, End    float64
	TimeRangeType string       // RangeTraceID (default), RangeEvent, RangeService
	Filter        *filter.Expr // nil = all
	NextToken     string
	PageSize      int // matches per page (0 = DefaultPageSize)
	MaxScan       int // rows examined per page before returning a partial page (0 = DefaultMaxScan)
}

// SummaryPage is one page of GetTraceSummaries.
type SummaryPage struct {
	Summaries            []json.RawMessage // TraceSummary JSON objects
	TracesProcessedCount int64
	ApproximateTime      float64
	NextToken            string
}

type cursor struct {
	T    float64 `json:"t"`
	ID   int64   `json:"i"`
	Hash uint64  `json:"h"`
}

func (q *SummaryQuery) hash() uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%v|%v|%s|%s", q.Start, q.End, q.TimeRangeType, q.Filter.String())
	return h.Sum64()
}

// TraceSummaries returns the traces of the window that match the filter, newest first.
// Hints of the filter are pushed into SQL; Match decides. A page ends after PageSize
// matches or MaxScan examined traces, whichever comes first.
func (s *Store) TraceSummaries(ctx context.Context, q SummaryQuery) (*SummaryPage, error) {
	if q.PageSize <= 0 {
		q.PageSize = DefaultPageSize
	}
	if q.MaxScan <= 0 {
		q.MaxScan = DefaultMaxScan
	}
	col, where, args := timeWindow(q)
	hash := q.hash()
	var cur *cursor
	if q.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.NextToken)
		cur = &cursor{}
		if err != nil || json.Unmarshal(b, cur) != nil || cur.Hash != hash {
			return nil, ErrInvalidToken
		}
	}
	var hints filter.Hints
	needMatch := q.Filter != nil && q.Filter.String() != ""
	if needMatch {
		hints = q.Filter.Hints()
	}
	hw, hargs := hintSQL(hints)
	where += hw
	args = append(args, hargs...)
	page := &SummaryPage{Summaries: []json.RawMessage{}, ApproximateTime: q.Start}
	const chunk = 256
	for {
		qw, qargs := where, append([]any(nil), args...)
		if cur != nil {
			qw += fmt.Sprintf(" AND (%s < ? OR (%s = ? AND id < ?))", col, col)
			qargs = append(qargs, cur.T, cur.T, cur.ID)
		}
		sqlText := fmt.Sprintf(`SELECT id, %s, meta, start_time, end_time FROM traces WHERE %s ORDER BY %s DESC, id DESC LIMIT %d`,
			col, qw, col, chunk)
		rows, err := s.db.QueryContext(ctx, sqlText, qargs...)
		if err != nil {
			return nil, fmt.Errorf("querying trace summaries: %w", err)
		}
		n, full, err := s.scanSummaries(rows, q, needMatch, page, &cur)
		if err != nil {
			return nil, err
		}
		if full {
			page.NextToken = encodeCursor(cur, hash)
			page.ApproximateTime = cur.T
			return page, nil
		}
		if n < chunk {
			return page, nil // window exhausted
		}
	}
}

// scanSummaries consumes one chunk of rows; full reports that the page is complete.
func (s *Store) scanSummaries(rows *sql.Rows, q SummaryQuery, needMatch bool, page *SummaryPage, cur **cursor) (n int, full bool, err error) {
	defer rows.Close()
	for rows.Next() {
		var id int64
		var t, start, end float64
		var meta []byte
		if err := rows.Scan(&id, &t, &meta, &start, &end); err != nil {
			return n, false, fmt.Errorf("reading trace summaries: %w", err)
		}
		n++
		page.TracesProcessedCount++
		*cur = &cursor{T: t, ID: id}
		view, summary, err := unpackMeta(meta)
		if err != nil {
			return n, false, err
		}
		if needMatch {
			v, err := decodeView(view)
			if err != nil {
				return n, false, err
			}
			if !q.Filter.Match(v) {
				if int(page.TracesProcessedCount) >= q.MaxScan {
					return n, true, rows.Err()
				}
				continue
			}
		}
		if q.TimeRangeType == RangeEvent {
			summary = withMatchedEventTime(summary, math.Max(start, q.Start))
		}
		page.Summaries = append(page.Summaries, summary)
		if len(page.Summaries) >= q.PageSize || int(page.TracesProcessedCount) >= q.MaxScan {
			return n, true, rows.Err()
		}
	}
	return n, false, rows.Err()
}

func withMatchedEventTime(summary []byte, t float64) []byte {
	i := strings.LastIndexByte(string(summary), '}')
	if i < 0 {
		return summary
	}
	out := append([]byte(nil), summary[:i]...)
	out = append(out, `,"MatchedEventTime":`...)
	out = strconv.AppendFloat(out, math.Round(t*1e6)/1e6, 'f', -1, 64)
	return append(out, '}')
}

func encodeCursor(c *cursor, hash uint64) string {
	c.Hash = hash
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// timeWindow returns the ordering column and the WHERE clause selecting the window.
func timeWindow(q SummaryQuery) (col, where string, args []any) {
	switch q.TimeRangeType {
	case RangeEvent:
		return "start_time", "start_time < ? AND start_time >= ? AND end_time >= ?", []any{q.End, q.Start - maxTraceSpan, q.Start}
	case RangeService:
		return "end_time", "end_time >= ? AND end_time < ? + ? AND first_end < ?", []any{q.Start, q.End, maxTraceSpan, q.End}
	}
	return "id_time", "id_time >= ? AND id_time < ?", []any{q.Start, q.End}
}

// hintSQL turns filter hints into extra WHERE conditions.
func hintSQL(h filter.Hints) (string, []any) {
	var sb strings.Builder
	var args []any
	for _, svc := range h.Services {
		sb.WriteString(" AND EXISTS (SELECT 1 FROM trace_services ts WHERE ts.trace = traces.id AND ts.service = ?)")
		args = append(args, svc)
	}
	bound := func(col string, v *float64, op string) {
		if v != nil {
			fmt.Fprintf(&sb, " AND %s %s ?", col, op)
			args = append(args, *v)
		}
	}
	bound("response_time", h.MinResponseTime, ">=")
	bound("response_time", h.MaxResponseTime, "<=")
	bound("duration", h.MinDuration, ">=")
	bound("duration", h.MaxDuration, "<=")
	if h.HTTPStatus != nil {
		sb.WriteString(" AND http_status = ?")
		args = append(args, *h.HTTPStatus)
	}
	flag := func(b *bool, bit int) {
		if b == nil {
			return
		}
		if *b {
			fmt.Fprintf(&sb, " AND (flags & %d) != 0", bit)
		} else {
			fmt.Fprintf(&sb, " AND (flags & %d) = 0", bit)
		}
	}
	flag(h.Fault, flagFault)
	flag(h.Error, flagError)
	flag(h.OK, flagOK)
	flag(h.Partial, flagPartial)
	return sb.String(), args
}

// TraceResult is one entry of BatchGetTraces' Traces.
type TraceResult struct {
	Id            string                  `json:"Id"`
	Duration      *float64                `json:"Duration,omitempty"`
	LimitExceeded bool                    `json:"LimitExceeded"`
	Segments      []trace.SegmentDocument `json:"Segments"`
}

// loadTraces reads and assembles the given traces; missing ids are returned apart.
func (s *Store) loadTraces(ctx context.Context, ids []string) (found []*trace.Trace, rawBytes []int, missing []string, err error) {
	for _, id := range ids {
		var blob []byte
		var size int
		err := s.db.QueryRowContext(ctx, `SELECT docs, raw_bytes FROM traces WHERE trace_id = ?`, strings.ToLower(id)).Scan(&blob, &size)
		if err == sql.ErrNoRows {
			missing = append(missing, id)
			continue
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("reading trace %s: %w", id, err)
		}
		_, raws, err := unpackDocs(blob)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("trace %s: %w", id, err)
		}
		docs := make([]*trace.Doc, 0, len(raws))
		for _, r := range raws {
			if d, err := trace.Parse(r); err == nil {
				docs = append(docs, d)
			}
		}
		found = append(found, trace.Assemble(strings.ToLower(id), docs))
		rawBytes = append(rawBytes, size)
	}
	return found, rawBytes, missing, nil
}

// Traces returns the assembled traces (BatchGetTraces) and the ids not found.
func (s *Store) Traces(ctx context.Context, ids []string) ([]TraceResult, []string, error) {
	ts, sizes, missing, err := s.loadTraces(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	out := make([]TraceResult, 0, len(ts))
	for i, t := range ts {
		r := TraceResult{Id: t.ID, LimitExceeded: sizes[i] > limitExceededBytes, Segments: t.Documents()}
		if d, ok := t.Duration(); ok {
			d = math.Round(d*1000) / 1000
			r.Duration = &d
		}
		out = append(out, r)
	}
	return out, missing, nil
}

// TraceGraph builds the service graph of the given traces only.
func (s *Store) TraceGraph(ctx context.Context, ids []string) ([]trace.GraphService, error) {
	ts, _, _, err := s.loadTraces(ctx, ids)
	if err != nil {
		return nil, err
	}
	g := trace.NewGraph()
	for _, t := range ts {
		g.AddTrace(t)
	}
	return g.Services(), nil
}

// ServiceGraph aggregates the pre-computed per-minute graph over [start, end). The
// window has minute resolution: every minute bucket that overlaps it counts. With a
// filter (a group's expression), only matching traces contribute, which is computed
// from their stored contributions instead.
func (s *Store) ServiceGraph(ctx context.Context, start, end float64, group *filter.Expr) ([]trace.GraphService, error) {
	g := trace.NewGraph()
	if group != nil && group.String() != "" {
		if err := s.groupGraph(ctx, start, end, group, func(k trace.BucketKey, a *trace.Agg) { g.AddAgg(k.Key, a) }, 0); err != nil {
			return nil, err
		}
		return g.Services(), nil
	}
	err := s.scanBuckets(ctx, start, end, func(_ int64, k trace.AggKey) *trace.Agg { return g.Target(k) }, nil)
	if err != nil {
		return nil, err
	}
	return g.Services(), nil
}

// eachBucket streams the graph rows overlapping [start, end).
func (s *Store) eachBucket(ctx context.Context, start, end float64, fn func(bucket int64, k trace.AggKey, a *trace.Agg)) error {
	return s.scanBuckets(ctx, start, end, nil, fn)
}

// scanBuckets reads the graph rows overlapping [start, end): into, when set, names the
// aggregate each row is merged into (saving a copy); otherwise fn gets each row.
func (s *Store) scanBuckets(ctx context.Context, start, end float64, into func(bucket int64, k trace.AggKey) *trace.Agg, fn func(bucket int64, k trace.AggKey, a *trace.Agg)) error {
	lo := int64(math.Floor(start/bucketSec)) * bucketSec
	rows, err := s.db.QueryContext(ctx, `SELECT bucket, key, agg FROM graph WHERE bucket >= ? AND bucket < ?`, lo, end)
	if err != nil {
		return fmt.Errorf("querying service graph: %w", err)
	}
	defer rows.Close()
	keys := map[string]trace.AggKey{}
	for rows.Next() {
		var bucket int64
		var key string
		var blob []byte
		if err := rows.Scan(&bucket, &key, &blob); err != nil {
			return err
		}
		k, ok := keys[key]
		if !ok {
			if k, err = parseAggKey(key); err != nil {
				return fmt.Errorf("corrupt graph key %q: %w", key, err)
			}
			keys[key] = k
		}
		if into != nil {
			if _, err := decodeAgg(blob, into(bucket, k)); err != nil {
				return err
			}
			continue
		}
		a, err := decodeAgg(blob, nil)
		if err != nil {
			return err
		}
		fn(bucket, k, a)
	}
	return rows.Err()
}

// groupGraph aggregates the stored contributions of traces matching expr whose
// activity ends in the window (bucketed by period when period > 0).
func (s *Store) groupGraph(ctx context.Context, start, end float64, expr *filter.Expr, fn func(trace.BucketKey, *trace.Agg), period int64) error {
	rows, err := s.db.QueryContext(ctx, `SELECT meta, docs FROM traces WHERE end_time >= ? AND start_time < ?`, start, end)
	if err != nil {
		return fmt.Errorf("querying group traces: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var meta, blob []byte
		if err := rows.Scan(&meta, &blob); err != nil {
			return err
		}
		view, _, err := unpackMeta(meta)
		if err != nil {
			return err
		}
		v, err := decodeView(view)
		if err != nil {
			return err
		}
		if !expr.Match(v) {
			continue
		}
		contribJSON, _, err := unpackDocs(blob)
		if err != nil {
			return err
		}
		var cs []trace.Contribution
		if err := json.Unmarshal(contribJSON, &cs); err != nil {
			return err
		}
		kept := cs[:0]
		for _, c := range cs {
			if t := c.Time(); t >= start && t < end {
				kept = append(kept, c)
			}
		}
		for k, a := range trace.Aggregate(kept, period, 1, nil) {
			fn(k, a)
		}
	}
	return rows.Err()
}

// TimeSeriesPoint is one bucket of GetTimeSeriesServiceStatistics.
type TimeSeriesPoint struct {
	Timestamp float64
	Edge      *trace.Agg // nil when the selection has no edge statistics
	Service   *trace.Agg // nil when the selection has no service statistics
}

// TimeSeries returns statistics per period (seconds, a multiple of 60; 0 = 60) over
// [start, end). A service selector sums the matching nodes; an edge selector the
// matching edges; no selector gives the client (entry) edges and the root services.
// group, when not nil, limits the traces that contribute.
func (s *Store) TimeSeries(ctx context.Context, start, end float64, period int64, sel *filter.Selector, group *filter.Expr) ([]TimeSeriesPoint, error) {
	if period <= 0 {
		period = bucketSec
	}
	points := map[int64]*TimeSeriesPoint{}
	add := func(bucket int64, k trace.AggKey, a *trace.Agg) {
		p := bucket / period * period
		pt := points[p]
		if pt == nil {
			pt = &TimeSeriesPoint{Timestamp: float64(p)}
			points[p] = pt
		}
		target := &pt.Service
		switch {
		case sel == nil && k.Edge && k.From.Type == trace.ClientType:
			target = &pt.Edge
		case sel == nil && !k.Edge && a.Root > 0:
		case sel != nil && sel.Kind == filter.SelectService && !k.Edge && sel.MatchesNode(k.From.Node()):
		case sel != nil && sel.Kind == filter.SelectEdge && k.Edge && sel.MatchesEdge(k.From.Node(), k.To.Node()):
			target = &pt.Edge
		default:
			return
		}
		if *target == nil {
			*target = &trace.Agg{}
		}
		(*target).Merge(a, 1)
	}
	var err error
	if group != nil && group.String() != "" {
		err = s.groupGraph(ctx, start, end, group, func(k trace.BucketKey, a *trace.Agg) { add(k.Bucket, k.Key, a) }, bucketSec)
	} else {
		err = s.eachBucket(ctx, start, end, add)
	}
	if err != nil {
		return nil, err
	}
	out := make([]TimeSeriesPoint, 0, len(points))
	for _, p := range points {
		if p.Edge != nil || p.Service != nil {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Timestamp < out[j].Timestamp })
	return out, nil
}
