// Package sampling is the local backend's sampling service: the rule set (with the
// Default rule), rule matching, the GetSamplingTargets quota algorithm, the statistics
// summaries, rule management, and the HTTP handlers for those X-Ray operations.
// The contract is spec xray-api.md §3.3–§3.5, §4 and §5.
package sampling

import (
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Persister stores the rule set so it survives restarts (the SQLite store implements
// it). LoadRules reports found=false when nothing was ever saved. SaveRules receives the
// whole set, Default included, after every change.
type Persister interface {
	SaveRules([]RuleRecord) error
	LoadRules() ([]RuleRecord, bool, error)
}

// Options configures an Engine. Every field is optional.
type Options struct {
	Region    string           // for rule ARNs; default us-east-1
	AccountID string           // for rule ARNs; default 000000000000
	Now       func() time.Time // clock; default time.Now
	// RulesFile, when set, is read once by New and is authoritative: its rules replace
	// any persisted ones (records whose content did not change keep their timestamps).
	RulesFile string
	Persister Persister    // nil keeps rules in memory only
	Logger    *slog.Logger // nil discards logs
	// NewRequestID makes x-amzn-RequestId values; default a random UUID (crypto/rand).
	NewRequestID func() string
}

// Request is what a rule is matched against (spec §5.1).
type Request struct {
	ServiceName string // segment name
	ServiceType string // segment origin, e.g. AWS::EC2::Instance
	Host        string
	HTTPMethod  string
	URLPath     string
}

// Engine owns the rule set and the per-rule reporting state. Safe for concurrent use.
type Engine struct {
	region, account, partition string
	now                        func() time.Time
	persister                  Persister
	log                        *slog.Logger
	newRequestID               func() string
	pageSize                   int

	mu      sync.Mutex
	rules   map[string]*ruleState
	order   []*ruleState // evaluation order: priority, name, Default last
	lastMod time.Time    // latest rule create/update/delete
}

type ruleState struct {
	rec     RuleRecord
	clients map[string]time.Time // ClientID (lower case) -> last report
	window  statWindow           // the most recent 10-second window with statistics
}

type statWindow struct {
	start                       time.Time // zero until the first report
	requests, sampled, borrowed int64
}

const defaultPageSize = 100

// New builds an Engine: the Default rule, then persisted rules, then the rules file.
func New(opts Options) (*Engine, error) {
	e := &Engine{
		region:       opts.Region,
		account:      opts.AccountID,
		now:          opts.Now,
		persister:    opts.Persister,
		log:          opts.Logger,
		newRequestID: opts.NewRequestID,
		pageSize:     defaultPageSize,
		rules:        map[string]*ruleState{},
	}
	if e.region == "" {
		e.region = defaultRegion
	}
	if e.account == "" {
		e.account = defaultAccountID
	}
	e.partition = partitionFor(e.region)
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.newRequestID == nil {
		e.newRequestID = randomRequestID
	}
	e.putLocked(RuleRecord{SamplingRule: DefaultRule()})

	if e.persister != nil {
		recs, found, err := e.persister.LoadRules()
		if err != nil {
			return nil, fmt.Errorf("loading persisted sampling rules: %w", err)
		}
		if found {
			if err := e.adoptRecords(recs); err != nil {
				return nil, fmt.Errorf("loading persisted sampling rules: %w", err)
			}
		}
	}
	if opts.RulesFile != "" {
		if err := e.loadRulesFile(opts.RulesFile); err != nil {
			return nil, err
		}
	}
	e.resort()
	e.lastMod = time.Time{}
	for _, st := range e.rules {
		e.lastMod = latest(e.lastMod, st.rec.CreatedAt.Time, st.rec.ModifiedAt.Time)
	}
	return e, nil
}

// adoptRecords installs persisted records after checking them like API input.
func (e *Engine) adoptRecords(recs []RuleRecord) error {
	nonDefault := 0
	for i, rec := range recs {
		r := rec.SamplingRule.clone()
		if err := validateRule(&r, ""); err != nil {
			return fmt.Errorf("record %d (rule %q): %s", i, r.RuleName, err.Message)
		}
		if r.RuleName == DefaultRuleName {
			if err := checkDefaultUpdate(DefaultRule(), settableOf(&r), ""); err != nil {
				return fmt.Errorf("record %d (rule %q): %s", i, r.RuleName, err.Message)
			}
		} else {
			nonDefault++
		}
		rec.SamplingRule = r
		e.putLocked(rec)
	}
	if nonDefault > maxRules {
		return fmt.Errorf("%d rules besides Default, the limit is %d", nonDefault, maxRules)
	}
	return nil
}

// loadRulesFile replaces the non-Default rules with the file's and updates Default
// when the file lists it.
func (e *Engine) loadRulesFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading sampling rules file: %w", err)
	}
	rules, err := ParseRules(data)
	if err != nil {
		return fmt.Errorf("sampling rules file %s: %w", path, err)
	}
	now := e.now()
	old := e.rules
	e.rules = map[string]*ruleState{DefaultRuleName: old[DefaultRuleName]}
	for _, r := range rules {
		r.RuleARN = e.arn(r.RuleName)
		if prev, ok := old[r.RuleName]; ok && sameRule(prev.rec.SamplingRule, r) {
			e.rules[r.RuleName] = prev
			continue
		}
		rec := RuleRecord{SamplingRule: r, CreatedAt: AWSTime{now}, ModifiedAt: AWSTime{now}}
		if r.RuleName == DefaultRuleName {
			rec.CreatedAt = old[DefaultRuleName].rec.CreatedAt
		}
		e.putLocked(rec)
	}
	e.log.Info("loaded sampling rules file", "path", path, "rules", len(rules))
	if e.persister != nil {
		if err := e.persister.SaveRules(e.recordsLocked()); err != nil {
			return fmt.Errorf("persisting sampling rules from %s: %w", path, err)
		}
	}
	return nil
}

// sameRule reports whether two rules have the same content (ARNs aside).
func sameRule(a, b Rule) bool {
	boostEq := a.SamplingRateBoost == nil && b.SamplingRateBoost == nil ||
		a.SamplingRateBoost != nil && b.SamplingRateBoost != nil && *a.SamplingRateBoost == *b.SamplingRateBoost
	return boostEq && maps.Equal(a.Attributes, b.Attributes) &&
		a.RuleName == b.RuleName && a.ResourceARN == b.ResourceARN &&
		a.Priority == b.Priority && a.FixedRate == b.FixedRate && a.ReservoirSize == b.ReservoirSize &&
		a.ServiceName == b.ServiceName && a.ServiceType == b.ServiceType && a.Host == b.Host &&
		a.HTTPMethod == b.HTTPMethod && a.URLPath == b.URLPath && a.Version == b.Version
}

func settableOf(r *Rule) settable {
	return settable{
		ResourceARN: &r.ResourceARN, FixedRate: &r.FixedRate, ReservoirSize: &r.ReservoirSize,
		ServiceName: &r.ServiceName, ServiceType: &r.ServiceType, Host: &r.Host,
		HTTPMethod: &r.HTTPMethod, URLPath: &r.URLPath,
		Attributes: r.Attributes, SamplingRateBoost: r.SamplingRateBoost,
	}
}

// putLocked installs rec (ARN recomputed), keeping reporting state of an existing rule.
func (e *Engine) putLocked(rec RuleRecord) {
	rec.SamplingRule = rec.SamplingRule.clone()
	rec.SamplingRule.RuleARN = e.arn(rec.SamplingRule.RuleName)
	if st, ok := e.rules[rec.SamplingRule.RuleName]; ok {
		st.rec = rec
		return
	}
	e.rules[rec.SamplingRule.RuleName] = &ruleState{rec: rec, clients: map[string]time.Time{}}
}

func (e *Engine) arn(name string) string {
	return "arn:" + e.partition + ":xray:" + e.region + ":" + e.account + ":" + arnResourcePrefix + name
}

func (e *Engine) resort() {
	e.order = e.order[:0]
	for _, st := range e.rules {
		e.order = append(e.order, st)
	}
	slices.SortFunc(e.order, func(a, b *ruleState) int { return compareRules(&a.rec.SamplingRule, &b.rec.SamplingRule) })
}

// compareRules orders by priority then name (byte order), with Default always last.
func compareRules(a, b *Rule) int {
	aDef, bDef := a.RuleName == DefaultRuleName, b.RuleName == DefaultRuleName
	switch {
	case aDef != bDef:
		if aDef {
			return 1
		}
		return -1
	case a.Priority != b.Priority:
		return a.Priority - b.Priority
	}
	return strings.Compare(a.RuleName, b.RuleName)
}

// recordsLocked returns copies of all records in evaluation order.
func (e *Engine) recordsLocked() []RuleRecord {
	order := make([]*ruleState, 0, len(e.rules))
	for _, st := range e.rules {
		order = append(order, st)
	}
	slices.SortFunc(order, func(a, b *ruleState) int { return compareRules(&a.rec.SamplingRule, &b.rec.SamplingRule) })
	out := make([]RuleRecord, len(order))
	for i, st := range order {
		out[i] = st.snapshot()
	}
	return out
}

// Rules returns every rule record in evaluation order (priority, name, Default last).
func (e *Engine) Rules() []RuleRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.recordsLocked()
}

// Match returns a copy of the first rule that applies to req (spec §5.1): match fields
// are case-insensitive globs, an empty request value matches anything, rules with a
// ResourceARN other than "*", with Attributes or with a Version other than 1 are skipped
// as the SDKs skip them. The Default rule is tried last and always matches.
func (e *Engine) Match(req Request) *Rule {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, st := range e.order {
		r := &st.rec.SamplingRule
		if r.RuleName == DefaultRuleName || ruleApplies(r, &req) {
			out := r.clone()
			return &out
		}
	}
	return nil // unreachable: Default always exists
}

func ruleApplies(r *Rule, req *Request) bool {
	return r.ResourceARN == matchAll && len(r.Attributes) == 0 && r.Version == supportedVersion &&
		globField(r.ServiceName, req.ServiceName) &&
		globField(r.ServiceType, req.ServiceType) &&
		globField(r.Host, req.Host) &&
		globField(r.HTTPMethod, req.HTTPMethod) &&
		globField(r.URLPath, req.URLPath)
}

// globField: an empty request value matches any pattern (as the Go SDK does).
func globField(pattern, value string) bool {
	return value == "" || Glob(pattern, value)
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}
