package windows_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"go4.org/netipx"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/targettest"
	"github.com/portolan/portolan/target/windows"
)

// planOpenings is what the plan asks to open, per rule, in the words of
// Opening: with keywords, names stay names beside the literal prefixes;
// without, they are their addresses, and a rule whose remote side has no
// address opens nothing.
func planOpenings(t *testing.T, in *target.Input, keywords bool) []Opening {
	t.Helper()
	var out []Opening
	for i := range in.Rules {
		r := &in.Rules[i]
		m := r.Match
		o := Opening{Flow: target.FlowRef(r.Flow), Family: m.Family, Proto: strings.ToUpper(m.Proto), LPort: "any", RPort: "any", Local: "any"}
		dst, src := m.DstPorts.String(), m.SrcPorts.String()
		if src == "" {
			src = "any"
		}
		if target.IsOutbound(r) {
			o.Dir, o.RPort, o.LPort = "Outbound", dst, src
		} else {
			o.Dir, o.LPort, o.RPort = "Inbound", dst, src
		}
		if local := target.LocalSide(r); len(local) > 0 {
			o.Local = prefixText(setOf(local))
		}
		prefixes, names, any := target.RemoteSide(r)
		switch {
		case any:
			o.Remote = "any"
		case keywords:
			o.Remote = prefixText(setOf(prefixes))
			var ns []string
			for _, n := range names {
				ns = append(ns, n.Name)
			}
			slices.Sort(ns)
			o.Names = strings.Join(ns, ",")
		default:
			addrs := m.DstAddrs()
			if !target.IsOutbound(r) {
				addrs = m.SrcAddrs()
			}
			if len(addrs) == 0 {
				continue // opens nothing
			}
			o.Remote = prefixText(setOf(addrs))
		}
		out = append(out, o)
	}
	return out
}

func setOf(ps []netip.Prefix) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p)
	}
	s, _ := b.IPSet()
	return s
}

func write(t *testing.T, tg *windows.Target, in *target.Input) (string, target.Result) {
	t.Helper()
	var b bytes.Buffer
	res, err := tg.Write(&b, in)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), res
}

// TestMatrixReadBack writes every host-mode input of the syntax matrix
// (every seed service, every feature, names pinned and unresolved,
// one-of groups preferred and all), with addresses and with dynamic
// keywords, parses each script strictly against the documented
// parameters, and reads it back: what the rules open, per family,
// equals the plan's ports and prefixes (or names). Every rule's
// description is its flow's service/flow and document line. Gateway
// inputs are refused.
func TestMatrixReadBack(t *testing.T) {
	n := 0
	for _, m := range targettest.SyntaxMatrix(t) {
		for _, kw := range []bool{false, true} {
			tg := &windows.Target{Keywords: kw}
			if m.In.Site.Mode == policy.Gateway {
				if _, err := tg.Write(&bytes.Buffer{}, m.In); err == nil || !strings.Contains(err.Error(), "--mode host") {
					t.Fatalf("%s: gateway mode: %v, want a refusal naming --mode host", m.Name, err)
				}
				continue
			}
			n++
			out, res := write(t, tg, m.In)
			s, err := Parse(out)
			if err != nil {
				t.Fatalf("%s keywords=%v: %v", m.Name, kw, err)
			}
			got, err := s.Openings()
			if err != nil {
				t.Fatalf("%s keywords=%v: %v", m.Name, kw, err)
			}
			want := Merge(planOpenings(t, m.In, kw))
			if g := Merge(got); !slices.Equal(g, want) {
				t.Errorf("%s keywords=%v: read back\n  %s\nwant\n  %s", m.Name, kw, strings.Join(g, "\n  "), strings.Join(want, "\n  "))
			}
			refs := map[string]string{}
			for i := range m.In.Flows {
				f := &m.In.Flows[i]
				refs[target.FlowRef(f)] = target.FlowRef(f) + " " + target.SourceRef(f.Source)
			}
			for _, r := range s.Rules {
				flow, _, _ := strings.Cut(r.Description, " ")
				if refs[flow] == "" || r.Description != refs[flow] {
					t.Errorf("%s: rule %s: description %q, want service/flow document:line", m.Name, r.Name, r.Description)
				}
				if r.Group != windows.Group(strings.Split(flow, "/")[0]) {
					t.Errorf("%s: rule %s in group %q", m.Name, r.Name, r.Group)
				}
			}
			if res.Stats.Rules != len(s.Rules) {
				t.Errorf("%s: stats say %d rules, the script has %d", m.Name, res.Stats.Rules, len(s.Rules))
			}
			for _, note := range res.Notes {
				if !strings.Contains(out, target.Wrap("#   ", note, 100)[0]) {
					t.Errorf("%s: note %q is not in the header", m.Name, note)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no host-mode input in the matrix")
	}
}

// hostInput prepares services of the lab catalog (the profiles with
// their public blocks moved into documentation ranges) in host mode, on
// a LAN of 192.0.2.0/24 and 2001:db8:1::/64, names pinned by pins
// (targettest.Pins when empty) and those it does not pin left without an
// address; params nil takes the profiles' examples.
func hostInput(t *testing.T, slugs []string, params []string, pins string, opt target.Options) *target.Input {
	t.Helper()
	cat, err := catalog.Open(targettest.LabCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := cat.Select(slugs)
	if err != nil {
		t.Fatal(err)
	}
	if params == nil {
		params = targettest.ExampleParams(svcs...)
	}
	cs, err := resolve.Choose(svcs, resolve.Selection{Params: params})
	if err != nil {
		t.Fatal(err)
	}
	if pins == "" {
		pins = targettest.Pins(t, cs)
	}
	r, err := resolve.ParseHosts("pins", strings.NewReader(pins))
	if err != nil {
		t.Fatal(err)
	}
	site := policy.Site{Mode: policy.Host, LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:1::/64")}}
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: r, AllowUnresolved: true, Site: site, Options: opt})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestSeedServicesOpen states, for each seed service in host mode with
// its profile's example params and its names pinned, in plain values,
// what the script opens (flow, family, direction, protocol, local and
// remote ports, local and remote addresses), and that it equals the
// plan's.
func TestSeedServicesOpen(t *testing.T) {
	for _, c := range seedCases {
		t.Run(c.service+strings.Join(c.params, ","), func(t *testing.T) {
			in := hostInput(t, []string{c.service}, c.params, c.pins, target.Options{})
			out, _ := write(t, &windows.Target{}, in)
			s, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Openings()
			if err != nil {
				t.Fatal(err)
			}
			g := Merge(got)
			if want := Merge(planOpenings(t, in, false)); !slices.Equal(g, want) {
				t.Errorf("read back\n  %s\nplan\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
			}
			want := slices.Clone(c.opens)
			slices.Sort(want)
			if !slices.Equal(g, want) {
				t.Errorf("opens\n  %s\nwant\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// TestGatewayRefused: gateway mode is a usage error that says what to do.
func TestGatewayRefused(t *testing.T) {
	in := targettest.Prepare(t, []string{"starleaf"}, resolve.Selection{Params: []string{"company=acme"}}, "203.0.113.20 acme.call.sl\n203.0.113.30 config.starleaf.com\n", targettest.Site, target.Options{})
	var b bytes.Buffer
	_, err := (&windows.Target{}).Write(&b, in)
	if err == nil || !strings.Contains(err.Error(), "--mode host") || b.Len() != 0 {
		t.Fatalf("gateway: err %v, %d bytes written", err, b.Len())
	}
}

// TestNamesBothWays: by default a name is its pinned addresses in
// -RemoteAddress; with --dynamic-keywords it is one AutoResolve keyword,
// created (after its removal) before the rules that name it, and the
// header says how to undo both. A name without an address of a family
// is a note in address mode, not a rule open to any address.
func TestNamesBothWays(t *testing.T) {
	in := hostInput(t, []string{"starleaf"}, []string{"company=acme"}, "203.0.113.20 acme.call.sl\n2001:db8:3::20 acme.call.sl\n", target.Options{})
	out, res := write(t, &windows.Target{}, in)
	if !strings.Contains(out, "-RemoteAddress '203.0.113.20','2001:db8:3::20'") || strings.Contains(out, "DynamicKeyword") {
		t.Errorf("address mode:\n%s", out)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool {
		return strings.Contains(n, "starleaf/config-https") && strings.Contains(n, "config.starleaf.com have no IPv4 address")
	}) {
		t.Errorf("no note for the unresolved name: %q", res.Notes)
	}
	if strings.Contains(out, "config-https-tcp") {
		t.Errorf("a rule for a name without addresses:\n%s", out)
	}
	out, _ = write(t, &windows.Target{Keywords: true}, in)
	s, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	var kws []string
	for _, k := range s.Keywords {
		kws = append(kws, k.Keyword)
		if k.ID != windows.KeywordID(k.Keyword) {
			t.Errorf("keyword %s id %s", k.Keyword, k.ID)
		}
		if !strings.Contains(out, "#   Remove-NetFirewallDynamicKeywordAddress -Id '"+k.ID+"'") {
			t.Errorf("the header does not say how to remove keyword %s", k.Keyword)
		}
	}
	slices.Sort(kws)
	if !slices.Equal(kws, []string{"acme.call.sl", "config.starleaf.com"}) {
		t.Errorf("keywords %q", kws)
	}
	if !strings.Contains(out, "#   Remove-NetFirewallRule -Group 'portolan starleaf'") {
		t.Error("the header does not say how to undo the rules")
	}
	if windows.KeywordID("acme.call.sl") == windows.KeywordID("other.call.sl") || windows.KeywordID("A.example") != windows.KeywordID("a.example") {
		t.Error("keyword ids: one per name, case-insensitive")
	}
}

// TestWildcardsNoted: a flow's wildcard domains are said on stderr and
// in the header, with what to do instead.
func TestWildcardsNoted(t *testing.T) {
	in := hostInput(t, []string{"onsight"}, nil, "", target.Options{})
	_, res := write(t, &windows.Target{}, in)
	found := false
	for _, n := range append(res.Notes, in.Notes()...) {
		if strings.Contains(n, "wildcard") && strings.Contains(n, "--target squid") {
			found = true
		}
	}
	if !found {
		t.Errorf("no note about wildcard domains: %q", res.Notes)
	}
}

// hostile is text a profile could carry that must not leave its string
// or comment: quotes of every kind PowerShell reads as quotes, a
// subexpression, a backtick escape, a block comment, line breaks.
const hostile = "x' ; Remove-NetFirewallRule -All ; '\u2019$(Stop-Computer)`n\"<#\n#>\r\nNew-NetFirewallRule -DisplayName EVIL\u2028\u202eEVIL"

// TestQuote: every hostile string stays one string, and reads back as
// its one-line form.
func TestQuote(t *testing.T) {
	for _, s := range []string{"", "'", "''", "a'b", "\u2018\u2019\u201a\u201b", hostile, "$(x)", "`", "#", "<#", "\x00\x1b[31m"} {
		q := windows.Quote(s)
		v, rest, err := QuotedString(q)
		if err != nil || rest != "" {
			t.Errorf("Quote(%q) = %q: %v, rest %q", s, q, err, rest)
			continue
		}
		want := strings.NewReplacer("\u2018", "'", "\u2019", "'", "\u201a", "'", "\u201b", "'").Replace(target.OneLine(s))
		if v != want {
			t.Errorf("Quote(%q) reads back %q, want %q", s, v, want)
		}
		if strings.ContainsFunc(q, func(r rune) bool { return r >= 0x2018 && r <= 0x201b || unicode.IsControl(r) }) {
			t.Errorf("Quote(%q) = %q holds a quote PowerShell reads as ' or a control character", s, q)
		}
	}
}

// FuzzQuote: whatever the text, Quote gives one string that the subset's
// reader reads whole.
func FuzzQuote(f *testing.F) {
	f.Add(hostile)
	f.Add("don't")
	f.Fuzz(func(t *testing.T, s string) {
		q := windows.Quote(s)
		if _, rest, err := QuotedString(q); err != nil || rest != "" {
			t.Fatalf("Quote(%q) = %q: %v, rest %q", s, q, err, rest)
		}
		if _, err := Parse("$ErrorActionPreference = 'Stop'\nRemove-NetFirewallRule -Group " + q + " -ErrorAction SilentlyContinue\n"); err != nil {
			t.Fatalf("Quote(%q) = %q: %v", s, q, err)
		}
	})
}

// FuzzParse: the reader never panics.
func FuzzParse(f *testing.F) {
	f.Add("$ErrorActionPreference = 'Stop'\nNew-NetFirewallRule -Name 'a' -DisplayName 'b' -Group 'g' -Direction Inbound -Action Allow -Protocol TCP -LocalPort '1-2'\n")
	f.Fuzz(func(t *testing.T, s string) { _, _ = Parse(s) })
}

const evilProfile = `service: {slug: evil, name: "Evil \u202eNAME\u200b'; Remove-NetFirewallRule -All; '", vendor: tests, document: "evil'; Stop-Computer; '.txt", language: en}
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
    purpose: {en: "EVIL\u202eelif\u200b \x1b[31mred\nNew-NetFirewallRule -DisplayName EVIL\n'; Remove-NetFirewallRule -All"}
    source: {quote: "quote \u202e\u200b\x1b[0m next", line: 1}
constraints:
  - id: keep
    kind: nat-timeout
    proto: udp
    ports: [443]
    min_timeout: 90s
    flows: [web]
    purpose: {en: "keep\u202e\u200b\x1b]0;title\x07\nRemove-NetFirewallRule -All"}
    source: {quote: q, line: 2}
`

// TestCommentsAreSafe writes a hostile profile (as target's own test of
// the same name does for the other targets) and checks that the script
// still parses strictly — no text broke out of a string or a comment —,
// that no line but a comment carries the profile's prose, and that
// neither script nor notes hold a control, bidi or zero-width character.
func TestCommentsAreSafe(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "evil.yaml"), []byte(evilProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ := cat.Select([]string{"evil"})
	cs, err := resolve.Choose(svcs, resolve.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	pins, _ := resolve.ParseHosts("pins", strings.NewReader("203.0.113.8 evil.example.com\n"))
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: pins, Site: policy.Site{Mode: policy.Host},
		Command: "portolan rules evil --param x='" + hostile + "'", ResolverInfo: hostile})
	if err != nil {
		t.Fatal(err)
	}
	in.Warnings = append(in.Warnings, resolve.Warning{Service: "evil", Flow: "web", Msg: hostile})
	for _, kw := range []bool{false, true} {
		out, res := write(t, &windows.Target{Keywords: kw}, in)
		if _, err := Parse(out); err != nil {
			t.Fatalf("keywords=%v: %v\n%s", kw, err, out)
		}
		for i, r := range out {
			if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029') {
				t.Errorf("%U at byte %d", r, i)
			}
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "EVIL") && !strings.HasPrefix(l, "#") {
				t.Errorf("profile prose outside a comment: %q", l)
			}
		}
		for _, n := range res.Notes {
			if strings.ContainsAny(n, "\n\r\x1b\u202e\u200b") {
				t.Errorf("note %q", n)
			}
		}
	}
}

// TestDocsTable: every parameter the reader takes has its documented
// form and a learn.microsoft.com page, and every one is used by some
// script of the matrix (a parameter the writer stopped using leaves the
// table).
func TestDocsTable(t *testing.T) {
	used := map[string]bool{}
	for _, m := range targettest.SyntaxMatrix(t) {
		if m.In.Site.Mode != policy.Host {
			continue
		}
		for _, kw := range []bool{false, true} {
			out, _ := write(t, &windows.Target{Keywords: kw}, m.In)
			for _, l := range strings.Split(out, "\n") {
				if l == "" || l[0] == '#' || l[0] == '$' {
					continue
				}
				cmdlet, rest, _ := strings.Cut(l, " ")
				toks, err := tokenize(rest)
				if err != nil {
					t.Fatal(err)
				}
				for _, tk := range toks {
					used[cmdlet+" -"+tk.name] = true
				}
			}
		}
	}
	for _, d := range Docs {
		if d.form == "" || !strings.HasPrefix(d.doc, "https://learn.microsoft.com/") {
			t.Errorf("%s -%s: no documented form or page", d.cmdlet, d.name)
		}
		if !used[d.cmdlet+" -"+d.name] {
			t.Errorf("%s -%s is in the table but no script uses it", d.cmdlet, d.name)
		}
	}
	for what, page := range SyntaxDocs {
		if !strings.HasPrefix(page, "https://learn.microsoft.com/") {
			t.Errorf("%s: page %q", what, page)
		}
	}
	// The reader refuses what the table does not hold.
	for _, bad := range []string{
		"New-NetFirewallRule -DisplayName 'a' -Name 'x' -Group 'g' -Direction Sideways -Action Allow -Protocol TCP",
		"New-NetFirewallRule -DisplayName 'a' -Name 'x' -Group 'g' -Direction Inbound -Action Allow -Protocol TCP -Program 'c:\\x.exe'",
		"New-NetFirewallRule -DisplayName 'a' -Name 'x' -Group 'g' -Direction Inbound -Action Allow -Protocol TCP -LocalPort '20-10'",
		"New-NetFirewallRule -DisplayName 'a' -Name 'x' -Group 'g' -Direction Inbound -Action Allow -Protocol TCP -RemoteAddress '192.0.2.0 - 192.0.2.9'",
		"New-NetFirewallRule -DisplayName 'a' -Name 'x' -Group 'other' -Direction Inbound -Action Allow -Protocol TCP",
		"New-NetFirewallRule -DisplayName 'a' -Name 'x' -Group 'g' -Direction Inbound -Action Allow -Protocol TCP -RemoteDynamicKeywordAddresses '{00000000-0000-0000-0000-000000000000}'",
		"Set-NetFirewallRule -DisplayName 'a'",
		"New-NetFirewallRule -DisplayName 'a' `",
		"New-NetFirewallRule -DisplayName 'a'; Remove-NetFirewallRule -All",
		"New-NetFirewallRule -DisplayName \u2018a\u2019",
		"New-NetFirewallRule -DisplayName 'a",
	} {
		if _, err := Parse("$ErrorActionPreference = 'Stop'\nRemove-NetFirewallRule -Group 'g' -ErrorAction SilentlyContinue\n" + bad + "\n"); err == nil {
			t.Errorf("the reader takes %q", bad)
		}
	}
}
