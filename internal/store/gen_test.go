package store

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// genTrace returns the 10 documents of one synthetic trace over 20 services: a root
// segment with embedded calls (three traced remote calls and a DynamoDB call), three
// callee segments each calling one more traced service, those three segments, and
// three independently sent subsegments.
func genTrace(rng *rand.Rand, n int, start float64) (traceID string, docs [][]byte) {
	traceID = fmt.Sprintf("1-%08x-%024x", int64(start), uint64(n)*2654435761+uint64(rng.Uint32()))
	id := func(k int) string { return fmt.Sprintf("%08x%08x", n, k) }
	svc := func(k int) string { return fmt.Sprintf("svc-%d", k%20) }
	rt := 0.05 + rng.ExpFloat64()*0.4
	status := 200
	switch r := rng.IntN(100); {
	case r < 3:
		status = 500
	case r < 8:
		status = 404
	case r < 9:
		status = 429
	}
	root := n % 20
	end := start + rt
	var subs []string
	for c := 0; c < 3; c++ {
		cs := start + rt*0.1*float64(c+1)
		subs = append(subs, fmt.Sprintf(`{"id":"%s","name":"%s","namespace":"remote","start_time":%.6f,"end_time":%.6f,"http":{"request":{"method":"GET","url":"http://%s/x","traced":true},"response":{"status":200}}}`,
			id(10+c), svc(root+1+c), cs, cs+rt*0.2, svc(root+1+c)))
	}
	subs = append(subs, fmt.Sprintf(`{"id":"%s","name":"DynamoDB","namespace":"aws","start_time":%.6f,"end_time":%.6f,"aws":{"operation":"GetItem","table_name":"table-%d","region":"us-east-1"},"http":{"response":{"status":200}}}`,
		id(20), start+rt*0.5, start+rt*0.6, root%5))
	subs = append(subs, fmt.Sprintf(`{"id":"%s","name":"local-work","start_time":%.6f,"end_time":%.6f}`, id(21), start+rt*0.7, start+rt*0.95))
	docs = append(docs, []byte(fmt.Sprintf(`{"name":"%s","id":"%s","trace_id":"%s","start_time":%.6f,"end_time":%.6f,"origin":"AWS::EC2::Instance",`+
		`"aws":{"ec2":{"instance_id":"i-%04x","availability_zone":"us-east-1a"},"xray":{"sdk":"X-Ray for Go","sdk_version":"1.8.5"}},`+
		`"http":{"request":{"method":"POST","url":"http://%s.example.com/api/%d","user_agent":"curl/8","client_ip":"10.0.0.%d"},"response":{"status":%d}},`+
		`"user":"user-%d","annotations":{"customer":"c-%d","tier":%d,"beta":%t},"metadata":{"debug":{"k":"v"}},"subsegments":[%s]}`,
		svc(root), id(1), traceID, start, end, n%50, svc(root), n%7, n%250, status, n%100, n%1000, n%3, n%2 == 0, strings.Join(subs, ","))))
	for c := 0; c < 3; c++ {
		cs := start + rt*0.1*float64(c+1)
		ce := cs + rt*0.2
		docs = append(docs, []byte(fmt.Sprintf(`{"name":"%s","id":"%s","trace_id":"%s","parent_id":"%s","start_time":%.6f,"end_time":%.6f,"origin":"AWS::ECS::Container",`+
			`"http":{"request":{"method":"GET","url":"http://%s/x"},"response":{"status":200}},"subsegments":[`+
			`{"id":"%s","name":"%s","namespace":"remote","start_time":%.6f,"end_time":%.6f,"http":{"request":{"traced":true}}}]}`,
			svc(root+1+c), id(30+c), traceID, id(10+c), cs+0.001, ce-0.001, svc(root+1+c), id(40+c), svc(root+4+c), cs+0.002, ce-0.002)))
		docs = append(docs, []byte(fmt.Sprintf(`{"name":"%s","id":"%s","trace_id":"%s","parent_id":"%s","start_time":%.6f,"end_time":%.6f,"origin":"AWS::ECS::Container","annotations":{"hop":%d}}`,
			svc(root+4+c), id(50+c), traceID, id(40+c), cs+0.003, ce-0.003, c)))
	}
	for c := 0; c < 3; c++ {
		docs = append(docs, []byte(fmt.Sprintf(`{"type":"subsegment","name":"step-%d","id":"%s","parent_id":"%s","trace_id":"%s","start_time":%.6f,"end_time":%.6f,"metadata":{"step":{"n":%d}}}`,
			c, id(60+c), id(21), traceID, start+rt*(0.7+0.05*float64(c)), start+rt*(0.75+0.05*float64(c)), c)))
	}
	return traceID, docs
}
