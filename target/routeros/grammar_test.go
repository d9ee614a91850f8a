package routeros_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/routeros"
	"github.com/portolan/portolan/target/targettest"
)

// No RouterOS runs here (it runs on MikroTik's hardware and CHR images,
// which CI does not boot): every line the writer emits is checked against
// the command's documented form instead, from these pages of MikroTik's
// documentation.
const (
	urlFilter    = "https://help.mikrotik.com/docs/display/ROS/Filter"
	urlMatchers  = "https://help.mikrotik.com/docs/display/ROS/Common+Firewall+Matchers+and+Actions"
	urlNAT       = "https://help.mikrotik.com/docs/display/ROS/NAT"
	urlAddrList  = "https://help.mikrotik.com/docs/display/ROS/Address-lists"
	urlConntrack = "https://help.mikrotik.com/docs/display/ROS/Connection+tracking"
	urlServices  = "https://help.mikrotik.com/docs/display/ROS/Services"
	urlScripting = "https://help.mikrotik.com/docs/display/ROS/Scripting"
	urlConfig    = "https://help.mikrotik.com/docs/display/ROS/Configuration+Management"
)

// Pieces of the documented forms.
const (
	reList    = `[A-Za-z0-9_-]{1,63}`
	reV4      = `[0-9]{1,3}(\.[0-9]{1,3}){3}`
	reV6      = `[0-9a-f:]*:[0-9a-f:.]*`
	reAddr    = `(` + reV4 + `|` + reV6 + `)`
	reAddrArg = reAddr + `(/[0-9]{1,3}|-` + reAddr + `)?`
	reName    = `[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+`
	rePorts   = `[0-9]{1,5}(-[0-9]{1,5})?(,[0-9]{1,5}(-[0-9]{1,5})?)*`
	reIf      = `[A-Za-z0-9_.-]{1,15}`
	reComment = `comment="portolan: [ -!#%-Z\]-~]*(\\[$?\x22\\][ -!#%-Z\]-~]*)*"`
	reRef     = `[a-z0-9-]+/[a-z0-9-]+ [^" ]+\.txt:[0-9]+`
)

// grammar is every command the writer emits: its documented form and
// the page that documents it.
var grammar = []struct {
	name, form, url string
	re              *regexp.Regexp
}{
	{"menu", "/ip firewall address-list | filter | nat, /ipv6 firewall …", urlConfig,
		regexp.MustCompile(`^/(ip|ipv6) firewall (address-list|filter|nat)$`)},
	{"menu service-port", "/ip firewall service-port", urlServices, regexp.MustCompile(`^/ip firewall service-port$`)},
	{"menu connection tracking", "/ip firewall connection tracking", urlConntrack, regexp.MustCompile(`^/ip firewall connection tracking$`)},
	{"remove own items", `remove [find where comment~"REGEXP" and dynamic=no]`, urlScripting,
		regexp.MustCompile(`^remove \[find where comment~"\^portolan:" and dynamic=no\]$`)},
	{"address-list entry", "add list=NAME address=ADDRESS|PREFIX|RANGE|DNS-NAME comment=TEXT", urlAddrList,
		regexp.MustCompile(`^add list=` + reList + ` address=(` + reAddrArg + `|` + reName + `) ` + reComment + `$`)},
	{"filter established", "add chain=forward action=accept connection-state=established,related", urlFilter,
		regexp.MustCompile(`^add chain=forward action=accept connection-state=established,related ` + reComment + `$`)},
	{"filter invalid", "add chain=forward action=drop connection-state=invalid", urlFilter,
		regexp.MustCompile(`^add chain=forward action=drop connection-state=invalid ` + reComment + `$`)},
	{"filter final drop", "add chain=forward action=drop", urlFilter,
		regexp.MustCompile(`^add chain=forward action=drop ` + reComment + `$`)},
	{"filter accept", "add chain=CHAIN action=accept protocol=P [src-address=A|src-address-list=L] [dst-address=A|dst-address-list=L] [src-port=PORTS] [dst-port=PORTS] in-interface=IF out-interface=IF comment=TEXT", urlMatchers,
		regexp.MustCompile(`^add chain=(forward|portolan-forward) action=accept protocol=(tcp|udp)( src-address=` + reAddrArg + `| src-address-list=` + reList + `)?( dst-address=` + reAddrArg + `| dst-address-list=` + reList + `)?( src-port=` + rePorts + `)?( dst-port=` + rePorts + `)? in-interface=` + reIf + ` out-interface=` + reIf + ` comment="portolan: ` + reRef + `"$`)},
	{"nat dst-nat", "add chain=dstnat action=dst-nat protocol=P [src-address=A|src-address-list=L] [dst-address=A] dst-port=PORTS in-interface=IF to-addresses=ADDR comment=TEXT", urlNAT,
		regexp.MustCompile(`^add chain=(dstnat|portolan-dstnat) action=dst-nat protocol=(tcp|udp)( src-address=` + reAddrArg + `| src-address-list=` + reList + `)?( dst-address=` + reAddrArg + `)? dst-port=` + rePorts + ` in-interface=` + reIf + ` to-addresses=` + reAddr + ` comment="portolan: ` + reRef + `"$`)},
	{"service-port off", "set sip|h323 disabled=yes", urlServices, regexp.MustCompile(`^set (sip|h323) disabled=yes$`)},
	{"timeout raised", `:if ([/ip firewall connection tracking get PROP] < [:totime "Ns"]) do={ /ip firewall connection tracking set PROP=Ns }`, urlConntrack + " " + urlScripting,
		regexp.MustCompile(`^:if \(\[/ip firewall connection tracking get (udp-timeout|udp-stream-timeout|tcp-established-timeout)\] < \[:totime "[0-9]+s"\]\) do=\{ /ip firewall connection tracking set (udp-timeout|udp-stream-timeout|tcp-established-timeout)=[0-9]+s \}$`)},
}

var (
	portArg  = regexp.MustCompile(`-port=(\S+)`)
	listDef  = regexp.MustCompile(`^add list=(\S+) `)
	listUse  = regexp.MustCompile(`-address-list=(\S+)`)
	comments = regexp.MustCompile(`comment=("(?:[^"\\]|\\.)*")`)
)

// TestGrammar writes every gateway input of the syntax matrix (each
// seed service, default and all features, each feature alone, chain-only,
// names kept and --resolve-names, unresolved names) and checks every line
// against the documented forms; list names, comments and port lists
// against the limits; lists used against lists defined, per family; and
// the count of rules against the stats.
func TestGrammar(t *testing.T) {
	used := map[string]int{}
	inputs, lines := 0, 0
	for _, m := range targettest.SyntaxMatrix(t) {
		if m.In.Site.Mode == policy.Host {
			if _, err := (&routeros.Target{}).Write(&bytes.Buffer{}, m.In); err == nil {
				t.Errorf("%s: host mode written", m.Name)
			}
			continue
		}
		for _, rn := range []bool{false, true} {
			target.ResolveNames = rn
			var b bytes.Buffer
			res, err := (&routeros.Target{}).Write(&b, m.In)
			target.ResolveNames = false
			if err != nil {
				t.Errorf("%s: %v", m.Name, err)
				continue
			}
			inputs++
			defined := map[string]bool{}
			menu := ""
			rules := 0
			for i, l := range strings.Split(b.String(), "\n") {
				if l == "" || strings.HasPrefix(l, "#") {
					continue
				}
				lines++
				if strings.HasPrefix(l, "/") {
					menu = l
				}
				n := 0
				for _, g := range grammar {
					if g.re.MatchString(l) {
						n++
						used[g.name]++
					}
				}
				if n != 1 {
					t.Errorf("%s (resolve-names %v): line %d matches %d documented forms: %s", m.Name, rn, i+1, n, l)
				}
				if strings.Contains(l, "action=accept protocol=") || strings.Contains(l, "action=dst-nat") {
					rules++
				}
				if d := listDef.FindStringSubmatch(l); d != nil {
					defined[menu+" "+d[1]] = true
				}
				for _, u := range listUse.FindAllStringSubmatch(l, -1) {
					fam := strings.Fields(menu)[0]
					if !defined[fam+" firewall address-list "+u[1]] {
						t.Errorf("%s: line %d uses list %s, not defined before in %s firewall address-list", m.Name, i+1, u[1], fam)
					}
					if len(u[1]) > routeros.ListNameMax {
						t.Errorf("%s: list name %s longer than %d", m.Name, u[1], routeros.ListNameMax)
					}
				}
				for _, c := range comments.FindAllStringSubmatch(l, -1) {
					sc, err := routeros.ParseScript("c", []byte("/x\nadd comment="+c[1]))
					if err != nil || len(sc.Cmds) != 1 {
						t.Errorf("%s: comment %s does not read back: %v", m.Name, c[1], err)
						continue
					}
					if v, _ := sc.Cmds[0].Get("comment"); len(v) > routeros.CommentMax {
						t.Errorf("%s: comment of %d bytes: %s", m.Name, len(v), v)
					}
				}
				for _, p := range portArg.FindAllStringSubmatch(l, -1) {
					w := 0
					for _, x := range strings.Split(p[1], ",") {
						w++
						if strings.Contains(x, "-") {
							w++
						}
					}
					if w > routeros.PortListMax {
						t.Errorf("%s: port list of %d ports: %s", m.Name, w, l)
					}
				}
			}
			if rules != res.Stats.Rules {
				t.Errorf("%s: %d rules in the text, stats say %d", m.Name, rules, res.Stats.Rules)
			}
			if _, err := routeros.Parse(m.Name, b.Bytes()); err != nil {
				t.Errorf("%s: the reader refuses the output: %v", m.Name, err)
			}
		}
	}
	for _, g := range grammar {
		if used[g.name] == 0 {
			t.Errorf("documented form %q (%s) never written: the table is out of date", g.name, g.url)
		}
	}
	t.Logf("%d outputs, %d lines, each of one documented form: %v", inputs, lines, used)
}

// TestNames: list names stay within the documented character set and
// the length portolan keeps, stable across runs.
func TestNames(t *testing.T) {
	long := strings.Repeat("very-long-host-set-name-", 5)
	a := target.ObjectName(routeros.ListNameMax, func(r rune) bool { return r < 0x80 && r != ' ' && r != '.' }, "portolan", "svc", long, "v4")
	b := target.ObjectName(routeros.ListNameMax, func(r rune) bool { return r < 0x80 && r != ' ' && r != '.' }, "portolan", "svc", long, "v4")
	if a != b || len(a) > routeros.ListNameMax || !regexp.MustCompile(`^`+reList+`$`).MatchString(a) {
		t.Errorf("name %q (%d bytes), again %q", a, len(a), b)
	}
}

// evilProfile puts what a profile or a resolver could smuggle into a
// script — quotes, $ (RouterOS expands variables in strings), [ ]
// (commands), line breaks, control and bidi characters — into every text
// the writer copies.
const evilProfile = `service: {slug: evil, name: "Evil \u202eNAME", vendor: tests, document: "evil\".txt", language: en}
roles:
  - {name: endpoint, description: an endpoint}
hosts:
  - {name: web, description: a web host, entries: [evil.example.com, 203.0.113.7, "2001:db8::7"]}
flows:
  - id: web
    direction: outbound
    proto: [tcp, udp]
    ports: [443]
    local: endpoint
    remote: [web]
    necessity: required
    app: https
    purpose: {en: "EVIL $x [/system reset-configuration]\"\n/ip firewall filter remove [find]\n\u202e\x1b[31m"}
    source: {quote: "q", line: 1}
constraints:
  - id: keep
    kind: nat-timeout
    proto: udp
    ports: [443]
    min_timeout: 90s
    flows: [web]
    purpose: {en: "keep\n/system reset-configuration\n"}
    source: {quote: q, line: 2}
`

// TestEvilText: no text of a profile becomes a line of the script, a
// quote opened, a variable or a command: every line is a comment or one
// of the documented forms, and no control character is left.
func TestEvilText(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "evil.yaml"), []byte(evilProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	in := targettest.PrepareFrom(t, dir, []string{"evil"}, resolve.Selection{}, "203.0.113.8 evil.example.com\n", targettest.Site, target.Options{})
	for i := range in.Flows {
		in.Flows[i].Purpose += " $(evil) \"quoted\" \\ [find]"
	}
	var b bytes.Buffer
	if _, err := (&routeros.Target{}).Write(&b, in); err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(b.String(), "\n") {
		for _, r := range l {
			if r == '\t' || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Errorf("line %d: %U: %q", i+1, r, l)
			}
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		ok := false
		for _, g := range grammar {
			ok = ok || g.re.MatchString(l)
		}
		if !ok {
			t.Errorf("line %d is no documented form: %q", i+1, l)
		}
	}
	if !strings.Contains(b.String(), "# evil/web") {
		t.Error("the flow's comment is missing: the test tested nothing")
	}
}
