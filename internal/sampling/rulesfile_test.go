package sampling

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRulesAcceptedShapes(t *testing.T) {
	tests := []struct {
		file  string
		names []string
	}{
		{"testdata/rules.json", []string{"health-checks", "checkout", "Default"}},
		{"testdata/rules-export.json", []string{"Default"}},
		{"testdata/rule-cli.json", []string{"orders"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			rules, err := ParseRules(data)
			if err != nil {
				t.Fatalf("ParseRules: %v", err)
			}
			var names []string
			for _, r := range rules {
				names = append(names, r.RuleName)
			}
			if strings.Join(names, ",") != strings.Join(tt.names, ",") {
				t.Fatalf("names = %v, want %v", names, tt.names)
			}
		})
	}
}

func TestParseRulesErrorsNameRuleAndMember(t *testing.T) {
	const ok = `"ResourceARN":"*","Priority":1,"FixedRate":0.1,"ReservoirSize":1,"ServiceName":"*","ServiceType":"*","Host":"*","HTTPMethod":"*","URLPath":"*","Version":1`
	tests := []struct {
		name, data string
		want       []string
	}{
		{"empty", ``, []string{"empty"}},
		{"not an object", `[1]`, []string{"not a JSON object"}},
		{"sdk local format", `{"version":2,"rules":[],"default":{}}`, []string{"SDK local rules file"}},
		{"unknown top member", `{"Rules":[]}`, []string{`unknown member "Rules"`}},
		{"no list", `{}`, []string{"no SamplingRules"}},
		{"list not array", `{"SamplingRules":{}}`, []string{"SamplingRules must be an array"}},
		{"missing member", `{"SamplingRules":[{"RuleName":"a","ResourceARN":"*"}]}`, []string{`SamplingRules[0] (rule "a")`, "Priority is required"}},
		{"bad value", `{"SamplingRules":[{"RuleName":"a",` + strings.Replace(ok, `"FixedRate":0.1`, `"FixedRate":3`, 1) + `}]}`, []string{`(rule "a")`, "FixedRate must be between 0 and 1"}},
		{"misspelt member", `{"SamplingRules":[{"RuleName":"a","Prority":5,` + ok + `}]}`, []string{`(rule "a")`, `unknown member "Prority"`}},
		{"wrong type", `{"SamplingRules":[{"RuleName":"a",` + strings.Replace(ok, `"Priority":1`, `"Priority":"high"`, 1) + `}]}`, []string{`(rule "a")`, "Priority"}},
		{"duplicate", `{"SamplingRules":[{"RuleName":"a",` + ok + `},{"RuleName":"a",` + ok + `}]}`, []string{"SamplingRules[1]", "listed twice"}},
		{"Default match field", `{"SamplingRules":[{"RuleName":"Default","Host":"x"}]}`, []string{`(rule "Default")`, "Host of the Default rule"}},
		{"Default priority", `{"SamplingRules":[{"RuleName":"Default","Priority":5}]}`, []string{`(rule "Default")`, "Priority of the Default rule"}},
		{"wrapper extra member", `{"SamplingRules":[{"SamplingRule":{"RuleName":"a",` + ok + `},"Extra":1}]}`, []string{`unknown member "Extra"`}},
		{"both lists", `{"SamplingRules":[],"SamplingRuleRecords":[]}`, []string{"use one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules([]byte(tt.data))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseRulesLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"SamplingRules":[`)
	for i := range 26 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"RuleName":"r` + strings.Repeat("x", i) + `","ResourceARN":"*","Priority":1,"FixedRate":0.1,"ReservoirSize":1,"ServiceName":"*","ServiceType":"*","Host":"*","HTTPMethod":"*","URLPath":"*","Version":1}`)
	}
	b.WriteString(`,{"RuleName":"Default"}]}`)
	if _, err := ParseRules([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "limit is 25") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewLoadsRulesFile(t *testing.T) {
	c := newClock()
	e, err := New(Options{Now: c.Now, RulesFile: "testdata/rules.json"})
	if err != nil {
		t.Fatal(err)
	}
	recs := e.Rules()
	if len(recs) != 3 {
		t.Fatalf("rules = %+v", recs)
	}
	if d := recs[2].SamplingRule; d.RuleName != "Default" || d.FixedRate != 0.1 || d.ReservoirSize != 2 || d.Priority != 10000 {
		t.Errorf("Default = %+v", d)
	}
	if got := e.Match(Request{ServiceName: "web", HTTPMethod: "GET", URLPath: "/healthz"}); got.RuleName != "health-checks" {
		t.Errorf("health check matched %s", got.RuleName)
	}
	if got := e.Match(Request{ServiceName: "checkout-api", HTTPMethod: "POST", URLPath: "/pay"}); got.RuleName != "checkout" {
		t.Errorf("checkout matched %s", got.RuleName)
	}
}

func TestRulesFileReplacesPersistedRulesButKeepsUnchangedTimestamps(t *testing.T) {
	c := newClock()
	p := &memPersister{}
	e, _ := New(Options{Now: c.Now, Persister: p})
	data, _ := os.ReadFile("testdata/rules.json")
	fileRules, _ := ParseRules(data)
	if _, err := e.CreateRule(fileRules[0]); err != nil { // same content as in the file
		t.Fatal(err)
	}
	if _, err := e.CreateRule(rule("api-only", 50)); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Hour)
	e2, err := New(Options{Now: c.Now, Persister: p, RulesFile: "testdata/rules.json"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]RuleRecord{}
	for _, r := range e2.Rules() {
		got[r.SamplingRule.RuleName] = r
	}
	if _, ok := got["api-only"]; ok {
		t.Error("rule absent from the file survived")
	}
	if !got["health-checks"].CreatedAt.Equal(t0) {
		t.Errorf("unchanged rule lost its CreatedAt: %v", got["health-checks"].CreatedAt.Time)
	}
	if !got["checkout"].CreatedAt.Equal(c.Now()) || !got["Default"].ModifiedAt.Equal(c.Now()) {
		t.Errorf("new/changed rules not stamped now: %+v", got)
	}
	if len(p.recs) != 3 {
		t.Errorf("persisted %d records after loading the file, want 3", len(p.recs))
	}
}

func TestNewReportsRulesFileProblems(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"SamplingRules":[{"RuleName":"x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{RulesFile: bad}); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `rule "x"`) {
		t.Errorf("bad file: err = %v", err)
	}
	if _, err := New(Options{RulesFile: filepath.Join(dir, "missing.json")}); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: err = %v", err)
	}
}

func FuzzParseRules(f *testing.F) {
	for _, name := range []string{"testdata/rules.json", "testdata/rules-export.json", "testdata/rule-cli.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"SamplingRules":[null,1,"x",{"SamplingRule":null}]}`))
	f.Add([]byte(`{"SamplingRule":{"RuleName":"Default","Attributes":{"":""}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseRules(data)
		if err != nil {
			return
		}
		// Whatever parses must load into an engine.
		e, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			if r.RuleName == DefaultRuleName {
				continue
			}
			if _, err := e.CreateRule(r); err != nil {
				t.Fatalf("parsed rule %q refused by CreateRule: %v", r.RuleName, err)
			}
		}
	})
}
