package audit

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
)

// This file checks, against the kernel, rulesets in the shapes that real
// ones take where portolan once said unknown or named the wrong rule:
// Docker's correlated ipset matches, iptables-nft tables read through nft
// -j and iptables-save, nft dnat maps, a rate limit before an accept, a
// SIP helper attached.

// fixedProbes are LAN-to-cloud probes to every destination and port given,
// IPv4, with distinct local ends.
func fixedProbes(tag string, dsts []string, pp []string) []probe {
	var out []probe
	for i, d := range dsts {
		for j, x := range pp {
			proto, port, _ := strings.Cut(x, "/")
			var n int
			fmt.Sscan(port, &n)
			k := len(out)
			out = append(out, probe{id: fmt.Sprintf("%s-%d", tag, k), fam: 4, proto: proto,
				src: netip.MustParseAddr(lan4[(i+j)%len(lan4)]), dst: netip.MustParseAddr(d),
				sport: uint16(31000 + k), dpt: uint16(n)})
		}
	}
	return out
}

// agreeAll compares the kernel's verdict on each probe with portolan's
// part holding it; definite says which probes portolan must decide. It
// returns how many definite verdicts it compared.
func agreeAll(t *testing.T, label string, a *Auditor, site policy.Site, probes []probe, res []seen, definite func(probe) bool) int {
	t.Helper()
	parts := partition(t, a, site)
	n := 0
	for i, p := range probes {
		pc := pointCube(a, p, site.LANIf, site.WANIf)
		var hit []outcome
		for _, o := range parts[fmt.Sprint(p.fam, p.proto)] {
			if o.reg.Contains(pc) {
				hit = append(hit, o)
			}
		}
		if len(hit) != 1 {
			t.Errorf("%s %s: %d parts hold the packet", label, p.tuple(), len(hit))
			continue
		}
		o := hit[0]
		if o.res == unknown {
			if definite(p) {
				t.Errorf("%s %s: portolan says unknown (%s by %s); the kernel: reply %v", label, p.tuple(), o.why, decision(o), res[i].reply)
			}
			continue
		}
		first, reply, later := o.passes()
		got := res[i]
		if (p.proto == "udp" && got.first != first) || got.reply != reply || got.later != later {
			t.Errorf("%s %s: kernel first %v reply %v later %v, portolan %v %v %v (%s %s by %s)", label, p.tuple(),
				got.first, got.reply, got.later, first, reply, later, o.res, o.kind, decision(o))
		}
		n++
	}
	return n
}

const dockerSet = "docker-ext-bridges-v4"

// dockerRules is Docker's shape: the same ipset matched in two FORWARD
// rules; the kernel never takes the way where it matches one and not the
// other. With it, a LOG target and a MASQUERADE, which iptables-nft writes
// as xt targets.
const dockerRules = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o wan0 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER-FORWARD - [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -m set --match-set docker-ext-bridges-v4 dst -j DOCKER-FORWARD
-A FORWARD -m set --match-set docker-ext-bridges-v4 dst -j DROP
-A FORWARD -p udp -m udp --dport 1000:40000 -j LOG
-A FORWARD -p tcp -j ACCEPT
-A FORWARD -p udp -m udp --dport 1000:40000 -j ACCEPT
-A DOCKER-FORWARD -p udp -m udp --dport 50000:65535 -j DROP
-A DOCKER-FORWARD -j ACCEPT
COMMIT
`

// TestKernelDockerSets loads Docker's shape with iptables-nft and an ipset
// in the router, and audits it as nft -j shows it, with iptables-save
// beside it, and with ipset save too: every verdict portolan gives must be
// the kernel's, and each way of giving the ruleset must decide what it
// can.
func TestKernelDockerSets(t *testing.T) {
	k := newKernelLab(t)
	k.listen(t, 11)
	site := policy.Site{Mode: policy.Gateway, LANIf: netlab.RouterLANIf, WANIf: netlab.RouterWANIf}
	if _, err := k.Router.Run("nft", "flush", "ruleset"); err != nil {
		t.Fatal(err)
	}
	k.Router.Run("ipset", "destroy", dockerSet)
	for _, args := range [][]string{{"create", dockerSet, "hash:net"}, {"add", dockerSet, "198.51.100.10/31"}} {
		if out, err := k.Router.Run("ipset", args...); err != nil {
			t.Fatalf("ipset %v: %v %s", args, err, out)
		}
	}
	t.Cleanup(func() { k.Router.Run("iptables", "-F"); k.Router.Run("ipset", "destroy", dockerSet) })
	if out, err := k.Router.RunInput([]byte(dockerRules), "iptables-restore"); err != nil {
		t.Fatalf("iptables-restore: %v %s", err, out)
	}
	js, err := k.Router.Run("nft", "-j", "list", "ruleset")
	if err != nil {
		t.Fatal(err)
	}
	save, err := k.Router.Run("iptables-save")
	if err != nil {
		t.Fatal(err)
	}
	sets, err := k.Router.Run("ipset", "save")
	if err != nil {
		t.Fatal(err)
	}
	probes := fixedProbes("docker", []string{"198.51.100.10", "198.51.100.11", "198.51.100.12", "203.0.113.5"},
		[]string{"tcp/443", "udp/5060", "udp/45000", "udp/55000", "tcp/55000"})
	res, _ := k.probeAll(t, probes)
	// Where the set's answer matters and portolan has not got the set.
	open := func(p probe) bool { return p.proto == "udp" && p.dpt > 40000 && p.dpt < 50000 }
	total := 0
	for _, tt := range []struct {
		name     string
		in       []Input
		definite func(probe) bool
		hint     bool
	}{
		// nft -j prints "xt match set" without the set's name: two such
		// matches may be two sets, so only what both ways decide is known.
		// (iptables-nft 1.8.9 writes --ctstate as an xt match too.)
		{"nft JSON alone", []Input{{"ruleset.json", []byte(js)}}, func(probe) bool { return false }, true},
		{"nft JSON and iptables-save", []Input{{"ruleset.json", []byte(js)}, {"iptables.save", []byte(save)}}, func(p probe) bool { return !open(p) }, false},
		{"and ipset save", []Input{{"ruleset.json", []byte(js)}, {"iptables.save", []byte(save)}, {"ipsets", []byte(sets)}}, func(probe) bool { return true }, false},
		{"iptables-save alone", []Input{{"iptables.save", []byte(save)}}, func(p probe) bool { return !open(p) }, false},
	} {
		rs, err := LoadAll(tt.in, "auto")
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		a, err := New(rs, site)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		total += agreeAll(t, tt.name, a, site, probes, res, tt.definite)
		if hint := XtHint(rs) != ""; hint != tt.hint {
			t.Errorf("%s: iptables-save hint %v, want %v", tt.name, hint, tt.hint)
		}
	}
	t.Logf("%d definite verdicts agree with the kernel", total)
	if t.Failed() {
		t.Logf("nft -j:\n%s\niptables-save:\n%s", js, save)
	}
}

// TestKernelDNATMap forwards ports through an nft dnat map and sends
// connections from the cloud to the router: a port in the map arrives
// where the map says, a port not in it is not forwarded, and portolan says
// so rather than unknown.
func TestKernelDNATMap(t *testing.T) {
	lab := newKernelLab(t)
	lst := listenLAN(t, lab.LAN)
	site := policy.Site{Mode: policy.Gateway, LANIf: netlab.RouterLANIf, WANIf: netlab.RouterWANIf}
	text := `table ip pf {
 map tcpfwd {
  type inet_service : ipv4_addr . inet_service
  elements = { 8080 : 192.0.2.11 . 80, 5061 : 192.0.2.10 . 5061 }
 }
 map udpfwd {
  type inet_service : ipv4_addr
  elements = { 5060 : 192.0.2.12 }
 }
 chain pre {
  type nat hook prerouting priority dstnat; policy accept;
  iifname "wan0" dnat to tcp dport map @tcpfwd
  iifname "wan0" dnat to udp dport map { 3478 : 192.0.2.13 }
  iifname "wan0" dnat to udp dport map @udpfwd
 }
 chain forward_chain {
  type filter hook forward priority filter; policy drop;
  ct state established,related accept
  oifname "lan0" ip daddr 192.0.2.0/24 accept
 }
}
`
	a := lab.loadNft(t, "dnat map", text, site)
	var probes []probe
	for j, x := range []string{"tcp/8080", "tcp/5061", "tcp/443", "udp/5060", "udp/3478", "udp/5061", "udp/10000"} {
		proto, port, _ := strings.Cut(x, "/")
		var n int
		fmt.Sscan(port, &n)
		probes = append(probes, probe{id: fmt.Sprintf("m%d", j), fam: 4, proto: proto, src: netip.MustParseAddr(cloud4[j%len(cloud4)]),
			dst: netlab.WANRouter, sport: uint16(32000 + j), dpt: uint16(n)})
	}
	res, _ := traceRun(t, lab.Router, len(probes), func(j int) seen { return send(lab.Cloud, probes[j]) })
	for j, p := range probes {
		m := probeMatch(p)
		m.IIf = site.WANIf
		r := policy.Rule{Hook: policy.Prerouting, Flow: &resolve.Concrete{Flow: resolve.Flow{Proto: p.proto}}, Match: m}
		fw := policy.Rule{Hook: policy.Forward, Match: policy.Match{OIf: site.LANIf}}
		os, _ := a.evalPath(r, &fw, Options{}, nil, true)
		os = nonEmpty(os)
		if len(os) != 1 {
			t.Errorf("%s: %d outcomes", p.tuple(), len(os))
			continue
		}
		o := os[0]
		if o.res == unknown {
			t.Errorf("%s: unknown: %s", p.tuple(), o.why)
			continue
		}
		want := ""
		if o.nat != nil && o.nat.dnat {
			port := p.dpt
			if o.nat.port != 0 {
				port = o.nat.port
			}
			want = netip.AddrPortFrom(o.nat.to, port).String()
		}
		id := p.id
		if p.proto == "udp" {
			id += "#1"
		}
		at, ok := lst.at(id)
		first, reply, _ := o.passes()
		if ok != first || (ok && at != want) || res[j].reply != reply {
			t.Errorf("%s: kernel delivered %v at %q (reply %v), portolan %v at %q (reply %v; %s: %s)", p.tuple(), ok, at, res[j].reply, first, want, reply, o.res, o.why)
		}
	}
}

// TestKernelLimitBeforeAccept puts a rate limit before an accept: where
// both ways end alike portolan decides, as the kernel does, and the accept
// after the limit is not shadowed by it.
func TestKernelLimitBeforeAccept(t *testing.T) {
	k := newKernelLab(t)
	k.listen(t, 12)
	site := policy.Site{Mode: policy.Gateway, LANIf: netlab.RouterLANIf, WANIf: netlab.RouterWANIf}
	a := k.loadNft(t, "limit", `table inet t {
 chain forward_chain {
  type filter hook forward priority filter; policy drop;
  ct state established,related accept
  tcp dport 443 limit rate 1000/second accept
  tcp dport 443 accept
  udp dport 5060 limit rate over 1000/second drop
  udp dport 5060 accept
 }
}
`, site)
	probes := fixedProbes("limit", []string{"198.51.100.10", "203.0.113.5"}, []string{"tcp/443", "udp/5060", "tcp/22"})
	res, _ := k.probeAll(t, probes)
	n := agreeAll(t, "limit", a, site, probes, res, func(p probe) bool { return p.proto == "tcp" || p.dpt != 5060 })
	if n < 4 {
		t.Errorf("only %d verdicts compared", n)
	}
	sh := newShadows(20)
	m := policy.Match{Family: 4, Proto: model.TCP, IIf: site.LANIf, OIf: site.WANIf, DstPorts: model.NewPortSet(model.PortRange{Lo: 443, Hi: 443})}
	a.evalRule(policy.Rule{Hook: policy.Forward, Flow: &resolve.Concrete{Flow: resolve.Flow{Proto: model.TCP}}, Match: m}, nil, Options{}, sh)
	if s := sh.result(); len(s) != 0 {
		t.Errorf("shadowed after a limit: %v by %v", s[0].rule, s[0].by)
	}
}

// TestKernelSIPHelper attaches the SIP helper as OpenWrt's fw4, as
// iptables and as firewalld do: the kernel's connection to udp/5060 gets
// helper=sip, and portolan's alg-off constraint fails naming the rule.
func TestKernelSIPHelper(t *testing.T) {
	k := newKernelLab(t)
	k.listen(t, 13)
	site := policy.Site{Mode: policy.Gateway, LANIf: netlab.RouterLANIf, WANIf: netlab.RouterWANIf}
	fw4 := `table inet fw4 {
 ct helper sip {
  type "sip" protocol udp
  l3proto inet
 }
 chain prerouting {
  type filter hook prerouting priority filter; policy accept;
  iifname "lan0" jump helper_lan
 }
 chain helper_lan {
  udp dport 5060 ct helper set "sip" comment "!fw4: SIP VoIP connection tracking helper"
 }
}
`
	firewalld := `table inet firewalld {
 ct helper helper-sip-udp {
  type "sip" protocol udp
  l3proto inet
 }
 chain filter_FORWARD {
  type filter hook forward priority filter + 10; policy accept;
  iifname "lan0" jump filter_FWD_internal_allow
 }
 chain filter_FWD_internal_allow {
  udp dport 5060 ct helper set "helper-sip-udp"
  udp dport 5060 ct state new,untracked accept
 }
}
`
	ipt := "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -i lan0 -p udp -m udp --dport 5060 -j CT --helper sip\nCOMMIT\n"
	flow := &resolve.Concrete{Flow: resolve.Flow{Service: "lab", ID: "sip", Flow: "sip", App: "sip", Proto: model.UDP, Necessity: model.Required}}
	m := policy.Match{Family: 4, Proto: model.UDP, IIf: site.LANIf, OIf: site.WANIf, Src: hostPrefixes(lan4), Dst: hostPrefixes(cloud4),
		DstPorts: model.NewPortSet(model.PortRange{Lo: 5060, Hi: 5060})}
	cs := []resolve.Constraint{{Service: "lab", ID: "sip-alg-off", Kind: model.KindALGOff, Apps: []string{"sip"}}}
	for i, tt := range []struct {
		name, nft, ipt, rule string
	}{
		{"fw4", fw4, "", "inet fw4 helper_lan handle"},
		{"firewalld", firewalld, "", "inet firewalld filter_FWD_internal_allow handle"},
		{"iptables", "", ipt, "line 5: -A PREROUTING -i lan0 -p udp -m udp --dport 5060 -j CT --helper sip"},
	} {
		k.reset(t)
		var a *Auditor
		if tt.nft != "" {
			a = k.loadNft(t, tt.name, tt.nft, site)
		} else {
			k.Router.Run("nft", "flush", "ruleset")
			if out, err := k.Router.RunInput([]byte(tt.ipt), "iptables-restore"); err != nil {
				t.Fatalf("%s: %v %s", tt.name, err, out)
			}
			save, err := k.Router.Run("iptables-save")
			if err != nil {
				t.Fatal(err)
			}
			rs, err := LoadAll([]Input{{"iptables.save", []byte(save)}}, "auto")
			if err != nil {
				t.Fatal(err)
			}
			if a, err = New(rs, site); err != nil {
				t.Fatal(err)
			}
		}
		p := probe{id: fmt.Sprintf("sip%d", i), fam: 4, proto: "udp", src: netip.MustParseAddr(lan4[0]), dst: netip.MustParseAddr(cloud4[0]), sport: uint16(33000 + i), dpt: 5060}
		k.probeAll(t, []probe{p})
		ct, _ := k.Router.Run("conntrack", "-L", "-p", "udp", "--orig-port-src", fmt.Sprint(p.sport))
		if !strings.Contains(ct, "helper=sip") {
			t.Errorf("%s: the kernel attached no helper: %s", tt.name, ct)
		}
		rep := a.Audit([]policy.Rule{{Hook: policy.Forward, Flow: flow, Match: m}}, nil, Options{Constraints: cs})
		c := constraintOf(t, rep, "alg-off")
		if c.Status != ConstraintFail || c.Rule == nil || !strings.HasPrefix(c.Rule.String(), tt.rule) {
			t.Errorf("%s: %+v", tt.name, c)
		}
		// Without the helper rule: ok, and the kernel attaches none.
	}
	// Before connection tracking (priority raw) nft's ct helper set does
	// nothing: no helper, ok.
	k.reset(t)
	a := k.loadNft(t, "none", strings.Replace(fw4, "priority filter", "priority raw", 1), site)
	p := probe{id: "sip-none", fam: 4, proto: "udp", src: netip.MustParseAddr(lan4[1]), dst: netip.MustParseAddr(cloud4[1]), sport: 33100, dpt: 5060}
	k.probeAll(t, []probe{p})
	if ct, _ := k.Router.Run("conntrack", "-L", "-p", "udp", "--orig-port-src", "33100"); strings.Contains(ct, "helper=") {
		t.Errorf("a helper without a rule: %s", ct)
	}
	rep := a.Audit([]policy.Rule{{Hook: policy.Forward, Flow: flow, Match: m}}, nil, Options{Constraints: cs})
	if c := constraintOf(t, rep, "alg-off"); c.Status != ConstraintOK {
		t.Errorf("no helper: %+v", c)
	}
}

// TestKernelCtTimeout attaches a ct timeout policy to udp/5060 (after
// connection tracking, before the connection is confirmed), replied 60 s
// and 180 s: the kernel's connection
// gets that timeout once replied and two seconds old, and portolan's nat-timeout constraint
// (90 s) fails for the first and holds for the second.
func TestKernelCtTimeout(t *testing.T) {
	k := newKernelLab(t)
	k.listen(t, 14)
	site := policy.Site{Mode: policy.Gateway, LANIf: netlab.RouterLANIf, WANIf: netlab.RouterWANIf}
	flow := &resolve.Concrete{Flow: resolve.Flow{Service: "lab", ID: "sip", Flow: "sip", App: "sip", Proto: model.UDP, Necessity: model.Required}}
	m := policy.Match{Family: 4, Proto: model.UDP, IIf: site.LANIf, OIf: site.WANIf, Src: hostPrefixes(lan4), Dst: hostPrefixes(cloud4),
		DstPorts: model.NewPortSet(model.PortRange{Lo: 5060, Hi: 5060})}
	cs := []resolve.Constraint{{Service: "lab", ID: "nat", Kind: model.KindNATTimeout, Proto: []string{"udp"}, MinTimeout: "90s", Flows: []string{"sip"}}}
	for i, tt := range []struct {
		prio    string
		replied int
		status  string
	}{{"filter", 60, ConstraintFail}, {"filter", 180, ConstraintOK}, {"raw", 60, ConstraintUnknown}} {
		k.reset(t)
		a := k.loadNft(t, "timeout", fmt.Sprintf(`table inet t {
 ct timeout sip-udp {
  protocol udp
  l3proto ip
  policy = { unreplied : 30, replied : %d }
 }
 chain pre {
  type filter hook prerouting priority %s; policy accept;
  udp dport 5060 ct timeout set "sip-udp"
 }
}
`, tt.replied, tt.prio), site)
		p := probe{id: fmt.Sprintf("to%d", i), fam: 4, proto: "udp", src: netip.MustParseAddr(lan4[i]), dst: netip.MustParseAddr(cloud4[i]), sport: uint16(34000 + i), dpt: 5060}
		res, _ := k.probeAll(t, []probe{p})
		// The replied timeout holds once the stream has lasted two
		// seconds: the same ends again after that.
		time.Sleep(2500 * time.Millisecond)
		again := p
		again.id += "b"
		res2, _ := k.probeAll(t, []probe{again})
		if !res[0].reply || !res2[0].reply {
			t.Fatalf("replied %d: no reply", tt.replied)
		}
		ct, _ := k.Router.Run("conntrack", "-L", "-p", "udp", "--orig-port-src", fmt.Sprint(p.sport))
		var left int
		for _, l := range strings.Split(ct, "\n") {
			if f := strings.Fields(l); len(f) > 3 && f[0] == "udp" {
				fmt.Sscan(f[2], &left)
			}
		}
		if tt.status == ConstraintUnknown {
			// before connection tracking: the kernel's default (120 s)
			if left <= tt.replied {
				t.Errorf("at priority %s the policy took: %d s left", tt.prio, left)
			}
		} else if left == 0 || left > tt.replied || left < tt.replied-10 {
			t.Errorf("replied %d: the kernel's connection has %d s left: %s", tt.replied, left, ct)
		}
		rep := a.Audit([]policy.Rule{{Hook: policy.Forward, Flow: flow, Match: m}}, nil, Options{Constraints: cs})
		if c := constraintOf(t, rep, "nat-timeout"); c.Status != tt.status || (c.Rule == nil) != (tt.status == ConstraintUnknown) {
			t.Errorf("replied %d: %+v", tt.replied, c)
		}
	}
}
