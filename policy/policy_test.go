package policy

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/resolve"
)

const pins = `198.51.100.20 acme.call.sl
198.51.100.30 config.starleaf.com
2001:db8:2::30 config.starleaf.com
`

func concrete(t *testing.T, slug string, sel resolve.Selection, r resolve.Resolver) []resolve.Concrete {
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
	con, _, err := resolve.Concretize(context.Background(), flows, r)
	if err != nil {
		t.Fatal(err)
	}
	return con
}

func hostsPins(t *testing.T) resolve.Resolver {
	h, err := resolve.ParseHosts("pins", strings.NewReader(pins))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// summary writes a rule compactly for comparison.
func summary(r Rule) string {
	m := r.Match
	s := string(r.Hook) + " " + m.Proto + "/" + string(rune('0'+m.Family))
	s += " " + m.IIf + ">" + m.OIf
	s += " src=" + prefixes(m.Src) + " dst=" + prefixes(m.Dst) + " dport=" + m.DstPorts.String()
	for _, n := range m.DstNames {
		s += " dname=" + n.Name
	}
	for _, n := range m.SrcNames {
		s += " sname=" + n.Name
	}
	if r.DNAT.IsValid() {
		s += " dnat=" + r.DNAT.String()
	}
	return r.Flow.ID + ": " + s
}

func prefixes(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "any"
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return strings.Join(out, ",")
}

func TestPlanGatewayOutbound(t *testing.T) {
	con := concrete(t, "starleaf", resolve.Selection{Params: []string{"company=acme"}}, hostsPins(t))
	site := Site{Mode: Gateway, LANIf: "lan0", WANIf: "wan0", LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	rules, skips, err := Plan(con, site, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		got = append(got, summary(r))
	}
	want := []string{
		"config-https: forward tcp/4 lan0>wan0 src=192.0.2.0/24 dst=any dport=443 dname=config.starleaf.com",
		"tunnel-https: forward tcp/4 lan0>wan0 src=192.0.2.0/24 dst=any dport=443 dname=acme.call.sl",
		"tunnel-udp: forward udp/4 lan0>wan0 src=192.0.2.0/24 dst=any dport=24704 dname=acme.call.sl",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(skips) != 0 {
		t.Errorf("skips: %v", skips)
	}
	// The names carry their addresses, per family.
	if a := rules[0].Match.DstNames[0].Answer.Addrs; len(a) != 1 || a[0].String() != "198.51.100.30" {
		t.Errorf("config v4 addresses = %v", a)
	}

	// IPv6 appears once the LAN has an IPv6 network; every one-of port with AllAlternatives.
	site.LAN = append(site.LAN, netip.MustParsePrefix("2001:db8:1::/64"))
	rules, _, _ = Plan(con, site, Options{AllAlternatives: true})
	got = nil
	for _, r := range rules {
		got = append(got, summary(r))
	}
	joined := strings.Join(got, "\n")
	for _, w := range []string{
		"config-https: forward tcp/6 lan0>wan0 src=2001:db8:1::/64 dst=any dport=443 dname=config.starleaf.com",
		"tunnel-udp: forward udp/4 lan0>wan0 src=192.0.2.0/24 dst=any dport=123,500,1194,3478,24704 dname=acme.call.sl",
	} {
		if !strings.Contains(joined, w) {
			t.Errorf("missing %q in\n%s", w, joined)
		}
	}
	if strings.Contains(joined, "tunnel-https: forward tcp/6") {
		t.Errorf("acme.call.sl has no IPv6 address, yet a v6 rule:\n%s", joined)
	}
}

func TestPlanGatewayInbound(t *testing.T) {
	con := concrete(t, "starface", resolve.Selection{Features: []string{"scenario-1"}, Params: []string{"pbx_address=192.0.2.10", "sip_provider=198.51.100.0/24"}}, resolve.NoResolve{})
	site := Site{Mode: Gateway, LANIf: "lan0", WANIf: "wan0"}
	rules, skips, err := Plan(con, site, Options{RequiredOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		if strings.HasPrefix(r.Flow.ID, "s1-sip-in") {
			got = append(got, summary(r))
		}
	}
	want := []string{
		"s1-sip-in: prerouting udp/4 wan0> src=198.51.100.0/24 dst=any dport=5060 dnat=192.0.2.10",
		"s1-sip-in: forward udp/4 wan0>lan0 src=198.51.100.0/24 dst=192.0.2.10/32 dport=5060",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	reasons := map[string]string{}
	for _, s := range skips {
		reasons[s.Flow.ID] = s.Reason
	}
	if !strings.Contains(reasons["web-https"], "stays inside the LAN") {
		t.Errorf("web-https skip = %q", reasons["web-https"])
	}
	if !strings.Contains(reasons["s1-sip-tls-in"], "--required-only") {
		t.Errorf("s1-sip-tls-in skip = %q", reasons["s1-sip-tls-in"])
	}
}

func TestPlanHost(t *testing.T) {
	con := concrete(t, "starface", resolve.Selection{Params: []string{"pbx_address=192.0.2.10"}}, resolve.NoResolve{})
	site := Site{Mode: Host, LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	rules, _, err := Plan(con, site, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		if r.Flow.ID == "web-https" || r.Flow.ID == "ntp" {
			got = append(got, summary(r))
		}
	}
	want := []string{
		"ntp: output udp/4 > src=any dst=any dport=123",
		"web-https: input tcp/4 > src=192.0.2.0/24 dst=any dport=443",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPlanSkipsWildcardsAndOptional(t *testing.T) {
	con := concrete(t, "onsight", resolve.Selection{}, resolve.NoResolve{})
	rules, skips, err := Plan(con, Site{Mode: Gateway}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, s := range skips {
		reasons[s.Flow.ID] = s.Reason
	}
	if !strings.Contains(reasons["proxy-https"], "wildcard") || !strings.Contains(reasons["redirect-http"], "optional") {
		t.Errorf("skips = %v", reasons)
	}
	for _, r := range rules {
		if r.Flow.ID == "apple-push" && (r.Match.Family != 4 || prefixes(r.Match.Dst) != "17.0.0.0/8") {
			t.Errorf("apple-push = %s", summary(r))
		}
	}
}

func TestSiteValidate(t *testing.T) {
	for _, tt := range []struct {
		site Site
		err  string
	}{
		{Site{Mode: "router"}, "gateway or host"},
		{Site{Mode: Host, LANIf: "eth0"}, "gateway mode"},
		{Site{Mode: Gateway, LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}}, "host bits"},
	} {
		if err := tt.site.Validate(); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%+v: err = %v, want %q", tt.site, err, tt.err)
		}
	}
}

func TestOptionsExcludes(t *testing.T) {
	con := concrete(t, "onsight", resolve.Selection{}, resolve.NoResolve{})
	byID := map[string]*resolve.Concrete{}
	for i := range con {
		byID[con[i].ID] = &con[i]
	}
	tests := []struct {
		flow string
		opt  Options
		want string
	}{
		{"sip", Options{}, ""},
		{"sip", Options{RequiredOnly: true}, ""},
		{"redirect-http", Options{}, "optional"},
		{"redirect-http", Options{Optional: true}, ""},
	}
	for _, tt := range tests {
		got := tt.opt.Excludes(byID[tt.flow])
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("%s %+v: %q, want %q", tt.flow, tt.opt, got, tt.want)
		}
	}
	// Excludes agrees with Plan's skips.
	_, skips, err := Plan(con, Site{Mode: Gateway}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range skips {
		if r := (Options{}).Excludes(s.Flow); r != "" && r != s.Reason {
			t.Errorf("%s: Excludes %q, Plan %q", s.Flow.ID, r, s.Reason)
		}
	}
}

// TestForwardOrderAndConflicts: STARFACE scenario 2 forwards TCP 5061 from
// any source to the PBX, Pexip's SBC forward takes 5061 from the service
// network to the SBC. The SBC's narrower forward goes first, and the
// overlap is reported.
func TestForwardOrderAndConflicts(t *testing.T) {
	sf := concrete(t, "starface", resolve.Selection{Features: []string{"scenario-2"}, Params: []string{"pbx_address=192.0.2.10"}}, resolve.NoResolve{})
	px := concrete(t, "pexip", resolve.Selection{Features: []string{"sbc"}, Params: []string{"sbc_address=192.0.2.20", "service_network=198.51.100.0/24", "sbc_media_ports=36000-59999"}}, resolve.NoResolve{})
	rules, _, err := Plan(append(sf, px...), Site{Mode: Gateway, WANIf: "wan0", LANIf: "lan0"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]int{}
	for i, r := range rules {
		if r.Hook != Prerouting {
			continue
		}
		if _, ok := first[r.Flow.ID]; !ok {
			first[r.Flow.ID] = i
		}
	}
	if !(first["sbc-sip-in"] < first["s2-sip-tls-in"]) {
		t.Errorf("the SBC's source-restricted forward is not first: %v", first)
	}
	// Each port forward is followed by its own accept, of the same flow and family.
	for i, r := range rules {
		if r.Hook != Prerouting {
			continue
		}
		if i+1 >= len(rules) || rules[i+1].Hook != Forward || rules[i+1].Flow != r.Flow || rules[i+1].Match.Family != r.Match.Family {
			t.Fatalf("rule %d (%s prerouting) is not followed by its forward accept", i, r.Flow.ID)
		}
	}
	var msgs []string
	for _, c := range ForwardConflicts(rules) {
		msgs = append(msgs, c.String())
	}
	joined := strings.Join(msgs, "\n")
	if !strings.Contains(joined, "pexip/sbc-sip-in and starface/s2-sip-tls-in both forward tcp 5061") {
		t.Errorf("conflict not reported:\n%s", joined)
	}
	// Forwards of different ports do not conflict.
	if strings.Contains(joined, "s2-xmpp-in") {
		t.Errorf("a non-overlapping forward is reported:\n%s", joined)
	}
	// Alone, STARFACE has no conflict.
	rules, _, _ = Plan(sf, Site{Mode: Gateway}, Options{})
	if cs := ForwardConflicts(rules); len(cs) != 0 {
		t.Errorf("conflicts within starface alone: %v", cs[0])
	}
}
