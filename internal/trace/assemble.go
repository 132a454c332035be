package trace

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"

	"github.com/xrayd/xrayd/internal/filter"
)

// Trace is an assembled trace (segment.md §7).
type Trace struct {
	ID       string
	Segments []*Doc // real segments, by start time then id
	Inferred []*Doc // generated segments (§8), by start time then id
	Orphans  []*Doc // independent subsegments whose parent has not arrived
	Root     *Doc   // nil when the trace has no segment yet
	Revision int    // documents received for the trace (each add or replace bumps it)

	byID    map[string]*Doc // every (sub)segment in the tree by id
	owner   map[*Doc]*Doc   // (sub)segment -> the segment (real or inferred) that holds it
	callees map[string]*Doc // subsegment id -> segment whose parent_id is that id
	node    map[*Doc]filter.Node
}

// Assemble builds a trace from its documents, given in arrival order. It takes
// ownership of the documents (it links grafted subsegments into them).
func Assemble(traceID string, docs []*Doc) *Trace {
	t := &Trace{ID: traceID, Revision: len(docs), byID: map[string]*Doc{}, owner: map[*Doc]*Doc{},
		callees: map[string]*Doc{}, node: map[*Doc]filter.Node{}}
	chosen := dedupe(docs)
	var subs []*Doc
	for _, d := range chosen {
		d.walk(func(s, _ *Doc) { s.grafted = nil })
		if d.Independent {
			subs = append(subs, d)
		} else {
			t.Segments = append(t.Segments, d)
		}
	}
	sortDocs(t.Segments)
	sortDocs(subs)
	for _, seg := range t.Segments {
		t.index(seg, seg)
	}
	t.graft(subs)
	t.pickRoot()
	t.infer()
	return t
}

// dedupe keeps one version per id: complete beats in-progress regardless of order;
// between equals the later arrival wins.
func dedupe(docs []*Doc) []*Doc {
	pos := map[string]int{}
	var out []*Doc
	for _, d := range docs {
		i, seen := pos[d.ID]
		if !seen {
			pos[d.ID] = len(out)
			out = append(out, d)
			continue
		}
		if old := out[i]; d.InProgress && !old.InProgress {
			continue
		}
		out[i] = d
	}
	return out
}

func sortDocs(ds []*Doc) {
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].StartTime != ds[j].StartTime {
			return ds[i].StartTime < ds[j].StartTime
		}
		return ds[i].ID < ds[j].ID
	})
}

func (t *Trace) index(d, owner *Doc) {
	d.walk(func(s, _ *Doc) {
		if _, dup := t.byID[s.ID]; !dup {
			t.byID[s.ID] = s
		}
		t.owner[s] = owner
	})
}

// graft attaches independent subsegments under their parent, wherever it is nested,
// repeating until no more can be placed; the rest are orphans.
func (t *Trace) graft(subs []*Doc) {
	pending := subs
	for len(pending) > 0 {
		var next []*Doc
		for _, s := range pending {
			p, ok := t.byID[s.ParentID]
			if !ok || s.ID == s.ParentID {
				next = append(next, s)
				continue
			}
			p.grafted = append(p.grafted, s)
			t.index(s, t.owner[p])
		}
		if len(next) == len(pending) {
			break
		}
		pending = next
	}
	t.Orphans = pending
	for _, d := range t.byID {
		if len(d.grafted) > 1 {
			sortDocs(d.grafted)
		}
	}
}

func (t *Trace) pickRoot() {
	for _, seg := range t.Segments {
		if p, ok := t.byID[seg.ParentID]; ok && seg.ParentID != "" && t.owner[p] != seg {
			if _, taken := t.callees[seg.ParentID]; !taken {
				t.callees[seg.ParentID] = seg
			}
			continue
		}
		if t.Root == nil {
			t.Root = seg // segments are sorted: the first candidate starts earliest
		}
	}
	for _, seg := range t.Segments {
		t.node[seg] = filter.Node{Name: seg.Name, Type: seg.Origin, AccountID: seg.AWS.AccountID}
	}
}

// infer adds a segment for every aws/remote subsegment whose callee sent nothing (§8).
func (t *Trace) infer() {
	for _, seg := range t.Segments {
		seg.walk(func(s, parent *Doc) {
			if parent == nil || (s.Namespace != "aws" && s.Namespace != "remote") || s.HTTP.Traced {
				return
			}
			if _, ok := t.callees[s.ID]; ok {
				return
			}
			inf := inferredDoc(t.ID, s)
			t.callees[s.ID] = inf
			t.owner[inf] = inf
			t.node[inf] = inferredNode(s)
			t.Inferred = append(t.Inferred, inf)
		})
	}
	sortDocs(t.Inferred)
}

func inferredDoc(traceID string, s *Doc) *Doc {
	sum := sha256.Sum256([]byte(traceID + s.ID))
	n := inferredNode(s)
	origin := n.Type
	if origin == "remote" {
		origin = ""
	}
	return &Doc{ID: hex.EncodeToString(sum[:8]), TraceID: traceID, ParentID: s.ID, Name: s.Name,
		Origin: origin, Inferred: true, StartTime: s.StartTime, EndTime: s.EndTime, InProgress: s.InProgress,
		Error: s.Error, Fault: s.Fault, Throttle: s.Throttle, HTTP: s.HTTP, AWS: s.AWS,
		hasHTTP: s.hasHTTP, hasAWS: s.hasAWS}
}

// inferredNode names the graph node of an inferred segment per the §8 table.
func inferredNode(s *Doc) filter.Node {
	n := filter.Node{Name: s.Name, AccountID: s.AWS.AccountID, Inferred: true}
	if s.Namespace == "remote" {
		n.Type = "remote"
		return n
	}
	switch {
	case strings.EqualFold(s.Name, "DynamoDB") && s.AWS.TableName != "":
		n.Name, n.Type = s.AWS.TableName, "AWS::DynamoDB::Table"
	case s.AWS.QueueURL != "":
		u := strings.TrimRight(s.AWS.QueueURL, "/")
		n.Name, n.Type = u[strings.LastIndexByte(u, '/')+1:], "AWS::SQS::Queue"
	case s.AWS.BucketName != "":
		n.Name, n.Type = s.AWS.BucketName, "AWS::S3::Bucket"
	case s.AWS.FuncName != "":
		n.Name, n.Type = s.AWS.FuncName, "AWS::Lambda::Function"
	default:
		n.Type = "AWS::" + s.Name
	}
	return n
}

// NodeOf returns the graph node of a segment (real or inferred) of t.
func (t *Trace) NodeOf(seg *Doc) filter.Node { return t.node[seg] }

// AllSegments returns the real then the inferred segments.
func (t *Trace) AllSegments() []*Doc {
	out := make([]*Doc, 0, len(t.Segments)+len(t.Inferred))
	out = append(out, t.Segments...)
	return append(out, t.Inferred...)
}

// SegmentDocument is one entry of BatchGetTraces' Segments.
type SegmentDocument struct {
	Id       string `json:"Id"`
	Document string `json:"Document"`
}

// Documents renders every segment (real and inferred) as its processed JSON:
// independent subsegments merged into their parent's subsegments, without their
// type/trace_id/parent_id.
func (t *Trace) Documents() []SegmentDocument {
	out := make([]SegmentDocument, 0, len(t.Segments)+len(t.Inferred))
	for _, seg := range t.Segments {
		b, err := json.Marshal(render(seg, true))
		if err != nil {
			b = seg.Raw
		}
		out = append(out, SegmentDocument{Id: seg.ID, Document: string(b)})
	}
	for _, inf := range t.Inferred {
		b, _ := json.Marshal(renderInferred(inf))
		out = append(out, SegmentDocument{Id: inf.ID, Document: string(b)})
	}
	return out
}

func decodeGeneric(raw []byte) map[string]any {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil || m == nil {
		m = map[string]any{}
	}
	return m
}

func render(d *Doc, top bool) map[string]any {
	m := decodeGeneric(d.Raw)
	if top {
		m["id"], m["trace_id"] = d.ID, d.TraceID
	} else {
		delete(m, "type")
		delete(m, "trace_id")
		delete(m, "parent_id")
		m["id"] = d.ID
	}
	idx := map[string]map[string]any{d.ID: m}
	indexGeneric(m, idx)
	var attach func(x *Doc)
	attach = func(x *Doc) {
		for _, c := range x.Subsegments {
			attach(c)
		}
		if len(x.grafted) == 0 {
			return
		}
		g := idx[x.ID]
		if g == nil {
			return
		}
		subs, _ := g["subsegments"].([]any)
		for _, c := range x.grafted {
			subs = append(subs, render(c, false))
		}
		g["subsegments"] = subs
	}
	attach(d)
	return m
}

func indexGeneric(m map[string]any, idx map[string]map[string]any) {
	subs, _ := m["subsegments"].([]any)
	for _, s := range subs {
		sm, ok := s.(map[string]any)
		if !ok {
			continue
		}
		if id, ok := sm["id"].(string); ok {
			idx[strings.ToLower(id)] = sm
		}
		indexGeneric(sm, idx)
	}
}

func renderInferred(d *Doc) map[string]any {
	m := map[string]any{"id": d.ID, "name": d.Name, "trace_id": d.TraceID, "parent_id": d.ParentID,
		"start_time": d.StartTime, "inferred": true}
	if d.InProgress {
		m["in_progress"] = true
	} else {
		m["end_time"] = d.EndTime
	}
	if d.Origin != "" {
		m["origin"] = d.Origin
	}
	if d.hasHTTP {
		m["http"] = httpJSON(d.HTTP)
	}
	if d.hasAWS {
		m["aws"] = awsJSON(d.AWS)
	}
	if d.Error {
		m["error"] = true
	}
	if d.Fault {
		m["fault"] = true
	}
	if d.Throttle {
		m["throttle"] = true
	}
	return m
}

func httpJSON(h HTTP) map[string]any {
	req := map[string]any{}
	for k, v := range map[string]string{"method": h.Method, "url": h.URL, "user_agent": h.UserAgent, "client_ip": h.ClientIP} {
		if v != "" {
			req[k] = v
		}
	}
	out := map[string]any{}
	if len(req) > 0 {
		out["request"] = req
	}
	if h.Status != 0 {
		out["response"] = map[string]any{"status": h.Status}
	}
	return out
}

func awsJSON(a AWS) map[string]any {
	out := map[string]any{}
	for k, v := range map[string]string{"account_id": a.AccountID, "operation": a.Operation, "region": a.Region,
		"table_name": a.TableName, "queue_url": a.QueueURL, "bucket_name": a.BucketName, "function_name": a.FuncName} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}
