package sampling

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newServer(t *testing.T, e *Engine) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for path, h := range e.Routes() {
		mux.Handle(path, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func post(t *testing.T, srv *httptest.Server, path, body string) response {
	t.Helper()
	resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &out.body); err != nil {
		t.Fatalf("%s: response is not a JSON object: %q", path, raw)
	}
	return out
}

func TestHTTPErrorsCarryTypeHeaderAndBody(t *testing.T) {
	c := newClock()
	srv := newServer(t, newTestEngine(t, c, rule("r", 10)))
	tests := []struct {
		name, path, body string
		status           int
		code, contains   string
	}{
		{"bad json", PathGetSamplingRules, `{`, 400, CodeSerialization, "malformed"},
		{"not an object", PathGetSamplingTargets, `"x"`, 400, CodeSerialization, "object"},
		{"wrong member type", PathCreateSamplingRule, `{"SamplingRule":{"Priority":"high"}}`, 400, CodeSerialization, "SamplingRule.Priority"},
		{"targets without documents", PathGetSamplingTargets, `{}`, 400, CodeInvalidRequest, "SamplingStatisticsDocuments is required"},
		{"targets null documents", PathGetSamplingTargets, `{"SamplingStatisticsDocuments":null}`, 400, CodeInvalidRequest, "required"},
		{"targets missing counts", PathGetSamplingTargets, `{"SamplingStatisticsDocuments":[{"RuleName":"r","ClientID":"0123456789abcdef01234567","Timestamp":1}]}`, 400, CodeInvalidRequest, "SamplingStatisticsDocuments[0].RequestCount is required"},
		{"targets bad client", PathGetSamplingTargets, `{"SamplingStatisticsDocuments":[{"RuleName":"r","ClientID":"xyz","Timestamp":1,"RequestCount":1,"SampledCount":0}]}`, 400, CodeInvalidRequest, "ClientID"},
		{"targets null document", PathGetSamplingTargets, `{"SamplingStatisticsDocuments":[null]}`, 400, CodeInvalidRequest, "[0]"},
		{"create without rule", PathCreateSamplingRule, `{}`, 400, CodeInvalidRequest, "SamplingRule is required"},
		{"create missing member", PathCreateSamplingRule, `{"SamplingRule":{"RuleName":"x"}}`, 400, CodeInvalidRequest, "SamplingRule.ResourceARN is required"},
		{"create duplicate", PathCreateSamplingRule, `{"SamplingRule":` + ruleJSON("r") + `}`, 400, CodeRuleAlreadyExists, `"r"`},
		{"update without body", PathUpdateSamplingRule, `{}`, 400, CodeInvalidRequest, "SamplingRuleUpdate is required"},
		{"delete Default", PathDeleteSamplingRule, `{"RuleName":"Default"}`, 400, CodeInvalidRequest, "Default"},
		{"delete name and ARN", PathDeleteSamplingRule, `{"RuleName":"r","RuleARN":"a"}`, 400, CodeInvalidRequest, "not both"},
		{"garbage token", PathGetSamplingRules, `{"NextToken":"!!!"}`, 400, CodeInvalidRequest, "NextToken"},
		{"foreign token", PathGetSamplingRules, `{"NextToken":"` + encodeToken("GetSamplingStatisticSummaries", 1) + `"}`, 400, CodeInvalidRequest, "NextToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, srv, tt.path, tt.body)
			if r.status != tt.status || r.header.Get("x-amzn-ErrorType") != tt.code || r.body["__type"] != tt.code {
				t.Fatalf("got %d %q %s, want %d %s", r.status, r.header.Get("x-amzn-ErrorType"), r.raw, tt.status, tt.code)
			}
			if msg, _ := r.body["message"].(string); !strings.Contains(msg, tt.contains) {
				t.Fatalf("message %q lacks %q", msg, tt.contains)
			}
			if r.header.Get("x-amzn-RequestId") == "" {
				t.Error("no x-amzn-RequestId")
			}
		})
	}
}

func TestHTTPRejectsNonPost(t *testing.T) {
	srv := newServer(t, newTestEngine(t, newClock()))
	resp, err := http.Get(srv.URL + PathGetSamplingRules)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" || resp.Header.Get("x-amzn-ErrorType") == "" {
		t.Fatalf("GET answered %d %v", resp.StatusCode, resp.Header)
	}
}

func ruleJSON(name string) string {
	return `{"RuleName":"` + name + `","ResourceARN":"*","Priority":10,"FixedRate":0.1,"ReservoirSize":4,"ServiceName":"*","ServiceType":"*","Host":"*","HTTPMethod":"*","URLPath":"*","Version":1,"Attributes":null,"Unknown":1}`
}

func TestHTTPRuleLifecycle(t *testing.T) {
	c := newClock()
	e := newTestEngine(t, c)
	srv := newServer(t, e)

	r := post(t, srv, PathCreateSamplingRule, `{"SamplingRule":`+ruleJSON("api")+`,"Tags":[{"Key":"k","Value":"v"}]}`)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || r.header.Get("x-amzn-RequestId") != "req-1" {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	wantSub := `{"SamplingRuleRecord":{"SamplingRule":{"RuleName":"api","RuleARN":"arn:aws:xray:us-east-1:000000000000:sampling-rule/api","ResourceARN":"*","Priority":10,"FixedRate":0.1,"ReservoirSize":4,"ServiceName":"*","ServiceType":"*","Host":"*","HTTPMethod":"*","URLPath":"*","Version":1,"Attributes":{}},"CreatedAt":1772366400,"ModifiedAt":1772366400}}`
	if r.raw != wantSub {
		t.Fatalf("create body:\n got %s\nwant %s", r.raw, wantSub)
	}

	c.Advance(1500 * time.Millisecond)
	r = post(t, srv, PathUpdateSamplingRule, `{"SamplingRuleUpdate":{"RuleName":"api","FixedRate":0.75,"Host":null}}`)
	if r.status != 200 || !strings.Contains(r.raw, `"FixedRate":0.75`) || !strings.Contains(r.raw, `"ModifiedAt":1772366401.5`) || !strings.Contains(r.raw, `"Host":"*"`) {
		t.Fatalf("update: %d %s", r.status, r.raw)
	}

	r = post(t, srv, PathGetSamplingRules, ``)
	if r.status != 200 || !strings.Contains(r.raw, `"RuleName":"api"`) || !strings.Contains(r.raw, `"RuleName":"Default"`) || strings.Contains(r.raw, "NextToken") {
		t.Fatalf("get rules: %d %s", r.status, r.raw)
	}

	r = post(t, srv, PathDeleteSamplingRule, `{"RuleARN":"arn:aws:xray:us-east-1:000000000000:sampling-rule/api"}`)
	if r.status != 200 || !strings.Contains(r.raw, `"RuleName":"api"`) {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if len(e.Rules()) != 1 {
		t.Fatal("rule not deleted")
	}
}

func TestHTTPTargetsAndSummaries(t *testing.T) {
	c := newClock()
	e := newTestEngine(t, c, rule("r", 10))
	srv := newServer(t, e)
	body := `{"SamplingStatisticsDocuments":[
		{"RuleName":"r","ClientID":"0123456789abcdef01234567","Timestamp":"2026-03-01T12:00:00Z","RequestCount":7,"SampledCount":3,"BorrowCount":1},
		{"RuleName":"gone","ClientID":"0123456789abcdef01234567","Timestamp":1772366400.25,"RequestCount":1,"SampledCount":1}],
		"SamplingBoostStatisticsDocuments":[{"RuleName":"r"}]}`
	r := post(t, srv, PathGetSamplingTargets, body)
	want := `{"SamplingTargetDocuments":[{"RuleName":"r","FixedRate":0.1,"ReservoirQuota":5,"ReservoirQuotaTTL":1772366460,"Interval":10}],"LastRuleModification":1772366400,"UnprocessedStatistics":[{"RuleName":"gone","ErrorCode":"400","Message":"rule not found"}]}`
	if r.status != 200 || r.raw != want {
		t.Fatalf("targets:\n got %d %s\nwant %s", r.status, r.raw, want)
	}
	r = post(t, srv, PathGetSamplingStatisticSummaries, `{"NextToken":null}`)
	want = `{"SamplingStatisticSummaries":[{"RuleName":"r","Timestamp":1772366400,"RequestCount":7,"BorrowCount":1,"SampledCount":3}]}`
	if r.status != 200 || r.raw != want {
		t.Fatalf("summaries:\n got %d %s\nwant %s", r.status, r.raw, want)
	}
}

func TestHTTPPaginatesWithNextToken(t *testing.T) {
	c := newClock()
	e := newTestEngine(t, c)
	e.pageSize = 2
	for i := range 4 {
		if _, err := e.CreateRule(rule(fmt.Sprintf("r%d", i), 10)); err != nil {
			t.Fatal(err)
		}
	}
	srv := newServer(t, e)
	var names []string
	token := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		body := `{}`
		if token != "" {
			body = `{"NextToken":"` + token + `"}`
		}
		r := post(t, srv, PathGetSamplingRules, body)
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", page, r.status, r.raw)
		}
		for _, rec := range r.body["SamplingRuleRecords"].([]any) {
			names = append(names, rec.(map[string]any)["SamplingRule"].(map[string]any)["RuleName"].(string))
		}
		token, _ = r.body["NextToken"].(string)
		if token == "" {
			break
		}
	}
	if got := strings.Join(names, ","); got != "r0,r1,r2,r3,Default" {
		t.Fatalf("pages gave %s", got)
	}
	// A token past the end (rules deleted meanwhile) yields an empty last page.
	r := post(t, srv, PathGetSamplingRules, `{"NextToken":"`+encodeToken("GetSamplingRules", 50)+`"}`)
	if r.status != 200 || r.raw != `{"SamplingRuleRecords":[]}` {
		t.Fatalf("past-the-end token: %d %s", r.status, r.raw)
	}
}

func FuzzHandlers(f *testing.F) {
	f.Add(0, `{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"0123456789abcdef01234567","Timestamp":"1","RequestCount":1,"SampledCount":0}]}`)
	f.Add(1, `{"SamplingRule":`+ruleJSON("x")+`}`)
	f.Add(2, `{"SamplingRuleUpdate":{"RuleName":"Default","FixedRate":0.5}}`)
	f.Add(3, `{"RuleName":"x"}`)
	f.Add(4, `{"NextToken":"eHJheWQ"}`)
	f.Add(5, `{"NextToken":null}`)
	paths := []string{PathGetSamplingTargets, PathCreateSamplingRule, PathUpdateSamplingRule, PathDeleteSamplingRule, PathGetSamplingRules, PathGetSamplingStatisticSummaries}
	c := newClock()
	e, err := New(Options{Now: c.Now})
	if err != nil {
		f.Fatal(err)
	}
	routes := e.Routes()
	f.Fuzz(func(t *testing.T, op int, body string) {
		path := paths[(op%len(paths)+len(paths))%len(paths)]
		w := httptest.NewRecorder()
		routes[path](w, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
		if w.Code != 200 && w.Code != 400 {
			t.Fatalf("%s %q: status %d %s", path, body, w.Code, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s: invalid JSON response %q", path, w.Body)
		}
	})
}
