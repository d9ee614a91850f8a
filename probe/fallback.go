package probe

import (
	"fmt"
	"strings"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/resolve"
)

// FallbackInfo is the order a client tries its ways out, and what each
// way did here.
type FallbackInfo struct {
	Steps []FallbackStep `json:"steps"`
	// Chosen is the first way that works: what clients end up using.
	Chosen string `json:"chosen,omitempty"`
}

// FallbackStep is one way out: "udp/24704", "tcp/443 (tunnel-https)".
type FallbackStep struct {
	Way   string `json:"way"`
	State string `json:"state"` // open, blocked, not probed
}

// hasFallback reports whether a flow has an order of ways out: a one-of
// group of ports, or fallback flows.
func hasFallback(c *resolve.Concrete) bool {
	return (c.OneOf && len(c.PortOrder) > 1) || len(c.Fallback) > 0
}

// fallbackResult walks a flow's ways out in the client's order (the one-of
// ports in the document's order, then the fallback flows) over the
// results the other checks found, and names the one clients end up on.
// A working fallback is a warning, not a failure.
func fallbackResult(env *runEnv, p *Plan, fp *flowPlan, scan *portScan, tcp map[string]*future[[]Result]) Result {
	r := base(fp, CheckFallback)
	info := &FallbackInfo{}
	r.Fallback = info
	required := fp.c.Necessity == model.Required

	// The flow's own ways.
	if fp.c.Proto == model.UDP {
		var ports []uint16
		if fp.c.OneOf {
			for _, pr := range fp.c.PortOrder {
				ports = append(ports, pr.Lo)
			}
		} else {
			ports = sample(fp.c.Ports.Intersect(env.info.UDP), env.cfg.Sample)
		}
		if fp.c.OneOf {
			for _, port := range ports {
				info.Steps = append(info.Steps, FallbackStep{fmt.Sprintf("udp/%d", port), udpState(env, fp, scan, port)})
			}
		} else {
			info.Steps = append(info.Steps, FallbackStep{"udp/" + strings.Join(fp.c.Ports.Strings(), ","), udpGroupState(env, fp, scan, ports)})
		}
	} else {
		rs := tcp[key(fp.c)]
		if fp.c.OneOf {
			for _, pr := range fp.c.PortOrder {
				info.Steps = append(info.Steps, FallbackStep{fmt.Sprintf("tcp/%d", pr.Lo), tcpPortState(rs, pr.Lo)})
			}
		} else {
			info.Steps = append(info.Steps, FallbackStep{"tcp/" + strings.Join(fp.c.Ports.Strings(), ","), tcpFlowState(rs)})
		}
	}
	// Then the fallback flows, in order.
	for _, id := range fp.c.Fallback {
		for _, other := range p.flows {
			if other.c.Service != fp.c.Service || other.c.Flow.Flow != id {
				continue
			}
			required = required || other.c.Necessity == model.Required
			way := fmt.Sprintf("%s/%s (%s)", other.c.Proto, strings.Join(other.c.Ports.Strings(), ","), id)
			state := "not probed"
			switch {
			case other.skip != "":
			case other.c.Proto == model.TCP:
				state = tcpFlowState(tcp[key(other.c)])
			default:
				state = udpGroupState(env, other, scan, sample(other.c.Ports.Intersect(env.info.UDP), env.cfg.Sample))
			}
			info.Steps = append(info.Steps, FallbackStep{way, state})
		}
	}
	r.Required = required
	var ways []string
	for _, s := range info.Steps {
		ways = append(ways, s.Way)
	}
	r.Target = strings.Join(ways, " → ")

	var before []string
	for i, s := range info.Steps {
		r.Details = append(r.Details, s.Way+": "+s.State)
		if s.State != "open" {
			before = append(before, s.Way+" "+s.State)
			continue
		}
		info.Chosen = s.Way
		if i == 0 {
			r.Status, r.Summary = OK, s.Way+" works: the preferred way"
			return r
		}
		r.Status = Warn
		unknown := false
		for _, b := range info.Steps[:i] {
			unknown = unknown || b.State == "not probed"
		}
		if unknown {
			r.Summary = fmt.Sprintf("%s works; whether an earlier way does is not known (%s)", s.Way, strings.Join(before, ", "))
			return r
		}
		r.Summary = fmt.Sprintf("%s; clients fall back to %s", strings.Join(before, ", "), s.Way)
		if !strings.HasPrefix(s.Way, strings.SplitN(info.Steps[0].Way, "/", 2)[0]) {
			r.Summary += ": calls work, at lower quality"
		}
		return r
	}
	for _, s := range info.Steps {
		if s.State == "not probed" {
			r.Status, r.Summary = Error, "no way probed works, and not every way was probed: "+strings.Join(before, ", ")
			return r
		}
	}
	r.Status, r.Summary = Fail, "no way out works: "+strings.Join(before, ", ")
	return r
}

// udpState is one port's state in the reflector scan.
func udpState(env *runEnv, fp *flowPlan, scan *portScan, port uint16) string {
	switch {
	case !fp.reflector || env.infoErr != nil || scan.err != nil || !env.info.UDP.Contains(port) || !scan.probed.has(port):
		return "not probed"
	case scan.open.has(port):
		return "open"
	}
	return "blocked"
}

// udpGroupState is "open" when every probed port of a group answered.
func udpGroupState(env *runEnv, fp *flowPlan, scan *portScan, ports []uint16) string {
	probed, open := 0, 0
	for _, p := range ports {
		switch udpState(env, fp, scan, p) {
		case "open":
			probed++
			open++
		case "blocked":
			probed++
		}
	}
	switch {
	case probed == 0:
		return "not probed"
	case open == probed:
		return "open"
	case open == 0:
		return "blocked"
	}
	return fmt.Sprintf("partly blocked (%d of %d open)", open, probed)
}

// tcpFlowState is "open" when a TCP flow's results connected.
func tcpFlowState(f *future[[]Result]) string {
	if f == nil {
		return "not probed"
	}
	state := "not probed"
	for _, r := range f.get() {
		if r.Check != CheckTCP && r.Check != CheckProxy {
			continue
		}
		switch r.Status {
		case OK, Warn:
			return "open"
		case Fail:
			state = "blocked"
		}
	}
	return state
}

// tcpPortState reads one port of a one-of TCP group from its results.
func tcpPortState(f *future[[]Result], port uint16) string {
	if f == nil {
		return "not probed"
	}
	state := "not probed"
	for _, r := range f.get() {
		if r.Check != CheckTCP || r.Ports == nil {
			continue
		}
		if containsRange(r.Ports.Open, port) {
			return "open"
		}
		if containsRange(r.Ports.Blocked, port) {
			state = "blocked"
		}
	}
	return state
}

func containsRange(rs []string, port uint16) bool {
	for _, s := range rs {
		if r, err := model.ParsePortRange(s); err == nil && r.Contains(port) {
			return true
		}
	}
	return false
}
