package filter

import (
	"errors"
	"strings"
	"testing"
)

func TestParseEntitySelectorSelectsNodeOrEdge(t *testing.T) {
	api := Node{Name: "api", Type: "AWS::EC2::Instance", AccountID: "111"}
	fn := Node{Name: "fn", Type: "AWS::Lambda::Function", AccountID: "222"}
	tests := []struct {
		src            string
		nodeAPI, nodeF bool
		edgeAF, edgeFA bool
	}{
		{`service("api")`, true, false, false, false},
		{`SERVICE( "fn" )`, false, true, false, false},
		{`service(id(type: "AWS::Lambda::Function"))`, false, true, false, false},
		{`service(id(name: "fn", account.id: "111"))`, false, false, false, false},
		{`edge("api", "fn")`, false, false, true, false},
		{`edge(id(account.id: "222"), id(name: "api"))`, false, false, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			s, err := ParseEntitySelector(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.MatchesNode(api); got != tc.nodeAPI {
				t.Errorf("MatchesNode(api) = %v", got)
			}
			if got := s.MatchesNode(fn); got != tc.nodeF {
				t.Errorf("MatchesNode(fn) = %v", got)
			}
			if got := s.MatchesEdge(api, fn); got != tc.edgeAF {
				t.Errorf("MatchesEdge(api, fn) = %v", got)
			}
			if got := s.MatchesEdge(fn, api); got != tc.edgeFA {
				t.Errorf("MatchesEdge(fn, api) = %v", got)
			}
		})
	}
}

func TestParseEntitySelectorRejectsOtherForms(t *testing.T) {
	tests := []struct {
		src, token, msgPart string
		col                 int
	}{
		{``, "", `expected service(...) or edge(...)`, 1},
		{`ok`, "ok", `expected service(...) or edge(...)`, 1},
		{`service()`, ")", `a service name`, 9},
		{`service("a") { ok }`, "{", `without a block`, 14},
		{`service("a") AND service("b")`, "AND", `expected end of expression`, 14},
		{`edge("a")`, ")", `expected ","`, 9},
		{`edge("a", "b"`, "", `expected ")" to close the selector`, 14},
		{`service("a`, `"a`, `unterminated string`, 9},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			_, err := ParseEntitySelector(tc.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v, want *SyntaxError", err)
			}
			if se.Pos != tc.col || se.Token != tc.token || !strings.Contains(se.Msg, tc.msgPart) {
				t.Errorf("got col %d token %q msg %q; want col %d token %q msg containing %q",
					se.Pos, se.Token, se.Msg, tc.col, tc.token, tc.msgPart)
			}
		})
	}
}
