// Package asa writes the policy as Cisco ASA (9.x) CLI for configuration
// mode, and reads an ASA's `show running-config` back for the audit.
//
// The writer: a network object group per host set and family (hosts,
// masks, IPv6 prefixes, and fqdn v4/v6 objects for names, which the ASA
// resolves itself), service object groups where a rule has several port
// ranges, one extended access list per direction (portolan-INSIDE-in on
// the LAN interface, portolan-OUTSIDE-in on the WAN interface) bound with
// access-group, port forwards as object NAT (`nat (inside,outside) static
// interface service udp 5060 5060`, one object per port) or, for a port
// range, twice NAT with a service object of that range, and the
// constraints as the ASA's own commands (`no inspect sip` in the global
// policy, `timeout udp`). Comments are lines that start with a colon. A
// rerun replaces: the lists are cleared and the groups removed first.
//
// The reader (read.go, ruleset.go) turns a running configuration into the
// audit's chains with the ASA's semantics: interface access lists, the
// global access list, security levels where an interface has none, out
// access lists, object and twice NAT as DNAT (see Config.Ruleset).
//
// No ASA runs here and Cisco publishes no validator: the output is checked
// against the documented grammar of every command it uses (the table in
// grammar_test.go names the pages), read back by the reader, and audited.
package asa

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
)

func init() { target.Register(Target{}) }

// Target is the Cisco ASA target.
type Target struct{}

// Name is "asa".
func (Target) Name() string { return "asa" }

// Synopsis describes the output.
func (Target) Synopsis() string {
	return "Cisco ASA CLI for configuration mode: objects and groups, extended access lists, access-group, object NAT for port forwards"
}

// Resolves is --resolve-names: without it names stay fqdn objects, which
// the ASA resolves itself.
func (Target) Resolves() bool { return target.ResolveNames }

// Flags adds --resolve-names.
func (Target) Flags(fs *pflag.FlagSet) { target.ResolveNamesFlag(fs) }

// CheckSite refuses host mode: an ASA's access lists filter what crosses
// it; the box has no host rules for a service of its own to open.
func (Target) CheckSite(site policy.Site, _ target.Options) error {
	if site.Mode != policy.Gateway {
		return fmt.Errorf("--target asa writes gateway rules only: an ASA's access lists filter traffic through the box, and there are no host rules for a service on the ASA itself; use --mode gateway, or a host target (nftables, windows) on the machine")
	}
	lan, wan := cmpOr(site.LANIf, DefaultLANIf), cmpOr(site.WANIf, DefaultWANIf)
	if lan == wan {
		return fmt.Errorf("--lan-if and --wan-if are both %q: an ASA's LAN and internet are two interfaces (nameifs), each with its own access list", lan)
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Limits of the ASA, from the "Objects for Access Control" and access
// list chapters of the ASA 9.x firewall configuration guide and the
// command reference (grammar_test.go cites the pages).
const (
	// NameMax is the longest object or object-group name.
	NameMax = 64
	// RemarkMax is the longest access-list remark.
	RemarkMax = 100
	// DescMax is the longest object description.
	DescMax = 200
	// DefaultLANIf and DefaultWANIf are the nameifs used when --lan-if
	// and --wan-if are not given.
	DefaultLANIf = "inside"
	DefaultWANIf = "outside"
	// UDPTimeoutDefault is the ASA's default UDP idle timeout; MinUDPTimeout
	// the least it takes.
	UDPTimeoutDefault = 2 * time.Minute
	MinUDPTimeout     = time.Minute
	// ConnTimeoutDefault is the default idle timeout of TCP connections
	// (timeout conn).
	ConnTimeoutDefault = time.Hour
)

// NameChar reports whether r may stand in an object name: letters,
// digits and . _ - (a subset of the documented .!@#$%^&()-_{}, without the
// characters that other tools treat specially).
func NameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// ObjName is a stable object name: "portolan-" and the parts.
func ObjName(parts ...string) string {
	return target.ObjectName(NameMax, NameChar, append([]string{"portolan"}, parts...)...)
}

// cliText makes s safe for one line of pasted ASA CLI text (a remark, a
// description, a comment): one line, printable ASCII only (the CLI would
// take "?" as a request for help), at most max bytes.
func cliText(s string, max int) string {
	s = ascii.Replace(target.OneLine(s))
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '?':
			b.WriteByte('.')
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.TrimSpace(b.String())
	if len(out) > max {
		out = strings.TrimSpace(out[:max])
	}
	return out
}

var ascii = strings.NewReplacer("—", "-", "–", "-", "‘", "'", "’", "'", "“", `"`, "”", `"`, "…", "...",
	"ä", "ae", "ö", "oe", "ü", "ue", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue", "ß", "ss",
	"á", "a", "à", "a", "â", "a", "ã", "a", "é", "e", "ê", "e", "í", "i", "ó", "o", "ô", "o", "õ", "o", "ú", "u", "ç", "c",
	"Á", "A", "É", "E", "Í", "I", "Ó", "O", "Ú", "U", "Ç", "C")

// object is an object or group definition: its lines before the
// description, the description (to which the flows that use the object
// are added when it is written), and its lines after.
type object struct {
	name, head, desc, tail string
}

type natKey struct {
	fam   int
	proto string
}

type gen struct {
	in           *target.Input
	lanIf, wanIf string
	aclLAN       string
	aclWAN       string

	objects []*object           // object and group definitions, in order
	users   map[string][]string // object name → the flows (service/flow) whose entries use it
	defined map[string]bool
	aceLAN  []string
	aceWAN  []string
	nat     []string
	claimed map[natKey][]claim
	notes   []string
	stats   target.Stats
	timeout map[string]time.Duration
}

type claim struct {
	r  model.PortRange
	to netip.Addr
	by string
}

// Write writes the configuration. Its comments are lines that start with
// a colon, the ASA CLI's comment.
func (t Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	if err := t.CheckSite(in.Site, in.Options); err != nil {
		return target.Result{}, err
	}
	g := &gen{in: in, lanIf: in.Site.LANIf, wanIf: in.Site.WANIf, defined: map[string]bool{}, claimed: map[natKey][]claim{}}
	if g.lanIf == "" {
		g.lanIf = DefaultLANIf
	}
	if g.wanIf == "" {
		g.wanIf = DefaultWANIf
	}
	g.aclLAN = ObjName(g.lanIf, "in")
	g.aclWAN = ObjName(g.wanIf, "in")
	g.notes = in.Notes()
	if in.Options.ChainOnly {
		g.notes = append(g.notes, "--chain-only: an ASA has no chains; the access lists below are portolan's own, bound with access-group")
	}
	for i := range in.Rules {
		if err := g.rule(&in.Rules[i]); err != nil {
			return target.Result{}, err
		}
	}
	g.wildcards()
	var b strings.Builder
	g.write(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return target.Result{}, err
	}
	return target.Result{Stats: g.stats, Notes: g.notes}, nil
}

// wildcards notes the wildcard domains of flows that have rules: an fqdn
// object holds one exact name.
func (g *gen) wildcards() {
	seen := map[*resolve.Concrete]bool{}
	for i := range g.in.Rules {
		f := g.in.Rules[i].Flow
		if seen[f] || len(f.Wildcards) == 0 {
			continue
		}
		seen[f] = true
		g.notes = append(g.notes, fmt.Sprintf("left out: %s: wildcard domains %s: an ASA fqdn object holds one exact name; allow them on a web proxy (--target squid) or a DNS-aware firewall",
			target.FlowRef(f), strings.Join(f.Wildcards, ", ")))
	}
}

func comment(b *strings.Builder, text string) {
	for _, l := range target.Wrap(": ", cliText(text, 1<<20), 100) {
		b.WriteString(l + "\n")
	}
}

// addrArg writes prefixes as one ACL address argument: any4/any6 for
// none, host A, A MASK, an IPv6 prefix, or an object group of them.
func (g *gen) addrArg(ps []netip.Prefix, fam int, group string, desc string) string {
	switch len(ps) {
	case 0:
		if fam == 6 {
			return "any6"
		}
		return "any4"
	case 1:
		return prefixArg(ps[0])
	}
	if !g.defined[group] {
		g.defined[group] = true
		var b strings.Builder
		for _, p := range ps {
			fmt.Fprintf(&b, " network-object %s\n", prefixArg(p))
		}
		g.objects = append(g.objects, &object{name: group, head: fmt.Sprintf("no object-group network %s\nobject-group network %s\n", group, group), desc: desc, tail: b.String()})
		g.stats.Sets++
		g.stats.Elements += len(ps)
	}
	return "object-group " + group
}

// prefixArg is host A, A MASK, or an IPv6 prefix.
func prefixArg(p netip.Prefix) string {
	p = p.Masked()
	if p.IsSingleIP() {
		return "host " + p.Addr().String()
	}
	if p.Addr().Is4() {
		return p.Addr().String() + " " + mask4(p.Bits())
	}
	return p.String()
}

func mask4(bits int) string {
	var m uint32
	if bits > 0 {
		m = ^uint32(0) << (32 - bits)
	}
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}

// portArg is eq P or range LO HI.
func portArg(r model.PortRange) string {
	if r.Lo == r.Hi {
		return fmt.Sprintf("eq %d", r.Lo)
	}
	return fmt.Sprintf("range %d %d", r.Lo, r.Hi)
}

// remoteArgs returns the ACL address arguments of the rule's remote side:
// one per host set (an object group of its addresses and fqdn objects),
// or any4/any6.
func (g *gen) remoteArgs(r *policy.Rule) ([]string, error) {
	fam := r.Match.Family
	sets, err := g.in.Remote(r)
	if err != nil {
		return nil, err
	}
	if sets == nil {
		return []string{g.addrArg(nil, fam, "", "")}, nil
	}
	var out []string
	for _, s := range sets {
		name := ObjName(s.Service, s.HostSet, fmt.Sprintf("v%d", fam))
		if g.defined[name] {
			g.use(name, r)
			out = append(out, "object-group "+name)
			continue
		}
		var entries []string
		for _, p := range s.Literal {
			entries = append(entries, prefixArg(p))
		}
		for _, n := range s.Names {
			if target.ResolveNames {
				if len(n.Answer.Addrs) == 0 {
					g.notes = append(g.notes, fmt.Sprintf("left out: %s: name %s has no IPv%d address (--resolve-names); %s", target.FlowRef(r.Flow), n.Name, fam, g.in.WhyUnresolved(n.Name)))
				}
				for _, a := range n.Answer.Addrs {
					entries = append(entries, "host "+a.Unmap().String())
				}
				continue
			}
			obj := ObjName("fqdn", fmt.Sprintf("v%d", fam), n.Name)
			if !g.defined[obj] {
				g.defined[obj] = true
				g.objects = append(g.objects, &object{name: obj, head: fmt.Sprintf("object network %s\n fqdn v%d %s\n", obj, fam, n.Name),
					desc: fmt.Sprintf("%s host set %s, resolved by the ASA", s.Service, s.HostSet)})
				g.stats.Names++
			}
			entries = append(entries, "object "+obj)
		}
		if len(entries) == 0 {
			continue
		}
		slices.Sort(entries)
		entries = slices.Compact(entries)
		g.defined[name] = true
		var b strings.Builder
		for _, e := range entries {
			fmt.Fprintf(&b, " network-object %s\n", e)
		}
		g.objects = append(g.objects, &object{name: name, head: fmt.Sprintf("no object-group network %s\nobject-group network %s\n", name, name),
			desc: fmt.Sprintf("%s host set %s, IPv%d: %s", s.Service, s.HostSet, fam, strings.Join(s.FamilyEntries(), " ")), tail: b.String()})
		g.use(name, r)
		g.stats.Sets++
		g.stats.Elements += len(entries)
		out = append(out, "object-group "+name)
	}
	return out, nil
}

// use records that rule r's entries use object name.
func (g *gen) use(name string, r *policy.Rule) {
	if g.users == nil {
		g.users = map[string][]string{}
	}
	ref := target.FlowRef(r.Flow)
	if !slices.Contains(g.users[name], ref) {
		g.users[name] = append(g.users[name], ref)
	}
}

// service returns the protocol argument and the port arguments of an ACE
// (after the source, after the destination): inline for one range each,
// else a service object group.
func (g *gen) service(r *policy.Rule) (proto, sport, dport string) {
	m := r.Match
	sr, dr := m.SrcPorts.Ranges(), m.DstPorts.Ranges()
	if len(sr) <= 1 && len(dr) <= 1 {
		proto = m.Proto
		if len(sr) == 1 {
			sport = " " + portArg(sr[0])
		}
		if len(dr) == 1 {
			dport = " " + portArg(dr[0])
		}
		return
	}
	name := ObjName(r.Flow.Service, r.Flow.ID, m.Proto)
	if !g.defined[name] {
		g.defined[name] = true
		var b strings.Builder
		srcs := []string{""}
		if len(sr) > 0 {
			srcs = nil
			for _, s := range sr {
				srcs = append(srcs, " source "+portArg(s))
			}
		}
		dsts := []string{""}
		if len(dr) > 0 {
			dsts = nil
			for _, d := range dr {
				dsts = append(dsts, " destination "+portArg(d))
			}
		}
		for _, s := range srcs {
			for _, d := range dsts {
				fmt.Fprintf(&b, " service-object %s%s%s\n", m.Proto, s, d)
			}
		}
		g.objects = append(g.objects, &object{name: name, head: fmt.Sprintf("no object-group service %s\nobject-group service %s\n", name, name),
			desc: target.RuleComment(r), tail: b.String()})
		g.stats.PortSets++
		g.stats.Ports += len(srcs) * len(dsts)
	}
	return "object-group " + name, "", ""
}

func (g *gen) rule(r *policy.Rule) error {
	switch r.Hook {
	case policy.Prerouting:
		return g.forward(r)
	case policy.Forward:
	default:
		return fmt.Errorf("%s: hook %s: the ASA target writes gateway rules only", target.FlowRef(r.Flow), r.Hook)
	}
	m := r.Match
	fam := m.Family
	remotes, err := g.remoteArgs(r)
	if err != nil {
		return err
	}
	if len(remotes) == 0 {
		return nil // every name left out, noted
	}
	outbound := target.IsOutbound(r)
	local := target.LocalSide(r)
	var localArg string
	if outbound {
		localArg = g.addrArg(local, fam, ObjName("lan", fmt.Sprintf("v%d", fam)), "the site's networks (--lan)")
	} else {
		localArg = g.addrArg(local, fam, ObjName(r.Flow.Service, r.Flow.ID, "local", fmt.Sprintf("v%d", fam)), target.RuleComment(r))
	}
	proto, sport, dport := g.service(r)
	acl := &g.aceLAN
	name := g.aclLAN
	if !outbound {
		acl, name = &g.aceWAN, g.aclWAN
	}
	*acl = append(*acl, fmt.Sprintf("access-list %s remark %s", name, cliText(target.RuleComment(r), RemarkMax)))
	for _, rem := range remotes {
		src, dst := localArg, rem
		if !outbound {
			src, dst = rem, localArg
		}
		*acl = append(*acl, fmt.Sprintf("access-list %s extended permit %s %s%s %s%s", name, proto, src, sport, dst, dport))
		g.stats.Rules++
	}
	return nil
}

// forward writes the port forward of a Prerouting rule: an object NAT per
// port, a twice NAT per range, each port taken once per family and
// protocol (the first forward in the plan's order wins, as in the plan).
func (g *gen) forward(r *policy.Rule) error {
	m := r.Match
	if m.Proto != model.TCP && m.Proto != model.UDP {
		return fmt.Errorf("%s: a port forward of %s: ASA static NAT with a service takes tcp, udp or sctp", target.FlowRef(r.Flow), m.Proto)
	}
	k := natKey{m.Family, m.Proto}
	left := m.DstPorts
	for _, c := range g.claimed[k] {
		taken := left.Intersect(model.NewPortSet(c.r))
		if taken.Empty() {
			continue
		}
		left = left.Subtract(taken)
		if c.to != r.DNAT {
			g.notes = append(g.notes, fmt.Sprintf("port forward %s %s/%s on %s already goes to %s (%s): the ASA holds one static mapping per interface port; %s does not get it",
				taken, m.Proto, target.FlowRef(r.Flow), g.wanIf, c.to, c.by, r.DNAT))
		}
	}
	mapped := "interface"
	suffix := ""
	if m.Family == 6 {
		mapped, suffix = "interface ipv6", "v6"
	}
	desc := cliText(target.RuleComment(r), DescMax)
	for _, pr := range left.Ranges() {
		g.claimed[k] = append(g.claimed[k], claim{r: pr, to: r.DNAT, by: target.FlowRef(r.Flow)})
		g.stats.Rules++
		g.stats.DNAT++
		if pr.Lo == pr.Hi {
			obj := ObjName(r.Flow.Service, r.Flow.ID, m.Proto, fmt.Sprint(pr.Lo), suffix)
			g.nat = append(g.nat, fmt.Sprintf("object network %s\n host %s\n description %s\n nat (%s,%s) static %s service %s %d %d\n",
				obj, r.DNAT, desc, g.lanIf, g.wanIf, mapped, m.Proto, pr.Lo, pr.Lo))
			continue
		}
		host := ObjName(r.Flow.Service, r.Flow.Local, "host", suffix)
		svc := ObjName(r.Flow.Service, r.Flow.ID, m.Proto, fmt.Sprintf("%d-%d", pr.Lo, pr.Hi))
		var b strings.Builder
		if !g.defined[host] {
			g.defined[host] = true
			fmt.Fprintf(&b, "object network %s\n host %s\n description %s\n", host, r.DNAT, cliText(fmt.Sprintf("%s %s: the real address of twice NAT port ranges", r.Flow.Service, r.Flow.Local), DescMax))
		}
		if !g.defined[svc] {
			g.defined[svc] = true
			fmt.Fprintf(&b, "object service %s\n service %s source range %d %d\n description %s\n", svc, m.Proto, pr.Lo, pr.Hi, desc)
		}
		fmt.Fprintf(&b, "nat (%s,%s) source static %s %s service %s %s description %s\n", g.lanIf, g.wanIf, host, mapped, svc, svc, desc)
		g.nat = append(g.nat, b.String())
	}
	return nil
}

func (g *gen) write(b *strings.Builder) {
	in := g.in
	for _, l := range in.Header("portolan rules for Cisco ASA") {
		if strings.HasPrefix(l, "command: ") {
			b.WriteString(": " + cliText(l, 1<<20) + "\n")
			continue
		}
		comment(b, l)
	}
	b.WriteString(":\n")
	comment(b, fmt.Sprintf("Paste in configuration mode (configure terminal), then write memory. LAN interface (nameif) %s, WAN interface %s (--lan-if, --wan-if; defaults inside and outside).", g.lanIf, g.wanIf))
	comment(b, fmt.Sprintf("A rerun replaces: the ASA appends access-list lines to an existing list and adds network-object lines to an existing group, so the access lists are cleared first (clear configure access-list, which also unbinds them until access-group below binds them again: for the seconds of the paste, %s falls back to its security level) and each group is removed before it is defined (no object-group: on the first paste the ASA answers that it does not exist, which is harmless). An object holds one host, fqdn and nat line: entering it again replaces them. Twice NAT lines (port ranges) are refused as duplicates when unchanged; remove changed ones by hand (show running-config nat | include portolan), and the objects of port forwards a rerun no longer writes (no object network NAME).", g.lanIf))
	comment(b, fmt.Sprintf("access-group binds one inbound access list per interface: it replaces any list of yours on %s and %s. To keep yours, copy the access-list lines below into it instead (before its denies) and leave out the access-group lines.", g.lanIf, g.wanIf))
	comment(b, "Gateway only: the access lists filter traffic through the ASA, which is stateful (replies pass). Source NAT (dynamic PAT of the LAN to the outside interface) stays yours. Port forwards are static interface NAT, and the WAN access list permits the real (untranslated) address, as ASA 8.3 and later require.")
	if !target.ResolveNames && g.stats.Names > 0 {
		comment(b, "Names are fqdn objects that the ASA resolves itself: it needs a DNS server (dns domain-lookup INTERFACE, dns server-group DefaultDNS, name-server ADDRESS); until a name resolves, its entries match nothing. --resolve-names writes addresses instead.")
	}
	g.writeConstraints(b)
	if len(g.notes) > 0 {
		b.WriteString(":\n: Not in the configuration, and why:\n")
		for _, n := range g.notes {
			for _, l := range target.Wrap(":   ", cliText(n, 1<<20), 100) {
				b.WriteString(l + "\n")
			}
		}
	}
	b.WriteString(":\n")
	for _, acl := range []struct {
		name string
		aces []string
	}{{g.aclLAN, g.aceLAN}, {g.aclWAN, g.aceWAN}} {
		fmt.Fprintf(b, "clear configure access-list %s\n", acl.name)
	}
	for _, o := range g.objects {
		desc := o.desc
		if u := g.users[o.name]; len(u) > 0 {
			desc += "; used by " + strings.Join(u, ", ")
		}
		if desc = cliText(desc, 1<<20); len(desc) > DescMax {
			desc = strings.TrimSpace(desc[:DescMax-3]) + "..."
		}
		fmt.Fprintf(b, "%s description %s\n%s", o.head, desc, o.tail)
	}
	for _, acl := range []struct {
		name, ifname, what string
		aces               []string
	}{{g.aclLAN, g.lanIf, "outbound flows, from the LAN", g.aceLAN}, {g.aclWAN, g.wanIf, "inbound flows to the port forwards' real addresses", g.aceWAN}} {
		if len(acl.aces) == 0 {
			// Standalone, as the plan: what is not accepted is dropped,
			// whatever the security levels would allow.
			comment(b, fmt.Sprintf("No %s: %s only denies, as its implicit deny would; without it, the security levels decide (from a higher level to a lower one allowed). Leave out its access-group to keep yours.", acl.what, acl.name))
			fmt.Fprintf(b, "access-list %s remark portolan: no flow of these services\n", acl.name)
			fmt.Fprintf(b, "access-list %s extended deny ip any any\n", acl.name)
		} else {
			comment(b, fmt.Sprintf("%s: %s (first match; the implicit deny at its end drops the rest)", acl.name, acl.what))
		}
		for _, l := range acl.aces {
			b.WriteString(l + "\n")
		}
		fmt.Fprintf(b, "access-group %s in interface %s\n", acl.name, acl.ifname)
	}
	if len(g.nat) > 0 {
		comment(b, fmt.Sprintf("Port forwards: static NAT from the %s interface's address to the real host, ports unchanged; object NAT takes one port per object, twice NAT a range.", g.wanIf))
		for _, n := range g.nat {
			b.WriteString(n)
		}
	}
	g.writeConstraintCommands(b)
	b.WriteString("end\n")
}

// constraint commands -------------------------------------------------------

// inspections are the ASA inspection engines an alg-off constraint turns
// off, by the flow app they stand for.
var inspections = map[string][]string{
	"sip":  {"sip"},
	"h323": {"h323 h225", "h323 ras"},
}

func (g *gen) algCommands(c resolve.Constraint) []string {
	var out []string
	for _, app := range c.Apps {
		out = append(out, inspections[app]...)
	}
	if len(c.Apps) == 0 {
		out = append(out, "sip")
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// udpTimeout is the timeout udp a nat-timeout constraint asks for: at
// least its minimum, never below the ASA's default (this never lowers
// it) nor its least value.
func udpTimeout(min time.Duration) time.Duration {
	return max(min, UDPTimeoutDefault, MinUDPTimeout).Round(time.Second)
}

func hms(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}

// action says what constraint c means for the ASA, for the header.
func (g *gen) action(c resolve.Constraint) string {
	switch c.Kind {
	case model.KindALGOff:
		var cmds []string
		for _, i := range g.algCommands(c) {
			cmds = append(cmds, "no inspect "+i)
		}
		return fmt.Sprintf("%s — the ASA inspects SIP and H.323 by default (class inspection_default of policy-map global_policy); below: %s.", c.Purpose, strings.Join(cmds, ", "))
	case model.KindNATTimeout:
		min, err := target.MinTimeout(c)
		if err != nil {
			return c.Purpose
		}
		var parts []string
		if len(c.Proto) == 0 || slices.Contains(c.Proto, model.UDP) {
			parts = append(parts, "timeout udp "+hms(udpTimeout(min)))
		}
		if slices.Contains(c.Proto, model.TCP) {
			parts = append(parts, "timeout conn "+hms(max(min, ConnTimeoutDefault)))
		}
		return fmt.Sprintf("%s — below: %s (idle timeouts of every connection and translation; never below the ASA's defaults, so this only raises them: leave it out where show running-config timeout shows more).%s", c.Purpose, strings.Join(parts, ", "), target.Keepalive(c))
	case model.KindSSLInspectionOff:
		return fmt.Sprintf("%s — the ASA itself does not decrypt TLS. Where a FirePOWER (SFR) module or a Firepower decryption policy inspects it, exempt %s there (Do not decrypt); that lives outside this configuration.", c.Purpose, target.Hosts(c))
	case model.KindAllowByName:
		if target.ResolveNames {
			return fmt.Sprintf("%s — --resolve-names wrote the addresses at generation; rerun when they change, or leave the flag out for fqdn objects the ASA resolves itself.", c.Purpose)
		}
		return fmt.Sprintf("%s — the names are fqdn objects, resolved by the ASA itself.", c.Purpose)
	}
	return target.ConstraintAction(c, "Cisco ASA")
}

// writeConstraints writes, as comments, what each constraint asks of the ASA.
func (g *gen) writeConstraints(b *strings.Builder) {
	if len(g.in.Constraints) == 0 {
		return
	}
	b.WriteString(":\n: Constraints that are not ports, and what they mean for the ASA:\n")
	for _, c := range g.in.Constraints {
		for _, l := range target.Wrap(":   ", cliText(target.ConstraintRef(c)+": "+g.action(c), 1<<20), 100) {
			b.WriteString(l + "\n")
		}
	}
}

func (g *gen) setMax(kind string, d time.Duration) {
	if g.timeout == nil {
		g.timeout = map[string]time.Duration{}
	}
	g.timeout[kind] = max(g.timeout[kind], d)
}

func (g *gen) writeConstraintCommands(b *strings.Builder) {
	var algs []string
	algRefs := map[string][]string{}
	var timeouts []string
	tref := map[string][]string{}
	for _, c := range g.in.Constraints {
		ref := target.ConstraintRef(c)
		switch c.Kind {
		case model.KindALGOff:
			for _, i := range g.algCommands(c) {
				if _, ok := algRefs[i]; !ok {
					algs = append(algs, i)
				}
				algRefs[i] = append(algRefs[i], ref)
			}
		case model.KindNATTimeout:
			min, err := target.MinTimeout(c)
			if err != nil {
				continue
			}
			if len(c.Proto) == 0 || slices.Contains(c.Proto, model.UDP) {
				timeouts = append(timeouts, "udp")
				tref["udp"] = append(tref["udp"], ref)
				g.setMax("udp", udpTimeout(min))
			}
			if slices.Contains(c.Proto, model.TCP) {
				timeouts = append(timeouts, "conn")
				tref["conn"] = append(tref["conn"], ref)
				g.setMax("conn", max(min, ConnTimeoutDefault))
			}
		}
	}
	if len(algs) > 0 {
		comment(b, "ALGs off: the default global policy inspects these protocols and rewrites their payload.")
		b.WriteString("policy-map global_policy\n class inspection_default\n")
		for _, i := range algs {
			for _, l := range target.Wrap("  : ", cliText(strings.Join(algRefs[i], "; "), 1<<20), 100) {
				b.WriteString(l + "\n")
			}
			fmt.Fprintf(b, "  no inspect %s\n", i)
		}
		b.WriteString(" exit\nexit\n")
	}
	slices.Sort(timeouts)
	for _, t := range slices.Compact(timeouts) {
		comment(b, strings.Join(tref[t], "; "))
		fmt.Fprintf(b, "timeout %s %s\n", t, hms(g.timeout[t]))
	}
}
