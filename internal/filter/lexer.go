package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tOp // = != < <= > >=
	tBang
	tLParen
	tRParen
	tLBrace
	tRBrace
	tComma
	tColon
	tHash
	tBracket // [ or ], only part of the unsupported rootcause.json form
)

type token struct {
	kind tokKind
	off  int    // byte offset in the source
	text string // raw source text
	str  string // decoded value of a string literal
	num  float64
}

// SyntaxError reports an invalid expression: where (1-based column, counted in
// characters), which token, and what was expected.
type SyntaxError struct {
	Pos   int    // 1-based column
	Token string // the offending token as written, "" at the end of the expression
	Msg   string // names the offending token and what was expected
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("filter expression: column %d: %s", e.Pos, e.Msg)
}

func column(src string, off int) int {
	if off > len(src) {
		off = len(src)
	}
	return utf8.RuneCountInString(src[:off]) + 1
}

func errAt(src string, off int, tokText, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: column(src, off), Token: tokText, Msg: fmt.Sprintf(format, args...)}
}

// describe renders a token for an error message.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string " + t.text
	case tNumber:
		return "number " + t.text
	}
	return strconv.Quote(t.text)
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func isIdentPart(r rune) bool {
	return r == '_' || r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// lex splits src into tokens, ending with a tEOF token.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
			continue
		case r == '"':
			t, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i += len(t.text)
			continue
		case isDigit(src[i]) || (r == '-' && i+1 < len(src) && isDigit(src[i+1])):
			t, err := lexNumber(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i += len(t.text)
			continue
		case isIdentStart(r):
			j := i + size
			for j < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[j:])
				if !isIdentPart(r2) {
					break
				}
				j += s2
			}
			toks = append(toks, token{kind: tIdent, off: i, text: src[i:j]})
			i = j
			continue
		}
		two := ""
		if i+2 <= len(src) {
			two = src[i : i+2]
		}
		switch two {
		case "!=", "<=", ">=":
			toks = append(toks, token{kind: tOp, off: i, text: two})
			i += 2
			continue
		case "==":
			return nil, errAt(src, i, two, `"==" is not an operator; use "="`)
		case "&&":
			return nil, errAt(src, i, two, `"&&" is not an operator; use AND`)
		case "||":
			return nil, errAt(src, i, two, `"||" is not an operator; use OR`)
		}
		kind := tEOF
		switch r {
		case '=', '<', '>':
			kind = tOp
		case '!':
			kind = tBang
		case '(':
			kind = tLParen
		case ')':
			kind = tRParen
		case '{':
			kind = tLBrace
		case '}':
			kind = tRBrace
		case ',':
			kind = tComma
		case ':':
			kind = tColon
		case '#':
			kind = tHash
		case '[', ']':
			kind = tBracket
		case '\'':
			return nil, errAt(src, i, "'", `unexpected "'"; strings are written in double quotes`)
		}
		if kind == tEOF {
			text := src[i : i+size]
			if r == utf8.RuneError && size == 1 {
				return nil, errAt(src, i, text, "invalid UTF-8 byte 0x%02x", src[i])
			}
			return nil, errAt(src, i, text, "unexpected %q; expected a keyword, value, operator or one of ( ) { } , : !", text)
		}
		toks = append(toks, token{kind: kind, off: i, text: src[i : i+size]})
		i += size
	}
	return append(toks, token{kind: tEOF, off: len(src)}), nil
}

func lexString(src string, start int) (token, error) {
	var b strings.Builder
	i := start + 1
	for i < len(src) {
		c := src[i]
		switch c {
		case '"':
			return token{kind: tString, off: start, text: src[start : i+1], str: b.String()}, nil
		case '\\':
			if i+1 >= len(src) {
				i++
				continue // reported as unterminated below
			}
			n := src[i+1]
			if n != '"' && n != '\\' {
				r, _ := utf8.DecodeRuneInString(src[i+1:])
				esc := `\` + string(r)
				return token{}, errAt(src, i, esc, `invalid escape %q in string; only \" and \\ are allowed`, esc)
			}
			b.WriteByte(n)
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return token{}, errAt(src, start, src[start:],
		"unterminated string starting at column %d; add a closing \"", column(src, start))
}

func lexNumber(src string, start int) (token, error) {
	i := start
	if src[i] == '-' {
		i++
	}
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	if i < len(src) && src[i] == '.' {
		i++
		if i >= len(src) || !isDigit(src[i]) {
			return token{}, badNumber(src, start, i)
		}
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i >= len(src) || !isDigit(src[i]) {
			return token{}, badNumber(src, start, i)
		}
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) {
		if r, _ := utf8.DecodeRuneInString(src[i:]); isIdentPart(r) {
			return token{}, badNumber(src, start, i)
		}
	}
	text := src[start:i]
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return token{}, errAt(src, start, text, "number %s is out of range", text)
	}
	return token{kind: tNumber, off: start, text: text, num: f}, nil
}

func badNumber(src string, start, i int) error {
	end := i
	for end < len(src) {
		r, s := utf8.DecodeRuneInString(src[end:])
		if !isIdentPart(r) && r != '+' {
			break
		}
		end += s
	}
	if end == start {
		end = start + 1
	}
	text := src[start:end]
	return errAt(src, start, text, "invalid number %q; expected digits with an optional fraction and exponent, like 5, 0.7 or 1e3", text)
}
