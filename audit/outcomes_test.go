package audit

import "github.com/portolan/portolan/policy"

// evalRule is follow's outcomes as a list, for the tests that read them
// one by one.
func (a *Auditor) evalRule(r policy.Rule, fw *policy.Rule, opt Options, sh *shadows) ([]outcome, string) {
	return a.evalPath(r, fw, opt, sh, false)
}

// evalPath is evalRule, with anyDNAT as follow takes it.
func (a *Auditor) evalPath(r policy.Rule, fw *policy.Rule, opt Options, sh *shadows, anyDNAT bool) ([]outcome, string) {
	var out []outcome
	note := a.follow(r, fw, opt, sh, anyDNAT, func(o outcome) { out = append(out, o) })
	return out, note
}
