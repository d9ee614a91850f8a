// Package firewalld writes the policy as a firewalld configuration tree
// (target "firewalld") and reads such a tree back (Read).
//
// The tree holds one service per flow (services/portolan-SERVICE-FLOW.xml:
// its destination ports and protocol, its description naming service,
// flow and document line, never a <helper>), one ipset per address list
// of more than one prefix (ipsets/portolan-*.xml, hash:net, one family),
// and the policies that bind them with rich rules:
//
//   - host mode: portolan-in, from the zone of --zone (default public) to
//     HOST, and portolan-out, from HOST to ANY with target REJECT, which
//     accepts IPv6 neighbour discovery too;
//   - gateway mode: portolan-fwd, from the LAN zone (--lan-zone, default
//     internal) to the internet zone (--wan-zone, default external), and
//     portolan-dnat, from the internet zone to ANY, whose rich rules
//     forward ports; firewalld accepts forwarded packets it DNATed itself
//     (ct status dnat), so port forwards need no rule of their own in the
//     forward path.
//
// The zones themselves are left as they are: the policies' target
// CONTINUE hands whatever they do not accept to the zone. Every file is
// named portolan-*, so removing those files and reloading undoes it.
// Without -o, Write prints the equivalent firewall-cmd --permanent
// commands.
package firewalld

import (
	"crypto/sha256"
	"encoding/binary"
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

func init() {
	target.Register(&Target{Zone: "public", LANZone: "internal", WANZone: "external"})
}

// Target writes firewalld configuration. Its fields are its flags.
type Target struct {
	Zone    string // host mode: the zone whose traffic to the machine is accepted
	LANZone string // gateway mode: the zone of the LAN
	WANZone string // gateway mode: the zone of the internet
}

// Name is "firewalld".
func (*Target) Name() string { return "firewalld" }

// Synopsis describes the output.
func (*Target) Synopsis() string {
	return "firewalld services, ipsets and policies portolan-* (a tree with -o DIR, else firewall-cmd --permanent commands)"
}

// Resolves is true: firewalld has no DNS names, names become addresses.
func (*Target) Resolves() bool { return true }

// Flags adds --zone, --lan-zone and --wan-zone.
func (t *Target) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&t.Zone, "zone", "public", "host mode: the firewalld zone whose traffic to this machine the rules accept")
	fs.StringVar(&t.LANZone, "lan-zone", "internal", "gateway mode: the firewalld zone of the LAN")
	fs.StringVar(&t.WANZone, "wan-zone", "external", "gateway mode: the firewalld zone of the internet")
}

// Policy names.
const (
	PolicyIn   = "portolan-in"
	PolicyOut  = "portolan-out"
	PolicyFwd  = "portolan-fwd"
	PolicyDNAT = "portolan-dnat"
)

// Prefix starts the name of every object the target writes.
const Prefix = "portolan-"

// IPSetMaxName is the longest ipset name firewalld takes.
const IPSetMaxName = 32

// maxZoneName is the longest zone name firewalld takes.
const maxZoneName = 17

// Service is one firewalld service: one flow's protocol and destination
// ports.
type Service struct {
	Name        string
	Short       string
	Description string
	Proto       string
	Ports       []model.PortRange
}

// IPSet is one firewalld ipset of type hash:net.
type IPSet struct {
	Name        string
	Family      int // 4 or 6
	Description string
	Entries     []netip.Prefix
}

// Side is one side of a rich rule: an address, an ipset, or any (both
// empty).
type Side struct {
	Address netip.Prefix
	IPSet   string
}

// Any reports whether the side matches every address.
func (s Side) Any() bool { return !s.Address.IsValid() && s.IPSet == "" }

// Rule is one rich rule: accept a service, or forward one port range.
type Rule struct {
	Family   int
	Src, Dst Side
	Service  string
	// ICMPType, when set, is an ICMP type the rule accepts.
	ICMPType string
	// A port forward, when ToAddr is valid: Proto Port to ToAddr, port
	// unchanged.
	Proto  string
	Port   model.PortRange
	ToAddr netip.Addr
	// Comment names the flows the rule stands for.
	Comment string
}

// Policy is one firewalld policy.
type Policy struct {
	Name        string
	Short       string
	Description string
	Target      string // CONTINUE, ACCEPT, DROP, REJECT
	Ingress     []string
	Egress      []string
	Rules       []Rule
}

// Tree is what the target writes.
type Tree struct {
	Services []*Service
	IPSets   []*IPSet
	Policies []*Policy
}

type gen struct {
	t       *Target
	in      *target.Input
	tree    Tree
	svcs    map[string]*Service // by flow, proto and ports
	svcName map[string]bool
	sets    map[string]*IPSet // by family and entries
	setName map[string]bool
	pols    map[string]*Policy
	notes   []string
	stats   target.Stats
}

func validZone(s string) bool {
	if s == "" || len(s) > maxZoneName {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (t *Target) check() error {
	for _, z := range []struct{ flag, v string }{{"--zone", t.Zone}, {"--lan-zone", t.LANZone}, {"--wan-zone", t.WANZone}} {
		if !validZone(z.v) {
			return fmt.Errorf("%s %q: not a firewalld zone name (letters, digits, _ and -, at most %d)", z.flag, z.v, maxZoneName)
		}
	}
	if t.LANZone == t.WANZone {
		return fmt.Errorf("--lan-zone and --wan-zone are both %q: a policy joins two different zones", t.LANZone)
	}
	return nil
}

// Build turns the input into the tree and the notes for stderr.
func (t *Target) Build(in *target.Input) (*Tree, target.Result, error) {
	if err := t.check(); err != nil {
		return nil, target.Result{}, err
	}
	g := &gen{t: t, in: in, svcs: map[string]*Service{}, svcName: map[string]bool{}, sets: map[string]*IPSet{}, setName: map[string]bool{}, pols: map[string]*Policy{}, notes: in.Notes()}
	if in.Site.Mode == policy.Host {
		g.policy(PolicyIn, "CONTINUE", []string{t.Zone}, []string{"HOST"}, "flows started from outside to this machine, from zone "+t.Zone)
		g.policy(PolicyOut, "REJECT", []string{"HOST"}, []string{"ANY"}, "flows this machine starts; everything else it starts is rejected but IPv6 neighbour discovery")
		// IPv6 needs neighbour discovery out, which conntrack does not
		// track (firewalld's allow-host-ipv6 policy lets it in).
		for _, icmp := range []string{"neighbour-solicitation", "neighbour-advertisement", "router-solicitation"} {
			g.pols[PolicyOut].Rules = append(g.pols[PolicyOut].Rules, Rule{Family: 6, ICMPType: icmp, Comment: "IPv6 neighbour discovery"})
		}
	} else {
		g.policy(PolicyFwd, "CONTINUE", []string{t.LANZone}, []string{t.WANZone}, "flows the LAN (zone "+t.LANZone+") starts to the internet (zone "+t.WANZone+")")
		g.policy(PolicyDNAT, "CONTINUE", []string{t.WANZone}, []string{"ANY"}, "port forwards from the internet (zone "+t.WANZone+") to the LAN")
	}
	srcPorts := map[string]bool{}
	for i := range in.Rules {
		r := &in.Rules[i]
		if !r.Match.SrcPorts.Empty() && !srcPorts[target.FlowRef(r.Flow)] {
			srcPorts[target.FlowRef(r.Flow)] = true
			g.notes = append(g.notes, fmt.Sprintf("%s: source ports %s are not matched: firewalld matches a service's source ports instead of its destination ports, never both together, so the rule opens destination ports %s from any source port", target.FlowRef(r.Flow), r.Match.SrcPorts, r.Match.DstPorts))
		}
		g.rule(r)
	}
	if in.Site.Mode == policy.Gateway && (in.Site.LANIf != "" || in.Site.WANIf != "") {
		g.notes = append(g.notes, fmt.Sprintf("interfaces are matched by zone: put %s in zone %s and %s in zone %s (firewall-cmd --permanent --zone=%s --change-interface=%s)", orAny(in.Site.LANIf), t.LANZone, orAny(in.Site.WANIf), t.WANZone, t.LANZone, orAny(in.Site.LANIf)))
	}
	if p := g.pols[PolicyDNAT]; p != nil && len(p.Rules) == 0 {
		g.tree.Policies = slices.DeleteFunc(g.tree.Policies, func(q *Policy) bool { return q == p })
	}
	for _, s := range g.tree.IPSets {
		g.stats.Sets++
		g.stats.Elements += len(s.Entries)
	}
	return &g.tree, target.Result{Stats: g.stats, Notes: g.notes}, nil
}

func orAny(s string) string {
	if s == "" {
		return "(the LAN/WAN interface)"
	}
	return s
}

func (g *gen) policy(name, tgt string, ingress, egress []string, desc string) {
	p := &Policy{Name: name, Short: "portolan " + strings.TrimPrefix(name, Prefix), Target: tgt, Ingress: ingress, Egress: egress, Description: "portolan: " + desc}
	g.pols[name] = p
	g.tree.Policies = append(g.tree.Policies, p)
}

func (g *gen) rule(r *policy.Rule) {
	m := r.Match
	ref := target.RuleComment(r)
	src, okS := g.side(r, m.SrcAddrs(), m.AnySrc(), m.SrcNames, "s")
	dst, okD := g.side(r, m.DstAddrs(), m.AnyDst(), m.DstNames, "d")
	if !okS || !okD {
		var names []string
		for _, n := range append(slices.Clone(m.SrcNames), m.DstNames...) {
			names = append(names, n.Name)
		}
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: IPv%d %s rule: %s have no IPv%d address yet; regenerate once they resolve", target.FlowRef(r.Flow), m.Family, r.Hook, strings.Join(names, ", "), m.Family))
		return
	}
	switch r.Hook {
	case policy.Prerouting:
		p := g.pols[PolicyDNAT]
		for _, pr := range m.DstPorts.Ranges() {
			p.Rules = append(p.Rules, Rule{Family: m.Family, Src: src, Dst: dst, Proto: m.Proto, Port: pr, ToAddr: r.DNAT, Comment: ref})
			g.stats.Rules++
			g.stats.DNAT++
		}
		return
	case policy.Forward:
		if r.Flow.Direction == model.Inbound {
			// The port forward's packets: firewalld accepts what it
			// DNATed itself (ct status dnat) in the forward path.
			return
		}
	}
	name := map[policy.Hook]string{policy.Input: PolicyIn, policy.Output: PolicyOut, policy.Forward: PolicyFwd}[r.Hook]
	p := g.pols[name]
	if p == nil {
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: a %s rule has no place in %s mode", target.FlowRef(r.Flow), r.Hook, g.in.Site.Mode))
		return
	}
	svc := g.service(r)
	p.Rules = append(p.Rules, Rule{Family: m.Family, Src: src, Dst: dst, Service: svc.Name, Comment: ref})
	g.stats.Rules++
}

// side is one side of a rule: any, one address, or an ipset; ok is false
// when it should hold addresses and has none (names not resolved yet).
func (g *gen) side(r *policy.Rule, addrs []netip.Prefix, any bool, names []resolve.NameAddrs, which string) (Side, bool) {
	if any {
		return Side{}, true
	}
	var b netipx.IPSetBuilder
	for _, p := range addrs {
		b.AddPrefix(p.Masked())
	}
	set, _ := b.IPSet()
	ps := set.Prefixes()
	if len(ps) == 0 {
		return Side{}, false
	}
	for _, p := range ps {
		if p.Bits() == 0 {
			return Side{}, true // the whole family
		}
	}
	if len(ps) == 1 && len(names) == 0 {
		return Side{Address: ps[0]}, true
	}
	return Side{IPSet: g.ipset(r, r.Match.Family, ps, names, which).Name}, true
}

func (g *gen) ipset(r *policy.Rule, fam int, ps []netip.Prefix, names []resolve.NameAddrs, which string) *IPSet {
	var key strings.Builder
	fmt.Fprintf(&key, "%d", fam)
	for _, p := range ps {
		key.WriteString(" " + p.String())
	}
	what := target.RuleComment(r)
	if len(names) > 0 {
		ns := &target.AddrSet{Names: names}
		what += " (addresses of " + strings.Join(ns.NameList(), ", ") + " " + ns.Resolved() + "; regenerate to refresh)"
	}
	if s, ok := g.sets[key.String()]; ok {
		if !strings.Contains(s.Description, target.FlowRef(r.Flow)+" ") {
			s.Description += "; also " + what
		}
		return s
	}
	desc := "portolan: " + what
	sum := sha256.Sum256([]byte(key.String()))
	tail := fmt.Sprintf("-%s%d-%06x", which, fam, binary.BigEndian.Uint32(sum[:4])>>8)
	base := Prefix + ident(r.Flow.Service+"-"+r.Flow.ID)
	if len(base)+len(tail) > IPSetMaxName {
		base = strings.TrimRight(base[:IPSetMaxName-len(tail)], "-")
	}
	name := base + tail
	for i := 2; g.setName[name]; i++ {
		name = fmt.Sprintf("%s%s%d", base[:len(base)-1], tail, i)
	}
	s := &IPSet{Name: name, Family: fam, Description: desc, Entries: ps}
	g.setName[name] = true
	g.sets[key.String()] = s
	g.tree.IPSets = append(g.tree.IPSets, s)
	return s
}

// ident keeps letters, digits, "-" and "_" of s, the rest becoming "-".
func ident(s string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			return c
		}
		return '-'
	}, s)
}

func (g *gen) service(r *policy.Rule) *Service {
	f := r.Flow
	key := target.FlowRef(f) + " " + r.Match.Proto + " " + r.Match.DstPorts.String()
	if s, ok := g.svcs[key]; ok {
		return s
	}
	base := Prefix + ident(f.Service+"-"+f.ID)
	name := base
	for i := 2; g.svcName[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	head := fmt.Sprintf("%s (%s %s, %s", target.FlowRef(f), f.Direction, f.Proto, f.Necessity)
	if f.Feature != "" {
		head += ", feature " + f.Feature
	}
	head += "), " + target.SourceRef(f.Source) + ": " + f.Purpose
	s := &Service{Name: name, Short: "portolan " + target.FlowRef(f), Description: target.OneLine(head), Proto: r.Match.Proto, Ports: r.Match.DstPorts.Ranges()}
	g.svcName[name] = true
	g.svcs[key] = s
	g.tree.Services = append(g.tree.Services, s)
	g.stats.PortSets++
	g.stats.Ports += len(s.Ports)
	return s
}

// header is the output's header as "# " comment lines: what made it, how
// to apply and undo it, the constraints and the notes.
func (g *gen) header(tree bool) string {
	in, t := g.in, g.t
	var b strings.Builder
	in.WriteHeader(&b, "portolan rules for firewalld (policies, services and ipsets named portolan-*)")
	b.WriteString("#\n")
	if in.Site.Mode == policy.Host {
		comment(&b, fmt.Sprintf("Host mode: policy %s accepts the flows started from outside into zone %s (the zone's own services stay as they are; whatever the policy does not accept, the zone decides: with --zone drop bound to the interface, only the plan's flows come in). Policy %s accepts the flows this machine starts and IPv6 neighbour discovery, and rejects every other one (loopback stays open).", PolicyIn, t.Zone, PolicyOut))
	} else {
		comment(&b, fmt.Sprintf("Gateway mode: policy %s accepts the flows from zone %s to zone %s; forwarding between zones that no policy accepts is rejected. Policy %s forwards ports from zone %s; firewalld accepts the forwarded packets itself (ct status dnat).", PolicyFwd, t.LANZone, t.WANZone, PolicyDNAT, t.WANZone))
	}
	if tree {
		comment(&b, "Apply: copy the tree's services/, ipsets/ and policies/ into /etc/firewalld/ (after removing the portolan-*.xml files of an earlier run), check with firewall-cmd --check-config, then firewall-cmd --reload. Undo: rm /etc/firewalld/services/portolan-*.xml /etc/firewalld/ipsets/portolan-*.xml /etc/firewalld/policies/portolan-*.xml, then firewall-cmd --reload.")
	} else {
		comment(&b, "Apply: run this script as root (sh FILE); it deletes the portolan-* objects of an earlier run, creates the new ones with firewall-cmd --permanent and reloads. Undo: delete every policy, service and ipset named portolan-* (the script's first lines do that) and reload.")
	}
	comment(&b, "firewalld has no DNS names: names are resolved at generation into the ipsets (their descriptions say which); regenerate and apply again when they change.")
	in.WriteConstraints(&b, "firewalld", g.action)
	target.WriteNotes(&b, g.notes)
	return b.String()
}

func comment(b *strings.Builder, text string) {
	for _, l := range target.Wrap("# ", text, 100) {
		b.WriteString(l + "\n")
	}
}

// action says what constraint c means for firewalld.
func (g *gen) action(c resolve.Constraint) string {
	switch c.Kind {
	case model.KindALGOff:
		return fmt.Sprintf("%s — the portolan-* services carry no <helper>, so firewalld attaches no conntrack helper for these flows. Do not add firewalld's stock service sip (or h323, Q.931, RAS) to a zone or policy: their <helper> turns the kernel's ALG on. Check with firewall-cmd --list-all-zones and --list-all-policies that none is listed, and portolan audit --ruleset /etc/firewalld.", c.Purpose)
	case model.KindNATTimeout:
		ts, err := target.Timeouts(c)
		if err != nil || len(ts) == 0 {
			return c.Purpose
		}
		var sysctl []string
		for _, t := range ts {
			sysctl = append(sysctl, t.Sysctl())
		}
		return fmt.Sprintf("%s — firewalld sets no per-flow conntrack timeout: %s (every flow of the machine, e.g. in /etc/sysctl.d/).%s", c.Purpose, strings.Join(sysctl, "; "), target.Keepalive(c))
	case model.KindAllowByName:
		return fmt.Sprintf("%s — firewalld matches addresses: the names are resolved at generation into ipsets; regenerate and apply again when they change.", c.Purpose)
	}
	return target.ConstraintAction(c, "firewalld")
}

// WriteTree returns the configuration tree.
func (t *Target) WriteTree(in *target.Input) ([]target.File, target.Result, error) {
	tree, res, err := t.Build(in)
	if err != nil {
		return nil, res, err
	}
	g := &gen{t: t, in: in, notes: res.Notes}
	head := g.header(true)
	var files []target.File
	for _, s := range tree.Services {
		files = append(files, target.File{Path: "services/" + s.Name + ".xml", Data: []byte(s.XML())})
	}
	for _, s := range tree.IPSets {
		files = append(files, target.File{Path: "ipsets/" + s.Name + ".xml", Data: []byte(s.XML())})
	}
	for _, p := range tree.Policies {
		files = append(files, target.File{Path: "policies/" + p.Name + ".xml", Data: []byte(p.XML(head))})
	}
	return files, res, nil
}

// Write writes the firewall-cmd --permanent commands that make the same
// tree, as a shell script.
func (t *Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	tree, res, err := t.Build(in)
	if err != nil {
		return res, err
	}
	g := &gen{t: t, in: in, notes: res.Notes}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	b.WriteString(g.header(false))
	b.WriteString("\nset -e\n")
	b.WriteString("# The portolan-* objects of an earlier run go first (policies before the services and ipsets they use).\n")
	for _, kind := range []string{"policy", "service", "ipset"} {
		plural := map[string]string{"policy": "policies", "service": "services", "ipset": "ipsets"}[kind]
		fmt.Fprintf(&b, "for o in $(firewall-cmd --permanent --get-%s); do case $o in %s*) firewall-cmd --permanent --delete-%s=\"$o\" >/dev/null;; esac; done\n", plural, Prefix, kind)
	}
	for _, c := range tree.Commands() {
		b.WriteString(c + "\n")
	}
	b.WriteString("firewall-cmd --reload\n")
	_, err = io.WriteString(w, b.String())
	return res, err
}
