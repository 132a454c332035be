package trace

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/xrayd/xrayd/internal/filter"
)

const tid = "1-5759e988-bd862e3fe1be46a994272793"

func mustParse(t *testing.T, s string) *Doc {
	t.Helper()
	d, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return d
}

func TestValidateRejectsBadDocuments(t *testing.T) {
	big := `{"id":"0123456789abcdef","name":"x","trace_id":"` + tid + `","start_time":1,"end_time":2,"metadata":{"a":"` + strings.Repeat("x", MaxDocumentSize) + `"}}`
	tests := []struct {
		name, doc, code, field string
	}{
		{"not json", `{"id":`, CodeInvalidJSON, ""},
		{"not an object", `"hello"`, CodeInvalidJSON, ""},
		{"too large", big, CodeDocumentTooLarge, ""},
		{"missing id", `{"name":"a","trace_id":"` + tid + `","start_time":1,"end_time":2}`, CodeMissingField, "id"},
		{"bad id", `{"id":"xyz","name":"a","trace_id":"` + tid + `","start_time":1,"end_time":2}`, CodeInvalidID, "id"},
		{"missing name", `{"id":"0123456789abcdef","trace_id":"` + tid + `","start_time":1,"end_time":2}`, CodeMissingField, "name"},
		{"long name", `{"id":"0123456789abcdef","name":"` + strings.Repeat("n", 201) + `","trace_id":"` + tid + `","start_time":1,"end_time":2}`, CodeInvalidName, "name"},
		{"missing trace id", `{"id":"0123456789abcdef","name":"a","start_time":1,"end_time":2}`, CodeMissingField, "trace_id"},
		{"bad trace id", `{"id":"0123456789abcdef","name":"a","trace_id":"2-5759e988-bd862e3fe1be46a994272793","start_time":1,"end_time":2}`, CodeInvalidTraceID, "trace_id"},
		{"missing start", `{"id":"0123456789abcdef","name":"a","trace_id":"` + tid + `","end_time":2}`, CodeMissingField, "start_time"},
		{"string start", `{"id":"0123456789abcdef","name":"a","trace_id":"` + tid + `","start_time":"1","end_time":2}`, CodeInvalidTime, "start_time"},
		{"no end", `{"id":"0123456789abcdef","name":"a","trace_id":"` + tid + `","start_time":1}`, CodeMissingField, "end_time"},
		{"end before start", `{"id":"0123456789abcdef","name":"a","trace_id":"` + tid + `","start_time":3,"end_time":2}`, CodeInvalidTime, "end_time"},
		{"subsegment without parent", `{"type":"subsegment","id":"0123456789abcdef","name":"a","trace_id":"` + tid + `","start_time":1,"end_time":2}`, CodeMissingField, "parent_id"},
		{"bad parent", `{"id":"0123456789abcdef","parent_id":"12","name":"a","trace_id":"` + tid + `","start_time":1,"end_time":2}`, CodeInvalidID, "parent_id"},
		{"bad embedded subsegment", `{"id":"0123456789abcdef","name":"a","trace_id":"` + tid + `","start_time":1,"end_time":2,"subsegments":[{"id":"1111111111111111","name":"s","start_time":1}]}`, CodeMissingField, "subsegments[0].end_time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate([]byte(tc.doc))
			ve, ok := err.(*ValidationError)
			if !ok {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			if ve.Code != tc.code || ve.Field != tc.field {
				t.Fatalf("code,field = %s,%q want %s,%q (%s)", ve.Code, ve.Field, tc.code, tc.field, ve.Msg)
			}
			if tc.field != "" && !strings.Contains(ve.Msg, tc.field) {
				t.Errorf("message %q does not name %q", ve.Msg, tc.field)
			}
		})
	}
}

func TestValidateAcceptsAndNormalises(t *testing.T) {
	docs := []string{
		`{"id":"0123456789ABCDEF","name":"a","trace_id":"1-5759E988-BD862E3FE1BE46A994272793","start_time":1.480615200010E9,"in_progress":true}`,
		`{"id":"0123456789abcdef","name":"a","trace_id":"` + tid + `","start_time":1,"end_time":2,"annotations":{"ok":1,"bad":{"x":1},"n":null}}`,
		`[{"type":"subsegment","id":"0123456789abcdef","parent_id":"1111111111111111","name":"a","trace_id":"` + tid + `","start_time":1,"end_time":2}]`,
	}
	for _, d := range docs {
		info, err := Validate([]byte(d))
		if err != nil {
			t.Fatalf("Validate(%s): %v", d, err)
		}
		if info.ID != "0123456789abcdef" || info.TraceID != tid {
			t.Errorf("not normalised: %+v", info)
		}
	}
	d := mustParse(t, docs[1])
	if len(d.Annotations) != 1 || d.Annotations[0].Key != "ok" {
		t.Errorf("annotations = %+v, want only ok", d.Annotations)
	}
}

func TestAssembleWorkedExample(t *testing.T) {
	api := mustParse(t, `{"id":"aaaaaaaaaaaaaaaa","name":"api","origin":"AWS::EC2::Instance","trace_id":"`+tid+`",
		"start_time":100,"end_time":100.120,"http":{"request":{"method":"GET","url":"http://x/users"},"response":{"status":200}},
		"subsegments":[{"id":"bbbbbbbbbbbbbbbb","name":"DynamoDB","namespace":"aws","start_time":100.01,"end_time":100.05,"aws":{"table_name":"users","operation":"GetItem"}}]}`)
	tr := Assemble(tid, []*Doc{api})
	if tr.Root != api || len(tr.Inferred) != 1 {
		t.Fatalf("root=%v inferred=%d", tr.Root, len(tr.Inferred))
	}
	g := NewGraph()
	g.AddTrace(tr)
	svcs := g.Services()
	if len(svcs) != 3 {
		t.Fatalf("nodes = %d, want 3: %+v", len(svcs), svcs)
	}
	byType := map[string]GraphService{}
	for _, s := range svcs {
		byType[s.Type] = s
	}
	client, node, users := byType["client"], byType["AWS::EC2::Instance"], byType["AWS::DynamoDB::Table"]
	if client.Name != "api" || client.State != "unknown" || len(client.Edges) != 1 || client.Edges[0].ReferenceId != node.ReferenceId {
		t.Errorf("client node wrong: %+v", client)
	}
	if client.Edges[0].SummaryStatistics.OkCount != 1 || client.Edges[0].SummaryStatistics.TotalResponseTime != 0.12 {
		t.Errorf("client edge stats: %+v", client.Edges[0].SummaryStatistics)
	}
	if !node.Root || node.State != "active" || len(node.Edges) != 1 || node.Edges[0].ReferenceId != users.ReferenceId {
		t.Errorf("api node wrong: %+v", node)
	}
	if e := node.Edges[0]; e.SummaryStatistics.TotalCount != 1 || e.SummaryStatistics.TotalResponseTime != 0.04 || e.ResponseTimeHistogram[0].Value != 0.04 {
		t.Errorf("api->users edge: %+v", e)
	}
	if users.Name != "users" || users.State != "unknown" || users.SummaryStatistics == nil {
		t.Errorf("users node: %+v", users)
	}
	docs := tr.Documents()
	if len(docs) != 2 {
		t.Fatalf("documents = %d", len(docs))
	}
	var inf map[string]any
	_ = json.Unmarshal([]byte(docs[1].Document), &inf)
	if inf["inferred"] != true || inf["name"] != "DynamoDB" || inf["origin"] != "AWS::DynamoDB::Table" || inf["parent_id"] != "bbbbbbbbbbbbbbbb" {
		t.Errorf("inferred doc: %v", inf)
	}
	if again := Assemble(tid, []*Doc{mustParse(t, string(api.Raw))}); again.Inferred[0].ID != tr.Inferred[0].ID {
		t.Errorf("inferred id not deterministic")
	}
}

func TestAssembleReplacesInProgressAndGrafts(t *testing.T) {
	inprog := `{"id":"aaaaaaaaaaaaaaaa","name":"api","trace_id":"` + tid + `","start_time":100,"in_progress":true}`
	complete := `{"id":"aaaaaaaaaaaaaaaa","name":"api","trace_id":"` + tid + `","start_time":100,"end_time":101,"user":"alice",
		"subsegments":[{"id":"cccccccccccccccc","name":"local","start_time":100.1,"end_time":100.9}]}`
	deep := `{"type":"subsegment","id":"dddddddddddddddd","parent_id":"cccccccccccccccc","name":"backend","namespace":"remote","trace_id":"` + tid + `","start_time":100.2,"end_time":100.8,"http":{"request":{"traced":true}}}`
	deeper := `{"type":"subsegment","id":"eeeeeeeeeeeeeeee","parent_id":"dddddddddddddddd","name":"inner","trace_id":"` + tid + `","start_time":100.3,"end_time":100.4,"annotations":{"k":"v"}}`
	callee := `{"id":"ffffffffffffffff","parent_id":"dddddddddddddddd","name":"backend","trace_id":"` + tid + `","start_time":100.25,"end_time":100.75,"fault":true}`
	orders := [][]string{
		{inprog, complete, deep, deeper, callee},
		{deeper, callee, complete, deep, inprog},
	}
	for i, order := range orders {
		var docs []*Doc
		for _, s := range order {
			docs = append(docs, mustParse(t, s))
		}
		tr := Assemble(tid, docs)
		if tr.Root == nil || tr.Root.InProgress || tr.Root.ID != "aaaaaaaaaaaaaaaa" {
			t.Fatalf("order %d: root = %+v", i, tr.Root)
		}
		if len(tr.Orphans) != 0 || len(tr.Inferred) != 0 {
			t.Fatalf("order %d: orphans=%d inferred=%d", i, len(tr.Orphans), len(tr.Inferred))
		}
		s := tr.Summary()
		if s.IsPartial || *s.ResponseTime != 1 || s.HasFault || len(s.Users) != 1 || len(s.Annotations["k"]) != 1 || len(s.ServiceIds) != 2 {
			t.Errorf("order %d: summary %+v", i, s)
		}
		if s.Annotations["k"][0].ServiceIds[0].Name != "api" {
			t.Errorf("annotation service ids: %+v", s.Annotations["k"][0].ServiceIds)
		}
		var root map[string]any
		_ = json.Unmarshal([]byte(tr.Documents()[0].Document), &root)
		sub := root["subsegments"].([]any)[0].(map[string]any)
		grafted := sub["subsegments"].([]any)[0].(map[string]any)
		if grafted["id"] != "dddddddddddddddd" || grafted["type"] != nil || grafted["parent_id"] != nil {
			t.Errorf("order %d: grafted = %v", i, grafted)
		}
		if inner := grafted["subsegments"].([]any)[0].(map[string]any); inner["id"] != "eeeeeeeeeeeeeeee" {
			t.Errorf("order %d: nested graft = %v", i, inner)
		}
		v := tr.View()
		x, err := filter.Parse(`edge("api","backend") AND service("backend") { fault } AND user = "alice" AND annotation.k = "v" AND !fault`)
		if err != nil {
			t.Fatal(err)
		}
		if !x.Match(v) {
			t.Errorf("order %d: view does not match: %+v", i, v)
		}
	}
}

func TestOrphansCountForSummaries(t *testing.T) {
	orphan := mustParse(t, `{"type":"subsegment","id":"dddddddddddddddd","parent_id":"cccccccccccccccc","name":"x","trace_id":"`+tid+`","start_time":100.2,"in_progress":true,"user":"bob"}`)
	tr := Assemble(tid, []*Doc{orphan})
	s := tr.Summary()
	if len(tr.Orphans) != 1 || !s.IsPartial || len(s.Users) != 1 || len(tr.Documents()) != 0 {
		t.Errorf("orphan handling: %+v", s)
	}
}

func TestClassification(t *testing.T) {
	tests := []struct {
		doc  string
		want Class
	}{
		{`"http":{"response":{"status":200}}`, ClassOK},
		{`"http":{"response":{"status":404}}`, ClassErrorOther},
		{`"http":{"response":{"status":429}}`, ClassThrottle},
		{`"throttle":true,"error":true`, ClassThrottle},
		{`"fault":true,"throttle":true`, ClassFault},
		{`"http":{"response":{"status":503}}`, ClassFault},
	}
	for _, tc := range tests {
		d := mustParse(t, `{"id":"aaaaaaaaaaaaaaaa","name":"api","trace_id":"`+tid+`","start_time":1,"end_time":2,`+tc.doc+`}`)
		if got := classify(segCall(d)); got != tc.want {
			t.Errorf("%s: class %d want %d", tc.doc, got, tc.want)
		}
	}
}

func TestAggRetractsContributions(t *testing.T) {
	d := mustParse(t, `{"id":"aaaaaaaaaaaaaaaa","name":"api","trace_id":"`+tid+`","start_time":1,"end_time":2}`)
	cs := Assemble(tid, []*Doc{d}).Contributions()
	m := Aggregate(cs, 60, 1, nil)
	m = Aggregate(cs, 60, -1, m)
	for k, a := range m {
		if !a.Empty() || len(a.Hist) != 0 {
			t.Errorf("%v not empty after retract: %+v", k, a)
		}
	}
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"id":"0123456789abcdef","name":"a","trace_id":"` + tid + `","start_time":1,"end_time":2,"subsegments":[{"id":"1111111111111111","name":"s","start_time":1,"in_progress":true}]}`))
	f.Add([]byte(`[{"type":"subsegment","id":"0123456789abcdef","parent_id":"1111111111111111","name":"a","trace_id":"` + tid + `","start_time":1,"end_time":2}]`))
	f.Add([]byte(`{"annotations":{"a":[1]},"http":"x","aws":{"ec2":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Validate(b)
		if err != nil {
			if _, ok := err.(*ValidationError); !ok {
				t.Fatalf("error %T is not a *ValidationError", err)
			}
			return
		}
		if !isHex(info.ID, 16) {
			t.Fatalf("accepted id %q", info.ID)
		}
		parts, _ := Split(b)
		var docs []*Doc
		for _, p := range parts {
			d, err := Parse(p)
			if err != nil {
				t.Fatalf("Validate accepted but Parse failed: %v", err)
			}
			docs = append(docs, d)
		}
		tr := Assemble(docs[0].TraceID, docs)
		_ = tr.Summary()
		_ = tr.View()
		_ = tr.Documents()
		NewGraph().AddTrace(tr)
	})
}
