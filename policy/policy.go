// Package policy says, for concrete flows and a site, which packets the
// site's firewall must accept: per address family, hook, protocol, source
// and destination addresses and ports, and the port forwards inbound flows
// need. Rule generators compile it into a platform's syntax; the audit
// checks an existing ruleset against it. Both read flows the same way
// because both go through Plan.
package policy

import (
	"fmt"
	"net/netip"
	"slices"

	"go4.org/netipx"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/resolve"
)

// Mode is where the firewall stands.
type Mode string

// Modes.
const (
	// Gateway: a router between the site's LAN and the internet; outbound
	// flows are forwarded from the LAN, inbound ones are port forwards
	// (DNAT) to the local role's address.
	Gateway Mode = "gateway"
	// Host: the endpoint, PBX or SBC itself; outbound flows leave through
	// the output hook, inbound ones arrive at the input hook.
	Host Mode = "host"
)

// Hook is the netfilter hook a rule belongs to.
type Hook string

// Hooks.
const (
	Forward    Hook = "forward"
	Input      Hook = "input"
	Output     Hook = "output"
	Prerouting Hook = "prerouting" // DNAT of port forwards
)

// Site describes the firewall's place.
type Site struct {
	Mode  Mode
	LANIf string // gateway: interface towards the LAN ("" = not matched)
	WANIf string // gateway: interface towards the internet ("" = not matched)
	// LAN is the site's own networks: the source of outbound flows in
	// gateway mode (none = any source), and what "lan" means in host mode.
	LAN []netip.Prefix
}

// Validate checks the site description.
func (s Site) Validate() error {
	switch s.Mode {
	case Gateway, Host:
	default:
		return fmt.Errorf("--mode %q: gateway or host", s.Mode)
	}
	if s.Mode == Host && (s.LANIf != "" || s.WANIf != "") {
		return fmt.Errorf("--lan-if and --wan-if belong to gateway mode")
	}
	for _, p := range s.LAN {
		if p.Masked() != p {
			return fmt.Errorf("--lan %s has host bits set (the network is %s)", p, p.Masked())
		}
	}
	return nil
}

// Options choose which flows and ports go in.
type Options struct {
	// AllAlternatives opens every port of a one-of group, not only the
	// preferred (first) one.
	AllAlternatives bool
	// RequiredOnly leaves recommended flows out.
	RequiredOnly bool
	// Optional takes optional flows in too.
	Optional bool
}

// Match is the packets of one rule: an empty address list or port set
// means any.
type Match struct {
	Family   int // 4 or 6
	Proto    string
	IIf, OIf string
	Src      []netip.Prefix
	Dst      []netip.Prefix
	SrcPorts model.PortSet
	DstPorts model.PortSet
	// DstNames are DNS names whose addresses (resolved, possibly none yet)
	// belong to Dst in outbound rules and to Src in inbound ones; generators
	// keep them as named sets that `portolan sync` refills.
	DstNames []resolve.NameAddrs
	SrcNames []resolve.NameAddrs
}

// DstAddrs returns Dst with the addresses of DstNames, merged; nil means
// any when there are neither prefixes nor names.
func (m Match) DstAddrs() []netip.Prefix { return merge(m.Dst, m.DstNames) }

// SrcAddrs returns Src with the addresses of SrcNames, merged.
func (m Match) SrcAddrs() []netip.Prefix { return merge(m.Src, m.SrcNames) }

// AnyDst reports whether the rule matches any destination address.
func (m Match) AnyDst() bool { return len(m.Dst) == 0 && len(m.DstNames) == 0 }

// AnySrc reports whether the rule matches any source address.
func (m Match) AnySrc() bool { return len(m.Src) == 0 && len(m.SrcNames) == 0 }

func merge(ps []netip.Prefix, names []resolve.NameAddrs) []netip.Prefix {
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p)
	}
	for _, n := range names {
		for _, a := range n.Answer.Addrs {
			b.Add(a.Unmap())
		}
	}
	s, _ := b.IPSet()
	return s.Prefixes()
}

// Rule is one accept the firewall must hold, or, at Prerouting, one port
// forward.
type Rule struct {
	Flow  *resolve.Concrete
	Hook  Hook
	Match Match
	// DNAT is the address a Prerouting rule forwards to (ports unchanged).
	DNAT netip.Addr
}

// Skip is a flow that yields no rule, and why.
type Skip struct {
	Flow   *resolve.Concrete
	Reason string
}

// Plan turns concrete flows into the rules a firewall at site must hold.
// A flow's rules stand together, per family in order; an inbound flow's
// Prerouting rule (the port forward) comes right before its Forward rule.
func Plan(flows []resolve.Concrete, site Site, opt Options) ([]Rule, []Skip, error) {
	if err := site.Validate(); err != nil {
		return nil, nil, err
	}
	var groups [][]Rule
	var skips []Skip
	for i := range flows {
		f := &flows[i]
		if reason := excluded(f, opt); reason != "" {
			skips = append(skips, Skip{f, reason})
			continue
		}
		rs, reason, err := planOne(f, site, opt)
		if err != nil {
			return nil, nil, err
		}
		if reason != "" {
			skips = append(skips, Skip{f, reason})
			continue
		}
		groups = append(groups, rs)
	}
	// Flows whose port forwards are open to any source go after the
	// others: where two forwards take the same packets to different hosts,
	// the more specific one, written first, wins (ForwardConflicts reports
	// such pairs). A flow's rules stay together and in order: each
	// Prerouting rule is followed by its Forward rule.
	slices.SortStableFunc(groups, func(a, b []Rule) int { return openForward(a) - openForward(b) })
	var rules []Rule
	for _, g := range groups {
		rules = append(rules, g...)
	}
	return rules, skips, nil
}

// openForward is 1 when one of a flow's rules forwards from any source.
func openForward(rs []Rule) int {
	for _, r := range rs {
		if r.Hook == Prerouting && r.Match.AnySrc() {
			return 1
		}
	}
	return 0
}

// Conflict is two port forwards that claim some of the same packets for
// different hosts: only the first (in rule order) gets them.
type Conflict struct {
	First, Second *Rule
}

func (c Conflict) String() string {
	a, b := c.First, c.Second
	return fmt.Sprintf("port forward conflict: %s/%s and %s/%s both forward %s %s from overlapping sources, to %s and to %s; %s/%s is written first and takes those packets",
		a.Flow.Service, a.Flow.ID, b.Flow.Service, b.Flow.ID, a.Match.Proto, a.Match.DstPorts.Intersect(b.Match.DstPorts),
		a.DNAT, b.DNAT, a.Flow.Service, a.Flow.ID)
}

// ForwardConflicts lists the pairs of port forwards (Prerouting rules)
// that overlap in family, protocol, interface, ports and sources but go to
// different hosts. A name not resolved yet counts as overlapping.
func ForwardConflicts(rules []Rule) []Conflict {
	var out []Conflict
	for i := range rules {
		a := &rules[i]
		if a.Hook != Prerouting {
			continue
		}
		for j := i + 1; j < len(rules); j++ {
			b := &rules[j]
			if b.Hook != Prerouting || a.DNAT == b.DNAT || a.Match.Family != b.Match.Family || a.Match.Proto != b.Match.Proto {
				continue
			}
			if a.Match.IIf != "" && b.Match.IIf != "" && a.Match.IIf != b.Match.IIf {
				continue
			}
			if a.Match.DstPorts.Intersect(b.Match.DstPorts).Empty() || !sourcesOverlap(a.Match, b.Match) {
				continue
			}
			out = append(out, Conflict{a, b})
		}
	}
	return out
}

func sourcesOverlap(a, b Match) bool {
	if a.AnySrc() || b.AnySrc() || unresolved(a.SrcNames) || unresolved(b.SrcNames) {
		return true
	}
	var ba, bb netipx.IPSetBuilder
	for _, p := range a.SrcAddrs() {
		ba.AddPrefix(p)
	}
	for _, p := range b.SrcAddrs() {
		bb.AddPrefix(p)
	}
	sa, _ := ba.IPSet()
	sb, _ := bb.IPSet()
	return sa.Overlaps(sb)
}

func unresolved(names []resolve.NameAddrs) bool {
	for _, n := range names {
		if len(n.Answer.Addrs) == 0 {
			return true
		}
	}
	return false
}

// Excludes says why the options leave flow f out, or "" when it is in:
// recommended flows under RequiredOnly, optional ones unless Optional.
// Targets that do not go through Plan (a proxy allow-list, a domain list)
// select flows with it, so that every target takes the same flows.
func (o Options) Excludes(f *resolve.Concrete) string { return excluded(f, o) }

func excluded(f *resolve.Concrete, opt Options) string {
	switch f.Necessity {
	case model.Recommended:
		if opt.RequiredOnly {
			return "recommended, left out by --required-only"
		}
	case model.Optional:
		if !opt.Optional {
			return "optional, left out unless --optional"
		}
	}
	return ""
}

// remote is one family's remote side of a flow.
type remote struct {
	prefixes []netip.Prefix
	names    []resolve.NameAddrs
	any      bool
}

// remotes splits a flow's remote side by family. A family is present when
// the flow has an address of it, a name (which may resolve to it), or any.
func remotes(f *resolve.Concrete, site Site) map[int]*remote {
	out := map[int]*remote{}
	get := func(fam int) *remote {
		if out[fam] == nil {
			out[fam] = &remote{}
		}
		return out[fam]
	}
	if f.Any {
		get(4).any, get(6).any = true, true
	}
	for _, fam := range []int{4, 6} {
		if ps := f.LiteralPrefixes(fam); len(ps) > 0 {
			get(fam).prefixes = append(get(fam).prefixes, ps...)
		}
	}
	if f.LAN && site.Mode == Host {
		if len(site.LAN) == 0 {
			get(4).any, get(6).any = true, true
		}
		for _, p := range site.LAN {
			fam := family(p.Addr())
			get(fam).prefixes = append(get(fam).prefixes, p)
		}
	}
	for _, n := range f.Names {
		fams := map[int]bool{}
		for _, a := range n.Answer.Addrs {
			fams[family(a)] = true
		}
		if len(n.Answer.Addrs) == 0 {
			fams[4], fams[6] = true, true // unresolved: a set for each, filled by sync
		}
		for fam := range fams {
			na := resolve.NameAddrs{Name: n.Name, Answer: n.Answer}
			na.Answer.Addrs = slices.DeleteFunc(slices.Clone(n.Answer.Addrs), func(a netip.Addr) bool { return family(a) != fam })
			get(fam).names = append(get(fam).names, na)
		}
	}
	// A family whose only entries are "any" besides addresses of the other
	// family is still open to any: any wins over a list.
	for _, r := range out {
		if r.any {
			r.prefixes, r.names = nil, nil
		}
	}
	return out
}

func family(a netip.Addr) int {
	if a.Unmap().Is4() {
		return 4
	}
	return 6
}

func planOne(f *resolve.Concrete, site Site, opt Options) ([]Rule, string, error) {
	// A flow between roles of the site (device to device) is traffic
	// inside the site: not the gateway's business, like "lan" remotes. In
	// host mode it is the machine's own input or output, to and from the
	// peer role's address or the site's networks.
	if len(f.RemoteRoles) > 0 && site.Mode == Gateway {
		return nil, fmt.Sprintf("between roles of the site (%s and %s): stays inside the site, does not cross the gateway (use --mode host on the machine itself)", f.Local, joinComma(f.RemoteRoles)), nil
	}
	if f.LAN && !f.Any && len(f.Dest) == countLAN(f.Dest) && site.Mode == Gateway {
		return nil, "stays inside the LAN: does not cross the gateway (use --mode host on the machine itself)", nil
	}
	if len(f.Wildcards) > 0 && len(f.Dest) == len(f.Wildcards) {
		return nil, "wildcard domains only (" + joinComma(f.Wildcards) + "): allow on the web proxy (--target squid) or a DNS-aware firewall", nil
	}
	ports := f.Ports
	if !opt.AllAlternatives {
		ports = f.Preferred()
	}
	rems := remotes(f, site)
	var rules []Rule
	for _, fam := range []int{4, 6} {
		r, ok := rems[fam]
		if !ok {
			continue
		}
		m := Match{Family: fam, Proto: f.Proto, DstPorts: ports, SrcPorts: f.SrcPorts}
		outbound := f.Direction == model.Outbound
		var local []netip.Prefix
		if f.LocalAddress != "" {
			a, err := netip.ParseAddr(f.LocalAddress)
			if err != nil {
				return nil, "", fmt.Errorf("%s/%s: local address %q: %v", f.Service, f.ID, f.LocalAddress, err)
			}
			if family(a) != fam {
				continue // the role's address is of the other family
			}
			local = []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}
		} else if site.Mode == Gateway {
			for _, p := range site.LAN {
				if family(p.Addr()) == fam {
					local = append(local, p)
				}
			}
			if len(site.LAN) > 0 && len(local) == 0 {
				continue // the site has no network of this family
			}
		}
		switch {
		case site.Mode == Gateway && outbound:
			m.IIf, m.OIf = site.LANIf, site.WANIf
			m.Src, m.Dst, m.DstNames = local, r.prefixes, r.names
			rules = append(rules, Rule{Flow: f, Hook: Forward, Match: m})
		case site.Mode == Gateway && !outbound:
			if f.LocalAddress == "" {
				return nil, "", fmt.Errorf("%s/%s: an inbound flow needs the address of its %s to forward to", f.Service, f.ID, f.Local)
			}
			to := local[0].Addr()
			pre := m
			pre.IIf = site.WANIf
			pre.Src, pre.SrcNames = r.prefixes, r.names
			rules = append(rules, Rule{Flow: f, Hook: Prerouting, Match: pre, DNAT: to})
			fw := m
			fw.IIf, fw.OIf = site.WANIf, site.LANIf
			fw.Src, fw.SrcNames, fw.Dst = r.prefixes, r.names, local
			rules = append(rules, Rule{Flow: f, Hook: Forward, Match: fw})
		case site.Mode == Host && outbound:
			m.Dst, m.DstNames = r.prefixes, r.names
			rules = append(rules, Rule{Flow: f, Hook: Output, Match: m})
		default: // host, inbound
			m.Src, m.SrcNames = r.prefixes, r.names
			rules = append(rules, Rule{Flow: f, Hook: Input, Match: m})
		}
	}
	if len(rules) == 0 {
		return nil, "no address of a family this site has (check --lan and the local address)", nil
	}
	return rules, "", nil
}

func countLAN(dest []string) int {
	n := 0
	for _, d := range dest {
		if d == "lan" {
			n++
		}
	}
	return n
}

func joinComma(xs []string) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}
