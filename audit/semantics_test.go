package audit

import (
	"strconv"
	"strings"
	"testing"

	"github.com/portolan/portolan/resolve"
)

// nftDoc wraps nft JSON elements as nft -j list ruleset prints them.
func nftDoc(elems ...string) string {
	return `{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, ` + strings.Join(elems, ", ") + `]}`
}

// TestRepeatedConditions checks that a condition portolan does not model
// answers alike for one packet wherever it is asked (Docker's ipset in two
// FORWARD rules), and no longer once a rule may have changed what it reads.
func TestRepeatedConditions(t *testing.T) {
	rules, skips := plan(t, "starleaf", resolve.Selection{Params: []string{"company=acme"}}, gateway)
	est := "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
	for _, tt := range []struct {
		name    string
		text    string
		verdict Verdict
		why     string // in the summary
	}{
		{name: "the same set twice", verdict: Allowed, text: filter("ACCEPT", est,
			"-A FORWARD -m set --match-set docker-ext-bridges-v4 dst -j sub",
			"-A FORWARD -m set --match-set docker-ext-bridges-v4 dst -j DROP",
			"-A sub -j ACCEPT")},
		{name: "the set and its negation", verdict: Allowed, text: filter("DROP", est,
			"-A FORWARD -m set ! --match-set docker-ext-bridges-v4 dst -j ACCEPT",
			"-A FORWARD -m set --match-set docker-ext-bridges-v4 dst -j ACCEPT")},
		{name: "two sets are two conditions", verdict: Unknown, text: filter("DROP", est,
			"-A FORWARD -m set ! --match-set docker-ext-bridges-v4 dst -j ACCEPT",
			"-A FORWARD -m set --match-set docker-ext-bridges-v6 dst -j ACCEPT")},
		{name: "the same set on the other address", verdict: Unknown, text: filter("DROP", est,
			"-A FORWARD -m set ! --match-set docker-ext-bridges-v4 dst -j ACCEPT",
			"-A FORWARD -m set --match-set docker-ext-bridges-v4 src -j ACCEPT")},
		{name: "a mark set between", verdict: Unknown, text: filter("ACCEPT", est,
			"-A FORWARD -m mark --mark 0x1 -j sub",
			"-A FORWARD -j MARK --set-xmark 0x1/0xffffffff",
			"-A FORWARD -m mark --mark 0x1 -j DROP",
			"-A sub -j ACCEPT")},
		{name: "a rate limit is not a fixed answer", verdict: Unknown, text: filter("ACCEPT", est,
			"-A FORWARD -m limit --limit 5/sec -j sub",
			"-A FORWARD -m limit --limit 5/sec -j DROP",
			"-A sub -j ACCEPT")},
		{name: "ct mark in nft", verdict: Allowed, text: nftDoc(
			`{"chain": {"family": "inet", "table": "t", "name": "fw", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}}`,
			`{"rule": {"family": "inet", "table": "t", "chain": "fw", "handle": 2, "expr": [{"match": {"op": "==", "left": {"ct": {"key": "mark"}}, "right": 1}}, {"accept": null}]}}`,
			`{"rule": {"family": "inet", "table": "t", "chain": "fw", "handle": 3, "expr": [{"match": {"op": "!=", "left": {"ct": {"key": "mark"}}, "right": 1}}, {"accept": null}]}}`)},
		{name: "ct mark in nft, other values", verdict: Unknown, why: "handle 3", text: nftDoc(
			`{"chain": {"family": "inet", "table": "t", "name": "fw", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}}`,
			`{"rule": {"family": "inet", "table": "t", "chain": "fw", "handle": 2, "expr": [{"match": {"op": "==", "left": {"ct": {"key": "mark"}}, "right": 1}}, {"accept": null}]}}`,
			`{"rule": {"family": "inet", "table": "t", "chain": "fw", "handle": 3, "expr": [{"match": {"op": "!=", "left": {"ct": {"key": "mark"}}, "right": 2}}, {"accept": null}]}}`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := run(t, tt.text, gateway, rules, skips, Options{})
			f := flow(t, rep, "tunnel-https")
			if f.Verdict != tt.verdict {
				t.Fatalf("verdict %s, want %s: %s", f.Verdict, tt.verdict, f.Summary)
			}
			if !strings.Contains(f.Summary, tt.why) {
				t.Errorf("summary %q lacks %q", f.Summary, tt.why)
			}
		})
	}
}

// iptablesNft is the shape of what iptables-nft writes, as nft -j list
// ruleset shows it: xt expressions without their arguments.
func iptablesNft(forward ...string) string {
	el := []string{
		`{"table": {"family": "ip", "name": "filter", "handle": 2}}`,
		`{"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}}`,
		`{"table": {"family": "ip", "name": "nat", "handle": 3}}`,
		`{"chain": {"family": "ip", "table": "nat", "name": "POSTROUTING", "handle": 1, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}`,
		`{"rule": {"family": "ip", "table": "nat", "chain": "POSTROUTING", "handle": 2, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "wan0"}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "MASQUERADE"}}]}}`,
	}
	for i, f := range forward {
		el = append(el, `{"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": `+strconv.Itoa(10+i)+`, "expr": [`+f+`]}}`)
	}
	return nftDoc(el...)
}

const (
	ctEst   = `{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}`
	xtSet   = `{"xt": {"type": "match", "name": "set"}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}`
	xtLog   = `{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 443}}, {"xt": {"type": "target", "name": "LOG"}}`
	tcp443  = `{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 443}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}`
	xtQueue = `{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 443}}, {"xt": {"type": "target", "name": "NFQUEUE"}}`
)

// TestXtTargets checks iptables-nft rules read through nft -j: a target
// that cannot drop (MASQUERADE, LOG) leaves the verdict known; an unknown
// part names the rule that is really unknown.
func TestXtTargets(t *testing.T) {
	rules, skips := plan(t, "starleaf", resolve.Selection{Params: []string{"company=acme"}}, gateway)
	for _, tt := range []struct {
		name    string
		text    string
		verdict Verdict
		why     string
	}{
		{name: "log and masquerade", verdict: Allowed, why: "accepted by ip filter FORWARD handle 12; masquerade by ip nat POSTROUTING handle 2",
			text: iptablesNft(ctEst, xtLog, tcp443)},
		{name: "queue after an unknown match", verdict: Unknown, why: "NFQUEUE",
			text: iptablesNft(ctEst, xtSet, xtQueue, tcp443)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := run(t, tt.text, gateway, rules, skips, Options{})
			f := flow(t, rep, "tunnel-https")
			if f.Verdict != tt.verdict {
				t.Fatalf("verdict %s, want %s: %s", f.Verdict, tt.verdict, f.Summary)
			}
			if !strings.Contains(f.Summary, tt.why) {
				t.Errorf("summary %q lacks %q", f.Summary, tt.why)
			}
		})
	}
}

// TestDNATMap checks a port forward through an nft dnat map: a port in
// the map is forwarded, a port not in it is not translated, which is what
// the kernel does, not unknown.
func TestDNATMap(t *testing.T) {
	sel := resolve.Selection{Features: []string{"scenario-1"}, Params: []string{"pbx_address=192.0.2.10", "sip_provider=198.51.100.0/24"}}
	rules, skips := plan(t, "starface", sel, gateway)
	doc := func(data string) string {
		return nftDoc(
			`{"map": {"family": "ip", "name": "pf", "table": "t", "type": "inet_service", "handle": 5, "map": "ipv4_addr", "elem": [`+data+`]}}`,
			`{"chain": {"family": "ip", "table": "t", "name": "pre", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}`,
			`{"chain": {"family": "ip", "table": "t", "name": "fw", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}}`,
			`{"rule": {"family": "ip", "table": "t", "chain": "pre", "handle": 7, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "wan0"}}, {"dnat": {"addr": {"map": {"key": {"payload": {"protocol": "udp", "field": "dport"}}, "data": "@pf"}}}}]}}`,
			`{"rule": {"family": "ip", "table": "t", "chain": "fw", "handle": 8, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}}`,
			`{"rule": {"family": "ip", "table": "t", "chain": "fw", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "192.0.2.10"}}, {"accept": null}]}}`)
	}
	for _, tt := range []struct {
		name, data string
		verdict    Verdict
		why        string
	}{
		{"in the map", `[5060, "192.0.2.10"]`, Allowed, ""},
		{"in the map with a port", `[5060, {"concat": ["192.0.2.10", 5080]}]`, Blocked, "forwarded to port 5080"},
		{"not in the map", `[5070, "192.0.2.10"]`, Blocked, "not forwarded: no DNAT to 192.0.2.10"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := run(t, doc(tt.data), gateway, rules, skips, Options{})
			f := flow(t, rep, "s1-sip-in")
			if f.Verdict != tt.verdict {
				t.Fatalf("verdict %s, want %s: %s", f.Verdict, tt.verdict, f.Summary)
			}
			if tt.why != "" && !strings.Contains(failing(f).Why, tt.why) {
				t.Errorf("why %q lacks %q", failing(f).Why, tt.why)
			}
		})
	}
}

// TestNotShadowedByUncertain checks that a rule after one portolan cannot
// decide (a rate limit) is not reported as shadowed by it, while a rule
// after a sure one still is.
func TestNotShadowedByUncertain(t *testing.T) {
	rules, skips := plan(t, "starleaf", resolve.Selection{Params: []string{"company=acme"}}, gateway)
	rep := run(t, filter("DROP",
		"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
		"-A FORWARD -p tcp -m limit --limit 5/sec -j DROP",
		"-A FORWARD -p tcp -m tcp --dport 443 -j ACCEPT"), gateway, rules, skips, Options{})
	f := flow(t, rep, "tunnel-https")
	if len(f.Shadowed) != 0 {
		t.Errorf("shadowed %+v", f.Shadowed)
	}
	rep = run(t, filter("DROP",
		"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
		"-A FORWARD -p tcp -j DROP",
		"-A FORWARD -p tcp -m tcp --dport 443 -j ACCEPT"), gateway, rules, skips, Options{})
	f = flow(t, rep, "tunnel-https")
	if len(f.Shadowed) != 1 || f.Shadowed[0].Rule.Line != 9 {
		t.Errorf("shadowed %+v", f.Shadowed)
	}
}

// TestWhyNamesFilterDecision checks that an accepted flow is explained by
// the filter chain's rule or policy, the NAT rule named apart.
func TestWhyNamesFilterDecision(t *testing.T) {
	rules, skips := plan(t, "starleaf", resolve.Selection{Params: []string{"company=acme"}}, gateway)
	nat := header + "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o wan0 -j MASQUERADE\nCOMMIT\n"
	rep := run(t, nat+filter("ACCEPT"), gateway, rules, skips, Options{})
	f := flow(t, rep, "tunnel-https")
	want := "accepted by policy accept of chain ip filter FORWARD (line 12); masquerade by line 7: -A POSTROUTING -o wan0 -j MASQUERADE"
	if f.Verdict != Allowed || f.Summary != want {
		t.Errorf("%s: %q, want %q", f.Verdict, f.Summary, want)
	}
	if p := f.Parts[0]; len(p.NAT) != 1 || p.NAT[0].Line != 7 || p.Rule == nil || !p.Rule.Policy {
		t.Errorf("part %+v", p)
	}
}

// TestWitnessIsAHost checks that a witness is never a network's own
// address.
func TestWitnessIsAHost(t *testing.T) {
	rules, skips := plan(t, "starleaf", resolve.Selection{Params: []string{"company=acme"}}, gateway)
	rep := run(t, filter("DROP",
		"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
		"-A FORWARD -s 192.0.2.0/31 -j DROP",
		"-A FORWARD -s 192.0.2.128/25 -j DROP",
		"-A FORWARD -p tcp -m tcp --dport 443 -j ACCEPT"), gateway, rules, skips, Options{})
	f := flow(t, rep, "tunnel-https")
	for _, p := range f.Parts {
		if p.Witness != nil && (strings.HasPrefix(p.Witness.Src, "192.0.2.0:") || strings.HasPrefix(p.Witness.Src, "192.0.2.128:")) {
			t.Errorf("witness %s of part %s", p.Witness, p.Src)
		}
	}
}
