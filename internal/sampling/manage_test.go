package sampling

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func wantAPIError(t *testing.T, err error, code, contains string) {
	t.Helper()
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *APIError %s", err, code)
	}
	if apiErr.Code != code || apiErr.Status != 400 || !strings.Contains(apiErr.Message, contains) {
		t.Fatalf("err = %d %s %q, want 400 %s containing %q", apiErr.Status, apiErr.Code, apiErr.Message, code, contains)
	}
}

func TestCreateRuleValidatesEveryMember(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name  string
		mod   func(*Rule)
		field string // "" = valid
	}{
		{"valid", func(*Rule) {}, ""},
		{"name at limit", func(r *Rule) { r.RuleName = long(32) }, ""},
		{"empty name", func(r *Rule) { r.RuleName = "" }, "SamplingRule.RuleName"},
		{"long name", func(r *Rule) { r.RuleName = long(33) }, "SamplingRule.RuleName"},
		{"priority 0", func(r *Rule) { r.Priority = 0 }, "SamplingRule.Priority"},
		{"priority 10000", func(r *Rule) { r.Priority = 10000 }, "SamplingRule.Priority"},
		{"priority 9999", func(r *Rule) { r.Priority = 9999 }, ""},
		{"negative rate", func(r *Rule) { r.FixedRate = -0.1 }, "SamplingRule.FixedRate"},
		{"rate above 1", func(r *Rule) { r.FixedRate = 1.01 }, "SamplingRule.FixedRate"},
		{"NaN rate", func(r *Rule) { r.FixedRate = math.NaN() }, "SamplingRule.FixedRate"},
		{"rate 1", func(r *Rule) { r.FixedRate = 1 }, ""},
		{"negative reservoir", func(r *Rule) { r.ReservoirSize = -1 }, "SamplingRule.ReservoirSize"},
		{"huge reservoir", func(r *Rule) { r.ReservoirSize = math.MaxInt32 + 1 }, "SamplingRule.ReservoirSize"},
		{"long resource arn", func(r *Rule) { r.ResourceARN = long(501) }, "SamplingRule.ResourceARN"},
		{"long service name", func(r *Rule) { r.ServiceName = long(65) }, "SamplingRule.ServiceName"},
		{"long service type", func(r *Rule) { r.ServiceType = long(65) }, "SamplingRule.ServiceType"},
		{"long host", func(r *Rule) { r.Host = long(65) }, "SamplingRule.Host"},
		{"long method", func(r *Rule) { r.HTTPMethod = long(11) }, "SamplingRule.HTTPMethod"},
		{"long path", func(r *Rule) { r.URLPath = long(129) }, "SamplingRule.URLPath"},
		{"path at limit", func(r *Rule) { r.URLPath = long(128) }, ""},
		{"version 0", func(r *Rule) { r.Version = 0 }, "SamplingRule.Version"},
		{"six attributes", func(r *Rule) {
			r.Attributes = map[string]string{"a": "1", "b": "1", "c": "1", "d": "1", "e": "1", "f": "1"}
		}, "SamplingRule.Attributes"},
		{"empty attribute value", func(r *Rule) { r.Attributes = map[string]string{"a": ""} }, "SamplingRule.Attributes"},
		{"long attribute key", func(r *Rule) { r.Attributes = map[string]string{long(33): "v"} }, "SamplingRule.Attributes"},
		{"boost rate above 1", func(r *Rule) { r.SamplingRateBoost = &SamplingRateBoost{MaxRate: 2} }, "SamplingRule.SamplingRateBoost.MaxRate"},
		{"boost ok", func(r *Rule) { r.SamplingRateBoost = &SamplingRateBoost{MaxRate: 0.5, CooldownWindowMinutes: 5} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, newClock())
			r := rule("r", 10, tt.mod)
			rec, err := e.CreateRule(r)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("CreateRule: %v", err)
				}
				if rec.SamplingRule.RuleARN != "arn:aws:xray:us-east-1:000000000000:sampling-rule/"+r.RuleName {
					t.Errorf("RuleARN = %q", rec.SamplingRule.RuleARN)
				}
				return
			}
			wantAPIError(t, err, CodeInvalidRequest, tt.field)
		})
	}
}

func TestCreateRuleRefusesDuplicatesAndTooManyRules(t *testing.T) {
	e := newTestEngine(t, newClock(), rule("r", 10))
	_, err := e.CreateRule(rule("r", 11))
	wantAPIError(t, err, CodeRuleAlreadyExists, `"r"`)
	_, err = e.CreateRule(rule("Default", 11))
	wantAPIError(t, err, CodeRuleAlreadyExists, `"Default"`)
	for i := 1; i < 25; i++ {
		if _, err := e.CreateRule(rule("r"+strings.Repeat("x", i), 10)); err != nil {
			t.Fatalf("rule %d: %v", i+1, err)
		}
	}
	_, err = e.CreateRule(rule("one-too-many", 10))
	wantAPIError(t, err, CodeRuleLimitExceeded, "25")
}

func TestUpdateRule(t *testing.T) {
	tests := []struct {
		name  string
		u     RuleUpdate
		check func(t *testing.T, r Rule)
		err   string // expected message fragment; "" = success
	}{
		{"changes only given members", RuleUpdate{RuleName: ptr("r"), FixedRate: ptr(0.9), URLPath: ptr("/x")},
			func(t *testing.T, r Rule) {
				if r.FixedRate != 0.9 || r.URLPath != "/x" || r.Priority != 10 || r.ReservoirSize != 5 {
					t.Errorf("rule = %+v", r)
				}
			}, ""},
		{"by ARN", RuleUpdate{RuleARN: ptr("arn:aws:xray:us-east-1:000000000000:sampling-rule/r"), Priority: ptr(99)},
			func(t *testing.T, r Rule) {
				if r.Priority != 99 {
					t.Errorf("priority = %d", r.Priority)
				}
			}, ""},
		{"attributes replaced", RuleUpdate{RuleName: ptr("r"), Attributes: map[string]string{"k": "v"}},
			func(t *testing.T, r Rule) {
				if r.Attributes["k"] != "v" {
					t.Errorf("attributes = %v", r.Attributes)
				}
			}, ""},
		{"Default rate and reservoir", RuleUpdate{RuleName: ptr("Default"), FixedRate: ptr(0.5), ReservoirSize: ptr(3), ServiceName: ptr("*"), Priority: ptr(10000)},
			func(t *testing.T, r Rule) {
				if r.FixedRate != 0.5 || r.ReservoirSize != 3 {
					t.Errorf("Default = %+v", r)
				}
			}, ""},
		{"Default service name", RuleUpdate{RuleName: ptr("Default"), ServiceName: ptr("x")}, nil, "ServiceName of the Default rule"},
		{"Default priority", RuleUpdate{RuleName: ptr("Default"), Priority: ptr(5)}, nil, "Priority of the Default rule"},
		{"Default attributes", RuleUpdate{RuleName: ptr("Default"), Attributes: map[string]string{"k": "v"}}, nil, "Attributes of the Default rule"},
		{"bad rate", RuleUpdate{RuleName: ptr("r"), FixedRate: ptr(2.0)}, nil, "SamplingRuleUpdate.FixedRate"},
		{"bad priority", RuleUpdate{RuleName: ptr("r"), Priority: ptr(10000)}, nil, "SamplingRuleUpdate.Priority"},
		{"name and ARN", RuleUpdate{RuleName: ptr("r"), RuleARN: ptr("arn"), FixedRate: ptr(0.1)}, nil, "not both"},
		{"neither name nor ARN", RuleUpdate{FixedRate: ptr(0.1)}, nil, "RuleName or SamplingRuleUpdate.RuleARN is required"},
		{"unknown rule", RuleUpdate{RuleName: ptr("nope")}, nil, `"nope" does not exist`},
		{"unknown ARN", RuleUpdate{RuleARN: ptr("arn:aws:xray:us-east-1:1:sampling-rule/r")}, nil, "no sampling rule has the ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			e := newTestEngine(t, c, rule("r", 10))
			c.Advance(time.Minute)
			rec, err := e.UpdateRule(tt.u)
			if tt.err != "" {
				wantAPIError(t, err, CodeInvalidRequest, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !rec.ModifiedAt.Equal(c.Now()) {
				t.Errorf("ModifiedAt = %v, want now", rec.ModifiedAt.Time)
			}
			if rec.SamplingRule.RuleName == "r" && !rec.CreatedAt.Equal(t0) {
				t.Errorf("CreatedAt = %v, want unchanged %v", rec.CreatedAt.Time, t0)
			}
			tt.check(t, rec.SamplingRule)
			if got := e.Rules(); !sameRule(findRule(got, rec.SamplingRule.RuleName), rec.SamplingRule) {
				t.Errorf("stored rule differs from returned one")
			}
		})
	}
}

func findRule(recs []RuleRecord, name string) Rule {
	for _, r := range recs {
		if r.SamplingRule.RuleName == name {
			return r.SamplingRule
		}
	}
	return Rule{}
}

func TestDeleteRule(t *testing.T) {
	e := newTestEngine(t, newClock(), rule("a", 10), rule("b", 20))
	rec, err := e.DeleteRule("a", "")
	if err != nil || rec.SamplingRule.RuleName != "a" {
		t.Fatalf("delete a: %+v %v", rec, err)
	}
	if _, err := e.DeleteRule("", "arn:aws:xray:us-east-1:000000000000:sampling-rule/b"); err != nil {
		t.Fatalf("delete b by ARN: %v", err)
	}
	_, err = e.DeleteRule("Default", "")
	wantAPIError(t, err, CodeInvalidRequest, "Default rule cannot be deleted")
	_, err = e.DeleteRule("a", "")
	wantAPIError(t, err, CodeInvalidRequest, "does not exist")
	_, err = e.DeleteRule("", "")
	wantAPIError(t, err, CodeInvalidRequest, "required")
	if got := e.Rules(); len(got) != 1 || got[0].SamplingRule.RuleName != "Default" {
		t.Fatalf("rules left = %+v", got)
	}
}

func TestRulesAreOrderedByPriorityThenNameWithDefaultLast(t *testing.T) {
	e := newTestEngine(t, newClock(), rule("c", 5), rule("b", 9999), rule("a", 5))
	var names []string
	for _, r := range e.Rules() {
		names = append(names, r.SamplingRule.RuleName)
	}
	if got := strings.Join(names, ","); got != "a,c,b,Default" {
		t.Fatalf("order = %s", got)
	}
}

func TestRuleARNUsesConfiguredRegionAccountAndPartition(t *testing.T) {
	tests := []struct{ region, account, want string }{
		{"eu-west-1", "123456789012", "arn:aws:xray:eu-west-1:123456789012:sampling-rule/Default"},
		{"cn-north-1", "", "arn:aws-cn:xray:cn-north-1:000000000000:sampling-rule/Default"},
		{"us-gov-west-1", "1", "arn:aws-us-gov:xray:us-gov-west-1:1:sampling-rule/Default"},
		{"", "", "arn:aws:xray:us-east-1:000000000000:sampling-rule/Default"},
	}
	for _, tt := range tests {
		e, err := New(Options{Region: tt.region, AccountID: tt.account})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Rules()[0].SamplingRule.RuleARN; got != tt.want {
			t.Errorf("region %q: ARN = %q, want %q", tt.region, got, tt.want)
		}
	}
}

// memPersister is an in-memory Persister that can be told to fail.
type memPersister struct {
	recs  []RuleRecord
	found bool
	fail  error
	saves int
}

func (p *memPersister) SaveRules(recs []RuleRecord) error {
	if p.fail != nil {
		return p.fail
	}
	p.recs, p.found = append([]RuleRecord(nil), recs...), true
	p.saves++
	return nil
}

func (p *memPersister) LoadRules() ([]RuleRecord, bool, error) { return p.recs, p.found, nil }

func TestPersistedRulesSurviveRestart(t *testing.T) {
	c := newClock()
	p := &memPersister{}
	e, err := New(Options{Now: c.Now, Persister: p})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateRule(rule("keep", 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.UpdateRule(RuleUpdate{RuleName: ptr("Default"), FixedRate: ptr(0.2)}); err != nil {
		t.Fatal(err)
	}
	if p.saves != 2 || len(p.recs) != 2 {
		t.Fatalf("saves=%d recs=%d", p.saves, len(p.recs))
	}
	c.Advance(time.Hour)
	e2, err := New(Options{Now: c.Now, Persister: p, Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	recs := e2.Rules()
	if len(recs) != 2 || recs[0].SamplingRule.RuleName != "keep" || !recs[0].CreatedAt.Equal(t0) {
		t.Fatalf("restored = %+v", recs)
	}
	if recs[0].SamplingRule.RuleARN != "arn:aws:xray:eu-west-1:000000000000:sampling-rule/keep" {
		t.Errorf("ARN not recomputed for the new region: %s", recs[0].SamplingRule.RuleARN)
	}
	if recs[1].SamplingRule.FixedRate != 0.2 {
		t.Errorf("Default = %+v", recs[1].SamplingRule)
	}
	out, _ := e2.GetSamplingTargets(nil)
	if !out.LastRuleModification.Equal(t0) {
		t.Errorf("LastRuleModification = %v, want the newest record time %v", out.LastRuleModification.Time, t0)
	}
}

func TestFailedSaveLeavesRulesUnchanged(t *testing.T) {
	p := &memPersister{}
	e, err := New(Options{Now: newClock().Now, Persister: p})
	if err != nil {
		t.Fatal(err)
	}
	p.fail = errors.New("disk full")
	_, err = e.CreateRule(rule("r", 10))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 500 || apiErr.Code != CodeInternalFailure {
		t.Fatalf("err = %v, want 500 InternalFailure", err)
	}
	if len(e.Rules()) != 1 {
		t.Fatalf("rule added despite failed save")
	}
}

func TestInvalidPersistedRulesFailNew(t *testing.T) {
	bad := rule("bad", 0)
	p := &memPersister{found: true, recs: []RuleRecord{{SamplingRule: bad}}}
	_, err := New(Options{Persister: p})
	if err == nil || !strings.Contains(err.Error(), `rule "bad"`) || !strings.Contains(err.Error(), "Priority") {
		t.Fatalf("err = %v", err)
	}
}
