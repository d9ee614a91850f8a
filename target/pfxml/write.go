package pfxml

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go4.org/netipx"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
)

// Default interface names: the products' own names of the first two
// interfaces (the others are opt1, opt2…).
const (
	DefaultLAN = "lan"
	DefaultWAN = "wan"
)

// Alias is one alias: host (addresses, ranges and host names), network
// (prefixes, and names too) or port (ports and ranges lo:hi).
type Alias struct {
	Name    string
	Type    string // host, network, port
	Entries []string
	Descr   string
}

// Side is the source or destination of a rule: any, an address (an
// address, a prefix or an alias name) or a network (a product's special
// network: lan, wanip, (self)…), and a port (a port, lo-hi, or a port
// alias).
type Side struct {
	Any     bool
	Address string
	Network string
	Not     bool
	Port    string
}

// FilterRule is one <filter><rule>: always quick, inbound on Interface.
type FilterRule struct {
	Comment    []string
	Tracker    uint64
	Type       string // pass, block, reject
	Interface  string
	IPProtocol string // inet, inet6
	Protocol   string // tcp, udp
	Source     Side
	Dest       Side
	Descr      string
	AssocID    string
}

// NATRule is one port forward (<nat><rule>): what arrives on Interface
// for Dest is sent to Target, ports from LocalPort on.
type NATRule struct {
	Comment    []string
	Interface  string
	IPProtocol string
	Protocol   string
	Source     Side
	Dest       Side
	Target     string
	LocalPort  string
	Descr      string
	AssocID    string
}

// OutboundRule is one outbound NAT rule (<nat><outbound><rule>) that
// keeps the source port (static-port).
type OutboundRule struct {
	Comment    []string
	Interface  string
	IPProtocol string
	Protocol   string
	Source     string // a network, or "any"
	DstPort    string
	Descr      string
}

// Doc is what the writer makes for one product.
type Doc struct {
	Product  Product
	Aliases  []*Alias
	Filter   []*FilterRule
	NAT      []*NATRule
	Outbound []*OutboundRule
}

type gen struct {
	p        Product
	in       *target.Input
	resolve  bool
	lan, wan string
	doc      Doc
	aliases  map[string]*Alias // by key (type and entries)
	names    map[string]bool
	trackers map[uint64]bool
	notes    []string
	stats    target.Stats
}

// CheckSite refuses what the products' rules cannot be written for here:
// host mode (their "This Firewall" rules are not what portolan writes),
// and the same interface on both sides.
func CheckSite(p Product, site policy.Site) error {
	if site.Mode != policy.Gateway {
		return fmt.Errorf("--target %s writes gateway rules only (the firewall between LAN and internet: interface rules and port forwards); rules for the firewall itself are not written: run it with --mode gateway", p.Name)
	}
	lan, wan := ifName(site.LANIf, DefaultLAN), ifName(site.WANIf, DefaultWAN)
	if lan == wan {
		return fmt.Errorf("--lan-if and --wan-if are both %q: %s filters on the interface a packet comes in on, give two different interfaces (lan, wan, opt1…)", lan, p.Title)
	}
	return nil
}

func ifName(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Build turns the input into the product's document, and the notes for
// stderr. resolveNames writes the names' addresses instead of host names
// in the aliases (--resolve-names).
func Build(p Product, in *target.Input, resolveNames bool) (*Doc, target.Result, error) {
	if err := CheckSite(p, in.Site); err != nil {
		return nil, target.Result{}, err
	}
	g := &gen{p: p, in: in, resolve: resolveNames, lan: ifName(in.Site.LANIf, DefaultLAN), wan: ifName(in.Site.WANIf, DefaultWAN),
		aliases: map[string]*Alias{}, names: map[string]bool{}, trackers: map[uint64]bool{}, notes: in.Notes()}
	g.doc.Product = p
	wild := map[string]bool{}
	for i := range in.Rules {
		r := &in.Rules[i]
		if f := r.Flow; len(f.Wildcards) > 0 && !wild[target.FlowRef(f)] {
			wild[target.FlowRef(f)] = true
			g.notes = append(g.notes, fmt.Sprintf("%s: wildcard domains %s are not written: %s host aliases hold host names, which the firewall resolves, not wildcards (allow them on a web proxy: --target squid)", target.FlowRef(f), strings.Join(f.Wildcards, ", "), p.Title))
		}
		switch {
		case r.Hook == policy.Prerouting:
			g.forward(r)
		case r.Hook == policy.Forward && r.Flow.Direction == model.Inbound && i > 0 && in.Rules[i-1].Hook == policy.Prerouting && in.Rules[i-1].Flow == r.Flow:
			// The port forward's own filter rule, written with it.
		case r.Hook == policy.Forward:
			g.filter(r, nil)
		default:
			return nil, target.Result{}, fmt.Errorf("%s: a %s rule has no place in a gateway's rules", target.FlowRef(r.Flow), r.Hook)
		}
	}
	g.outbound()
	for _, a := range g.doc.Aliases {
		if a.Type == "port" {
			g.stats.PortSets++
			g.stats.Ports += len(a.Entries)
			continue
		}
		g.stats.Sets++
		g.stats.Elements += len(a.Entries)
		for _, e := range a.Entries {
			if !isAddr(e) {
				g.stats.Names++
			}
		}
	}
	return &g.doc, target.Result{Stats: g.stats, Notes: g.notes}, nil
}

func isAddr(e string) bool {
	if _, err := netip.ParsePrefix(e); err == nil {
		return true
	}
	_, err := netip.ParseAddr(e)
	return err == nil
}

func descr(r *policy.Rule) string { return asciiCut("portolan "+target.RuleComment(r), MaxDescr) }

// asciiCut makes s one line of at most max bytes that ends, when cut, in
// "..." (ASCII: the description becomes the pf rule's label).
func asciiCut(s string, max int) string {
	s = target.OneLine(s)
	if len(s) <= max {
		return s
	}
	cut := max - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func comments(in *target.Input, r *policy.Rule) []string {
	var out []string
	for _, l := range in.FlowComments(r) {
		out = append(out, strings.TrimPrefix(l, "# "))
	}
	out = append(out, "source: "+target.SourceRef(r.Flow.Source))
	return out
}

func inet(fam int) string {
	if fam == 6 {
		return "inet6"
	}
	return "inet"
}

func (g *gen) tracker(key string) uint64 {
	t := Tracker(g.p.Name + "|" + key)
	for g.trackers[t] {
		t++
		if t >= 4_000_000_000 {
			t = 3_000_000_000
		}
	}
	g.trackers[t] = true
	return t
}

// filter writes the filter rule of a forward rule: on the LAN interface
// for an outbound flow; on the WAN interface, to the forwarded address,
// for a port forward's packets (pre, the port forward, links them).
func (g *gen) filter(r *policy.Rule, nat *NATRule) {
	m := r.Match
	iface := g.lan
	if r.Flow.Direction == model.Inbound {
		iface = g.wan
	}
	src, okS := g.addrSide(r, m.Src, m.SrcNames, m.AnySrc(), "src")
	dst, okD := g.addrSide(r, m.Dst, m.DstNames, m.AnyDst(), "dst")
	if !okS || !okD {
		g.skipNoAddr(r)
		return
	}
	if !m.SrcPorts.Empty() {
		src.Port = g.portSide(r, m.SrcPorts, "sport")
	}
	dst.Port = g.portSide(r, m.DstPorts, "dport")
	fr := &FilterRule{Comment: comments(g.in, r), Type: "pass", Interface: iface, IPProtocol: inet(m.Family), Protocol: m.Proto,
		Source: src, Dest: dst, Descr: descr(r)}
	key := fmt.Sprintf("%s|%s|%d|%s|%s|%s", target.RuleComment(r), iface, m.Family, m.Proto, m.DstPorts, r.Hook)
	if nat != nil {
		fr.AssocID = nat.AssocID
		fr.Comment = append(fr.Comment, "the filter rule of the port forward "+nat.AssocID+": pf filters the packet after redirection, so it names the forwarded address")
		key += "|" + nat.Dest.Port
	}
	fr.Tracker = g.tracker(key)
	g.doc.Filter = append(g.doc.Filter, fr)
	g.stats.Rules++
}

// forward writes a port forward: one NAT rule per port range (pf maps a
// range onto the local ports from local-port on) and its linked filter
// rule on the WAN interface.
func (g *gen) forward(r *policy.Rule) {
	m := r.Match
	src, ok := g.addrSide(r, m.Src, m.SrcNames, m.AnySrc(), "src")
	if !ok {
		g.skipNoAddr(r)
		return
	}
	for _, pr := range m.DstPorts.Ranges() {
		ports := portText(pr, "-")
		key := fmt.Sprintf("%s|%d|%s|%s", target.RuleComment(r), m.Family, m.Proto, ports)
		n := &NATRule{Comment: comments(g.in, r), Interface: g.wan, IPProtocol: inet(m.Family), Protocol: m.Proto,
			Source: src, Dest: Side{Any: true, Port: ports}, Target: r.DNAT.String(), LocalPort: strconv.Itoa(int(pr.Lo)),
			Descr: descr(r), AssocID: AssociatedID(g.p.Name + "|" + key)}
		g.doc.NAT = append(g.doc.NAT, n)
		g.stats.DNAT++
		fw := *r
		fw.Hook = policy.Forward
		fw.Match.Dst = []netip.Prefix{netip.PrefixFrom(r.DNAT, r.DNAT.BitLen())}
		fw.Match.DstNames = nil
		fw.Match.DstPorts = model.NewPortSet(pr)
		g.filter(&fw, n)
	}
}

func (g *gen) skipNoAddr(r *policy.Rule) {
	var names []string
	for _, n := range append(slices.Clone(r.Match.SrcNames), r.Match.DstNames...) {
		names = append(names, n.Name)
	}
	g.notes = append(g.notes, fmt.Sprintf("skipped: %s: IPv%d %s rule: %s have no IPv%d address yet (--resolve-names); regenerate once they resolve", target.FlowRef(r.Flow), r.Match.Family, r.Hook, strings.Join(names, ", "), r.Match.Family))
}

func portText(pr model.PortRange, sep string) string {
	if pr.Lo == pr.Hi {
		return strconv.Itoa(int(pr.Lo))
	}
	return fmt.Sprintf("%d%s%d", pr.Lo, sep, pr.Hi)
}

// portSide is a rule's port: one port or range as it is, several through
// a port alias.
func (g *gen) portSide(r *policy.Rule, ps model.PortSet, role string) string {
	rs := ps.Ranges()
	switch len(rs) {
	case 0:
		return ""
	case 1:
		return portText(rs[0], "-")
	}
	var es []string
	for _, pr := range rs {
		es = append(es, portText(pr, ":"))
	}
	return g.alias(r, "port", es, role, nil).Name
}

// addrSide is a rule's address side: any, one address or prefix, or an
// alias of the addresses and host names; ok is false when it should hold
// addresses and has none.
func (g *gen) addrSide(r *policy.Rule, ps []netip.Prefix, names []resolve.NameAddrs, any bool, role string) (Side, bool) {
	if any {
		return Side{Any: true}, true
	}
	fam := r.Match.Family
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p.Masked())
	}
	var keep []resolve.NameAddrs
	if g.resolve {
		for _, n := range names {
			for _, a := range n.Answer.Addrs {
				if a = a.Unmap(); a.Is4() == (fam == 4) {
					b.Add(a)
				}
			}
		}
	} else {
		keep = names
	}
	set, _ := b.IPSet()
	var es []string
	for _, p := range set.Prefixes() {
		if p.Bits() == 0 {
			return Side{Any: true}, true
		}
		if p.IsSingleIP() {
			es = append(es, p.Addr().String())
		} else {
			es = append(es, p.String())
		}
	}
	var ns []string
	for _, n := range keep {
		ns = append(ns, strings.TrimSuffix(strings.ToLower(n.Name), "."))
	}
	slices.Sort(ns)
	ns = slices.Compact(ns)
	if len(es) == 0 && len(ns) == 0 {
		return Side{}, false
	}
	if len(es) == 1 && len(ns) == 0 {
		return Side{Address: es[0]}, true
	}
	typ := "host"
	for _, e := range es {
		if strings.Contains(e, "/") {
			typ = "network"
		}
	}
	return Side{Address: g.alias(r, typ, append(es, ns...), fmt.Sprintf("%s%d", role, fam), keep).Name}, true
}

// alias returns the alias of these entries, made once: a second rule
// with the same entries uses the first one's alias.
func (g *gen) alias(r *policy.Rule, typ string, entries []string, role string, names []resolve.NameAddrs) *Alias {
	key := typ + " " + strings.Join(entries, " ")
	if a, ok := g.aliases[key]; ok {
		if ref := target.FlowRef(r.Flow); !strings.Contains(a.Descr, ref+" ") {
			a.Descr = target.OneLine(a.Descr + "; also " + target.RuleComment(r))
		}
		return a
	}
	f := r.Flow
	short := map[string]string{"src4": "s4", "src6": "s6", "dst4": "d4", "dst6": "d6", "dport": "p", "sport": "sp"}[role]
	name := AliasName("portolan", f.Service, f.ID, short)
	for i := 2; g.names[name]; i++ {
		name = AliasName("portolan", f.Service, f.ID, short, strconv.Itoa(i))
	}
	d := "portolan " + target.RuleComment(r)
	if len(names) > 0 {
		d += " (host names the firewall resolves)"
	}
	a := &Alias{Name: name, Type: typ, Entries: entries, Descr: target.OneLine(d)}
	g.names[name] = true
	g.aliases[key] = a
	g.doc.Aliases = append(g.doc.Aliases, a)
	return a
}

// outbound writes the static-port outbound NAT rules SIP needs: for the
// constraints on SIP (ALG off, NAT timeouts) and port-preserving NAT,
// the IPv4 flows from the LAN they concern keep their source port.
func (g *gen) outbound() {
	type key struct{ proto, ports string }
	seen := map[key]bool{}
	for _, c := range g.in.Constraints {
		switch c.Kind {
		case model.KindPortPreservingNAT, model.KindNATTimeout:
		case model.KindALGOff:
			if !slices.Contains(c.Apps, "sip") && !slices.Contains(c.Apps, "sip-tls") {
				continue
			}
		default:
			continue
		}
		ports := map[string]model.PortSet{}
		var order []string
		for i := range g.in.Rules {
			r := &g.in.Rules[i]
			if r.Hook != policy.Forward || r.Flow.Direction != model.Outbound || r.Match.Family != 4 || !g.in.ConstraintApplies(c, r.Flow) {
				continue
			}
			if _, ok := ports[r.Match.Proto]; !ok {
				order = append(order, r.Match.Proto)
			}
			ports[r.Match.Proto] = ports[r.Match.Proto].Union(r.Match.DstPorts)
		}
		for _, proto := range order {
			ps := ports[proto]
			var parts []string
			for _, pr := range ps.Ranges() {
				parts = append(parts, portText(pr, ":"))
			}
			k := key{proto, strings.Join(parts, ",")}
			if seen[k] {
				continue
			}
			seen[k] = true
			src := "any"
			for _, p := range g.in.Site.LAN {
				if p.Addr().Is4() {
					src = p.Masked().String()
					break
				}
			}
			// One rule per range: an outbound NAT rule's destination port
			// is one port or range (or a port alias).
			for _, pr := range ps.Ranges() {
				g.doc.Outbound = append(g.doc.Outbound, &OutboundRule{
					Comment:   []string{target.OneLine(target.ConstraintRef(c) + ": " + c.Purpose), "static-port: pf keeps the source port of these IPv4 flows when it translates the LAN address (hybrid outbound NAT: the automatic rules stay)"},
					Interface: g.wan, IPProtocol: "inet", Protocol: proto, Source: src, DstPort: portText(pr, "-"),
					Descr: asciiCut("portolan static-port "+c.Service+"/"+c.ID+" "+target.SourceRef(c.Source), MaxDescr),
				})
			}
		}
	}
}

// Timeout is a pf UDP state timeout the constraints ask for, in seconds,
// each at least pf's default (udp.first 60, udp.single 30, udp.multiple
// 60).
type Timeout struct {
	First, Single, Multiple int
	Constraint              resolve.Constraint
}

// UDPTimeouts returns what the nat-timeout constraints ask of pf.
func UDPTimeouts(cs []resolve.Constraint) []Timeout {
	var out []Timeout
	for _, c := range cs {
		ts, err := target.Timeouts(c)
		if err != nil {
			continue
		}
		for _, t := range ts {
			if t.Proto != model.UDP {
				continue
			}
			sec := func(d time.Duration, def int) int { return max(int(d/time.Second), def) }
			out = append(out, Timeout{First: sec(t.Unreplied, 60), Single: sec(t.Unreplied, 30), Multiple: sec(t.Replied, 60), Constraint: c})
		}
	}
	return out
}
