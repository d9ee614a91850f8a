package audit

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/resolve"
)

// Constraint statuses.
const (
	ConstraintOK           = "ok"
	ConstraintFail         = "fail"
	ConstraintUnknown      = "unknown"
	ConstraintNotAuditable = "not-auditable"
)

// ConstraintResult is the audit of one of a service's constraints that
// are not ports (alg-off, nat-timeout…) against the ruleset.
type ConstraintResult struct {
	Service string `json:"service"`
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	// Status is ok, fail, unknown, or not-auditable (out of a packet
	// filter's sight: Fix names the probe that checks it).
	Status string `json:"status"`
	// Rule is the deciding rule: the one attaching a helper or a timeout.
	Rule *RuleRef `json:"rule,omitempty"`
	// Flows are the flows the constraint was checked on.
	Flows []string `json:"flows,omitempty"`
	Why   string   `json:"why"`
	// Fix says what to change, or how to check.
	Fix string `json:"fix,omitempty"`
}

// algHelpers are the kernel's conntrack helper names per application.
var algHelpers = map[string][]string{
	"sip":  {"sip"},
	"h323": {"h323", "ras", "q.931", "h.245"},
}

// flowInfo is what the audit of constraints needs of an audited flow.
type flowInfo struct {
	res     *FlowResult
	flow    *resolve.Concrete
	attach  map[*ruleset.Rule]bool
	checked bool // some of its packets were followed
}

// constraints audits the services' constraints on the flows audited.
func (a *Auditor) constraints(cs []resolve.Constraint, flows []flowInfo) []ConstraintResult {
	out := []ConstraintResult{}
	for _, c := range cs {
		r := ConstraintResult{Service: c.Service, ID: c.ID, Kind: string(c.Kind)}
		switch c.Kind {
		case model.KindALGOff:
			a.algOff(&r, c, flows)
		case model.KindNATTimeout:
			a.natTimeout(&r, c, flows)
		case model.KindTLSMin:
			r.Status = ConstraintNotAuditable
			r.Why = "TLS versions are out of a packet filter's sight"
			r.Fix = "portolan probe --check tls"
		case model.KindSSLInspectionOff:
			r.Status = ConstraintNotAuditable
			r.Why = "SSL inspection happens in a proxy or appliance, out of a packet filter's sight"
			r.Fix = "portolan probe --check tls (the certificate chain a client sees)"
		case model.KindProxyAuth, model.KindViaProxy:
			r.Status = ConstraintNotAuditable
			r.Why = "the web proxy is out of a packet filter's sight"
			r.Fix = "portolan probe --check proxy"
		default:
			continue
		}
		out = append(out, r)
	}
	return out
}

// pickFlows returns the audited flows of the constraint's service that match.
func pickFlows(flows []flowInfo, service string, match func(*resolve.Concrete) bool) []flowInfo {
	var out []flowInfo
	for _, f := range flows {
		if f.flow.Service == service && match(f.flow) {
			out = append(out, f)
		}
	}
	return out
}

func flowNames(fs []flowInfo) []string {
	var out []string
	for _, f := range fs {
		if !slices.Contains(out, f.res.Flow) {
			out = append(out, f.res.Flow)
		}
	}
	return out
}

// attached lists the rules met by the flows' first packets that attach
// what want accepts, sure ones first, in ruleset order.
func attached(fs []flowInfo, want func(*ruleset.Rule) bool) (sure, maybe []*ruleset.Rule) {
	seen := map[*ruleset.Rule]bool{}
	for _, f := range fs {
		for r, s := range f.attach {
			if !want(r) {
				continue
			}
			if s && !seen[r] {
				sure = append(sure, r)
				seen[r] = true
			}
		}
	}
	for _, f := range fs {
		for r, s := range f.attach {
			if want(r) && !s && !seen[r] {
				maybe = append(maybe, r)
				seen[r] = true
			}
		}
	}
	byPos := func(x, y *ruleset.Rule) int {
		if c := strings.Compare(x.Chain.String(), y.Chain.String()); c != 0 {
			return c
		}
		return x.Index - y.Index
	}
	slices.SortFunc(sure, byPos)
	slices.SortFunc(maybe, byPos)
	return sure, maybe
}

// algOff checks that no rule attaches a conntrack helper of the
// constraint's applications (sip, h323) to the service's flows of them.
func (a *Auditor) algOff(r *ConstraintResult, c resolve.Constraint, flows []flowInfo) {
	apps := c.Apps
	if len(apps) == 0 {
		apps = []string{"sip", "h323"}
	}
	var names []string
	for _, app := range apps {
		names = append(names, algHelpers[strings.ToLower(app)]...)
	}
	fs := pickFlows(flows, c.Service, func(f *resolve.Concrete) bool { return slices.Contains(apps, f.App) })
	r.Flows = flowNames(fs)
	if len(fs) == 0 {
		r.Status = ConstraintUnknown
		r.Why = fmt.Sprintf("no %s flow of the service was checked", strings.Join(apps, " or "))
		return
	}
	isALG := func(x *ruleset.Rule) bool {
		return x.X != nil && x.X.Helper != "" && slices.Contains(names, strings.ToLower(x.X.Helper))
	}
	sure, maybe := attached(fs, isALG)
	switch {
	case len(sure) > 0:
		x := attachRef(sure[0])
		r.Status, r.Rule = ConstraintFail, &x
		r.Why = fmt.Sprintf("conntrack helper %q is attached to %s by %s", sure[0].X.Helper, strings.Join(r.Flows, ", "), x)
		r.Fix = "remove the rule that attaches the helper (" + helperHow(sure[0]) + ")"
	case len(maybe) > 0:
		x := attachRef(maybe[0])
		r.Status, r.Rule = ConstraintUnknown, &x
		r.Why = fmt.Sprintf("conntrack helper %q may be attached to %s by %s, after a condition portolan cannot decide", maybe[0].X.Helper, strings.Join(r.Flows, ", "), x)
		r.Fix = "remove the rule that attaches the helper (" + helperHow(maybe[0]) + ")"
	default:
		r.Status = ConstraintOK
		r.Why = fmt.Sprintf("no rule attaches a %s helper to %s; the kernel attaches none on its own while net.netfilter.nf_conntrack_helper is 0 (the default since Linux 4.7)",
			strings.Join(apps, " or "), strings.Join(r.Flows, ", "))
	}
}

// helperHow says how the rule attaches its helper.
func helperHow(r *ruleset.Rule) string {
	if r.X != nil && r.X.HelperOff != "" {
		return r.X.HelperOff
	}
	if strings.Contains(r.Pos.Text, "-j CT") {
		return "-j CT --helper " + r.X.Helper
	}
	if strings.Contains(r.Chain.Table, "fw4") {
		return "OpenWrt: option helper '' or auto_helper 0 on the zone"
	}
	if r.Chain.Table == "firewalld" {
		return "firewalld: a service without <helper>, or firewall-cmd --remove-service"
	}
	return "ct helper set"
}

// natTimeout checks the ct timeout policies attached to the service's
// flows against the constraint's minimum.
func (a *Auditor) natTimeout(r *ConstraintResult, c resolve.Constraint, flows []flowInfo) {
	min, err := time.ParseDuration(c.MinTimeout)
	if err != nil || min <= 0 {
		r.Status = ConstraintUnknown
		r.Why = "the constraint names no minimum timeout"
		return
	}
	var ports model.PortSet
	for _, p := range c.Ports {
		if rs, err := model.ParsePortList(p); err == nil {
			ports = ports.Union(model.NewPortSet(rs...))
		}
	}
	fs := pickFlows(flows, c.Service, func(f *resolve.Concrete) bool {
		if len(c.Flows) > 0 {
			return slices.Contains(c.Flows, f.Flow.Flow) || slices.Contains(c.Flows, f.ID)
		}
		if len(c.Proto) > 0 && !slices.Contains(c.Proto, f.Proto) {
			return false
		}
		return ports.Empty() || !f.Ports.Intersect(ports).Empty()
	})
	r.Flows = flowNames(fs)
	proto := "udp"
	if len(c.Proto) == 1 {
		proto = c.Proto[0]
	}
	state, sysctl := "replied", "net.netfilter.nf_conntrack_udp_timeout_stream"
	if proto == model.TCP {
		state, sysctl = "established", "net.netfilter.nf_conntrack_tcp_timeout_established"
	}
	if len(fs) == 0 {
		r.Status = ConstraintUnknown
		r.Why = "no flow of the constraint was checked"
		return
	}
	// A policy of another protocol leaves the connection alone.
	hasTimeout := func(x *ruleset.Rule) bool {
		return x.X != nil && x.X.Timeout != nil && (x.X.Timeout.Proto == "" || x.X.Timeout.Proto == proto)
	}
	sure, maybe := attached(fs, hasTimeout)
	all := append(slices.Clone(sure), maybe...)
	if len(all) == 0 {
		r.Status = ConstraintUnknown
		r.Why = fmt.Sprintf("no ct timeout policy on %s: the kernel's default applies", strings.Join(r.Flows, ", "))
		r.Fix = fmt.Sprintf("sysctl %s >= %d", sysctl, int(min.Seconds()))
		return
	}
	for _, x := range all {
		t := x.X.Timeout
		ref := attachRef(x)
		secs, ok := t.Policy[state]
		switch {
		case !ok:
			r.Status, r.Rule = ConstraintUnknown, &ref
			r.Why = fmt.Sprintf("ct timeout %q (%s) sets no %s timeout that the ruleset shows: the kernel's default applies", t.Name, ref, state)
			r.Fix = fmt.Sprintf("sysctl %s >= %d, or %s set in the policy (nfct timeout list for -j CT --timeout)", sysctl, int(min.Seconds()), state)
			return
		case time.Duration(secs)*time.Second < min:
			r.Status, r.Rule = ConstraintFail, &ref
			r.Why = fmt.Sprintf("ct timeout %q (%s) keeps %s %s bindings %ds, less than %s", t.Name, ref, state, proto, secs, min)
			r.Fix = fmt.Sprintf("set %s to at least %d in the timeout policy %q", state, int(min.Seconds()), t.Name)
			if !slices.Contains(sure, x) {
				r.Status = ConstraintUnknown
				r.Why += ", if a condition portolan cannot decide holds"
			}
			return
		}
	}
	x := attachRef(all[0])
	r.Status, r.Rule = ConstraintOK, &x
	r.Why = fmt.Sprintf("ct timeout %q keeps %s %s bindings %ds or more, at least %s", all[0].X.Timeout.Name, state, proto, all[0].X.Timeout.Policy[state], min)
	if len(maybe) > 0 && len(sure) == 0 {
		r.Status = ConstraintUnknown
		r.Why += ", if a condition portolan cannot decide holds"
		r.Fix = fmt.Sprintf("sysctl %s >= %d", sysctl, int(min.Seconds()))
	}
}

// attachRef names a rule that attaches a helper or a timeout, with what
// it attaches as its verdict.
func attachRef(r *ruleset.Rule) RuleRef {
	x := ref(r, nil)
	switch {
	case r.X.Helper != "":
		x.Verdict = "ct helper " + r.X.Helper
	case r.X.Timeout != nil:
		x.Verdict = "ct timeout " + r.X.Timeout.Name
	}
	return x
}
