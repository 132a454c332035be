package trace

import (
	"math"
	"sort"

	"github.com/xrayd/xrayd/internal/awsjson"
	"github.com/xrayd/xrayd/internal/filter"
)

// maxAnnotations is how many distinct annotation keys a trace indexes (§5.4).
const maxAnnotations = 50

// ServiceID is X-Ray's ServiceId shape.
type ServiceID struct {
	Name      string   `json:"Name,omitempty"`
	Names     []string `json:"Names"`
	AccountId string   `json:"AccountId,omitempty"`
	Type      string   `json:"Type,omitempty"`
}

// HTTPSummary is TraceSummary.Http.
type HTTPSummary struct {
	HttpURL    string `json:"HttpURL,omitempty"`
	HttpStatus *int   `json:"HttpStatus,omitempty"`
	HttpMethod string `json:"HttpMethod,omitempty"`
	UserAgent  string `json:"UserAgent,omitempty"`
	ClientIp   string `json:"ClientIp,omitempty"`
}

// AnnotationValue is the union of an annotation's possible values.
type AnnotationValue struct {
	NumberValue  *float64 `json:"NumberValue,omitempty"`
	BooleanValue *bool    `json:"BooleanValue,omitempty"`
	StringValue  *string  `json:"StringValue,omitempty"`
}

// ValueWithServiceIds is one distinct value of an annotation and who recorded it.
type ValueWithServiceIds struct {
	AnnotationValue AnnotationValue `json:"AnnotationValue"`
	ServiceIds      []ServiceID     `json:"ServiceIds"`
}

// TraceUser is one entry of TraceSummary.Users.
type TraceUser struct {
	UserName   string      `json:"UserName"`
	ServiceIds []ServiceID `json:"ServiceIds"`
}

// ResourceARNDetail, InstanceIdDetail and AvailabilityZoneDetail are list entries.
type (
	ResourceARNDetail struct {
		ARN string `json:"ARN"`
	}
	InstanceIdDetail struct {
		Id string `json:"Id"`
	}
	AvailabilityZoneDetail struct {
		Name string `json:"Name"`
	}
)

// Summary is the GetTraceSummaries TraceSummary shape (xray-api.md §3.6).
type Summary struct {
	Id                     string                           `json:"Id"`
	StartTime              awsjson.Time                     `json:"StartTime"`
	Duration               *float64                         `json:"Duration,omitempty"`
	ResponseTime           *float64                         `json:"ResponseTime,omitempty"`
	HasFault               bool                             `json:"HasFault"`
	HasError               bool                             `json:"HasError"`
	HasThrottle            bool                             `json:"HasThrottle"`
	IsPartial              bool                             `json:"IsPartial"`
	Http                   *HTTPSummary                     `json:"Http,omitempty"`
	Annotations            map[string][]ValueWithServiceIds `json:"Annotations"`
	Users                  []TraceUser                      `json:"Users"`
	ServiceIds             []ServiceID                      `json:"ServiceIds"`
	ResourceARNs           []ResourceARNDetail              `json:"ResourceARNs"`
	InstanceIds            []InstanceIdDetail               `json:"InstanceIds"`
	AvailabilityZones      []AvailabilityZoneDetail         `json:"AvailabilityZones"`
	EntryPoint             *ServiceID                       `json:"EntryPoint,omitempty"`
	FaultRootCauses        []any                            `json:"FaultRootCauses"`
	ErrorRootCauses        []any                            `json:"ErrorRootCauses"`
	ResponseTimeRootCauses []any                            `json:"ResponseTimeRootCauses"`
	Revision               int                              `json:"Revision"`
	MatchedEventTime       *awsjson.Time                    `json:"MatchedEventTime,omitempty"`
}

func serviceID(n filter.Node) ServiceID {
	return ServiceID{Name: n.Name, Names: []string{n.Name}, AccountId: n.AccountID, Type: n.Type}
}

// round3 rounds seconds to the millisecond, as the service reports them.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// StartTime is the earliest start_time of any segment (of any document when the trace
// has no segment yet).
func (t *Trace) StartTime() float64 {
	first := math.Inf(1)
	for _, s := range t.Segments {
		first = math.Min(first, s.StartTime)
	}
	if math.IsInf(first, 1) {
		for _, s := range t.Orphans {
			first = math.Min(first, s.StartTime)
		}
	}
	if math.IsInf(first, 1) {
		return 0
	}
	return first
}

// EndTime is the latest end_time (start_time for in-progress documents) of anything in
// the trace, orphans included.
func (t *Trace) EndTime() float64 {
	last := 0.0
	t.eachDoc(func(d *Doc) {
		last = math.Max(last, d.activityEnd())
	})
	return last
}

// FirstEnd is the earliest end_time (start_time for in-progress) of any real segment,
// used to index the trace for TimeRangeType Service.
func (t *Trace) FirstEnd() float64 {
	first := math.Inf(1)
	for _, s := range t.Segments {
		first = math.Min(first, s.activityEnd())
	}
	if math.IsInf(first, 1) {
		return t.EndTime()
	}
	return first
}

func (d *Doc) activityEnd() float64 {
	if d.InProgress {
		return d.StartTime
	}
	return d.EndTime
}

// IDTime is the time the trace is filed under for TimeRangeType TraceId: the epoch
// in the trace id, unless it is more than a day away from the first segment (W3C ids
// carry arbitrary bits there), in which case the first start time.
func (t *Trace) IDTime() float64 {
	start := t.StartTime()
	var sec int64
	for i := 2; i < 10 && i < len(t.ID); i++ {
		sec = sec<<4 | int64(hexVal(t.ID[i]))
	}
	if math.Abs(float64(sec)-start) > 86400 && start > 0 {
		return start
	}
	return float64(sec)
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

// eachDoc visits every real (sub)segment and every orphan subtree.
func (t *Trace) eachDoc(fn func(d *Doc)) {
	for _, s := range t.Segments {
		s.walk(func(d, _ *Doc) { fn(d) })
	}
	for _, s := range t.Orphans {
		s.walk(func(d, _ *Doc) { fn(d) })
	}
}

// ResponseTime is the root segment's duration; ok is false without a complete root.
func (t *Trace) ResponseTime() (float64, bool) {
	if t.Root == nil || t.Root.InProgress {
		return 0, false
	}
	return t.Root.EndTime - t.Root.StartTime, true
}

// Duration is the latest end of anything in the trace minus the root's start.
func (t *Trace) Duration() (float64, bool) {
	end := t.EndTime()
	start := t.StartTime()
	if t.Root != nil {
		start = t.Root.StartTime
	}
	if end == 0 {
		return 0, false
	}
	return math.Max(0, end-start), true
}

// Partial reports whether any document of the trace is still in progress.
func (t *Trace) Partial() bool {
	p := false
	t.eachDoc(func(d *Doc) { p = p || d.InProgress })
	for _, d := range t.Inferred {
		p = p || d.InProgress
	}
	return p
}

// rootCall is the root segment as a filter.Call.
func (t *Trace) rootCall() (filter.Call, bool) {
	if t.Root == nil {
		return filter.Call{}, false
	}
	c := segCall(t.Root)
	c.Root = true
	return c, true
}

func segCall(d *Doc) filter.Call {
	c := filter.Call{Error: d.Error, Fault: d.Fault, Throttle: d.Throttle, InProgress: d.InProgress,
		HTTP: filter.HTTP{URL: d.HTTP.URL, Method: d.HTTP.Method, UserAgent: d.HTTP.UserAgent,
			ClientIP: d.HTTP.ClientIP, Status: d.HTTP.Status}, User: d.User}
	if !d.InProgress {
		c.ResponseTime, c.HasResponseTime = d.EndTime-d.StartTime, true
	}
	return c
}

// Flags returns the trace-level status flags used by summaries and SQL indexes.
func (t *Trace) Flags() (fault, err, throttle bool) {
	if rc, ok := t.rootCall(); ok {
		_, err, fault, _ = filter.Classify(rc)
	}
	for _, s := range t.Segments {
		_, _, _, th := filter.Classify(segCall(s))
		throttle = throttle || th
	}
	return fault, err, throttle
}

// Summary derives the TraceSummary (segment.md §9).
func (t *Trace) Summary() *Summary {
	s := &Summary{Id: t.ID, StartTime: awsjson.Time(t.StartTime()), Revision: t.Revision,
		Annotations: map[string][]ValueWithServiceIds{}, Users: []TraceUser{}, ServiceIds: []ServiceID{},
		ResourceARNs: []ResourceARNDetail{}, InstanceIds: []InstanceIdDetail{}, AvailabilityZones: []AvailabilityZoneDetail{},
		FaultRootCauses: []any{}, ErrorRootCauses: []any{}, ResponseTimeRootCauses: []any{}}
	if rt, ok := t.ResponseTime(); ok {
		v := round3(rt)
		s.ResponseTime = &v
	}
	if d, ok := t.Duration(); ok {
		v := round3(d)
		s.Duration = &v
	}
	s.HasFault, s.HasError, s.HasThrottle = t.Flags()
	s.IsPartial = t.Partial()
	if r := t.Root; r != nil {
		ep := serviceID(t.node[r])
		s.EntryPoint = &ep
		h := r.HTTP
		if h != (HTTP{}) {
			s.Http = &HTTPSummary{HttpURL: h.URL, HttpMethod: h.Method, UserAgent: h.UserAgent, ClientIp: h.ClientIP}
			if h.Status != 0 {
				st := h.Status
				s.Http.HttpStatus = &st
			}
		}
	}
	seenNode := map[filter.Node]bool{}
	for _, seg := range t.AllSegments() {
		n := t.node[seg]
		if !seenNode[n] {
			seenNode[n] = true
			s.ServiceIds = append(s.ServiceIds, serviceID(n))
		}
	}
	t.summarizeDocs(s)
	return s
}

// summarizeDocs fills users, annotations and the resource lists.
func (t *Trace) summarizeDocs(s *Summary) {
	users := map[string]int{}
	arns, insts, azs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	type annKey struct {
		key string
		val filter.Value
	}
	annIdx := map[annKey]int{}
	visit := func(d *Doc, svc *ServiceID) {
		if d.User != "" {
			i, ok := users[d.User]
			if !ok {
				i = len(s.Users)
				users[d.User] = i
				s.Users = append(s.Users, TraceUser{UserName: d.User, ServiceIds: []ServiceID{}})
			}
			addSvc(&s.Users[i].ServiceIds, svc)
		}
		if d.ResourceARN != "" && !arns[d.ResourceARN] {
			arns[d.ResourceARN] = true
			s.ResourceARNs = append(s.ResourceARNs, ResourceARNDetail{ARN: d.ResourceARN})
		}
		if v := d.AWS.InstanceID; v != "" && !insts[v] {
			insts[v] = true
			s.InstanceIds = append(s.InstanceIds, InstanceIdDetail{Id: v})
		}
		if v := d.AWS.AvailabilityZone; v != "" && !azs[v] {
			azs[v] = true
			s.AvailabilityZones = append(s.AvailabilityZones, AvailabilityZoneDetail{Name: v})
		}
		for _, a := range d.Annotations {
			vals, known := s.Annotations[a.Key]
			if !known && len(s.Annotations) >= maxAnnotations {
				continue
			}
			k := annKey{a.Key, a.Value}
			i, ok := annIdx[k]
			if !ok {
				i = len(vals)
				annIdx[k] = i
				vals = append(vals, ValueWithServiceIds{AnnotationValue: annotationValue(a.Value), ServiceIds: []ServiceID{}})
			}
			addSvc(&vals[i].ServiceIds, svc)
			s.Annotations[a.Key] = vals
		}
	}
	for _, seg := range t.Segments {
		id := serviceID(t.node[seg])
		seg.walk(func(d, _ *Doc) { visit(d, &id) })
	}
	for _, o := range t.Orphans {
		o.walk(func(d, _ *Doc) { visit(d, nil) })
	}
}

func addSvc(list *[]ServiceID, svc *ServiceID) {
	if svc == nil {
		return
	}
	for _, e := range *list {
		if e.Name == svc.Name && e.Type == svc.Type && e.AccountId == svc.AccountId {
			return
		}
	}
	*list = append(*list, *svc)
}

func annotationValue(v filter.Value) AnnotationValue {
	switch v.Kind {
	case filter.KindNumber:
		n := v.Num
		return AnnotationValue{NumberValue: &n}
	case filter.KindBool:
		b := v.Bool
		return AnnotationValue{BooleanValue: &b}
	}
	str := v.Str
	return AnnotationValue{StringValue: &str}
}

// ServiceNames returns the distinct node names of the trace (real and inferred), sorted.
func (t *Trace) ServiceNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, seg := range t.AllSegments() {
		if n := t.node[seg].Name; !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// View builds the filter-expression view of the trace.
func (t *Trace) View() *filter.Trace {
	v := &filter.Trace{ID: t.ID, Annotations: map[string][]filter.Value{}, Inferred: len(t.Inferred) > 0}
	v.Root, v.HasRoot = t.rootCall()
	v.Duration, v.HasDuration = t.Duration()
	v.Partial = t.Partial()
	seen := map[string]bool{}
	add := func(list *[]string, kind, val string) {
		if val != "" && !seen[kind+val] {
			seen[kind+val] = true
			*list = append(*list, val)
		}
	}
	annSeen := map[string]bool{}
	t.eachDoc(func(d *Doc) {
		add(&v.Users, "u", d.User)
		add(&v.ResourceARNs, "r", d.ResourceARN)
		add(&v.InstanceIDs, "i", d.AWS.InstanceID)
		add(&v.AvailabilityZones, "a", d.AWS.AvailabilityZone)
		for _, a := range d.Annotations {
			vals, known := v.Annotations[a.Key]
			if !known && len(v.Annotations) >= maxAnnotations {
				continue
			}
			k := a.Key + "\x00" + valueKey(a.Value)
			if !annSeen[k] {
				annSeen[k] = true
				v.Annotations[a.Key] = append(vals, a.Value)
			}
		}
	})
	svcIdx := map[filter.Node]int{}
	for _, seg := range t.AllSegments() {
		n := t.node[seg]
		i, ok := svcIdx[n]
		if !ok {
			i = len(v.Services)
			svcIdx[n] = i
			v.Services = append(v.Services, filter.ServiceEntry{Node: n})
		}
		c := segCall(seg)
		c.Root = seg == t.Root
		v.Services[i].Calls = append(v.Services[i].Calls, c)
	}
	type ek struct{ from, to filter.Node }
	edgeIdx := map[ek]int{}
	t.eachCall(func(from, to *Doc, site *Doc) {
		k := ek{t.node[from], t.node[to]}
		i, ok := edgeIdx[k]
		if !ok {
			i = len(v.Edges)
			edgeIdx[k] = i
			v.Edges = append(v.Edges, filter.EdgeEntry{From: k.from, To: k.to})
		}
		v.Edges[i].Calls = append(v.Edges[i].Calls, segCall(site))
	})
	return v
}

func valueKey(v filter.Value) string {
	switch v.Kind {
	case filter.KindNumber:
		return "n" + formatFloat(v.Num)
	case filter.KindBool:
		if v.Bool {
			return "bt"
		}
		return "bf"
	}
	return "s" + v.Str
}

// eachCall visits every caller -> callee call of the trace: from is the caller's
// segment, to the callee segment (real or inferred), site the caller-side
// (sub)segment whose id the callee names as parent_id.
func (t *Trace) eachCall(fn func(from, to, site *Doc)) {
	for _, seg := range t.Segments {
		seg.walk(func(s, _ *Doc) {
			callee, ok := t.callees[s.ID]
			if !ok || callee == seg {
				return
			}
			fn(seg, callee, s)
		})
	}
}
