// Package api serves the local backend's X-Ray HTTP API: every operation by its POST
// path (PutTraceSegments, PutTelemetryRecords, GetTraceSummaries, BatchGetTraces,
// GetServiceGraph, GetTraceGraph, GetTimeSeriesServiceStatistics, and the sampling
// operations of package sampling), in AWS's rest-json protocol.
//
// When Options.AccessKeyID and SecretAccessKey are set, every request must carry a
// valid SigV4 signature by that key, except /GetSamplingRules and /SamplingTargets:
// X-Ray SDKs send those two unsigned to the daemon's port, so they stay open.
package api

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/xrayd/xrayd/internal/awsjson"
	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/sampling"
	"github.com/xrayd/xrayd/internal/store"
)

// maxBodyBytes bounds a request body (PutTraceSegments of many 64 KB documents).
const maxBodyBytes = 32 << 20

// Options configure the API.
type Options struct {
	Store           *store.Store
	Sampling        *sampling.Engine // nil: sampling paths answer UnknownOperationException
	Logger          *slog.Logger
	Counters        *counters.Set // may be nil
	AccessKeyID     string        // with SecretAccessKey: verify SigV4 on every call
	SecretAccessKey string
	Region          string
	Now             func() time.Time // nil = time.Now
}

// API is the X-Ray HTTP handler.
type API struct {
	opts     Options
	log      *slog.Logger
	ops      map[string]opFunc
	sampling map[string]http.HandlerFunc
}

// opFunc handles one operation: it gets the raw body and returns the output value.
type opFunc func(r *http.Request, body []byte) (any, error)

// openPaths are served without a signature even when verification is on.
var openPaths = map[string]bool{sampling.PathGetSamplingRules: true, sampling.PathGetSamplingTargets: true}

// New builds the API.
func New(opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &API{opts: opts, log: opts.Logger}
	a.ops = map[string]opFunc{
		"/TraceSegments":               a.putTraceSegments,
		"/TelemetryRecords":            a.putTelemetryRecords,
		"/TraceSummaries":              a.getTraceSummaries,
		"/Traces":                      a.batchGetTraces,
		"/ServiceGraph":                a.getServiceGraph,
		"/TraceGraph":                  a.getTraceGraph,
		"/TimeSeriesServiceStatistics": a.getTimeSeries,
		"/Groups":                      a.getGroups,
		"/GetGroup":                    a.getGroup,
	}
	if opts.Sampling != nil {
		a.sampling = opts.Sampling.Routes()
	}
	return a
}

// ServeHTTP dispatches by path.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(awsjson.RequestIDHeader, awsjson.NewRequestID())
	op, isOp := a.ops[r.URL.Path]
	samp, isSamp := a.sampling[r.URL.Path]
	if (!isOp && !isSamp) || r.Method != http.MethodPost {
		awsjson.WriteError(w, awsjson.Errorf(http.StatusNotFound, "UnknownOperationException", "%s %s is not an X-Ray operation", r.Method, r.URL.Path))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			awsjson.WriteError(w, awsjson.Errorf(http.StatusRequestEntityTooLarge, "InvalidRequestException", "request body is larger than %d bytes", maxBodyBytes))
			return
		}
		awsjson.WriteError(w, awsjson.InvalidRequest("reading the request body: %v", err))
		return
	}
	if a.opts.AccessKeyID != "" && a.opts.SecretAccessKey != "" && !openPaths[r.URL.Path] {
		if e := verifySigV4(r, body, a.opts.AccessKeyID, a.opts.SecretAccessKey, a.opts.Now()); e != nil {
			a.log.Debug("refused request", "path", r.URL.Path, "code", e.Code)
			awsjson.WriteError(w, e)
			return
		}
	}
	if isSamp {
		r.Body = io.NopCloser(bytes.NewReader(body))
		samp(w, r)
		return
	}
	out, err := op(r, body)
	if err != nil {
		if _, ok := err.(*awsjson.Error); !ok {
			a.log.Error("X-Ray API operation failed", "path", r.URL.Path, "error", err)
		}
		awsjson.WriteError(w, err)
		return
	}
	awsjson.WriteJSON(w, out)
}
