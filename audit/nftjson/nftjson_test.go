package nftjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit/ruleset"
)

func load(t *testing.T) *ruleset.Ruleset {
	t.Helper()
	data, err := os.ReadFile("testdata/constructs.json")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Parse("constructs.json", data)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// rules returns the rules of a chain by handle (two for a split rule).
func rules(rs *ruleset.Ruleset, family, table, chain string) map[int64][]*ruleset.Rule {
	out := map[int64][]*ruleset.Rule{}
	c := rs.Lookup(family, table, chain)
	if c == nil {
		return out
	}
	for _, r := range c.Rules {
		out[r.Pos.Handle] = append(out[r.Pos.Handle], r)
	}
	return out
}

// term finds the term on field f (the first one).
func term(r *ruleset.Rule, f ...ruleset.Field) *ruleset.Term {
	for i := range r.Terms {
		t := &r.Terms[i]
		if len(t.Fields) == len(f) {
			same := true
			for j := range f {
				same = same && t.Fields[j] == f[j]
			}
			if same {
				return t
			}
		}
	}
	return nil
}

func TestParseChains(t *testing.T) {
	rs := load(t)
	if rs.Format != ruleset.NftJSON || !rs.HasFamily(4) || !rs.HasFamily(6) {
		t.Errorf("format %s families %v", rs.Format, rs.Families)
	}
	fw := rs.Lookup("inet", "filter", "forward")
	if fw == nil || !fw.Base || fw.Hook != "forward" || fw.Prio != 0 || fw.Policy != ruleset.Drop || fw.Type != "filter" {
		t.Fatalf("forward chain = %+v", fw)
	}
	if sub := rs.Lookup("inet", "filter", "sub"); sub == nil || sub.Base || len(sub.Rules) != 2 {
		t.Errorf("sub = %+v", sub)
	}
	pre := rs.Lookup("ip", "nat", "pre")
	if pre == nil || pre.Type != "nat" || pre.Prio != -100 || pre.Hook != "prerouting" {
		t.Errorf("nat pre = %+v", pre)
	}
	if in := rs.Lookup("netdev", "ingress", "in"); in == nil || in.Hook != "ingress" {
		t.Errorf("netdev chain = %+v", in)
	}
	if len(rs.Notes) == 0 || !strings.Contains(strings.Join(rs.Notes, "\n"), "arp chain arp a in is not evaluated") {
		t.Errorf("notes = %q", rs.Notes)
	}
	for i, r := range fw.Rules {
		if r.Index != i || r.Chain != fw {
			t.Fatalf("rule %d: index %d", i, r.Index)
		}
	}
}

func TestParseRules(t *testing.T) {
	rs := load(t)
	f := rules(rs, "inet", "filter", "forward")
	one := func(h int64) *ruleset.Rule {
		t.Helper()
		if len(f[h]) != 1 {
			t.Fatalf("handle %d: %d rules", h, len(f[h]))
		}
		return f[h][0]
	}
	// ct state established,related: any of the bits
	if tm := term(one(9), ruleset.CtState); tm == nil || tm.Mask != ruleset.CtEstablished|ruleset.CtRelated || !tm.Neg || tm.Set[0][0].Num != 0 {
		t.Errorf("ct state established,related = %+v", tm)
	}
	r := one(13)
	if tm := term(r, ruleset.IIfName); tm == nil || tm.Set[0][0].Name != "lan" || !tm.Set[0][0].Prefix || tm.Neg {
		t.Errorf("iifname lan* = %+v", tm)
	}
	if tm := term(r, ruleset.OIfName); tm == nil || !tm.Neg || len(tm.Set) != 2 {
		t.Errorf("oifname != {x, wan0} = %+v", tm)
	}
	if tm := term(r, ruleset.DstPort); tm == nil || len(tm.Set) != 2 || tm.Set[0][0].PLo != 1 || tm.Set[0][0].PHi != 100 {
		t.Errorf("tcp dport {1-100, 443} = %+v", tm)
	}
	if tm := term(r, ruleset.L4Proto); tm == nil || tm.Set[0][0].Num != ruleset.ProtoTCP {
		t.Errorf("tcp dport's implicit protocol = %+v", tm)
	}
	if tm := term(one(14), ruleset.DstAddr); tm == nil || len(tm.Set) != 2 || tm.Set[1][0].Lo != netip.MustParseAddr("198.51.100.5") {
		t.Errorf("ip daddr @lan4 = %+v", tm)
	}
	if tm := term(one(14), ruleset.NfProto); tm == nil || tm.Set[0][0].Num != 4 {
		t.Errorf("ip daddr's implicit family = %+v", tm)
	}
	if tm := term(one(15), ruleset.SrcAddr, ruleset.DstPort); tm == nil || len(tm.Set) != 1 || tm.Set[0][1].PLo != 443 {
		t.Errorf("ip saddr . tcp dport @pairs = %+v", tm)
	}
	if m := one(16).Map(); m == nil || len(m.Elems) != 2 || m.Elems[1].Verdict.Kind != ruleset.Jump || m.Elems[1].Verdict.Chain != "sub" {
		t.Errorf("vmap @verdicts = %+v", m)
	}
	if tm := term(one(18), ruleset.SrcPort); tm == nil || !tm.Neg || tm.Set[0][0].PLo != 1024 || tm.Set[0][0].PHi != 65535 {
		t.Errorf("tcp sport != 1024-65535 = %+v", tm)
	}
	r = one(19)
	if tm := term(r, ruleset.TCPFlags); tm == nil || tm.Mask != ruleset.TCPSyn|ruleset.TCPAck || tm.Set[0][0].Num != ruleset.TCPSyn {
		t.Errorf("tcp flags & (syn|ack) == syn = %+v", tm)
	}
	if r.Verdict.Kind != ruleset.Jump || r.Verdict.Chain != "sub" {
		t.Errorf("jump sub = %v", r.Verdict)
	}
	if r := one(20); len(r.Unknown()) != 1 || !strings.Contains(r.Unknown()[0], "limit") || r.Verdict.Kind != ruleset.Accept {
		t.Errorf("a rate limit is unknown: %v %v", r.Unknown(), r.Verdict)
	}
	if m := one(22).Map(); m == nil || len(m.Elems) != 2 || m.Elems[1].Verdict.Kind != ruleset.Goto {
		t.Errorf("anonymous vmap = %+v", m)
	}
	if r := one(23); r.Verdict.Kind != ruleset.Reject || term(r, ruleset.L4Proto) == nil {
		t.Errorf("reject = %+v", r)
	}
	if tm := term(one(26), ruleset.IIfName); tm == nil || tm.Set[0][0].Name != "lo" {
		t.Errorf("iif lo = %+v", tm)
	}
	if r := one(29); len(r.Unknown()) != 1 || !strings.Contains(r.Unknown()[0], "meta mark") {
		t.Errorf("meta mark = %v", r.Unknown())
	}
	// tcp sport != 1024 tcp dport != 22: sure where both differ, maybe
	// where one does.
	if rs := f[30]; len(rs) != 2 || len(rs[0].Unknown()) != 0 || len(rs[1].Unknown()) != 1 || term(rs[1], ruleset.SrcPort, ruleset.DstPort) == nil {
		t.Errorf("merged inequality: %d rules", len(rs))
	}
	r = one(31)
	if tm := term(r, ruleset.DstAddr); tm == nil || tm.Set[0][0].Hi != netip.MustParseAddr("192.0.2.99") || tm.Set[0][0].Lo != netip.MustParseAddr("0.0.0.0") {
		t.Errorf("ip daddr < 192.0.2.100 = %+v", tm)
	}
	if tm := term(r, ruleset.DstPort); tm == nil || tm.Set[0][0].PLo != 1024 || tm.Set[0][0].PHi != 65535 {
		t.Errorf("tcp dport >= 1024 = %+v", tm)
	}
	if r.Pos.Text != `comment "a comment"` {
		t.Errorf("comment = %q", r.Pos.Text)
	}
	if v := one(32).Verdict; v.Kind != ruleset.Unknown || !strings.Contains(v.Why, "notrack") {
		t.Errorf("notrack = %v", v)
	}
	if v := one(33).Verdict; v.Kind != ruleset.Accept {
		t.Errorf("mark and dscp set change nothing that matters: %v", v)
	}

	n := rules(rs, "ip", "nat", "pre")
	if v := n[3][0].Verdict; v.Kind != ruleset.DNAT || v.To != netip.MustParseAddr("192.0.2.20") || v.Port != 0 {
		t.Errorf("dnat to 192.0.2.20 = %v", v)
	}
	if v := n[4][0].Verdict; v.Kind != ruleset.DNAT || v.Port != 6000 {
		t.Errorf("dnat to :6000 = %v", v)
	}
	if v := n[5][0].Verdict; v.Kind != ruleset.Redirect {
		t.Errorf("redirect = %v", v)
	}
	if v := n[6][0].Verdict; v.Kind != ruleset.DNAT || v.To.IsValid() || v.Why == "" {
		t.Errorf("dnat to a prefix is not followed: %v", v)
	}
	if v := rules(rs, "ip", "nat", "post")[7][0].Verdict; v.Kind != ruleset.SNAT {
		t.Errorf("masquerade = %v", v)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"empty", ``, []string{"x.json", "empty input"}},
		{"not json", "table inet t {}", []string{"x.json:1:", "invalid character"}},
		{"syntax on line 3", "{\"nftables\": [\n{\"table\": {}},\n{\"chain\" {}}]}", []string{"x.json:3:"}},
		{"not an object", `[1, 2]`, []string{"$", "not a JSON object"}},
		{"no nftables", `{"rules": []}`, []string{`no "nftables" array`}},
		{"element not object", `{"nftables": [1]}`, []string{"nftables[0]", "one key"}},
		{"chain without name", `{"nftables": [{"chain": {"family": "inet", "table": "t"}}]}`, []string{"nftables[0].chain", "family, table and name"}},
		{"chain bad family", `{"nftables": [{"chain": {"family": "inte", "table": "t", "name": "c"}}]}`, []string{"nftables[0].chain.family", `unknown family "inte"`}},
		{"bad policy", `{"nftables": [{"chain": {"family": "inet", "table": "t", "name": "c", "handle": 4, "hook": "input", "prio": 0, "policy": "reject"}}]}`,
			[]string{"nftables[0].chain.policy", "handle 4", "accept or drop"}},
		{"rule in no chain", `{"nftables": [{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 9, "expr": []}}]}`,
			[]string{"nftables[0].rule.chain", "handle 9", "not declared"}},
		{"expr not list", `{"nftables": [{"chain": {"family": "inet", "table": "t", "name": "c"}}, {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 9, "expr": {}}}]}`,
			[]string{"nftables[1].rule.expr", "handle 9", "rule in inet t c"}},
		{"jump nowhere", `{"nftables": [{"chain": {"family": "inet", "table": "t", "name": "c"}}, {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 9, "expr": [{"jump": {"target": "d"}}]}}]}`,
			[]string{"nftables[1].rule.expr[0].jump.target", "handle 9", `chain "d" does not exist`}},
		{"match without right", `{"nftables": [{"chain": {"family": "inet", "table": "t", "name": "c"}}, {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 9, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}}}]}}]}`,
			[]string{"nftables[1].rule.expr[0].match", "left and right"}},
		{"unknown set", `{"nftables": [{"chain": {"family": "inet", "table": "t", "name": "c"}}, {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 9, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "@ifs"}}]}}]}`,
			[]string{"nftables[1].rule.expr[0].match.right", "set @ifs does not exist"}},
		{"trailing data", `{"nftables": []} {}`, []string{"x.json:1:", "more after"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.json", []byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T is not an *Error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
}

// Expressions portolan does not know are kept as unknown, never an error:
// a newer nft may print things this one does not.
func TestParseUnknownIsKept(t *testing.T) {
	in := `{"nftables": [{"chain": {"family": "inet", "table": "t", "name": "c", "hook": "input", "prio": 0, "policy": "accept", "type": "filter"}},
	{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 3, "expr": [{"match": {"op": "==", "left": {"fib": {"flags": ["daddr"], "result": "type"}}, "right": "local"}}, {"accept": null}]}},
	{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 4, "expr": [{"xt": {"type": "target", "name": "TPROXY"}}]}},
	{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 5, "expr": [{"frobnicate": {}}, {"drop": null}]}},
	{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "https"}}, {"drop": null}]}},
	{"future": {"x": 1}}]}`
	rs, err := Parse("x.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	c := rs.Lookup("inet", "t", "c")
	if r := c.Rules[0]; len(r.Unknown()) != 1 || !strings.Contains(r.Unknown()[0], `"fib"`) || r.Verdict.Kind != ruleset.Accept {
		t.Errorf("fib: %v %v", r.Unknown(), r.Verdict)
	}
	if r := c.Rules[1]; r.Verdict.Kind != ruleset.Unknown || !strings.Contains(r.Verdict.Why, "TPROXY") {
		t.Errorf("xt target: %v", r.Verdict)
	}
	if r := c.Rules[2]; r.Verdict.Kind != ruleset.Unknown || !strings.Contains(r.Verdict.Why, "frobnicate") {
		t.Errorf("unknown statement: %v", r.Verdict)
	}
	if r := c.Rules[3]; len(r.Unknown()) != 1 || !strings.Contains(r.Unknown()[0], "https") {
		t.Errorf("a service name: %v", r.Unknown())
	}
	if !strings.Contains(strings.Join(rs.Notes, " "), `"future"`) {
		t.Errorf("notes = %v", rs.Notes)
	}
}

func TestLooks(t *testing.T) {
	data, _ := os.ReadFile("testdata/constructs.json")
	if !Looks(data) || Looks([]byte("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")) || Looks([]byte(`{"other": 1}`)) {
		t.Error("Looks")
	}
}

// Statements that do not change where a packet goes leave the rule's
// verdict alone; the JSON is what nft 1.0.6 prints for "tcp flags syn tcp
// option maxseg size set rt mtu" (the MSS clamp of most routers), "ct
// helper set" and "ct timeout set".
func TestParseHarmlessStatements(t *testing.T) {
	in := `{"nftables": [{"chain": {"family": "inet", "table": "t", "name": "c", "hook": "forward", "prio": 0, "policy": "accept", "type": "filter"}},
	{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 3, "expr": [{"match": {"op": "in", "left": {"payload": {"protocol": "tcp", "field": "flags"}}, "right": "syn"}}, {"mangle": {"key": {"tcp option": {"name": "maxseg", "field": "size"}}, "value": {"rt": {"key": "mtu"}}}}]}},
	{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 21}}, {"ct helper": "ftp-standard"}]}},
	{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5060}}, {"ct timeout": "ct-udp"}]}},
	{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 6, "expr": [{"mangle": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "value": 8080}}]}}]}`
	rs, err := Parse("x.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	c := rs.Lookup("inet", "t", "c")
	for _, r := range c.Rules[:3] {
		if r.Verdict.Kind != ruleset.Continue || len(r.Unknown()) != 0 {
			t.Errorf("handle %d: %v %v, want no verdict and nothing unknown", r.Pos.Handle, r.Verdict, r.Unknown())
		}
	}
	if r := c.Rules[3]; r.Verdict.Kind != ruleset.Unknown || !strings.Contains(r.Verdict.Why, "tcp dport set") {
		t.Errorf("a rewrite of the port: %v", r.Verdict)
	}
}

// TestFamily: meta nfproto and meta protocol as nft -j prints them, by
// name or, for values it has no name for, by number (NFPROTO_*, ETH_P_*).
func TestFamily(t *testing.T) {
	for _, tt := range []struct {
		v    any
		k    kind
		want uint32
		ok   bool
	}{
		{"ipv4", kNfProto, 4, true}, {"ipv6", kNfProto, 6, true}, {json.Number("2"), kNfProto, 4, true},
		{json.Number("10"), kNfProto, 6, true}, {"arp", kNfProto, 0, true}, {json.Number("7"), kNfProto, 0, true},
		{"ip", kNfProto, 0, true}, {"ip", kEther, 4, true}, {"ip6", kEther, 6, true}, {json.Number("2048"), kEther, 4, true},
		{json.Number("34525"), kEther, 6, true}, {"arp", kEther, 0, true}, {true, kEther, 0, false}, {obj{}, kNfProto, 0, false},
	} {
		if got, ok := family(tt.v, tt.k); got != tt.want || ok != tt.ok {
			t.Errorf("family(%v, %d) = %d, %v; want %d, %v", tt.v, tt.k, got, ok, tt.want, tt.ok)
		}
	}
}

// A string and a number of the same text stay what they are, whichever
// comes first: the decoder shares short ones, and once took the string
// "#5" for the number 5 (a rule's handle became a string; found by
// FuzzParse).
func TestSharedStringsAndNumbers(t *testing.T) {
	for _, in := range []string{
		`[{"a": "#5"}, 5, "#5", 5]`,
		`[5, {"a": "#5"}, "#5", 5]`,
		`["5", 5, "#5", 5]`,
		`[5, "5", 5, "#5"]`,
	} {
		v, err := decode([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		var want []any
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		for i, x := range v.([]any) {
			if o, ok := x.(obj); ok {
				x = map[string]any{"a": o.get("a")}
			}
			w := want[i]
			if f, ok := w.(float64); ok {
				w = json.Number(fmt.Sprint(f))
			}
			if !reflect.DeepEqual(x, w) {
				t.Errorf("%s: element %d is %#v, want %#v", in, i, x, w)
			}
		}
	}
}
