package sampling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// rulesFileExample is quoted in errors so the user sees what to write.
const rulesFileExample = `{"SamplingRules": [{"RuleName": "...", "ResourceARN": "*", "Priority": 100, ...}]}`

// ParseRules reads a sampling rules file. Accepted shapes:
//
//	{"SamplingRules": [ <SamplingRule>, ... ]}
//	{"SamplingRules": [ {"SamplingRule": <SamplingRule>, "Tags": [...]}, ... ]}   (create-sampling-rule --cli-input-json)
//	{"SamplingRule": <SamplingRule>}                                            (one CLI input file)
//	{"SamplingRuleRecords": [...]}                                              (aws xray get-sampling-rules output)
//
// Members are those of CreateSamplingRule; misspelt members are errors. A rule named
// Default sets the Default rule's FixedRate and ReservoirSize (its other members may be
// omitted or repeat the defaults). Errors name the rule and the member.
func ParseRules(data []byte) ([]Rule, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("the file is empty; expected " + rulesFileExample)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object (%s); expected %s", describeJSONError(err), rulesFileExample)
	}
	if _, ok := top["rules"]; ok {
		return nil, errors.New(`this looks like an X-Ray SDK local rules file ("version"/"rules"/"default"); xrayd expects the API shape: ` + rulesFileExample)
	}
	var elems []json.RawMessage
	listKey := ""
	for _, key := range slices.Sorted(maps.Keys(top)) {
		raw := top[key]
		switch key {
		case "SamplingRules", "SamplingRuleRecords":
			if listKey != "" {
				return nil, fmt.Errorf("both %s and %s are given; use one list", listKey, key)
			}
			listKey = key
			if err := json.Unmarshal(raw, &elems); err != nil {
				return nil, fmt.Errorf("%s must be an array of sampling rules", key)
			}
		case "SamplingRule":
			if listKey != "" {
				return nil, fmt.Errorf("both %s and %s are given; use one", listKey, key)
			}
			listKey = key
			elems = []json.RawMessage{data}
		case "NextToken", "Tags":
		default:
			return nil, fmt.Errorf("unknown member %q; expected %s", key, rulesFileExample)
		}
	}
	if listKey == "" {
		return nil, errors.New("no SamplingRules member; expected " + rulesFileExample)
	}
	rules := make([]Rule, 0, len(elems))
	for i, raw := range elems {
		where := fmt.Sprintf("%s[%d]", listKey, i)
		if listKey == "SamplingRule" {
			where = "SamplingRule"
		}
		r, err := parseRuleElement(raw)
		if err != nil {
			if r.RuleName != "" {
				where += fmt.Sprintf(" (rule %q)", r.RuleName)
			}
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if slices.ContainsFunc(rules, func(o Rule) bool { return o.RuleName == r.RuleName }) {
			return nil, fmt.Errorf("%s: rule %q is listed twice", where, r.RuleName)
		}
		rules = append(rules, r)
	}
	if n := len(rules) - countDefault(rules); n > maxRules {
		return nil, fmt.Errorf("%d rules besides Default, the limit is %d", n, maxRules)
	}
	return rules, nil
}

func countDefault(rules []Rule) int {
	if slices.ContainsFunc(rules, func(r Rule) bool { return r.RuleName == DefaultRuleName }) {
		return 1
	}
	return 0
}

// parseRuleElement decodes one list element (bare rule or CLI/record wrapper). On error
// the returned Rule carries the name when it could be read.
func parseRuleElement(raw json.RawMessage) (Rule, error) {
	var wrapper map[string]json.RawMessage
	if err := json.Unmarshal(raw, &wrapper); err != nil {
		return Rule{}, errors.New("not a JSON object")
	}
	if inner, ok := wrapper["SamplingRule"]; ok {
		for key := range wrapper {
			switch key {
			case "SamplingRule", "Tags", "CreatedAt", "ModifiedAt":
			default:
				return Rule{}, fmt.Errorf("unknown member %q next to SamplingRule", key)
			}
		}
		raw = inner
	}
	var in ruleInput
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var name struct{ RuleName string }
		_ = json.Unmarshal(raw, &name)
		msg := describeJSONError(err)
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			msg = "unknown member " + field + " (members are those of CreateSamplingRule, e.g. RuleName, Priority, FixedRate)"
		}
		return Rule{RuleName: name.RuleName}, errors.New(msg)
	}
	if in.RuleName != nil && *in.RuleName == DefaultRuleName {
		fillDefault(&in)
	}
	r, apiErr := in.toRule("")
	if apiErr == nil {
		apiErr = validateRule(&r, "")
	}
	if apiErr == nil && r.RuleName == DefaultRuleName {
		apiErr = checkDefaultUpdate(DefaultRule(), settableOf(&r), "")
		if apiErr == nil && r.Version != supportedVersion {
			apiErr = invalidRequest("Version of the Default rule is always %d", supportedVersion)
		}
	}
	if apiErr != nil {
		return Rule{RuleName: deref(in.RuleName)}, errors.New(apiErr.Message)
	}
	return r, nil
}

// fillDefault lets a file name the Default rule with only the members it changes.
func fillDefault(in *ruleInput) {
	d := DefaultRule()
	fillStr := func(p **string, v string) {
		if *p == nil {
			*p = &v
		}
	}
	fillStr(&in.ResourceARN, d.ResourceARN)
	fillStr(&in.ServiceName, d.ServiceName)
	fillStr(&in.ServiceType, d.ServiceType)
	fillStr(&in.Host, d.Host)
	fillStr(&in.HTTPMethod, d.HTTPMethod)
	fillStr(&in.URLPath, d.URLPath)
	if in.Priority == nil {
		in.Priority = &d.Priority
	}
	if in.FixedRate == nil {
		in.FixedRate = &d.FixedRate
	}
	if in.ReservoirSize == nil {
		in.ReservoirSize = &d.ReservoirSize
	}
	if in.Version == nil {
		in.Version = &d.Version
	}
}
