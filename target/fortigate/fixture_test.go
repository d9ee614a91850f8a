package fortigate_test

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target/targettest/readback"
)

type fxFlow struct {
	id       string
	inbound  bool
	proto    string
	port     uint16
	src, dst string // prefixes, "" for any
	app      string
	want     audit.Verdict
	line     int    // the deciding rule's line, 0 for none checked
	text     string // and its text
}

var gw = policy.Site{Mode: policy.Gateway, LANIf: "port1", WANIf: "wan1", LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}

func fxRules(fs []fxFlow) []policy.Rule {
	var out []policy.Rule
	for _, f := range fs {
		x := readback.Flow{ID: f.id, Inbound: f.inbound, Proto: f.proto, Lo: f.port, Src: f.src, Dst: f.dst, App: f.app}
		if f.inbound {
			x.DNAT = "192.0.2.10"
		}
		out = append(out, readback.FixtureRules(gw, x)...)
	}
	return out
}

// TestFixture: a hand-written branch office configuration and the
// verdicts FortiOS's semantics give, stated by hand with the deciding
// policy's line and name: a deny before the accepts, an accept through a
// zone, a group of a network and an fqdn address, a deny shadowed by an
// earlier accept, a VIP and its policy, a disabled policy that counts
// for nothing, a schedule portolan does not follow, the implicit deny.
func TestFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/branch-office.conf")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := audit.Load("branch-office.conf", data, audit.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := resolve.ParseHosts("pins", strings.NewReader("203.0.113.20 sip.example.com\n"))
	if notes := audit.ResolveNames(context.Background(), rs, h); len(notes) != 0 {
		t.Fatalf("names: %q", notes)
	}
	flows := []fxFlow{
		{id: "smtp", proto: "tcp", port: 25, src: "192.0.2.0/24", want: audit.Blocked, line: 101, text: `policy 1 "block-smtp"`},
		{id: "lan-https", proto: "tcp", port: 443, src: "192.0.2.0/24", want: audit.Allowed, line: 111, text: `policy 2 "lan-web"`},
		// Policy 4 would deny it, but policy 2 matches first: shadowed.
		{id: "https-to-blocked", proto: "tcp", port: 443, src: "192.0.2.0/24", dst: "203.0.113.66/32", want: audit.Allowed, line: 111, text: `policy 2 "lan-web"`},
		{id: "sip-to-provider", proto: "udp", port: 5060, src: "192.0.2.10/32", dst: "198.51.100.0/24", app: "sip", want: audit.Allowed, line: 122, text: `policy 3 "voip-out"`},
		{id: "sip-to-proxy-name", proto: "udp", port: 5060, src: "192.0.2.10/32", dst: "203.0.113.20/32", app: "sip", want: audit.Allowed, line: 122, text: `policy 3 "voip-out"`},
		{id: "rtp-to-provider", proto: "udp", port: 15000, src: "192.0.2.10/32", dst: "198.51.100.0/24", want: audit.Allowed, line: 122, text: `policy 3 "voip-out"`},
		{id: "rtp-elsewhere", proto: "udp", port: 15000, src: "192.0.2.10/32", dst: "203.0.113.99/32", want: audit.Blocked, line: 100, text: "implicit deny (policy 0)"},
		{id: "sip-in-provider", inbound: true, proto: "udp", port: 5060, src: "198.51.100.0/24", app: "sip", want: audit.Allowed, line: 143, text: `policy 5 "sip-in"`},
		{id: "sip-in-anyone", inbound: true, proto: "udp", port: 5060, want: audit.Partial},
		{id: "sip-tcp-in", inbound: true, proto: "tcp", port: 5060, src: "198.51.100.0/24", want: audit.Blocked},
		{id: "web-alt", proto: "tcp", port: 8080, src: "192.0.2.0/24", want: audit.Unknown},
	}
	cons := []resolve.Constraint{
		{Service: "fx", ID: "no-alg", Kind: model.KindALGOff, Apps: []string{"sip"}},
		{Service: "fx", ID: "nat", Kind: model.KindNATTimeout, Proto: []string{"udp"}, Ports: []string{"5060"}, MinTimeout: "90s"},
	}
	a, err := audit.New(rs, gw)
	if err != nil {
		t.Fatal(err)
	}
	rep := a.Audit(fxRules(flows), nil, audit.Options{Constraints: cons})
	got := map[string]audit.FlowResult{}
	for _, f := range rep.Flows {
		got[f.Flow] = f
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
		if f.text == "" {
			continue
		}
		found := false
		for _, p := range g.Parts {
			if p.Rule != nil && p.Rule.Text == f.text && p.Rule.Line == f.line {
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
			t.Errorf("%s: decided by %q, want line %d: %s", f.id, rules, f.line, f.text)
		}
	}
	// The VoIP ALG is on (proxy-based), and session-ttl port 1 keeps SIP
	// 60 s, less than the 90 s asked.
	for _, c := range rep.Constraints {
		switch c.Kind {
		case string(model.KindALGOff):
			if c.Status != audit.ConstraintFail || c.Rule == nil || c.Rule.Line != 14 || !strings.Contains(c.Fix, "default-voip-alg-mode kernel-helper-based") {
				t.Errorf("alg-off: %s (%v): %s; fix: %s", c.Status, c.Rule, c.Why, c.Fix)
			}
		case string(model.KindNATTimeout):
			if c.Status != audit.ConstraintFail || c.Rule == nil || c.Rule.Line != 31 {
				t.Errorf("nat-timeout: %s (%v): %s", c.Status, c.Rule, c.Why)
			}
		}
	}
	if len(rep.Constraints) != 2 {
		t.Errorf("%d constraints audited", len(rep.Constraints))
	}
}
