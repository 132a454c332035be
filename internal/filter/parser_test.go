package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// render prints the AST in a fully parenthesised prefix form.
func render(e expr) string {
	switch x := e.(type) {
	case nil:
		return "<all>"
	case *andExpr:
		return "(and " + render(x.l) + " " + render(x.r) + ")"
	case *orExpr:
		return "(or " + render(x.l) + " " + render(x.r) + ")"
	case *notExpr:
		return "(not " + render(x.x) + ")"
	case *boolExpr:
		if x.op == opNone {
			return x.kw
		}
		return fmt.Sprintf("(%s %s %t)", x.kw, x.op, x.want)
	case *numExpr:
		return fmt.Sprintf("(%s %s %g)", x.kw, x.op, x.val)
	case *strExpr:
		if x.op == opNone {
			return x.kw
		}
		return fmt.Sprintf("(%s %s %q)", x.kw, x.op, x.val)
	case *annExpr:
		if x.op == opNone {
			return "annotation." + x.key
		}
		return fmt.Sprintf("(annotation.%s %s %s)", x.key, x.op, renderValue(x.val))
	case *serviceExpr:
		s := "service(" + renderRef(x.ref) + ")"
		if x.block != nil {
			s += "{" + render(x.block) + "}"
		}
		return s
	case *edgeExpr:
		s := "edge(" + renderRef(&x.from) + "," + renderRef(&x.to) + ")"
		if x.block != nil {
			s += "{" + render(x.block) + "}"
		}
		return s
	}
	return fmt.Sprintf("%T", e)
}

func renderValue(v Value) string {
	switch v.Kind {
	case KindString:
		return fmt.Sprintf("%q", v.Str)
	case KindNumber:
		return fmt.Sprintf("%g", v.Num)
	}
	return fmt.Sprintf("%t", v.Bool)
}

func renderRef(r *NodeRef) string {
	if r == nil {
		return ""
	}
	if r.HasName && !r.HasType && !r.HasAccountID {
		return fmt.Sprintf("%q", r.Name)
	}
	var parts []string
	if r.HasName {
		parts = append(parts, "name:"+r.Name)
	}
	if r.HasType {
		parts = append(parts, "type:"+r.Type)
	}
	if r.HasAccountID {
		parts = append(parts, "account:"+r.AccountID)
	}
	return "id(" + strings.Join(parts, ",") + ")"
}

func TestParseBuildsTreeWithPrecedence(t *testing.T) {
	tests := []struct{ src, want string }{
		{"", "<all>"},
		{"   \t\n", "<all>"},
		{"ok", "ok"},
		{"OK", "ok"},
		{"responseTime > 5", "(responsetime > 5)"},
		{"duration >= 5 AND duration <= 8", "(and (duration >= 5) (duration <= 8))"},
		{"ok !partial duration < 3", "(and (and ok (not partial)) (duration < 3))"},
		{"http.status != 200", "(http.status != 200)"},
		{"error OR fault", "(or error fault)"},
		{"!ok", "(not ok)"},
		{"NOT ok", "(not ok)"},
		{"not not ok", "(not (not ok))"},
		{"ok = false", "(ok = false)"},
		{"fault != TRUE", "(fault != true)"},
		{`http.url CONTAINS "/api/game/"`, `(http.url CONTAINS "/api/game/")`},
		{`http.method = "POST" and http.url beginswith "https://api."`, `(and (http.method = "POST") (http.url BEGINSWITH "https://api."))`},
		{`http.useragent EndsWith "bot"`, `(http.useragent ENDSWITH "bot")`},
		{`user CONTAINS ""`, `(user CONTAINS "")`},
		{`annotation.gameid = "817DL6VO"`, `(annotation.gameid = "817DL6VO")`},
		{`annotation.age > 29`, `(annotation.age > 29)`},
		{`annotation.Age`, `annotation.Age`},
		{`!annotation.age`, `(not annotation.age)`},
		{`annotation.internal = false`, `(annotation.internal = false)`},
		{`annotation.x = -2.5e1`, `(annotation.x = -25)`},
		{`annotation.x != bare_word`, `(annotation.x != "bare_word")`},
		{`service("api.example.com") { fault }`, `service("api.example.com"){fault}`},
		{`service() { fault }`, `service(){fault}`},
		{`service()`, `service()`},
		{`!service("x")`, `(not service("x"))`},
		{`edge("a", "b") { error }`, `edge("a","b"){error}`},
		{`edge("a","b")`, `edge("a","b")`},
		{`(http.status = 500 OR http.status = 503) AND service("db")`, `(and (or (http.status = 500) (http.status = 503)) service("db"))`},
		{`ok OR error AND fault`, `(or ok (and error fault))`},
		{`(ok OR error) fault`, `(and (or ok error) fault)`},
		{`service("data-plane") { root = true and fault = true }`, `service("data-plane"){(and (root = true) (fault = true))}`},
		{`service(id(name: "random-name", type: "AWS::Lambda::Function")) { error }`, `service(id(name:random-name,type:AWS::Lambda::Function)){error}`},
		{`service(id(type: "AWS::Lambda::Function", account.id: "123"))`, `service(id(type:AWS::Lambda::Function,account:123))`},
		{`http.url AND responsetime > 2`, `(and http.url (responsetime > 2))`},
		{`service() { name = traces }`, `service(){(name = "traces")}`},
		{`service() { type BEGINSWITH "AWS::" inferred }`, `service(){(and (type BEGINSWITH "AWS::") inferred)}`},
		{`inferred availabilityzone = "us-east-1a" instance.id resource.arn CONTAINS "table"`, `(and (and (and inferred (availabilityzone = "us-east-1a")) instance.id) (resource.arn CONTAINS "table"))`},
		{`user = "a \"b\" \\c"`, `(user = "a \"b\" \\c")`},
		{`user = "ünïcode"`, `(user = "ünïcode")`},
		{`responsetime>0.5`, `(responsetime > 0.5)`},
		{`service(){ok OR (error AND !throttle)}`, `service(){(or ok (and error (not throttle)))}`},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			x, err := Parse(tc.src)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.src, err)
			}
			if got := render(x.root); got != tc.want {
				t.Errorf("Parse(%q)\n got %s\nwant %s", tc.src, got, tc.want)
			}
			if x.String() != tc.src {
				t.Errorf("String() = %q, want the source", x.String())
			}
		})
	}
}

func TestParseReportsPreciseErrors(t *testing.T) {
	tests := []struct {
		src     string
		col     int
		token   string
		msgPart string
	}{
		// syntax
		{`service("a") { ok }}`, 20, "}", `unexpected "}" without a matching "{"`},
		{`service("a") { ok `, 19, "", `expected "}" to close "{" at column 14`},
		{`service("a") { }`, 16, "}", `unexpected "}"; expected a condition`},
		{`(ok OR error`, 13, "", `expected ")" to close "(" at column 1`},
		{`ok)`, 3, ")", `unexpected ")" without a matching "("`},
		{`()`, 2, ")", `unexpected ")"; expected a condition`},
		{`ok AND`, 7, "", `unexpected end of expression; expected a condition`},
		{`OR ok`, 1, "OR", `unexpected "OR"; expected a condition`},
		{`ok OR OR error`, 7, "OR", `unexpected "OR"`},
		{`user "a"`, 6, `"a"`, `unexpected string "a"; expected AND, OR or end of expression`},
		{`user = "a" CONTAINS "b"`, 12, "CONTAINS", `unexpected "CONTAINS"`},
		{`http.url = "unterminated`, 12, `"unterminated`, `unterminated string starting at column 12`},
		{`user = 'alice'`, 8, "'", `double quotes`},
		{`user = "a\nb"`, 10, `\n`, `invalid escape`},
		{`ok && error`, 4, "&&", `use AND`},
		{`ok || error`, 4, "||", `use OR`},
		{`http.status == 200`, 13, "==", `use "="`},
		{`responsetime > 5s`, 16, "5s", `invalid number "5s"`},
		{`responsetime > 1.`, 16, "1.", `invalid number`},
		{`responsetime > 1e999`, 16, "1e999", `out of range`},
		{`ok $`, 4, "$", `unexpected "$"`},
		{`ok - error`, 4, "-", `unexpected "-"`},
		{`true`, 1, "true", `a boolean must follow a keyword`},
		// unknown keyword
		{`foo > 5`, 1, "foo", `unknown keyword "foo"`},
		{`ok AND respnsetime > 5`, 8, "respnsetime", `unknown keyword "respnsetime"`},
		// operators not allowed for the type
		{`ok > 1`, 4, ">", `operator ">" is not allowed for boolean keyword "ok"`},
		{`ok CONTAINS "x"`, 4, "CONTAINS", `operator "CONTAINS" is not allowed for boolean keyword "ok"`},
		{`responsetime CONTAINS "5"`, 14, "CONTAINS", `not allowed for number keyword "responsetime"`},
		{`http.url > "a"`, 10, ">", `not allowed for string keyword "http.url"`},
		{`responsetime`, 13, "", `expected an operator (=, !=, <, <=, >, >=) after number keyword "responsetime"`},
		{`duration AND ok`, 10, "AND", `expected an operator`},
		// literal of the wrong type
		{`responsetime > "5"`, 16, `"5"`, `expected a number after "responsetime >", got string "5"`},
		{`http.status = abc`, 15, "abc", `expected a number`},
		{`http.url = 5`, 12, "5", `expected a quoted string after "http.url =", got number 5`},
		{`http.url CONTAINS bare`, 19, "bare", `expected a quoted string`},
		{`ok = 1`, 6, "1", `expected true or false after "ok =", got number 1`},
		{`ok = "true"`, 6, `"true"`, `expected true or false`},
		{`fault =`, 8, "", `unexpected end of expression; expected true or false after "fault ="`},
		{`user = AND ok`, 8, "AND", `expected a quoted string`},
		{`annotation.x CONTAINS 5`, 23, "5", `CONTAINS needs a quoted string, got number 5`},
		{`annotation.x > "a"`, 16, `"a"`, `">" needs a number, got string "a"`},
		{`annotation.x >= true`, 17, "true", `needs a number`},
		{`annotation.x =`, 15, "", `expected a string, number or boolean`},
		{`annotation.`, 1, "annotation.", `invalid annotation keyword`},
		{`annotation`, 1, "annotation", `invalid annotation keyword`},
		{`annotation.a-b = 1`, 1, "annotation.a-b", `invalid annotation keyword`},
		// annotation inside a block
		{`service("a") { annotation.x = 1 }`, 16, "annotation.x", `not allowed inside a service() block`},
		{`edge("a","b") { annotation.x }`, 17, "annotation.x", `not allowed inside an edge() block`},
		// keyword scope
		{`root`, 1, "root", `keyword "root" is not allowed in the top level`},
		{`name = "x"`, 1, "name", `inside service() blocks`},
		{`edge("a","b") { name = "x" }`, 17, "name", `not allowed in an edge() block`},
		{`service() { availabilityzone }`, 13, "availabilityzone", `valid at the top level`},
		{`service() { service("b") }`, 13, "service", `service() cannot be used inside a service() block`},
		{`edge("a","b") { edge("a","b") }`, 17, "edge", `edge() cannot be used inside an edge() block`},
		// service / edge / id shapes
		{`service`, 8, "", `expected "(" after "service"`},
		{`service("a"`, 12, "", `expected ")" to close service(`},
		{`service(a)`, 9, "a", `expected a service name in double quotes or id(...)`},
		{`edge("a")`, 9, ")", `expected "," between the two services`},
		{`edge("a", )`, 11, ")", `a service name in double quotes`},
		{`service(id())`, 12, ")", `expected name, type or account.id`},
		{`service(id(name "x"))`, 17, `"x"`, `expected ":" after "name"`},
		{`service(id(name: x))`, 18, "x", `a quoted string after "name:"`},
		{`service(id(name: "x", name: "y"))`, 23, "name", `given twice`},
		{`service(id(name: "x" type: "y"))`, 22, "type", `expected "," or ")" in id(...)`},
		{`id(name: "x")`, 1, "id", `argument of service() or edge()`},
		// not supported
		{`group.name = "g"`, 1, "group.name", `not supported`},
		{`rootcause.fault.service { name = "Auth" }`, 1, "rootcause.fault.service", `not supported`},
		{`ok AND coverage > 0.8`, 8, "coverage", `rootcause blocks`},
		{`rootcause.json = #[{}]`, 1, "rootcause.json", `not supported`},
		{`ok #`, 4, "#", `unexpected "#"`},
		// columns count characters, not bytes
		{`user = "ü" foo`, 12, "foo", `unknown keyword`},
		{"ok \xff", 4, "\xff", `invalid UTF-8`},
		// nesting limit
		{strings.Repeat("(", 200) + "ok" + strings.Repeat(")", 200), 101, "(", `nested deeper than 100`},
		{strings.Repeat("!", 200) + "ok", 101, "!", `nested deeper than 100`},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			_, err := Parse(tc.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error = %v, want *SyntaxError", tc.src, err)
			}
			if se.Pos != tc.col || se.Token != tc.token || !strings.Contains(se.Msg, tc.msgPart) {
				t.Errorf("Parse(%q)\n got col %d token %q msg %q\nwant col %d token %q msg containing %q",
					tc.src, se.Pos, se.Token, se.Msg, tc.col, tc.token, tc.msgPart)
			}
			if want := fmt.Sprintf("filter expression: column %d: ", tc.col); !strings.HasPrefix(se.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", se.Error(), want)
			}
		})
	}
}

func TestSyntaxErrorFormat(t *testing.T) {
	_, err := Parse(`service("a") { }`)
	want := `filter expression: column 16: unexpected "}"; expected a condition inside "{ }"`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
