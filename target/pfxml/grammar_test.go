package pfxml_test

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/pfxml"
	"github.com/portolan/portolan/target/targettest"
)

// No pfSense or OPNsense runs here: the writer is checked against the
// products' documented forms and their own source. Every element the
// generator writes has an entry: its path in the document, its
// documented form (a check of its text), and where it is documented.
type form struct {
	path  string // slash-separated from the product's root; "*" stands for pfsense/opnsense
	doc   string // the documented form, in words
	url   string
	check func(text string) bool
}

var (
	ipRE       = func(s string) bool { _, err := netip.ParseAddr(s); return err == nil }
	cidrRE     = func(s string) bool { _, err := netip.ParsePrefix(s); return err == nil && strings.Contains(s, "/") }
	fqdnRE     = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	portRange  = func(sep string) func(string) bool { return portCheck(sep) }
	aliasOrRng = func(sep string) func(string) bool {
		return func(s string) bool { return portCheck(sep)(s) || pfxml.ValidAliasName(s) }
	}
	re = func(p string) func(string) bool { r := regexp.MustCompile(p); return r.MatchString }
)

func portCheck(sep string) func(string) bool {
	return func(s string) bool {
		lo, hi, rng := strings.Cut(s, sep)
		l, err := strconv.Atoi(lo)
		if err != nil || l < 1 || l > 65535 {
			return false
		}
		if !rng {
			return true
		}
		h, err := strconv.Atoi(hi)
		return err == nil && h > l && h <= 65535
	}
}

const (
	pfAliases   = "https://docs.netgate.com/pfsense/en/latest/firewall/aliases.html"
	pfRules     = "https://docs.netgate.com/pfsense/en/latest/firewall/configure.html"
	pfFloating  = "https://docs.netgate.com/pfsense/en/latest/firewall/floating-rules.html"
	pfForwards  = "https://docs.netgate.com/pfsense/en/latest/nat/port-forwards.html"
	pfOutbound  = "https://docs.netgate.com/pfsense/en/latest/nat/outbound.html"
	pfRestore   = "https://docs.netgate.com/pfsense/en/latest/backup/restore.html"
	pfNameSrc   = "https://github.com/pfsense/pfsense/blob/master/src/etc/inc/util.inc (is_validaliasname, is_portrange)"
	pfRuleSrc   = "https://github.com/pfsense/pfsense/blob/master/src/usr/local/www/firewall_rules_edit.php"
	pfNATSrc    = "https://github.com/pfsense/pfsense/blob/master/src/usr/local/pfSense/include/www/firewall_nat.inc"
	pfOutSrc    = "https://github.com/pfsense/pfsense/blob/master/src/usr/local/pfSense/include/www/firewall_nat_out.inc"
	opAliases   = "https://docs.opnsense.org/manual/aliases.html"
	opAliasXML  = "https://github.com/opnsense/core/blob/master/src/opnsense/mvc/app/models/OPNsense/Firewall/Alias.xml"
	opAliasName = "https://github.com/opnsense/core/blob/master/src/opnsense/mvc/app/models/OPNsense/Firewall/FieldTypes/AliasNameField.php"
	opRules     = "https://docs.opnsense.org/manual/firewall.html"
	opNAT       = "https://docs.opnsense.org/manual/nat.html"
	opDNatXML   = "https://github.com/opnsense/core/blob/master/src/opnsense/mvc/app/models/OPNsense/Firewall/DNat.xml"
	opRestore   = "https://docs.opnsense.org/manual/backups.html"
)

func ruleForms(pre, url, natURL string) []form {
	side := func(p string) []form {
		return []form{
			{p + "/any", "empty: any address", url, re(`^$`)},
			{p + "/address", "an address, a prefix (CIDR) or an alias name", url, func(s string) bool { return ipRE(s) || cidrRE(s) || pfxml.ValidAliasName(s) }},
			{p + "/port", "a port, a range lo-hi, or a port alias", url, aliasOrRng("-")},
		}
	}
	var out []form
	r := pre + "/filter/rule"
	out = append(out,
		form{pre + "/filter", "the Firewall Rules area: <rule> elements", url, re(`^\s*$`)},
		form{r, "one rule", url, re(`^\s*$`)},
		form{r + "/tracker", "the rule's pf ridentifier, a 32-bit number", pfRuleSrc, func(s string) bool { n, err := strconv.ParseUint(s, 10, 32); return err == nil && n > 0 }},
		form{r + "/type", "pass, block or reject; portolan writes pass", url, re(`^pass$`)},
		form{r + "/interface", "the interface's name in the configuration: lan, wan, opt1…", url, re(`^[a-z][a-z0-9_]{0,15}$`)},
		form{r + "/ipprotocol", "inet (IPv4) or inet6 (IPv6)", url, re(`^inet6?$`)},
		form{r + "/protocol", "tcp or udp", url, re(`^(tcp|udp)$`)},
		form{r + "/source", "any, an address or an alias, and a port", url, re(`^\s*$`)},
		form{r + "/destination", "any, an address or an alias, and a port", url, re(`^\s*$`)},
		form{r + "/descr", "free text; pf keeps 63 bytes of it in the rule's label", url, func(s string) bool { return len(s) <= pfxml.MaxDescr && s != "" }},
		form{r + "/associated-rule-id", "the id that links a port forward and its filter rule", natURL, re(`^nat_portolan_[0-9a-f]{12}$`)},
	)
	out = append(out, side(r+"/source")...)
	out = append(out, side(r+"/destination")...)
	n := pre + "/nat/rule"
	out = append(out,
		form{pre + "/nat", "the NAT area: port forwards <rule>, outbound NAT <outbound>", natURL, re(`^\s*$`)},
		form{n, "one port forward", natURL, re(`^\s*$`)},
		form{n + "/source", "any, an address or an alias", natURL, re(`^\s*$`)},
		form{n + "/destination", "any (the interface's traffic), and the port or range", natURL, re(`^\s*$`)},
		form{n + "/ipprotocol", "inet or inet6 (IPv6 port forwards: pfSense 2.5.0 and later, redmine #10984; OPNsense 16.7 and later, core issue 807)", natURL, re(`^inet6?$`)},
		form{n + "/protocol", "tcp or udp", natURL, re(`^(tcp|udp)$`)},
		form{n + "/target", "the internal address forwarded to", natURL, ipRE},
		form{n + "/local-port", "the first internal port; a range maps onto the ports from it", natURL, portRange("-")},
		form{n + "/interface", "the interface the packets arrive on", natURL, re(`^[a-z][a-z0-9_]{0,15}$`)},
		form{n + "/descr", "free text", natURL, func(s string) bool { return len(s) <= pfxml.MaxDescr && s != "" }},
		form{n + "/associated-rule-id", "the linked filter rule's id", natURL, re(`^nat_portolan_[0-9a-f]{12}$`)},
	)
	out = append(out, side(n+"/source")...)
	out = append(out, side(n+"/destination")...)
	o := pre + "/nat/outbound"
	out = append(out,
		form{o, "outbound NAT: mode and rules", pfOutbound, re(`^\s*$`)},
		form{o + "/mode", "automatic, hybrid, advanced or disabled: hybrid keeps the automatic rules", pfOutbound, re(`^hybrid$`)},
		form{o + "/rule", "one outbound NAT rule", pfOutSrc, re(`^\s*$`)},
		form{o + "/rule/source", "the source network", pfOutSrc, re(`^\s*$`)},
		form{o + "/rule/source/network", "a network (CIDR) or any", pfOutSrc, func(s string) bool { return s == "any" || cidrRE(s) }},
		form{o + "/rule/sourceport", "empty: any source port", pfOutSrc, re(`^$`)},
		form{o + "/rule/descr", "free text", pfOutSrc, func(s string) bool { return len(s) <= pfxml.MaxDescr }},
		form{o + "/rule/target", "empty: the interface address", pfOutSrc, re(`^$`)},
		form{o + "/rule/interface", "the outbound interface", pfOutSrc, re(`^[a-z][a-z0-9_]{0,15}$`)},
		form{o + "/rule/poolopts", "empty: the default pool option", pfOutSrc, re(`^$`)},
		form{o + "/rule/ipprotocol", "inet", pfOutSrc, re(`^inet$`)},
		form{o + "/rule/protocol", "tcp or udp", pfOutSrc, re(`^(tcp|udp)$`)},
		form{o + "/rule/destination", "any", pfOutSrc, re(`^\s*$`)},
		form{o + "/rule/destination/any", "empty", pfOutSrc, re(`^$`)},
		form{o + "/rule/dstport", "a port or range lo-hi", pfOutSrc, portRange("-")},
		form{o + "/rule/staticnatport", "flag: keep the source port (static-port)", pfOutbound, re(`^$`)},
	)
	return out
}

func productForms(p pfxml.Product) []form {
	root := p.Root
	if p == pfxml.PfSense {
		a := root + "/aliases/alias"
		return append(ruleForms(root, pfRules+" "+pfFloating+" "+pfRuleSrc, pfForwards+" "+pfNATSrc),
			form{root, "config.xml's root; the restore takes each area's element from it (" + pfRestore + ")", pfRestore, re(`^\s*$`)},
			form{root + "/aliases", "the Aliases area", pfAliases, re(`^\s*$`)},
			form{a, "one alias", pfAliases, re(`^\s*$`)},
			form{a + "/name", "letters, digits and _, fewer than 32 characters, not only digits or _", pfNameSrc, pfxml.ValidAliasName},
			form{a + "/type", "host, network or port", pfAliases, re(`^(host|network|port)$`)},
			form{a + "/address", "entries separated by spaces: addresses, CIDR networks, FQDN host names; ports and ranges lo:hi", pfAliases, aliasEntries(" ")},
			form{a + "/descr", "free text", pfAliases, func(s string) bool { return s != "" }},
			form{a + "/detail", "one description per entry, separated by ||", pfAliases, re(`^portolan(\|\|portolan)*$`)},
		)
	}
	a := root + "/OPNsense/Firewall/Alias/aliases/alias"
	return append(ruleForms(root, opRules, opNAT+" "+opDNatXML),
		form{root, "config.xml's root; the restore takes the selected areas from it (" + opRestore + ")", opRestore, re(`^\s*$`)},
		form{root + "/OPNsense", "the models' root", opAliasXML, re(`^\s*$`)},
		form{root + "/OPNsense/Firewall", "the firewall models", opAliasXML, re(`^\s*$`)},
		form{root + "/OPNsense/Firewall/Alias", "the alias model, mount //OPNsense/Firewall/Alias", opAliasXML, re(`^\s*$`)},
		form{root + "/OPNsense/Firewall/Alias/geoip", "the GeoIP settings", opAliasXML, re(`^\s*$`)},
		form{root + "/OPNsense/Firewall/Alias/geoip/url", "empty: no GeoIP source", opAliasXML, re(`^$`)},
		form{root + "/OPNsense/Firewall/Alias/aliases", "the aliases", opAliasXML, re(`^\s*$`)},
		form{a, "one alias, its uuid attribute naming it", opAliasXML, re(`^\s*$`)},
		form{a + "/enabled", "1", opAliasXML, re(`^1$`)},
		form{a + "/name", "a letter or _ first, then letters, digits and _, less than 32 characters", opAliasName, pfxml.ValidAliasName},
		form{a + "/type", "host, network or port", opAliases, re(`^(host|network|port)$`)},
		form{a + "/proto", "empty: both families", opAliasXML, re(`^$`)},
		form{a + "/interface", "empty", opAliasXML, re(`^$`)},
		form{a + "/counters", "0", opAliasXML, re(`^0$`)},
		form{a + "/updatefreq", "empty", opAliasXML, re(`^$`)},
		form{a + "/content", "entries one a line: addresses, networks, FQDN host names; ports and ranges lo:hi", opAliases, aliasEntries("\n")},
		form{a + "/description", "free text", opAliasXML, func(s string) bool { return s != "" }},
	)
}

func aliasEntries(sep string) func(string) bool {
	return func(s string) bool {
		if s == "" {
			return false
		}
		for _, e := range strings.Split(s, sep) {
			if !(ipRE(e) || cidrRE(e) || fqdnRE.MatchString(e) || portCheck(":")(e)) {
				return false
			}
		}
		return true
	}
}

// walk calls f with every element's path and trimmed text.
func walk(n *pfxml.Node, path string, f func(path string, n *pfxml.Node)) {
	if path == "" {
		path = n.Name
	} else {
		path += "/" + n.Name
	}
	f(path, n)
	for _, c := range n.Children {
		walk(c, path, f)
	}
}

// TestGrammar: the output of every seed service (defaults, all features,
// each feature alone, names pinned and not resolved, gateway mode) holds
// only elements of the table, each of its documented form; alias names
// are within both products' limits and unique; uuids are RFC 4122 form.
func TestGrammar(t *testing.T) {
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, p := range products {
		forms := map[string]form{}
		for _, f := range productForms(p) {
			forms[f.path] = f
		}
		used := map[string]bool{}
		checked := 0
		for _, m := range targettest.SyntaxMatrix(t) {
			if m.In.Site.Mode != policy.Gateway || m.In.Options.ChainOnly {
				continue
			}
			for _, names := range []bool{false, true} {
				doc, _, err := pfxml.Render(p, m.In, names)
				if err != nil {
					t.Fatalf("%s %s: %v", p.Name, m.Name, err)
				}
				root, err := pfxml.Parse("out.xml", []byte(doc))
				if err != nil {
					t.Fatalf("%s %s: not XML: %v", p.Name, m.Name, err)
				}
				aliasNames := map[string]bool{}
				walk(root, "", func(path string, n *pfxml.Node) {
					f, ok := forms[path]
					if !ok {
						t.Errorf("%s %s: line %d: <%s> (%s) is not in the grammar table", p.Name, m.Name, n.Line, n.Name, path)
						return
					}
					used[path] = true
					text := strings.TrimSpace(n.Text)
					if strings.HasSuffix(path, "/content") || strings.HasSuffix(path, "/address") {
						text = strings.Trim(n.Text, " \t\n")
					}
					if !f.check(text) {
						t.Errorf("%s %s: line %d: <%s>%q</%s>: want %s (%s)", p.Name, m.Name, n.Line, n.Name, text, n.Name, f.doc, f.url)
					}
					if strings.HasSuffix(path, "/alias") {
						name := n.Get("name")
						if aliasNames[name] {
							t.Errorf("%s %s: alias %s twice", p.Name, m.Name, name)
						}
						aliasNames[name] = true
						if p == pfxml.OPNsense && !uuidRE.MatchString(n.Attr["uuid"]) {
							t.Errorf("%s %s: alias %s: uuid %q", p.Name, m.Name, name, n.Attr["uuid"])
						}
					}
					checked++
				})
			}
		}
		for path := range forms {
			if !used[path] && !strings.Contains(path, "/source/port") {
				t.Logf("%s: %s never written by the matrix", p.Name, path)
			}
		}
		if checked == 0 {
			t.Fatal("nothing checked")
		}
		t.Logf("%s: %d elements checked against %d documented forms", p.Name, checked, len(forms))
	}
}

// TestAliasNames: names are stable, within 31 characters, letters,
// digits and _ only, start with a letter, and long ones stay distinct.
func TestAliasNames(t *testing.T) {
	long := strings.Repeat("very-long-flow-id-", 5)
	for _, c := range []struct {
		parts []string
		want  string
	}{
		{[]string{"portolan", "starface", "sip-in", "d4"}, "portolan_starface_sip_in_d4"},
		{[]string{"portolan", "8x8", "rtp", "p"}, "portolan_8x8_rtp_p"},
		{[]string{"portolan", "a.b", "c d", "s6"}, "portolan_a_b_c_d_s6"},
	} {
		if got := pfxml.AliasName(c.parts...); got != c.want {
			t.Errorf("AliasName(%q) = %q, want %q", c.parts, got, c.want)
		}
	}
	a, b := pfxml.AliasName("portolan", "svc", long+"1", "d4"), pfxml.AliasName("portolan", "svc", long+"2", "d4")
	for _, n := range []string{a, b} {
		if len(n) > pfxml.MaxAliasName || !pfxml.ValidAliasName(n) || strings.Contains(n, "-") {
			t.Errorf("%q: not a valid alias name (at most %d: letters, digits, _)", n, pfxml.MaxAliasName)
		}
	}
	if a == b || a != pfxml.AliasName("portolan", "svc", long+"1", "d4") {
		t.Errorf("long names: %q and %q must differ and be stable", a, b)
	}
	for _, bad := range []string{"", "1abc", "a-b", strings.Repeat("a", 32), "_x", "a b"} {
		if pfxml.ValidAliasName(bad) {
			t.Errorf("ValidAliasName(%q) = true", bad)
		}
	}
	if !pfxml.ValidAliasName(strings.Repeat("a", 31)) {
		t.Error("31 characters must do")
	}
}

// TestHostModeRefused: neither product's target writes host rules; the
// check runs before any name is resolved (target.SiteChecker).
func TestHostModeRefused(t *testing.T) {
	for _, name := range []string{"pfsense", "opnsense"} {
		tg := &pfxml.Target{P: map[string]pfxml.Product{"pfsense": pfxml.PfSense, "opnsense": pfxml.OPNsense}[name]}
		var sc target.SiteChecker = tg
		err := sc.CheckSite(policy.Site{Mode: policy.Host}, target.Options{})
		if err == nil || !strings.Contains(err.Error(), "--mode gateway") {
			t.Errorf("%s: host mode: %v", name, err)
		}
		err = sc.CheckSite(policy.Site{Mode: policy.Gateway, LANIf: "wan"}, target.Options{})
		if err == nil || !strings.Contains(err.Error(), "both") {
			t.Errorf("%s: --lan-if wan with the default --wan-if wan: %v", name, err)
		}
		if err := sc.CheckSite(policy.Site{Mode: policy.Gateway, LANIf: "opt1", WANIf: "wan"}, target.Options{}); err != nil {
			t.Errorf("%s: opt1/wan: %v", name, err)
		}
	}
}
