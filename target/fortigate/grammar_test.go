package fortigate

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/targettest"
)

// No FortiOS runs here: every command the writer emits is checked against
// the form Fortinet's CLI reference documents. One row per block and
// setting: the page, the documented form, and a check of the values as
// the writer writes them (after the CLI's own quoting is undone).
type grammarRow struct {
	path, key string // block ("firewall address") and set key; key "" checks the edit names
	form      string // the documented form
	url       string
	values    *regexp.Regexp // every value must match
	max       int            // documented maximum length of each value (0: none)
	count     [2]int         // number of values allowed (min, max; 0 max: any)
}

const (
	urlAddress   = "https://docs.fortinet.com/document/fortigate/7.0.3/cli-reference/258620"
	urlAddress6  = "https://docs.fortinet.com/document/fortigate/7.2.2/cli-reference/259620"
	urlAddrgrp   = "https://docs.fortinet.com/document/fortigate/7.4.7/cli-reference/301511994"
	urlService   = "https://docs.fortinet.com/document/fortigate/7.4.8/cli-reference/198499981"
	urlVIP       = "https://docs.fortinet.com/document/fortigate/6.2.6/cli-reference/272620"
	urlVIP6      = "https://docs.ansible.com/ansible/4/collections/fortinet/fortios/fortios_firewall_vip6_module.html" // Fortinet's module, generated from the FortiOS schema: vip6 has extip, no extintf
	urlPolicy    = "https://docs.fortinet.com/document/fortigate/7.6.1/cli-reference/333889629"
	urlSettings  = "https://docs.fortinet.com/document/fortigate/7.0.0/fortios-release-notes/593415/how-voip-alg-mode-settings-determine-the-firewall-policy-inspection-mode"
	urlHelper    = "https://docs.fortinet.com/document/fortigate/7.2.0/cli-reference/117620"
	urlTTL       = "https://docs.fortinet.com/document/fortigate/7.4.1/cli-reference/58620"
	urlSSL       = "https://docs.fortinet.com/document/fortigate/7.2.11/cli-reference/116695140/config-firewall-ssl-ssh-profile"
	urlWildcard  = "https://docs.fortinet.com/document/fortigate/7.2.1/cli-reference/263620"
	urlLocalIn64 = "https://docs.fortinet.com/document/fortigate/6.4.4/cli-reference/318620" // policy name and interface sizes (35)
)

var (
	reName    = regexp.MustCompile(`^portolan-[A-Za-z0-9_.-]+$`)
	reIntf    = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)
	reV4      = `(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}`
	reIPv4    = regexp.MustCompile(`^` + reV4 + `$`)
	reIPv6    = regexp.MustCompile(`^[0-9a-f:]+$`)
	reFQDN    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
	reWild    = regexp.MustCompile(`^\*\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
	rePort    = `([1-9][0-9]{0,4})(-[1-9][0-9]{0,4})?`
	rePorts   = regexp.MustCompile(`^` + rePort + `(:` + rePort + `)?$`)
	reOnePort = regexp.MustCompile(`^` + rePort + `$`)
	reComment = regexp.MustCompile(`^[^"\\\x00-\x1f]*$`)
	reNumber  = regexp.MustCompile(`^[0-9]+$`)
)

func word(ws ...string) *regexp.Regexp {
	return regexp.MustCompile(`^(` + strings.Join(ws, "|") + `)$`)
}

var grammar = []grammarRow{
	{"firewall address", "", "edit <name>", urlAddress, reName, MaxAddrName, [2]int{1, 1}},
	{"firewall address", "type", "set type [ipmask|iprange|fqdn|wildcard-fqdn|...]", urlAddress, word("ipmask", "iprange", "fqdn", "wildcard-fqdn"), 0, [2]int{1, 1}},
	{"firewall address", "subnet", "set subnet {ipv4-classnet-any}", urlAddress, reIPv4, 0, [2]int{2, 2}},
	{"firewall address", "start-ip", "set start-ip {ipv4-address-any}", urlAddress, reIPv4, 0, [2]int{1, 1}},
	{"firewall address", "end-ip", "set end-ip {ipv4-address-any}", urlAddress, reIPv4, 0, [2]int{1, 1}},
	{"firewall address", "fqdn", "set fqdn {string} (255)", urlAddress, reFQDN, 255, [2]int{1, 1}},
	{"firewall address", "wildcard-fqdn", "set wildcard-fqdn {string}", urlAddress, reWild, 255, [2]int{1, 1}},
	{"firewall address", "comment", "set comment {var-string} (255)", urlAddress, reComment, MaxComment, [2]int{1, 1}},
	{"firewall address6", "", "edit <name> (79)", urlAddress6, reName, MaxAddrName, [2]int{1, 1}},
	{"firewall address6", "type", "set type [ipprefix|iprange|fqdn|...]", urlAddress6, word("ipprefix", "iprange", "fqdn"), 0, [2]int{1, 1}},
	{"firewall address6", "ip6", "set ip6 {ipv6-network}", urlAddress6, regexp.MustCompile(`^[0-9a-f:]+/[0-9]{1,3}$`), 0, [2]int{1, 1}},
	{"firewall address6", "start-ip", "set start-ip {ipv6-address}", urlAddress6, reIPv6, 0, [2]int{1, 1}},
	{"firewall address6", "end-ip", "set end-ip {ipv6-address}", urlAddress6, reIPv6, 0, [2]int{1, 1}},
	{"firewall address6", "fqdn", "set fqdn {string}", urlAddress6, reFQDN, 255, [2]int{1, 1}},
	{"firewall address6", "comment", "set comment {var-string}", urlAddress6, reComment, MaxComment, [2]int{1, 1}},
	{"firewall addrgrp", "", "edit <name> (79)", urlAddrgrp, reName, MaxAddrName, [2]int{1, 1}},
	{"firewall addrgrp", "member", "set member <name1>, <name2>, ...", urlAddrgrp, reName, MaxAddrName, [2]int{2, 0}},
	{"firewall addrgrp", "comment", "set comment {var-string} (255)", urlAddrgrp, reComment, MaxComment, [2]int{1, 1}},
	{"firewall addrgrp6", "", "edit <name> (79), as addrgrp", urlAddrgrp, reName, MaxAddrName, [2]int{1, 1}},
	{"firewall addrgrp6", "member", "set member <name1>, <name2>, ..., as addrgrp", urlAddrgrp, reName, MaxAddrName, [2]int{2, 0}},
	{"firewall addrgrp6", "comment", "set comment {var-string}, as addrgrp", urlAddrgrp, reComment, MaxComment, [2]int{1, 1}},
	{"firewall service custom", "", "edit <name> (79)", urlService, reName, MaxAddrName, [2]int{1, 1}},
	{"firewall service custom", "protocol", "set protocol [TCP/UDP/SCTP|ICMP|...]", urlService, word("TCP/UDP/SCTP"), 0, [2]int{1, 1}},
	{"firewall service custom", "tcp-portrange", "set tcp-portrange {user}: dst_low[-dst_high[:src_low[-src_high]]], space-separated", urlService, rePorts, 0, [2]int{1, 0}},
	{"firewall service custom", "udp-portrange", "set udp-portrange {user}: as tcp-portrange", urlService, rePorts, 0, [2]int{1, 0}},
	{"firewall service custom", "comment", "set comment {var-string} (255)", urlService, reComment, MaxComment, [2]int{1, 1}},
	{"firewall vip", "", "edit <name> (79)", urlVIP, reName, MaxAddrName, [2]int{1, 1}},
	{"firewall vip", "extintf", "set extintf {string} (35)", urlVIP, reIntf, MaxIntfName, [2]int{1, 1}},
	{"firewall vip", "extip", "set extip {user}", urlVIP, word(`0\.0\.0\.0`), 0, [2]int{1, 1}},
	{"firewall vip", "mappedip", "set mappedip <range1>, <range2>, ...", urlVIP, reIPv4, 0, [2]int{1, 1}},
	{"firewall vip", "src-filter", "set src-filter <range1>, <range2>, ...", urlVIP, regexp.MustCompile(`^` + reV4 + `(/[0-9]{1,2}|-` + reV4 + `)?$`), 0, [2]int{1, 0}},
	{"firewall vip", "portforward", "set portforward [disable|enable]", urlVIP, word("enable"), 0, [2]int{1, 1}},
	{"firewall vip", "protocol", "set protocol [tcp|udp|...]", urlVIP, word("tcp", "udp"), 0, [2]int{1, 1}},
	{"firewall vip", "extport", "set extport {user}", urlVIP, reOnePort, 0, [2]int{1, 1}},
	{"firewall vip", "mappedport", "set mappedport {user}", urlVIP, reOnePort, 0, [2]int{1, 1}},
	{"firewall vip", "comment", "set comment {var-string} (255)", urlVIP, reComment, MaxComment, [2]int{1, 1}},
	{"firewall vip6", "", "edit <name>", urlVIP6, reName, MaxAddrName, [2]int{1, 1}},
	{"firewall vip6", "extip", "set extip {user}", urlVIP6, reIPv6, 0, [2]int{1, 1}},
	{"firewall vip6", "mappedip", "set mappedip {user}", urlVIP6, reIPv6, 0, [2]int{1, 1}},
	{"firewall vip6", "src-filter", "set src-filter <range1>, <range2>, ...", urlVIP6, regexp.MustCompile(`^[0-9a-f:]+(/[0-9]{1,3}|-[0-9a-f:]+)?$`), 0, [2]int{1, 0}},
	{"firewall vip6", "portforward", "set portforward [disable|enable]", urlVIP6, word("enable"), 0, [2]int{1, 1}},
	{"firewall vip6", "protocol", "set protocol [tcp|udp|...]", urlVIP6, word("tcp", "udp"), 0, [2]int{1, 1}},
	{"firewall vip6", "extport", "set extport {user}", urlVIP6, reOnePort, 0, [2]int{1, 1}},
	{"firewall vip6", "mappedport", "set mappedport {user}", urlVIP6, reOnePort, 0, [2]int{1, 1}},
	{"firewall vip6", "comment", "set comment {var-string} (255)", urlVIP6, reComment, MaxComment, [2]int{1, 1}},
	{"firewall policy", "", "edit <policyid> (0-4294967294)", urlPolicy, reNumber, 10, [2]int{1, 1}},
	{"firewall policy", "name", "set name {string} (35)", urlLocalIn64, reName, MaxPolicyName, [2]int{1, 1}},
	{"firewall policy", "srcintf", "set srcintf <name1>, <name2>, ... (35)", urlPolicy, reIntf, MaxIntfName, [2]int{1, 1}},
	{"firewall policy", "dstintf", "set dstintf <name1>, <name2>, ... (35)", urlPolicy, reIntf, MaxIntfName, [2]int{1, 1}},
	{"firewall policy", "srcaddr", "set srcaddr <name1>, <name2>, ... (79)", urlPolicy, word("all", `portolan-[A-Za-z0-9_.-]+`), MaxAddrName, [2]int{1, 0}},
	{"firewall policy", "dstaddr", "set dstaddr <name1>, <name2>, ... (79)", urlPolicy, word("all", `portolan-[A-Za-z0-9_.-]+`), MaxAddrName, [2]int{1, 0}},
	{"firewall policy", "srcaddr6", "set srcaddr6 <name1>, <name2>, ... (79)", urlPolicy, word("all", `portolan-[A-Za-z0-9_.-]+`), MaxAddrName, [2]int{1, 0}},
	{"firewall policy", "dstaddr6", "set dstaddr6 <name1>, <name2>, ... (79)", urlPolicy, word("all", `portolan-[A-Za-z0-9_.-]+`), MaxAddrName, [2]int{1, 0}},
	{"firewall policy", "action", "set action [accept|deny|...]", urlPolicy, word("accept"), 0, [2]int{1, 1}},
	{"firewall policy", "schedule", "set schedule {string}", urlPolicy, word("always"), 0, [2]int{1, 1}},
	{"firewall policy", "service", "set service <name1>, <name2>, ... (79)", urlPolicy, reName, MaxAddrName, [2]int{1, 1}},
	{"firewall policy", "comments", "set comments {var-string} (1023)", urlPolicy, reComment, MaxPolicyNotes, [2]int{1, 1}},
	{"system settings", "default-voip-alg-mode", "set default-voip-alg-mode [proxy-based|kernel-helper-based]", urlSettings, word("kernel-helper-based"), 0, [2]int{1, 1}},
	{"system session-ttl/port", "", "config port / edit <id> (0-65535)", urlTTL, reNumber, 5, [2]int{1, 1}},
	{"system session-ttl/port", "protocol", "set protocol {integer} (0-255)", urlTTL, word("6", "17"), 0, [2]int{1, 1}},
	{"system session-ttl/port", "start-port", "set start-port {integer} (0-65535)", urlTTL, reOnePort, 0, [2]int{1, 1}},
	{"system session-ttl/port", "end-port", "set end-port {integer} (0-65535)", urlTTL, reOnePort, 0, [2]int{1, 1}},
	{"system session-ttl/port", "timeout", "set timeout {user} (seconds, or never)", urlTTL, reNumber, 0, [2]int{1, 1}},
	{"firewall wildcard-fqdn custom", "", "edit <name>", urlWildcard, reName, MaxAddrName, [2]int{1, 1}},
	{"firewall wildcard-fqdn custom", "wildcard-fqdn", "set wildcard-fqdn {string}", urlWildcard, reWild, 255, [2]int{1, 1}},
	{"firewall ssl-ssh-profile", "", "edit <name>", urlSSL, word(SSLProfile), 0, [2]int{1, 1}},
	{"firewall ssl-ssh-profile/ssl-exempt", "", "config ssl-exempt / edit <id>", urlSSL, reNumber, 10, [2]int{1, 1}},
	{"firewall ssl-ssh-profile/ssl-exempt", "type", "set type [fortiguard-category|address|address6|wildcard-fqdn|regex]", urlSSL, word("address", "wildcard-fqdn"), 0, [2]int{1, 1}},
	{"firewall ssl-ssh-profile/ssl-exempt", "address", "set address {string}", urlSSL, reName, MaxAddrName, [2]int{1, 1}},
	{"firewall ssl-ssh-profile/ssl-exempt", "wildcard-fqdn", "set wildcard-fqdn {string}", urlSSL, reName, MaxAddrName, [2]int{1, 1}},
}

// check checks one script against the table; seen counts the rows used.
func checkGrammar(t *testing.T, name, text string, seen map[string]int) {
	t.Helper()
	rows := map[string]*grammarRow{}
	for i := range grammar {
		rows[grammar[i].path+"|"+grammar[i].key] = &grammar[i]
	}
	tree, err := Parse(name, []byte(text))
	if err != nil {
		t.Errorf("%s: the script does not parse: %v", name, err)
		return
	}
	checkVals := func(where string, r *grammarRow, vals []string) {
		seen[r.path+"|"+r.key]++
		if len(vals) < r.count[0] || r.count[1] > 0 && len(vals) > r.count[1] {
			t.Errorf("%s: %s %s: %d values %q, the form is %s (%s)", name, where, r.key, len(vals), vals, r.form, r.url)
		}
		for _, v := range vals {
			if !r.values.MatchString(v) || r.max > 0 && len(v) > r.max {
				t.Errorf("%s: %s %s %q: not the documented form %s (at most %d) (%s)", name, where, r.key, v, r.form, r.max, r.url)
			}
		}
	}
	var walk func(path string, n *Node)
	walk = func(path string, n *Node) {
		for k, s := range n.Sets {
			r := rows[path+"|"+k]
			if r == nil {
				t.Errorf("%s: line %d: config %s: set %s is not in the grammar table", name, s.Line, path, k)
				continue
			}
			checkVals(fmt.Sprintf("line %d: config %s", s.Line, path), r, s.Values)
		}
		for _, e := range n.Entries {
			r := rows[path+"|"]
			if r == nil {
				t.Errorf("%s: line %d: config %s has entries, not in the table", name, e.Line, path)
				continue
			}
			checkVals(fmt.Sprintf("line %d: config %s", e.Line, path), r, []string{e.Name})
			for k, s := range e.Sets {
				r := rows[path+"|"+k]
				if r == nil {
					t.Errorf("%s: line %d: config %s: set %s is not in the grammar table", name, s.Line, path, k)
					continue
				}
				checkVals(fmt.Sprintf("line %d: config %s edit %s", s.Line, path, e.Name), r, s.Values)
			}
			for _, sub := range e.Sub {
				walk(path+"/"+sub.Path, sub)
			}
		}
		for _, sub := range n.Sub {
			walk(path+"/"+sub.Path, sub)
		}
	}
	for _, n := range tree.Nodes {
		walk(n.Path, n)
	}
}

// TestGrammar writes every service of the catalog in every gateway
// variant of the syntax matrix (default features, all features, each
// feature alone; names as fqdn addresses and resolved; IPv6 forwards with
// --wan-ip6) and checks every line against the table; every row of the
// table is used.
func TestGrammar(t *testing.T) {
	seen := map[string]int{}
	n := 0
	defer func() { target.ResolveNames = false }()
	for _, m := range targettest.SyntaxMatrix(t) {
		if m.In.Site.Mode != policy.Gateway || m.In.Options.ChainOnly {
			continue
		}
		in := *m.In
		in.Site.LANIf, in.Site.WANIf = "port1", "wan1"
		for _, resolveNames := range []bool{false, true} {
			target.ResolveNames = resolveNames
			var b bytes.Buffer
			if _, err := (&Target{WANIP6: "2001:db8:2::1"}).Write(&b, &in); err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
			checkGrammar(t, fmt.Sprintf("%s/resolve=%v", m.Name, resolveNames), b.String(), seen)
			n++
		}
	}
	// The lab cases add IPv6 port forwards and IPv6 host sets of several
	// members.
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		in, _ := c.InputOn(t, lab, "port1", "wan1")
		var b bytes.Buffer
		if _, err := (&Target{WANIP6: "2001:db8:2::1"}).Write(&b, in); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		checkGrammar(t, "lab/"+c.Name, b.String(), seen)
		n++
	}
	// Host sets of several IPv6 addresses (addrgrp6).
	cfg := targettest.Large(t, 3, 3, false)
	cfg.Site.LANIf, cfg.Site.WANIf = "port1", "wan1"
	large, err := target.Prepare(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var lb bytes.Buffer
	if _, err := (&Target{}).Write(&lb, large); err != nil {
		t.Fatal(err)
	}
	checkGrammar(t, "large", lb.String(), seen)
	// Rows no seed writes: ranges that are no prefix (written as iprange),
	// and an SSL exemption of a plain name (the seeds exempt wildcards).
	unused := map[string]bool{"firewall address|start-ip": true, "firewall address|end-ip": true,
		"firewall address6|start-ip": true, "firewall address6|end-ip": true, "firewall ssl-ssh-profile/ssl-exempt|address": true}
	for _, r := range grammar {
		k := r.path + "|" + r.key
		if seen[k] == 0 && !unused[k] {
			t.Errorf("table row not used by any script: config %s set %s", r.path, r.key)
		}
	}
	t.Logf("%d scripts checked", n)
}

// TestNamesWithinLimits: object names stay within FortiOS's limits and
// characters however long the service and flow ids, and a rerun gives the
// same names and policy IDs.
func TestNamesWithinLimits(t *testing.T) {
	lab := targettest.LabCatalog(t)
	in, _ := targettest.GatewayCases[2].InputOn(t, lab, "port1", "wan1") // starface-all
	var a, b bytes.Buffer
	if _, err := (&Target{}).Write(&a, in); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Target{}).Write(&b, in); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Error("two runs differ")
	}
	seen := map[string]int{}
	checkGrammar(t, "starface-all", a.String(), seen)
	cfg, _, err := (&Target{}).Build(in)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[uint32]bool{}
	names := map[string]bool{}
	for _, p := range cfg.Policies {
		if ids[p.ID] || names[p.Name] {
			t.Errorf("policy %d %q: ID or name used twice", p.ID, p.Name)
		}
		ids[p.ID], names[p.Name] = true, true
		if p.ID < PolicyIDBase || p.ID >= PolicyIDBase+PolicyIDSpan {
			t.Errorf("policy ID %d outside %d+%d", p.ID, PolicyIDBase, PolicyIDSpan)
		}
	}
	long := strings.Repeat("x", 200)
	if n := addrObjectName("2001:db8:ffff:ffff:ffff:ffff:ffff:fff0-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff" + long); len(n) > MaxAddrName || !reName.MatchString(n) {
		t.Errorf("long address name %q", n)
	}
	if addrObjectName("2001:db8::1/128") == addrObjectName("2001:db8:1::/128") {
		t.Error("distinct addresses, one name")
	}
}

// TestCheckSite: host mode, --chain-only and names FortiOS does not take
// are refused before anything is resolved.
func TestCheckSite(t *testing.T) {
	tg := &Target{}
	for _, c := range []struct {
		site policy.Site
		opt  target.Options
		want string
	}{
		{policy.Site{Mode: policy.Host}, target.Options{}, "gateway mode only"},
		{policy.Site{Mode: policy.Gateway}, target.Options{ChainOnly: true}, "--chain-only"},
		{policy.Site{Mode: policy.Gateway, LANIf: `po"rt1`}, target.Options{}, "--lan-if"},
		{policy.Site{Mode: policy.Gateway, WANIf: strings.Repeat("w", 36)}, target.Options{}, "--wan-if"},
	} {
		err := tg.CheckSite(c.site, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.site, err, c.want)
		}
	}
	if err := tg.CheckSite(policy.Site{Mode: policy.Gateway, LANIf: "port1", WANIf: "wan1"}, target.Options{}); err != nil {
		t.Error(err)
	}
	if err := (&Target{WANIP6: "192.0.2.1"}).CheckSite(policy.Site{Mode: policy.Gateway}, target.Options{}); err == nil {
		t.Error("--wan-ip6 192.0.2.1 taken")
	}
}
