package filter

import "testing"

// sampleTrace: client -> api (root, 200, 0.12 s) -> backend (500, fault handled by
// api) -> users (inferred DynamoDB table, throttled 429).
func sampleTrace() *Trace {
	api := Node{Name: "api", Type: "AWS::EC2::Instance", AccountID: "111"}
	backend := Node{Name: "backend", Type: "AWS::ECS::Container", AccountID: "111"}
	users := Node{Name: "users", Type: "AWS::DynamoDB::Table", Inferred: true}
	root := Call{Root: true, ResponseTime: 0.12, HasResponseTime: true, User: "alice",
		HTTP: HTTP{URL: "https://api.example.com/v2/game/1", Method: "POST", UserAgent: "curl/8", ClientIP: "10.0.0.1", Status: 200}}
	return &Trace{
		ID:       "1-5f84c7a1-0123456789abcdef01234567",
		Root:     root,
		HasRoot:  true,
		Duration: 0.2, HasDuration: true,
		Users: []string{"alice", "bob"},
		Annotations: map[string][]Value{
			"gameid":   {{Kind: KindString, Str: "817DL6VO"}},
			"age":      {{Kind: KindNumber, Num: 30}, {Kind: KindNumber, Num: 12}},
			"internal": {{Kind: KindBool, Bool: false}},
			"mixed":    {{Kind: KindString, Str: "x"}, {Kind: KindNumber, Num: 1}},
		},
		Services: []ServiceEntry{
			{Node: api, Calls: []Call{root}},
			{Node: backend, Calls: []Call{{ResponseTime: 0.05, HasResponseTime: true, HTTP: HTTP{Status: 500, Method: "GET"}, User: "bob"}}},
			{Node: users, Calls: []Call{{ResponseTime: 0.01, HasResponseTime: true, Throttle: true, HTTP: HTTP{Status: 429}}}},
		},
		Edges: []EdgeEntry{
			{From: Node{Name: "api", Type: "client"}, To: api, Calls: []Call{root}},
			{From: api, To: backend, Calls: []Call{{ResponseTime: 0.06, HasResponseTime: true, Fault: true, HTTP: HTTP{Status: 500}}}},
			{From: backend, To: users, Calls: []Call{{ResponseTime: 0.01, HasResponseTime: true, Throttle: true}, {InProgress: true}}},
		},
		AvailabilityZones: []string{"us-east-1a"},
		InstanceIDs:       []string{"i-0abc"},
		ResourceARNs:      []string{"arn:aws:dynamodb:us-east-1:111:table/users"},
		Inferred:          true,
	}
}

func TestMatchEvaluatesAgainstTrace(t *testing.T) {
	tests := []struct {
		src  string
		want bool
	}{
		{"", true},
		{"ok", true},
		{"!ok", false},
		{"ok = false", false},
		{"ok != false", true},
		{"error OR fault", false},
		{"throttle", false},
		{"partial", false},
		{"inferred", true},
		{"responsetime > 0.1", true},
		{"responsetime > 0.12", false},
		{"responsetime >= 0.12 AND responsetime <= 0.12", true},
		{"duration >= 0.2 duration < 0.3", true},
		{"duration = 1", false},
		{"http.status = 200", true},
		{"http.status != 200", false},
		{"http.status < 300", true},
		{`http.url CONTAINS "/v2/"`, true},
		{`http.url BEGINSWITH "https://api."`, true},
		{`http.url ENDSWITH "/1"`, true},
		{`http.url = "https://API.example.com/v2/game/1"`, false}, // case-sensitive
		{`http.method = "POST" AND http.useragent CONTAINS "curl" AND http.clientip = "10.0.0.1"`, true},
		{`http.method = POST`, true}, // bare identifier
		{`http.url`, true},
		{`user CONTAINS ""`, true},
		{`user = "alice"`, true},
		{`user = "bob"`, true},
		{`user = "carol"`, false},
		{`user != "carol"`, true},
		{`user != "bob"`, false}, // != means no value equals
		{`user BEGINSWITH "b"`, true},
		{`annotation.gameid = "817DL6VO"`, true},
		{`annotation.gameid = "817dl6vo"`, false},
		{`annotation.gameid BEGINSWITH "817"`, true},
		{`annotation.age > 29`, true},
		{`annotation.age < 10`, false},
		{`annotation.age != 12`, false},
		{`annotation.age != 11`, true},
		{`annotation.age`, true},
		{`!annotation.age`, false},
		{`annotation.Age`, false}, // keys are case-sensitive
		{`annotation.missing != "x"`, false},
		{`annotation.internal = false`, true},
		{`annotation.internal != false`, false},
		{`annotation.internal = true`, false},
		{`annotation.age = "30"`, false}, // type mismatch: value treated as absent
		{`annotation.age != "30"`, false},
		{`annotation.mixed = 1 AND annotation.mixed = "x"`, true},
		{`annotation.mixed != "y"`, true},
		{`service("api")`, true},
		{`service("API")`, false},
		{`!service("nope")`, true},
		{`service()`, true},
		{`service("api") { fault }`, false},
		{`service("backend") { fault }`, true},
		{`service() { fault }`, true},
		{`service() { throttle AND error }`, true},
		{`service("users") { inferred AND name = "users" AND type BEGINSWITH "AWS::DynamoDB" }`, true},
		{`service("api") { root = true and ok = true }`, true},
		{`service("backend") { root }`, false},
		{`service() { user = "bob" AND http.method = GET }`, true},
		{`service("backend") { user = "alice" }`, false},
		{`service() { responsetime > 0.1 }`, true},
		{`service() { responsetime > 0.2 }`, false},
		{`service() { http.status = 429 }`, true},
		{`service(id(type: "AWS::DynamoDB::Table")) { throttle }`, true},
		{`service(id(name: "users", type: "AWS::EC2::Instance"))`, false},
		{`service(id(account.id: "111")) { fault }`, true},
		{`edge("api", "backend")`, true},
		{`edge("backend", "api")`, false},
		{`edge("api", "backend") { fault }`, true},
		{`edge("api", "backend") { error }`, false},
		{`edge("backend", "users") { partial }`, true},
		{`edge("backend", "users") { throttle AND responsetime < 0.02 }`, true},
		{`edge(id(type: "client"), "api") { root }`, true},
		{`availabilityzone = "us-east-1a" AND instance.id BEGINSWITH "i-" AND resource.arn CONTAINS "table/users"`, true},
		{`availabilityzone = "us-west-2a"`, false},
		{`(http.status = 500 OR http.status = 200) AND service("backend")`, true},
		{`ok OR fault AND partial`, true},
		{`(ok OR fault) AND partial`, false},
		{`NOT partial`, true},
	}
	tr := sampleTrace()
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			x, err := Parse(tc.src)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.src, err)
			}
			if got := x.Match(tr); got != tc.want {
				t.Errorf("Match(%q) = %v, want %v", tc.src, got, tc.want)
			}
		})
	}
}

func TestAbsentValuesMakeComparisonsFalse(t *testing.T) {
	// An in-progress trace without a root segment and without a duration.
	tr := &Trace{Partial: true, Users: []string{""}}
	tests := []struct {
		src  string
		want bool
	}{
		{"ok", false},
		{"ok = false", false},
		{"!ok", true},
		{"fault OR error OR throttle", false},
		{"responsetime < 1", false},
		{"responsetime != 1", false},
		{"!(responsetime < 1)", true},
		{"duration >= 0", false},
		{"http.status != 200", false},
		{`http.url != "x"`, false},
		{`http.url`, false},
		{`!http.url`, true},
		{`user`, false},
		{`user != "x"`, false},
		{`user CONTAINS ""`, false},
		{`annotation.x`, false},
		{`partial`, true},
		{`service()`, false},
		{`service() { ok }`, false},
		{`!service("x")`, true},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			x, err := Parse(tc.src)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.src, err)
			}
			if got := x.Match(tr); got != tc.want {
				t.Errorf("Match(%q) = %v, want %v", tc.src, got, tc.want)
			}
		})
	}
}

func TestInProgressRootHasNoResponseTime(t *testing.T) {
	tr := &Trace{HasRoot: true, Root: Call{InProgress: true, Root: true, Fault: true}, Partial: true}
	for src, want := range map[string]bool{
		"responsetime >= 0": false,
		"fault":             true,
		"partial":           true,
	} {
		x, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		if got := x.Match(tr); got != want {
			t.Errorf("Match(%q) = %v, want %v", src, got, want)
		}
	}
}

func TestMatchNilExprAndNilTrace(t *testing.T) {
	var x *Expr
	if !x.Match(&Trace{}) {
		t.Error("nil Expr must match everything")
	}
	e, _ := Parse("")
	if !e.Match(nil) {
		t.Error("empty Expr must match a nil trace")
	}
	e, _ = Parse("ok")
	if e.Match(nil) {
		t.Error("non-empty Expr must not match a nil trace")
	}
}

func TestClassifyFollowsStatusClasses(t *testing.T) {
	tests := []struct {
		name                     string
		c                        Call
		ok, err, fault, throttle bool
	}{
		{"no status", Call{}, true, false, false, false},
		{"200", Call{HTTP: HTTP{Status: 200}}, true, false, false, false},
		{"404", Call{HTTP: HTTP{Status: 404}}, false, true, false, false},
		{"429", Call{HTTP: HTTP{Status: 429}}, false, true, false, true},
		{"503", Call{HTTP: HTTP{Status: 503}}, false, false, true, false},
		{"error flag", Call{Error: true}, false, true, false, false},
		{"throttle flag", Call{Throttle: true}, false, true, false, true},
		{"fault flag with 200", Call{Fault: true, HTTP: HTTP{Status: 200}}, false, false, true, false},
		{"error flag with 500", Call{Error: true, HTTP: HTTP{Status: 500}}, false, true, true, false},
		{"302", Call{HTTP: HTTP{Status: 302}}, true, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err, fault, throttle := Classify(tc.c)
			if ok != tc.ok || err != tc.err || fault != tc.fault || throttle != tc.throttle {
				t.Errorf("Classify = ok %v err %v fault %v throttle %v, want %v %v %v %v",
					ok, err, fault, throttle, tc.ok, tc.err, tc.fault, tc.throttle)
			}
		})
	}
}
