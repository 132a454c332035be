package uie2e

// A small stand-in for the local backend, so the browser test can run before (and
// independently of) the real daemon. It speaks the same X-Ray API shapes over HTTP and
// accepts the same UDP datagrams, and serves the real embedded UI for GET requests. Its
// filter language is a tiny subset, enough for the scenario.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/xrayd/xrayd/internal/ui"
)

type fakeBackend struct {
	mu       sync.Mutex
	docs     map[string][]map[string]any // trace id -> segment documents
	revision map[string]int
	pageSize int
}

// startFake serves the fake API and UI on an HTTP port and reads segments from a UDP port.
func startFake(t *testing.T) (httpURL, udpAddr string) {
	t.Helper()
	f := &fakeBackend{docs: map[string][]map[string]any{}, revision: map[string]int{}, pageSize: 10}
	mux := http.NewServeMux()
	uiHandler := ui.Handler()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			uiHandler.ServeHTTP(w, r)
			return
		}
		f.serveAPI(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, body, ok := bytes.Cut(buf[:n], []byte("\n"))
			if ok {
				f.put(body)
			}
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		pc.Close()
		<-done
	})
	return "http://" + ln.Addr().String(), pc.LocalAddr().String()
}

func (f *fakeBackend) put(doc []byte) error {
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		return err
	}
	id, _ := d["trace_id"].(string)
	if id == "" {
		return fmt.Errorf("missing trace_id")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.docs[id] = append(f.docs[id], d)
	f.revision[id]++
	return nil
}

func apiError(w http.ResponseWriter, msg string) {
	w.Header().Set("x-amzn-ErrorType", "InvalidRequestException:http://internal.amazon.com/coral/com.amazonaws.xray/")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": "InvalidRequestException", "message": msg})
}

func (f *fakeBackend) serveAPI(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, "body is not JSON")
		return
	}
	var out any
	switch r.URL.Path {
	case "/TraceSegments":
		var unprocessed []map[string]string
		for _, raw := range asSlice(in["TraceSegmentDocuments"]) {
			s, _ := raw.(string)
			if err := f.put([]byte(s)); err != nil {
				unprocessed = append(unprocessed, map[string]string{"ErrorCode": "InvalidJSON", "Message": err.Error()})
			}
		}
		out = map[string]any{"UnprocessedTraceSegments": unprocessed}
	case "/TraceSummaries":
		res, err := f.summaries(in)
		if err != nil {
			apiError(w, err.Error())
			return
		}
		out = res
	case "/Traces":
		out = f.traces(in)
	case "/ServiceGraph":
		start, end := num(in["StartTime"]), num(in["EndTime"])
		out = map[string]any{"StartTime": start, "EndTime": end, "Services": f.graph(func(tr *fakeTrace) bool {
			return tr.start >= start && tr.start < end
		}), "ContainsOldGroupVersions": false}
	case "/TraceGraph":
		ids := map[string]bool{}
		for _, id := range asSlice(in["TraceIds"]) {
			ids[fmt.Sprint(id)] = true
		}
		out = map[string]any{"Services": f.graph(func(tr *fakeTrace) bool { return ids[tr.id] })}
	default:
		w.Header().Set("x-amzn-ErrorType", "UnknownOperationException")
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]string{"__type": "UnknownOperationException", "message": "unknown operation"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func asSlice(v any) []any { s, _ := v.([]any); return s }
func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
func num(v any) float64 { f, _ := v.(float64); return f }
func str(v any) string  { s, _ := v.(string); return s }

// fakeTrace is the fake's view of one assembled trace.
type fakeTrace struct {
	id         string
	docs       []map[string]any
	root       map[string]any
	start      float64
	end        float64
	services   []string
	calls      [][2]string // caller name, callee name
	callStatus []map[string]any
}

func status(d map[string]any) string {
	st := num(asMap(asMap(d["http"])["response"])["status"])
	switch {
	case d["fault"] == true || (st >= 500 && st < 600):
		return "fault"
	case d["throttle"] == true || st == 429:
		return "throttle"
	case d["error"] == true || (st >= 400 && st < 500):
		return "error"
	}
	return "ok"
}

func (f *fakeBackend) assemble(id string) *fakeTrace {
	tr := &fakeTrace{id: id, docs: f.docs[id], start: 1e18}
	segByParent := map[string]map[string]any{}
	for _, d := range tr.docs {
		if p := str(d["parent_id"]); p != "" {
			segByParent[p] = d
		}
	}
	seen := map[string]bool{}
	addService := func(n string) {
		if !seen[n] {
			seen[n] = true
			tr.services = append(tr.services, n)
		}
	}
	var walk func(owner string, subs []any)
	walk = func(owner string, subs []any) {
		for _, s := range subs {
			sub := asMap(s)
			tr.end = max(tr.end, num(sub["end_time"]))
			if ns := str(sub["namespace"]); ns == "aws" || ns == "remote" {
				callee := str(sub["name"])
				if seg := segByParent[str(sub["id"])]; seg != nil {
					callee = str(seg["name"])
				} else if table := str(asMap(sub["aws"])["table_name"]); table != "" {
					callee = table
				}
				addService(callee)
				tr.calls = append(tr.calls, [2]string{owner, callee})
				tr.callStatus = append(tr.callStatus, sub)
			}
			walk(owner, asSlice(sub["subsegments"]))
		}
	}
	for _, d := range tr.docs {
		tr.start = min(tr.start, num(d["start_time"]))
		tr.end = max(tr.end, num(d["end_time"]))
		addService(str(d["name"]))
		if tr.root == nil && str(d["parent_id"]) == "" {
			tr.root = d
		}
		walk(str(d["name"]), asSlice(d["subsegments"]))
	}
	if tr.root == nil {
		tr.root = tr.docs[0]
	}
	return tr
}

var (
	termService = regexp.MustCompile(`^service\("([^"]*)"\)$`)
	termEdge    = regexp.MustCompile(`^edge\("([^"]*)",\s*"([^"]*)"\)$`)
	termURL     = regexp.MustCompile(`^http\.url\s+CONTAINS\s+"([^"]*)"$`)
	termStatus  = regexp.MustCompile(`^http\.status\s*=\s*(\d+)$`)
	termRT      = regexp.MustCompile(`^responsetime\s*(>=|<|>|<=)\s*([0-9.]+)$`)
)

// matcher understands only `term AND term ...` with the terms above; anything else is the
// 400 the real backend gives for an expression it cannot parse.
func (f *fakeBackend) matcher(expr string) (func(*fakeTrace) bool, error) {
	var preds []func(*fakeTrace) bool
	col := 1
	for _, term := range regexp.MustCompile(`(?i)\s+AND\s+`).Split(strings.TrimSpace(expr), -1) {
		raw := term
		term = strings.TrimSpace(term)
		for strings.HasPrefix(term, "(") && strings.HasSuffix(term, ")") && !termService.MatchString(term) && !termEdge.MatchString(term) {
			term = strings.TrimSpace(term[1 : len(term)-1])
		}
		switch {
		case term == "":
		case term == "fault" || term == "error" || term == "throttle":
			want := term
			preds = append(preds, func(tr *fakeTrace) bool { return status(tr.root) == want })
		case termService.MatchString(term):
			name := termService.FindStringSubmatch(term)[1]
			preds = append(preds, func(tr *fakeTrace) bool {
				for _, s := range tr.services {
					if s == name {
						return true
					}
				}
				return false
			})
		case termEdge.MatchString(term):
			m := termEdge.FindStringSubmatch(term)
			preds = append(preds, func(tr *fakeTrace) bool {
				for _, c := range tr.calls {
					if c[0] == m[1] && c[1] == m[2] {
						return true
					}
				}
				return false
			})
		case termURL.MatchString(term):
			sub := termURL.FindStringSubmatch(term)[1]
			preds = append(preds, func(tr *fakeTrace) bool {
				return strings.Contains(str(asMap(asMap(tr.root["http"])["request"])["url"]), sub)
			})
		case termStatus.MatchString(term):
			want, _ := strconv.Atoi(termStatus.FindStringSubmatch(term)[1])
			preds = append(preds, func(tr *fakeTrace) bool {
				return int(num(asMap(asMap(tr.root["http"])["response"])["status"])) == want
			})
		case termRT.MatchString(term):
			m := termRT.FindStringSubmatch(term)
			v, _ := strconv.ParseFloat(m[2], 64)
			preds = append(preds, func(tr *fakeTrace) bool {
				rt := num(tr.root["end_time"]) - num(tr.root["start_time"])
				switch m[1] {
				case ">=":
					return rt >= v
				case ">":
					return rt > v
				case "<=":
					return rt <= v
				}
				return rt < v
			})
		default:
			return nil, fmt.Errorf("Invalid filter expression: unexpected token %q at column %d", strings.Fields(term)[0], col)
		}
		col += len(raw) + 5
	}
	return func(tr *fakeTrace) bool {
		for _, p := range preds {
			if !p(tr) {
				return false
			}
		}
		return true
	}, nil
}

func (f *fakeBackend) summaries(in map[string]any) (any, error) {
	start, end := num(in["StartTime"]), num(in["EndTime"])
	if start >= end {
		return nil, fmt.Errorf("StartTime must be before EndTime")
	}
	match, err := f.matcher(str(in["FilterExpression"]))
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	var all []*fakeTrace
	for id := range f.docs {
		if tr := f.assemble(id); tr.start >= start && tr.start < end {
			all = append(all, tr)
		}
	}
	f.mu.Unlock()
	sort.Slice(all, func(i, j int) bool {
		return all[i].start > all[j].start || (all[i].start == all[j].start && all[i].id < all[j].id)
	})
	offset, _ := strconv.Atoi(str(in["NextToken"]))
	var out []map[string]any
	processed := 0
	next := ""
	for i := offset; i < len(all); i++ {
		processed++
		if match(all[i]) {
			out = append(out, f.summary(all[i]))
		}
		if len(out) == f.pageSize && i+1 < len(all) {
			next = strconv.Itoa(i + 1)
			break
		}
	}
	res := map[string]any{"TraceSummaries": out, "TracesProcessedCount": processed, "ApproximateTime": end}
	if next != "" {
		res["NextToken"] = next
	}
	return res, nil
}

func (f *fakeBackend) summary(tr *fakeTrace) map[string]any {
	root := tr.root
	req := asMap(asMap(root["http"])["request"])
	st := status(root)
	var ids []map[string]any
	for _, s := range tr.services {
		ids = append(ids, map[string]any{"Name": s, "Names": []string{s}})
	}
	throttle := false
	for _, d := range tr.docs {
		throttle = throttle || status(d) == "throttle"
	}
	f.mu.Lock()
	revision := f.revision[tr.id]
	f.mu.Unlock()
	httpOut := map[string]any{"HttpURL": req["url"], "HttpMethod": req["method"]}
	if code := num(asMap(asMap(root["http"])["response"])["status"]); code > 0 {
		httpOut["HttpStatus"] = code
	}
	return map[string]any{
		"Id": tr.id, "StartTime": tr.start, "Duration": tr.end - tr.start,
		"ResponseTime": num(root["end_time"]) - num(root["start_time"]),
		"HasFault":     st == "fault", "HasError": st == "error" || st == "throttle", "HasThrottle": throttle,
		"IsPartial": false, "Http": httpOut, "ServiceIds": ids, "Revision": revision,
		"EntryPoint": map[string]any{"Name": root["name"]},
	}
}

func (f *fakeBackend) traces(in map[string]any) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	var unprocessed []string
	for _, raw := range asSlice(in["TraceIds"]) {
		id := fmt.Sprint(raw)
		docs := f.docs[id]
		if len(docs) == 0 {
			unprocessed = append(unprocessed, id)
			continue
		}
		tr := f.assemble(id)
		var segs []map[string]any
		for _, d := range docs {
			b, _ := json.Marshal(d)
			segs = append(segs, map[string]any{"Id": d["id"], "Document": string(b)})
		}
		out = append(out, map[string]any{"Id": id, "Duration": tr.end - tr.start, "LimitExceeded": false, "Segments": segs})
	}
	return map[string]any{"Traces": out, "UnprocessedTraceIds": unprocessed}
}

type fakeStats struct {
	ok, errs, throttle, fault, total int
	rt                               float64
}

func (s *fakeStats) add(d map[string]any) {
	s.total++
	s.rt += num(d["end_time"]) - num(d["start_time"])
	switch status(d) {
	case "fault":
		s.fault++
	case "throttle":
		s.errs++
		s.throttle++
	case "error":
		s.errs++
	default:
		s.ok++
	}
}

func (s *fakeStats) json() map[string]any {
	return map[string]any{
		"OkCount": s.ok, "TotalCount": s.total, "TotalResponseTime": s.rt,
		"ErrorStatistics": map[string]any{"ThrottleCount": s.throttle, "OtherCount": s.errs - s.throttle, "TotalCount": s.errs},
		"FaultStatistics": map[string]any{"OtherCount": s.fault, "TotalCount": s.fault},
	}
}

func (f *fakeBackend) graph(keep func(*fakeTrace) bool) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	type node struct {
		name, typ string
		root      bool
		inferred  bool
		stats     fakeStats
		edges     map[string]*fakeStats
	}
	nodes := map[string]*node{}
	get := func(name, typ string) *node {
		k := name + "|" + typ
		if nodes[k] == nil {
			nodes[k] = &node{name: name, typ: typ, edges: map[string]*fakeStats{}}
		}
		return nodes[k]
	}
	keyOf := map[string]string{} // service name -> node key, for edges
	for id := range f.docs {
		tr := f.assemble(id)
		if !keep(tr) {
			continue
		}
		for _, d := range tr.docs {
			n := get(str(d["name"]), str(d["origin"]))
			n.stats.add(d)
			keyOf[n.name] = n.name + "|" + n.typ
			if str(d["id"]) == str(tr.root["id"]) {
				n.root = true
				c := get(n.name, "client")
				if c.edges[keyOf[n.name]] == nil {
					c.edges[keyOf[n.name]] = &fakeStats{}
				}
				c.edges[keyOf[n.name]].add(d)
			}
		}
		for i, call := range tr.calls {
			sub := tr.callStatus[i]
			calleeKey, ok := keyOf[call[1]]
			if !ok {
				typ := "remote"
				if str(sub["namespace"]) == "aws" {
					typ = "AWS::" + str(sub["name"])
					if str(asMap(sub["aws"])["table_name"]) != "" {
						typ = "AWS::DynamoDB::Table"
					}
				}
				callee := get(call[1], typ)
				callee.inferred = true
				callee.stats.add(sub)
				calleeKey = call[1] + "|" + typ
			}
			caller := nodes[keyOf[call[0]]]
			if caller.edges[calleeKey] == nil {
				caller.edges[calleeKey] = &fakeStats{}
			}
			caller.edges[calleeKey].add(sub)
		}
	}
	keys := make([]string, 0, len(nodes))
	for k := range nodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ref := map[string]int{}
	for i, k := range keys {
		ref[k] = i
	}
	var out []map[string]any
	for _, k := range keys {
		n := nodes[k]
		var edges []map[string]any
		for target, st := range n.edges {
			edges = append(edges, map[string]any{"ReferenceId": ref[target], "SummaryStatistics": st.json(),
				"ResponseTimeHistogram": []map[string]any{{"Value": st.rt / float64(max(st.total, 1)), "Count": st.total}}})
		}
		sort.Slice(edges, func(i, j int) bool { return edges[i]["ReferenceId"].(int) < edges[j]["ReferenceId"].(int) })
		svc := map[string]any{"ReferenceId": ref[k], "Name": n.name, "Names": []string{n.name}, "Root": n.root, "Edges": edges}
		if n.typ != "" {
			svc["Type"] = n.typ
		}
		if n.typ == "client" || n.inferred {
			svc["State"] = "unknown"
		} else {
			svc["State"] = "active"
		}
		if n.typ != "client" {
			svc["SummaryStatistics"] = n.stats.json()
		}
		out = append(out, svc)
	}
	return out
}
