package segment

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// needsEscape marks the bytes that cannot appear raw inside a JSON string.
var needsEscape = func() (t [256]bool) {
	for i := 0; i < 0x20; i++ {
		t[i] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// specialMask returns a mask with the high bit set in each byte of x that is a control
// character, '"' or '\\'. The additions are done on 7-bit lanes, so no carry crosses a
// byte and the mask is exact per byte.
func specialMask(x uint64) uint64 {
	const low7 = 0x7f7f7f7f7f7f7f7f
	q := x ^ (ones * '"')
	q = ^(((q & low7) + low7) | q)
	b := x ^ (ones * '\\')
	b = ^(((b & low7) + low7) | b)
	ctl := ^(((x & low7) + ones*0x60) | x)
	return (q | b | ctl) & highs
}

// AppendJSONString appends doc to dst as a quoted JSON string. A receiver that decodes the
// string gets doc back byte for byte when doc is valid UTF-8; invalid bytes become U+FFFD,
// as with encoding/json. It scans eight bytes at a time, finds the bytes to escape with a
// per-byte mask and copies the clean runs between them whole; it allocates only to grow dst.
func AppendJSONString(dst, doc []byte) []byte {
	base := len(dst)
	n := len(doc)
	// Room for every byte doubling ('"' and '\\' do), plus slack for 8-byte stores.
	out := grow(dst, 2*n+24)
	j := base
	out[j] = '"'
	j++
	var hi uint64 // OR of every byte: tells whether the document is pure ASCII
	i := 0
	for ; i+8 <= n; i += 8 {
		x := binary.LittleEndian.Uint64(doc[i:])
		hi |= x
		m := specialMask(x)
		if m == 0 {
			binary.LittleEndian.PutUint64(out[j:], x)
			j += 8
			continue
		}
		off := 0 // bytes of x already written
		for m != 0 {
			k := bits.TrailingZeros64(m) >> 3
			m &= m - 1
			binary.LittleEndian.PutUint64(out[j:], x>>(8*off))
			j += k - off
			if len(out)-j < 24+2*(n-i) {
				// Control characters take 6 bytes; only then can the reserve run out.
				out = grow(out[:j], 24+6*(n-i))
			}
			j = putEscaped(out, j, byte(x>>(8*k)))
			off = k + 1
		}
		if off < 8 {
			binary.LittleEndian.PutUint64(out[j:], x>>(8*off))
			j += 8 - off
		}
	}
	start := i
	for ; i < n; i++ {
		c := doc[i]
		hi |= uint64(c)
		if !needsEscape[c] {
			continue
		}
		j += copy(out[j:], doc[start:i])
		if len(out)-j < 24+2*(n-i) {
			out = grow(out[:j], 24+6*(n-i))
		}
		j = putEscaped(out, j, c)
		start = i + 1
	}
	j += copy(out[j:], doc[start:])
	out[j] = '"'
	j++
	if hi&highs != 0 && !utf8.Valid(doc) {
		return appendSlow(out[:base], doc)
	}
	return out[:j]
}

// grow returns dst resliced to its full capacity, with at least extra bytes free after
// len(dst).
func grow(dst []byte, extra int) []byte {
	if cap(dst)-len(dst) < extra {
		nd := make([]byte, len(dst), 2*cap(dst)+extra)
		copy(nd, dst)
		dst = nd
	}
	return dst[:cap(dst)]
}

func putEscaped(out []byte, j int, c byte) int {
	switch c {
	case '"', '\\':
		out[j], out[j+1] = '\\', c
		return j + 2
	case '\n':
		out[j], out[j+1] = '\\', 'n'
		return j + 2
	case '\r':
		out[j], out[j+1] = '\\', 'r'
		return j + 2
	case '\t':
		out[j], out[j+1] = '\\', 't'
		return j + 2
	default:
		copy(out[j:], []byte{'\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf]})
		return j + 6
	}
}

func appendEscapedByte(dst []byte, c byte) []byte {
	var tmp [6]byte
	k := putEscaped(tmp[:], 0, c)
	return append(dst, tmp[:k]...)
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
