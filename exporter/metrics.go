package exporter

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/probe"
)

// maxRewrites bounds the portolan_sip_alg_rewritten series of a service.
const maxRewrites = 16

// maxBlockedRanges bounds the portolan_udp_blocked_range series of one flow.
const maxBlockedRanges = 32

// outcome is one run's result: the report (nil when the run did not
// start), what stopped it, and its log.
type outcome struct {
	service  string
	rep      *probe.Report
	duration time.Duration
	// refused: the plan needed more time at the module's rate than the
	// scrape allows; nothing was probed.
	refused bool
	// timedOut: the run did not finish within the scrape's time.
	timedOut bool
	// err: the plan could not be made (a name, the reflector).
	err string
	log string
}

// gauge is a family of one probe's metrics.
type gauge struct {
	vec  *prometheus.GaugeVec
	vals map[string]float64
	lbls map[string][]string
	// agg combines the values of results that share labels.
	agg func(old, new float64) float64
}

func minf(a, b float64) float64 { return min(a, b) }
func maxf(a, b float64) float64 { return max(a, b) }
func sumf(a, b float64) float64 { return a + b }

// probeMetrics are the families /probe answers with.
type probeMetrics struct {
	reg *prometheus.Registry
	fam map[string]*gauge
}

func newProbeMetrics() *probeMetrics {
	m := &probeMetrics{reg: prometheus.NewRegistry(), fam: map[string]*gauge{}}
	def := func(name, help string, agg func(a, b float64) float64, labels ...string) {
		g := &gauge{
			vec:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels),
			vals: map[string]float64{}, lbls: map[string][]string{}, agg: agg,
		}
		m.reg.MustRegister(g.vec)
		m.fam[name] = g
	}
	def("probe_success", "Whether every required flow and constraint probed works (1) or not (0).", maxf, "service")
	def("probe_duration_seconds", "How long the probe took, in seconds.", maxf, "service")
	def("portolan_probe_refused", "1 when the run was not started: at the module's rate it needs more time than the scrape allows.", maxf, "service")
	def("portolan_probe_timed_out", "1 when the run did not finish within the scrape's time; its flows are then not reported.", maxf, "service")
	def("portolan_results", "Results of the run by status (ok, warn, fail, error, skip).", sumf, "service", "status")
	def("portolan_check_success", "Whether a check of a flow or constraint works (1) or not (0); absent when not probed.", minf, "service", "flow", "check")
	def("portolan_check_required", "Whether calls need the flow or constraint of the check (1: a failure breaks calls).", maxf, "service", "flow", "check")
	def("portolan_udp_ports", "UDP ports of a flow by state: open, blocked, not_probed (the reflector does not serve them).", sumf, "service", "flow", "state")
	def("portolan_udp_blocked_range", "Blocked UDP ports of a flow, one series per range (at most 32 per flow); the value is the number of ports.", sumf, "service", "flow", "range")
	def("portolan_sip_alg_detected", "Whether a SIP ALG rewrote the INVITE on its way to the reflector (1) or not (0).", maxf, "service")
	def("portolan_sip_alg_rewritten", "What the SIP ALG rewrote: Via, Contact, SDP c=… (1 each).", maxf, "service", "where")
	def("portolan_nat_binding_seconds", "The longest silence a UDP NAT binding was seen to survive, in seconds (in the quick check, the document's minimum when it survived it; 0 when none survived).", maxf, "service", "constraint")
	def("portolan_nat_binding_expired_seconds", "The shortest silence after which a UDP NAT binding was gone, in seconds; absent when none expired.", minf, "service", "constraint")
	def("portolan_nat_binding_min_seconds", "The UDP NAT binding lifetime the service's document asks for, in seconds (the catalog's nat-timeout constraint).", maxf, "service", "constraint")
	def("portolan_tls_intercepted", "Whether a middlebox re-signed the host's TLS certificate (SSL inspection).", maxf, "service", "host")
	def("portolan_tls_verified", "Whether the host's certificate verified for its name.", minf, "service", "host")
	def("portolan_proxy_compatible", "Whether the web proxy lets the flow through the way the document allows (1) or not (0).", minf, "service", "flow")
	def("portolan_stun_mismatch", "Whether MAPPED-ADDRESS and XOR-MAPPED-ADDRESS differ (an ALG rewriting addresses).", maxf, "service", "server")
	def("portolan_fallback_chosen", "The way out clients of the flow end up using (1).", maxf, "service", "flow", "way")
	return m
}

// maxLabel bounds a label value's length.
const maxLabel = 200

func (m *probeMetrics) set(name string, v float64, labels ...string) {
	g := m.fam[name]
	// Some values come from what the far end or a middlebox sent (the
	// headers an ALG rewrote): valid UTF-8 only, bounded.
	for i, l := range labels {
		l = strings.ToValidUTF8(l, "\uFFFD")
		if len(l) > maxLabel {
			l = strings.ToValidUTF8(l[:maxLabel], "") + "…"
		}
		labels[i] = l
	}
	k := strings.Join(labels, "\x00")
	if old, ok := g.vals[k]; ok {
		v = g.agg(old, v)
	}
	g.vals[k] = v
	g.lbls[k] = labels
}

func (m *probeMetrics) flush() {
	for _, g := range m.fam {
		for k, v := range g.vals {
			g.vec.WithLabelValues(g.lbls[k]...).Set(v)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// countPorts counts the ports of "10500-10502" style ranges.
func countPorts(rs []string) int {
	n := 0
	for _, s := range rs {
		if r, err := model.ParsePortRange(s); err == nil {
			n += r.Len()
		}
	}
	return n
}

// flowLabel names what a result is about: its flow, else its constraint.
func flowLabel(r *probe.Result) string {
	switch {
	case r.Flow != "":
		return r.Flow
	case r.Constraint != "":
		return r.Constraint
	}
	return "-"
}

// registry turns an outcome into the metrics of one /probe answer.
func (o *outcome) registry() *prometheus.Registry {
	m := newProbeMetrics()
	m.set("probe_duration_seconds", o.duration.Seconds(), o.service)
	m.set("portolan_probe_refused", b2f(o.refused), o.service)
	m.set("portolan_probe_timed_out", b2f(o.timedOut), o.service)
	// A refused run probed nothing, and a run cut short by the scrape's
	// end counts what it did not get to as blocked: neither tells about
	// the flows (debug=true shows the partial report).
	if o.rep == nil || o.refused || o.timedOut {
		m.set("probe_success", 0, o.service)
		m.flush()
		return m.reg
	}
	m.set("probe_success", b2f(o.rep.OK), o.service)
	for _, st := range probe.Statuses {
		m.set("portolan_results", float64(o.rep.Counts[st]), o.service, string(st))
	}
	for i := range o.rep.Results {
		r := &o.rep.Results[i]
		svc, flow := r.Service, flowLabel(r)
		m.set("portolan_check_required", b2f(r.Required), svc, flow, r.Check)
		if r.Status == probe.Skip {
			continue
		}
		m.set("portolan_check_success", b2f(r.Status == probe.OK || r.Status == probe.Warn), svc, flow, r.Check)
		if r.Ports != nil && r.Ports.Proto == model.UDP {
			m.set("portolan_udp_ports", float64(countPorts(r.Ports.Open)), svc, flow, "open")
			m.set("portolan_udp_ports", float64(countPorts(r.Ports.Blocked)), svc, flow, "blocked")
			m.set("portolan_udp_ports", float64(countPorts(r.Ports.NotProbed)), svc, flow, "not_probed")
			for j, rg := range r.Ports.Blocked {
				if j == maxBlockedRanges {
					break
				}
				m.set("portolan_udp_blocked_range", float64(countPorts([]string{rg})), svc, flow, rg)
			}
		}
		if r.SIP != nil && r.Status != probe.Error {
			m.set("portolan_sip_alg_detected", b2f(r.SIP.ALG), svc)
			for j, c := range r.SIP.Changes {
				if j == maxRewrites {
					break
				}
				m.set("portolan_sip_alg_rewritten", 1, svc, c.Where)
			}
		}
		if r.NAT != nil && r.Status != probe.Error {
			k := r.Constraint
			m.set("portolan_nat_binding_seconds", time.Duration(r.NAT.AliveAfter).Seconds(), svc, k)
			if r.NAT.GoneAfter > 0 {
				m.set("portolan_nat_binding_expired_seconds", time.Duration(r.NAT.GoneAfter).Seconds(), svc, k)
			}
			if r.NAT.Min > 0 {
				m.set("portolan_nat_binding_min_seconds", time.Duration(r.NAT.Min).Seconds(), svc, k)
			}
		}
		if r.TLS != nil {
			host := r.TLS.ServerName
			if host == "" {
				host = r.Target
			}
			m.set("portolan_tls_intercepted", b2f(r.TLS.Inspected), svc, host)
			m.set("portolan_tls_verified", b2f(r.TLS.Verified), svc, host)
		}
		if r.Check == probe.CheckProxy && r.Proxy != nil && r.Status != probe.Error {
			m.set("portolan_proxy_compatible", b2f(r.Status == probe.OK || r.Status == probe.Warn), svc, flow)
		}
		if r.STUN != nil {
			m.set("portolan_stun_mismatch", b2f(r.STUN.Mismatch), svc, r.STUN.Server)
		}
		if r.Fallback != nil && r.Fallback.Chosen != "" {
			m.set("portolan_fallback_chosen", 1, svc, flow, r.Fallback.Chosen)
		}
	}
	m.flush()
	return m.reg
}
