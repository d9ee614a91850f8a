package aws_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go4.org/netipx"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/aws"
	"github.com/portolan/portolan/target/targettest"
)

func write(t testing.TB, tg *aws.Target, in *target.Input) (string, target.Result) {
	t.Helper()
	var b bytes.Buffer
	res, err := tg.Write(&b, in)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), res
}

// planned is what the plan opens: per direction and protocol, the rules'
// ports and remote prefixes, read from policy.Rule only.
func planned(in *target.Input) []opened {
	var out []opened
	for _, r := range in.Rules {
		m := r.Match
		var ps []netip.Prefix
		egress := r.Hook == policy.Output
		switch {
		case r.Hook == policy.Input && m.AnySrc(), egress && m.AnyDst():
			ps = []netip.Prefix{anyOf(m.Family)}
		case r.Hook == policy.Input:
			ps = m.SrcAddrs()
		case egress:
			ps = m.DstAddrs()
		}
		ports := m.DstPorts.Ranges()
		if len(ports) == 0 {
			ports = model.AllPorts().Ranges()
		}
		for _, p := range ps {
			for _, pr := range ports {
				out = append(out, opened{Egress: egress, Proto: m.Proto, From: pr.Lo, To: pr.Hi, CIDR: p.Masked()})
			}
		}
	}
	return out
}

func anyOf(fam int) netip.Prefix {
	if fam == 6 {
		return netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
}

// space is what a list of rules opens, whatever their shape: for each
// direction and protocol, the addresses open on each run of ports where
// they stay the same, merged. Two lists open the same packets exactly
// when their spaces are equal.
func space(rs []opened) []string {
	type dp struct {
		egress bool
		proto  string
	}
	groups := map[dp][]opened{}
	for _, r := range rs {
		k := dp{r.Egress, r.Proto}
		groups[k] = append(groups[k], r)
	}
	var out []string
	for k, g := range groups {
		cuts := map[int]bool{}
		for _, r := range g {
			cuts[int(r.From)] = true
			cuts[int(r.To)+1] = true
		}
		var bounds []int
		for c := range cuts {
			bounds = append(bounds, c)
		}
		sort.Ints(bounds)
		var last string
		var lastLo, lastHi int
		flush := func() {
			if last != "" {
				out = append(out, fmt.Sprintf("%t %s %d-%d %s", k.egress, k.proto, lastLo, lastHi, last))
			}
		}
		for i := 0; i+1 < len(bounds); i++ {
			lo, hi := bounds[i], bounds[i+1]-1
			var b netipx.IPSetBuilder
			for _, r := range g {
				if int(r.From) <= lo && hi <= int(r.To) {
					b.AddPrefix(r.CIDR)
				}
			}
			s, _ := b.IPSet()
			var ps []string
			for _, p := range s.Prefixes() {
				ps = append(ps, p.String())
			}
			addrs := strings.Join(ps, ",")
			if addrs == last && lo == lastHi+1 {
				lastHi = hi
				continue
			}
			flush()
			last, lastLo, lastHi = addrs, lo, hi
		}
		flush()
	}
	sort.Strings(out)
	return out
}

// TestDecodeStrict writes every host-mode input of the syntax matrix
// (every seed service, its features, names pinned in both families and
// not resolved, one-of groups preferred and all), parses it with
// hashicorp/hcl/v2, decodes every block strictly into the documented
// types (an unknown argument fails), checks the documented limits, and
// reads the rules back: they open exactly what the plan opens, on the
// same ports and prefixes.
func TestDecodeStrict(t *testing.T) {
	n := 0
	for _, m := range targettest.SyntaxMatrix(t) {
		if !strings.Contains(m.Name, "/host") {
			continue
		}
		out, res := write(t, &aws.Target{}, m.In)
		d, err := decode([]byte(out))
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		for g, dims := range d.PerGroup {
			for dim, c := range dims {
				if c > aws.RulesPerGroup {
					t.Errorf("%s: group %s holds %d %s rules, more than %d", m.Name, g, c, dim, aws.RulesPerGroup)
				}
			}
		}
		got, want := space(d.Rules), space(planned(m.In))
		if !slices.Equal(got, want) {
			t.Errorf("%s: the security groups open\n  %s\nthe plan\n  %s", m.Name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		if res.Stats.Rules != len(d.Rules) {
			t.Errorf("%s: stats say %d rules, the file holds %d", m.Name, res.Stats.Rules, len(d.Rules))
		}
		n++
	}
	if n == 0 {
		t.Fatal("no host-mode input in the syntax matrix")
	}
	t.Logf("decoded %d outputs", n)
}

// TestUnknownArgumentRejected proves the decode is strict: one argument
// the documentation does not list, added to a group or to a rule, or a
// misspelt one, fails it.
func TestUnknownArgumentRejected(t *testing.T) {
	in := targettest.Prepare(t, []string{"tw-solutions"}, resolve.Selection{}, "", hostSite, target.Options{})
	out, _ := write(t, &aws.Target{}, in)
	if _, err := decode([]byte(out)); err != nil {
		t.Fatalf("the output itself: %v", err)
	}
	for _, c := range []struct{ after, add string }{
		{`resource "aws_security_group" "portolan" {` + "\n", "  egress_all = true\n"},
		{"  ip_protocol       = ", "  protocol = \"tcp\"\n"},
		{"  ip_protocol       = ", "  cidr_blocks = [\"0.0.0.0/0\"]\n"},
		{"  ip_protocol       = ", "  source_port = 1\n"},
	} {
		i := strings.Index(out, c.after)
		if i < 0 {
			t.Fatalf("%q not in the output", c.after)
		}
		bad := out[:i] + c.add + out[i:]
		if _, err := decode([]byte(bad)); err == nil || !strings.Contains(err.Error(), "Unsupported argument") {
			t.Errorf("with %q: decode gave %v, want Unsupported argument", strings.TrimSpace(c.add), err)
		}
	}
}

var hostSite = policy.Site{Mode: policy.Host, LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:1::/64")}}

// seedOpens states in plain values what the security groups open for each
// seed service: host mode, LAN 192.0.2.0/24 and 2001:db8:1::/64, default
// features, the profiles' example params, names pinned by
// targettest.Pins (203.0.113.200-239, and 2001:db8:3::/64 for two names in
// three), each address a /32 or /128 rule. "in tcp 443 192.0.2.0/24": an
// ingress rule; "out": egress.
var seedOpens = map[string][]string{
	"starleaf": {
		"out tcp 443 2001:db8:3::200/128",
		"out tcp 443 2001:db8:3::201/128",
		"out tcp 443 203.0.113.200/32",
		"out tcp 443 203.0.113.201/32",
		"out udp 24704 2001:db8:3::200/128",
		"out udp 24704 203.0.113.200/32",
	},
	"starface": {
		"in tcp 443 192.0.2.0/24",
		"in tcp 50080 192.0.2.0/24",
		"in tcp 50081 192.0.2.0/24",
		"in tcp 5060 192.0.2.0/24",
		"in tcp 5061 192.0.2.0/24",
		"in tcp 5222 192.0.2.0/24",
		"in tcp 80 192.0.2.0/24",
		"in udp 10000-20000 192.0.2.0/24",
		"in udp 5060 192.0.2.0/24",
		"out tcp 443 203.0.113.200/32",
		"out tcp 443 203.0.113.201/32",
		"out tcp 443 203.0.113.202/32",
		"out tcp 443 203.0.113.203/32",
		"out tcp 443 203.0.113.204/32",
		"out tcp 5060 198.51.100.0/24",
		"out tcp 5061 198.51.100.0/24",
		"out tcp 53 0.0.0.0/0",
		"out tcp 80 203.0.113.200/32",
		"out tcp 80 203.0.113.202/32",
		"out tcp 80 203.0.113.203/32",
		"out tcp 80 203.0.113.204/32",
		"out tcp 8383 203.0.113.200/32",
		"out udp 1025-65535 0.0.0.0/0",
		"out udp 123 0.0.0.0/0",
		"out udp 5060 198.51.100.0/24",
		"out udp 53 0.0.0.0/0",
	},
	"tw-solutions": {
		"out tcp 443 0.0.0.0/0",
		"out tcp 443 ::/0",
		"out tcp 5938 0.0.0.0/0",
		"out tcp 5938 ::/0",
		"out tcp 80 0.0.0.0/0",
		"out tcp 80 ::/0",
		"out udp 10000-60000 0.0.0.0/0",
		"out udp 10000-60000 ::/0",
		"out udp 123 0.0.0.0/0",
		"out udp 123 ::/0",
		"out udp 5060-5080 177.20.192.0/20",
		"out udp 5060-5080 18.231.46.68/32",
		"out udp 5060-5080 187.60.48.0/20",
		"out udp 5060-5080 200.155.7.160/27",
		"out udp 5060-5080 200.198.186.96/27",
		"out udp 5060-5080 200.201.192.0/18",
		"out udp 5060-5080 200.219.237.64/27",
		"out udp 5060-5080 200.219.251.0/27",
		"out udp 5060-5080 52.67.38.195/32",
		"out udp 5938 0.0.0.0/0",
		"out udp 5938 ::/0",
	},
	"pexip": {
		"out tcp 443 198.51.100.0/24",
		"out tcp 443 203.0.113.0/24",
	},
	"onsight": {
		"out tcp 2197 17.0.0.0/8",
		"out tcp 443 0.0.0.0/0",
		"out tcp 443 13.64.48.96/28",
		"out tcp 443 13.70.46.96/28",
		"out tcp 443 17.0.0.0/8",
		"out tcp 443 51.105.215.0/28",
		"out tcp 443 52.142.34.48/28",
		"out tcp 443 52.146.156.64/28",
		"out tcp 443 52.253.84.80/28",
		"out tcp 443 ::/0",
		"out tcp 5060 13.64.48.96/28",
		"out tcp 5060 13.70.46.96/28",
		"out tcp 5060 51.105.215.0/28",
		"out tcp 5060 52.142.34.48/28",
		"out tcp 5060 52.146.156.64/28",
		"out tcp 5060 52.253.84.80/28",
		"out tcp 5061 13.64.48.96/28",
		"out tcp 5061 13.70.46.96/28",
		"out tcp 5061 51.105.215.0/28",
		"out tcp 5061 52.142.34.48/28",
		"out tcp 5061 52.146.156.64/28",
		"out tcp 5061 52.253.84.80/28",
		"out tcp 5223 17.0.0.0/8",
		"out tcp 5228-5230 0.0.0.0/0",
		"out tcp 5228-5230 ::/0",
		"out udp 15000-65000 13.64.48.96/28",
		"out udp 15000-65000 13.70.46.96/28",
		"out udp 15000-65000 51.105.215.0/28",
		"out udp 15000-65000 52.142.34.48/28",
		"out udp 15000-65000 52.146.156.64/28",
		"out udp 15000-65000 52.253.84.80/28",
		"out udp 3478 13.64.48.96/28",
		"out udp 3478 13.70.46.96/28",
		"out udp 3478 51.105.215.0/28",
		"out udp 3478 52.142.34.48/28",
		"out udp 3478 52.146.156.64/28",
		"out udp 3478 52.253.84.80/28",
	},
}

// TestSeedServicesOpen checks, for each seed service, that the output
// opens what seedOpens states and that it is what the plan opens.
func TestSeedServicesOpen(t *testing.T) {
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, svc := range cat.Services() {
		slug := svc.Slug()
		all = append(all, slug)
		sel := resolve.Selection{Params: targettest.ExampleParams(svc)}
		choices, err := resolve.Choose([]*model.Service{svc}, sel)
		if err != nil {
			t.Fatal(err)
		}
		in := targettest.Prepare(t, []string{slug}, sel, targettest.Pins(t, choices), hostSite, target.Options{})
		out, _ := write(t, &aws.Target{}, in)
		d, err := decode([]byte(out))
		if err != nil {
			t.Fatalf("%s: %v", slug, err)
		}
		var got []string
		for _, r := range d.Rules {
			got = append(got, r.String())
		}
		slices.Sort(got)
		got = slices.Compact(got)
		if os.Getenv("PORTOLAN_PRINT_SEEDS") != "" {
			fmt.Printf("\t%q: {\n", slug)
			for _, g := range got {
				fmt.Printf("\t\t%q,\n", g)
			}
			fmt.Printf("\t},\n")
		}
		want, ok := seedOpens[slug]
		if !ok {
			t.Errorf("%s: seedOpens does not say what it opens", slug)
		} else if !slices.Equal(got, want) {
			t.Errorf("%s: opens\n  %s\nseedOpens says\n  %s", slug, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		var plan []string
		for _, r := range planned(in) {
			plan = append(plan, r.String())
		}
		slices.Sort(plan)
		plan = slices.Compact(plan)
		if !slices.Equal(plan, want) {
			t.Errorf("%s: the plan opens\n  %s\nseedOpens says\n  %s", slug, strings.Join(plan, "\n  "), strings.Join(want, "\n  "))
		}
	}
	for slug := range seedOpens {
		if !slices.Contains(all, slug) {
			t.Errorf("seedOpens: %s is not a seed service", slug)
		}
	}
}

// TestGatewayRefused: a security group has no forward path or port
// forward; gateway mode is an error that says to use --mode host and
// what to do about port forwards.
func TestGatewayRefused(t *testing.T) {
	in := targettest.Prepare(t, []string{"starface"}, resolve.Selection{Features: []string{"scenario-1"}, Params: []string{"starface:pbx_address=192.0.2.10", "starface:sip_provider=198.51.100.0/24"}}, "", targettest.Site, target.Options{})
	var b bytes.Buffer
	_, err := (&aws.Target{}).Write(&b, in)
	if !errors.Is(err, aws.ErrGatewayMode) {
		t.Fatalf("gateway mode: %v, want ErrGatewayMode", err)
	}
	for _, s := range []string{"--mode host", "DNAT", "Load Balancer"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if b.Len() != 0 {
		t.Errorf("gateway mode wrote %d bytes", b.Len())
	}
}

// TestVPCID: --vpc-id is written as it is and checked; without it the
// output declares variable "vpc_id".
func TestVPCID(t *testing.T) {
	in := targettest.Prepare(t, []string{"starleaf"}, resolve.Selection{Params: []string{"starleaf:company=acme"}}, "", hostSite, target.Options{})
	out, _ := write(t, &aws.Target{}, in)
	if !strings.Contains(out, "variable \"vpc_id\" {") || !strings.Contains(out, "vpc_id      = var.vpc_id") {
		t.Errorf("without --vpc-id: no variable vpc_id")
	}
	out, _ = write(t, &aws.Target{VPCID: "vpc-0123456789abcdef0"}, in)
	if strings.Contains(out, "variable \"vpc_id\"") || !strings.Contains(out, `vpc_id      = "vpc-0123456789abcdef0"`) {
		t.Errorf("with --vpc-id: vpc_id not written as given")
	}
	if _, err := decode([]byte(out)); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"vpc-1", "sg-01234567", `vpc-0123456789abcdef0"`, "vpc-${x}"} {
		if _, err := (&aws.Target{VPCID: bad}).Write(&bytes.Buffer{}, in); err == nil {
			t.Errorf("--vpc-id %q: no error", bad)
		}
	}
}

// TestSplitGroups: a plan of more rules than a group holds is split into
// groups of at most RulesPerGroup rules per direction and family, all in
// the output's list, with a note; more groups than an interface takes
// by default get a note too. The labels do not change between runs.
func TestSplitGroups(t *testing.T) {
	cfg := targettest.Large(t, 70, 2, false) // 140 egress IPv6 rules
	cfg.Site = policy.Site{Mode: policy.Host}
	in, err := target.Prepare(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, res := write(t, &aws.Target{}, in)
	d, err := decode([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Groups) != 3 {
		t.Errorf("%d groups for 140 rules, want 3", len(d.Groups))
	}
	for g, dims := range d.PerGroup {
		if dims["out6"] > aws.RulesPerGroup {
			t.Errorf("group %s: %d rules", g, dims["out6"])
		}
	}
	for _, g := range d.Groups {
		if !strings.Contains(out, "aws_security_group."+g+".id]") && !strings.Contains(out, "aws_security_group."+g+".id,") {
			t.Errorf("group %s is not in the output portolan_security_group_ids", g)
		}
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.HasPrefix(n, "split: the rules take 3 security groups") }) {
		t.Errorf("no note about the split: %q", res.Notes)
	}
	if !strings.Contains(out, "#   split: the rules take 3") {
		t.Errorf("the split is not in the output's header")
	}
	again, _ := write(t, &aws.Target{}, in)
	if again != out {
		t.Error("a second run wrote another file")
	}

	cfg = targettest.Large(t, 400, 1, false)
	cfg.Site = policy.Site{Mode: policy.Host}
	in, err = target.Prepare(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, res = write(t, &aws.Target{}, in)
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.HasPrefix(n, "quota: 7 security groups") }) {
		t.Errorf("no note about the interface quota: %q", res.Notes)
	}
}

// TestQuote: hostile text in a Terraform string stays the same text:
// quotes, backslashes, newlines, "${…}" interpolations and "%{…}"
// directives come back as written, evaluated without any variables.
func TestQuote(t *testing.T) {
	for _, s := range []string{
		`plain`, `a "quoted" word`, `back\slash\`, "two\nlines\r\t", `${var.secret}`, `%{ if true }x%{ endif }`,
		`$${already}`, `%%{already}`, `$`, `%`, `${`, `$$`, "\x00\x1b[31m", `"}; resource "x" "y" {`, `\${x}`, `$\{x}`,
	} {
		src := "a = " + aws.Quote(s) + "\n"
		v, err := evalAttr(src)
		if err != nil {
			t.Errorf("Quote(%q) = %s: %v", s, aws.Quote(s), err)
			continue
		}
		if v != s {
			t.Errorf("Quote(%q) = %s reads back as %q", s, aws.Quote(s), v)
		}
	}
}

// TestDescription: descriptions keep the documented characters only and
// at most 255 bytes.
func TestDescription(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"starleaf/tunnel-udp 000_x.txt:16", "starleaf/tunnel-udp 000_x.txt:16"},
		{`a "b" \c`, "a _b_ _c"},
		{"${x} %{y}", "${x} _{y}"},
		{"t&c é\u202e", "t_c _"},
		{"two\nlines", "two lines"},
		{strings.Repeat("x", 300), strings.Repeat("x", 252) + "..."},
	} {
		if got := aws.Description(c.in); got != c.want {
			t.Errorf("Description(%q) = %q, want %q", c.in, got, c.want)
		}
		if err := checkDescription(aws.Description(c.in)); err != nil {
			t.Error(err)
		}
	}
}

// TestHostileProfile: a profile whose names, purposes and document carry
// quotes, interpolations, directives, newlines and a closing brace still
// gives a file that parses and decodes strictly, with no interpolation
// left in it and every rule there.
func TestHostileProfile(t *testing.T) {
	evil := `x\" } ${var.secret} %{ if true }y%{ endif } $${z} #`
	profile := fmt.Sprintf(`service: {slug: evil, name: %q, vendor: %q, document: %q, language: en}
params:
  - {name: addr, type: address, description: %q, example: 192.0.2.10}
roles:
  - {name: endpoint, description: %q}
  - {name: server, description: %q, address_param: addr}
hosts:
  - {name: h, description: %q, entries: ["203.0.113.7", "2001:db8:7::7", "198.51.100.0/24"]}
flows:
  - {id: f1, direction: outbound, proto: [tcp, udp], ports: [443, 3478-3479], local: endpoint, remote: [h], necessity: required, app: https, purpose: {en: %q}, source: {quote: %q, line: 3}}
  - {id: f2, direction: inbound, proto: [udp], ports: [5060], src_ports: [5060], local: server, remote: [h], necessity: required, app: sip, purpose: {en: %q}, source: {quote: q, line: 4}}
`, "Evil "+evil, evil, "doc${x}%{y}.txt", evil, evil, evil, evil, "purpose "+evil+"\nresource \"x\" \"y\" {", evil, evil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "evil.yaml"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.Open(dir); err != nil {
		t.Fatalf("the profile: %v", err)
	}
	in := targettest.PrepareFrom(t, dir, []string{"evil"}, resolve.Selection{Params: []string{"evil:addr=192.0.2.10"}}, "", hostSite, target.Options{})
	out, res := write(t, &aws.Target{}, in)
	d, err := decode([]byte(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// f2 names source port 5060, which no security group rule matches.
	if !slices.ContainsFunc(res.Notes, func(n string) bool {
		return strings.HasPrefix(n, "wider: evil/f2: ") && strings.Contains(n, "source ports 5060")
	}) {
		t.Errorf("no note that evil/f2's source ports are not matched: %q", res.Notes)
	}
	got, want := space(d.Rules), space(planned(in))
	if !slices.Equal(got, want) || len(d.Rules) == 0 {
		t.Errorf("opens %v, the plan %v", got, want)
	}
	// The document's name reaches the descriptions: "${x}" reads back
	// as written, not interpolated; "%" is not a description character.
	for _, desc := range d.Descriptions {
		if !strings.Contains(desc, " doc${x}_{y}.txt:") {
			t.Errorf("description %q: not the document's name as written", desc)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		if strings.Contains(l, "var.secret") || strings.Contains(l, "%{") || strings.Contains(l, "endif") {
			t.Errorf("profile text outside a comment: %q", l)
		}
	}
}

// evalAttr parses src (one attribute "a") and evaluates it with no
// variables or functions.
func evalAttr(src string) (string, error) {
	e, err := parseAttr(src)
	if err != nil {
		return "", err
	}
	v, d := e.Value(nil)
	if d.HasErrors() {
		return "", d
	}
	return v.AsString(), nil
}

// TestNATTimeout: TW Solutions' 90 s UDP binding becomes the network
// interface's connection tracking timeouts within their documented
// bounds: UdpTimeout stops at 60 s, which the header says falls short,
// and UdpStreamTimeout's default 180 s is enough.
func TestNATTimeout(t *testing.T) {
	in := targettest.Prepare(t, []string{"tw-solutions"}, resolve.Selection{}, "", hostSite, target.Options{})
	out, _ := write(t, &aws.Target{}, in)
	header := strings.Join(strings.Fields(strings.ReplaceAll(out, "\n#", " ")), " ")
	for _, want := range []string{
		"UdpTimeout cannot reach 90 s (at most 60)",
		"UdpStreamTimeout: the default 180 s is enough",
		"--connection-tracking-specification UdpTimeout=60.",
		"has no application layer gateway",
	} {
		if !strings.Contains(header, want) {
			t.Errorf("header does not say %q", want)
		}
	}
	for _, b := range []aws.Bounds{aws.TCPEstablished, aws.UDPStream, aws.UDPSingle} {
		if b.Min > b.Default || b.Default > b.Max {
			t.Errorf("bounds %v: default outside min..max", b)
		}
	}
}

// TestNotes: what a security group cannot say is on stderr (the notes)
// and in the header: names without an address, wildcard-only flows.
func TestNotes(t *testing.T) {
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := cat.Select([]string{"onsight"})
	if err != nil {
		t.Fatal(err)
	}
	in := targettest.Prepare(t, []string{"onsight"}, resolve.Selection{AllFeatures: true, Params: targettest.ExampleParams(svcs...)}, "", hostSite, target.Options{Options: policy.Options{Optional: true}})
	out, res := write(t, &aws.Target{}, in)
	var wild, unresolved bool
	for _, n := range res.Notes {
		if strings.Contains(n, "wildcard domains only") {
			wild = true
		}
		if strings.Contains(n, "have no IPv4 address yet") {
			unresolved = true
		}
		first := strings.Fields(n)
		if !strings.Contains(out, "#   "+strings.Join(first[:min(4, len(first))], " ")) {
			t.Errorf("note %q is not in the output's header", n)
		}
	}
	if !wild || !unresolved {
		t.Errorf("notes do not say wildcards (%t) and unresolved names (%t): %q", wild, unresolved, res.Notes)
	}
}
