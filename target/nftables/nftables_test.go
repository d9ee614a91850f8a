package nftables_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/targettest"
)

func input(t *testing.T, slug string, sel resolve.Selection, pins string, site policy.Site, opt target.Options) *target.Input {
	t.Helper()
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := cat.Select([]string{slug})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := resolve.Choose(svcs, sel)
	if err != nil {
		t.Fatal(err)
	}
	h, err := resolve.ParseHosts("pins", strings.NewReader(pins))
	if err != nil {
		t.Fatal(err)
	}
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: h, AllowUnresolved: true, Site: site, Options: opt, Generated: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// flat is the text with comment marks gone and white space folded, to
// look for words that comments wrap.
func flat(text string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(text, "#", " ")), " ")
}

// body is the ruleset without comment lines.
func body(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestStandaloneShape(t *testing.T) {
	in := input(t, "starleaf", resolve.Selection{Params: []string{"company=acme"}}, "203.0.113.20 acme.call.sl\n203.0.113.30 config.starleaf.com\n", targettest.Site, target.Options{})
	text := generate(t, in)
	b := body(text)
	if strings.Join(b[:3], "\n") != "table inet portolan {}\ndelete table inet portolan\ntable inet portolan {" {
		t.Errorf("does not replace itself atomically:\n%s", strings.Join(b[:3], "\n"))
	}
	if n, d := strings.Count(text, "\ntable inet portolan "), strings.Count(text, "\ndelete table "); n != 2 || d != 1 {
		t.Errorf("%d table statements and %d deletes, want 2 (declare, define) and 1", n, d)
	}
	for _, want := range []string{
		"type filter hook forward priority filter; policy drop;",
		"ct state established,related accept",
		"ct state invalid drop",
		`iifname "lan0" oifname "wan0" ip saddr 192.0.2.0/24 ip daddr @starleaf_tunnel_v4 udp dport 24704 counter accept comment "starleaf/tunnel-udp 000_5789b0e057a19555.txt:16"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q", want)
		}
	}
	if strings.Contains(text, "hook prerouting") {
		t.Error("a nat chain without port forwards")
	}
	if strings.Contains(text, "3478") && !strings.Contains(text, "# one of 24704, 3478") {
		t.Error("a non-preferred alternative is open")
	}
}

// TestFamilyFree: a rule that matches no address is written once for
// both families; one of a single family says which.
func TestFamilyFree(t *testing.T) {
	site := policy.Site{Mode: policy.Gateway} // no --lan: no source address
	in := input(t, "tw-solutions", resolve.Selection{}, "", site, target.Options{})
	b := strings.Join(body(generate(t, in)), "\n")
	if n := strings.Count(b, "\ntcp dport { 80, 443, 5938 } counter accept comment"); n != 1 {
		t.Errorf("tcp to any: %d rules, want one for both families:\n%s", n, b)
	}
	if strings.Contains(b, "meta nfproto") {
		t.Errorf("a rule to any is restricted to one family:\n%s", b)
	}
	if !strings.Contains(b, "ip daddr @tw-solutions_tw-cloud_v4 udp dport 5060-5080") {
		t.Error("sip to the TW blocks is missing")
	}
	in = input(t, "starface", resolve.Selection{Features: []string{"scenario-1"}, Params: []string{"pbx_address=192.0.2.10"}}, "", site, target.Options{})
	b = strings.Join(body(generate(t, in)), "\n")
	if !strings.Contains(b, `meta nfproto ipv4 udp dport { 5060, 10000-20000 } counter dnat ip to 192.0.2.10`) {
		t.Errorf("a port forward from any source needs its family:\n%s", b)
	}
}

func TestNATTimeoutOnlyWhereAsked(t *testing.T) {
	in := input(t, "tw-solutions", resolve.Selection{}, "", targettest.Site, target.Options{})
	text := generate(t, in)
	if !strings.Contains(text, "ct timeout tw-solutions_nat-keepalive {\n\t\tprotocol udp\n\t\tpolicy = { unreplied : 90, replied : 180 }") {
		t.Errorf("no ct timeout object:\n%s", text)
	}
	n := 0
	for _, l := range body(text) {
		if strings.Contains(l, "ct timeout set") {
			n++
			if !strings.Contains(l, `comment "tw-solutions/sip `) || !strings.Contains(l, "udp dport 5060-5080") {
				t.Errorf("ct timeout on another flow: %s", l)
			}
		}
	}
	if n == 0 {
		t.Error("no rule sets the timeout")
	}
	if !strings.Contains(flat(text), "sysctl -w net.netfilter.nf_conntrack_udp_timeout=90 net.netfilter.nf_conntrack_udp_timeout_stream=180") {
		t.Error("the sysctl alternative is not said")
	}
	if !strings.Contains(text, "no conntrack helper (ALG) for sip") {
		t.Error("the SIP flows do not say that no helper is attached")
	}
}

func TestChainOnlyShape(t *testing.T) {
	in := input(t, "tw-solutions", resolve.Selection{}, "", targettest.Site, target.Options{ChainOnly: true, Table: "inet filter"})
	text := generate(t, in)
	for _, bad := range []string{"hook ", "policy drop", "policy accept", "delete table", "ct state"} {
		for _, l := range body(text) {
			if strings.Contains(l, bad) {
				t.Errorf("--chain-only writes %q: %s", bad, l)
			}
		}
	}
	for _, want := range []string{
		"table inet filter {\n\tct timeout portolan_tw-solutions_nat-keepalive",
		"\tset portolan_tw-solutions_tw-cloud_v4 { type ipv4_addr; flags interval; }",
		"\tchain portolan_forward { }",
		"flush chain inet filter portolan_forward\nflush chain inet filter portolan_prerouting\ndelete set inet filter portolan_tw-solutions_tw-cloud_v4\ndelete ct timeout inet filter portolan_tw-solutions_nat-keepalive",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q", want)
		}
	}
	if !strings.Contains(flat(text), "jump portolan_forward") {
		t.Error("the header does not say how to jump to the chain")
	}
	if regexp.MustCompile(`@tw-solutions_`).MatchString(text) {
		t.Error("a set without the portolan_ prefix")
	}
}

func TestHostShape(t *testing.T) {
	site := policy.Site{Mode: policy.Host, LAN: targettest.Site.LAN}
	in := input(t, "starface", resolve.Selection{Params: []string{"pbx_address=192.0.2.10"}}, "203.0.113.40 license.starface.de\n", site, target.Options{})
	text := generate(t, in)
	for _, want := range []string{
		"type filter hook input priority filter; policy drop;",
		"type filter hook output priority filter; policy drop;",
		`iif "lo" accept`, `oif "lo" accept`,
		"icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, nd-redirect } ip6 hoplimit 255 accept",
		`ip saddr @starface_lan-clients_v4 tcp dport { 80, 443, 5060-5061, 5222, 50080-50081 } counter accept comment "index 1 (9 flows): starface/web-http, `,
		`ip daddr @starface_license_v4 tcp dport { 80, 443, 8383 } counter accept comment "index 4 (3 flows): starface/license-http, starface/license-https, starface/license-8383"`,
		"#   index 4 (3 flows):\n#     starface/license-http 001_aa6bddf40c960def.txt:44\n#     starface/license-https 001_aa6bddf40c960def.txt:45\n#     starface/license-8383 001_aa6bddf40c960def.txt:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("host mode lacks %q", want)
		}
	}
	if strings.Contains(text, "hook forward") || strings.Contains(text, "dnat") {
		t.Error("host mode writes forward or DNAT rules")
	}
}

// TestHostileProfile: strings from a user's profile cannot break out of
// a comment or a quoted string.
func TestHostileProfile(t *testing.T) {
	src := `service:
  slug: evil
  name: "Evil\" } ; flush ruleset ; #"
  vendor: x
  document: "doc\"; flush ruleset; \".txt"
  language: en
roles:
  - {name: endpoint, description: "e"}
hosts:
  - {name: cloud, entries: [198.51.100.7, evil.example.com], description: "d"}
flows:
  - id: https
    direction: outbound
    proto: tcp
    local: endpoint
    remote: [cloud]
    necessity: required
    app: https
    purpose: {en: "line one\nline two \" } flush ruleset"}
    ports: [443]
    source: {quote: "q", line: 2}
`
	svc, err := catalog.Load("evil.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := resolve.Choose([]*model.Service{svc}, resolve.Selection{})
	h, _ := resolve.ParseHosts("pins", strings.NewReader("203.0.113.7 evil.example.com\n"))
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: h, Site: targettest.Site, Generated: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	text := generate(t, in)
	l := netlab.New(t)
	if out, err := l.Router.RunInput([]byte(text), "nft", "-c", "-f", "-"); err != nil {
		t.Fatalf("nft -c: %v\n%s\n%s", err, out, text)
	}
	if !strings.Contains(text, `comment "evil/https doc'; flush ruleset; '.txt:2"`) {
		t.Errorf("the document's name is not in the rule's comment, made harmless:\n%s", text)
	}
	for _, line := range body(text) {
		if strings.Contains(line, "flush ruleset") && !strings.Contains(line, "comment \"") {
			t.Errorf("profile text escaped into the ruleset: %s", line)
		}
	}
}

// TestPortsMerged: flows to the same hosts that differ only in ports
// give one rule with the ports of all, naming them all; flows that ask
// for the same packets (STARFACE's overview and its scenarios) too.
func TestPortsMerged(t *testing.T) {
	in := input(t, "starface", resolve.Selection{AllFeatures: true, Params: []string{"pbx_address=192.0.2.10"}}, "", targettest.Site, target.Options{})
	text := generate(t, in)
	var hits []string
	for _, l := range body(text) {
		if strings.Contains(l, "ip saddr 192.0.2.10 udp dport") {
			hits = append(hits, l)
		}
	}
	if len(hits) != 1 || !strings.Contains(hits[0], `udp dport { 53, 123, 1025-65535 } counter accept comment "index 1 (11 flows): starface/dns-udp, starface/ntp, `) ||
		!strings.Contains(text, "#   index 1 (11 flows):\n#     starface/dns-udp 001_aa6bddf40c960def.txt:10\n#     starface/ntp 001_aa6bddf40c960def.txt:13\n") {
		t.Errorf("UDP from the PBX:\n%s", strings.Join(hits, "\n"))
	}
	for _, id := range []string{"rtp-out", "s1-rtp-out", "s2-rtp-out", "s3-rtp-out", "s3-sip-out"} {
		if !strings.Contains(text, "# starface/"+id+" (outbound udp") {
			t.Errorf("the merged rule does not name %s above it", id)
		}
	}
	// Each flow's comment block stands whole above its rule: merging never
	// drops a wrapped line's continuation that another flow shares.
	for i := range in.Rules {
		block := in.FlowComments(&in.Rules[i])
		if !strings.Contains(text, "\t\t"+strings.Join(block, "\n\t\t")+"\n") {
			t.Errorf("the comments of %s are not whole:\n%s", target.FlowRef(in.Rules[i].Flow), strings.Join(block, "\n"))
		}
	}
}
