// Package iptables writes the policy for iptables-restore (IPv4, target
// "iptables") and ip6tables-restore (IPv6, target "ip6tables").
//
// The rules live in chains of their own, PORTOLAN-FORWARD (or -INPUT and
// -OUTPUT in host mode) in the filter table and PORTOLAN-PREROUTING in the
// nat table. Loaded with --noflush, declaring a chain empties only that
// chain, and each table's part is committed at once, so a reload replaces
// portolan's chains and leaves every other chain alone.
//
// iptables-restore cannot add a rule "unless it is there", so a jump from
// a built-in chain appended on every load would pile up. Standalone, the
// output therefore owns the built-in chains of its hooks: it empties them,
// sets their policy to DROP and jumps to its own chain, which makes the
// reload idempotent; the nat table's PREROUTING is owned only when there
// are port forwards. With --chain-only it touches no built-in chain and the
// header gives the one-time commands that hook the chains in.
//
// No ipset (it is not always installed): one rule per merged address
// prefix, multiport lists of at most 15 ports.
package iptables

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
)

func init() {
	target.Register(Target{Family: 4})
	target.Register(Target{Family: 6})
}

// Target writes one family: 4 for iptables-restore, 6 for ip6tables-restore.
type Target struct{ Family int }

// Name is "iptables" or "ip6tables".
func (t Target) Name() string {
	if t.Family == 6 {
		return "ip6tables"
	}
	return "iptables"
}

// Synopsis describes the output.
func (t Target) Synopsis() string {
	return fmt.Sprintf("IPv%d rules for %s-restore --noflush: chains PORTOLAN-*", t.Family, t.Name())
}

// Resolves is true: names become addresses.
func (Target) Resolves() bool { return true }

// CommentMax is the longest comment the comment match takes.
const CommentMax = 255

// MultiportMax is how many ports one multiport match holds; a range
// counts twice.
const MultiportMax = 15

// Chain names.
const (
	ChainForward    = "PORTOLAN-FORWARD"
	ChainInput      = "PORTOLAN-INPUT"
	ChainOutput     = "PORTOLAN-OUTPUT"
	ChainPrerouting = "PORTOLAN-PREROUTING"
)

var chainOf = map[policy.Hook]string{
	policy.Forward: ChainForward, policy.Input: ChainInput,
	policy.Output: ChainOutput, policy.Prerouting: ChainPrerouting,
}

var builtinOf = map[policy.Hook]string{
	policy.Forward: "FORWARD", policy.Input: "INPUT",
	policy.Output: "OUTPUT", policy.Prerouting: "PREROUTING",
}

// line is the rules of one match but for the destination ports, with
// the comment lines above them; refs are the flows it stands for,
// written into its comment match. It becomes one rule per multiport
// list of its ports.
type line struct {
	comments []string
	pre      []string // chain, interfaces, addresses, protocol, source ports
	proto    string
	dport    model.PortSet
	post     string // -j …
	refs     []string
}

func (l *line) key() string { return strings.Join(l.pre, " ") + "|" + l.post }

// rules writes the line's rules, and counts them and their port lists.
func (l *line) rules(st *target.Stats) []string {
	var out []string
	comment := target.Quotable(target.JoinRefs(l.refs, CommentMax), CommentMax)
	for _, dc := range PortChunks(l.dport, MultiportMax) {
		var lists []int
		pm := portMatch(l.proto, "dport", dc, &lists)
		out = append(out, fmt.Sprintf("%s %s -m comment --comment \"%s\" %s", strings.Join(l.pre, " "), pm, comment, l.post))
		st.Rules++
		if strings.Contains(l.post, "DNAT") {
			st.DNAT++
		}
		for _, n := range lists {
			st.PortSets++
			st.Ports += n
		}
	}
	return out
}

type gen struct {
	t     Target
	in    *target.Input
	rules map[policy.Hook][]*line
	index map[string]*line // by match, to write the same packets once
	stats target.Stats
	notes []string
}

// Write writes the restore file.
func (t Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	g := &gen{t: t, in: in, rules: map[policy.Hook][]*line{}, index: map[string]*line{}, notes: in.Notes()}
	for i := range in.Rules {
		r := &in.Rules[i]
		if r.Match.Family != t.Family {
			continue
		}
		if err := g.rule(r); err != nil {
			return target.Result{}, err
		}
	}
	var b strings.Builder
	g.write(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return target.Result{}, err
	}
	return target.Result{Stats: g.stats, Notes: g.notes}, nil
}

// PortChunks splits a port set into lists for -m multiport of at most max
// ports each (a range counts as two), written as iptables writes them.
func PortChunks(ps model.PortSet, max int) [][]string {
	var out [][]string
	var cur []string
	n := 0
	for _, r := range ps.Ranges() {
		w, s := 1, fmt.Sprint(r.Lo)
		if r.Hi != r.Lo {
			w, s = 2, fmt.Sprintf("%d:%d", r.Lo, r.Hi)
		}
		if n+w > max {
			out = append(out, cur)
			cur, n = nil, 0
		}
		cur = append(cur, s)
		n += w
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// portMatch writes the port match of one chunk; lists counts it when it
// is a multiport list.
func portMatch(proto, dir string, chunk []string, lists *[]int) string {
	if len(chunk) == 1 {
		return fmt.Sprintf("-m %s --%s %s", proto, dir, chunk[0])
	}
	*lists = append(*lists, len(chunk))
	return fmt.Sprintf("-m multiport --%ss %s", dir, strings.Join(chunk, ","))
}

func prefixArg(p netip.Prefix) string { return p.Masked().String() }

func (g *gen) rule(r *policy.Rule) error {
	m := r.Match
	src, dst := m.SrcAddrs(), m.DstAddrs()
	if !m.AnySrc() && len(src) == 0 || !m.AnyDst() && len(dst) == 0 {
		var names []string
		for _, n := range append(append([]resolve.NameAddrs{}, m.SrcNames...), m.DstNames...) {
			names = append(names, n.Name)
		}
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: IPv%d %s rule: %s have no IPv%d address yet; regenerate once they resolve", target.FlowRef(r.Flow), m.Family, r.Hook, strings.Join(names, ", "), m.Family))
		return nil
	}
	if m.AnySrc() {
		src = []netip.Prefix{{}}
	}
	if m.AnyDst() {
		dst = []netip.Prefix{{}}
	}
	schunks := [][]string{nil}
	if !m.SrcPorts.Empty() {
		schunks = PortChunks(m.SrcPorts, MultiportMax)
	}
	ref := target.RuleComment(r)
	chain := chainOf[r.Hook]
	comments := flowComments(g.in, r)
	post := "-j ACCEPT"
	if r.Hook == policy.Prerouting {
		post = "-j DNAT --to-destination " + r.DNAT.String()
	}
	for _, s := range src {
		for _, d := range dst {
			for _, sc := range schunks {
				pre := []string{"-A", chain}
				if m.IIf != "" {
					pre = append(pre, "-i", m.IIf)
				}
				if m.OIf != "" {
					pre = append(pre, "-o", m.OIf)
				}
				if s.IsValid() {
					pre = append(pre, "-s", prefixArg(s))
				}
				if d.IsValid() {
					pre = append(pre, "-d", prefixArg(d))
				}
				pre = append(pre, "-p", m.Proto)
				if sc != nil {
					var lists []int
					pre = append(pre, portMatch(m.Proto, "sport", sc, &lists))
				}
				l := &line{comments: comments, pre: pre, proto: m.Proto, dport: m.DstPorts, post: post, refs: []string{ref}}
				if same, ok := g.index[l.key()]; ok {
					// Another flow's rule to the same hosts: one rule, the
					// ports of both.
					same.dport = same.dport.Union(m.DstPorts)
					if !slices.Contains(same.refs, ref) {
						same.refs = append(same.refs, ref)
					}
					for _, c := range comments {
						if !slices.Contains(same.comments, c) {
							same.comments = append(same.comments, c)
						}
					}
					continue
				}
				g.index[l.key()] = l
				g.rules[r.Hook] = append(g.rules[r.Hook], l)
			}
		}
	}
	return nil
}

func flowComments(in *target.Input, r *policy.Rule) []string {
	f := r.Flow
	head := fmt.Sprintf("%s (%s %s, %s", target.FlowRef(f), f.Direction, f.Proto, f.Necessity)
	if f.Feature != "" {
		head += ", feature " + f.Feature
	}
	head += "): " + f.Purpose
	out := target.Wrap("# ", head, 100)
	if f.OneOf && len(f.PortOrder) > 1 {
		var order []string
		for _, p := range f.PortOrder {
			order = append(order, p.String())
		}
		if in.Options.AllAlternatives {
			out = append(out, "# one of "+strings.Join(order, ", ")+" is enough; every one is open (--alternatives all)")
		} else {
			out = append(out, "# one of "+strings.Join(order, ", ")+" is enough; the preferred "+order[0]+" is open (--alternatives all opens every one)")
		}
	}
	if r.Hook == policy.Prerouting {
		out = append(out, fmt.Sprintf("# port forward to the %s at %s, ports unchanged", f.Local, r.DNAT))
	}
	var names []string
	for _, n := range append(append([]resolve.NameAddrs{}, r.Match.SrcNames...), r.Match.DstNames...) {
		names = append(names, n.Name)
	}
	if len(names) > 0 {
		out = append(out, "# addresses of "+strings.Join(names, ", ")+" as resolved at generation; regenerate to refresh")
	}
	return out
}

func (g *gen) hooks() []policy.Hook {
	if g.in.Site.Mode == policy.Host {
		return []policy.Hook{policy.Input, policy.Output}
	}
	return []policy.Hook{policy.Forward}
}

func (g *gen) write(b *strings.Builder) {
	in := g.in
	standalone := !in.Options.ChainOnly
	restore := g.t.Name() + "-restore"
	for _, l := range in.Header(fmt.Sprintf("portolan rules for %s (IPv%d), for %s --noflush", g.t.Name(), g.t.Family, restore)) {
		comment(b, l)
	}
	b.WriteString("#\n")
	other := "ip6tables"
	if g.t.Family == 6 {
		other = "iptables"
	}
	comment(b, fmt.Sprintf("Load with %s --noflush < FILE. Declaring a chain empties it, so the chains PORTOLAN-* are replaced whole on every load, each table in one commit, and no other chain is touched. The IPv%d rules come from --target %s.", restore, 10-g.t.Family, other))
	hooks := g.hooks()
	nat := in.Site.Mode == policy.Gateway && len(g.rules[policy.Prerouting]) > 0
	if standalone {
		var owned []string
		for _, h := range hooks {
			owned = append(owned, "filter "+builtinOf[h])
		}
		if nat {
			owned = append(owned, "nat PREROUTING")
		}
		comment(b, fmt.Sprintf("Standalone policy: iptables-restore cannot add a jump only when it is missing, so this file owns the built-in chains of its hooks (%s): it empties them, sets the filter chains' policy to DROP and jumps from each to its PORTOLAN chain. Loading it again gives the same chains, not a second jump. Rules of yours in those built-in chains go; user-defined chains and other tables stay, but lose any jump from them. To keep your own built-in chains, use --chain-only.", strings.Join(owned, ", ")))
	} else {
		comment(b, "Chains only: no built-in chain is touched. Hook them in once, after your rule that accepts established and related packets (a jump added twice does no harm, but the check keeps it single):")
		for _, h := range hooks {
			comment(b, fmt.Sprintf("  %s -C %s -j %s 2>/dev/null || %s -A %s -j %s", g.t.Name(), builtinOf[h], chainOf[h], g.t.Name(), builtinOf[h], chainOf[h]))
		}
		if in.Site.Mode == policy.Gateway {
			comment(b, fmt.Sprintf("  %s -t nat -C PREROUTING -j %s 2>/dev/null || %s -t nat -I PREROUTING -j %s", g.t.Name(), ChainPrerouting, g.t.Name(), ChainPrerouting))
		}
	}
	if in.Site.Mode == policy.Host && g.t.Family == 6 {
		comment(b, "ICMPv6: neighbour discovery (hop limit 255) and link-local MLD pass both ways, since conntrack does not track them; errors about accepted flows (packet too big for path MTU discovery, unreachable, time exceeded) pass as RELATED.")
	} else {
		comment(b, "ICMP: errors about accepted flows (unreachable, fragmentation needed or packet too big for path MTU discovery, time exceeded) pass as RELATED; neighbour discovery is link-local and never forwarded. No echo request: no flow needs it.")
	}
	g.writeConstraints(b)
	if len(g.notes) > 0 {
		b.WriteString("#\n# Not in the rules, and why:\n")
		for _, n := range g.notes {
			for _, l := range target.Wrap("#   ", n, 100) {
				b.WriteString(l + "\n")
			}
		}
	}
	b.WriteString("\n*filter\n")
	for _, h := range hooks {
		if standalone {
			fmt.Fprintf(b, ":%s DROP [0:0]\n", builtinOf[h])
		}
	}
	for _, h := range hooks {
		fmt.Fprintf(b, ":%s - [0:0]\n", chainOf[h])
	}
	if standalone {
		for _, h := range hooks {
			fmt.Fprintf(b, "-F %s\n-A %s -j %s\n", builtinOf[h], builtinOf[h], chainOf[h])
		}
	}
	for _, h := range hooks {
		c := chainOf[h]
		if standalone {
			fmt.Fprintf(b, "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment \"replies and related ICMP errors of accepted flows\" -j ACCEPT\n", c)
			fmt.Fprintf(b, "-A %s -m conntrack --ctstate INVALID -j DROP\n", c)
			switch h {
			case policy.Input:
				fmt.Fprintf(b, "-A %s -i lo -j ACCEPT\n", c)
			case policy.Output:
				fmt.Fprintf(b, "-A %s -o lo -j ACCEPT\n", c)
			}
			if g.t.Family == 6 {
				for _, l := range icmp6(h, c) {
					b.WriteString(l + "\n")
				}
			}
		}
		g.writeLines(b, g.rules[h])
	}
	b.WriteString("COMMIT\n")
	if in.Site.Mode != policy.Gateway {
		return
	}
	b.WriteString("\n*nat\n")
	fmt.Fprintf(b, ":%s - [0:0]\n", ChainPrerouting)
	if standalone && nat {
		fmt.Fprintf(b, "-F PREROUTING\n-A PREROUTING -j %s\n", ChainPrerouting)
	}
	g.writeLines(b, g.rules[policy.Prerouting])
	b.WriteString("COMMIT\n")
}

func (g *gen) writeLines(b *strings.Builder, ls []*line) {
	var last []string
	for _, l := range ls {
		if !slices.Equal(l.comments, last) {
			for _, c := range l.comments {
				b.WriteString(c + "\n")
			}
			last = l.comments
		}
		for _, r := range l.rules(&g.stats) {
			b.WriteString(r + "\n")
		}
	}
}

// icmp6 is what a host needs of ICMPv6 that conntrack does not track.
func icmp6(h policy.Hook, chain string) []string {
	switch h {
	case policy.Input:
		var out []string
		for _, t := range []string{"neighbour-solicitation", "neighbour-advertisement", "router-advertisement", "redirect"} {
			out = append(out, fmt.Sprintf("-A %s -p ipv6-icmp -m icmp6 --icmpv6-type %s -m hl --hl-eq 255 -j ACCEPT", chain, t))
		}
		for _, t := range []string{"130", "131", "132", "143"} {
			out = append(out, fmt.Sprintf("-A %s -s fe80::/10 -p ipv6-icmp -m icmp6 --icmpv6-type %s -j ACCEPT", chain, t))
		}
		return out
	case policy.Output:
		var out []string
		for _, t := range []string{"neighbour-solicitation", "neighbour-advertisement", "router-solicitation", "131", "132", "143"} {
			out = append(out, fmt.Sprintf("-A %s -p ipv6-icmp -m icmp6 --icmpv6-type %s -j ACCEPT", chain, t))
		}
		return out
	}
	return nil
}

func (g *gen) writeConstraints(b *strings.Builder) {
	if len(g.in.Constraints) == 0 {
		return
	}
	b.WriteString("#\n# Constraints that are not ports, and what they mean for iptables:\n")
	for _, c := range g.in.Constraints {
		for _, l := range target.Wrap("#   ", target.ConstraintRef(c)+": "+g.action(c), 100) {
			b.WriteString(l + "\n")
		}
	}
}

func (g *gen) action(c resolve.Constraint) string {
	switch c.Kind {
	case model.KindALGOff:
		return fmt.Sprintf("%s — these rules attach no conntrack helper (no -j CT --helper in the raw table), so the kernel's %s helpers stay off for these flows; check with %s-save -t raw | grep helper.", c.Purpose, strings.Join(c.Apps, "/"), g.t.Name())
	case model.KindNATTimeout:
		d, err := target.MinTimeout(c)
		if err != nil {
			return c.Purpose
		}
		proto := "udp"
		if len(c.Proto) > 0 {
			proto = c.Proto[0]
		}
		un, rep := int(max(d, 30*time.Second)/time.Second), int(max(d, 180*time.Second)/time.Second)
		return fmt.Sprintf("%s — iptables sets a per-flow timeout only with conntrack-tools (nfct add timeout portolan-%s inet %s unreplied %d replied %d, then -t raw -A PREROUTING -p %s --dport %s -j CT --timeout portolan-%s); without them: sysctl -w net.netfilter.nf_conntrack_%s_timeout=%d net.netfilter.nf_conntrack_%s_timeout_stream=%d (every %s flow of the machine). Keep-alives every %s.",
			c.Purpose, c.ID, proto, un, rep, proto, strings.ReplaceAll(strings.Join(c.Ports, ","), "-", ":"), c.ID, proto, un, proto, rep, proto, c.Keepalive)
	case model.KindTLSMin:
		return fmt.Sprintf("%s — iptables does not see TLS versions; a TLS-inspecting proxy or firewall on the path must not negotiate below TLS %s on ports %s.", c.Purpose, c.MinVersion, strings.Join(c.Ports, ", "))
	case model.KindSSLInspectionOff:
		return fmt.Sprintf("%s — exempt %s from inspection on your proxy (portolan rules --target squid writes ssl_bump splice for them).", c.Purpose, target.Hosts(c))
	case model.KindProxyAuth:
		return fmt.Sprintf("%s — a web proxy on the path must offer %s authentication for these flows.", c.Purpose, strings.Join(c.Allowed, " or "))
	case model.KindAllowByName:
		return fmt.Sprintf("%s — iptables matches addresses: the names are resolved at generation (see the comments above the rules); regenerate and load again when they change, or use nftables and portolan sync.", c.Purpose)
	case model.KindNoInbound:
		return fmt.Sprintf("%s — no port forward and no inbound accept for %s.", c.Purpose, c.Service)
	case model.KindViaProxy:
		return fmt.Sprintf("%s — meant for the web proxy (portolan rules --target squid).", c.Purpose)
	case model.KindDynamicSrcPorts:
		return fmt.Sprintf("%s — no rule here matches a source port.", c.Purpose)
	case model.KindSetting:
		return "not a network setting: " + c.Purpose
	}
	return c.Purpose
}

func comment(b *strings.Builder, text string) {
	if strings.HasPrefix(text, "  ") {
		b.WriteString("#" + text + "\n")
		return
	}
	for _, l := range target.Wrap("# ", text, 100) {
		b.WriteString(l + "\n")
	}
}
