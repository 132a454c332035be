package filter

import (
	"reflect"
	"testing"
)

func fp(v float64) *float64 { return &v }
func bp(v bool) *bool       { return &v }
func ip(v int) *int         { return &v }

func TestHintsComeOnlyFromTopLevelAnd(t *testing.T) {
	tests := []struct {
		src  string
		want Hints
	}{
		{"", Hints{}},
		{"responsetime > 5", Hints{MinResponseTime: fp(5)}},
		{"responsetime > 5 AND responsetime >= 7 responsetime < 9 responsetime <= 8", Hints{MinResponseTime: fp(7), MaxResponseTime: fp(8)}},
		{"duration = 3", Hints{MinDuration: fp(3), MaxDuration: fp(3)}},
		{"duration != 3", Hints{}},
		{"http.status = 500 AND http.status != 404", Hints{HTTPStatus: ip(500)}},
		{"http.status = 500.5", Hints{}},
		{"fault AND ok = false AND error != false AND throttle = true AND partial = false",
			Hints{Fault: bp(true), OK: bp(false), Error: bp(true), Throttle: bp(true), Partial: bp(false)}},
		{"!ok", Hints{}},
		{"ok OR fault", Hints{}},
		{`service("a") edge("b", "c") service("a") service(id(type: "t")) service()`, Hints{Services: []string{"a", "b", "c"}}},
		{`service("a") { fault }`, Hints{Services: []string{"a"}}},
		{`!service("a")`, Hints{}},
		{`user = "alice" AND user != "bob" AND user CONTAINS "x"`, Hints{Users: []string{"alice"}}},
		{`annotation.a AND annotation.b > 1 AND !annotation.c AND (annotation.d OR ok)`, Hints{AnnotationKeys: []string{"a", "b"}}},
		{`(fault AND service("x")) AND responsetime < 2`, Hints{Fault: bp(true), Services: []string{"x"}, MaxResponseTime: fp(2)}},
		{`service() { responsetime > 5 fault }`, Hints{}},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			x, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := x.Hints(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Hints(%q)\n got %+v\nwant %+v", tc.src, got, tc.want)
			}
		})
	}
}
