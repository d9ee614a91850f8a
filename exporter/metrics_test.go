package exporter

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/portolan/portolan/probe"
)

// TestRegistry: each kind of result becomes its series, results that share
// labels are combined (a flow fails if one of its hosts does), values that
// came from the far end are made valid label values, and promtool accepts
// the text.
func TestRegistry(t *testing.T) {
	ms := func(s float64) probe.Millis { return probe.Millis(time.Duration(s * float64(time.Second))) }
	rep := &probe.Report{OK: false, Counts: map[probe.Status]int{probe.OK: 5, probe.Fail: 3, probe.Skip: 1}, Results: []probe.Result{
		{Check: "tcp", Service: "pexip", Flow: "https", Required: true, Status: probe.OK},
		{Check: "tcp", Service: "pexip", Flow: "https", Required: true, Status: probe.Fail},
		{Check: "tcp", Service: "pexip", Flow: "h323", Status: probe.Skip},
		{Check: "tls", Service: "pexip", Flow: "https", Status: probe.OK, TLS: &probe.TLSInfo{ServerName: "conf.example.com", Inspected: true, Verified: true}},
		{Check: "proxy", Service: "pexip", Flow: "https", Status: probe.Fail, Proxy: &probe.ProxyInfo{Offered: []string{"ntlm"}}},
		{Check: "stun", Service: "pexip", Flow: "stun", Status: probe.Warn, STUN: &probe.STUNInfo{Server: "198.51.100.7:3478", Mismatch: true}},
		{Check: "fallback", Service: "pexip", Flow: "media", Status: probe.Warn, Fallback: &probe.FallbackInfo{Chosen: "tcp/443 (tunnel-https)"}},
		{Check: "sip-alg", Service: "pexip", Constraint: "alg-off", Required: true, Status: probe.Fail,
			SIP: &probe.SIPInfo{ALG: true, Changes: []probe.SIPChange{{Where: "Via"}, {Where: "X-\xff\xfe" + strings.Repeat("h", 300)}}}},
		{Check: "nat-timeout", Service: "pexip", Constraint: "nat-90", Required: true, Status: probe.Fail,
			NAT: &probe.NATInfo{Min: ms(90), AliveAfter: ms(30), GoneAfter: ms(45)}},
		{Check: "udp", Service: "pexip", Flow: "rtp", Required: true, Status: probe.Fail,
			Ports: &probe.PortReport{Proto: "udp", Open: []string{"40000-40099", "40103"}, Blocked: []string{"40100-40102"}, NotProbed: []string{"40104-49999"}}},
	}}
	o := &outcome{service: "pexip", rep: rep, duration: 1500 * time.Millisecond}
	text := gatherText(t, o)
	for _, tc := range []struct {
		series string
		want   float64
	}{
		{`probe_success{service="pexip"}`, 0},
		{`probe_duration_seconds{service="pexip"}`, 1.5},
		{`portolan_results{service="pexip",status="fail"}`, 3},
		{`portolan_check_success{check="tcp",flow="https",service="pexip"}`, 0},
		{`portolan_check_required{check="tcp",flow="h323",service="pexip"}`, 0},
		{`portolan_check_success{check="stun",flow="stun",service="pexip"}`, 1},
		{`portolan_tls_intercepted{host="conf.example.com",service="pexip"}`, 1},
		{`portolan_tls_verified{host="conf.example.com",service="pexip"}`, 1},
		{`portolan_proxy_compatible{flow="https",service="pexip"}`, 0},
		{`portolan_stun_mismatch{server="198.51.100.7:3478",service="pexip"}`, 1},
		{`portolan_fallback_chosen{flow="media",service="pexip",way="tcp/443 (tunnel-https)"}`, 1},
		{`portolan_sip_alg_detected{service="pexip"}`, 1},
		{`portolan_check_success{check="sip-alg",flow="alg-off",service="pexip"}`, 0},
		{`portolan_nat_binding_seconds{constraint="nat-90",service="pexip"}`, 30},
		{`portolan_nat_binding_expired_seconds{constraint="nat-90",service="pexip"}`, 45},
		{`portolan_nat_binding_min_seconds{constraint="nat-90",service="pexip"}`, 90},
		{`portolan_udp_ports{flow="rtp",service="pexip",state="open"}`, 101},
		{`portolan_udp_ports{flow="rtp",service="pexip",state="blocked"}`, 3},
		{`portolan_udp_ports{flow="rtp",service="pexip",state="not_probed"}`, 9896},
		{`portolan_udp_blocked_range{flow="rtp",range="40100-40102",service="pexip"}`, 3},
	} {
		if v, ok := sample(text, tc.series); !ok || v != tc.want {
			t.Errorf("%s = %v (present %v), want %v", tc.series, v, ok, tc.want)
		}
	}
	if _, ok := sample(text, `portolan_check_success{check="tcp",flow="h323",service="pexip"}`); ok {
		t.Error("a check that was not probed has a success series")
	}
	if !strings.Contains(text, "where=\"X-\uFFFDhhh") || strings.Contains(text, strings.Repeat("h", 201)) {
		t.Errorf("the rewritten header's label is not made valid and bounded:\n%s", text)
	}
	promtool(t, text, "check", "metrics")

	// A refused run and one cut off by the scrape's end say so, and
	// nothing about the flows.
	for _, o := range []*outcome{{service: "pexip", rep: rep, refused: true}, {service: "pexip", rep: rep, timedOut: true}} {
		text := gatherText(t, o)
		if strings.Contains(text, "portolan_check_success") || strings.Contains(text, "portolan_udp_ports") ||
			!strings.Contains(text, `probe_success{service="pexip"} 0`) {
			t.Errorf("refused %v timed out %v:\n%s", o.refused, o.timedOut, text)
		}
	}
}

func gatherText(t *testing.T, o *outcome) string {
	t.Helper()
	mfs, err := o.registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
