package sampling

import (
	"fmt"
	"net/http"
	"time"
)

// CreateRule adds a rule (CreateSamplingRule). RuleARN is ignored and derived from the
// name. Errors are *APIError: InvalidRequestException naming the member,
// SamplingRuleAlreadyExists, or RuleLimitExceededException.
func (e *Engine) CreateRule(r Rule) (RuleRecord, error) {
	r = r.clone()
	if err := validateRuleName(r.RuleName, samplingRulePrefix+"RuleName"); err != nil {
		return RuleRecord{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.rules[r.RuleName]; ok {
		return RuleRecord{}, &APIError{Status: http.StatusBadRequest, Code: CodeRuleAlreadyExists,
			Message: fmt.Sprintf("a sampling rule named %q already exists", r.RuleName)}
	}
	if err := validateRule(&r, samplingRulePrefix); err != nil {
		return RuleRecord{}, err
	}
	if len(e.rules)-1 >= maxRules {
		return RuleRecord{}, &APIError{Status: http.StatusBadRequest, Code: CodeRuleLimitExceeded,
			Message: fmt.Sprintf("at most %d sampling rules besides Default are allowed; delete one first", maxRules)}
	}
	now := e.now()
	r.RuleARN = e.arn(r.RuleName)
	rec := RuleRecord{SamplingRule: r, CreatedAt: AWSTime{now}, ModifiedAt: AWSTime{now}}
	if err := e.commitLocked(now, append(e.recordsLocked(), rec), func() { e.putLocked(rec) }); err != nil {
		return RuleRecord{}, err
	}
	e.log.Info("sampling rule created", "rule", r.RuleName, "priority", r.Priority, "fixed_rate", r.FixedRate, "reservoir", r.ReservoirSize)
	return e.rules[r.RuleName].snapshot(), nil
}

// UpdateRule changes the given members of a rule (UpdateSamplingRule). Of the Default
// rule only FixedRate and ReservoirSize can change.
func (e *Engine) UpdateRule(u RuleUpdate) (RuleRecord, error) {
	s := u.settable()
	const prefix = "SamplingRuleUpdate."
	if err := validateSettable(s, prefix); err != nil {
		return RuleRecord{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.lookupLocked(deref(u.RuleName), deref(u.RuleARN), prefix)
	if err != nil {
		return RuleRecord{}, err
	}
	r := st.rec.SamplingRule.clone()
	if r.RuleName == DefaultRuleName {
		if err := checkDefaultUpdate(r, s, prefix); err != nil {
			return RuleRecord{}, err
		}
		if u.Priority != nil && *u.Priority != r.Priority {
			return RuleRecord{}, invalidRequest("%sPriority of the Default rule cannot be changed; only FixedRate and ReservoirSize can", prefix)
		}
	} else if u.Priority != nil && (*u.Priority < minPriority || *u.Priority > maxPriority) {
		return RuleRecord{}, invalidRequest("%sPriority must be between %d and %d, got %d", prefix, minPriority, maxPriority, *u.Priority)
	}
	s.apply(&r)
	if u.Priority != nil {
		r.Priority = *u.Priority
	}
	now := e.now()
	rec := RuleRecord{SamplingRule: r, CreatedAt: st.rec.CreatedAt, ModifiedAt: AWSTime{now}}
	recs := e.recordsLocked()
	for i := range recs {
		if recs[i].SamplingRule.RuleName == r.RuleName {
			recs[i] = rec
		}
	}
	if err := e.commitLocked(now, recs, func() { e.putLocked(rec) }); err != nil {
		return RuleRecord{}, err
	}
	e.log.Info("sampling rule updated", "rule", r.RuleName, "priority", r.Priority, "fixed_rate", r.FixedRate, "reservoir", r.ReservoirSize)
	return st.snapshot(), nil
}

// DeleteRule removes a rule by name or ARN (DeleteSamplingRule) and returns it. The
// Default rule cannot be deleted.
func (e *Engine) DeleteRule(name, arn string) (RuleRecord, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.lookupLocked(name, arn, "")
	if err != nil {
		return RuleRecord{}, err
	}
	gone := st.rec.SamplingRule.RuleName
	if gone == DefaultRuleName {
		return RuleRecord{}, invalidRequest("the Default rule cannot be deleted; update its FixedRate or ReservoirSize instead")
	}
	recs := e.recordsLocked()
	keep := recs[:0]
	for _, rec := range recs {
		if rec.SamplingRule.RuleName != gone {
			keep = append(keep, rec)
		}
	}
	if err := e.commitLocked(e.now(), keep, func() { delete(e.rules, gone) }); err != nil {
		return RuleRecord{}, err
	}
	e.log.Info("sampling rule deleted", "rule", gone)
	return st.rec, nil
}

// lookupLocked finds a rule by exactly one of name and ARN.
func (e *Engine) lookupLocked(name, arn, prefix string) (*ruleState, *APIError) {
	switch {
	case name != "" && arn != "":
		return nil, invalidRequest("give %sRuleName or %sRuleARN, not both", prefix, prefix)
	case name != "":
		if st, ok := e.rules[name]; ok {
			return st, nil
		}
		return nil, invalidRequest("sampling rule %q does not exist", name)
	case arn != "":
		for _, st := range e.rules {
			if st.rec.SamplingRule.RuleARN == arn {
				return st, nil
			}
		}
		return nil, invalidRequest("no sampling rule has the ARN %q", arn)
	}
	return nil, invalidRequest("%sRuleName or %sRuleARN is required", prefix, prefix)
}

// commitLocked persists the proposed record set and only then applies the change, so
// memory and store never disagree.
func (e *Engine) commitLocked(now time.Time, recs []RuleRecord, apply func()) error {
	if e.persister != nil {
		if err := e.persister.SaveRules(recs); err != nil {
			e.log.Error("persisting sampling rules failed", "err", err)
			return &APIError{Status: http.StatusInternalServerError, Code: CodeInternalFailure, Message: "persisting sampling rules: " + err.Error()}
		}
	}
	apply()
	e.resort()
	e.lastMod = latest(e.lastMod, now)
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// snapshot returns a copy of the record that shares nothing with the engine.
func (st *ruleState) snapshot() RuleRecord {
	rec := st.rec
	rec.SamplingRule = st.rec.SamplingRule.clone()
	return rec
}
