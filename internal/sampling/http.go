package sampling

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// Paths of the operations the Engine serves (spec §2).
const (
	PathGetSamplingRules              = "/GetSamplingRules"
	PathGetSamplingTargets            = "/SamplingTargets"
	PathGetSamplingStatisticSummaries = "/SamplingStatisticSummaries"
	PathCreateSamplingRule            = "/CreateSamplingRule"
	PathUpdateSamplingRule            = "/UpdateSamplingRule"
	PathDeleteSamplingRule            = "/DeleteSamplingRule"
)

// Routes returns the Engine's X-Ray operations keyed by path. Each accepts only POST
// and answers in the AWS rest-json protocol (x-amzn-RequestId, x-amzn-ErrorType).
func (e *Engine) Routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		PathGetSamplingRules:              e.handle("GetSamplingRules", e.serveGetSamplingRules),
		PathGetSamplingTargets:            e.handle("GetSamplingTargets", e.serveGetSamplingTargets),
		PathGetSamplingStatisticSummaries: e.handle("GetSamplingStatisticSummaries", e.serveStatisticSummaries),
		PathCreateSamplingRule:            e.handle("CreateSamplingRule", e.serveCreateSamplingRule),
		PathUpdateSamplingRule:            e.handle("UpdateSamplingRule", e.serveUpdateSamplingRule),
		PathDeleteSamplingRule:            e.handle("DeleteSamplingRule", e.serveDeleteSamplingRule),
	}
}

type opFunc func(r *http.Request) (any, *APIError)

func (e *Engine) handle(op string, fn opFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := e.newRequestID()
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, id, &APIError{Status: http.StatusMethodNotAllowed, Code: CodeUnknownOperation, Message: op + " accepts only POST"})
			return
		}
		out, err := fn(r)
		if err != nil {
			e.log.Debug("sampling request refused", "op", op, "request_id", id, "code", err.Code, "message", err.Message)
			writeError(w, id, err)
			return
		}
		writeJSON(w, id, out)
	}
}

type pageInput struct {
	NextToken *string `json:"NextToken"`
}

func (e *Engine) serveGetSamplingRules(r *http.Request) (any, *APIError) {
	var in pageInput
	if err := decodeRequest(r, &in); err != nil {
		return nil, err
	}
	recs, next, err := paginate(e.Rules(), "GetSamplingRules", deref(in.NextToken), e.pageSize)
	if err != nil {
		return nil, err
	}
	return struct {
		SamplingRuleRecords []RuleRecord `json:"SamplingRuleRecords"`
		NextToken           string       `json:"NextToken,omitempty"`
	}{recs, next}, nil
}

func (e *Engine) serveStatisticSummaries(r *http.Request) (any, *APIError) {
	var in pageInput
	if err := decodeRequest(r, &in); err != nil {
		return nil, err
	}
	sums, next, err := paginate(e.StatisticSummaries(), "GetSamplingStatisticSummaries", deref(in.NextToken), e.pageSize)
	if err != nil {
		return nil, err
	}
	return struct {
		SamplingStatisticSummaries []StatisticSummary `json:"SamplingStatisticSummaries"`
		NextToken                  string             `json:"NextToken,omitempty"`
	}{sums, next}, nil
}

// statisticsInput tells absent members from zeros so "required" can be enforced.
type statisticsInput struct {
	RuleName     *string  `json:"RuleName"`
	ClientID     *string  `json:"ClientID"`
	Timestamp    *AWSTime `json:"Timestamp"`
	RequestCount *int     `json:"RequestCount"`
	SampledCount *int     `json:"SampledCount"`
	BorrowCount  *int     `json:"BorrowCount"`
}

func (e *Engine) serveGetSamplingTargets(r *http.Request) (any, *APIError) {
	// SamplingBoostStatisticsDocuments (newer API) is accepted and ignored: no boosts
	// are computed locally, so none are returned (spec §5.3).
	var in struct {
		SamplingStatisticsDocuments *[]*statisticsInput `json:"SamplingStatisticsDocuments"`
	}
	if err := decodeRequest(r, &in); err != nil {
		return nil, err
	}
	if in.SamplingStatisticsDocuments == nil {
		return nil, invalidRequest("SamplingStatisticsDocuments is required")
	}
	raw := *in.SamplingStatisticsDocuments
	if len(raw) > maxStatisticsDocs {
		return nil, invalidRequest("SamplingStatisticsDocuments may hold at most %d documents, got %d", maxStatisticsDocs, len(raw))
	}
	docs := make([]StatisticsDocument, len(raw))
	for i, d := range raw {
		field := "SamplingStatisticsDocuments[" + strconv.Itoa(i) + "]"
		if d == nil {
			return nil, invalidRequest("%s must be an object, not null", field)
		}
		for _, req := range []struct {
			name    string
			present bool
		}{
			{"RuleName", d.RuleName != nil}, {"ClientID", d.ClientID != nil}, {"Timestamp", d.Timestamp != nil},
			{"RequestCount", d.RequestCount != nil}, {"SampledCount", d.SampledCount != nil},
		} {
			if !req.present {
				return nil, invalidRequest("%s.%s is required", field, req.name)
			}
		}
		docs[i] = StatisticsDocument{
			RuleName: *d.RuleName, ClientID: *d.ClientID, Timestamp: *d.Timestamp,
			RequestCount: *d.RequestCount, SampledCount: *d.SampledCount,
		}
		if d.BorrowCount != nil {
			docs[i].BorrowCount = *d.BorrowCount
		}
	}
	out, err := e.GetSamplingTargets(docs)
	if err != nil {
		return nil, asAPIError(err)
	}
	return out, nil
}

type recordOutput struct {
	SamplingRuleRecord RuleRecord `json:"SamplingRuleRecord"`
}

func (e *Engine) serveCreateSamplingRule(r *http.Request) (any, *APIError) {
	var in struct {
		SamplingRule *ruleInput `json:"SamplingRule"` // Tags are accepted and ignored
	}
	if err := decodeRequest(r, &in); err != nil {
		return nil, err
	}
	if in.SamplingRule == nil {
		return nil, invalidRequest("SamplingRule is required")
	}
	rule, apiErr := in.SamplingRule.toRule(samplingRulePrefix)
	if apiErr != nil {
		return nil, apiErr
	}
	rec, err := e.CreateRule(rule)
	if err != nil {
		return nil, asAPIError(err)
	}
	return recordOutput{rec}, nil
}

func (e *Engine) serveUpdateSamplingRule(r *http.Request) (any, *APIError) {
	var in struct {
		SamplingRuleUpdate *RuleUpdate `json:"SamplingRuleUpdate"`
	}
	if err := decodeRequest(r, &in); err != nil {
		return nil, err
	}
	if in.SamplingRuleUpdate == nil {
		return nil, invalidRequest("SamplingRuleUpdate is required")
	}
	rec, err := e.UpdateRule(*in.SamplingRuleUpdate)
	if err != nil {
		return nil, asAPIError(err)
	}
	return recordOutput{rec}, nil
}

func (e *Engine) serveDeleteSamplingRule(r *http.Request) (any, *APIError) {
	var in struct {
		RuleName *string `json:"RuleName"`
		RuleARN  *string `json:"RuleARN"`
	}
	if err := decodeRequest(r, &in); err != nil {
		return nil, err
	}
	rec, err := e.DeleteRule(deref(in.RuleName), deref(in.RuleARN))
	if err != nil {
		return nil, asAPIError(err)
	}
	return recordOutput{rec}, nil
}

// tokenPrefix marks xrayd's NextTokens; a token carries the operation so one from
// another operation is refused (spec §4).
const tokenPrefix = "xrayd-sampling-v1|"

func encodeToken(op string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + op + "|" + strconv.Itoa(offset)))
}

func decodeToken(op, token string) (int, *APIError) {
	bad := invalidRequest("NextToken is not a token returned by %s; start again without it", op)
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, bad
	}
	rest, ok := strings.CutPrefix(string(raw), tokenPrefix+op+"|")
	if !ok {
		return 0, bad
	}
	offset, err := strconv.Atoi(rest)
	if err != nil || offset <= 0 || rest != strconv.Itoa(offset) {
		return 0, bad
	}
	return offset, nil
}

// paginate returns the page of items starting at the token's offset and the token for
// the next page ("" on the last page). An offset past the end (items deleted between
// calls) yields an empty last page.
func paginate[T any](items []T, op, token string, size int) ([]T, string, *APIError) {
	offset := 0
	if token != "" {
		var err *APIError
		if offset, err = decodeToken(op, token); err != nil {
			return nil, "", err
		}
	}
	if offset >= len(items) {
		return []T{}, "", nil
	}
	end := min(offset+size, len(items))
	next := ""
	if end < len(items) {
		next = encodeToken(op, end)
	}
	return items[offset:end], next, nil
}
