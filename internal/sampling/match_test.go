package sampling

import "testing"

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"", "", true},
		{"", "x", false},
		{"abc", "abc", true},
		{"abc", "ABC", true},
		{"ABC", "abc", true},
		{"abc", "abcd", false},
		{"abc", "ab", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "abbc", false},
		{"?", "é", true}, // one character, two bytes
		{"??", "é", false},
		{"a*", "a", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"*.example.com", "api.example.com", true},
		{"*.example.com", "example.com", false},
		{"/api/*", "/api/users/42", true},
		{"/api/*/orders", "/api/users/42/orders", true},
		{"/api/*/orders", "/api/users/42/order", false},
		{"*a*b*", "xxaxxbxx", true},
		{"*a*b*", "xxbxxaxx", false},
		{"a**b", "ab", true},
		{"*?", "", false},
		{"*?", "x", true},
		{"GET", "get", true},
		{"Straße", "STRASSE", false}, // simple case folding only
		{"ÉCOLE", "école", true},
	}
	for _, tt := range tests {
		if got := Glob(tt.pattern, tt.value); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
	}
}

func TestMatchPicksFirstRuleByPriorityThenName(t *testing.T) {
	c := newClock()
	e := newTestEngine(t, c,
		rule("api-users", 10, func(r *Rule) { r.URLPath = "/api/users/*" }),
		rule("api", 20, func(r *Rule) { r.URLPath = "/api/*" }),
		rule("b-post", 30, func(r *Rule) { r.HTTPMethod = "POST" }),
		rule("a-post", 30, func(r *Rule) { r.HTTPMethod = "POST" }),
		rule("svc", 40, func(r *Rule) { r.ServiceName = "Orders-?"; r.ServiceType = "AWS::EC2::*" }),
		rule("host", 50, func(r *Rule) { r.Host = "*.internal" }),
		rule("with-attrs", 1, func(r *Rule) { r.Attributes = map[string]string{"k": "v"} }),
		rule("with-resource", 2, func(r *Rule) { r.ResourceARN = "arn:aws:lambda:us-east-1:1:function:f" }),
		rule("version-2", 3, func(r *Rule) { r.Version = 2 }),
	)
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"most specific by priority", Request{URLPath: "/api/users/7", HTTPMethod: "GET", Host: "x"}, "api-users"},
		{"next priority", Request{URLPath: "/api/orders", HTTPMethod: "GET", Host: "x"}, "api"},
		{"ties broken by name", Request{URLPath: "/other", HTTPMethod: "post", Host: "x"}, "a-post"},
		{"case-insensitive service", Request{ServiceName: "orders-1", ServiceType: "aws::ec2::instance", URLPath: "/x", HTTPMethod: "GET", Host: "x"}, "svc"},
		{"? needs exactly one char", Request{ServiceName: "orders-12", ServiceType: "AWS::EC2::Instance", URLPath: "/x", HTTPMethod: "GET", Host: "x"}, "Default"},
		{"host glob", Request{ServiceName: "web", Host: "db.INTERNAL", URLPath: "/x", HTTPMethod: "GET"}, "host"},
		{"empty request values match anything", Request{}, "api-users"},
		{"no match falls to Default", Request{ServiceName: "web", URLPath: "/x", HTTPMethod: "GET", Host: "example.com"}, "Default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.Match(tt.req)
			if got == nil || got.RuleName != tt.want {
				t.Fatalf("Match(%+v) = %v, want %s", tt.req, got, tt.want)
			}
		})
	}
}

func TestMatchReturnsCopy(t *testing.T) {
	e := newTestEngine(t, newClock())
	got := e.Match(Request{})
	got.FixedRate = 1
	got.Attributes["x"] = "y"
	if again := e.Match(Request{}); again.FixedRate != defaultFixedRate || len(again.Attributes) != 0 {
		t.Fatalf("mutating Match's result changed the engine: %+v", again)
	}
}

func BenchmarkMatch(b *testing.B) {
	c := newClock()
	e, _ := New(Options{Now: c.Now})
	for i := range 20 {
		_, _ = e.CreateRule(rule("r"+string(rune('a'+i)), 10+i, func(r *Rule) { r.URLPath = "/api/v" + string(rune('a'+i)) + "/*" }))
	}
	req := Request{ServiceName: "svc", Host: "h", HTTPMethod: "GET", URLPath: "/nothing/matches/here"}
	b.ReportAllocs()
	for b.Loop() {
		_ = e.Match(req)
	}
}
