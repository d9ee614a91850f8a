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
	comments *target.Comments
	pre      []string // chain, interfaces, addresses, protocol, source ports
	proto    string
	dport    []model.PortRange // of every flow that joined, merged when written
	post     string            // -j …
	refs     []string
	hasRef   map[string]bool
	comment  string // refs as the rule's comment says them
}

func (l *line) key() string { return strings.Join(l.pre, " ") + "|" + l.post }

// rules writes the line's rules, and counts them and their port lists.
func (l *line) rules(st *target.Stats) []string {
	var out []string
	comment := l.comment
	for _, dc := range RangeChunks(mergeRanges(l.dport), MultiportMax) {
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
	// index finds, per chain, the line a rule with the same match and
	// verdict joins; a line stays there only while no line of another
	// verdict follows it, so that merging never lets a port forward
	// overtake another. It holds lines of one verdict only, indexPost:
	// a line of another verdict starts it afresh.
	index     map[policy.Hook]map[string]*line
	indexPost map[policy.Hook]string
	stats     target.Stats
	notes     []string
	refIndex  target.RefIndex
}

// Write writes the restore file.
func (t Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	g := &gen{t: t, in: in, rules: map[policy.Hook][]*line{}, index: map[policy.Hook]map[string]*line{}, indexPost: map[policy.Hook]string{}, notes: in.Notes()}
	other := 0
	for i := range in.Rules {
		r := &in.Rules[i]
		if r.Match.Family != t.Family {
			other++
			continue
		}
		if err := g.rule(r); err != nil {
			return target.Result{}, err
		}
	}
	if other > 0 {
		g.notes = append(g.notes, fmt.Sprintf("IPv%d: %d of the plan's rules are of that family; --target %s writes them", 10-t.Family, other, t.other()))
	}
	// Comments in the order the rules are written, so that the header's
	// index counts as a reader does.
	for _, h := range append(g.hooks(), policy.Prerouting) {
		for _, l := range g.rules[h] {
			l.comment = g.refIndex.Comment(l.refs, CommentMax)
		}
	}
	var b strings.Builder
	g.write(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return target.Result{}, err
	}
	return target.Result{Stats: g.stats, Notes: g.notes}, nil
}

// other is the target of the other family.
func (t Target) other() string { return Target{Family: 10 - t.Family}.Name() }

// PortChunks splits a port set into lists for -m multiport of at most max
// ports each (a range counts as two), written as iptables writes them.
func PortChunks(ps model.PortSet, max int) [][]string { return RangeChunks(ps.Ranges(), max) }

// mergeRanges sorts port ranges and merges those that overlap or touch,
// as a model.PortSet holds them, in one pass: a line that many flows
// joined is merged once, not once per flow.
func mergeRanges(rs []model.PortRange) []model.PortRange {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b model.PortRange) int { return int(a.Lo) - int(b.Lo) })
	var out []model.PortRange
	for _, r := range rs {
		if n := len(out); n > 0 && int(r.Lo) <= int(out[n-1].Hi)+1 {
			out[n-1].Hi = max(out[n-1].Hi, r.Hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// RangeChunks is PortChunks of sorted, disjoint ranges (ufw, which
// compiles its port lists into multiport matches, shares it).
func RangeChunks(rs []model.PortRange, max int) [][]string {
	var out [][]string
	var cur []string
	n := 0
	for _, r := range rs {
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
	comments := g.flowComments(r)
	post := "-j ACCEPT"
	if r.Hook == policy.Prerouting {
		post = "-j DNAT --to-destination " + r.DNAT.String()
	}
	index := g.index[r.Hook]
	if index == nil || g.indexPost[r.Hook] != post {
		// Lines of another verdict no longer take joiners: a rule joining
		// one would overtake the lines in between.
		index = map[string]*line{}
		g.index[r.Hook], g.indexPost[r.Hook] = index, post
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
				l := &line{pre: pre, proto: m.Proto, dport: slices.Clone(m.DstPorts.Ranges()), post: post, refs: []string{ref}}
				if same, ok := index[l.key()]; ok {
					// Another flow's rule to the same hosts: one rule, the
					// ports of both.
					same.dport = append(same.dport, m.DstPorts.Ranges()...)
					if !same.hasRef[ref] {
						if same.hasRef == nil {
							same.hasRef = map[string]bool{same.refs[0]: true}
						}
						same.hasRef[ref] = true
						same.refs = append(same.refs, ref)
					}
					same.comments.Add(comments)
					continue
				}
				l.comments = target.NewComments(comments)
				index[l.key()] = l
				g.rules[r.Hook] = append(g.rules[r.Hook], l)
			}
		}
	}
	return nil
}

// flowComments are the lines above a flow's rules.
func (g *gen) flowComments(r *policy.Rule) []string {
	out := g.in.FlowComments(r)
	names := &target.AddrSet{Names: append(slices.Clone(r.Match.SrcNames), r.Match.DstNames...)}
	if len(names.Names) > 0 {
		out = append(out, "# "+target.OneLine("addresses of "+strings.Join(names.NameList(), ", ")+" "+names.Resolved()+"; regenerate to refresh"))
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
	in.WriteHeader(b, fmt.Sprintf("portolan rules for %s (IPv%d), for %s --noflush", g.t.Name(), g.t.Family, restore))
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
	in.WriteConstraints(b, g.t.Name(), g.action)
	target.WriteNotes(b, g.notes)
	g.refIndex.Write(b)
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
		if cs := l.comments.Lines(); !slices.Equal(cs, last) {
			for _, c := range cs {
				b.WriteString(c + "\n")
			}
			last = cs
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

// action says what constraint c means for iptables.
func (g *gen) action(c resolve.Constraint) string {
	switch c.Kind {
	case model.KindALGOff:
		return fmt.Sprintf("%s — these rules attach no conntrack helper (no -j CT --helper in the raw table), so the kernel's %s helpers stay off for these flows; check with %s-save -t raw | grep helper.", c.Purpose, strings.Join(c.Apps, "/"), g.t.Name())
	case model.KindNATTimeout:
		return g.natTimeout(c)
	case model.KindAllowByName:
		return fmt.Sprintf("%s — iptables matches addresses: the names are resolved at generation (see the comments above the rules); regenerate and load again when they change, or use nftables and portolan sync.", c.Purpose)
	}
	return target.ConstraintAction(c, g.t.Name())
}

// natTimeout says how to give the flows of a nat-timeout constraint their
// conntrack timeout: a timeout policy of conntrack-tools attached in the
// raw table where their first packet passes (PREROUTING on a gateway,
// OUTPUT on the host), or the machine-wide sysctl.
func (g *gen) natTimeout(c resolve.Constraint) string {
	ts, err := target.Timeouts(c)
	if err != nil || len(ts) == 0 {
		return c.Purpose
	}
	raw, l3 := "PREROUTING", "inet"
	if g.in.Site.Mode == policy.Host {
		raw = "OUTPUT"
	}
	if g.t.Family == 6 {
		l3 = "inet6"
	}
	var tools, sysctl []string
	for _, t := range ts {
		name := "portolan-" + c.ID
		if len(ts) > 1 {
			name += "-" + t.Proto
		}
		pol := fmt.Sprintf("unreplied %d replied %d", int(t.Unreplied/time.Second), int(t.Replied/time.Second))
		if t.Proto == model.TCP {
			pol = fmt.Sprintf("established %d", int(t.Replied/time.Second))
		}
		ports := ""
		if len(c.Ports) > 0 {
			ports = " -m multiport --dports " + strings.ReplaceAll(strings.Join(c.Ports, ","), "-", ":")
		}
		tools = append(tools, fmt.Sprintf("nfct add timeout %s %s %s %s, then %s -t raw -A %s -p %s%s -j CT --timeout %s", name, l3, t.Proto, pol, g.t.Name(), raw, t.Proto, ports, name))
		sysctl = append(sysctl, t.Sysctl())
	}
	return fmt.Sprintf("%s — iptables sets a per-flow timeout only with conntrack-tools (%s); without them: %s (every flow of the machine).%s",
		c.Purpose, strings.Join(tools, "; "), strings.Join(sysctl, "; "), target.Keepalive(c))
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
