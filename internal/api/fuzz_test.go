package api

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/sampling"
	"github.com/xrayd/xrayd/internal/store"
)

var fuzzPaths = []string{"/TraceSegments", "/TelemetryRecords", "/TraceSummaries", "/Traces", "/ServiceGraph",
	"/TraceGraph", "/TimeSeriesServiceStatistics", "/GetSamplingRules", "/SamplingTargets", "/Groups", "/GetGroup", "/Nope"}

// FuzzAPI sends arbitrary bodies to every operation: the backend must answer each with
// a well-formed status (never a panic, never a 5xx for bad input) and keep working.
func FuzzAPI(f *testing.F) {
	f.Add(uint8(0), []byte(`{"TraceSegmentDocuments":["{\"trace_id\":\"1-5f84c7a1-2b1a5e6e9f0d9d0c1a2b3c4d\",\"id\":\"70de5b6f19ff9a0a\",\"name\":\"a\",\"start_time\":1,\"end_time\":2}"]}`))
	f.Add(uint8(0), []byte(`{"TraceSegmentDocuments":["[{\"type\":\"subsegment\"}]", "{", "null", "{\"in_progress\":true}"]}`))
	f.Add(uint8(2), []byte(`{"StartTime":1,"EndTime":2e12,"FilterExpression":"service(\"a\") { fault } AND annotation.x > 3","NextToken":"zz"}`))
	f.Add(uint8(3), []byte(`{"TraceIds":["1-5f84c7a1-2b1a5e6e9f0d9d0c1a2b3c4d", "", "x"]}`))
	f.Add(uint8(4), []byte(`{"StartTime":"2020-01-01T00:00:00Z","EndTime":"1e300"}`))
	f.Add(uint8(6), []byte(`{"StartTime":0,"EndTime":9e9,"EntitySelectorExpression":"edge(\"a\",\"b\")","Period":0}`))
	f.Add(uint8(8), []byte(`{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"000000000000000000000000","Timestamp":1,"RequestCount":-1,"SampledCount":1}]}`))
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	eng, err := sampling.New(sampling.Options{Region: "us-east-1"})
	if err != nil {
		f.Fatal(err)
	}
	h := New(Options{Store: st, Sampling: eng, Counters: new(counters.Set), Region: "us-east-1"})
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		path := fuzzPaths[int(op)%len(fuzzPaths)]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d: %s", path, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && rec.Header().Get("X-Amzn-Errortype") == "" {
			t.Fatalf("%s: error %d without x-amzn-ErrorType", path, rec.Code)
		}
	})
}
