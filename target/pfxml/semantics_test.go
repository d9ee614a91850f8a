package pfxml_test

import (
	"net/netip"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target/pfxml"
)

// TestReaderSemantics: small configurations for what the fixtures do not
// show: interface groups, an interface whose IPv6 subnet is dynamic, a
// rule of the firewall itself, a port forward that moves the port.
func TestReaderSemantics(t *testing.T) {
	site := policy.Site{Mode: policy.Gateway, LANIf: "lan", WANIf: "wan", LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	const ifs = `<interfaces><wan><if>em0</if><ipaddr>dhcp</ipaddr></wan><lan><if>em1</if><descr>VOICE</descr><ipaddr>192.0.2.1</ipaddr><subnet>24</subnet><ipaddrv6>track6</ipaddrv6></lan></interfaces>`
	rule := func(iface, src, port string) string {
		return `<rule><type>pass</type><interface>` + iface + `</interface><ipprotocol>inet46</ipprotocol><protocol>tcp</protocol><source>` + src + `</source><destination><any/><port>` + port + `</port></destination><descr>r` + port + `</descr></rule>`
	}
	doc := `<pfsense>` + ifs + `<ifgroups><ifgroupentry><ifname>INSIDE</ifname><members>lan opt1</members></ifgroupentry></ifgroups><filter>` +
		rule("INSIDE", "<any/>", "443") +
		rule("lan", "<network>lan</network>", "22") +
		`<rule><type>block</type><interface>lan</interface><protocol>tcp</protocol><source><any/></source><destination><network>(self)</network><port>25</port></destination></rule>` +
		rule("lan", "<any/>", "25") +
		`</filter><nat><rule><interface>wan</interface><protocol>tcp</protocol><source><any/></source><destination><network>wanip</network><port>8443</port></destination><target>192.0.2.10</target><local-port>443</local-port></rule></nat></pfsense>`
	rs, err := pfxml.PfSense.Read("x.xml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	a, err := audit.New(rs, site)
	if err != nil {
		t.Fatal(err)
	}
	flows := []fxFlow{
		{id: "group", proto: "tcp", lo: 443, src: "192.0.2.0/24", want: audit.Allowed},
		{id: "lan-net-v4", proto: "tcp", lo: 22, src: "192.0.2.0/24", want: audit.Allowed},
		{id: "lan-net-v6-dynamic", proto: "tcp", lo: 22, src: "2001:db8:1::/64", want: audit.Unknown},
		{id: "self-rule-left-out", proto: "tcp", lo: 25, src: "192.0.2.0/24", want: audit.Allowed},
	}
	rep := a.Audit(fxRules(site, flows), nil, audit.Options{})
	got := map[string]audit.FlowResult{}
	for _, f := range rep.Flows {
		got[f.Flow] = f
	}
	for _, f := range flows {
		if g := got[f.id]; g.Verdict != f.want {
			t.Errorf("%s: %s, want %s: %s", f.id, g.Verdict, f.want, g.Summary)
		}
	}
	// The interface by its description, as the GUI shows it.
	voice := site
	voice.LANIf = "VOICE"
	a, err = audit.New(rs, voice)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range a.Audit(fxRules(voice, flows[1:2]), nil, audit.Options{}).Flows {
		if f.Verdict != audit.Allowed {
			t.Errorf("--lan-if VOICE: %s: %s: %s", f.Flow, f.Verdict, f.Summary)
		}
	}
	var dnat *ruleset.Rule
	for _, c := range rs.Chains {
		if c.Hook == "prerouting" && len(c.Rules) > 0 {
			dnat = c.Rules[0]
		}
	}
	if dnat == nil || dnat.Verdict.Kind != ruleset.DNAT || dnat.Verdict.To != netip.MustParseAddr("192.0.2.10") || dnat.Verdict.Port != 443 {
		t.Errorf("port forward 8443 to 192.0.2.10:443: %v", dnat)
	}
	if len(dnat.Unknown()) == 0 {
		t.Error("wanip of a DHCP interface: the destination should be unknown")
	}
	noted := false
	for _, n := range rs.Notes {
		if n == "x.xml: line 1: a rule to or from This Firewall (self) concerns the firewall itself, not the forward path: not read" {
			noted = true
		}
	}
	if !noted {
		t.Errorf("the (self) rule is not noted: %q", rs.Notes)
	}
}

// TestOPNsenseNewRules: the rules of OPNsense's Firewall > Rules (new)
// (OPNsense/Firewall/Filter/rules) are read in their sequence, with the
// legacy ones: a block of sequence 1 before a pass of sequence 2 written
// earlier, a disabled rule skipped, a rule of two interfaces floating.
func TestOPNsenseNewRules(t *testing.T) {
	site := policy.Site{Mode: policy.Gateway, LANIf: "lan", WANIf: "wan", LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	mvc := func(uuid, seq, action, ifs, dst, port, extra string) string {
		enabled := "1"
		if extra == "off" {
			enabled, extra = "0", ""
		}
		return `<rule uuid="` + uuid + `"><enabled>` + enabled + `</enabled><sequence>` + seq + `</sequence><action>` + action + `</action><quick>1</quick><interface>` + ifs +
			`</interface><direction>in</direction><ipprotocol>inet</ipprotocol><protocol>TCP</protocol><source_net>lan</source_net><destination_net>` + dst +
			`</destination_net><destination_port>` + port + `</destination_port><description>new ` + seq + `</description>` + extra + `</rule>`
	}
	doc := `<opnsense><interfaces><lan><if>em1</if><ipaddr>192.0.2.1</ipaddr><subnet>24</subnet></lan><wan><if>em0</if><ipaddr>dhcp</ipaddr></wan></interfaces>
<OPNsense><Firewall><Filter><rules>` +
		mvc("a", "2", "pass", "lan", "any", "443", "") +
		mvc("b", "1", "block", "lan", "203.0.113.9", "443", "") +
		mvc("c", "3", "pass", "lan", "any", "8080", "off") +
		mvc("d", "4", "pass", "lan,opt1", "any", "993", "") +
		`</rules></Filter></Firewall></OPNsense></opnsense>`
	rs, err := pfxml.OPNsense.Read("new.xml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	a, err := audit.New(rs, site)
	if err != nil {
		t.Fatal(err)
	}
	flows := []fxFlow{
		{id: "https", proto: "tcp", lo: 443, src: "192.0.2.0/24", dst: "203.0.113.10/32", want: audit.Allowed},
		{id: "https-blocked", proto: "tcp", lo: 443, src: "192.0.2.0/24", dst: "203.0.113.9/32", want: audit.Blocked},
		{id: "disabled", proto: "tcp", lo: 8080, src: "192.0.2.0/24", want: audit.Blocked},
		{id: "floating", proto: "tcp", lo: 993, src: "192.0.2.0/24", want: audit.Allowed},
	}
	for _, f := range a.Audit(fxRules(site, flows), nil, audit.Options{}).Flows {
		for _, w := range flows {
			if w.id == f.Flow && f.Verdict != w.want {
				t.Errorf("%s: %s, want %s: %s", f.Flow, f.Verdict, w.want, f.Summary)
			}
		}
	}
}
