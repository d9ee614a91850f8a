// Package windows writes the policy as a PowerShell script for Windows
// Defender Firewall: one New-NetFirewallRule (NetSecurity module) per
// rule of the plan, each service's rules in a group of their own,
// "portolan SERVICE", so that
//
//	Remove-NetFirewallRule -Group 'portolan SERVICE'
//
// undoes them. The script removes its groups before it adds the rules,
// so running it again replaces them rather than adding a second copy.
//
// Windows Defender Firewall filters the machine's own traffic (inbound to
// it, outbound from it): the target writes host mode only and refuses
// gateway mode, whose forward path and port forwards (DNAT) it cannot
// express (netsh interface portproxy is a TCP proxy, not a port forward).
//
// Names: by default the addresses they resolve to when the script is
// made go into -RemoteAddress (regenerate to refresh). With
// --dynamic-keywords each name becomes an AutoResolve dynamic keyword
// address (New-NetFirewallDynamicKeywordAddress, Windows build 20348 and
// later: Windows 11, Windows Server 2022) that rules name through
// -RemoteDynamicKeywordAddresses. Microsoft documents that a component
// outside the firewall service fills in the addresses of such a keyword
// (Microsoft Defender for Endpoint does); without one, the keyword
// stays empty and its rules allow nothing, which is why it is not the
// default. Wildcard domains have no form either way.
//
// There is no PowerShell on the machines that test portolan (Debian has
// no pwsh), so no real referee runs: the tests parse the script with a
// strict parser of the subset it is written in, check every cmdlet and
// parameter against a table of Microsoft's documented forms (with the
// pages' addresses), and read the rules back to the plan's ports and
// prefixes.
package windows

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"go4.org/netipx"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
)

func init() { target.Register(&Target{}) }

var _ target.SiteChecker = (*Target)(nil)

// Target is the Windows Defender Firewall target. Keywords writes DNS
// names as AutoResolve dynamic keyword addresses (--dynamic-keywords).
type Target struct {
	Keywords bool
}

// Name is "windows".
func (*Target) Name() string { return "windows" }

// Synopsis describes the output.
func (*Target) Synopsis() string {
	return "PowerShell script of New-NetFirewallRule for Windows Defender Firewall, a rule group per service (--mode host)"
}

// Resolves is true unless names become dynamic keywords, which Windows
// resolves itself.
func (t *Target) Resolves() bool { return !t.Keywords }

// Flags adds --dynamic-keywords.
func (t *Target) Flags(fs *pflag.FlagSet) {
	fs.BoolVar(&t.Keywords, "dynamic-keywords", false, "write DNS names as AutoResolve dynamic keyword addresses (Windows build 20348+, addresses filled in by Microsoft Defender for Endpoint) instead of the addresses they resolve to now")
}

// GroupPrefix starts every rule group's name: "portolan starleaf".
const GroupPrefix = "portolan "

// DescriptionMax bounds -Description; the rule's flow reference is far
// shorter, but a document name comes from the profile.
const DescriptionMax = 200

// Group is the rule group of a service.
func Group(service string) string { return GroupPrefix + service }

// AnyV4 and AnyV6 are every address of one family, as a range: the
// address condition that keeps a rule to one family when it names no
// address of its own.
const (
	AnyV4 = "0.0.0.0-255.255.255.255"
	AnyV6 = "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
)

// Keyword is one AutoResolve dynamic keyword address.
type Keyword struct {
	ID   string // "{8-4-4-4-12}", derived from the name
	Name string
}

// KeywordID is the id of name's keyword: a GUID made from a hash of the
// name, so that the same name gets the same id in every script.
func KeywordID(name string) string {
	h := sha256.Sum256([]byte("portolan dynamic keyword " + strings.ToLower(name)))
	h[6] = h[6]&0x0f | 0x50 // version 5 style: name-based
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("{%x-%x-%x-%x-%x}", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// rule is one New-NetFirewallRule.
type rule struct {
	flow       *resolve.Concrete
	fam        int // 4 or 6; 0 when it stands for both
	dir, proto string
	localPort  []string
	remotePort []string
	localAddr  []netip.Prefix
	remoteAddr []netip.Prefix
	keywords   []string // names
	comments   []string
}

type gen struct {
	t        *Target
	in       *target.Input
	rules    []*rule
	keywords []Keyword
	kwSeen   map[string]bool
	notes    []string
	stats    target.Stats
}

// CheckSite refuses gateway mode: Windows Defender Firewall filters the
// machine's own traffic only.
func (*Target) CheckSite(site policy.Site, _ target.Options) error {
	if site.Mode != policy.Host {
		return fmt.Errorf("--target windows writes host rules only: Windows Defender Firewall filters the machine's own inbound and outbound traffic, not a router's forward path or port forwards; run it with --mode host for the Windows machine itself")
	}
	return nil
}

// Write writes the script.
func (t *Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	if err := t.CheckSite(in.Site, in.Options); err != nil {
		return target.Result{}, err
	}
	g := &gen{t: t, in: in, kwSeen: map[string]bool{}, notes: notes(in, t.Keywords)}
	if in.Options.ChainOnly {
		g.notes = append(g.notes, "--chain-only: Windows has no chains; the rules stand in the groups named below, beside the machine's other rules")
	}
	for i := range in.Rules {
		g.rule(&in.Rules[i])
	}
	g.rules = mergeTwins(g.rules)
	g.wildcards()
	var b strings.Builder
	g.write(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return target.Result{}, err
	}
	return target.Result{Stats: g.stats, Notes: g.notes}, nil
}

// notes are the input's notes; with keywords, without the warnings that
// a name has no address, since Windows resolves the names itself.
func notes(in *target.Input, keywords bool) []string {
	if !keywords {
		return in.Notes()
	}
	names := map[string]bool{}
	for _, f := range in.Flows {
		for _, n := range f.Names {
			names[n.Name] = true
		}
	}
	cp := *in
	cp.Warnings = slices.DeleteFunc(slices.Clone(in.Warnings), func(w resolve.Warning) bool {
		name, _, ok := strings.Cut(w.Msg, ": ")
		return ok && names[name]
	})
	return cp.Notes()
}

func portStrings(ps model.PortSet) []string {
	if ps.Empty() {
		return nil
	}
	return ps.Strings()
}

func (g *gen) rule(r *policy.Rule) {
	m := r.Match
	outbound := target.IsOutbound(r)
	base := rule{flow: r.Flow, fam: m.Family, proto: strings.ToUpper(m.Proto), localAddr: target.LocalSide(r)}
	if outbound {
		base.dir = "Outbound"
		base.remotePort, base.localPort = portStrings(m.DstPorts), portStrings(m.SrcPorts)
	} else {
		base.dir = "Inbound"
		base.localPort, base.remotePort = portStrings(m.DstPorts), portStrings(m.SrcPorts)
	}
	base.comments = g.in.FlowComments(r)
	prefixes, names, any := target.RemoteSide(r)
	switch {
	case any:
		g.add(base)
	case g.t.Keywords:
		if len(prefixes) > 0 {
			lit := base
			lit.remoteAddr = prefixes
			g.add(lit)
		}
		if len(names) > 0 {
			kw := base
			for _, n := range names {
				kw.keywords = append(kw.keywords, n.Name)
				g.keyword(n.Name)
			}
			g.add(kw)
		}
	default:
		var addrs []netip.Prefix
		if outbound {
			addrs = m.DstAddrs()
		} else {
			addrs = m.SrcAddrs()
		}
		if len(addrs) == 0 {
			var ns []string
			for _, n := range names {
				ns = append(ns, n.Name)
			}
			g.notes = append(g.notes, fmt.Sprintf("skipped: %s: IPv%d %s rule: %s have no IPv%d address yet; regenerate once they resolve, or use --dynamic-keywords", target.FlowRef(r.Flow), m.Family, strings.ToLower(base.dir), strings.Join(ns, ", "), m.Family))
			return
		}
		b := base
		b.remoteAddr = addrs
		if len(names) > 0 {
			s := &target.AddrSet{Names: names}
			b.comments = append(slices.Clone(b.comments), "# "+target.OneLine("addresses of "+strings.Join(s.NameList(), ", ")+" "+s.Resolved()+"; regenerate to refresh"))
		}
		g.add(b)
	}
}

func (g *gen) add(r rule) { g.rules = append(g.rules, &r) }

func (g *gen) keyword(name string) {
	if g.kwSeen[name] {
		return
	}
	g.kwSeen[name] = true
	g.keywords = append(g.keywords, Keyword{ID: KeywordID(name), Name: name})
}

// mergeTwins writes a flow's IPv4 and IPv6 rules as one when they differ
// only in their addresses and each side names addresses in both or in
// neither: Windows rules hold both families, and an address list of both
// families matches each family as the two rules did.
func mergeTwins(rs []*rule) []*rule {
	var out []*rule
	used := make([]bool, len(rs))
	for i, a := range rs {
		if used[i] {
			continue
		}
		for j := i + 1; j < len(rs); j++ {
			b := rs[j]
			if used[j] || b.flow != a.flow || a.fam == b.fam || a.fam == 0 || b.fam == 0 ||
				a.dir != b.dir || a.proto != b.proto ||
				!slices.Equal(a.localPort, b.localPort) || !slices.Equal(a.remotePort, b.remotePort) ||
				!slices.Equal(a.keywords, b.keywords) ||
				(len(a.localAddr) == 0) != (len(b.localAddr) == 0) ||
				(len(a.remoteAddr) == 0) != (len(b.remoteAddr) == 0) {
				continue
			}
			m := *a
			m.fam = 0
			m.localAddr = append(slices.Clone(a.localAddr), b.localAddr...)
			m.remoteAddr = append(slices.Clone(a.remoteAddr), b.remoteAddr...)
			for _, c := range b.comments {
				if !slices.Contains(m.comments, c) {
					m.comments = append(m.comments, c)
				}
			}
			a = &m
			used[j] = true
			break
		}
		out = append(out, a)
	}
	return out
}

// wildcards notes the wildcard domains of flows that have rules: Windows
// Defender Firewall matches addresses, not names.
func (g *gen) wildcards() {
	seen := map[*resolve.Concrete]bool{}
	for _, r := range g.in.Rules {
		f := r.Flow
		if len(f.Wildcards) == 0 || seen[f] {
			continue
		}
		seen[f] = true
		g.notes = append(g.notes, fmt.Sprintf("not in the rules: %s: wildcard domains %s: Windows Defender Firewall matches addresses (a dynamic keyword takes one name, not a pattern); allow them on the web proxy (--target squid)", target.FlowRef(f), strings.Join(f.Wildcards, ", ")))
	}
}

// Quote writes s as a PowerShell single-quoted string: one line, no
// control or format characters (target.OneLine), each quote doubled.
// PowerShell takes the typographic single quotes U+2018-U+201B for "'"
// too, so they become "'" before the doubling.
func Quote(s string) string {
	s = typoQuotes.Replace(target.OneLine(s))
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

var typoQuotes = strings.NewReplacer("\u2018", "'", "\u2019", "'", "\u201a", "'", "\u201b", "'")

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = Quote(x)
	}
	return strings.Join(q, ",")
}

// addrs writes prefixes merged, as few entries as it takes: an address,
// a prefix, or a "lo-hi" range with no spaces, as -RemoteAddress takes
// them.
func addrs(ps []netip.Prefix) []string {
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p)
	}
	s, _ := b.IPSet()
	return target.Elements(s)
}

func (g *gen) services() []string {
	var out []string
	for _, c := range g.in.Choices {
		out = append(out, c.Service.Slug())
	}
	return out
}

func (g *gen) write(b *strings.Builder) {
	in := g.in
	head := *in
	if g.t.Keywords {
		head.Resolver = "AutoResolve dynamic keyword addresses (--dynamic-keywords): Windows build 20348 or later (Windows 11, Windows Server 2022); a component outside the firewall service, such as Microsoft Defender for Endpoint, fills in their addresses, and until it does their rules allow nothing."
	}
	head.WriteHeader(b, "portolan rules for Windows Defender Firewall: a PowerShell script of the NetSecurity module")
	b.WriteString("#\n")
	line(b, "Run in an elevated PowerShell: powershell -ExecutionPolicy Bypass -File portolan.ps1. It first removes the rules of its groups, so running it again replaces them. Undo:")
	for _, s := range g.services() {
		b.WriteString("#   Remove-NetFirewallRule -Group " + Quote(Group(s)) + "\n")
	}
	for _, k := range g.keywords {
		b.WriteString("#   Remove-NetFirewallDynamicKeywordAddress -Id " + Quote(k.ID) + "\n")
	}
	line(b, "Host mode: Windows Defender Firewall filters this machine's own traffic, statefully (replies to allowed flows pass). Inbound is blocked unless a rule allows it; outbound is allowed unless the profile's default outbound action is Block, so the Outbound rules below matter only on a machine set to Set-NetFirewallProfile -All -DefaultOutboundAction Block. A Block rule of the machine's overrides these Allow rules.")
	line(b, "Every rule has -Description SERVICE/FLOW DOCUMENT:LINE; -Profile Any; no -Program, as the vendors' documents name none. No port forwards: Windows Defender Firewall has no DNAT (netsh interface portproxy is a TCP proxy, not a forward).")
	in.WriteConstraints(b, "Windows Defender Firewall", g.action)
	target.WriteNotes(b, g.notes)
	b.WriteString("\n$ErrorActionPreference = 'Stop'\n")
	for _, s := range g.services() {
		b.WriteString("Remove-NetFirewallRule -Group " + Quote(Group(s)) + " -ErrorAction SilentlyContinue\n")
	}
	if len(g.keywords) > 0 {
		b.WriteString("\n# Dynamic keyword addresses, one per DNS name; Windows resolves the name.\n")
		for _, k := range g.keywords {
			b.WriteString("Remove-NetFirewallDynamicKeywordAddress -Id " + Quote(k.ID) + " -ErrorAction SilentlyContinue\n")
			b.WriteString("New-NetFirewallDynamicKeywordAddress -Id " + Quote(k.ID) + " -Keyword " + Quote(k.Name) + " -AutoResolve $true\n")
			g.stats.Sets++
			g.stats.Names++
		}
	}
	seq := map[string]int{}
	var last []string
	for _, r := range g.rules {
		f := r.flow
		if !slices.Equal(r.comments, last) {
			b.WriteString("\n")
			for _, c := range r.comments {
				b.WriteString(c + "\n")
			}
			last = r.comments
		}
		seq[target.FlowRef(f)]++
		name := fmt.Sprintf("portolan-%s-%s-%s-%d", f.Service, f.ID, strings.ToLower(r.proto), seq[target.FlowRef(f)])
		display := fmt.Sprintf("portolan %s %s %s %s", f.Service, f.ID, strings.ToLower(r.dir), r.proto)
		parts := []string{"New-NetFirewallRule",
			"-Name", Quote(name),
			"-DisplayName", Quote(display),
			"-Description", Quote(target.Truncate(target.OneLine(target.RuleComment(&policy.Rule{Flow: f})), DescriptionMax)),
			"-Group", Quote(Group(f.Service)),
			"-Direction", r.dir,
			"-Action", "Allow",
			"-Profile", "Any",
			"-Protocol", r.proto,
		}
		if len(r.localPort) > 0 {
			parts = append(parts, "-LocalPort", quoteList(r.localPort))
			g.ports(r.localPort)
		}
		if len(r.remotePort) > 0 {
			parts = append(parts, "-RemotePort", quoteList(r.remotePort))
			g.ports(r.remotePort)
		}
		local := addrs(r.localAddr)
		if len(local) == 0 && len(r.remoteAddr) == 0 && r.fam != 0 {
			// Nothing else keeps the rule to its family.
			local = []string{AnyV4}
			if r.fam == 6 {
				local = []string{AnyV6}
			}
		}
		if len(local) > 0 {
			parts = append(parts, "-LocalAddress", quoteList(local))
		}
		if len(r.remoteAddr) > 0 {
			ra := addrs(r.remoteAddr)
			parts = append(parts, "-RemoteAddress", quoteList(ra))
			g.stats.Elements += len(ra)
		}
		if len(r.keywords) > 0 {
			var ids []string
			for _, n := range r.keywords {
				ids = append(ids, KeywordID(n))
			}
			parts = append(parts, "-RemoteDynamicKeywordAddresses", quoteList(ids))
		}
		b.WriteString(strings.Join(parts, " ") + "\n")
		g.stats.Rules++
	}
}

func (g *gen) ports(ps []string) {
	if len(ps) > 1 {
		g.stats.PortSets++
		g.stats.Ports += len(ps)
	}
}

func line(b *strings.Builder, text string) {
	for _, l := range target.Wrap("# ", text, 100) {
		b.WriteString(l + "\n")
	}
}

// action says what constraint c means for Windows Defender Firewall.
func (g *gen) action(c resolve.Constraint) string {
	switch c.Kind {
	case model.KindALGOff:
		return fmt.Sprintf("%s — Windows Defender Firewall has no %s ALG; turn it off on the router or NAT device in front of this machine.", c.Purpose, strings.Join(c.Apps, "/"))
	case model.KindNATTimeout:
		return fmt.Sprintf("%s — the firewall of a Windows host keeps its own flows' state; the UDP binding lifetime belongs to the NAT device in front of it: at least %s there.%s", c.Purpose, c.MinTimeout, target.Keepalive(c))
	case model.KindAllowByName:
		if g.t.Keywords {
			return fmt.Sprintf("%s — done: the names are dynamic keyword addresses (--dynamic-keywords).", c.Purpose)
		}
		return fmt.Sprintf("%s — the names' addresses are those of generation time (see the comments above the rules); --dynamic-keywords writes them as AutoResolve dynamic keyword addresses instead (Windows build 20348+, with Microsoft Defender for Endpoint), or regenerate and run the script again when they change.", c.Purpose)
	}
	return target.ConstraintAction(c, "Windows Defender Firewall")
}
