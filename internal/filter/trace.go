package filter

// ValueKind is the type of an annotation value or a literal.
type ValueKind int

// Kinds of Value.
const (
	KindString ValueKind = iota
	KindNumber
	KindBool
)

func (k ValueKind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindNumber:
		return "number"
	case KindBool:
		return "boolean"
	}
	return "unknown"
}

// Value is an annotation value (or a literal in an expression).
type Value struct {
	Kind ValueKind
	Str  string
	Num  float64
	Bool bool
}

// HTTP is the http block of a segment or subsegment. Empty strings are absent values.
type HTTP struct {
	URL, Method, UserAgent, ClientIP string
	Status                           int // 0 = absent
}

// Node identifies a service-graph node.
type Node struct {
	Name, Type, AccountID string
	Inferred              bool
}

// Call is one segment of a node (for service(){...} blocks) or one caller-side
// subsegment (for edge(){...} blocks).
type Call struct {
	Error, Fault, Throttle bool // flags as recorded
	InProgress, Root       bool
	ResponseTime           float64
	HasResponseTime        bool
	HTTP                   HTTP
	User                   string
}

// ServiceEntry is a node of the trace with the segments it owns.
type ServiceEntry struct {
	Node  Node
	Calls []Call
}

// EdgeEntry is a caller -> callee edge of the trace with the caller-side calls.
type EdgeEntry struct {
	From, To Node
	Calls    []Call
}

// Trace is what an expression is evaluated against. The store fills it from an
// assembled trace; Match only reads it.
type Trace struct {
	ID          string
	Root        Call // root segment (trace-level ok/error/fault/throttle, responsetime, http.*)
	HasRoot     bool
	Duration    float64
	HasDuration bool
	Partial     bool
	Users       []string
	Annotations map[string][]Value // every value seen for the key
	Services    []ServiceEntry
	Edges       []EdgeEntry

	AvailabilityZones, InstanceIDs, ResourceARNs []string
	Inferred                                     bool // trace has inferred segments
}

// Classify returns the status classes of a call (segment.md §9): fault if the
// fault flag is set or the status is 5xx; error if the error or throttle flag is
// set or the status is 4xx; throttle if the throttle flag is set or the status is
// 429; ok when neither fault nor error. A 429 is both error and throttle.
func Classify(c Call) (ok, err, fault, throttle bool) {
	s := c.HTTP.Status
	fault = c.Fault || (s >= 500 && s <= 599)
	err = c.Error || c.Throttle || (s >= 400 && s <= 499)
	throttle = c.Throttle || s == 429
	ok = !fault && !err
	return ok, err, fault, throttle
}
