package filter

import "strings"

// scope says where a predicate is evaluated: against the whole trace, one
// segment of a service() block, or one caller-side call of an edge() block.
type scope uint8

const (
	scopeTrace scope = 1 << iota
	scopeService
	scopeEdge
)

func (s scope) String() string {
	switch s {
	case scopeService:
		return "a service() block"
	case scopeEdge:
		return "an edge() block"
	}
	return "the top level"
}

type env struct {
	t    *Trace
	call *Call // nil at trace level
	node *Node // the node of a service() block
}

type expr interface {
	eval(e *env) bool
}

type andExpr struct{ l, r expr }
type orExpr struct{ l, r expr }
type notExpr struct{ x expr }

func (x *andExpr) eval(e *env) bool { return x.l.eval(e) && x.r.eval(e) }
func (x *orExpr) eval(e *env) bool  { return x.l.eval(e) || x.r.eval(e) }
func (x *notExpr) eval(e *env) bool { return !x.x.eval(e) }

// op is a comparison operator; opNone marks a bare keyword.
type op int

const (
	opNone op = iota
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opContains
	opBegins
	opEnds
)

var opNames = [...]string{"", "=", "!=", "<", "<=", ">", ">=", "CONTAINS", "BEGINSWITH", "ENDSWITH"}

func (o op) String() string { return opNames[o] }

// boolExpr: ok, error, fault, throttle, partial, inferred, root.
type boolExpr struct {
	kw   string
	op   op // opNone, opEq or opNe
	want bool
}

func (x *boolExpr) eval(e *env) bool {
	v, present := boolValue(x.kw, e)
	if !present {
		return false
	}
	if x.op == opNe {
		return v != x.want
	}
	return v == x.want
}

func boolValue(kw string, e *env) (v, present bool) {
	c := e.call
	if c == nil {
		switch kw {
		case "partial":
			return e.t.Partial, true
		case "inferred":
			return e.t.Inferred, true
		}
		if !e.t.HasRoot {
			return false, false
		}
		c = &e.t.Root
	}
	switch kw {
	case "partial":
		return c.InProgress, true
	case "root":
		return c.Root, true
	case "inferred":
		return e.node != nil && e.node.Inferred, true
	}
	ok, er, fault, throttle := Classify(*c)
	switch kw {
	case "ok":
		return ok, true
	case "error":
		return er, true
	case "fault":
		return fault, true
	case "throttle":
		return throttle, true
	}
	return false, false
}

// numExpr: responsetime, duration, http.status.
type numExpr struct {
	kw  string
	op  op
	val float64
}

func (x *numExpr) eval(e *env) bool {
	v, ok := numValue(x.kw, e)
	return ok && compareNum(x.op, v, x.val)
}

func numValue(kw string, e *env) (float64, bool) {
	c := e.call
	if c == nil {
		if kw == "duration" {
			return e.t.Duration, e.t.HasDuration
		}
		if !e.t.HasRoot {
			return 0, false
		}
		c = &e.t.Root
	}
	switch kw {
	case "responsetime", "duration":
		return c.ResponseTime, c.HasResponseTime
	case "http.status":
		return float64(c.HTTP.Status), c.HTTP.Status != 0
	}
	return 0, false
}

func compareNum(o op, v, lit float64) bool {
	switch o {
	case opEq:
		return v == lit
	case opNe:
		return v != lit
	case opLt:
		return v < lit
	case opLe:
		return v <= lit
	case opGt:
		return v > lit
	case opGe:
		return v >= lit
	}
	return false
}

// strExpr: http.*, user, name, type, availabilityzone, instance.id, resource.arn.
type strExpr struct {
	kw  string
	op  op // opNone = has a value
	val string
}

func (x *strExpr) eval(e *env) bool {
	one, many, multi := strValues(x.kw, e)
	if !multi {
		if one == "" {
			return false
		}
		return x.op == opNone || compareStr(x.op, one, x.val)
	}
	present := false
	for _, v := range many {
		if v == "" {
			continue
		}
		present = true
		if x.op == opNe {
			if v == x.val {
				return false
			}
			continue
		}
		if x.op == opNone || compareStr(x.op, v, x.val) {
			return true
		}
	}
	return x.op == opNe && present
}

// strValues returns a single value, or a list when the keyword is multi-valued.
func strValues(kw string, e *env) (one string, many []string, multi bool) {
	c := e.call
	if c == nil {
		switch kw {
		case "user":
			return "", e.t.Users, true
		case "availabilityzone":
			return "", e.t.AvailabilityZones, true
		case "instance.id":
			return "", e.t.InstanceIDs, true
		case "resource.arn":
			return "", e.t.ResourceARNs, true
		}
		if !e.t.HasRoot {
			return "", nil, false
		}
		c = &e.t.Root
	}
	switch kw {
	case "http.url":
		return c.HTTP.URL, nil, false
	case "http.method":
		return c.HTTP.Method, nil, false
	case "http.useragent":
		return c.HTTP.UserAgent, nil, false
	case "http.clientip":
		return c.HTTP.ClientIP, nil, false
	case "user":
		return c.User, nil, false
	case "name":
		if e.node != nil {
			return e.node.Name, nil, false
		}
	case "type":
		if e.node != nil {
			return e.node.Type, nil, false
		}
	}
	return "", nil, false
}

func compareStr(o op, v, lit string) bool {
	switch o {
	case opEq:
		return v == lit
	case opNe:
		return v != lit
	case opContains:
		return strings.Contains(v, lit)
	case opBegins:
		return strings.HasPrefix(v, lit)
	case opEnds:
		return strings.HasSuffix(v, lit)
	}
	return false
}

// annExpr: annotation.KEY [op value].
type annExpr struct {
	key string
	op  op // opNone = is set
	val Value
}

func (x *annExpr) eval(e *env) bool {
	vals := e.t.Annotations[x.key]
	if x.op == opNone {
		return len(vals) > 0
	}
	// Values of another type than the literal behave as absent (choice, spec §4).
	seen := false
	for _, v := range vals {
		if v.Kind != x.val.Kind {
			continue
		}
		seen = true
		if x.op == opNe {
			if valueEq(v, x.val) {
				return false
			}
			continue
		}
		if compareValue(x.op, v, x.val) {
			return true
		}
	}
	return x.op == opNe && seen
}

func valueEq(a, b Value) bool {
	switch a.Kind {
	case KindString:
		return a.Str == b.Str
	case KindNumber:
		return a.Num == b.Num
	}
	return a.Bool == b.Bool
}

func compareValue(o op, v, lit Value) bool {
	switch v.Kind {
	case KindString:
		return compareStr(o, v.Str, lit.Str)
	case KindNumber:
		return compareNum(o, v.Num, lit.Num)
	}
	return o == opEq && v.Bool == lit.Bool
}

// NodeRef selects graph nodes by any subset of name, type and account id.
type NodeRef struct {
	Name, Type, AccountID          string
	HasName, HasType, HasAccountID bool
}

// Matches reports whether every field present in r equals the node's (exact, case-sensitive).
func (r NodeRef) Matches(n Node) bool {
	return (!r.HasName || r.Name == n.Name) &&
		(!r.HasType || r.Type == n.Type) &&
		(!r.HasAccountID || r.AccountID == n.AccountID)
}

// serviceExpr: service([ref]) [{block}]; ref nil means any node.
type serviceExpr struct {
	ref   *NodeRef
	block expr
}

func (x *serviceExpr) eval(e *env) bool {
	for i := range e.t.Services {
		s := &e.t.Services[i]
		if x.ref != nil && !x.ref.Matches(s.Node) {
			continue
		}
		if x.block == nil {
			return true
		}
		for j := range s.Calls {
			if x.block.eval(&env{t: e.t, call: &s.Calls[j], node: &s.Node}) {
				return true
			}
		}
	}
	return false
}

// edgeExpr: edge(from, to) [{block}].
type edgeExpr struct {
	from, to NodeRef
	block    expr
}

func (x *edgeExpr) eval(e *env) bool {
	for i := range e.t.Edges {
		ed := &e.t.Edges[i]
		if !x.from.Matches(ed.From) || !x.to.Matches(ed.To) {
			continue
		}
		if x.block == nil {
			return true
		}
		for j := range ed.Calls {
			if x.block.eval(&env{t: e.t, call: &ed.Calls[j]}) {
				return true
			}
		}
	}
	return false
}

// Expr is a parsed filter expression. It is immutable and safe for concurrent use.
type Expr struct {
	src  string
	root expr // nil matches everything
}

// String returns the source the expression was parsed from.
func (x *Expr) String() string {
	if x == nil {
		return ""
	}
	return x.src
}

// Match reports whether the trace satisfies the expression. A nil or empty
// expression matches every trace; a nil trace matches only the empty expression.
func (x *Expr) Match(t *Trace) bool {
	if x == nil || x.root == nil {
		return true
	}
	if t == nil {
		return false
	}
	return x.root.eval(&env{t: t})
}
