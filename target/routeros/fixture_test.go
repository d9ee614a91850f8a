package routeros_test

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target/targettest/readback"
)

type fxFlow struct {
	id      string
	inbound bool
	proto   string
	lo, hi  uint16
	src     string // prefix, "" for any
	dst     string // prefix, "" for any
	dnat    string // inbound: the address forwarded to
	want    audit.Verdict
	line    int // the deciding rule's line in the fixture, 0 for none
	name    string
}

var fxSite = policy.Site{Mode: policy.Gateway, LANIf: lanIf, WANIf: wanIf,
	LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:1::/64")}}

func fxRules(fs []fxFlow) []policy.Rule {
	var out []policy.Rule
	for _, f := range fs {
		out = append(out, readback.FixtureRules(fxSite, readback.Flow{ID: f.id, Inbound: f.inbound, Proto: f.proto, Lo: f.lo, Hi: f.hi, Src: f.src, Dst: f.dst, DNAT: f.dnat})...)
	}
	return out
}

// TestFixture: a hand-written office router (testdata/office.rsc: the
// default configuration's firewall, an office policy in a chain of its
// own, two port forwards) and the verdicts RouterOS's semantics give,
// stated by hand with the deciding rule's line and comment: the first
// rule that matches decides, jump and the end of a user chain, address
// lists with a range and a DNS name, a drop that shadows an accept below
// it, a rule the jump before it shadows, the default configuration's
// drop of what comes from the WAN without DSTNAT, the end of a base chain
// accepting (RouterOS has no chain policy), a disabled entry, and a
// layer7 match the audit cannot follow.
func TestFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/office.rsc")
	if err != nil {
		t.Fatal(err)
	}
	const pins = "203.0.113.50 sip.example.com\n"
	flows := []fxFlow{
		{id: "sip-provider", proto: "udp", lo: 5060, hi: 5060, src: "192.0.2.0/24", dst: "198.51.100.0/24", want: audit.Allowed, line: 66, name: "sip to the provider"},
		{id: "sip-range", proto: "udp", lo: 5060, hi: 5060, src: "192.0.2.0/24", dst: "203.0.113.11/32", want: audit.Allowed, line: 66, name: "sip to the provider"},
		{id: "sip-by-name", proto: "udp", lo: 5060, hi: 5060, src: "192.0.2.0/24", dst: "203.0.113.50/32", want: audit.Allowed, line: 66, name: "sip to the provider"},
		{id: "sip-elsewhere", proto: "udp", lo: 5060, hi: 5060, src: "192.0.2.0/24", dst: "203.0.113.99/32", want: audit.Blocked, line: 74, name: "rest of the office"},
		{id: "smtp-relay", proto: "tcp", lo: 25, hi: 25, src: "192.0.2.0/24", dst: "198.51.100.25/32", want: audit.Blocked, line: 70, name: "no smtp"},
		{id: "https", proto: "tcp", lo: 443, hi: 443, src: "192.0.2.0/24", want: audit.Allowed, line: 73, name: "web"},
		{id: "http-alt", proto: "tcp", lo: 8080, hi: 8080, src: "192.0.2.0/24", want: audit.Blocked, line: 74, name: "rest of the office"},
		{id: "ntp", proto: "udp", lo: 123, hi: 123, src: "192.0.2.0/24", want: audit.Blocked, line: 74, name: "rest of the office"},
		{id: "stun", proto: "udp", lo: 3478, hi: 3478, src: "192.0.2.0/24", want: audit.Unknown, line: 68, name: "stun by layer7"},
		{id: "sip-in-provider", inbound: true, proto: "udp", lo: 5060, hi: 5060, src: "198.51.100.0/24", dnat: "192.0.2.10", want: audit.Allowed, line: 78, name: "pbx: sip from the provider"},
		{id: "sip-in-any", inbound: true, proto: "udp", lo: 5060, hi: 5060, dnat: "192.0.2.10", want: audit.Partial},
		{id: "rtp-in", inbound: true, proto: "udp", lo: 10000, hi: 20000, dnat: "192.0.2.10", want: audit.Allowed, line: 81, name: "pbx: rtp"},
		{id: "sip-tls-in", inbound: true, proto: "tcp", lo: 5061, hi: 5061, dnat: "192.0.2.10", want: audit.Blocked},
		{id: "https-v6", proto: "tcp", lo: 443, hi: 443, src: "2001:db8:1::/64", want: audit.Allowed},
	}
	rs := parse(t, string(data), pins)
	a, err := audit.New(rs, fxSite)
	if err != nil {
		t.Fatal(err)
	}
	rep := a.Audit(fxRules(flows), nil, audit.Options{})
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
		if f.line > 0 {
			want := fmt.Sprintf("line %d: ", f.line)
			if !strings.Contains(g.Summary, want) || !strings.Contains(g.Summary, f.name) {
				t.Errorf("%s: %s, but not by line %d (%q): %s", f.id, g.Verdict, f.line, f.name, g.Summary)
			}
		}
		t.Logf("%s: %s: %s", f.id, g.Verdict, g.Summary)
	}
}
