package pfxml_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target/pfxml"
	"github.com/portolan/portolan/target/targettest/readback"
)

// fxFlow is one flow of a fixture's audit and the verdict a reader of
// the product's documentation gives it by hand, with the deciding rule:
// its line in the fixture and a word of its description.
type fxFlow struct {
	id       string
	inbound  bool
	proto    string
	lo, hi   uint16
	src, dst string // prefixes, "" for any
	dnat     string // inbound: the address forwarded to
	want     audit.Verdict
	line     int    // the deciding rule's line (0: not checked)
	name     string // and a part of its text
}

func fxRules(site policy.Site, fs []fxFlow) []policy.Rule {
	var out []policy.Rule
	for _, f := range fs {
		out = append(out, readback.FixtureRules(site, readback.Flow{ID: f.id, Inbound: f.inbound, Proto: f.proto, Lo: f.lo, Hi: f.hi, Src: f.src, Dst: f.dst, DNAT: f.dnat})...)
	}
	return out
}

// pfsenseFlows are the verdicts of testdata/pfsense-config.xml, read by
// hand from pfSense's documented rule processing: floating quick rules
// first, interface rules first match, floating rules without quick last
// match, the default deny, port forwards before filtering.
var pfsenseFlows = []fxFlow{
	{id: "sip-trunk", proto: "udp", lo: 5060, src: "192.0.2.0/24", dst: "198.51.100.10/32", want: audit.Allowed, line: 109, name: "SIP to the provider"},
	{id: "sip-provider-net", proto: "udp", lo: 5060, src: "192.0.2.0/24", dst: "203.0.113.0/27", want: audit.Allowed, line: 109, name: "SIP to the provider"},
	{id: "sip-old-trunk", proto: "udp", lo: 5060, src: "192.0.2.0/24", dst: "203.0.113.60/32", want: audit.Blocked, line: 57, name: "floating rule on wan out quick"},
	{id: "sip-beyond", proto: "udp", lo: 5060, src: "192.0.2.0/24", dst: "203.0.113.0/24", want: audit.Partial},
	{id: "rtp", proto: "udp", lo: 10000, hi: 20000, src: "192.0.2.0/24", dst: "198.51.100.11/32", want: audit.Allowed, line: 124, name: "RTP to the provider"},
	{id: "rtp-wider", proto: "udp", lo: 10000, hi: 20001, src: "192.0.2.0/24", dst: "198.51.100.11/32", want: audit.Partial},
	{id: "telnet", proto: "tcp", lo: 23, src: "192.0.2.0/24", want: audit.Blocked, line: 139, name: "no telnet"},
	{id: "rdp-disabled", proto: "tcp", lo: 3389, src: "192.0.2.0/24", want: audit.Blocked, name: "default deny rule"},
	{id: "proxy-lan", proto: "tcp", lo: 8080, src: "192.0.2.0/24", want: audit.Partial},
	{id: "proxy-host", proto: "tcp", lo: 8080, src: "192.0.2.50/32", want: audit.Allowed, line: 75, name: "floating rule on lan in"},
	{id: "proxy-kiosk", proto: "tcp", lo: 8080, src: "192.0.2.99/32", want: audit.Blocked, line: 92, name: "the kiosk"},
	{id: "sip-by-name", proto: "udp", lo: 5061, src: "192.0.2.0/24", dst: "203.0.113.71/32", want: audit.Allowed, line: 185, name: "hosted PBX by name"},
	{id: "sip-by-address", proto: "udp", lo: 5061, src: "192.0.2.0/24", dst: "203.0.113.70/32", want: audit.Allowed, line: 185, name: "hosted PBX by name"},
	{id: "sip-not-named", proto: "udp", lo: 5061, src: "192.0.2.0/24", dst: "203.0.113.72/32", want: audit.Blocked, name: "default deny rule"},
	{id: "sip-in", inbound: true, proto: "udp", lo: 5060, src: "198.51.100.10/32", dnat: "192.0.2.10", want: audit.Allowed, line: 200, name: "NAT SIP from the trunk"},
	{id: "sip-in-stranger", inbound: true, proto: "udp", lo: 5060, src: "203.0.113.5/32", dnat: "192.0.2.10", want: audit.Blocked}, // not forwarded: the rdr takes SIP_TRUNK only
	{id: "web-in", inbound: true, proto: "tcp", lo: 8443, src: "203.0.113.0/24", dnat: "192.0.2.10", want: audit.Allowed, line: 253, name: "filter rule association: pass"},
	{id: "ssh-in", inbound: true, proto: "tcp", lo: 2222, src: "203.0.113.0/24", dnat: "192.0.2.20", want: audit.Allowed, line: 216, name: "NAT ssh"},
	{id: "ssh-in-private", inbound: true, proto: "tcp", lo: 2222, src: "10.1.0.0/16", dnat: "192.0.2.20", want: audit.Blocked, line: 16, name: "Block private networks"},
	{id: "rdp-in-unpassed", inbound: true, proto: "tcp", lo: 3390, src: "203.0.113.0/24", dnat: "192.0.2.20", want: audit.Blocked, name: "default deny rule"},
}

// opnsenseFlows are the verdicts of testdata/opnsense-config.xml.
var opnsenseFlows = []fxFlow{
	{id: "sip-provider", proto: "udp", lo: 5060, src: "192.0.2.0/24", dst: "198.51.100.0/28", want: audit.Allowed, line: 64, name: "SIP to the provider"},
	{id: "sip-stray", proto: "udp", lo: 5060, src: "192.0.2.0/24", dst: "198.51.100.20/32", want: audit.Blocked, name: "default deny rule"},
	{id: "rtp-range", proto: "udp", lo: 16384, hi: 32767, src: "192.0.2.0/24", dst: "198.51.100.5/32", want: audit.Allowed, line: 78, name: "RTP"},
	{id: "https-lan", proto: "tcp", lo: 443, src: "192.0.2.0/24", want: audit.Partial},
	{id: "https-host", proto: "tcp", lo: 443, src: "192.0.2.30/32", dst: "203.0.113.9/32", want: audit.Allowed, line: 120, name: "floating rule on lan in"},
	{id: "https-guest", proto: "tcp", lo: 443, src: "192.0.2.128/25", want: audit.Blocked, line: 136, name: "guests"},
	{id: "ftp-shadowed", proto: "tcp", lo: 21, src: "192.0.2.0/24", want: audit.Blocked, line: 92, name: "no ftp"},
	{id: "push-by-name", proto: "tcp", lo: 5223, src: "192.0.2.0/24", dst: "203.0.113.80/32", want: audit.Allowed, line: 152, name: "push"},
	{id: "sip-in", inbound: true, proto: "udp", lo: 5060, src: "198.51.100.0/28", dnat: "192.0.2.10", want: audit.Allowed, line: 183, name: "registered filter rule"},
	{id: "sips-in", inbound: true, proto: "tcp", lo: 5061, src: "198.51.100.0/28", dnat: "192.0.2.10", want: audit.Allowed, line: 166, name: "NAT SIPS"},
	{id: "prov-in", inbound: true, proto: "tcp", lo: 8443, src: "203.0.113.0/24", dnat: "192.0.2.10", want: audit.Blocked, name: "default deny rule"},
}

// TestFixtures: hand-written configurations of both products, the
// verdicts their documented semantics give, and the deciding rules; the
// same with the interfaces' devices (em1, em0) as the audit's names.
func TestFixtures(t *testing.T) {
	pins, err := resolve.ParseHosts("pins", strings.NewReader("203.0.113.71 sip.example.com\n203.0.113.80 push.example.net\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p     pfxml.Product
		file  string
		flows []fxFlow
	}{
		{pfxml.PfSense, "pfsense-config.xml", pfsenseFlows},
		{pfxml.OPNsense, "opnsense-config.xml", opnsenseFlows},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, ifs := range [][2]string{{"lan", "wan"}, {"em1", "em0"}} {
			t.Run(c.p.Name+"/"+ifs[0], func(t *testing.T) {
				if !c.p.Looks(data) {
					t.Fatal("the reader does not recognise the fixture")
				}
				rs, err := c.p.Read(c.file, data)
				if err != nil {
					t.Fatal(err)
				}
				audit.ResolveNames(context.Background(), rs, pins)
				site := policy.Site{Mode: policy.Gateway, LANIf: ifs[0], WANIf: ifs[1], LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
				a, err := audit.New(rs, site)
				if err != nil {
					t.Fatal(err)
				}
				rep := a.Audit(fxRules(site, c.flows), nil, audit.Options{WANAddrs: []netip.Addr{netip.MustParseAddr("198.51.100.2")}})
				got := map[string]audit.FlowResult{}
				for _, f := range rep.Flows {
					got[f.Flow] = f
				}
				for _, f := range c.flows {
					g, ok := got[f.id]
					if !ok {
						t.Errorf("%s: not audited", f.id)
						continue
					}
					if g.Verdict != f.want {
						t.Errorf("%s: %s, want %s: %s", f.id, g.Verdict, f.want, g.Summary)
						continue
					}
					if f.name == "" {
						continue
					}
					found := false
					var seen []string
					for _, p := range g.Parts {
						if p.Rule == nil {
							continue
						}
						seen = append(seen, p.Rule.String())
						if (f.line == 0 || p.Rule.Line == f.line) && strings.Contains(p.Rule.Text, f.name) {
							found = true
						}
					}
					if !found {
						t.Errorf("%s: %s, but not by line %d %q: %v (%s)", f.id, g.Verdict, f.line, f.name, seen, g.Summary)
					}
				}
			})
		}
	}
}
