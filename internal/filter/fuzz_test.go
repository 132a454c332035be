package filter

import (
	"errors"
	"sync"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "ok", `ok !partial duration < 3`, `responsetime > 5 AND http.status != 200`,
		`service("a") { fault OR error }`, `edge("a", "b") { responsetime > 0.1 }`,
		`annotation.x = "y" OR annotation.n >= -1.5e3`, `service(id(name: "n", type: "t")) { root }`,
		`(user CONTAINS "" OR NOT inferred) AND http.url BEGINSWITH "https://"`,
		`user = "a\"b\\"`, `service() { name = bare }`, `rootcause.json = #[{}]`, "((((", "\"\\",
	} {
		f.Add(s)
	}
	tr := sampleTrace()
	f.Fuzz(func(t *testing.T, src string) {
		x, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) returned %T, want *SyntaxError", src, err)
			}
			if se.Pos < 1 || se.Pos > utf8.RuneCountInString(src)+1 {
				t.Fatalf("Parse(%q): column %d out of range", src, se.Pos)
			}
			return
		}
		x.Match(tr)
		x.Match(&Trace{})
		x.Hints()
		_, _ = ParseEntitySelector(src)
	})
}

func TestMatchIsSafeForConcurrentUse(t *testing.T) {
	x, err := Parse(`service() { fault } AND user = "alice" AND annotation.age > 1`)
	if err != nil {
		t.Fatal(err)
	}
	tr := sampleTrace()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if !x.Match(tr) {
					t.Error("expected match")
					return
				}
			}
		}()
	}
	wg.Wait()
}
