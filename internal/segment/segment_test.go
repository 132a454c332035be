package segment

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseDatagramFollowsUpstreamHeaderRules(t *testing.T) {
	tests := []struct {
		name string
		in   string
		body string
		err  error
	}{
		{"compact header", "{\"format\":\"json\",\"version\":1}\n{\"a\":1}", `{"a":1}`, nil},
		{"spaced header (Go SDK)", "{\"format\": \"json\", \"version\": 1}\n{}", `{}`, nil},
		{"upper-case names and value", "{\"FORMAT\":\"JSON\",\"VERSION\":1}\nx", "x", nil},
		{"extra members ignored", "{\"format\":\"json\",\"version\":1,\"x\":[1]}\nx", "x", nil},
		{"duplicates last wins", "{\"format\":\"xml\",\"format\":\"json\",\"version\":1}\nx", "x", nil},
		{"surrounding whitespace and CR", " {\"format\":\"json\",\"version\":1} \r\nx", "x", nil},
		{"body kept byte for byte", "{\"format\":\"json\",\"version\":1}\n\n{\"a\":1}\n\n", "\n{\"a\":1}\n\n", nil},
		{"no newline", "{\"format\":\"json\",\"version\":1}", "", ErrMissingHeader},
		{"empty body", "{\"format\":\"json\",\"version\":1}\n", "", ErrEmptyBody},
		{"version as string", "{\"format\":\"json\",\"version\":\"1\"}\nx", "", ErrInvalidHeader},
		{"version float", "{\"format\":\"json\",\"version\":1.0}\nx", "", ErrInvalidHeader},
		{"version 2", "{\"format\":\"json\",\"version\":2}\nx", "", ErrInvalidHeader},
		{"trailing bytes", "{\"format\":\"json\",\"version\":1}x\nx", "", ErrInvalidHeader},
		{"not json", "hello\nx", "", ErrInvalidHeader},
		{"missing version", "{\"format\":\"json\"}\nx", "", ErrInvalidHeader},
		{"null header", "null\nx", "", ErrInvalidHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := ParseDatagram([]byte(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if string(body) != tt.body {
				t.Fatalf("body = %q, want %q", body, tt.body)
			}
		})
	}
}

func TestAppendJSONStringRoundTripsDocuments(t *testing.T) {
	docs := []string{
		`{"name":"a","id":"1"}`,
		"tab\there \"quoted\" back\\slash \x00 \x1f \n\r",
		"unicode é ü 日本 \u2028",
		"",
	}
	for _, d := range docs {
		enc := AppendJSONString(nil, []byte(d))
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("%q: %v (encoded %s)", d, err, enc)
		}
		if got != d {
			t.Fatalf("round trip %q -> %q", d, got)
		}
	}
}

func TestAppendJSONStringReplacesInvalidUTF8LikeEncodingJSON(t *testing.T) {
	in := "ok \xff\xfe \"q\" é"
	enc := AppendJSONString([]byte("prefix:"), []byte(in))
	want, _ := json.Marshal(in)
	if string(enc) != "prefix:"+string(want) {
		t.Fatalf("got %s want prefix:%s", enc, want)
	}
}

func TestIDsFindsTopLevelIDs(t *testing.T) {
	id, tid := IDs([]byte(`{"trace_id" : "1-5f84c7a1-2b1a5e6e9f0d9d0c1a2b3c4d", "name":"x","id": "70de5b6f19ff9a0a","subsegments":[{"id":"ffffffffffffffff"}]}`))
	if id != "70de5b6f19ff9a0a" || tid != "1-5f84c7a1-2b1a5e6e9f0d9d0c1a2b3c4d" {
		t.Fatalf("got %q %q", id, tid)
	}
	id, tid = IDs([]byte(`{"name":"x"}`))
	if id != "" || tid != "" {
		t.Fatalf("got %q %q", id, tid)
	}
}

func FuzzParseDatagram(f *testing.F) {
	f.Add([]byte("{\"format\":\"json\",\"version\":1}\n{}"))
	f.Add([]byte("{\"format\": \"json\", \"version\": 1}\n{\"id\":\"x\"}"))
	f.Add([]byte("\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := ParseDatagram(b)
		if err == nil && len(body) == 0 {
			t.Fatal("accepted an empty body")
		}
		enc := AppendJSONString(nil, body)
		var s string
		if err := json.Unmarshal(enc, &s); err != nil {
			t.Fatalf("escaped body is not a JSON string: %v", err)
		}
		IDs(b)
	})
}

func BenchmarkAppendJSONString1KB(b *testing.B) {
	doc := []byte(`{"name":"checkout","id":"70de5b6f19ff9a0a","trace_id":"1-5f84c7a1-2b1a5e6e9f0d9d0c1a2b3c4d","start_time":1602537377.345,"end_time":1602537377.562,"http":{"request":{"method":"GET","url":"https://example.com/api/checkout/1234","user_agent":"curl/8.0","client_ip":"10.0.0.1"},"response":{"status":200,"content_length":512}},"aws":{"ec2":{"instance_id":"i-0123456789abcdef0","availability_zone":"us-east-1a"}},"annotations":{"customer":"alice","cart_size":3},"metadata":{"debug":{"note":"padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding"}},"subsegments":[{"id":"1111111111111111","name":"DynamoDB","start_time":1602537377.4,"end_time":1602537377.5,"namespace":"aws","aws":{"operation":"GetItem","table_name":"carts"}}]}`)
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendJSONString(buf[:0], doc)
	}
}

func TestAppendJSONStringMatchesEncodingJSONOnEveryByte(t *testing.T) {
	for c := 0; c < 256; c++ {
		for _, pos := range []int{0, 3, 7, 8, 15, 16} {
			b := []byte(strings.Repeat("a", 20))
			b[pos] = byte(c)
			enc := AppendJSONString(nil, b)
			var got string
			if err := json.Unmarshal(enc, &got); err != nil {
				t.Fatalf("byte %#x at %d: %v (%s)", c, pos, err, enc)
			}
			want := string(b)
			if !utf8.ValidString(want) {
				want = strings.ToValidUTF8(want, "\ufffd")
			}
			if got != want {
				t.Fatalf("byte %#x at %d: got %q want %q", c, pos, got, want)
			}
		}
	}
}
