package sampling

import (
	"fmt"
	"maps"
	"math"
	"unicode/utf8"
)

// DefaultRuleName names the catch-all rule that always exists.
const DefaultRuleName = "Default"

// Limits from the X-Ray service model (spec xray-api.md §3.3, §6).
const (
	maxRuleNameLen     = 32
	maxResourceARNLen  = 500
	maxMatchFieldLen   = 64 // ServiceName, ServiceType, Host
	maxHTTPMethodLen   = 10
	maxURLPathLen      = 128
	maxAttributes      = 5
	maxAttributeLen    = 32
	minPriority        = 1
	maxPriority        = 9999
	defaultPriority    = 10000
	maxRules           = 25 // per region, not counting Default
	maxStatisticsDocs  = 25
	clientIDLen        = 24
	maxInt32           = math.MaxInt32
	supportedVersion   = 1
	defaultFixedRate   = 0.05
	defaultReservoir   = 1
	matchAll           = "*"
	arnResourcePrefix  = "sampling-rule/"
	defaultRegion      = "us-east-1"
	defaultAccountID   = "000000000000"
	defaultPartition   = "aws"
	samplingRulePrefix = "SamplingRule."
)

// Rule is a sampling rule with the X-Ray API's member names (SamplingRule shape).
// Attributes is never nil in rules the Engine hands out, so it marshals as {}.
type Rule struct {
	RuleName          string             `json:"RuleName"`
	RuleARN           string             `json:"RuleARN"`
	ResourceARN       string             `json:"ResourceARN"`
	Priority          int                `json:"Priority"`
	FixedRate         float64            `json:"FixedRate"`
	ReservoirSize     int                `json:"ReservoirSize"`
	ServiceName       string             `json:"ServiceName"`
	ServiceType       string             `json:"ServiceType"`
	Host              string             `json:"Host"`
	HTTPMethod        string             `json:"HTTPMethod"`
	URLPath           string             `json:"URLPath"`
	Version           int                `json:"Version"`
	Attributes        map[string]string  `json:"Attributes"`
	SamplingRateBoost *SamplingRateBoost `json:"SamplingRateBoost,omitempty"`
}

// SamplingRateBoost is the adaptive-sampling setting of a rule; stored and returned as is.
type SamplingRateBoost struct {
	MaxRate               float64 `json:"MaxRate"`
	CooldownWindowMinutes int     `json:"CooldownWindowMinutes"`
}

// RuleRecord is a rule with its creation and modification times (SamplingRuleRecord).
// It is also the unit a Persister stores.
type RuleRecord struct {
	SamplingRule Rule    `json:"SamplingRule"`
	CreatedAt    AWSTime `json:"CreatedAt"`
	ModifiedAt   AWSTime `json:"ModifiedAt"`
}

// RuleUpdate is UpdateSamplingRule's SamplingRuleUpdate: RuleName or RuleARN picks the
// rule, every other non-nil member replaces the stored value.
type RuleUpdate struct {
	RuleName          *string            `json:"RuleName,omitempty"`
	RuleARN           *string            `json:"RuleARN,omitempty"`
	ResourceARN       *string            `json:"ResourceARN,omitempty"`
	Priority          *int               `json:"Priority,omitempty"`
	FixedRate         *float64           `json:"FixedRate,omitempty"`
	ReservoirSize     *int               `json:"ReservoirSize,omitempty"`
	ServiceName       *string            `json:"ServiceName,omitempty"`
	ServiceType       *string            `json:"ServiceType,omitempty"`
	Host              *string            `json:"Host,omitempty"`
	HTTPMethod        *string            `json:"HTTPMethod,omitempty"`
	URLPath           *string            `json:"URLPath,omitempty"`
	Attributes        map[string]string  `json:"Attributes,omitempty"`
	SamplingRateBoost *SamplingRateBoost `json:"SamplingRateBoost,omitempty"`
}

// DefaultRule returns the out-of-the-box Default rule (without its ARN).
func DefaultRule() Rule {
	return Rule{
		RuleName:      DefaultRuleName,
		ResourceARN:   matchAll,
		Priority:      defaultPriority,
		FixedRate:     defaultFixedRate,
		ReservoirSize: defaultReservoir,
		ServiceName:   matchAll,
		ServiceType:   matchAll,
		Host:          matchAll,
		HTTPMethod:    matchAll,
		URLPath:       matchAll,
		Version:       supportedVersion,
		Attributes:    map[string]string{},
	}
}

// clone returns a deep copy with a non-nil Attributes map.
func (r Rule) clone() Rule {
	out := r
	out.Attributes = make(map[string]string, len(r.Attributes))
	maps.Copy(out.Attributes, r.Attributes)
	if r.SamplingRateBoost != nil {
		b := *r.SamplingRateBoost
		out.SamplingRateBoost = &b
	}
	return out
}

// ruleInput is the SamplingRule member of a request or rules file: pointers tell absent
// from zero so "required" can be enforced with the member named.
type ruleInput struct {
	RuleName          *string            `json:"RuleName"`
	RuleARN           *string            `json:"RuleARN"`
	ResourceARN       *string            `json:"ResourceARN"`
	Priority          *int               `json:"Priority"`
	FixedRate         *float64           `json:"FixedRate"`
	ReservoirSize     *int               `json:"ReservoirSize"`
	ServiceName       *string            `json:"ServiceName"`
	ServiceType       *string            `json:"ServiceType"`
	Host              *string            `json:"Host"`
	HTTPMethod        *string            `json:"HTTPMethod"`
	URLPath           *string            `json:"URLPath"`
	Version           *int               `json:"Version"`
	Attributes        map[string]string  `json:"Attributes"`
	SamplingRateBoost *SamplingRateBoost `json:"SamplingRateBoost"`
}

// toRule checks that every required member is present; prefix names the enclosing
// member in messages ("SamplingRule."). RuleARN is output-only and ignored.
func (in *ruleInput) toRule(prefix string) (Rule, *APIError) {
	required := []struct {
		name    string
		present bool
	}{
		{"RuleName", in.RuleName != nil},
		{"ResourceARN", in.ResourceARN != nil},
		{"Priority", in.Priority != nil},
		{"FixedRate", in.FixedRate != nil},
		{"ReservoirSize", in.ReservoirSize != nil},
		{"ServiceName", in.ServiceName != nil},
		{"ServiceType", in.ServiceType != nil},
		{"Host", in.Host != nil},
		{"HTTPMethod", in.HTTPMethod != nil},
		{"URLPath", in.URLPath != nil},
		{"Version", in.Version != nil},
	}
	for _, f := range required {
		if !f.present {
			return Rule{}, invalidRequest("%s%s is required", prefix, f.name)
		}
	}
	return Rule{
		RuleName:          *in.RuleName,
		ResourceARN:       *in.ResourceARN,
		Priority:          *in.Priority,
		FixedRate:         *in.FixedRate,
		ReservoirSize:     *in.ReservoirSize,
		ServiceName:       *in.ServiceName,
		ServiceType:       *in.ServiceType,
		Host:              *in.Host,
		HTTPMethod:        *in.HTTPMethod,
		URLPath:           *in.URLPath,
		Version:           *in.Version,
		Attributes:        in.Attributes,
		SamplingRateBoost: in.SamplingRateBoost,
	}.clone(), nil
}

// validateRule checks the §3.3 model constraints of a complete rule. The Default rule
// is allowed its priority of 10000; every other rule must use 1–9999.
func validateRule(r *Rule, prefix string) *APIError {
	if err := validateRuleName(r.RuleName, prefix+"RuleName"); err != nil {
		return err
	}
	if r.RuleName == DefaultRuleName {
		if r.Priority != defaultPriority {
			return invalidRequest("%sPriority of the Default rule is always %d", prefix, defaultPriority)
		}
	} else if r.Priority < minPriority || r.Priority > maxPriority {
		return invalidRequest("%sPriority must be between %d and %d, got %d", prefix, minPriority, maxPriority, r.Priority)
	}
	if r.Version < supportedVersion || r.Version > maxInt32 {
		return invalidRequest("%sVersion must be at least 1 (only 1 exists), got %d", prefix, r.Version)
	}
	return validateSettable(settable{
		ResourceARN: &r.ResourceARN, FixedRate: &r.FixedRate, ReservoirSize: &r.ReservoirSize,
		ServiceName: &r.ServiceName, ServiceType: &r.ServiceType, Host: &r.Host,
		HTTPMethod: &r.HTTPMethod, URLPath: &r.URLPath,
		Attributes: r.Attributes, SamplingRateBoost: r.SamplingRateBoost,
	}, prefix)
}

// settable holds the members both CreateSamplingRule and UpdateSamplingRule can set;
// nil means "not given".
type settable struct {
	ResourceARN       *string
	FixedRate         *float64
	ReservoirSize     *int
	ServiceName       *string
	ServiceType       *string
	Host              *string
	HTTPMethod        *string
	URLPath           *string
	Attributes        map[string]string
	SamplingRateBoost *SamplingRateBoost
}

func validateSettable(s settable, prefix string) *APIError {
	if s.FixedRate != nil && !(*s.FixedRate >= 0 && *s.FixedRate <= 1) { // also rejects NaN
		return invalidRequest("%sFixedRate must be between 0 and 1, got %v", prefix, *s.FixedRate)
	}
	if s.ReservoirSize != nil && (*s.ReservoirSize < 0 || *s.ReservoirSize > maxInt32) {
		return invalidRequest("%sReservoirSize must be between 0 and %d, got %d", prefix, maxInt32, *s.ReservoirSize)
	}
	strs := []struct {
		name string
		v    *string
		max  int
	}{
		{"ResourceARN", s.ResourceARN, maxResourceARNLen},
		{"ServiceName", s.ServiceName, maxMatchFieldLen},
		{"ServiceType", s.ServiceType, maxMatchFieldLen},
		{"Host", s.Host, maxMatchFieldLen},
		{"HTTPMethod", s.HTTPMethod, maxHTTPMethodLen},
		{"URLPath", s.URLPath, maxURLPathLen},
	}
	for _, f := range strs {
		if f.v == nil {
			continue
		}
		if !utf8.ValidString(*f.v) {
			return invalidRequest("%s%s must be valid UTF-8", prefix, f.name)
		}
		if n := utf8.RuneCountInString(*f.v); n > f.max {
			return invalidRequest("%s%s must be at most %d characters, got %d", prefix, f.name, f.max, n)
		}
	}
	if len(s.Attributes) > maxAttributes {
		return invalidRequest("%sAttributes may have at most %d entries, got %d", prefix, maxAttributes, len(s.Attributes))
	}
	for k, v := range s.Attributes {
		if err := checkLen(k, 1, maxAttributeLen, prefix+"Attributes key"); err != nil {
			return err
		}
		if err := checkLen(v, 1, maxAttributeLen, fmt.Sprintf("%sAttributes[%q]", prefix, k)); err != nil {
			return err
		}
	}
	if b := s.SamplingRateBoost; b != nil {
		if !(b.MaxRate >= 0 && b.MaxRate <= 1) {
			return invalidRequest("%sSamplingRateBoost.MaxRate must be between 0 and 1, got %v", prefix, b.MaxRate)
		}
		if b.CooldownWindowMinutes < 0 || b.CooldownWindowMinutes > maxInt32 {
			return invalidRequest("%sSamplingRateBoost.CooldownWindowMinutes must not be negative, got %d", prefix, b.CooldownWindowMinutes)
		}
	}
	return nil
}

func validateRuleName(name, field string) *APIError {
	return checkLen(name, 1, maxRuleNameLen, field)
}

func checkLen(s string, lo, hi int, field string) *APIError {
	if !utf8.ValidString(s) {
		return invalidRequest("%s must be valid UTF-8", field)
	}
	n := utf8.RuneCountInString(s)
	if n < lo || n > hi {
		return invalidRequest("%s must be %d to %d characters, got %d", field, lo, hi, n)
	}
	return nil
}

// checkDefaultUpdate enforces that only FixedRate and ReservoirSize of the Default rule
// change. Other members may be sent if they repeat the current value, so an exported
// GetSamplingRules record can be fed back unchanged.
func checkDefaultUpdate(cur Rule, s settable, prefix string) *APIError {
	same := []struct {
		name string
		v    *string
		cur  string
	}{
		{"ResourceARN", s.ResourceARN, cur.ResourceARN},
		{"ServiceName", s.ServiceName, cur.ServiceName},
		{"ServiceType", s.ServiceType, cur.ServiceType},
		{"Host", s.Host, cur.Host},
		{"HTTPMethod", s.HTTPMethod, cur.HTTPMethod},
		{"URLPath", s.URLPath, cur.URLPath},
	}
	for _, f := range same {
		if f.v != nil && *f.v != f.cur {
			return invalidRequest("%s%s of the Default rule cannot be changed; only FixedRate and ReservoirSize can", prefix, f.name)
		}
	}
	if len(s.Attributes) > 0 {
		return invalidRequest("%sAttributes of the Default rule cannot be changed; only FixedRate and ReservoirSize can", prefix)
	}
	if s.SamplingRateBoost != nil {
		return invalidRequest("%sSamplingRateBoost of the Default rule cannot be changed; only FixedRate and ReservoirSize can", prefix)
	}
	return nil
}

// apply copies the given members onto r.
func (s settable) apply(r *Rule) {
	setStr := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setStr(&r.ResourceARN, s.ResourceARN)
	setStr(&r.ServiceName, s.ServiceName)
	setStr(&r.ServiceType, s.ServiceType)
	setStr(&r.Host, s.Host)
	setStr(&r.HTTPMethod, s.HTTPMethod)
	setStr(&r.URLPath, s.URLPath)
	if s.FixedRate != nil {
		r.FixedRate = *s.FixedRate
	}
	if s.ReservoirSize != nil {
		r.ReservoirSize = *s.ReservoirSize
	}
	if s.Attributes != nil {
		r.Attributes = maps.Clone(s.Attributes)
	}
	if s.SamplingRateBoost != nil {
		b := *s.SamplingRateBoost
		r.SamplingRateBoost = &b
	}
}

func (u *RuleUpdate) settable() settable {
	return settable{
		ResourceARN: u.ResourceARN, FixedRate: u.FixedRate, ReservoirSize: u.ReservoirSize,
		ServiceName: u.ServiceName, ServiceType: u.ServiceType, Host: u.Host,
		HTTPMethod: u.HTTPMethod, URLPath: u.URLPath,
		Attributes: u.Attributes, SamplingRateBoost: u.SamplingRateBoost,
	}
}

// partitionFor maps a region to its ARN partition.
func partitionFor(region string) string {
	switch {
	case len(region) > 3 && region[:3] == "cn-":
		return "aws-cn"
	case len(region) > 7 && region[:7] == "us-gov-":
		return "aws-us-gov"
	case len(region) > 7 && region[:7] == "us-iso-":
		return "aws-iso"
	case len(region) > 8 && region[:8] == "us-isob-":
		return "aws-iso-b"
	}
	return defaultPartition
}
