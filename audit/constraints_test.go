package audit

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
)

// planWith expands a service as the CLI does, plans it for a site and
// returns the choice's constraints too.
func planWith(t *testing.T, slug string, sel resolve.Selection, site policy.Site) ([]policy.Rule, []policy.Skip, []resolve.Constraint) {
	t.Helper()
	c, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := c.Select([]string{slug})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := resolve.Choose(svcs, sel)
	if err != nil {
		t.Fatal(err)
	}
	flows, err := cs[0].Flows(true)
	if err != nil {
		t.Fatal(err)
	}
	h, err := resolve.ParseHosts("pins", strings.NewReader(pins))
	if err != nil {
		t.Fatal(err)
	}
	con, _, err := resolve.Concretize(context.Background(), flows, h)
	if err != nil {
		t.Fatal(err)
	}
	rules, skips, err := policy.Plan(con, site, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rules, skips, cs[0].Constraints()
}

var pexipParams = []string{"service_network=198.51.100.0/24", "h323_media_ports=40000-49999"}

func constraintOf(t *testing.T, rep *Report, kind string) ConstraintResult {
	t.Helper()
	for _, c := range rep.Constraints {
		if c.Kind == kind {
			return c
		}
	}
	t.Fatalf("no %s constraint in %+v", kind, rep.Constraints)
	return ConstraintResult{}
}

// nftFw4 is a ruleset in the shape of OpenWrt's fw4: a prerouting chain
// (priority prio) that sends the LAN's packets to a helper chain, which
// attaches the SIP helper to udp/5060 (hport: the port it is attached on).
func nftFw4(hport, extra string) string { return nftFw4At("0", hport, extra) }

func nftFw4At(prio, hport, extra string) string {
	return nftDoc(
		`{"ct helper": {"family": "inet", "name": "sip", "table": "fw4", "handle": 3, "type": "sip", "protocol": "udp", "l3proto": "inet"}}`,
		`{"chain": {"family": "inet", "table": "fw4", "name": "forward", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}}`,
		`{"chain": {"family": "inet", "table": "fw4", "name": "prerouting", "handle": 2, "type": "filter", "hook": "prerouting", "prio": `+prio+`, "policy": "accept"}}`,
		`{"chain": {"family": "inet", "table": "fw4", "name": "helper_lan", "handle": 4}}`,
		`{"rule": {"family": "inet", "table": "fw4", "chain": "prerouting", "handle": 10, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lan0"}}, {"jump": {"target": "helper_lan"}}]}}`,
		`{"rule": {"family": "inet", "table": "fw4", "chain": "helper_lan", "handle": 11, "expr": [`+extra+`{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": `+hport+`}}, {"ct helper": "sip"}], "comment": "!fw4: SIP VoIP connection tracking helper"}}`)
}

// firewalldStyle is the shape firewalld 1.x gives a service with <helper
// name="sip"/>: a ct helper object helper-sip-udp in table inet firewalld
// and "ct helper set" in the zone's allow chain.
const firewalldStyle = `{"nftables": [
{"ct helper": {"family": "inet", "name": "helper-sip-udp", "table": "firewalld", "handle": 7, "type": "sip", "protocol": "udp", "l3proto": "inet"}},
{"chain": {"family": "inet", "table": "firewalld", "name": "filter_FORWARD", "handle": 1, "type": "filter", "hook": "forward", "prio": 10, "policy": "accept"}},
{"chain": {"family": "inet", "table": "firewalld", "name": "filter_FWD_internal_allow", "handle": 2}},
{"rule": {"family": "inet", "table": "firewalld", "chain": "filter_FORWARD", "handle": 20, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lan0"}}, {"jump": {"target": "filter_FWD_internal_allow"}}]}},
{"rule": {"family": "inet", "table": "firewalld", "chain": "filter_FWD_internal_allow", "handle": 21, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5060}}, {"ct helper": "helper-sip-udp"}]}},
{"rule": {"family": "inet", "table": "firewalld", "chain": "filter_FWD_internal_allow", "handle": 22, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5060}}, {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["new", "untracked"]}}, {"accept": null}]}}
]}`

// nftTimeout attaches a ct timeout policy to udp/5060 (policy: the JSON
// of its states, as nft -j prints them).
func nftTimeout(policy string) string { return nftTimeoutAt("0", "udp", policy) }

func nftTimeoutAt(prio, proto, policy string) string {
	return nftDoc(
		`{"ct timeout": {"family": "inet", "name": "sip-udp", "table": "t", "handle": 4, "protocol": "`+proto+`", "l3proto": "ip", "policy": {`+policy+`}}}`,
		`{"chain": {"family": "inet", "table": "t", "name": "raw", "handle": 2, "type": "filter", "hook": "prerouting", "prio": `+prio+`, "policy": "accept"}}`,
		`{"rule": {"family": "inet", "table": "t", "chain": "raw", "handle": 12, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5060}}, {"ct timeout": "sip-udp"}]}}`)
}

func rawIpt(rule string) string {
	return header + "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" + rule + "\nCOMMIT\n" + filter("ACCEPT")
}

// TestConstraintALGOff checks the alg-off constraint: a SIP helper
// attached to the SIP flows by nft (OpenWrt's fw4 shape), by iptables
// and by firewalld fails it, naming the rule; elsewhere it is ok.
func TestConstraintALGOff(t *testing.T) {
	rules, skips, cs := planWith(t, "tw-solutions", resolve.Selection{}, gateway)
	for _, tt := range []struct {
		name, text, status, rule string
	}{
		{"fw4 helper on 5060", nftFw4("5060", ""), ConstraintFail, "inet fw4 helper_lan handle 11"},
		{"iptables CT --helper", rawIpt("-A PREROUTING -p udp -m udp --dport 5060 -j CT --helper sip"), ConstraintFail, "line 5: -A PREROUTING -p udp -m udp --dport 5060 -j CT --helper sip"},
		{"firewalld service helper", firewalldStyle, ConstraintFail, "inet firewalld filter_FWD_internal_allow handle 21"},
		{"no helper", filter("ACCEPT"), ConstraintOK, ""},
		{"a helper on another port", nftFw4("5090", ""), ConstraintOK, ""},
		{"ct helper set before conntrack does nothing", nftFw4At("-300", "5060", ""), ConstraintOK, ""},
		{"another helper", rawIpt("-A PREROUTING -p udp -m udp --dport 5060 -j CT --helper tftp"), ConstraintOK, ""},
		{"a helper after a condition portolan cannot decide", nftFw4("5060", `{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 1}}, `), ConstraintUnknown, "inet fw4 helper_lan handle 11"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := run(t, tt.text, gateway, rules, skips, Options{Constraints: cs})
			c := constraintOf(t, rep, "alg-off")
			if c.Status != tt.status {
				t.Fatalf("status %s, want %s: %s", c.Status, tt.status, c.Why)
			}
			got := ""
			if c.Rule != nil {
				got = c.Rule.String()
			}
			if got != tt.rule {
				t.Errorf("rule %q, want %q", got, tt.rule)
			}
			if len(c.Flows) == 0 || c.Flows[0] != "sip" {
				t.Errorf("flows %v", c.Flows)
			}
			if (c.Status == ConstraintFail) == rep.OK {
				t.Errorf("status %s, report ok %v", c.Status, rep.OK)
			}
			if c.Status == ConstraintFail && (c.Fix == "" || !strings.Contains(c.Why, "sip")) {
				t.Errorf("fail without a fix: %+v", c)
			}
		})
	}
	// H.323 (Pexip): the helper names of the H.323 family count.
	rules, skips, cs = planWith(t, "pexip", resolve.Selection{Features: []string{"h323"}, Params: pexipParams}, gateway)
	rep := run(t, rawIpt("-A PREROUTING -p tcp -m tcp --dport 1720 -j CT --helper Q.931"), gateway, rules, skips, Options{Constraints: cs})
	if c := constraintOf(t, rep, "alg-off"); c.Status != ConstraintFail {
		t.Errorf("h323: %+v", c)
	}
}

// TestConstraintNATTimeout checks the nat-timeout constraint (90 s for
// TW Solutions' SIP over UDP) against ct timeout policies.
func TestConstraintNATTimeout(t *testing.T) {
	rules, skips, cs := planWith(t, "tw-solutions", resolve.Selection{}, gateway)
	for _, tt := range []struct {
		name, text, status, why, fix string
	}{
		{"shorter", nftTimeout(`"unreplied": 30, "replied": 60`), ConstraintFail, `keeps replied udp bindings 60s, less than 1m30s`, "set replied to at least 90"},
		{"longer", nftTimeout(`"unreplied": 30, "replied": 180`), ConstraintOK, "180s", ""},
		{"not the state that matters", nftTimeout(`"unreplied": 300`), ConstraintUnknown, "sets no replied timeout", "nf_conntrack_udp_timeout_stream"},
		{"before connection tracking it does nothing", nftTimeoutAt("-300", "udp", `"replied": 60`), ConstraintUnknown, "no ct timeout policy on sip", ""},
		{"a policy of another protocol", nftTimeoutAt("0", "tcp", `"established": 60`), ConstraintUnknown, "no ct timeout policy on sip", ""},
		{"none", filter("ACCEPT"), ConstraintUnknown, "no ct timeout policy on sip", "sysctl net.netfilter.nf_conntrack_udp_timeout_stream >= 90"},
		{"iptables CT --timeout", rawIpt("-A PREROUTING -p udp -m udp --dport 5060 -j CT --timeout sip-udp"), ConstraintUnknown, "sets no replied timeout", "nfct timeout list"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := run(t, tt.text, gateway, rules, skips, Options{Constraints: cs})
			c := constraintOf(t, rep, "nat-timeout")
			if c.Status != tt.status || !strings.Contains(c.Why, tt.why) || !strings.Contains(c.Fix, tt.fix) {
				t.Errorf("%+v, want %s, %q, %q", c, tt.status, tt.why, tt.fix)
			}
			if c.Status != ConstraintOK && c.Status != ConstraintUnknown && rep.OK {
				t.Errorf("a failing constraint and the report is ok")
			}
		})
	}
}

// TestConstraintsNotAuditable checks that TLS, SSL inspection and proxy
// constraints are listed with the probe that checks them, in the table.
func TestConstraintsNotAuditable(t *testing.T) {
	rules, skips, cs := planWith(t, "pexip", resolve.Selection{Params: pexipParams}, gateway)
	rep := run(t, filter("ACCEPT"), gateway, rules, skips, Options{Constraints: cs})
	kinds := map[string]ConstraintResult{}
	for _, c := range rep.Constraints {
		kinds[c.Kind] = c
	}
	for _, k := range []string{"proxy-auth", "ssl-inspection-off", "via-proxy"} {
		if c, ok := kinds[k]; !ok || c.Status != ConstraintNotAuditable || !strings.HasPrefix(c.Fix, "portolan probe --check") {
			t.Errorf("%s: %+v", k, c)
		}
	}
	var b bytes.Buffer
	if err := WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\nConstraints:\n") || !strings.Contains(b.String(), "not-auditable") || !strings.Contains(b.String(), "check: portolan probe --check proxy") {
		t.Errorf("table:\n%s", b.String())
	}
}
