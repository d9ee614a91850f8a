package firewalld

import (
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
)

// Format is the ruleset format of a firewalld configuration directory.
const Format ruleset.Format = "firewalld"

// Table is the table the chains of a configuration stand in, as firewalld
// names its nftables table.
const Table = "firewalld"

// Ruleset turns the configuration into the audit's chains, with
// firewalld's semantics (nftables backend, firewalld 1.x):
//
//   - replies (ct state established,related) and what firewalld DNATed
//     itself (ct status dnat) are accepted in input and forward, invalid
//     packets dropped, loopback accepted;
//   - a packet's ingress zone is the first zone whose sources hold its
//     source address, else whose interfaces hold its input interface,
//     else the default zone; its egress zone likewise by destination and
//     output interface;
//   - to the machine: the policies from the ingress zone (or ANY) to HOST
//     of negative priority, then the zone's services, ports, protocols,
//     source ports and rich rules, then the policies of priority ≥ 0, then
//     the zone's target (default and %%REJECT%% reject);
//   - forwarded: the policies from the ingress zone (or ANY) to the egress
//     zone (or ANY), by priority; a zone forwards within itself when it has
//     <forward/>; the rest is rejected;
//   - from the machine: the policies from HOST to the egress zone (or
//     ANY); the rest is accepted;
//   - port forwards (forward-port with to-addr) DNAT in prerouting, by
//     ingress zone; without to-addr they redirect to the machine;
//   - a service's <helper> attaches that conntrack helper to the
//     service's ports where the service is accepted.
//
// What it does not model (ICMP blocks, masquerade, log and audit, rich
// rule limits, marks, MAC sources, ipsets of other types, lockdown,
// direct rules) is said in the ruleset's notes, or kept as an unknown
// condition on the rule, never dropped silently.
func (c *Config) Ruleset() (*ruleset.Ruleset, error) {
	b := &rsBuilder{c: c, rs: &ruleset.Ruleset{Format: Format, Families: []int{4, 6}}, chains: map[string]*ruleset.Chain{}}
	if err := b.build(); err != nil {
		return nil, err
	}
	return b.rs, nil
}

// Defaults returns DefaultConfig when it is a directory, else "": the
// stock configuration firewalld itself would read.
func Defaults() string {
	if fi, err := os.Stat(DefaultConfig); err == nil && fi.IsDir() {
		return DefaultConfig
	}
	return ""
}

// ReadRuleset reads the configuration directory dir over the stock one in
// defaults and turns it into the audit's chains.
func ReadRuleset(dir, defaults string) (*ruleset.Ruleset, error) {
	c, err := Read(dir, defaults)
	if err != nil {
		return nil, err
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	rs, err := c.Ruleset()
	if err != nil {
		return nil, err
	}
	if defaults != "" {
		rs.Notes = append(rs.Notes, "firewalld: "+dir+" read over the stock configuration in "+defaults)
	} else {
		rs.Notes = append(rs.Notes, "firewalld: "+dir+" read without a stock configuration")
	}
	return rs, nil
}

type rsBuilder struct {
	c      *Config
	rs     *ruleset.Ruleset
	chains map[string]*ruleset.Chain
	noted  map[string]bool
}

func (b *rsBuilder) note(s string) {
	if b.noted == nil {
		b.noted = map[string]bool{}
	}
	if !b.noted[s] {
		b.noted[s] = true
		b.rs.Notes = append(b.rs.Notes, s)
	}
}

func (b *rsBuilder) chain(name string, base bool, typ, hook string, prio int) *ruleset.Chain {
	ch := &ruleset.Chain{Family: "inet", Table: Table, Name: name, Base: base, Type: typ, Hook: hook, Prio: prio, Policy: ruleset.Accept}
	b.chains[name] = ch
	b.rs.Chains = append(b.rs.Chains, ch)
	return ch
}

func add(ch *ruleset.Chain, file string, v ruleset.Verdict, terms ...ruleset.Term) *ruleset.Rule {
	r := &ruleset.Rule{Chain: ch, Index: len(ch.Rules), Terms: terms, Verdict: v, Pos: ruleset.Pos{Text: file}}
	ch.Rules = append(ch.Rules, r)
	return r
}

func verdict(k ruleset.Kind) ruleset.Verdict { return ruleset.Verdict{Kind: k} }

func jump(k ruleset.Kind, chain string) ruleset.Verdict {
	return ruleset.Verdict{Kind: k, Chain: chain}
}

var (
	tEstRel = ruleset.Single(ruleset.CtState, false, ruleset.NumValue(ruleset.CtEstablished), ruleset.NumValue(ruleset.CtRelated))
	tInval  = ruleset.Single(ruleset.CtState, false, ruleset.NumValue(ruleset.CtInvalid))
	tDNAT   = ruleset.Term{Fields: []ruleset.Field{ruleset.CtStatus}, Mask: ruleset.CtStatusDNAT, Set: []ruleset.Tuple{{ruleset.NumValue(0)}}, Neg: true}
)

func ifTerm(f ruleset.Field, names []string) ruleset.Term {
	var vs []ruleset.Value
	for _, n := range names {
		if p, ok := strings.CutSuffix(n, "+"); ok {
			vs = append(vs, ruleset.NameValue(p, true))
		} else {
			vs = append(vs, ruleset.NameValue(n, false))
		}
	}
	return ruleset.Single(f, false, vs...)
}

func addrTerm(f ruleset.Field, ps []netip.Prefix, neg bool) ruleset.Term {
	var vs []ruleset.Value
	for _, p := range ps {
		vs = append(vs, ruleset.PrefixValue(p))
	}
	return ruleset.Single(f, neg, vs...)
}

// zoneMatch is how packets are told to belong to zone z on one side:
// one rule's terms per alternative (its sources, its interfaces).
type zoneMatch struct {
	zone  string
	terms [][]ruleset.Term
}

// zones orders the zones as firewalld picks them: zones by source first,
// then by interface, then the default zone for the rest. src tells the
// ingress side (source address, input interface) from the egress one.
func (b *rsBuilder) zones(src bool) ([]zoneMatch, error) {
	af, ifF := ruleset.SrcAddr, ruleset.IIfName
	if !src {
		af, ifF = ruleset.DstAddr, ruleset.OIfName
	}
	var bySrc, byIf []zoneMatch
	for _, n := range sortedKeys(b.c.Zones) {
		z := b.c.Zones[n]
		var ps []netip.Prefix
		for _, s := range z.Sources {
			if s.MAC != "" {
				b.note(fmt.Sprintf("firewalld: zone %s: source mac %s is not modelled: its packets are taken as of other zones", n, s.MAC))
				continue
			}
			got, err := b.c.Addrs(&XAddr{Address: s.Address, IPSet: s.IPSet})
			if err != nil {
				return nil, fmt.Errorf("%s: source: %v", z.File, err)
			}
			ps = append(ps, got...)
		}
		if len(ps) > 0 {
			bySrc = append(bySrc, zoneMatch{n, [][]ruleset.Term{{addrTerm(af, ps, false)}}})
		}
		var ifs []string
		for _, i := range z.Interfaces {
			ifs = append(ifs, i.Name)
		}
		if len(ifs) > 0 {
			byIf = append(byIf, zoneMatch{n, [][]ruleset.Term{{ifTerm(ifF, ifs)}}})
		}
	}
	def := b.c.DefaultZone
	if _, ok := b.c.Zones[def]; !ok {
		return nil, fmt.Errorf("firewalld: the default zone %q is not defined", def)
	}
	return append(append(bySrc, byIf...), zoneMatch{def, [][]ruleset.Term{nil}}), nil
}

// policies returns the policies from ingress to egress ("HOST", a zone),
// ANY standing for every zone, ordered by priority then name.
func (b *rsBuilder) policies(ingress, egress string) []*XPolicy {
	has := func(zs []XName, z string) bool {
		for _, x := range zs {
			if x.Name == z || x.Name == "ANY" && z != "HOST" {
				return true
			}
		}
		return false
	}
	var out []*XPolicy
	for _, n := range sortedKeys(b.c.Policies) {
		p := b.c.Policies[n]
		if has(p.IngressZones, ingress) && has(p.EgressZones, egress) {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return prio(out[i]) < prio(out[j]) })
	return out
}

func prio(p *XPolicy) int {
	if p.Priority == "" {
		return -1
	}
	n, err := strconv.Atoi(p.Priority)
	if err != nil {
		return -1
	}
	return n
}

func (b *rsBuilder) build() error {
	in, err := b.zones(true)
	if err != nil {
		return err
	}
	out, err := b.zones(false)
	if err != nil {
		return err
	}
	// Input.
	ci := b.chain("filter_INPUT", true, "filter", "input", 10)
	add(ci, "", verdict(ruleset.Accept), tEstRel)
	add(ci, "", verdict(ruleset.Accept), tDNAT)
	add(ci, "", verdict(ruleset.Accept), ifTerm(ruleset.IIfName, []string{"lo"}))
	add(ci, "", verdict(ruleset.Drop), tInval)
	for _, zm := range in {
		name := "filter_IN_" + zm.zone
		if b.chains[name] == nil {
			if err := b.zoneChain(name, zm.zone); err != nil {
				return err
			}
		}
		for _, ts := range zm.terms {
			add(ci, "", jump(ruleset.Goto, name), ts...)
		}
	}
	add(ci, "", verdict(ruleset.Reject))
	// Forward.
	cf := b.chain("filter_FORWARD", true, "filter", "forward", 10)
	add(cf, "", verdict(ruleset.Accept), tEstRel)
	add(cf, "", verdict(ruleset.Accept), tDNAT)
	add(cf, "", verdict(ruleset.Drop), tInval)
	for _, zi := range in {
		name := "filter_FWD_" + zi.zone
		if b.chains[name] == nil {
			ch := b.chain(name, false, "", "", 0)
			for _, ze := range out {
				pair := "filter_FWD_" + zi.zone + "_" + ze.zone
				if b.chains[pair] == nil {
					if err := b.forwardChain(pair, zi.zone, ze.zone); err != nil {
						return err
					}
				}
				for _, ts := range ze.terms {
					add(ch, "", jump(ruleset.Goto, pair), ts...)
				}
			}
		}
		for _, ts := range zi.terms {
			add(cf, "", jump(ruleset.Goto, name), ts...)
		}
	}
	add(cf, "", verdict(ruleset.Reject))
	// Output.
	co := b.chain("filter_OUTPUT", true, "filter", "output", 10)
	add(co, "", verdict(ruleset.Accept), tEstRel)
	add(co, "", verdict(ruleset.Accept), ifTerm(ruleset.OIfName, []string{"lo"}))
	for _, ze := range out {
		name := "filter_OUT_" + ze.zone
		if b.chains[name] == nil {
			ch := b.chain(name, false, "", "", 0)
			for _, p := range b.policies("HOST", ze.zone) {
				if err := b.policyJump(ch, p); err != nil {
					return err
				}
			}
		}
		for _, ts := range ze.terms {
			add(co, "", jump(ruleset.Goto, name), ts...)
		}
	}
	// Port forwards.
	cn := b.chain("nat_PREROUTING", true, "nat", "prerouting", -90)
	for _, zi := range in {
		name := "nat_PRE_" + zi.zone
		if b.chains[name] == nil {
			ch := b.chain(name, false, "", "", 0)
			var srcs []*XPolicy
			for _, p := range b.policies(zi.zone, "ANY") {
				srcs = append(srcs, p)
			}
			// Policies to a zone may forward too; ANY covers HOST-less ones.
			seen := map[*XPolicy]bool{}
			for _, p := range srcs {
				seen[p] = true
			}
			for _, n := range sortedKeys(b.c.Zones) {
				for _, p := range b.policies(zi.zone, n) {
					if !seen[p] {
						seen[p] = true
						srcs = append(srcs, p)
					}
				}
			}
			sort.SliceStable(srcs, func(i, j int) bool { return prio(srcs[i]) < prio(srcs[j]) })
			for _, p := range srcs {
				if err := b.forwards(ch, p); err != nil {
					return err
				}
			}
			if err := b.forwards(ch, b.c.Zones[zi.zone]); err != nil {
				return err
			}
		}
		for _, ts := range zi.terms {
			add(cn, "", jump(ruleset.Goto, name), ts...)
		}
	}
	return nil
}

// zoneChain is the input of zone z.
func (b *rsBuilder) zoneChain(name, z string) error {
	ch := b.chain(name, false, "", "", 0)
	zone := b.c.Zones[z]
	pols := b.policies(z, "HOST")
	i := 0
	for ; i < len(pols) && prio(pols[i]) < 0; i++ {
		if err := b.policyJump(ch, pols[i]); err != nil {
			return err
		}
	}
	if err := b.allow(ch, zone); err != nil {
		return err
	}
	for ; i < len(pols); i++ {
		if err := b.policyJump(ch, pols[i]); err != nil {
			return err
		}
	}
	switch zone.Target {
	case "ACCEPT":
		add(ch, zone.File, verdict(ruleset.Accept))
	case "DROP":
		add(ch, zone.File, verdict(ruleset.Drop))
	default: // default, %%REJECT%%, REJECT
		add(ch, zone.File, verdict(ruleset.Reject))
	}
	return nil
}

// forwardChain is what is forwarded from zone zi to zone ze.
func (b *rsBuilder) forwardChain(name, zi, ze string) error {
	ch := b.chain(name, false, "", "", 0)
	for _, p := range b.policies(zi, ze) {
		if err := b.policyJump(ch, p); err != nil {
			return err
		}
	}
	zone := b.c.Zones[zi]
	if zi == ze && zone.Forward != nil {
		add(ch, zone.File, verdict(ruleset.Accept))
	}
	switch zone.Target {
	case "ACCEPT":
		add(ch, zone.File, verdict(ruleset.Accept))
	case "DROP":
		add(ch, zone.File, verdict(ruleset.Drop))
	default:
		add(ch, zone.File, verdict(ruleset.Reject))
	}
	return nil
}

// policyJump jumps from ch to the chain of policy p, made once.
func (b *rsBuilder) policyJump(ch *ruleset.Chain, p *XPolicy) error {
	name := "filter_POL_" + p.Name
	if b.chains[name] == nil {
		pc := b.chain(name, false, "", "", 0)
		if err := b.allow(pc, p); err != nil {
			return err
		}
		switch p.Target {
		case "ACCEPT":
			add(pc, p.File, verdict(ruleset.Accept))
		case "DROP":
			add(pc, p.File, verdict(ruleset.Drop))
		case "REJECT":
			add(pc, p.File, verdict(ruleset.Reject))
		}
	}
	add(ch, p.File, jump(ruleset.Jump, name))
	return nil
}

// allow writes what a zone or policy accepts: rich rules first (deny
// rules before allow rules, as firewalld orders them), then services,
// ports, protocols and source ports.
func (b *rsBuilder) allow(ch *ruleset.Chain, p *XPolicy) error {
	where := p.File
	var deny, allow []int
	for i := range p.Rules {
		switch p.Rules[i].Action() {
		case "reject", "drop":
			deny = append(deny, i)
		default:
			allow = append(allow, i)
		}
	}
	for _, i := range append(deny, allow...) {
		if err := b.rich(ch, p, i); err != nil {
			return err
		}
	}
	for _, s := range p.Services {
		if err := b.service(ch, where, s.Name, nil, verdict(ruleset.Accept)); err != nil {
			return err
		}
	}
	for _, pt := range p.Ports {
		t, err := portTerms(where, pt, ruleset.DstPort)
		if err != nil {
			return err
		}
		add(ch, where, verdict(ruleset.Accept), t...)
	}
	for _, pt := range p.SourcePorts {
		t, err := portTerms(where, pt, ruleset.SrcPort)
		if err != nil {
			return err
		}
		add(ch, where, verdict(ruleset.Accept), t...)
	}
	for _, pr := range p.Protocols {
		n, ok := ruleset.ProtoNumbers[pr.Value]
		if !ok {
			return fmt.Errorf("%s: protocol %q is not known", where, pr.Value)
		}
		add(ch, where, verdict(ruleset.Accept), ruleset.Single(ruleset.L4Proto, false, ruleset.NumValue(n)))
	}
	if p.Masquerade != nil {
		b.note(fmt.Sprintf("firewalld: %s: masquerade (source NAT) is not modelled", where))
	}
	return nil
}

func portTerms(where string, pt XPort, f ruleset.Field) ([]ruleset.Term, error) {
	n, ok := ruleset.ProtoNumbers[pt.Protocol]
	if !ok {
		return nil, fmt.Errorf("%s: port %s: protocol %q is not known", where, pt.Port, pt.Protocol)
	}
	r, err := ParsePortRange(pt.Port)
	if err != nil {
		return nil, fmt.Errorf("%s: port %q: %v", where, pt.Port, err)
	}
	return []ruleset.Term{ruleset.Single(ruleset.L4Proto, false, ruleset.NumValue(n)), ruleset.Single(f, false, ruleset.PortValue(r.Lo, r.Hi))}, nil
}

// service writes the rules that accept service name (each port, source
// port and protocol on its own, as firewalld does), after the rules that
// attach its helpers; pre are the conditions of a rich rule.
func (b *rsBuilder) service(ch *ruleset.Chain, where, name string, pre []ruleset.Term, v ruleset.Verdict) error {
	var walk func(n string, seen map[string]bool) error
	walk = func(n string, seen map[string]bool) error {
		if seen[n] {
			return nil
		}
		seen[n] = true
		s, ok := b.c.Services[n]
		if !ok {
			return fmt.Errorf("%s: service %q is not defined", where, n)
		}
		at := where + ": service " + n + " (" + s.File + ")"
		if s.Destination != nil && (s.Destination.IPv4 != "" || s.Destination.IPv6 != "") {
			b.note(fmt.Sprintf("firewalld: %s: its destination addresses are not modelled: it is taken as open to every destination", at))
		}
		for _, h := range s.Helpers {
			for _, pt := range s.Ports {
				t, err := portTerms(at, pt, ruleset.DstPort)
				if err != nil {
					return err
				}
				r := add(ch, at, verdict(ruleset.Continue), append(append([]ruleset.Term{}, pre...), t...)...)
				x := r.Ext()
				x.Helper = helperName(h.Name)
				x.Mutates = true
			}
		}
		for _, pt := range s.Ports {
			t, err := portTerms(at, pt, ruleset.DstPort)
			if err != nil {
				return err
			}
			add(ch, at, v, append(append([]ruleset.Term{}, pre...), t...)...)
		}
		for _, pt := range s.SourcePorts {
			t, err := portTerms(at, pt, ruleset.SrcPort)
			if err != nil {
				return err
			}
			add(ch, at, v, append(append([]ruleset.Term{}, pre...), t...)...)
		}
		for _, pr := range s.Protocols {
			num, ok := ruleset.ProtoNumbers[pr.Value]
			if !ok {
				return fmt.Errorf("%s: protocol %q is not known", at, pr.Value)
			}
			add(ch, at, v, append(append([]ruleset.Term{}, pre...), ruleset.Single(ruleset.L4Proto, false, ruleset.NumValue(num)))...)
		}
		for _, i := range s.Includes {
			if err := walk(i.Service, seen); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(name, map[string]bool{})
}

// helperName is the kernel's name of a firewalld helper: "sip" for sip,
// "h323" for the H.323 helpers (Q.931, RAS, h323).
func helperName(n string) string {
	switch strings.ToLower(n) {
	case "q.931", "ras", "h323":
		return "h323"
	}
	return strings.ToLower(n)
}

// rich writes rich rule i of p.
func (b *rsBuilder) rich(ch *ruleset.Chain, p *XPolicy, i int) error {
	r := &p.Rules[i]
	where := fmt.Sprintf("%s: rule %d", p.File, i+1)
	var pre []ruleset.Term
	switch r.Family {
	case "ipv4":
		pre = append(pre, ruleset.Single(ruleset.NfProto, false, ruleset.NumValue(4)))
	case "ipv6":
		pre = append(pre, ruleset.Single(ruleset.NfProto, false, ruleset.NumValue(6)))
	}
	for _, s := range []struct {
		a *XAddr
		f ruleset.Field
	}{{r.Source, ruleset.SrcAddr}, {r.Destination, ruleset.DstAddr}} {
		if s.a == nil {
			continue
		}
		if s.a.MAC != "" {
			b.note(fmt.Sprintf("firewalld: %s: source mac is not modelled: the rule is left out", where))
			return nil
		}
		ps, err := b.c.Addrs(s.a)
		if err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		pre = append(pre, addrTerm(s.f, ps, s.a.Invert == "yes" || s.a.Invert == "true"))
	}
	if r.ForwardPort != nil || r.Masquerade != nil {
		return nil // prerouting, or NAT that is not modelled
	}
	var v ruleset.Verdict
	switch r.Action() {
	case "accept":
		v = verdict(ruleset.Accept)
	case "reject":
		v = verdict(ruleset.Reject)
	case "drop":
		v = verdict(ruleset.Drop)
	case "mark":
		b.note(fmt.Sprintf("firewalld: %s: mark is not modelled", where))
		return nil
	default:
		return nil // log or audit only
	}
	switch {
	case r.Service != nil:
		return b.service(ch, where, r.Service.Name, pre, v)
	case r.Port != nil:
		t, err := portTerms(where, *r.Port, ruleset.DstPort)
		if err != nil {
			return err
		}
		add(ch, where, v, append(pre, t...)...)
	case r.SourcePort != nil:
		t, err := portTerms(where, *r.SourcePort, ruleset.SrcPort)
		if err != nil {
			return err
		}
		add(ch, where, v, append(pre, t...)...)
	case r.Protocol != nil:
		n, ok := ruleset.ProtoNumbers[r.Protocol.Value]
		if !ok {
			return fmt.Errorf("%s: protocol %q is not known", where, r.Protocol.Value)
		}
		add(ch, where, v, append(pre, ruleset.Single(ruleset.L4Proto, false, ruleset.NumValue(n)))...)
	case r.ICMPBlock != nil || r.ICMPType != nil:
		b.note(fmt.Sprintf("firewalld: %s: ICMP rules are not modelled", where))
	default:
		add(ch, where, v, pre...)
	}
	return nil
}

// forwards writes the port forwards of a zone or policy into ch.
func (b *rsBuilder) forwards(ch *ruleset.Chain, p *XPolicy) error {
	one := func(where string, pre []ruleset.Term, fp *XForwardPort) error {
		t, err := portTerms(where, XPort{Port: fp.Port, Protocol: fp.Protocol}, ruleset.DstPort)
		if err != nil {
			return err
		}
		v := ruleset.Verdict{Kind: ruleset.Redirect}
		if fp.ToAddr != "" {
			a, err := netip.ParseAddr(fp.ToAddr)
			if err != nil {
				return fmt.Errorf("%s: forward-port to-addr %q: %v", where, fp.ToAddr, err)
			}
			v = ruleset.Verdict{Kind: ruleset.DNAT, To: a.Unmap()}
			fam := uint32(4)
			if a.Unmap().Is6() {
				fam = 6
			}
			pre = append(pre, ruleset.Single(ruleset.NfProto, false, ruleset.NumValue(fam)))
		}
		if fp.ToPort != "" {
			r, err := ParsePortRange(fp.ToPort)
			if err != nil {
				return fmt.Errorf("%s: forward-port to-port %q: %v", where, fp.ToPort, err)
			}
			if r.Lo != r.Hi {
				v.Why = "to a port range"
			}
			v.Port = r.Lo
		}
		add(ch, where, v, append(pre, t...)...)
		return nil
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.ForwardPort == nil {
			continue
		}
		where := fmt.Sprintf("%s: rule %d", p.File, i+1)
		var pre []ruleset.Term
		for _, s := range []struct {
			a *XAddr
			f ruleset.Field
		}{{r.Source, ruleset.SrcAddr}, {r.Destination, ruleset.DstAddr}} {
			if s.a == nil {
				continue
			}
			ps, err := b.c.Addrs(s.a)
			if err != nil {
				return fmt.Errorf("%s: %v", where, err)
			}
			pre = append(pre, addrTerm(s.f, ps, s.a.Invert == "yes" || s.a.Invert == "true"))
		}
		if err := one(where, pre, r.ForwardPort); err != nil {
			return err
		}
	}
	for i := range p.ForwardPorts {
		if err := one(p.File, nil, &p.ForwardPorts[i]); err != nil {
			return err
		}
	}
	return nil
}
