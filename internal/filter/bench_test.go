package filter

import "testing"

func BenchmarkMatch(b *testing.B) {
	x, err := Parse(`ok AND responsetime < 1 AND user = "bob" AND annotation.age > 29 AND service("backend") { fault }`)
	if err != nil {
		b.Fatal(err)
	}
	tr := sampleTrace()
	b.ReportAllocs()
	for b.Loop() {
		if !x.Match(tr) {
			b.Fatal("expected match")
		}
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(`(http.status = 500 OR http.status = 503) AND service("db") { fault } AND annotation.x = "y"`); err != nil {
			b.Fatal(err)
		}
	}
}
