// Package nftables writes the policy as an nftables ruleset for `nft -f`.
//
// Standalone (the default), everything lives in one table, inet portolan,
// which the file replaces whole in one transaction: it starts with
// "table inet portolan {}" and "delete table inet portolan", then defines
// the table again, so loading it twice is loading it once and no other
// table is touched. Base chains drop what they do not accept; port
// forwards are DNAT rules in a nat chain of the same table.
//
// With --chain-only, regular chains (portolan_forward…) and sets go into a
// table of the administrator's (nftables jumps only within a table),
// replaced in one transaction as well; their jump rules are the
// administrator's.
//
// Every host set of a service becomes a named set per address family
// (starleaf_tunnel_v4), so that `portolan sync` refreshes the addresses of
// DNS names with "flush set" and "add element" without touching a rule.
package nftables

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

func init() { target.Register(Target{}) }

// Target is the nftables target.
type Target struct{}

// Name is "nftables".
func (Target) Name() string { return "nftables" }

// Synopsis describes the output.
func (Target) Synopsis() string {
	return "nftables ruleset for nft -f: table inet portolan, or chains for your table with --chain-only"
}

// Resolves is true: names become addresses in named sets.
func (Target) Resolves() bool { return true }

// CommentMax is the longest comment nftables keeps (NFTNL_UDATA_COMMENT_MAXLEN).
const CommentMax = 128

// StandaloneTable is the table of a standalone ruleset.
const StandaloneTable = "portolan"

// Layout says where a ruleset's objects live: the table, and the prefix
// of the names of its chains, sets and objects.
type Layout struct {
	Family, Table string
	Prefix        string // "" standalone, "portolan_" in someone else's table
	ChainOnly     bool
}

// LayoutOf returns the layout the options ask for.
func LayoutOf(o target.Options) (Layout, error) {
	if !o.ChainOnly {
		return Layout{Family: "inet", Table: StandaloneTable}, nil
	}
	fam, name, err := target.ParseTable(o.Table)
	if err != nil {
		return Layout{}, err
	}
	return Layout{Family: fam, Table: name, Prefix: "portolan_", ChainOnly: true}, nil
}

// SetName is the name of the named set of s in this layout.
func (l Layout) SetName(s *target.AddrSet) string { return l.name(s.Key()) }

// name prefixes an object's name; nft identifiers start with a letter or
// "_", so a service slug such as 8x8 gets a "_" in the standalone layout.
func (l Layout) name(s string) string {
	s = l.Prefix + s
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		s = "_" + s
	}
	return s
}

// Takes reports whether the layout's table holds rules of family fam.
func (l Layout) Takes(fam int) bool {
	switch l.Family {
	case "ip":
		return fam == 4
	case "ip6":
		return fam == 6
	}
	return true
}

func (l Layout) ref() string { return l.Family + " " + l.Table }

// chain is one chain of the output.
type chain struct {
	name  string
	base  string // "type filter hook forward priority filter; policy drop;" or "" for a regular chain
	intro []string
	rules []rule
}

// rule is one rule with the comments above it. A rule that matches no
// address at all stands for one family only through "meta nfproto",
// unless an identical rule of the other family lets it stand for both.
type rule struct {
	comments     []string
	head         []string // interfaces and addresses
	proto        string
	sport, dport model.PortSet
	stmts        []string // ct timeout set …
	verdict      string   // accept, dnat ip to …
	refs         []string // the flows it stands for: "starleaf/tunnel-udp 000_….txt:16"
	comment      string   // refs as the rule's comment says them
	famFree      bool
	family       int
}

// key is the rule without its destination ports and comment: rules of
// the same key differ only in ports and are written as one.
func (r rule) key() string {
	return fmt.Sprint(r.family) + "|" + strings.Join(r.head, " ") + "|" + r.proto + "|" + r.sport.String() + "|" + strings.Join(r.stmts, " ") + "|" + r.verdict
}

// match is the rule without its comment.
func (r rule) match() string {
	parts := slices.Clone(r.head)
	if !r.sport.Empty() {
		parts = append(parts, r.proto+" sport "+portExpr(r.sport))
	}
	parts = append(parts, r.proto+" dport "+portExpr(r.dport))
	parts = append(parts, r.stmts...)
	parts = append(parts, "counter", r.verdict)
	return strings.Join(parts, " ")
}

func (r rule) text() string {
	return r.match() + fmt.Sprintf(" comment %q", r.comment)
}

// timeout is a ct timeout object of the ruleset.
type timeout struct {
	target.Timeout
	name string
}

type gen struct {
	in     *target.Input
	lay    Layout
	sets   target.SetIndex
	chains map[policy.Hook]*chain
	order  []policy.Hook
	tos    []*timeout
	stats  target.Stats
	notes  []string
	index  target.RefIndex
}

// Write writes the ruleset.
func (Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	g, err := build(in)
	if err != nil {
		return target.Result{}, err
	}
	var b strings.Builder
	g.write(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return target.Result{}, err
	}
	return target.Result{Stats: g.stats, Notes: g.notes}, nil
}

// Sets returns the named sets a ruleset for in holds, named as in the
// ruleset, for `portolan sync`.
func Sets(in *target.Input) (Layout, map[string]*target.AddrSet, error) {
	g, err := build(in)
	if err != nil {
		return Layout{}, nil, err
	}
	out := map[string]*target.AddrSet{}
	for _, s := range g.sets.Sets() {
		out[g.lay.SetName(s)] = s
	}
	return g.lay, out, nil
}

func build(in *target.Input) (*gen, error) {
	lay, err := LayoutOf(in.Options)
	if err != nil {
		return nil, err
	}
	g := &gen{in: in, lay: lay, chains: map[policy.Hook]*chain{}}
	g.notes = in.Notes()
	g.setupChains()
	if err := g.timeouts(); err != nil {
		return nil, err
	}
	for i := range in.Rules {
		if err := g.rule(&in.Rules[i]); err != nil {
			return nil, err
		}
	}
	g.mergePorts()
	g.mergeTwins()
	for _, h := range g.order {
		for i := range g.chains[h].rules {
			r := &g.chains[h].rules[i]
			r.comment = g.index.Comment(r.refs, CommentMax)
			g.stats.Rules++
			if strings.HasPrefix(r.verdict, "dnat") {
				g.stats.DNAT++
			}
			for _, ps := range []model.PortSet{r.sport, r.dport} {
				if n := len(ps.Ranges()); n > 1 {
					g.stats.PortSets++
					g.stats.Ports += n
				}
			}
		}
	}
	for _, s := range g.sets.Sets() {
		g.stats.Sets++
		g.stats.Elements += len(target.Elements(s.IPSet()))
	}
	return g, nil
}

func (g *gen) chainName(h policy.Hook) string {
	if g.lay.ChainOnly {
		return g.lay.Prefix + string(h)
	}
	return string(h)
}

// setupChains makes the chains of the mode, with what a standalone policy
// needs before the flows: conntrack state, loopback, ICMP.
func (g *gen) setupChains() {
	add := func(h policy.Hook, base string, intro ...string) {
		g.chains[h] = &chain{name: g.chainName(h), base: base, intro: intro}
		g.order = append(g.order, h)
	}
	standalone := !g.lay.ChainOnly
	state := []string{
		"ct state established,related accept comment \"replies and related ICMP errors (path MTU) of accepted flows\"",
		"ct state invalid drop",
	}
	if g.in.Site.Mode == policy.Host {
		if !standalone {
			add(policy.Input, "")
			add(policy.Output, "")
			return
		}
		in := append([]string{}, state...)
		in = append(in, "iif \"lo\" accept")
		in = append(in, g.icmpInput()...)
		out := append([]string{}, state...)
		out = append(out, "oif \"lo\" accept")
		out = append(out, g.icmpOutput()...)
		add(policy.Input, "type filter hook input priority filter; policy drop;", in...)
		add(policy.Output, "type filter hook output priority filter; policy drop;", out...)
		return
	}
	if !standalone {
		add(policy.Forward, "")
		add(policy.Prerouting, "")
		return
	}
	add(policy.Forward, "type filter hook forward priority filter; policy drop;", state...)
	add(policy.Prerouting, "type nat hook prerouting priority dstnat; policy accept;")
}

// icmpInput accepts what a host needs to keep IPv6 working: neighbour
// discovery, router advertisements and MLD (RFC 4890 4.4.1), which
// conntrack does not track; ICMP errors about accepted flows come in as
// related.
func (g *gen) icmpInput() []string {
	var out []string
	if g.lay.Takes(6) {
		out = append(out,
			"icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, nd-redirect } ip6 hoplimit 255 accept comment \"IPv6 neighbour discovery (RFC 4861: hop limit 255, never routed)\"",
			"icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } ip6 saddr fe80::/10 accept comment \"MLD, link-local only, so that snooping switches keep delivering ND multicast\"",
		)
	}
	return out
}

// icmpOutput lets the host send its own neighbour discovery and MLD.
func (g *gen) icmpOutput() []string {
	var out []string
	if g.lay.Takes(6) {
		out = append(out,
			"icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept comment \"IPv6 neighbour discovery\"",
			"icmpv6 type { mld-listener-report, mld-listener-done, mld2-listener-report } accept comment \"MLD reports\"",
		)
	}
	return out
}

// timeouts makes a ct timeout object for each nat-timeout constraint and
// protocol, so that the bindings of its flows live as long as the service
// needs, whatever the machine's defaults.
func (g *gen) timeouts() error {
	ts, err := target.Timeouts(g.in.Constraints...)
	if err != nil {
		return err
	}
	for _, t := range ts {
		name := g.lay.name(t.C.Service + "_" + t.C.ID)
		if len(t.C.Proto) > 1 {
			name += "_" + t.Proto
		}
		g.tos = append(g.tos, &timeout{Timeout: t, name: name})
	}
	return nil
}

func (g *gen) timeoutFor(r *policy.Rule) *timeout {
	if r.Hook == policy.Prerouting {
		return nil
	}
	for _, t := range g.tos {
		if t.Proto == r.Match.Proto && g.in.ConstraintApplies(t.C, r.Flow) {
			return t
		}
	}
	return nil
}

func famKW(fam int) string {
	if fam == 6 {
		return "ip6"
	}
	return "ip"
}

// addrExpr writes prefixes as one value or an anonymous set.
func addrExpr(ps []netip.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return "{ " + strings.Join(out, ", ") + " }"
}

// portExpr writes a port set as one value or an anonymous set.
func portExpr(ps model.PortSet) string {
	rs := ps.Strings()
	if len(rs) == 1 {
		return rs[0]
	}
	return "{ " + strings.Join(rs, ", ") + " }"
}

func (g *gen) rule(r0 *policy.Rule) error {
	r := r0
	fam := r.Match.Family
	if !g.lay.Takes(fam) {
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: IPv%d rules do not fit table %s (use an inet table)", target.FlowRef(r.Flow), fam, g.lay.ref()))
		return nil
	}
	ch := g.chains[r.Hook]
	if ch == nil {
		return fmt.Errorf("%s: no chain for hook %s in %s mode", target.FlowRef(r.Flow), r.Hook, g.in.Site.Mode)
	}
	sets, err := g.in.Remote(r)
	if err != nil {
		return err
	}
	_, _, remoteAny := target.RemoteSide(r)
	kw := famKW(fam)
	comments := g.flowComments(r)
	m := r.Match
	var head []string
	if m.IIf != "" {
		head = append(head, fmt.Sprintf("iifname %q", m.IIf))
	}
	if m.OIf != "" {
		head = append(head, fmt.Sprintf("oifname %q", m.OIf))
	}
	outbound := target.IsOutbound(r)
	if local := target.LocalSide(r); len(local) > 0 {
		dir := "daddr"
		if outbound {
			dir = "saddr"
		}
		head = append(head, kw+" "+dir+" "+addrExpr(local))
	}
	base := rule{comments: comments, head: head, proto: m.Proto, sport: m.SrcPorts, dport: m.DstPorts,
		verdict: "accept", refs: []string{target.RuleComment(r)}, family: fam}
	if t := g.timeoutFor(r); t != nil {
		base.stmts = append(base.stmts, fmt.Sprintf("ct timeout set %q", t.name))
	}
	if r.Hook == policy.Prerouting {
		base.verdict = fmt.Sprintf("dnat %s to %s", kw, r.DNAT)
	}
	remoteDir := "saddr"
	if outbound {
		remoteDir = "daddr"
	}
	if remoteAny {
		if len(target.LocalSide(r0)) == 0 && g.lay.Family == "inet" {
			if r0.Hook == policy.Prerouting {
				base.head = append(slices.Clone(base.head), "meta nfproto ipv"+fmt.Sprint(fam))
			} else {
				base.famFree = true
			}
		}
		ch.rules = append(ch.rules, base)
		return nil
	}
	// Every set's rule keeps the flow's comments (written once above a
	// run of rules that share them): a rule that another flow joins later
	// must still say what this flow is.
	for _, s := range sets {
		s, err := g.sets.Add(s)
		if err != nil {
			return err
		}
		r := base
		r.head = append(slices.Clone(head), fmt.Sprintf("%s %s @%s", kw, remoteDir, g.lay.SetName(s)))
		ch.rules = append(ch.rules, r)
	}
	return nil
}

// flowComments are the lines above a flow's rules: the flow, then what
// nftables does about its constraints.
func (g *gen) flowComments(r *policy.Rule) []string {
	out := g.in.FlowComments(r)
	if r.Hook == policy.Prerouting {
		return out
	}
	for _, c := range g.in.Constraints {
		if c.Kind == model.KindALGOff && g.in.ConstraintApplies(c, r.Flow) {
			out = append(out, "# "+target.OneLine("no conntrack helper (ALG) for "+strings.Join(c.Apps, ", ")+": nothing in this ruleset assigns one ("+c.Service+"/"+c.ID+")"))
		}
	}
	if t := g.timeoutFor(r); t != nil {
		out = append(out, "# "+target.OneLine(fmt.Sprintf("%s binding kept %s unreplied, %s replied by ct timeout %s (%s/%s)", t.Proto, secs(t.Unreplied), secs(t.Replied), t.name, t.C.Service, t.C.ID)))
	}
	return out
}

func secs(d time.Duration) string { return fmt.Sprintf("%ds", int(d/time.Second)) }

// mergePorts writes rules that differ only in their destination ports
// as one rule with the ports of all, naming all their flows: a profile
// often has a flow per port to the same hosts (STARFACE's license server
// on 80, 443 and 8383), or two flows for the same packets (its overview
// and its scenarios). The union is exactly what the rules accepted. A
// rule moves up to the one it joins only past rules of the same verdict,
// so that the first port forward that matches a packet stays the first.
func (g *gen) mergePorts() {
	for _, h := range g.order {
		ch := g.chains[h]
		var out []rule
		// first holds rules of one verdict only, verdict: a rule of
		// another verdict starts it afresh.
		first := map[string]int{}
		verdict := ""
		blocks := map[int]*target.Comments{}
		hasRef := map[int]map[string]bool{}
		for _, r := range ch.rules {
			if r.verdict != verdict {
				first, verdict = map[string]int{}, r.verdict
			}
			if i, ok := first[r.key()]; ok {
				k := &out[i]
				k.dport = k.dport.Union(r.dport)
				if hasRef[i] == nil {
					hasRef[i] = map[string]bool{}
					for _, ref := range k.refs {
						hasRef[i][ref] = true
					}
				}
				for _, ref := range r.refs {
					if !hasRef[i][ref] {
						hasRef[i][ref] = true
						k.refs = append(k.refs, ref)
					}
				}
				if blocks[i] == nil {
					blocks[i] = target.NewComments(k.comments)
				}
				blocks[i].Add(r.comments)
				continue
			}
			first[r.key()] = len(out)
			r.comments = slices.Clone(r.comments)
			out = append(out, r)
		}
		for i, c := range blocks {
			out[i].comments = c.Lines()
		}
		ch.rules = out
	}
}

// mergeTwins writes a rule that matches no address once for both
// families instead of twice, and gives the others their family.
func (g *gen) mergeTwins() {
	for _, h := range g.order {
		ch := g.chains[h]
		// last finds, per rule without addresses and family, the last
		// such rule of the same match, flows and comments.
		type twinKey struct {
			text   string
			family int
		}
		keyOf := func(r rule) string {
			return r.match() + "\x00" + strings.Join(r.refs, "\x00") + "\x00" + strings.Join(r.comments, "\x00")
		}
		last := map[twinKey]int{}
		keys := make([]string, len(ch.rules))
		for i, r := range ch.rules {
			if r.famFree {
				keys[i] = keyOf(r)
				last[twinKey{keys[i], r.family}] = i
			}
		}
		var out []rule
		for i, r := range ch.rules {
			if !r.famFree {
				out = append(out, r)
				continue
			}
			twin, ok := last[twinKey{keys[i], 10 - r.family}]
			if !ok {
				twin = -1
			}
			switch {
			case twin >= 0 && twin < i:
				continue // written once, with the first
			case twin < 0 && g.lay.Family == "inet":
				r.head = append(slices.Clone(r.head), "meta nfproto ipv"+fmt.Sprint(r.family))
			}
			out = append(out, r)
		}
		ch.rules = out
	}
}

func (g *gen) write(b *strings.Builder) {
	in := g.in
	lay := g.lay
	b.WriteString("#!/usr/sbin/nft -f\n")
	in.WriteHeader(b, "portolan rules for nftables")
	b.WriteString("#\n")
	if lay.ChainOnly {
		writeComment(b, "", fmt.Sprintf("Chains only: regular chains and sets named portolan_* in table %s, no policy, no hooks. nftables jumps only within a table, so they go into yours. Load with nft -f FILE: one transaction declares them, empties them and fills them again; nothing else in the table changes (sets that an older version made and this one does not stay behind).", lay.ref()))
		for _, h := range g.order {
			switch h {
			case policy.Forward:
				writeComment(b, "", fmt.Sprintf("Jump from your forward chain, after your ct state established,related accept: jump %s", g.chains[h].name))
			case policy.Prerouting:
				writeComment(b, "", fmt.Sprintf("Port forwards: jump %s from a chain of this table with type nat hook prerouting priority dstnat.", g.chains[h].name))
			case policy.Input, policy.Output:
				writeComment(b, "", fmt.Sprintf("Jump from your %s chain, after your ct state established,related accept: jump %s", h, g.chains[h].name))
			}
		}
	} else {
		writeComment(b, "", "Load with nft -f FILE. The file replaces table inet portolan whole, in one transaction, and touches no other table. Standalone policy: the base chains below drop every packet they do not accept; in nftables a drop in any base chain is final, so this decides for its hooks whatever other tables accept.")
		if in.Site.Mode == policy.Host {
			writeComment(b, "", "Host mode: input and output drop what is not listed: loopback, replies, IPv6 neighbour discovery and MLD pass; nothing else (no SSH, DHCP or DNS unless a flow asks for it). Use --chain-only to fit into a policy of your own.")
		} else {
			writeComment(b, "", "Gateway mode: only the forward path is filtered; the router's own input and output are not touched, nor is source NAT (masquerade) of outbound flows, which stays in your ruleset.")
		}
	}
	writeComment(b, "", "ICMP: errors about accepted flows (destination unreachable, fragmentation needed and packet too big for path MTU discovery, time exceeded) pass as ct state related. Neighbour discovery and MLD are link-local: a router never forwards them, and host mode accepts them explicitly (hop limit 255 for ND). No echo request: no flow needs it.")
	if l := in.SyncLine(); l != "" {
		writeComment(b, "", "Refresh the names' addresses in place (elements only, in one transaction; rules, handles and counters stay) from cron or a timer with this command, one line:")
		b.WriteString(l + "\n")
	}
	in.WriteConstraints(b, "nftables", g.action)
	target.WriteNotes(b, g.notes)
	g.index.Write(b)
	b.WriteString("\n")
	if lay.ChainOnly {
		g.writeChainOnly(b)
		return
	}
	fmt.Fprintf(b, "table %s {}\ndelete table %s\n\n", lay.ref(), lay.ref())
	fmt.Fprintf(b, "table %s {\n", lay.ref())
	g.writeObjects(b)
	for _, h := range g.order {
		ch := g.chains[h]
		if h == policy.Prerouting && len(ch.rules) == 0 {
			continue
		}
		g.writeChain(b, ch)
	}
	b.WriteString("}\n")
}

func (g *gen) writeChainOnly(b *strings.Builder) {
	lay := g.lay
	// Declare everything (a no-op for what exists), empty the chains, which
	// drops their references to the sets and timeouts, delete those and
	// define them again: the declarations make every delete succeed, and
	// the one transaction makes the change atomic.
	fmt.Fprintf(b, "table %s {\n", lay.ref())
	for _, t := range g.tos {
		fmt.Fprintf(b, "\tct timeout %s { protocol %s; policy = { %s }; }\n", t.name, t.Proto, timeoutPolicy(t))
	}
	for _, s := range g.sets.Sets() {
		fmt.Fprintf(b, "\tset %s { type %s; flags interval; }\n", lay.SetName(s), setType(s.Family))
	}
	for _, h := range g.order {
		fmt.Fprintf(b, "\tchain %s { }\n", g.chains[h].name)
	}
	b.WriteString("}\n")
	for _, h := range g.order {
		fmt.Fprintf(b, "flush chain %s %s\n", lay.ref(), g.chains[h].name)
	}
	for _, s := range g.sets.Sets() {
		fmt.Fprintf(b, "delete set %s %s\n", lay.ref(), lay.SetName(s))
	}
	for _, t := range g.tos {
		fmt.Fprintf(b, "delete ct timeout %s %s\n", lay.ref(), t.name)
	}
	fmt.Fprintf(b, "\ntable %s {\n", lay.ref())
	g.writeObjects(b)
	for _, h := range g.order {
		g.writeChain(b, g.chains[h])
	}
	b.WriteString("}\n")
}

func timeoutPolicy(t *timeout) string {
	if t.Proto == model.TCP {
		return fmt.Sprintf("established : %d", int(t.Replied/time.Second))
	}
	return fmt.Sprintf("unreplied : %d, replied : %d", int(t.Unreplied/time.Second), int(t.Replied/time.Second))
}

func setType(fam int) string {
	if fam == 6 {
		return "ipv6_addr"
	}
	return "ipv4_addr"
}

func (g *gen) writeObjects(b *strings.Builder) {
	for _, t := range g.tos {
		for _, l := range target.Wrap("\t# ", fmt.Sprintf("%s: %s Alternative for every flow of the machine: %s", target.ConstraintRef(t.C), t.C.Purpose, t.Sysctl()), 100) {
			b.WriteString(l + "\n")
		}
		fmt.Fprintf(b, "\tct timeout %s {\n\t\tprotocol %s\n\t\tpolicy = { %s }\n\t}\n\n", t.name, t.Proto, timeoutPolicy(t))
	}
	for _, s := range g.sets.Sets() {
		g.writeSet(b, s)
	}
}

func (g *gen) writeSet(b *strings.Builder, s *target.AddrSet) {
	entries := strings.Join(s.FamilyEntries(), ", ")
	if entries == "" && s.Feed != nil {
		entries = "its feed's addresses"
	}
	desc := fmt.Sprintf("%s host set %s, IPv%d: %s", s.Service, s.HostSet, s.Family, entries)
	if s.Dynamic() {
		desc += " — " + s.Resolved()
		var ns []string
		for _, n := range s.Names {
			if len(n.Answer.Addrs) == 0 {
				ns = append(ns, n.Name+" (no address yet)")
			}
		}
		if len(ns) > 0 {
			desc += "; " + strings.Join(ns, ", ")
		}
	}
	for _, l := range target.Wrap("\t# ", desc, 100) {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(b, "\tset %s {\n\t\ttype %s\n\t\tflags interval\n", g.lay.SetName(s), setType(s.Family))
	comment := strings.Join(s.FamilyEntries(), ", ")
	if s.Dynamic() {
		if comment != "" {
			comment += "; "
		}
		comment += s.Resolved()
	}
	fmt.Fprintf(b, "\t\tcomment %q\n", target.Quotable(comment, CommentMax))
	if els := ElementList(s); len(els) > 0 {
		b.WriteString("\t\telements = {\n")
		for i, e := range els {
			sep := ","
			if i == len(els)-1 {
				sep = ""
			}
			fmt.Fprintf(b, "\t\t\t%s%s\n", e, sep)
		}
		b.WriteString("\t\t}\n")
	}
	b.WriteString("\t}\n\n")
}

// ElementList writes a set's elements for nft: merged ranges, as
// prefixes where they are, each address of a name with a comment naming
// it.
func ElementList(s *target.AddrSet) []string {
	set := s.IPSet()
	els := target.Elements(set)
	var out []string
	for i, r := range set.Ranges() {
		e := els[i]
		var names []string
		for _, n := range s.Names {
			for _, a := range n.Answer.Addrs {
				if r.Contains(a.Unmap()) && !slices.Contains(names, n.Name) {
					names = append(names, n.Name)
				}
			}
		}
		if len(names) > 0 {
			e += fmt.Sprintf(" comment %q", target.Quotable(strings.Join(names, ", "), CommentMax))
		}
		out = append(out, e)
	}
	return out
}

func (g *gen) writeChain(b *strings.Builder, ch *chain) {
	fmt.Fprintf(b, "\tchain %s {\n", ch.name)
	if ch.base != "" {
		fmt.Fprintf(b, "\t\t%s\n", ch.base)
	}
	for _, l := range ch.intro {
		fmt.Fprintf(b, "\t\t%s\n", l)
	}
	var last []string
	for _, r := range ch.rules {
		if !slices.Equal(r.comments, last) {
			for _, c := range r.comments {
				fmt.Fprintf(b, "\t\t%s\n", c)
			}
		}
		last = r.comments
		fmt.Fprintf(b, "\t\t%s\n", r.text())
	}
	b.WriteString("\t}\n")
}

// action says what constraint c means for nftables.
func (g *gen) action(c resolve.Constraint) string {
	switch c.Kind {
	case model.KindALGOff:
		return fmt.Sprintf("%s — nothing in this ruleset assigns a conntrack helper (no ct helper set), so the kernel's %s helpers stay off for these flows; since Linux 4.7 helpers attach only when a rule asks. Check that no other table assigns one: nft list ruleset | grep 'ct helper'.", c.Purpose, strings.Join(c.Apps, "/"))
	case model.KindNATTimeout:
		var objs []string
		for _, t := range g.tos {
			if t.C.Service == c.Service && t.C.ID == c.ID {
				objs = append(objs, fmt.Sprintf("ct timeout %s (%s: unreplied %s, replied %s)", t.name, t.Proto, secs(t.Unreplied), secs(t.Replied)))
			}
		}
		if len(objs) == 0 {
			return c.Purpose
		}
		return fmt.Sprintf("%s — %s is set on these flows' rules.%s", c.Purpose, strings.Join(objs, " and "), target.Keepalive(c))
	case model.KindAllowByName:
		return fmt.Sprintf("%s — the names are named sets below, filled at generation; portolan sync refreshes them.", c.Purpose)
	}
	return target.ConstraintAction(c, "nftables")
}

func writeComment(b *strings.Builder, indent, text string) {
	for _, l := range target.Wrap(indent+"# ", text, 100) {
		b.WriteString(l + "\n")
	}
}
