package sampling

import (
	"strings"
	"unicode/utf8"
)

// Glob reports whether value matches pattern over the whole value, case-insensitively:
// '*' matches any run of characters (also none), '?' exactly one character, anything
// else itself (spec §5.1). It does not allocate.
func Glob(pattern, value string) bool {
	p, v := 0, 0
	starP, starV := -1, 0 // position after the last '*' and the value position it resumes at
	for v < len(value) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				p++
				starP, starV = p, v
				continue
			case '?':
				_, n := utf8.DecodeRuneInString(value[v:])
				p++
				v += n
				continue
			default:
				_, pn := utf8.DecodeRuneInString(pattern[p:])
				_, vn := utf8.DecodeRuneInString(value[v:])
				if strings.EqualFold(pattern[p:p+pn], value[v:v+vn]) {
					p += pn
					v += vn
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Backtrack: let the last '*' swallow one more character.
		_, n := utf8.DecodeRuneInString(value[starV:])
		starV += n
		p, v = starP, starV
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
