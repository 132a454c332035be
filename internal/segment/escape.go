package segment

import (
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// needsEscape marks the ASCII bytes that cannot appear raw inside a JSON string.
var needsEscape = func() (t [utf8.RuneSelf]bool) {
	for i := 0; i < 0x20; i++ {
		t[i] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

// AppendJSONString appends doc to dst as a quoted JSON string. A receiver that decodes the
// string gets doc back byte for byte when doc is valid UTF-8; invalid bytes become U+FFFD,
// as with encoding/json. It allocates only to grow dst.
func AppendJSONString(dst, doc []byte) []byte {
	base := len(dst)
	dst = append(dst, '"')
	ascii := true
	start := 0
	for i, c := range doc {
		if c >= utf8.RuneSelf {
			ascii = false
			continue
		}
		if !needsEscape[c] {
			continue
		}
		dst = append(dst, doc[start:i]...)
		dst = appendEscapedByte(dst, c)
		start = i + 1
	}
	if ascii || utf8.Valid(doc) {
		dst = append(dst, doc[start:]...)
		return append(dst, '"')
	}
	return appendSlow(dst[:base], doc)
}

func appendEscapedByte(dst []byte, c byte) []byte {
	switch c {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	default:
		return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
	}
}

// appendSlow is the rare path for documents holding invalid UTF-8: each invalid byte
// becomes U+FFFD, the rest is escaped as in the fast path.
func appendSlow(dst, doc []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(doc); {
		c := doc[i]
		if c < utf8.RuneSelf {
			if needsEscape[c] {
				dst = appendEscapedByte(dst, c)
			} else {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(doc[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, doc[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
