// Package fortigate writes the policy as a FortiOS CLI script (target
// "fortigate") and reads a FortiGate configuration back for the audit
// (format "fortigate": a backup, show full-configuration, or a CLI script).
//
// The script is for FortiOS 7.x in consolidated policy mode: one table
// "config firewall policy" holds IPv4 (srcaddr/dstaddr) and IPv6
// (srcaddr6/dstaddr6) policies. It holds, in this order:
//
//   - config firewall address / address6: one object per prefix
//     (ipmask; ipprefix for IPv6) or range (iprange), per DNS name (type
//     fqdn: the FortiGate resolves it itself, unless --resolve-names) and
//     per wildcard domain (type wildcard-fqdn, IPv4 only);
//   - config firewall addrgrp / addrgrp6: one group per host set of a
//     service and family that has more than one member;
//   - config firewall service custom: one service per flow and protocol,
//     tcp-portrange or udp-portrange ("lo-hi", space-separated,
//     "dst:src" where the flow names source ports);
//   - config firewall vip: one per port range of each port forward
//     (portforward enable, extip 0.0.0.0 on --wan-if, ports unchanged,
//     src-filter when the senders are addresses); config firewall vip6
//     likewise for extip --wan-ip6, the FortiGate's WAN address (a vip6
//     binds no interface; without --wan-ip6 IPv6 forwards are left out,
//     with a note); a later forward leaves out the ports an earlier one of
//     the same senders takes (the first wins; FortiOS refuses overlaps);
//   - config firewall policy: one policy per rule of the plan, from
//     --lan-if to --wan-if (outbound) or --wan-if to --lan-if (inbound,
//     the VIPs as destination), action accept, schedule always, its
//     comments naming service, flow and document line;
//   - the constraints as FortiOS commands (system settings, session-ttl,
//     ssl-ssh-profile exemptions) or, where the box must be asked first
//     (the SIP session helper's id), as comments.
//
// Wildcard domains are wildcard-fqdn addresses (IPv4 only), also for the
// flows the plan leaves to DNS-aware firewalls (wildcards only). Comment
// lines ("#", as in a backup's header) stand only outside config blocks;
// every object carries its flow in its comment field.
//
// Every object is named portolan-…, within FortiOS's limits, and a rerun
// gives the same names and policy IDs, so that pasting the script again
// updates the objects instead of adding new ones.
//
// No FortiOS runs here: the syntax is checked against Fortinet's CLI
// reference (the table in grammar_test.go gives each command's page), and
// the script is read back by this package's reader, whose verdicts a
// hand-written configuration's test states.
package fortigate

import (
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go4.org/netipx"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
)

func init() { target.Register(&Target{}) }

// Target is the FortiGate target. Its fields are its flags.
type Target struct {
	// WANIP6 is the FortiGate's IPv6 address on the WAN (--wan-ip6), the
	// extip of IPv6 port forwards: a vip6 binds no interface, so it
	// needs the address; without it IPv6 port forwards are left out.
	WANIP6 string
}

// Name is "fortigate".
func (Target) Name() string { return "fortigate" }

// Synopsis describes the output.
func (Target) Synopsis() string {
	return "FortiOS CLI script: addresses (fqdn, wildcard-fqdn, ipmask, iprange), groups, custom services, VIPs and policies portolan-*"
}

// Resolves is --resolve-names: without it names stay FQDN addresses that
// the FortiGate resolves.
func (Target) Resolves() bool { return target.ResolveNames }

// Flags adds the shared --resolve-names and --wan-ip6.
func (t *Target) Flags(fs *pflag.FlagSet) {
	target.ResolveNamesFlag(fs)
	fs.StringVar(&t.WANIP6, "wan-ip6", "", "the FortiGate's IPv6 address on --wan-if: IPv6 port forwards (vip6, which binds no interface) forward what arrives for it; without it they are left out")
}

// Documented limits (FortiOS 7.x CLI reference, see grammar_test.go).
const (
	MaxAddrName    = 79   // firewall address, address6, addrgrp, vip, service custom
	MaxPolicyName  = 35   // firewall policy name
	MaxIntfName    = 35   // srcintf, dstintf, extintf
	MaxComment     = 255  // comment of addresses, groups, services, VIPs
	MaxPolicyNotes = 1023 // comments of a policy
)

// Policy IDs are FNV-1a hashes of the policy's service, flow, family and
// direction within [PolicyIDBase, PolicyIDBase+PolicyIDSpan): the same
// plan gives the same IDs, and they stay below FortiManager's reserved
// range (1071741825 and up).
const (
	PolicyIDBase = 100000000
	PolicyIDSpan = 900000000
)

// SessionTTLBase is the first id of the session-ttl port entries the
// script writes (one per constraint and port range, in order).
const SessionTTLBase = 65001

// SSLExemptBase is the first id of the ssl-exempt entries it writes.
const SSLExemptBase = 9001

// SSLProfile is the SSL/SSH inspection profile the exemptions go into:
// FortiOS's editable factory deep-inspection profile.
const SSLProfile = "custom-deep-inspection"

// nameChar is what the script puts in object names: letters, digits,
// "-", "_" and ".".
func nameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.'
}

// CheckSite refuses what FortiOS firewall policies cannot say: host mode
// (the FortiGate's own traffic is local-in policy, not written here) and
// interface names FortiOS does not take.
func (t *Target) CheckSite(site policy.Site, opt target.Options) error {
	if t.WANIP6 != "" {
		if a, err := netip.ParseAddr(t.WANIP6); err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
			return fmt.Errorf("--wan-ip6 %q: not an IPv6 address", t.WANIP6)
		}
	}
	if site.Mode == policy.Host {
		return fmt.Errorf("--target fortigate writes gateway mode only: a FortiGate filters what it forwards with firewall policies; its own traffic (local-in policy) is not written; use --mode gateway")
	}
	if opt.ChainOnly {
		return fmt.Errorf("--chain-only is for nftables: a FortiOS script is pasted whole (its objects are named portolan-*)")
	}
	for _, f := range []struct{ flag, v string }{{"--lan-if", site.LANIf}, {"--wan-if", site.WANIf}} {
		if f.v == "" {
			continue
		}
		if len(f.v) > MaxIntfName || strings.ContainsAny(f.v, "\"\\ \t'") || strings.IndexFunc(f.v, func(r rune) bool { return r < 0x20 || r >= 0x7f }) >= 0 {
			return fmt.Errorf("%s %q: not a FortiOS interface or zone name (at most %d characters, no spaces, quotes or backslashes)", f.flag, f.v, MaxIntfName)
		}
	}
	return nil
}

// Address is one firewall address or address6 object.
type Address struct {
	Name    string
	Family  int
	Type    string // ipmask, iprange, fqdn, wildcard-fqdn (IPv6: ipprefix, iprange, fqdn)
	Value   string // "192.0.2.0 255.255.255.0", "lo-hi", a name, "*.x.com"
	Comment string
}

// Group is one addrgrp or addrgrp6.
type Group struct {
	Name    string
	Family  int
	Members []string
	Comment string
}

// Service is one firewall service custom.
type Service struct {
	Name    string
	Proto   string   // tcp or udp
	Ranges  []string // "5060", "10000-20000", "5060:1024-65535"
	Comment string
}

// VIP is one firewall vip or vip6 with port forwarding.
type VIP struct {
	Name      string
	Family    int
	ExtIntf   string // IPv4 only
	MappedIP  netip.Addr
	Proto     string
	Port      model.PortRange
	SrcFilter []string
	Comment   string
}

// Policy is one firewall policy.
type Policy struct {
	ID       uint32
	Name     string
	Family   int
	SrcIntf  string
	DstIntf  string
	Src, Dst []string
	Service  string
	Comments string
	// Flow lines for the comment lines above it.
	Above []string
}

// Config is what the script holds.
type Config struct {
	Addresses []*Address
	Groups    []*Group
	Services  []*Service
	VIPs      []*VIP
	Policies  []*Policy
}

type gen struct {
	t       *Target
	in      *target.Input
	cfg     Config
	names   map[string]string // object name -> what it holds (addresses, groups, VIPs share one namespace)
	addrs   map[string]*Address
	groups  map[string]*Group
	svcs    map[string]*Service
	pnames  map[string]string
	pids    map[uint32]bool
	vipsOf  map[string][]string // flow ref + family -> VIP names of its forward
	claimed []claim             // ports forwarded so far
	notes   []string
	stats   target.Stats
}

type claim struct {
	fam   int
	proto string
	iif   string
	ports model.PortSet
	m     policy.Match
}

// Build turns the input into the script's objects and the notes for stderr.
func (t *Target) Build(in *target.Input) (*Config, target.Result, error) {
	if err := t.CheckSite(in.Site, in.Options); err != nil {
		return nil, target.Result{}, err
	}
	g := &gen{in: in, t: t, names: map[string]string{}, addrs: map[string]*Address{}, groups: map[string]*Group{},
		svcs: map[string]*Service{}, pnames: map[string]string{}, pids: map[uint32]bool{}, vipsOf: map[string][]string{}}
	wild := wildcardFlows(in)
	for _, n := range in.Notes() {
		// Names stay fqdn addresses the FortiGate resolves: that they have
		// no address here is no news.
		if !target.ResolveNames && strings.HasPrefix(n, "warning: ") && strings.Contains(n, ": no address") {
			continue
		}
		if !wildcardNote(n, wild) {
			g.notes = append(g.notes, n)
		}
	}
	for i := range in.Rules {
		if err := g.rule(&in.Rules[i]); err != nil {
			return nil, target.Result{}, err
		}
	}
	for _, f := range wild {
		g.wildcardOnly(f)
	}
	if in.Site.LANIf == "" || in.Site.WANIf == "" {
		g.notes = append(g.notes, "--lan-if or --wan-if not given: the policies use interface \"any\" there; give the FortiGate's port or zone names (port1, wan1, internal…) for policies by interface pair")
	}
	for _, a := range g.cfg.Addresses {
		g.stats.Elements++
		if a.Type == "fqdn" || a.Type == "wildcard-fqdn" {
			g.stats.Names++
		}
	}
	g.stats.Sets = len(g.cfg.Groups)
	for _, s := range g.cfg.Services {
		g.stats.PortSets++
		g.stats.Ports += len(s.Ranges)
	}
	return &g.cfg, target.Result{Stats: g.stats, Notes: g.notes}, nil
}

// wildcardFlows are the outbound flows the plan skips because their
// remote side is only wildcard domains: FortiOS holds those
// (wildcard-fqdn), so the script writes them all the same.
func wildcardFlows(in *target.Input) []*resolve.Concrete {
	var out []*resolve.Concrete
	for _, s := range in.Skips {
		f := s.Flow
		if f.Direction == model.Outbound && len(f.Wildcards) > 0 && len(f.Wildcards) == len(f.Dest) && len(f.RemoteRoles) == 0 {
			out = append(out, f)
		}
	}
	return out
}

func wildcardNote(n string, fs []*resolve.Concrete) bool {
	for _, f := range fs {
		if strings.HasPrefix(n, "skipped: "+target.FlowRef(f)+": wildcard domains only") {
			return true
		}
	}
	return false
}

func famTag(fam int) string { return fmt.Sprintf("v%d", fam) }

// unique returns name, or name with a suffix, so that no two objects of
// one namespace share it; key says what the object holds, and the same
// key gets the same name back.
func unique(used map[string]string, name, key string, max int) (string, bool) {
	for i := 1; ; i++ {
		n := name
		if i > 1 {
			tail := fmt.Sprintf("-%d", i)
			n = strings.TrimRight(target.Truncate(name, max-len(tail)), "…") + tail
		}
		k, ok := used[n]
		if !ok {
			used[n] = key
			return n, true
		}
		if k == key {
			return n, false
		}
	}
}

// addrObjectName names the object of one prefix or range: the address
// as written, ":" as "." and "/" as "_" (FortiOS names take both, but
// these keep it a plain word), cut with a hash when too long.
func addrObjectName(text string) string {
	s := "portolan-" + strings.NewReplacer(":", ".", "/", "_").Replace(text)
	if len(s) <= MaxAddrName {
		return s
	}
	return target.ObjectName(MaxAddrName, nameChar, s)
}

func mask(p netip.Prefix) string {
	b := [4]byte{}
	for i := 0; i < p.Bits(); i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	return p.Masked().Addr().String() + " " + netip.AddrFrom4(b).String()
}

// address returns the object for one range of addresses.
func (g *gen) address(fam int, r netipx.IPRange, comment string) string {
	var a Address
	a.Family = fam
	if p, ok := r.Prefix(); ok {
		text := p.String()
		if fam == 4 {
			a.Type, a.Value = "ipmask", mask(p)
		} else {
			a.Type, a.Value = "ipprefix", p.String()
		}
		a.Name = addrObjectName(text)
	} else {
		a.Type, a.Value = "iprange", r.From().String()+"-"+r.To().String()
		a.Name = addrObjectName(a.Value)
	}
	return g.addObj(&a, comment)
}

func (g *gen) addObj(a *Address, comment string) string {
	key := fmt.Sprintf("addr %d %s %s", a.Family, a.Type, a.Value)
	if old, ok := g.addrs[key]; ok {
		return old.Name
	}
	a.Name, _ = unique(g.names, a.Name, key, MaxAddrName)
	a.Comment = target.Quotable("portolan: "+comment, MaxComment)
	g.addrs[key] = a
	g.cfg.Addresses = append(g.cfg.Addresses, a)
	return a.Name
}

// fqdn returns the fqdn address of name in family fam.
func (g *gen) fqdn(fam int, name, comment string) string {
	a := &Address{Family: fam, Type: "fqdn", Value: name, Name: target.ObjectName(MaxAddrName, nameChar, "portolan", "fqdn", name)}
	if fam == 6 {
		a.Name = target.ObjectName(MaxAddrName, nameChar, "portolan", "fqdn6", name)
	}
	return g.addObj(a, comment)
}

// wildcard returns the wildcard-fqdn address of a pattern ("*.x.com";
// a host-name pattern is widened to its domain, as the model says).
func (g *gen) wildcard(pattern, comment string) string {
	w := pattern
	if e, err := model.ParseEntry(pattern); err == nil && e.Kind == model.EntryGlob {
		w = "*." + strings.TrimPrefix(e.Widened(), "*.")
	}
	a := &Address{Family: 4, Type: "wildcard-fqdn", Value: w, Name: target.ObjectName(MaxAddrName, nameChar, "portolan", "wild", strings.TrimPrefix(w, "*."))}
	return g.addObj(a, comment)
}

// prefixes returns the objects of a list of prefixes.
func (g *gen) prefixes(fam int, ps []netip.Prefix, comment string) []string {
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p.Masked())
	}
	s, _ := b.IPSet()
	var out []string
	for _, r := range s.Ranges() {
		out = append(out, g.address(fam, r, comment))
	}
	return out
}

// group returns one name for members: the member itself, or a group.
func (g *gen) group(fam int, name string, members []string, comment string) string {
	if len(members) == 1 {
		return members[0]
	}
	key := fmt.Sprintf("grp %d %s", fam, strings.Join(members, " "))
	for _, gr := range g.cfg.Groups {
		if gr.Family == fam && slices.Equal(gr.Members, members) {
			return gr.Name
		}
	}
	n, _ := unique(g.names, name, key, MaxAddrName)
	gr := &Group{Name: n, Family: fam, Members: members, Comment: target.Quotable("portolan: "+comment, MaxComment)}
	g.cfg.Groups = append(g.cfg.Groups, gr)
	return n
}

// all is FortiOS's predefined address of every address (both families
// call it "all").
const all = "all"

// remote returns the objects of a rule's remote side; ok is false when
// it should hold addresses and has none (names not resolved, under
// --resolve-names).
func (g *gen) remote(r *policy.Rule) ([]string, bool, error) {
	_, _, any := target.RemoteSide(r)
	if any {
		return []string{all}, true, nil
	}
	sets, err := g.in.Remote(r)
	if err != nil {
		return nil, false, err
	}
	fam := r.Match.Family
	var out []string
	for _, s := range sets {
		what := fmt.Sprintf("%s host set %s: %s", s.Service, s.HostSet, strings.Join(s.FamilyEntries(), ", "))
		var members []string
		members = append(members, g.prefixes(fam, s.Literal, what)...)
		for _, n := range s.Names {
			if target.ResolveNames {
				var ps []netip.Prefix
				for _, a := range n.Answer.Addrs {
					ps = append(ps, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				}
				members = append(members, g.prefixes(fam, ps, what+" ("+n.Name+" "+s.Resolved()+")")...)
				continue
			}
			members = append(members, g.fqdn(fam, n.Name, what))
		}
		members = dedupe(members)
		if len(members) == 0 {
			continue
		}
		out = append(out, g.group(fam, target.ObjectName(MaxAddrName, nameChar, "portolan", s.Service, s.HostSet, famTag(fam)), members, what))
	}
	if fam == 4 && target.IsOutbound(r) {
		for _, w := range r.Flow.Wildcards {
			out = append(out, g.wildcard(w, target.FlowRef(r.Flow)+": "+w))
		}
	}
	return dedupe(out), len(out) > 0, nil
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// local returns the objects of a rule's local side: its prefixes, or all.
func (g *gen) local(r *policy.Rule) []string {
	ps := target.LocalSide(r)
	if len(ps) == 0 {
		return []string{all}
	}
	for _, p := range ps {
		if p.Bits() == 0 {
			return []string{all}
		}
	}
	return g.prefixes(r.Match.Family, ps, fmt.Sprintf("the site's side (%s, %s)", r.Flow.Local, r.Flow.Service))
}

// service returns the custom service of a flow's protocol and ports.
func (g *gen) service(f *resolve.Concrete, proto string, dst, src model.PortSet) string {
	var ranges []string
	for _, d := range dst.Strings() {
		if src.Empty() {
			ranges = append(ranges, d)
			continue
		}
		for _, s := range src.Strings() {
			ranges = append(ranges, d+":"+s)
		}
	}
	key := proto + " " + strings.Join(ranges, " ")
	if s, ok := g.svcs[key]; ok && strings.Contains(s.Comment, target.FlowRef(f)) {
		return s.Name
	}
	base := target.ObjectName(MaxAddrName, nameChar, "portolan", f.Service, f.ID, proto)
	name, fresh := unique(g.names, base, "svc "+key, MaxAddrName)
	if !fresh {
		return name
	}
	s := &Service{Name: name, Proto: proto, Ranges: ranges,
		Comment: target.Quotable(fmt.Sprintf("portolan %s %s: %s", target.FlowRef(f), target.SourceRef(f.Source), f.Purpose), MaxComment)}
	g.svcs[key] = s
	g.cfg.Services = append(g.cfg.Services, s)
	return name
}

func intf(s string) string {
	if s == "" {
		return "any"
	}
	return s
}

// policyName and policyID are stable: the flow, family and direction.
func (g *gen) policy(f *resolve.Concrete, fam int, dir string, p *Policy) {
	base := target.ObjectName(MaxPolicyName, nameChar, "portolan", f.Service, f.ID, famTag(fam))
	p.Name, _ = unique(g.pnames, base, fmt.Sprintf("%s/%s/%d/%s/%d", f.Service, f.ID, fam, dir, len(g.cfg.Policies)), MaxPolicyName)
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%s/%d/%s/%s", f.Service, f.ID, fam, dir, p.Name)
	id := PolicyIDBase + h.Sum32()%PolicyIDSpan
	for g.pids[id] {
		id = PolicyIDBase + (id-PolicyIDBase+1)%PolicyIDSpan
	}
	g.pids[id] = true
	p.ID = id
	p.Family = fam
	g.cfg.Policies = append(g.cfg.Policies, p)
	g.stats.Rules++
}

func (g *gen) rule(r *policy.Rule) error {
	m := r.Match
	f := r.Flow
	fam := m.Family
	ref := target.RuleComment(r)
	switch r.Hook {
	case policy.Prerouting:
		return g.forward(r)
	case policy.Forward:
	default:
		return fmt.Errorf("%s: a %s rule in gateway mode (this is a bug)", target.FlowRef(f), r.Hook)
	}
	rem, ok, err := g.remote(r)
	if err != nil {
		return err
	}
	if !ok {
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: IPv%d: its names have no IPv%d address (--resolve-names); regenerate once they resolve", target.FlowRef(f), fam, fam))
		return nil
	}
	svc := g.service(f, m.Proto, m.DstPorts, m.SrcPorts)
	p := &Policy{Service: svc, Above: g.in.FlowComments(r)}
	p.Comments = target.Quotable(fmt.Sprintf("portolan %s %s %s: %s", ref, f.Direction, f.Proto, f.Purpose), MaxPolicyNotes)
	if target.IsOutbound(r) {
		p.SrcIntf, p.DstIntf = intf(m.IIf), intf(m.OIf)
		p.Src, p.Dst = g.local(r), rem
		g.policy(f, fam, "out", p)
		return nil
	}
	vips := g.vipsOf[vipKey(r)]
	if len(vips) == 0 && fam == 6 && g.t.WANIP6 == "" {
		return nil // said by forward
	}
	if len(vips) == 0 {
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: IPv%d: its port forward is taken whole by an earlier one (FortiOS refuses overlapping VIPs); no policy", target.FlowRef(f), fam))
		return nil
	}
	p.SrcIntf, p.DstIntf = intf(m.IIf), intf(m.OIf)
	p.Src, p.Dst = rem, vips
	g.policy(f, fam, "in", p)
	return nil
}

func vipKey(r *policy.Rule) string {
	return fmt.Sprintf("%s %d %s %s", target.FlowRef(r.Flow), r.Match.Family, r.Match.Proto, r.Match.DstPorts)
}

// forward writes the VIPs of a port forward, one per port range, without
// the ports an earlier forward of overlapping sources took already: the
// plan's first forward wins, and FortiOS refuses overlapping VIPs.
func (g *gen) forward(r *policy.Rule) error {
	m := r.Match
	f := r.Flow
	if m.Family == 6 && g.t.WANIP6 == "" {
		g.notes = append(g.notes, fmt.Sprintf("skipped: %s: IPv6 port forward to %s: a vip6 binds no interface and needs the FortiGate's WAN address; pass --wan-ip6 ADDRESS (or give the %s a global address and allow it with a policy of your own)", target.FlowRef(f), r.DNAT, f.Local))
		return nil
	}
	ports := m.DstPorts
	for _, c := range g.claimed {
		if c.fam == m.Family && c.proto == m.Proto && c.iif == m.IIf && covers(c.m, m) {
			ports = ports.Subtract(c.ports)
		}
	}
	g.claimed = append(g.claimed, claim{fam: m.Family, proto: m.Proto, iif: m.IIf, ports: ports, m: m})
	if !ports.Equal(m.DstPorts) {
		g.notes = append(g.notes, fmt.Sprintf("%s: IPv%d %s %s: ports %s are forwarded by an earlier port forward (the first one wins, and FortiOS refuses overlapping VIPs): its VIPs leave them out", target.FlowRef(f), m.Family, m.Proto, m.DstPorts, m.DstPorts.Subtract(ports)))
	}
	var filter []string
	if _, names, any := target.RemoteSide(r); !any && len(names) == 0 {
		for _, e := range target.Elements(setOf(m.Src)) {
			filter = append(filter, e)
		}
	}
	rs := ports.Ranges()
	for i, pr := range rs {
		parts := []string{"portolan", f.Service, f.ID, famTag(m.Family), m.Proto}
		if len(rs) > 1 {
			parts = append(parts, fmt.Sprint(i+1))
		}
		name, _ := unique(g.names, target.ObjectName(MaxAddrName, nameChar, parts...), fmt.Sprintf("vip %s %d %s %d", vipKey(r), r.DNAT.BitLen(), r.DNAT, i), MaxAddrName)
		v := &VIP{Name: name, Family: m.Family, ExtIntf: intf(m.IIf), MappedIP: r.DNAT, Proto: m.Proto, Port: pr, SrcFilter: filter,
			Comment: target.Quotable(fmt.Sprintf("portolan %s: port forward to the %s", target.RuleComment(r), f.Local), MaxComment)}
		g.cfg.VIPs = append(g.cfg.VIPs, v)
		g.vipsOf[vipKey(r)] = append(g.vipsOf[vipKey(r)], name)
		g.stats.DNAT++
		g.stats.Rules++
	}
	return nil
}

func setOf(ps []netip.Prefix) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p.Masked())
	}
	s, _ := b.IPSet()
	return s
}

// covers reports whether forward a takes every source of forward b: then
// b's ports that a forwards are a's (a VIP with a narrower src-filter
// before a wider one leaves the wider one the rest of the sources).
func covers(a, b policy.Match) bool {
	if a.AnySrc() {
		return true
	}
	if b.AnySrc() || len(a.SrcNames) > 0 || len(b.SrcNames) > 0 {
		return false
	}
	sa := setOf(a.SrcAddrs())
	for _, p := range b.SrcAddrs() {
		if !sa.ContainsPrefix(p) {
			return false
		}
	}
	return true
}

// wildcardOnly writes the IPv4 policy of an outbound flow to wildcard
// domains only, which the plan leaves to DNS-aware firewalls.
func (g *gen) wildcardOnly(f *resolve.Concrete) {
	ports := f.Ports
	if !g.in.Options.AllAlternatives {
		ports = f.Preferred()
	}
	var src []netip.Prefix
	if f.LocalAddress != "" {
		if a, err := netip.ParseAddr(f.LocalAddress); err == nil {
			if !a.Unmap().Is4() {
				g.notes = append(g.notes, fmt.Sprintf("skipped: %s: wildcard domains %s: FortiOS has wildcard-fqdn addresses for IPv4 only, and the %s's address is IPv6", target.FlowRef(f), strings.Join(f.Wildcards, ", "), f.Local))
				return
			}
			src = []netip.Prefix{netip.PrefixFrom(a.Unmap(), 32)}
		}
	} else {
		for _, p := range g.in.Site.LAN {
			if p.Addr().Is4() {
				src = append(src, p)
			}
		}
		if len(g.in.Site.LAN) > 0 && len(src) == 0 {
			g.notes = append(g.notes, fmt.Sprintf("skipped: %s: wildcard domains: FortiOS has wildcard-fqdn addresses for IPv4 only, and --lan has no IPv4 network", target.FlowRef(f)))
			return
		}
	}
	var dst []string
	for _, w := range f.Wildcards {
		dst = append(dst, g.wildcard(w, target.FlowRef(f)+": "+w))
	}
	r := &policy.Rule{Flow: f, Hook: policy.Forward, Match: policy.Match{Family: 4, Proto: f.Proto, Src: src, DstPorts: ports, SrcPorts: f.SrcPorts}}
	p := &Policy{Service: g.service(f, f.Proto, ports, f.SrcPorts), Above: g.in.FlowComments(r)}
	p.Above = append(p.Above, "# "+target.OneLine("wildcard domains "+strings.Join(f.Wildcards, ", ")+": FortiOS learns their addresses from the DNS answers it sees (wildcard-fqdn), IPv4 only"))
	p.Comments = target.Quotable(fmt.Sprintf("portolan %s %s %s: %s", target.RuleComment(r), f.Direction, f.Proto, f.Purpose), MaxPolicyNotes)
	p.SrcIntf, p.DstIntf = intf(g.in.Site.LANIf), intf(g.in.Site.WANIf)
	p.Src, p.Dst = g.local(r), dst
	g.policy(f, 4, "out", p)
}

// Write writes the script.
func (t *Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	cfg, res, err := t.Build(in)
	if err != nil {
		return res, err
	}
	var b strings.Builder
	writeHeader(&b, in, res.Notes)
	cfg.write(&b, in, t)
	if err := writeConstraints(&b, in); err != nil {
		return res, err
	}
	_, err = io.WriteString(w, b.String())
	return res, err
}

func comment(b *strings.Builder, text string) {
	for _, l := range target.Wrap("# ", text, 100) {
		b.WriteString(l + "\n")
	}
}

func writeHeader(b *strings.Builder, in *target.Input, notes []string) {
	in.WriteHeader(b, "portolan rules for FortiGate (FortiOS 7.x CLI script, objects named portolan-*)")
	b.WriteString("#\n")
	comment(b, "Apply: paste into the CLI (System > CLI console, or ssh admin@fortigate) or upload as a script (System > Settings > Configuration scripts); lines starting with # are comments, as in the header of a configuration backup, and stand only outside config blocks. In a VDOM setup, enter the VDOM first (config vdom / edit NAME).")
	comment(b, fmt.Sprintf("Pasting again updates the same objects: names are stable, and policy IDs are a hash of service, flow, family and direction (%d-%d). New policies go to the end of the policy list: move them above any deny policy that would shadow them (config firewall policy / move ID before OTHER-ID).", PolicyIDBase, PolicyIDBase+PolicyIDSpan-1))
	comment(b, fmt.Sprintf("Policies: consolidated mode (FortiOS 7.x): IPv4 policies set srcaddr/dstaddr, IPv6 ones srcaddr6/dstaddr6. Outbound from %s to %s; port forwards are VIPs on %s (extip 0.0.0.0: whatever address arrives on that interface), with a policy from %s to %s whose destination is the VIP. No NAT is set: where the LAN uses private addresses, set nat enable on the outbound policies (keep set fixedport enable for SIP, whose providers need the source port kept).", intf(in.Site.LANIf), intf(in.Site.WANIf), intf(in.Site.WANIf), intf(in.Site.WANIf), intf(in.Site.LANIf)))
	if target.ResolveNames {
		comment(b, "Names: written as the addresses they resolve to here (--resolve-names); regenerate and paste again when they change.")
	} else {
		comment(b, "Names: written as fqdn addresses, which the FortiGate resolves itself (its DNS must answer for them); wildcard domains as wildcard-fqdn addresses, which it learns from the DNS answers it sees (IPv4 only). --resolve-names writes addresses instead.")
	}
	comment(b, "Undo: delete the policies named portolan-* first (config firewall policy / delete ID), then the VIPs, services, groups and addresses named portolan-*.")
	target.WriteNotes(b, notes)
	b.WriteString("\n")
}

func q(s string) string { return `"` + s + `"` }

func qs(xs []string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = q(x)
	}
	return strings.Join(out, " ")
}

func (c *Config) write(b *strings.Builder, in *target.Input, t *Target) {
	for _, fam := range []int{4, 6} {
		var as []*Address
		for _, a := range c.Addresses {
			if a.Family == fam {
				as = append(as, a)
			}
		}
		if len(as) > 0 {
			b.WriteString(map[int]string{4: "config firewall address\n", 6: "config firewall address6\n"}[fam])
			for _, a := range as {
				fmt.Fprintf(b, "    edit %s\n", q(a.Name))
				switch a.Type {
				case "ipmask":
					fmt.Fprintf(b, "        set type ipmask\n        set subnet %s\n", a.Value)
				case "ipprefix":
					fmt.Fprintf(b, "        set type ipprefix\n        set ip6 %s\n", a.Value)
				case "iprange":
					lo, hi, _ := strings.Cut(a.Value, "-")
					fmt.Fprintf(b, "        set type iprange\n        set start-ip %s\n        set end-ip %s\n", lo, hi)
				case "fqdn":
					fmt.Fprintf(b, "        set type fqdn\n        set fqdn %s\n", q(a.Value))
				case "wildcard-fqdn":
					fmt.Fprintf(b, "        set type wildcard-fqdn\n        set wildcard-fqdn %s\n", q(a.Value))
				}
				fmt.Fprintf(b, "        set comment %s\n    next\n", q(a.Comment))
			}
			b.WriteString("end\n\n")
		}
		var gs []*Group
		for _, g := range c.Groups {
			if g.Family == fam {
				gs = append(gs, g)
			}
		}
		if len(gs) > 0 {
			b.WriteString(map[int]string{4: "config firewall addrgrp\n", 6: "config firewall addrgrp6\n"}[fam])
			for _, g := range gs {
				fmt.Fprintf(b, "    edit %s\n        set member %s\n        set comment %s\n    next\n", q(g.Name), qs(g.Members), q(g.Comment))
			}
			b.WriteString("end\n\n")
		}
	}
	if len(c.Services) > 0 {
		b.WriteString("config firewall service custom\n")
		for _, s := range c.Services {
			fmt.Fprintf(b, "    edit %s\n        set protocol TCP/UDP/SCTP\n        set %s-portrange %s\n        set comment %s\n    next\n", q(s.Name), s.Proto, strings.Join(s.Ranges, " "), q(s.Comment))
		}
		b.WriteString("end\n\n")
	}
	for _, fam := range []int{4, 6} {
		var vs []*VIP
		for _, v := range c.VIPs {
			if v.Family == fam {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			continue
		}
		if fam == 6 {
			comment(b, "IPv6 port forwards: a vip6 binds no interface; it forwards what arrives for extip, the FortiGate's WAN address (--wan-ip6), on the VIP's ports.")
			b.WriteString("config firewall vip6\n")
		} else {
			b.WriteString("config firewall vip\n")
		}
		for _, v := range vs {
			fmt.Fprintf(b, "    edit %s\n", q(v.Name))
			if fam == 4 {
				fmt.Fprintf(b, "        set extintf %s\n        set extip 0.0.0.0\n", q(v.ExtIntf))
			} else {
				fmt.Fprintf(b, "        set extip %s\n", t.WANIP6)
			}
			fmt.Fprintf(b, "        set mappedip %s\n", q(v.MappedIP.String()))
			if len(v.SrcFilter) > 0 {
				fmt.Fprintf(b, "        set src-filter %s\n", qs(v.SrcFilter))
			}
			port := fmt.Sprint(v.Port.Lo)
			if v.Port.Hi != v.Port.Lo {
				port = fmt.Sprintf("%d-%d", v.Port.Lo, v.Port.Hi)
			}
			fmt.Fprintf(b, "        set portforward enable\n        set protocol %s\n        set extport %s\n        set mappedport %s\n", v.Proto, port, port)
			fmt.Fprintf(b, "        set comment %s\n    next\n", q(v.Comment))
		}
		b.WriteString("end\n\n")
	}
	if len(c.Policies) > 0 {
		// The flows' comment lines go before the table, not inside it: a
		// policy's own comments field names its flow.
		var order []string
		ids := map[string][]string{}
		blocks := map[string][]string{}
		for _, p := range c.Policies {
			k := strings.Join(p.Above, "\n")
			if _, ok := ids[k]; !ok {
				order = append(order, k)
				blocks[k] = p.Above
			}
			ids[k] = append(ids[k], fmt.Sprint(p.ID))
		}
		b.WriteString("# The policies, by flow:\n")
		for _, k := range order {
			b.WriteString("# policy " + strings.Join(ids[k], ", ") + ":\n")
			for _, l := range blocks[k] {
				b.WriteString("#   " + strings.TrimPrefix(l, "# ") + "\n")
			}
		}
		b.WriteString("config firewall policy\n")
		for _, p := range c.Policies {
			sa, da := "srcaddr", "dstaddr"
			if p.Family == 6 {
				sa, da = "srcaddr6", "dstaddr6"
			}
			fmt.Fprintf(b, "    edit %d\n        set name %s\n        set srcintf %s\n        set dstintf %s\n", p.ID, q(p.Name), q(p.SrcIntf), q(p.DstIntf))
			fmt.Fprintf(b, "        set %s %s\n        set %s %s\n", sa, qs(p.Src), da, qs(p.Dst))
			fmt.Fprintf(b, "        set action accept\n        set schedule \"always\"\n        set service %s\n", q(p.Service))
			fmt.Fprintf(b, "        set comments %s\n    next\n", q(p.Comments))
		}
		b.WriteString("end\n\n")
	}
}

// writeConstraints writes what FortiOS can do about each constraint:
// commands where they are safe to paste, comments where the box must be
// asked first.
func writeConstraints(b *strings.Builder, in *target.Input) error {
	if len(in.Constraints) == 0 {
		return nil
	}
	b.WriteString("# Constraints that are not ports, and what they mean for FortiGate:\n")
	alg, ttl, exempt := false, 0, 0
	for _, c := range in.Constraints {
		b.WriteString("#\n")
		switch c.Kind {
		case model.KindALGOff, model.KindNATTimeout, model.KindSSLInspectionOff, model.KindAllowByName:
			comment(b, target.ConstraintRef(c)+": "+c.Purpose)
		default:
			comment(b, target.ConstraintRef(c)+": "+target.ConstraintAction(c, "FortiGate"))
			continue
		}
		switch c.Kind {
		case model.KindALGOff:
			comment(b, "FortiOS handles SIP with the proxy-based VoIP ALG by default, and with the kernel SIP session helper once default-voip-alg-mode is kernel-helper-based: turn both off. Policies with a voip-profile use the ALG whatever this setting says: give these flows' policies none.")
			if !alg {
				b.WriteString("config system settings\n    set default-voip-alg-mode kernel-helper-based\nend\n")
				alg = true
			}
			comment(b, "Then remove the SIP session helper, whose id differs between boxes (often 13): run show system session-helper, find the entry with set name sip, and enter: config system session-helper / delete ID / end. Check with portolan audit --ruleset on a backup (show full-configuration).")
		case model.KindNATTimeout:
			ts, err := target.Timeouts(c)
			if err != nil {
				return err
			}
			for _, t := range ts {
				ports := constraintPorts(in, c, t.Proto)
				if ports.Empty() {
					comment(b, fmt.Sprintf("no %s port of the service's flows to set a session TTL for", t.Proto))
					continue
				}
				secs := int(t.Replied / time.Second)
				comment(b, fmt.Sprintf("%s sessions on ports %s live %ds idle (session-ttl port entries %d and up; FortiOS's UDP default is 180s).%s", t.Proto, ports, secs, SessionTTLBase+ttl, target.Keepalive(c)))
				b.WriteString("config system session-ttl\n    config port\n")
				proto := 17
				if t.Proto == model.TCP {
					proto = 6
				}
				for _, pr := range ports.Ranges() {
					fmt.Fprintf(b, "        edit %d\n            set protocol %d\n            set start-port %d\n            set end-port %d\n            set timeout %d\n        next\n", SessionTTLBase+ttl, proto, pr.Lo, pr.Hi, secs)
					ttl++
				}
				b.WriteString("    end\nend\n")
			}
		case model.KindSSLInspectionOff:
			var lines []string
			for _, h := range c.Hosts {
				e, err := model.ParseEntry(h)
				if err != nil {
					continue
				}
				switch e.Kind {
				case model.EntryWildcard, model.EntryGlob:
					w := h
					if e.Kind == model.EntryGlob {
						w = "*." + strings.TrimPrefix(e.Widened(), "*.")
					}
					name := target.ObjectName(MaxAddrName, nameChar, "portolan", "wild", strings.TrimPrefix(w, "*."))
					lines = append(lines, fmt.Sprintf("config firewall wildcard-fqdn custom\n    edit %s\n        set wildcard-fqdn %s\n    next\nend\n", q(name), q(w)),
						fmt.Sprintf("                set type wildcard-fqdn\n                set wildcard-fqdn %s\n", q(name)))
				case model.EntryName:
					name := target.ObjectName(MaxAddrName, nameChar, "portolan", "fqdn", h)
					lines = append(lines, fmt.Sprintf("config firewall address\n    edit %s\n        set type fqdn\n        set fqdn %s\n    next\nend\n", q(name), q(h)),
						fmt.Sprintf("                set type address\n                set address %s\n", q(name)))
				}
			}
			if len(lines) == 0 {
				comment(b, "no host of it that an SSL exemption can name; exempt its addresses in your SSL/SSH inspection profile")
				continue
			}
			comment(b, fmt.Sprintf("Exempted from deep inspection in profile %q (entries %d and up); if your policies use another profile, put its name in the edit line.", SSLProfile, SSLExemptBase+exempt))
			for i := 0; i < len(lines); i += 2 {
				b.WriteString(lines[i])
			}
			fmt.Fprintf(b, "config firewall ssl-ssh-profile\n    edit %s\n        config ssl-exempt\n", q(SSLProfile))
			for i := 1; i < len(lines); i += 2 {
				fmt.Fprintf(b, "            edit %d\n%s            next\n", SSLExemptBase+exempt, lines[i])
				exempt++
			}
			b.WriteString("        end\n    next\nend\n")
		case model.KindAllowByName:
			if target.ResolveNames {
				comment(b, "--resolve-names wrote addresses: regenerate and paste again when the names change, or drop --resolve-names to let the FortiGate resolve fqdn addresses itself.")
			} else {
				comment(b, "the names are fqdn addresses: the FortiGate resolves them itself.")
			}
		}
	}
	return nil
}

// constraintPorts are the ports of protocol proto the constraint names,
// or those of the service's flows it applies to.
func constraintPorts(in *target.Input, c resolve.Constraint, proto string) model.PortSet {
	var out model.PortSet
	if len(c.Ports) > 0 {
		for _, p := range c.Ports {
			if rs, err := model.ParsePortList(p); err == nil {
				out = out.Union(model.NewPortSet(rs...))
			}
		}
		return out
	}
	for i := range in.Rules {
		r := &in.Rules[i]
		if r.Hook != policy.Prerouting && r.Match.Proto == proto && in.ConstraintApplies(c, r.Flow) {
			out = out.Union(r.Match.DstPorts)
		}
	}
	return out
}
