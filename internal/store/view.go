package store

import (
	"encoding/json"
	"fmt"

	"github.com/xrayd/xrayd/internal/filter"
)

// The filter view is stored in a compact JSON form: short member names and omitted
// zero values make it about a third of filter.Trace's default encoding.

type vHTTP struct {
	URL    string `json:"u,omitempty"`
	Method string `json:"m,omitempty"`
	UA     string `json:"a,omitempty"`
	IP     string `json:"i,omitempty"`
	Status int    `json:"s,omitempty"`
}

type vCall struct {
	Error      bool    `json:"e,omitempty"`
	Fault      bool    `json:"f,omitempty"`
	Throttle   bool    `json:"t,omitempty"`
	InProgress bool    `json:"p,omitempty"`
	Root       bool    `json:"r,omitempty"`
	RT         float64 `json:"d,omitempty"`
	HasRT      bool    `json:"h,omitempty"`
	HTTP       *vHTTP  `json:"w,omitempty"`
	User       string  `json:"u,omitempty"`
}

type vNode struct {
	Name     string `json:"n,omitempty"`
	Type     string `json:"t,omitempty"`
	Account  string `json:"a,omitempty"`
	Inferred bool   `json:"i,omitempty"`
}

type vValue struct {
	Kind filter.ValueKind `json:"k,omitempty"`
	Str  string           `json:"s,omitempty"`
	Num  float64          `json:"n,omitempty"`
	Bool bool             `json:"b,omitempty"`
}

type vService struct {
	Node  vNode   `json:"n"`
	Calls []vCall `json:"c"`
}

type vEdge struct {
	From  vNode   `json:"f"`
	To    vNode   `json:"t"`
	Calls []vCall `json:"c"`
}

type vTrace struct {
	ID          string              `json:"id"`
	Root        *vCall              `json:"r,omitempty"`
	Duration    *float64            `json:"d,omitempty"`
	Partial     bool                `json:"p,omitempty"`
	Users       []string            `json:"u,omitempty"`
	Annotations map[string][]vValue `json:"a,omitempty"`
	Services    []vService          `json:"s,omitempty"`
	Edges       []vEdge             `json:"e,omitempty"`
	AZs         []string            `json:"z,omitempty"`
	Instances   []string            `json:"x,omitempty"`
	ARNs        []string            `json:"arn,omitempty"`
	Inferred    bool                `json:"i,omitempty"`
}

func toVCall(c filter.Call) vCall {
	v := vCall{Error: c.Error, Fault: c.Fault, Throttle: c.Throttle, InProgress: c.InProgress, Root: c.Root,
		RT: c.ResponseTime, HasRT: c.HasResponseTime, User: c.User}
	if c.HTTP != (filter.HTTP{}) {
		v.HTTP = &vHTTP{URL: c.HTTP.URL, Method: c.HTTP.Method, UA: c.HTTP.UserAgent, IP: c.HTTP.ClientIP, Status: c.HTTP.Status}
	}
	return v
}

func (v vCall) call() filter.Call {
	c := filter.Call{Error: v.Error, Fault: v.Fault, Throttle: v.Throttle, InProgress: v.InProgress, Root: v.Root,
		ResponseTime: v.RT, HasResponseTime: v.HasRT, User: v.User}
	if v.HTTP != nil {
		c.HTTP = filter.HTTP{URL: v.HTTP.URL, Method: v.HTTP.Method, UserAgent: v.HTTP.UA, ClientIP: v.HTTP.IP, Status: v.HTTP.Status}
	}
	return c
}

func toVCalls(cs []filter.Call) []vCall {
	out := make([]vCall, len(cs))
	for i, c := range cs {
		out[i] = toVCall(c)
	}
	return out
}

func fromVCalls(cs []vCall) []filter.Call {
	out := make([]filter.Call, len(cs))
	for i, c := range cs {
		out[i] = c.call()
	}
	return out
}

func toVNode(n filter.Node) vNode {
	return vNode{Name: n.Name, Type: n.Type, Account: n.AccountID, Inferred: n.Inferred}
}

func (v vNode) node() filter.Node {
	return filter.Node{Name: v.Name, Type: v.Type, AccountID: v.Account, Inferred: v.Inferred}
}

// encodeView serializes a filter view compactly.
func encodeView(t *filter.Trace) ([]byte, error) {
	v := vTrace{ID: t.ID, Partial: t.Partial, Users: t.Users, AZs: t.AvailabilityZones, Instances: t.InstanceIDs,
		ARNs: t.ResourceARNs, Inferred: t.Inferred}
	if t.HasRoot {
		r := toVCall(t.Root)
		v.Root = &r
	}
	if t.HasDuration {
		d := t.Duration
		v.Duration = &d
	}
	if len(t.Annotations) > 0 {
		v.Annotations = make(map[string][]vValue, len(t.Annotations))
		for k, vals := range t.Annotations {
			out := make([]vValue, len(vals))
			for i, x := range vals {
				out[i] = vValue{Kind: x.Kind, Str: x.Str, Num: x.Num, Bool: x.Bool}
			}
			v.Annotations[k] = out
		}
	}
	for _, s := range t.Services {
		v.Services = append(v.Services, vService{Node: toVNode(s.Node), Calls: toVCalls(s.Calls)})
	}
	for _, e := range t.Edges {
		v.Edges = append(v.Edges, vEdge{From: toVNode(e.From), To: toVNode(e.To), Calls: toVCalls(e.Calls)})
	}
	return json.Marshal(v)
}

// decodeView reverses encodeView.
func decodeView(b []byte) (*filter.Trace, error) {
	var v vTrace
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decoding filter view: %w", err)
	}
	t := &filter.Trace{ID: v.ID, Partial: v.Partial, Users: v.Users, AvailabilityZones: v.AZs, InstanceIDs: v.Instances,
		ResourceARNs: v.ARNs, Inferred: v.Inferred, Annotations: map[string][]filter.Value{}}
	if v.Root != nil {
		t.Root, t.HasRoot = v.Root.call(), true
	}
	if v.Duration != nil {
		t.Duration, t.HasDuration = *v.Duration, true
	}
	for k, vals := range v.Annotations {
		out := make([]filter.Value, len(vals))
		for i, x := range vals {
			out[i] = filter.Value{Kind: x.Kind, Str: x.Str, Num: x.Num, Bool: x.Bool}
		}
		t.Annotations[k] = out
	}
	for _, s := range v.Services {
		t.Services = append(t.Services, filter.ServiceEntry{Node: s.Node.node(), Calls: fromVCalls(s.Calls)})
	}
	for _, e := range v.Edges {
		t.Edges = append(t.Edges, filter.EdgeEntry{From: e.From.node(), To: e.To.node(), Calls: fromVCalls(e.Calls)})
	}
	return t, nil
}
