package segment

import "bytes"

// IDs pulls "id" and "trace_id" out of a segment document without decoding it, for log
// lines and for matching UnprocessedTraceSegments entries back to documents. It looks at
// top-level-looking members only by taking the first occurrence of each key, which is
// where every SDK writes them; it returns empty strings when they cannot be found.
func IDs(doc []byte) (id, traceID string) {
	return stringMember(doc, `"id"`), stringMember(doc, `"trace_id"`)
}

// stringMember finds key followed by optional whitespace, ':' and a short string value.
func stringMember(doc []byte, key string) string {
	off := 0
	for {
		i := bytes.Index(doc[off:], []byte(key))
		if i < 0 {
			return ""
		}
		j := off + i + len(key)
		j = skipSpace(doc, j)
		if j < len(doc) && doc[j] == ':' {
			j = skipSpace(doc, j+1)
			if j < len(doc) && doc[j] == '"' {
				end := bytes.IndexByte(doc[j+1:], '"')
				if end >= 0 && end <= 64 {
					return string(doc[j+1 : j+1+end])
				}
			}
			return ""
		}
		off = off + i + len(key)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
