package otlp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decoder is a small pull parser over one JSON document. It exists because reflection-based
// decoding into maps costs several times the whole rest of the export path; this one reads
// each byte once and allocates only the strings that end up in the spans.
//
// Type mismatches (a string where an object was expected, say) are not errors: the value
// is skipped, as X-Ray itself ignores what it does not understand. Syntax errors are.
type decoder struct {
	b     []byte
	i     int
	err   error
	depth int
	arena []byte // unescaped strings and compacted JSON of the current document
}

// maxDepth bounds nesting so that a hostile document cannot exhaust the stack.
const maxDepth = 200

type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.off, e.msg)
}

func (d *decoder) reset(b []byte) {
	d.b, d.i, d.err, d.depth = b, 0, nil, 0
	d.arena = d.arena[:0]
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = &syntaxError{msg: msg, off: d.i}
	}
	d.i = len(d.b)
}

func (d *decoder) ws() {
	if d.i < len(d.b) && d.b[d.i] > ' ' { // the common case: no space at all
		return
	}
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

// object enters an object. When the next value is not an object it is skipped and object
// reports false.
func (d *decoder) object() bool { return d.enter('{') }

// enter moves into the object or array that opens with open; when the next value is
// something else it is skipped and enter reports false.
func (d *decoder) enter(open byte) bool {
	if d.peek() != open {
		d.skip()
		return false
	}
	if d.depth++; d.depth > maxDepth {
		d.fail("nested too deeply")
		return false
	}
	d.i++
	return true
}

// member reads the next key of the current object and the ':' after it; it returns false
// at the closing '}' (which it consumes) or on error. n counts the members seen so far and
// must start at 0. The key stays valid until the decoder is reset.
func (d *decoder) member(n *int) ([]byte, bool) {
	c := d.peek()
	if c == '}' {
		d.i++
		d.depth--
		return nil, false
	}
	if *n > 0 {
		if c != ',' {
			d.fail("expected ',' or '}' in object")
			return nil, false
		}
		d.i++
		c = d.peek()
	}
	*n++
	if c != '"' {
		d.fail("expected a string key")
		return nil, false
	}
	key := d.keyBytes()
	if d.peek() != ':' {
		d.fail("expected ':' after key")
		return nil, false
	}
	d.i++
	return key, d.err == nil
}

// array enters an array; when the next value is not an array it is skipped and array
// reports false.
func (d *decoder) array() bool { return d.enter('[') }

// elem moves to the next array element; false at the closing ']' (consumed) or on error.
func (d *decoder) elem(n *int) bool {
	c := d.peek()
	if c == ']' {
		d.i++
		d.depth--
		return false
	}
	if *n > 0 {
		if c != ',' {
			d.fail("expected ',' or ']' in array")
			return false
		}
		d.i++
		if d.peek() == ']' {
			d.fail("trailing ',' in array")
			return false
		}
	}
	*n++
	return d.err == nil
}

// keyBytes reads a string at d.i without allocating: the raw bytes when there is no
// escape, else the unescaped text in d.arena.
func (d *decoder) keyBytes() []byte {
	start := d.i + 1
	j, esc, _ := d.scanString()
	if d.err != nil {
		return nil
	}
	if !esc {
		return d.b[start : j-1]
	}
	n := len(d.arena)
	d.arena = unescape(d.arena, d.b[start:j-1])
	return d.arena[n:len(d.arena):len(d.arena)]
}

// scanString moves past the string starting at d.i and reports its end (after the closing
// quote), whether it has escapes and whether it may have non-ASCII bytes. It skips eight
// plain bytes at a time.
func (d *decoder) scanString() (end int, esc, high bool) {
	b := d.b
	i := d.i + 1
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if x&highs != 0 {
				high = true
			}
			if m := specialMask(x); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			d.i = len(b)
			d.fail("unterminated string")
			return 0, false, false
		}
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			return i + 1, esc, high
		case c == '\\':
			esc = true
			i++
			if i >= len(b) {
				continue
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(b) || !isHex4(b[i+1:i+5]) {
					d.i = i
					d.fail("invalid \\u escape")
					return 0, false, false
				}
				i += 5
			default:
				d.i = i
				d.fail("invalid escape")
				return 0, false, false
			}
		case c < 0x20:
			d.i = i
			d.fail("control character in string")
			return 0, false, false
		default:
			if c >= 0x80 {
				high = true
			}
			i++
		}
	}
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
	low7  = 0x7f7f7f7f7f7f7f7f
)

// specialMask sets the high bit of each byte of x that is '"', '\\' or a control
// character. Each test adds within 7-bit lanes, so no carry crosses into the next byte
// and the answer is exact per byte; bytes from 0x80 up are never flagged.
func specialMask(x uint64) uint64 {
	q := x ^ (ones * '"')
	q = ^(((q & low7) + low7) | q)
	bs := x ^ (ones * '\\')
	bs = ^(((bs & low7) + low7) | bs)
	ctl := ^(((x & low7) + ones*0x60) | x)
	return (q | bs | ctl) & highs
}

// text reads a string value as bytes: the document's own bytes when they need no change,
// else the unescaped text in d.arena. Any other value is skipped. Invalid UTF-8 is
// replaced, since protobuf strings must be valid UTF-8 and receivers reject the request.
// The result stays valid until the decoder is reset.
func (d *decoder) text() ([]byte, bool) {
	if d.peek() != '"' {
		d.skip()
		return nil, false
	}
	start := d.i + 1
	j, esc, high := d.scanString()
	if d.err != nil {
		return nil, false
	}
	raw := d.b[start : j-1]
	if !esc && (!high || utf8.Valid(raw)) {
		return raw, true
	}
	n := len(d.arena)
	if esc {
		d.arena = unescape(d.arena, raw)
	} else {
		d.arena = toValidUTF8(d.arena, raw)
	}
	return d.arena[n:len(d.arena):len(d.arena)], true
}

// number returns the raw text of a number value; other values are skipped.
func (d *decoder) number() ([]byte, bool) {
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		d.skip()
		return nil, false
	}
	start := d.i
	d.scanNumber()
	if d.err != nil {
		return nil, false
	}
	return d.b[start:d.i], true
}

func (d *decoder) scanNumber() {
	b := d.b
	i := d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - s
	}
	if n := digits(); n == 0 || (n > 1 && b[i-n] == '0') {
		d.i = i
		d.fail("invalid number")
		return
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			d.i = i
			d.fail("invalid number")
			return
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			d.i = i
			d.fail("invalid number")
			return
		}
	}
	d.i = i
}

// int64 reads an integer; fractions are truncated, other values skipped.
func (d *decoder) int64() (int64, bool) {
	raw, ok := d.number()
	if !ok {
		return 0, false
	}
	if v, ok := parseInt(raw); ok {
		return v, true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != f || f > math.MaxInt64 || f < math.MinInt64 {
		return 0, false
	}
	return int64(f), true
}

// boolean reads true or false; other values are skipped.
func (d *decoder) boolean() (v, ok bool) {
	switch d.peek() {
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	}
	d.skip()
	return false, false
}

func (d *decoder) literal(lit string) bool {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		d.fail("invalid literal")
		return false
	}
	d.i += len(lit)
	return true
}

// skip moves past one value of any kind, checking its syntax.
func (d *decoder) skip() {
	switch c := d.peek(); {
	case c == '{':
		if !d.object() {
			return
		}
		for n := 0; ; {
			if _, ok := d.member(&n); !ok {
				return
			}
			d.skip()
		}
	case c == '[':
		d.array()
		for n := 0; d.elem(&n); {
			d.skip()
		}
	case c == '"':
		d.scanString()
	case c == 't':
		d.literal("true")
	case c == 'f':
		d.literal("false")
	case c == 'n':
		d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		d.scanNumber()
	case c == 0:
		d.fail("unexpected end of input")
	default:
		d.fail("unexpected character")
	}
}

// raw moves past one value and returns its text.
func (d *decoder) raw() []byte {
	d.ws()
	start := d.i
	d.skip()
	if d.err != nil {
		return nil
	}
	return d.b[start:d.i]
}

// end checks that nothing but space follows the document.
func (d *decoder) end() error {
	if d.err == nil && d.peek() != 0 {
		d.fail("data after the document")
	}
	return d.err
}

// compact returns v, valid JSON, without the space outside strings: v itself when it has
// none, else a copy in d.arena.
func (d *decoder) compact(v []byte) []byte {
	// Most SDKs write compact JSON: four vectorised searches settle that quickly.
	if bytes.IndexByte(v, ' ') < 0 && bytes.IndexByte(v, '\n') < 0 && bytes.IndexByte(v, '\t') < 0 && bytes.IndexByte(v, '\r') < 0 {
		return v
	}
	n := len(d.arena)
	d.arena = compactJSON(d.arena, v)
	return d.arena[n:len(d.arena):len(d.arena)]
}

// compactJSON appends v, valid JSON, without the space outside strings.
func compactJSON(dst, v []byte) []byte {
	in := false
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if in {
			switch c {
			case '\\':
				i++
			case '"':
				in = false
			}
			continue
		}
		switch c {
		case '"':
			in = true
		case ' ', '\t', '\n', '\r':
			dst = append(dst, v[start:i]...)
			start = i + 1
		}
	}
	return append(dst, v[start:]...)
}

// parseInt parses a plain decimal integer (no fraction or exponent).
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

var errBadTime = errors.New("not a time in seconds")

// parseTime turns seconds since the epoch, as X-Ray writes them, into Unix nanoseconds.
// Plain decimals are converted exactly (float64 would lose the microseconds); exponent
// forms go through float64.
func parseTime(b []byte) (int64, error) {
	intPart, frac := b, []byte(nil)
	for i, c := range b {
		if c == '.' {
			intPart, frac = b[:i], b[i+1:]
			break
		}
		if c == 'e' || c == 'E' {
			return floatTime(b)
		}
	}
	for _, c := range frac {
		if c == 'e' || c == 'E' {
			return floatTime(b)
		}
	}
	if len(intPart) == 0 || intPart[0] == '-' || len(intPart) > 10 {
		return floatTime(b)
	}
	sec, ok := parseInt(intPart)
	if !ok {
		return 0, errBadTime
	}
	var ns int64
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(frac) {
			ns += int64(frac[i] - '0')
		}
	}
	return sec*1e9 + ns, nil
}

func floatTime(b []byte) (int64, error) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > math.MaxInt64/1e9 {
		return 0, errBadTime
	}
	sec := math.Floor(f)
	return int64(sec)*1e9 + int64(math.Round((f-sec)*1e6))*1e3, nil
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if unhex(c) < 0 {
			return false
		}
	}
	return true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// unescape appends the text of a JSON string body (already checked by scanString).
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				dst = append(dst, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r) // RuneError for invalid bytes
			i += size
			continue
		}
		i++
		switch s[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(s[i+1:]))
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					r2 = rune(hex4(s[i+3:]))
				}
				if p := utf16.DecodeRune(r, r2); p != utf8.RuneError {
					r = p
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, s[i])
		}
		i++
	}
	return dst
}

func hex4(b []byte) int {
	return unhex(b[0])<<12 | unhex(b[1])<<8 | unhex(b[2])<<4 | unhex(b[3])
}

func toValidUTF8(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		dst = utf8.AppendRune(dst, r)
		i += size
	}
	return dst
}
