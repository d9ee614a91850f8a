package asa_test

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/asa"
	"github.com/portolan/portolan/target/targettest"
	"github.com/portolan/portolan/target/targettest/readback"
)

type fxFlow struct {
	id       string
	site     string // "" inside→outside; "dmz-out", "dmz-in"
	inbound  bool
	proto    string
	lo, hi   uint16
	src, dst string // prefixes, "" for any
	dnat     string
	want     audit.Verdict
	line     int    // the deciding rule's line (0: not checked)
	text     string // and a part of its text
}

var fxSites = map[string]policy.Site{
	"":        {Mode: policy.Gateway, LANIf: "inside", WANIf: "outside", LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}},
	"dmz-out": {Mode: policy.Gateway, LANIf: "dmz", WANIf: "outside"},
	"dmz-in":  {Mode: policy.Gateway, LANIf: "dmz", WANIf: "inside"},
}

func fxRule(f fxFlow) []policy.Rule {
	x := readback.Flow{ID: f.id, Inbound: f.inbound, Proto: f.proto, Lo: f.lo, Hi: f.hi, Src: f.src, Dst: f.dst, DNAT: f.dnat}
	if f.inbound {
		// To the outside interface's address, which the static interface NAT maps.
		x.WAN = "198.51.100.1"
	}
	return readback.FixtureRules(fxSites[f.site], x)
}

// TestFixture: a hand-written branch configuration (testdata/branch.cfg)
// and the verdicts the ASA's semantics give, stated by hand with the
// deciding rule's line: a deny before the permits, a nested group with an
// fqdn object resolved by --hosts, an inactive entry, a time-range, an
// object NAT port forward and a twice NAT range forward, a deny that
// shadows part of a later permit, the implicit deny, and security levels
// on an interface without an access list.
func TestFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/branch.cfg")
	if err != nil {
		t.Fatal(err)
	}
	flows := []fxFlow{
		{id: "lan-https", proto: "tcp", lo: 443, hi: 443, src: "192.0.2.0/24", want: audit.Allowed, line: 59, text: "object-group web"},
		{id: "lan-smtp", proto: "tcp", lo: 25, hi: 25, src: "192.0.2.0/24", want: audit.Blocked, line: 58, text: "deny tcp any any eq smtp"},
		{id: "pbx-sip-peers", proto: "udp", lo: 5060, hi: 5060, src: "192.0.2.10/32", dst: "203.0.113.70/32", want: audit.Allowed, line: 60, text: "voip-all"},
		{id: "pbx-sip-nested", proto: "udp", lo: 5060, hi: 5060, src: "192.0.2.10/32", dst: "203.0.113.200/32", want: audit.Allowed, line: 60},
		{id: "pbx-sip-trunk-fqdn", proto: "udp", lo: 5060, hi: 5060, src: "192.0.2.10/32", dst: "198.51.100.200/32", want: audit.Allowed, line: 60},
		{id: "pbx-sip-elsewhere", proto: "udp", lo: 5060, hi: 5060, src: "192.0.2.10/32", dst: "203.0.113.250/32", want: audit.Blocked, line: 67, text: "implicit deny"},
		{id: "pbx-media-out", proto: "udp", lo: 12000, hi: 12000, src: "192.0.2.10/32", want: audit.Allowed, line: 61},
		{id: "lan-8443-inactive", proto: "tcp", lo: 8443, hi: 8443, src: "192.0.2.0/24", want: audit.Blocked, line: 67, text: "implicit deny"},
		{id: "lan-8080-time-range", proto: "tcp", lo: 8080, hi: 8080, src: "192.0.2.0/24", want: audit.Unknown},
		{id: "sip-in-peers", inbound: true, proto: "udp", lo: 5060, hi: 5060, src: "203.0.113.64/26", dnat: "192.0.2.10", want: audit.Allowed, line: 64},
		{id: "sip-in-stranger", inbound: true, proto: "udp", lo: 5060, hi: 5060, src: "198.51.100.99/32", dnat: "192.0.2.10", want: audit.Blocked, line: 68, text: "implicit deny"},
		{id: "media-in", inbound: true, proto: "udp", lo: 15000, hi: 15000, dnat: "192.0.2.10", want: audit.Allowed, line: 66},
		{id: "media-in-shadowed", inbound: true, proto: "udp", lo: 10500, hi: 10500, dnat: "192.0.2.10", want: audit.Blocked, line: 65, text: "deny udp any object pbx range 10000 10999"},
		{id: "media-in-range", inbound: true, proto: "udp", lo: 10000, hi: 20000, dnat: "192.0.2.10", want: audit.Partial},
		{id: "not-forwarded", inbound: true, proto: "udp", lo: 5062, hi: 5062, dnat: "192.0.2.10", want: audit.Blocked},
		{id: "dmz-to-outside", site: "dmz-out", proto: "tcp", lo: 443, hi: 443, src: "203.0.113.0/26", want: audit.Allowed, line: 29, text: "dmz (50) to outside (0): allowed"},
		{id: "dmz-to-inside", site: "dmz-in", proto: "tcp", lo: 443, hi: 443, src: "203.0.113.0/26", dst: "192.0.2.40/32", want: audit.Blocked, line: 29, text: "denied (lower to higher)"},
	}
	rs, err := audit.Load("branch.cfg", data, "auto")
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := resolve.ParseHosts("pins", strings.NewReader("198.51.100.200 sip.provider.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	if notes := audit.ResolveNames(context.Background(), rs, hosts); len(notes) != 0 {
		t.Fatalf("names: %q", notes)
	}
	bySite := map[string][]policy.Rule{}
	for _, f := range flows {
		bySite[f.site] = append(bySite[f.site], fxRule(f)...)
	}
	got := map[string]audit.FlowResult{}
	for site, rules := range bySite {
		a, err := audit.New(rs, fxSites[site])
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range a.Audit(rules, nil, audit.Options{}).Flows {
			got[f.Flow] = f
		}
	}
	for _, f := range flows {
		g, ok := got[f.id]
		if !ok {
			t.Errorf("%s: not audited", f.id)
			continue
		}
		if g.Verdict != f.want {
			t.Errorf("%s: %s, want %s: %s", f.id, g.Verdict, f.want, g.Summary)
			continue
		}
		if f.line == 0 {
			continue
		}
		found := false
		for _, p := range g.Parts {
			if p.Rule != nil && p.Rule.Line == f.line && strings.Contains(p.Rule.Text, f.text) {
				found = true
			}
		}
		if !found {
			var rules []string
			for _, p := range g.Parts {
				if p.Rule != nil {
					rules = append(rules, p.Rule.String())
				}
			}
			t.Errorf("%s: decided by %q, want line %d (%q)", f.id, rules, f.line, f.text)
		}
	}
	// The global policy inspects SIP (line 79); H.323 H.225 was turned off.
	helpers := map[string]int{}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if r.X != nil && r.X.Helper != "" {
				helpers[r.X.Helper] = r.Pos.Line
			}
		}
	}
	if helpers["sip"] != 79 || helpers["h323"] != 0 {
		t.Errorf("helpers %v, want sip at line 79 and no h323", helpers)
	}
	// Without service-policy … global, the policy map applies nowhere.
	unapplied, err := asa.Parse("branch.cfg", []byte(strings.Replace(string(data), "service-policy global_policy global\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range unapplied.Chains {
		for _, r := range c.Rules {
			if r.X != nil && r.X.Helper != "" {
				t.Errorf("a helper attached by a policy map no service-policy applies: %s", r)
			}
		}
	}
	if !strings.Contains(strings.Join(rs.Notes, "\n"), "line 73") {
		t.Errorf("the dynamic NAT of line 73 is not noted: %q", rs.Notes)
	}
	// Without --hosts, the fqdn object is unknown: the flow to its address
	// is not known allowed.
	rs2, err := asa.Parse("branch.cfg", data)
	if err != nil {
		t.Fatal(err)
	}
	a, err := audit.New(rs2, fxSites[""])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range a.Audit(fxRule(flows[4]), nil, audit.Options{}).Flows {
		if f.Verdict == audit.Allowed {
			t.Errorf("%s allowed with sip.provider.example unresolved: %s", f.Flow, f.Summary)
		}
	}
}

// TestALGConstraint: TW Solutions wants the SIP ALG off and UDP bindings
// kept 90 s. The branch fixture's global policy inspects SIP: the audit
// says so, naming the line and the ASA's command; the configuration
// portolan writes for it (no inspect sip, timeout udp 0:02:00) passes
// both, and fails the second with a timeout of one minute.
func TestALGConstraint(t *testing.T) {
	lab := targettest.LabCatalog(t)
	var in *target.Input
	var pins string
	for _, c := range targettest.GatewayCases {
		if c.Name == "tw-solutions" {
			in, pins = c.InputOn(t, lab, "inside", "outside")
		}
	}
	constraint := func(rs *ruleset.Ruleset, kind model.ConstraintKind) audit.ConstraintResult {
		a, err := audit.New(rs, in.Site)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range a.Audit(in.Rules, in.Skips, audit.Options{Constraints: in.Constraints}).Constraints {
			if c.Kind == string(kind) {
				return c
			}
		}
		t.Fatalf("no %s constraint audited", kind)
		return audit.ConstraintResult{}
	}
	alg := func(rs *ruleset.Ruleset) audit.ConstraintResult { return constraint(rs, model.KindALGOff) }
	text := write(t, in)
	if !strings.Contains(text, "  no inspect sip\n") {
		t.Fatalf("no 'no inspect sip' written:\n%s", text)
	}
	if c := alg(load(t, text, pins)); c.Status != audit.ConstraintOK {
		t.Errorf("portolan's configuration: alg-off %s: %s", c.Status, c.Why)
	}
	data, err := os.ReadFile("testdata/branch.cfg")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := asa.Parse("branch.cfg", data)
	if err != nil {
		t.Fatal(err)
	}
	c := alg(rs)
	if c.Status != audit.ConstraintFail || c.Rule == nil || c.Rule.Line != 79 || !strings.Contains(c.Fix, "no inspect sip") {
		t.Errorf("branch fixture: alg-off %s: %s (rule %v, fix %s)", c.Status, c.Why, c.Rule, c.Fix)
	}
	// NAT binding lifetime (90 s): the written timeout udp 0:02:00 keeps
	// it; a timeout udp of one minute does not.
	if c := constraint(load(t, text, pins), model.KindNATTimeout); c.Status != audit.ConstraintOK {
		t.Errorf("portolan's configuration: nat-timeout %s: %s", c.Status, c.Why)
	}
	short := strings.Replace(text, "timeout udp 0:02:00\n", "timeout udp 0:01:00\n", 1)
	if short == text {
		t.Fatal("no timeout udp 0:02:00 written")
	}
	if c := constraint(load(t, short, pins), model.KindNATTimeout); c.Status != audit.ConstraintFail || c.Rule == nil || !strings.Contains(c.Rule.Text, "timeout udp 0:01:00") {
		t.Errorf("timeout udp 0:01:00: nat-timeout %s: %s (rule %v)", c.Status, c.Why, c.Rule)
	}
}

// TestLooks: the reader claims ASA configurations, its own output among
// them, and not the other formats.
func TestLooks(t *testing.T) {
	branch, err := os.ReadFile("testdata/branch.cfg")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data string
		want bool
	}{
		{"branch.cfg", string(branch), true},
		{"no header", "hostname fw\ninterface G0/0\n nameif inside\naccess-list A extended permit ip any any\n", true},
		{"iptables-save", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -j ACCEPT\nCOMMIT\n", false},
		{"nft json", `{"nftables": [{"metainfo": {}}]}`, false},
		{"ios", "hostname r1\nip access-list extended OUT\n permit ip any any\naccess-list 101 permit ip any any\n", false},
		{"fortigate", "#config-version=FGT60F\nconfig firewall policy\n    edit 1\n    next\nend\n", false},
		{"routeros", "/ip firewall filter\nadd chain=forward action=accept\n", false},
	} {
		if got := asa.Looks([]byte(c.data)); got != c.want {
			t.Errorf("%s: Looks = %v", c.name, got)
		}
	}
	in, _ := targettest.GatewayCases[0].InputOn(t, targettest.LabCatalog(t), "inside", "outside")
	if !asa.Looks([]byte(write(t, in))) {
		t.Error("portolan's own output is not claimed")
	}
}

// TestAccessSemantics: the global access list after the interface's
// (and instead of the security levels), an out list on the egress
// interface, equal security levels with and without
// same-security-traffic permit inter-interface.
func TestAccessSemantics(t *testing.T) {
	ifaces := `interface G0/0
 nameif outside
 security-level 0
interface G0/1
 nameif inside
 security-level 100
interface G0/2
 nameif dmz
 security-level 50
`
	global := ifaces + `access-list GLOBAL extended permit tcp any any eq https
access-list OUT_OUT extended deny tcp any host 203.0.113.66 eq https
access-list OUT_OUT extended permit ip any any
access-group GLOBAL global
access-group OUT_OUT out interface outside
`
	levels := ifaces + `interface G0/3
 nameif dmz2
 security-level 50
`
	for _, c := range []struct {
		name, cfg string
		flows     []fxFlow
	}{
		{"global and out", global, []fxFlow{
			{id: "https", proto: "tcp", lo: 443, hi: 443, dst: "203.0.113.5/32", want: audit.Allowed, line: 10, text: "GLOBAL extended permit"},
			{id: "https-denied-out", proto: "tcp", lo: 443, hi: 443, dst: "203.0.113.66/32", want: audit.Blocked, line: 11, text: "OUT_OUT extended deny"},
			{id: "http", proto: "tcp", lo: 80, hi: 80, want: audit.Blocked, line: 13, text: "implicit deny: access-group GLOBAL global"},
			{id: "dmz-https", site: "dmz-out", proto: "tcp", lo: 443, hi: 443, dst: "203.0.113.5/32", want: audit.Allowed, line: 10},
			{id: "dmz-inside-https", site: "dmz-in", proto: "tcp", lo: 443, hi: 443, want: audit.Allowed, line: 10, text: "GLOBAL extended permit"},
		}},
		{"security levels", levels, []fxFlow{
			{id: "http", proto: "tcp", lo: 80, hi: 80, want: audit.Allowed, line: 5, text: "inside (100) to outside (0): allowed"},
			{id: "dmz-inside", site: "dmz-in", proto: "tcp", lo: 80, hi: 80, want: audit.Blocked, text: "denied (lower to higher)", line: 8},
			{id: "dmz-dmz2", site: "dmz-dmz2", proto: "tcp", lo: 80, hi: 80, want: audit.Blocked, text: "denied (same level)", line: 8},
		}},
		{"same security", levels + "same-security-traffic permit inter-interface\n", []fxFlow{
			{id: "dmz-dmz2", site: "dmz-dmz2", proto: "tcp", lo: 80, hi: 80, want: audit.Allowed, text: "same-security-traffic", line: 8},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs, err := asa.Parse("cfg", []byte(c.cfg))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range c.flows {
				site := fxSites[f.site]
				if f.site == "dmz-dmz2" {
					site = policy.Site{Mode: policy.Gateway, LANIf: "dmz", WANIf: "dmz2"}
				}
				fxSites["dmz-dmz2"] = site
				a, err := audit.New(rs, site)
				if err != nil {
					t.Fatal(err)
				}
				for _, g := range a.Audit(fxRule(f), nil, audit.Options{}).Flows {
					if g.Verdict != f.want {
						t.Errorf("%s: %s, want %s: %s", f.id, g.Verdict, f.want, g.Summary)
						continue
					}
					if f.line == 0 {
						continue
					}
					found := false
					for _, p := range g.Parts {
						if p.Rule != nil && p.Rule.Line == f.line && strings.Contains(p.Rule.Text, f.text) {
							found = true
						}
					}
					if !found {
						t.Errorf("%s: %s, want line %d %q", f.id, g.Summary, f.line, f.text)
					}
				}
			}
		})
	}
}
