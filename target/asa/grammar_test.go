package asa_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/asa"
	"github.com/portolan/portolan/target/targettest"
)

// No ASA runs here and Cisco publishes no offline validator: every
// command the writer emits is checked against its documented form. The
// pages (ASA 9.x; the forms are the same across 9.x releases):
const (
	urlObjects = "https://www.cisco.com/c/en/us/td/docs/security/asa/asa918/configuration/firewall/asa-918-firewall-config/access-objects.html"
	urlACLs    = "https://www.cisco.com/c/en/us/td/docs/security/asa/asa918/configuration/firewall/asa-918-firewall-config/access-acls.html"
	urlRules   = "https://www.cisco.com/c/en/us/td/docs/security/asa/asa920/configuration/firewall/asa-920-firewall-config/access-rules.html"
	urlNATRef  = "https://www.cisco.com/c/en/us/td/docs/security/asa/asa-cli-reference/I-R/asa-command-ref-I-R/n-commands.html"
	urlNATObj  = "https://www.cisco.com/c/en/us/td/docs/security/asa/asa918/configuration/firewall/asa-918-firewall-config/nat-objects.html"
	urlNATTw   = "https://www.cisco.com/c/en/us/td/docs/security/asa/asa918/configuration/firewall/asa-918-firewall-config/nat-twice.html"
	urlSIP     = "https://www.cisco.com/c/en/us/support/docs/unified-communications/telepresence-video-communication-server-vcs/214282-troubleshoot-media-failure-for-calls-ove.html"
	urlCLI     = "http://www.cisco.com/c/en/us/td/docs/security/asa/asa81/config/guide/config/cli.html"
	urlTimeout = "https://www.cisco.com/c/en/us/td/docs/security/asa/asa918/configuration/firewall/asa-918-firewall-config/conns-connlimits.html"
)

const (
	reName = `[A-Za-z0-9._-]{1,64}`
	reV4   = `(?:\d{1,3}\.){3}\d{1,3}`
	reV6   = `[0-9a-f:]*:[0-9a-f:.]*`
	reMask = reV4
	// a network-object or ACL address argument
	reAddr = `(?:host (?:` + reV4 + `|` + reV6 + `)|` + reV4 + ` ` + reMask + `|` + reV6 + `/\d{1,3}|any4|any6|object-group ` + reName + `)`
	rePort = `(?:eq \d{1,5}|range \d{1,5} \d{1,5})`
	reText = `[ -~]+`
)

type form struct {
	block string // the block a sub-command stands in, "" at the top
	cmd   string // the documented form
	url   string
	re    *regexp.Regexp
}

var grammar = []form{
	{"", ": text (a comment: a line that starts with a colon)", urlCLI, regexp.MustCompile(`^ *:(?: [ -~]*)?$`)},
	{"", "clear configure access-list access_list_name", urlACLs, regexp.MustCompile(`^clear configure access-list ` + reName + `$`)},
	{"", "no object-group {network | service} obj_grp_id", urlObjects, regexp.MustCompile(`^no object-group (?:network|service) ` + reName + `$`)},
	{"", "object network name", urlObjects, regexp.MustCompile(`^object network ` + reName + `$`)},
	{"object network", "host {IPv4_address | IPv6_address}", urlObjects, regexp.MustCompile(`^ host (?:` + reV4 + `|` + reV6 + `)$`)},
	{"object network", "fqdn [v4 | v6] fully_qualified_domain_name", urlObjects, regexp.MustCompile(`^ fqdn v[46] [A-Za-z0-9.-]{1,253}$`)},
	{"object network", "description text (up to 200 characters)", urlObjects, regexp.MustCompile(`^ description ` + reText + `$`)},
	{"object network", "nat [(real_ifc,mapped_ifc)] static {mapped_ip | interface [ipv6]} [service {tcp | udp} real_port mapped_port]", urlNATRef + " " + urlNATObj,
		regexp.MustCompile(`^ nat \(` + reName + `,` + reName + `\) static interface(?: ipv6)? service (?:tcp|udp) (\d{1,5}) (\d{1,5})$`)},
	{"", "object-group network obj_grp_id", urlObjects, regexp.MustCompile(`^object-group network ` + reName + `$`)},
	{"object-group network", "network-object {host address | address mask | IPv6_address/prefix | object name}", urlObjects,
		regexp.MustCompile(`^ network-object (?:host (?:` + reV4 + `|` + reV6 + `)|` + reV4 + ` ` + reMask + `|` + reV6 + `/\d{1,3}|object ` + reName + `)$`)},
	{"object-group network", "description text", urlObjects, regexp.MustCompile(`^ description ` + reText + `$`)},
	{"", "object-group service obj_grp_id", urlObjects, regexp.MustCompile(`^object-group service ` + reName + `$`)},
	{"object-group service", "service-object protocol [source operator port] [destination operator port]", urlObjects,
		regexp.MustCompile(`^ service-object (?:tcp|udp)(?: source ` + rePort + `)?(?: destination ` + rePort + `)?$`)},
	{"object-group service", "description text", urlObjects, regexp.MustCompile(`^ description ` + reText + `$`)},
	{"", "object service name", urlObjects, regexp.MustCompile(`^object service ` + reName + `$`)},
	{"object service", "service {tcp | udp} [source operator port] [destination operator port]", urlObjects,
		regexp.MustCompile(`^ service (?:tcp|udp) source range \d{1,5} \d{1,5}$`)},
	{"object service", "description text", urlObjects, regexp.MustCompile(`^ description ` + reText + `$`)},
	{"", "access-list access_list_name remark text (up to 100 characters)", urlACLs, regexp.MustCompile(`^access-list ` + reName + ` remark ` + reText + `$`)},
	{"", "access-list access_list_name extended {deny | permit} protocol source [port] dest [port]", urlACLs,
		regexp.MustCompile(`^access-list ` + reName + ` extended (?:permit (?:tcp|udp) ` + reAddr + `(?: ` + rePort + `)? ` + reAddr + `(?: ` + rePort + `)?|permit object-group ` + reName + ` ` + reAddr + ` ` + reAddr + `|deny ip any any)$`)},
	{"", "access-group access_list in interface interface_name", urlRules, regexp.MustCompile(`^access-group ` + reName + ` in interface ` + reName + `$`)},
	{"", "nat [(real_ifc,mapped_ifc)] source static real_obj {mapped_obj | interface [ipv6]} service real_svc mapped_svc [description desc]", urlNATRef + " " + urlNATTw,
		regexp.MustCompile(`^nat \(` + reName + `,` + reName + `\) source static ` + reName + ` interface(?: ipv6)? service (` + reName + `) (` + reName + `) description ` + reText + `$`)},
	{"", "policy-map global_policy", urlSIP, regexp.MustCompile(`^policy-map global_policy$`)},
	{"policy-map", "class inspection_default", urlSIP, regexp.MustCompile(`^ class inspection_default$`)},
	{"class", "no inspect {sip | h323 h225 | h323 ras}", urlSIP, regexp.MustCompile(`^  no inspect (?:sip|h323 h225|h323 ras)$`)},
	{"class", "exit (leaves class configuration mode)", urlSIP, regexp.MustCompile(`^ exit$`)},
	{"policy-map", "exit (leaves policy-map configuration mode)", urlSIP, regexp.MustCompile(`^exit$`)},
	{"", "timeout {udp | conn} hh:mm:ss (udp at least 0:01:00, conn at least 0:05:00)", urlTimeout, regexp.MustCompile(`^timeout (udp|conn) (\d+):(\d\d):(\d\d)$`)},
	{"", "end (leaves configuration mode)", urlACLs, regexp.MustCompile(`^end$`)},
}

// checkGrammar checks every line of text against the grammar and the
// block it stands in; it returns the forms used.
func checkGrammar(t *testing.T, name, text string) map[string]bool {
	t.Helper()
	used := map[string]bool{}
	block := ""
	objs := map[string]string{}
	for i, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n := i + 1
		if strings.HasPrefix(strings.TrimSpace(l), ":") {
			if !grammar[0].re.MatchString(l) || strings.ContainsAny(l, "?") {
				t.Errorf("%s:%d: a comment line that is not printable ASCII without ? (the CLI takes ? for help): %q", name, n, l)
			}
			used[grammar[0].cmd] = true
			continue
		}
		if l == "" {
			t.Errorf("%s:%d: an empty line", name, n)
			continue
		}
		for _, r := range l {
			if r < 0x20 || r > 0x7e || r == '?' {
				t.Errorf("%s:%d: %q is not printable ASCII without ?", name, n, l)
				break
			}
		}
		var f *form
		for j := range grammar {
			g := &grammar[j]
			if !g.re.MatchString(l) {
				continue
			}
			if g.block != "" && g.block != block && !(g.block == "policy-map" && block == "class") {
				continue
			}
			f = g
			break
		}
		if f == nil {
			t.Errorf("%s:%d: %q matches no documented form (in block %q)", name, n, l, block)
			continue
		}
		used[f.cmd] = true
		switch {
		case strings.HasPrefix(l, "object network "), strings.HasPrefix(l, "object service "):
			block = strings.Join(strings.Fields(l)[:2], " ")
			nm := strings.Fields(l)[2]
			if k, ok := objs[nm]; ok && k != block {
				t.Errorf("%s:%d: %s is both a %s and a %s: objects and groups share one name space", name, n, nm, k, block)
			}
			objs[nm] = block
		case strings.HasPrefix(l, "object-group "):
			block = strings.Join(strings.Fields(l)[:2], " ")
			nm := strings.Fields(l)[2]
			if k, ok := objs[nm]; ok && k != block {
				t.Errorf("%s:%d: %s is both a %s and a %s", name, n, nm, k, block)
			}
			objs[nm] = block
		case l == "policy-map global_policy":
			block = "policy-map"
		case l == " class inspection_default":
			block = "class"
		case l == " exit":
			block = "policy-map"
		case strings.HasPrefix(l, " "):
		default:
			block = ""
		}
		if m := grammar[len(grammar)-2].re.FindStringSubmatch(l); m != nil {
			d := time.Duration(atoi(m[2]))*time.Hour + time.Duration(atoi(m[3]))*time.Minute + time.Duration(atoi(m[4]))*time.Second
			min := asa.MinUDPTimeout
			if m[1] == "conn" {
				min = 5 * time.Minute
			}
			if d < min {
				t.Errorf("%s:%d: %q is below the least value %s", name, n, l, min)
			}
		}
		if rest, ok := strings.CutPrefix(l, " description "); ok && len(rest) > asa.DescMax {
			t.Errorf("%s:%d: description of %d characters, more than %d", name, n, len(rest), asa.DescMax)
		}
		if i := strings.Index(l, " remark "); strings.HasPrefix(l, "access-list ") && i > 0 && len(l[i+len(" remark "):]) > asa.RemarkMax {
			t.Errorf("%s:%d: remark of %d characters, more than %d", name, n, len(l[i+len(" remark "):]), asa.RemarkMax)
		}
	}
	return used
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// TestGrammar writes every seed service's configuration (the syntax
// matrix in gateway mode: default features, all features, each feature
// alone, names pinned and unresolved, one-of groups preferred and all),
// with fqdn objects and with --resolve-names, and checks every line
// against the documented forms, with the names' length and character
// limits; every form of the table is used somewhere.
func TestGrammar(t *testing.T) {
	used := map[string]bool{}
	n := 0
	for _, m := range targettest.SyntaxMatrix(t) {
		if m.In.Site.Mode != policy.Gateway || m.In.Options.ChainOnly {
			continue
		}
		m.In.Site.LANIf, m.In.Site.WANIf = "inside", "outside"
		for _, resolveNames := range []bool{false, true} {
			target.ResolveNames = resolveNames
			var b bytes.Buffer
			_, err := (asa.Target{}).Write(&b, m.In)
			target.ResolveNames = false
			if err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
			for f := range checkGrammar(t, m.Name, b.String()) {
				used[f] = true
			}
			n++
		}
	}
	// The lab's cases add port ranges forwarded (twice NAT) and IPv6.
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		in, _ := c.InputOn(t, lab, "inside", "outside")
		for f := range checkGrammar(t, c.Name, write(t, in)) {
			used[f] = true
		}
	}
	for _, g := range grammar {
		if !used[g.cmd] {
			t.Errorf("the form %q (%s) is used by no output", g.cmd, g.url)
		}
	}
	t.Logf("%d configurations checked against %d documented forms", n, len(grammar))
}

// TestObjectName: names stay within 64 characters of the allowed set, are
// stable, and long ones stay distinct.
func TestObjectName(t *testing.T) {
	long := strings.Repeat("very-long-flow-name-", 6)
	for _, c := range []struct {
		parts []string
		want  string
	}{
		{[]string{"starface", "s1-sip-in", "udp", "5060"}, "portolan-starface-s1-sip-in-udp-5060"},
		{[]string{"fqdn", "v4", "sip.Provider.example"}, "portolan-fqdn-v4-sip.Provider.example"},
		{[]string{"a b", "c/d", "ü"}, "portolan-a-b-c-d"},
	} {
		if got := asa.ObjName(c.parts...); got != c.want {
			t.Errorf("ObjName(%q) = %q, want %q", c.parts, got, c.want)
		}
	}
	a, b := asa.ObjName("svc", long+"a"), asa.ObjName("svc", long+"b")
	if len(a) > asa.NameMax || len(b) > asa.NameMax || a == b || a != asa.ObjName("svc", long+"a") {
		t.Errorf("long names %q, %q", a, b)
	}
	for _, r := range a + b {
		if !asa.NameChar(r) {
			t.Errorf("%q in a name", r)
		}
	}
}
