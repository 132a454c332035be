package otlp

import "testing"

func BenchmarkParseOnly(b *testing.B) {
	docs := benchDocs(benchBatch)
	var p parser
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, d := range docs {
			if _, err := p.parse(d); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkEncodeOnly(b *testing.B) {
	docs := benchDocs(benchBatch)
	var t translator
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t.enc.reset()
		for _, d := range docs {
			_ = t.add(d)
		}
		_ = t.enc.finish()
	}
}
