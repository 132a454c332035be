package filter

import (
	"strconv"
	"strings"
)

// maxDepth bounds nesting of parentheses, "!" and blocks so that hostile input
// cannot exhaust the stack.
const maxDepth = 100

type kwType int

const (
	kwBool kwType = iota
	kwNum
	kwStr
)

func (k kwType) String() string {
	switch k {
	case kwBool:
		return "boolean"
	case kwNum:
		return "number"
	}
	return "string"
}

type keyword struct {
	typ   kwType
	where scope
}

const anywhere = scopeTrace | scopeService | scopeEdge

var keywords = map[string]keyword{
	"ok":               {kwBool, anywhere},
	"error":            {kwBool, anywhere},
	"fault":            {kwBool, anywhere},
	"throttle":         {kwBool, anywhere},
	"partial":          {kwBool, anywhere},
	"inferred":         {kwBool, scopeTrace | scopeService},
	"root":             {kwBool, scopeService | scopeEdge},
	"responsetime":     {kwNum, anywhere},
	"duration":         {kwNum, anywhere},
	"http.status":      {kwNum, anywhere},
	"http.url":         {kwStr, anywhere},
	"http.method":      {kwStr, anywhere},
	"http.useragent":   {kwStr, anywhere},
	"http.clientip":    {kwStr, anywhere},
	"user":             {kwStr, anywhere},
	"availabilityzone": {kwStr, scopeTrace},
	"instance.id":      {kwStr, scopeTrace},
	"resource.arn":     {kwStr, scopeTrace},
	"name":             {kwStr, scopeService},
	"type":             {kwStr, scopeService},
}

// rootCauseOnly are keywords meaningful only inside rootcause.* blocks.
var rootCauseOnly = map[string]bool{
	"first": true, "last": true, "remote": true, "index": true, "coverage": true, "message": true,
}

var wordOps = map[string]op{"contains": opContains, "beginswith": opBegins, "endswith": opEnds}

var symOps = map[string]op{"=": opEq, "!=": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
	scope scope
}

// Parse parses a filter expression. An empty or all-whitespace expression
// matches every trace. Errors are *SyntaxError.
func Parse(src string) (*Expr, error) {
	p, err := newParser(src)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tEOF {
		return &Expr{src: src}, nil
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	return &Expr{src: src, root: root}, nil
}

func newParser(src string) (*parser, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	return &parser{src: src, toks: toks, scope: scopeTrace}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errTok(t token, format string, args ...any) *SyntaxError {
	return errAt(p.src, t.off, t.text, format, args...)
}

func (p *parser) unexpected(t token, expected string) *SyntaxError {
	return p.errTok(t, "unexpected %s; expected %s", describe(t), expected)
}

func (p *parser) expectEnd() error {
	t := p.peek()
	switch t.kind {
	case tEOF:
		return nil
	case tRParen:
		return p.errTok(t, `unexpected ")" without a matching "("`)
	case tRBrace:
		return p.errTok(t, `unexpected "}" without a matching "{"`)
	}
	return p.unexpected(t, "AND, OR or end of expression")
}

func isWord(t token, w string) bool { return t.kind == tIdent && strings.EqualFold(t.text, w) }

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > maxDepth {
		return p.errTok(t, "expression nested deeper than %d levels at %s", maxDepth, describe(t))
	}
	return nil
}

func (p *parser) parseOr() (expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for isWord(p.peek(), "or") {
		p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &orExpr{l, r}
	}
	return l, nil
}

// startsCondition reports whether t can begin a unary (implicit AND).
func startsCondition(t token) bool {
	switch t.kind {
	case tBang, tLParen:
		return true
	case tIdent:
		lw := strings.ToLower(t.text)
		_, isOp := wordOps[lw]
		return lw != "or" && lw != "and" && !isOp
	}
	return false
}

func (p *parser) parseAnd() (expr, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if isWord(t, "and") {
			p.next()
		} else if !startsCondition(t) {
			return l, nil
		}
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l = &andExpr{l, r}
	}
}

func (p *parser) parseUnary() (expr, error) {
	t := p.peek()
	if t.kind == tBang || isWord(t, "not") {
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		x, err := p.parseUnary()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &notExpr{x}, nil
	}
	return p.parsePrimary()
}

func (p *parser) parsePrimary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.depth--
		if c := p.next(); c.kind != tRParen {
			return nil, p.unexpected(c, `")" to close "(" at column `+strconv.Itoa(column(p.src, t.off)))
		}
		return x, nil
	case tIdent:
		return p.parsePredicate(t)
	}
	return nil, p.unexpected(t, `a condition (a keyword, "(" or "!")`)
}

func (p *parser) parsePredicate(t token) (expr, error) {
	lw := strings.ToLower(t.text)
	switch {
	case lw == "service":
		return p.parseService(t)
	case lw == "edge":
		return p.parseEdge(t)
	case lw == "id":
		return nil, p.errTok(t, `"id" can only be used as an argument of service() or edge()`)
	case lw == "annotation" || strings.HasPrefix(lw, "annotation."):
		return p.parseAnnotation(t)
	case lw == "group.name" || lw == "group.arn":
		return nil, p.errTok(t, "%q is not supported by xrayd yet; repeat the group's filter expression instead", t.text)
	case strings.HasPrefix(lw, "rootcause."):
		return nil, p.errTok(t, "%q is not supported by xrayd yet (root-cause analysis)", t.text)
	case rootCauseOnly[lw]:
		return nil, p.errTok(t, "%q is only valid inside rootcause blocks, which xrayd does not support yet", t.text)
	case lw == "and" || lw == "or":
		return nil, p.unexpected(t, `a condition (a keyword, "(" or "!")`)
	case lw == "true" || lw == "false":
		return nil, p.errTok(t, "unexpected %q; a boolean must follow a keyword and \"=\" or \"!=\"", t.text)
	}
	if _, isOp := wordOps[lw]; isOp {
		return nil, p.unexpected(t, `a condition (a keyword, "(" or "!")`)
	}
	kw, ok := keywords[lw]
	if !ok {
		return nil, p.errTok(t, "unknown keyword %q", t.text)
	}
	if kw.where&p.scope == 0 {
		return nil, p.errTok(t, "keyword %q is not allowed in %s; it is valid %s", t.text, p.scope, whereText(kw.where))
	}
	switch kw.typ {
	case kwBool:
		return p.parseBool(t, lw)
	case kwNum:
		return p.parseNum(t, lw)
	}
	return p.parseStr(t, lw)
}

func whereText(s scope) string {
	var parts []string
	if s&scopeTrace != 0 {
		parts = append(parts, "at the top level")
	}
	if s&scopeService != 0 {
		parts = append(parts, "inside service() blocks")
	}
	if s&scopeEdge != 0 {
		parts = append(parts, "inside edge() blocks")
	}
	return strings.Join(parts, " and ")
}

// peekOp returns the operator at the cursor, if any, without consuming it.
func (p *parser) peekOp() (op, token, bool) {
	t := p.peek()
	if t.kind == tOp {
		return symOps[t.text], t, true
	}
	if t.kind == tIdent {
		if o, ok := wordOps[strings.ToLower(t.text)]; ok {
			return o, t, true
		}
	}
	return opNone, t, false
}

func (p *parser) opNotAllowed(ot token, kw token, typ kwType, allowed string) *SyntaxError {
	return p.errTok(ot, "operator %q is not allowed for %s keyword %q; use %s", ot.text, typ, kw.text, allowed)
}

func (p *parser) parseBool(kw token, name string) (expr, error) {
	o, ot, ok := p.peekOp()
	if !ok {
		return &boolExpr{kw: name, op: opNone, want: true}, nil
	}
	if o != opEq && o != opNe {
		return nil, p.opNotAllowed(ot, kw, kwBool, `"=", "!=" or no operator`)
	}
	p.next()
	v := p.next()
	if isWord(v, "true") || isWord(v, "false") {
		return &boolExpr{kw: name, op: o, want: strings.EqualFold(v.text, "true")}, nil
	}
	return nil, p.wrongLiteral(v, kw, ot, "true or false")
}

func (p *parser) wrongLiteral(v, kw, ot token, want string) *SyntaxError {
	if v.kind == tEOF {
		return p.unexpected(v, want+` after "`+kw.text+" "+ot.text+`"`)
	}
	return p.errTok(v, "expected %s after %q, got %s", want, kw.text+" "+ot.text, describe(v))
}

func (p *parser) parseNum(kw token, name string) (expr, error) {
	o, ot, ok := p.peekOp()
	if !ok {
		return nil, p.unexpected(ot, `an operator (=, !=, <, <=, >, >=) after number keyword "`+kw.text+`"`)
	}
	if o >= opContains {
		return nil, p.opNotAllowed(ot, kw, kwNum, "=, !=, <, <=, > or >=")
	}
	p.next()
	v := p.next()
	if v.kind != tNumber {
		return nil, p.wrongLiteral(v, kw, ot, "a number")
	}
	return &numExpr{kw: name, op: o, val: v.num}, nil
}

// bareString reports whether t is an unquoted word accepted as a string after = or !=.
func bareString(t token) bool {
	return t.kind == tIdent && !isWord(t, "and") && !isWord(t, "or") && !isWord(t, "not")
}

func (p *parser) parseStr(kw token, name string) (expr, error) {
	o, ot, ok := p.peekOp()
	if !ok {
		return &strExpr{kw: name, op: opNone}, nil
	}
	if o != opEq && o != opNe && o < opContains {
		return nil, p.opNotAllowed(ot, kw, kwStr, "=, !=, CONTAINS, BEGINSWITH, ENDSWITH or no operator")
	}
	p.next()
	v := p.next()
	switch {
	case v.kind == tString:
		return &strExpr{kw: name, op: o, val: v.str}, nil
	case (o == opEq || o == opNe) && bareString(v):
		return &strExpr{kw: name, op: o, val: v.text}, nil
	}
	return nil, p.wrongLiteral(v, kw, ot, "a quoted string")
}

func validAnnotationKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

func (p *parser) parseAnnotation(kw token) (expr, error) {
	if p.scope != scopeTrace {
		return nil, p.errTok(kw, "%q is not allowed inside %s; annotations cannot be combined with service() or edge() blocks", kw.text, p.scope)
	}
	key := ""
	if i := strings.IndexByte(kw.text, '.'); i >= 0 {
		key = kw.text[i+1:]
	}
	if !validAnnotationKey(key) {
		return nil, p.errTok(kw, "invalid annotation keyword %q; expected annotation.KEY where KEY is letters, digits and underscores", kw.text)
	}
	o, ot, ok := p.peekOp()
	if !ok {
		return &annExpr{key: key, op: opNone}, nil
	}
	p.next()
	v := p.next()
	var val Value
	switch {
	case v.kind == tString:
		val = Value{Kind: KindString, Str: v.str}
	case v.kind == tNumber:
		val = Value{Kind: KindNumber, Num: v.num}
	case isWord(v, "true") || isWord(v, "false"):
		val = Value{Kind: KindBool, Bool: strings.EqualFold(v.text, "true")}
	case (o == opEq || o == opNe) && bareString(v):
		val = Value{Kind: KindString, Str: v.text}
	default:
		return nil, p.wrongLiteral(v, kw, ot, "a string, number or boolean")
	}
	switch {
	case o >= opContains && val.Kind != KindString:
		return nil, p.errTok(v, "operator %s needs a quoted string, got %s", ot.text, describe(v))
	case o >= opLt && o <= opGe && val.Kind != KindNumber:
		return nil, p.errTok(v, "operator %q needs a number, got %s", ot.text, describe(v))
	}
	return &annExpr{key: key, op: o, val: val}, nil
}

func (p *parser) expect(kind tokKind, text, after string) (token, error) {
	t := p.next()
	if t.kind != kind {
		return t, p.unexpected(t, strconv.Quote(text)+" "+after)
	}
	return t, nil
}

func (p *parser) parseService(kw token) (expr, error) {
	if p.scope != scopeTrace {
		return nil, p.errTok(kw, "service() cannot be used inside %s", p.scope)
	}
	if _, err := p.expect(tLParen, "(", `after "`+kw.text+`"`); err != nil {
		return nil, err
	}
	x := &serviceExpr{}
	if p.peek().kind != tRParen {
		ref, err := p.parseNodeRef()
		if err != nil {
			return nil, err
		}
		x.ref = &ref
	}
	if _, err := p.expect(tRParen, ")", "to close service("); err != nil {
		return nil, err
	}
	block, err := p.parseBlock(scopeService)
	x.block = block
	return x, err
}

func (p *parser) parseEdge(kw token) (expr, error) {
	if p.scope != scopeTrace {
		return nil, p.errTok(kw, "edge() cannot be used inside %s", p.scope)
	}
	if _, err := p.expect(tLParen, "(", `after "`+kw.text+`"`); err != nil {
		return nil, err
	}
	x := &edgeExpr{}
	var err error
	if x.from, err = p.parseNodeRef(); err != nil {
		return nil, err
	}
	if _, err := p.expect(tComma, ",", "between the two services of edge()"); err != nil {
		return nil, err
	}
	if x.to, err = p.parseNodeRef(); err != nil {
		return nil, err
	}
	if _, err := p.expect(tRParen, ")", "to close edge("); err != nil {
		return nil, err
	}
	x.block, err = p.parseBlock(scopeEdge)
	return x, err
}

// parseBlock parses an optional "{ or_expr }" evaluated in scope s.
func (p *parser) parseBlock(s scope) (expr, error) {
	open := p.peek()
	if open.kind != tLBrace {
		return nil, nil
	}
	p.next()
	if err := p.enter(open); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tRBrace || t.kind == tEOF {
		return nil, p.unexpected(t, `a condition inside "{ }"`)
	}
	p.scope = s
	x, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.scope = scopeTrace
	p.depth--
	if c := p.next(); c.kind != tRBrace {
		return nil, p.unexpected(c, `"}" to close "{" at column `+strconv.Itoa(column(p.src, open.off)))
	}
	return x, nil
}

func (p *parser) parseNodeRef() (NodeRef, error) {
	t := p.next()
	if t.kind == tString {
		return NodeRef{Name: t.str, HasName: true}, nil
	}
	if !isWord(t, "id") {
		return NodeRef{}, p.unexpected(t, `a service name in double quotes or id(...)`)
	}
	if _, err := p.expect(tLParen, "(", `after "id"`); err != nil {
		return NodeRef{}, err
	}
	var ref NodeRef
	for {
		name := p.next()
		field := strings.ToLower(name.text)
		var dst *string
		var has *bool
		switch {
		case name.kind == tIdent && field == "name":
			dst, has = &ref.Name, &ref.HasName
		case name.kind == tIdent && field == "type":
			dst, has = &ref.Type, &ref.HasType
		case name.kind == tIdent && field == "account.id":
			dst, has = &ref.AccountID, &ref.HasAccountID
		default:
			return NodeRef{}, p.unexpected(name, "name, type or account.id in id(...)")
		}
		if *has {
			return NodeRef{}, p.errTok(name, "%q is given twice in id(...)", name.text)
		}
		if _, err := p.expect(tColon, ":", `after "`+name.text+`"`); err != nil {
			return NodeRef{}, err
		}
		v := p.next()
		if v.kind != tString {
			return NodeRef{}, p.unexpected(v, `a quoted string after "`+name.text+`:"`)
		}
		*dst, *has = v.str, true
		sep := p.next()
		if sep.kind == tRParen {
			return ref, nil
		}
		if sep.kind != tComma {
			return NodeRef{}, p.unexpected(sep, `"," or ")" in id(...)`)
		}
	}
}
