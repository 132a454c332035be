package filter

// Hints are conditions implied by a whole expression, for pushing coarse
// filters down into SQL. They come only from the top-level AND chain (anything
// under OR or NOT is ignored), so every trace that matches satisfies every
// hint; Match must still be run for exactness.
type Hints struct {
	// Services: the trace contains a node with each of these names
	// (service("x"), service(id(name: "x")) or edge endpoints at top level).
	Services []string
	// Inclusive bounds; a strict > or < is given as inclusive.
	MinResponseTime, MaxResponseTime *float64
	MinDuration, MaxDuration         *float64
	HTTPStatus                       *int
	// Root-segment status classes (Classify of the root). false also covers a
	// trace without a root segment.
	Fault, Error, Throttle, OK *bool
	Partial                    *bool
	Users                      []string // user = "x"
	AnnotationKeys             []string // annotation.KEY present
	TraceIDs                   []string // unused: the language has no trace-id filter
}

// Hints returns the push-down hints of the expression.
func (x *Expr) Hints() Hints {
	var h Hints
	if x == nil || x.root == nil {
		return h
	}
	var conj []expr
	conj = flattenAnd(x.root, conj)
	for _, c := range conj {
		h.add(c)
	}
	return h
}

func flattenAnd(e expr, out []expr) []expr {
	if a, ok := e.(*andExpr); ok {
		return flattenAnd(a.r, flattenAnd(a.l, out))
	}
	return append(out, e)
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func (h *Hints) add(e expr) {
	switch x := e.(type) {
	case *serviceExpr:
		if x.ref != nil && x.ref.HasName {
			h.Services = appendUnique(h.Services, x.ref.Name)
		}
	case *edgeExpr:
		if x.from.HasName {
			h.Services = appendUnique(h.Services, x.from.Name)
		}
		if x.to.HasName {
			h.Services = appendUnique(h.Services, x.to.Name)
		}
	case *boolExpr:
		want := x.want
		if x.op == opNe {
			want = !want
		}
		var dst **bool
		switch x.kw {
		case "ok":
			dst = &h.OK
		case "error":
			dst = &h.Error
		case "fault":
			dst = &h.Fault
		case "throttle":
			dst = &h.Throttle
		case "partial":
			dst = &h.Partial
		default:
			return
		}
		if *dst == nil {
			*dst = &want
		}
	case *numExpr:
		h.addNum(x)
	case *strExpr:
		if x.kw == "user" && x.op == opEq {
			h.Users = appendUnique(h.Users, x.val)
		}
	case *annExpr:
		h.AnnotationKeys = appendUnique(h.AnnotationKeys, x.key)
	}
}

func (h *Hints) addNum(x *numExpr) {
	if x.kw == "http.status" {
		if x.op == opEq && h.HTTPStatus == nil && x.val == float64(int(x.val)) {
			s := int(x.val)
			h.HTTPStatus = &s
		}
		return
	}
	lo, hi := &h.MinResponseTime, &h.MaxResponseTime
	if x.kw == "duration" {
		lo, hi = &h.MinDuration, &h.MaxDuration
	}
	v := x.val
	switch x.op {
	case opGt, opGe:
		tighten(lo, v, func(a, b float64) bool { return a > b })
	case opLt, opLe:
		tighten(hi, v, func(a, b float64) bool { return a < b })
	case opEq:
		tighten(lo, v, func(a, b float64) bool { return a > b })
		tighten(hi, v, func(a, b float64) bool { return a < b })
	}
}

// tighten stores v in *dst when *dst is unset or v is stricter.
func tighten(dst **float64, v float64, stricter func(a, b float64) bool) {
	if *dst == nil || stricter(v, **dst) {
		*dst = &v
	}
}
