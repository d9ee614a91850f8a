package pfxml

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/internal/lazyre"
)

// Table is the table the chains of a configuration stand in.
const Table = "pf"

// MaxAliasDepth bounds aliases of aliases.
const MaxAliasDepth = 16

// maxAlternatives bounds the rules one configuration rule becomes when
// its aliases mix host names and addresses on both sides.
const maxAlternatives = 1024

// Looks reports whether data is a config.xml of the product (its root
// element), from the first kilobytes.
func (p Product) Looks(data []byte) bool {
	r, ok := rootName(data)
	return ok && r == p.Root
}

// LooksSection reports whether data is one section of a config.xml as
// pfSense's area backup writes it: root <filter>, <nat> or <aliases>.
func LooksSection(data []byte) bool {
	r, ok := rootName(data)
	return ok && (r == "filter" || r == "nat" || r == "aliases")
}

var rootRE = lazyre.New(`^<([A-Za-z_][A-Za-z0-9_.-]*)[\s>/]`)

// rootName finds the first element's name past the declaration and
// comments, in the first 64 KiB.
func rootName(data []byte) (string, bool) {
	if len(data) > 64<<10 {
		data = data[:64<<10]
	}
	s := strings.TrimPrefix(string(data), "\ufeff")
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		switch {
		case strings.HasPrefix(s, "<?"):
			i := strings.Index(s, "?>")
			if i < 0 {
				return "", false
			}
			s = s[i+2:]
		case strings.HasPrefix(s, "<!--"):
			i := strings.Index(s, "-->")
			if i < 0 {
				return "", false
			}
			s = s[i+3:]
		case strings.HasPrefix(s, "<!"):
			i := strings.Index(s, ">")
			if i < 0 {
				return "", false
			}
			s = s[i+1:]
		default:
			m := rootRE.FindStringSubmatch(s)
			if m == nil {
				return "", false
			}
			return m[1], true
		}
	}
}

// Read parses a config.xml of the product, or one section of it, into the
// audit's chains (see Ruleset).
func (p Product) Read(name string, data []byte) (*ruleset.Ruleset, error) {
	root, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	return p.Ruleset(name, root)
}

type aliasDef struct {
	name    string
	typ     string
	entries []string
	line    int
}

type ifaceDef struct {
	dev        string       // the device (em1)
	descr      string       // the name the GUI shows (VOICE), when set
	v4, v6     netip.Prefix // the interface's static address and subnet
	dyn4, dyn6 string       // how it gets an address otherwise: dhcp, pppoe, track6…
}

type reader struct {
	p         Product
	name      string
	aliases   map[string]*aliasDef
	ifaces    map[string]ifaceDef
	ifaceNode map[string]*Node
	groups    map[string][]string // interface groups: their members
	mvc       *Node               // OPNsense's OPNsense/Firewall/Filter/rules
	hasAl     bool                // the file has an aliases section
	rs        *ruleset.Ruleset
	noted     map[string]bool
	intern    ruleset.Interner
}

func (b *reader) note(s string) {
	if b.noted == nil {
		b.noted = map[string]bool{}
	}
	if !b.noted[s] {
		b.noted[s] = true
		b.rs.Notes = append(b.rs.Notes, s)
	}
}

// Ruleset turns a parsed config.xml into the audit's chains, with pf's
// semantics as pfSense and OPNsense generate its rules:
//
//   - a packet that belongs to a connection pf passed (keep state, the
//     default of every pass rule) passes both ways: replies and later
//     packets are accepted first, as pf does before any rule;
//   - inbound on an interface (chain pf_in, on the forward hook): port
//     forwards whose filter rule association is "pass" (rdr pass) first,
//     then floating rules with quick in order, then the interface rules
//     (all quick: first match; interface groups' before the
//     interfaces' own), then OPNsense's registered port-forward
//     rules, then floating rules without quick (pf's last match, read
//     here in reverse order), then the default deny rule;
//   - outbound on an interface (chain pf_out): floating rules of
//     direction out or any, quick ones first, then pass out (the default
//     pass out rule both products generate);
//   - port forwards (<nat><rule>) are rdr rules in chain pf_rdr on the
//     prerouting hook, first match, before filtering: filter rules see
//     the forwarded address and port;
//   - interfaces are matched by their names in the configuration (lan,
//     wan, opt1), by their devices where <interfaces> names them (em1) and
//     by their descriptions (VOICE): audit with --lan-if lan --wan-if wan,
//     or with the devices or descriptions;
//   - aliases are resolved (nested ones too); host names in host or
//     network aliases are DNS names the audit resolves (--hosts first);
//     lan, wan, opt1 as networks are the interface's static subnet, lanip
//     its address; what the file does not say is an unknown condition.
//
// OPNsense's Firewall > Rules (new), OPNsense/Firewall/Filter/rules, are
// read too, by sequence, each in the class OPNsense gives it (several
// interfaces: floating), after the legacy rules of that class.
//
// Disabled rules are skipped; rules to or from the firewall itself
// ("This Firewall", (self)) are left out of the forward path they never
// match, with a note; schedules, tags, OS matches, URL and GeoIP aliases
// are unknown conditions. Outbound NAT changes sources, not what passes:
// it is noted, not modelled.
func (p Product) Ruleset(name string, root *Node) (*ruleset.Ruleset, error) {
	b := &reader{p: p, name: name, aliases: map[string]*aliasDef{}, ifaces: map[string]ifaceDef{}, ifaceNode: map[string]*Node{},
		rs: &ruleset.Ruleset{Format: ruleset.Format(p.Name), Families: []int{4, 6}}}
	var filter, nat *Node
	switch root.Name {
	case p.Root:
		filter, nat = root.Child("filter"), root.Child("nat")
		if err := b.readAliases(root.Child("aliases")); err != nil {
			return nil, err
		}
		if err := b.readAliases(root.Path("OPNsense", "Firewall", "Alias", "aliases")); err != nil {
			return nil, err
		}
		b.mvc = root.Path("OPNsense", "Firewall", "Filter", "rules")
		if err := b.readInterfaces(root.Child("interfaces")); err != nil {
			return nil, err
		}
		for _, g := range root.Path("ifgroups").All("ifgroupentry") {
			if b.groups == nil {
				b.groups = map[string][]string{}
			}
			b.groups[g.Get("ifname")] = strings.Fields(g.Get("members"))
		}
	case "filter":
		filter = root
		b.note(fmt.Sprintf("%s: only the filter section: no aliases, interfaces or port forwards are read", name))
	case "nat":
		nat = root
		b.note(fmt.Sprintf("%s: only the NAT section: no filter rule passes anything", name))
	case "aliases":
		if err := b.readAliases(root); err != nil {
			return nil, err
		}
		b.note(fmt.Sprintf("%s: only the aliases section: no rule", name))
	default:
		return nil, fmt.Errorf("%s: line %d: root element <%s>, want <%s> (or a section: <filter>, <nat>, <aliases>)", name, root.Line, root.Name, p.Root)
	}
	if err := b.build(filter, nat); err != nil {
		return nil, err
	}
	return b.rs, nil
}

func (b *reader) errf(n *Node, format string, args ...any) error {
	return fmt.Errorf("%s: line %d: %s", b.name, n.Line, fmt.Sprintf(format, args...))
}

func (b *reader) readAliases(sec *Node) error {
	if sec == nil {
		return nil
	}
	b.hasAl = true
	for _, a := range sec.All("alias") {
		name := a.Get("name")
		if name == "" {
			return b.errf(a, "alias without a <name>")
		}
		if a.Has("enabled") && a.Get("enabled") == "0" {
			continue
		}
		d := &aliasDef{name: name, typ: a.Get("type"), line: a.Line}
		if c := a.Child("content"); c != nil {
			for _, e := range strings.Split(c.Text, "\n") {
				if e = strings.TrimSpace(e); e != "" {
					d.entries = append(d.entries, e)
				}
			}
		} else {
			d.entries = strings.Fields(a.Get("address"))
		}
		if _, dup := b.aliases[name]; dup {
			return b.errf(a, "alias %q defined twice", name)
		}
		b.aliases[name] = d
	}
	return nil
}

func (b *reader) readInterfaces(sec *Node) error {
	if sec == nil {
		return nil
	}
	for _, n := range sec.Children {
		d := ifaceDef{dev: n.Get("if"), descr: n.Get("descr"), dyn4: n.Get("ipaddr"), dyn6: n.Get("ipaddrv6")}
		if a, err := netip.ParseAddr(n.Get("ipaddr")); err == nil && a.Is4() {
			d.dyn4 = ""
			bits, err := strconv.Atoi(n.Get("subnet"))
			if err != nil || bits < 0 || bits > 32 {
				return b.errf(n, "interface %s: subnet %q is not a prefix length", n.Name, n.Get("subnet"))
			}
			d.v4 = netip.PrefixFrom(a, bits)
		}
		if a, err := netip.ParseAddr(n.Get("ipaddrv6")); err == nil && a.Is6() {
			d.dyn6 = ""
			bits, err := strconv.Atoi(n.Get("subnetv6"))
			if err != nil || bits < 0 || bits > 128 {
				return b.errf(n, "interface %s: subnetv6 %q is not a prefix length", n.Name, n.Get("subnetv6"))
			}
			d.v6 = netip.PrefixFrom(a, bits)
		}
		b.ifaces[n.Name] = d
		b.ifaceNode[n.Name] = n
	}
	return nil
}

// addrs is what an address side stands for: address ranges, DNS names,
// and conditions not understood (keys of unknown conditions).
type addrs struct {
	vals    []ruleset.Value
	names   []string
	unknown []string
	// famUnknown are unknown parts of one family only (an interface's
	// dynamic IPv6 subnet beside its static IPv4 one).
	famUnknown []famUnknown
	any        bool
}

type famUnknown struct {
	fam  int
	what string
}

var ifNameRE = lazyre.New(`^(lan|wan|opt[0-9]+)$`)
var hostRE = lazyre.New(`^(?i)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)+\.?$`)

// entry resolves one alias entry or address field into a; seen holds the
// aliases taken in already, each once.
func (b *reader) entry(e string, a *addrs, depth int, seen map[string]bool) {
	if p, err := netip.ParsePrefix(e); err == nil {
		a.vals = append(a.vals, ruleset.PrefixValue(p))
		return
	}
	if ip, err := netip.ParseAddr(e); err == nil {
		a.vals = append(a.vals, ruleset.AddrValue(ip, ip))
		return
	}
	if lo, hi, ok := strings.Cut(e, "-"); ok {
		l, err1 := netip.ParseAddr(lo)
		h, err2 := netip.ParseAddr(hi)
		if err1 == nil && err2 == nil && l.Is4() == h.Is4() && !h.Less(l) {
			a.vals = append(a.vals, ruleset.AddrValue(l, h))
			return
		}
	}
	if d, ok := b.aliases[e]; ok {
		switch {
		case seen[e]:
			// Taken in already (an alias named twice, or a cycle): a
			// set holds it once, and the expansion stays linear.
		case depth >= MaxAliasDepth:
			a.unknown = append(a.unknown, fmt.Sprintf("alias %s (nested deeper than %d)", e, MaxAliasDepth))
		case d.typ == "host" || d.typ == "network" || d.typ == "networkgroup" || d.typ == "":
			seen[e] = true
			for _, x := range d.entries {
				b.entry(x, a, depth+1, seen)
			}
		default:
			a.unknown = append(a.unknown, fmt.Sprintf("alias %s (type %s: its addresses are not in the configuration)", e, d.typ))
		}
		return
	}
	if hostRE.MatchString(e) && strings.Contains(e, ".") {
		a.names = append(a.names, e)
		return
	}
	if b.hasAl || !isAliasLike(e) {
		a.unknown = append(a.unknown, fmt.Sprintf("address %q (not an address, alias or host name)", e))
		return
	}
	a.unknown = append(a.unknown, fmt.Sprintf("alias %s (not defined in this file)", e))
}

func isAliasLike(s string) bool { return ValidAliasName(s) || strings.HasPrefix(s, "_") }

// network resolves a <network> value: an interface's subnet (lan), its
// address (lanip), or an alias (OPNsense writes aliases there too); self
// reports "(self)", the firewall's own addresses.
func (b *reader) network(v string, a *addrs) (self bool) {
	if v == "(self)" {
		return true
	}
	if _, ok := b.aliases[v]; ok {
		b.entry(v, a, 0, map[string]bool{})
		return false
	}
	ifn, ip := v, false
	if s, ok := strings.CutSuffix(v, "ip"); ok && (ifNameRE.MatchString(s) || b.ifaces[s] != (ifaceDef{})) {
		ifn, ip = s, true
	}
	d, known := b.ifaces[ifn]
	if !known && !ifNameRE.MatchString(ifn) {
		a.unknown = append(a.unknown, fmt.Sprintf("network %s (not an interface of this file)", v))
		return false
	}
	what := "subnet"
	if ip {
		what = "address"
	}
	if !known {
		a.unknown = append(a.unknown, fmt.Sprintf("network %s (the %s of interface %s, not in this file)", v, what, ifn))
		return false
	}
	for i, p := range []netip.Prefix{d.v4, d.v6} {
		dyn := []string{d.dyn4, d.dyn6}[i]
		switch {
		case p.IsValid() && ip:
			a.vals = append(a.vals, ruleset.AddrValue(p.Addr(), p.Addr()))
		case p.IsValid():
			a.vals = append(a.vals, ruleset.PrefixValue(p.Masked()))
		case dyn != "":
			a.famUnknown = append(a.famUnknown, famUnknown{4 + 2*i, fmt.Sprintf("network %s (the IPv%d %s of interface %s: %s, not static in this file)", v, 4+2*i, what, ifn, dyn)})
		}
		// Neither: the interface has no address of the family, and
		// the network matches no packet of it.
	}
	return false
}

// side reads a <source> or <destination>: its addresses, negation,
// ports, and whether it names the firewall itself.
func (b *reader) side(n *Node) (a addrs, neg bool, ports []ruleset.Value, portUnknown string, self bool) {
	if n == nil {
		a.any = true
		return
	}
	neg = n.Has("not")
	switch {
	case n.Has("any"):
		a.any = true
	case n.Get("network") != "":
		self = b.network(n.Get("network"), &a)
	case n.Get("address") != "":
		b.entry(n.Get("address"), &a, 0, map[string]bool{})
	default:
		a.any = true
	}
	if p := n.Get("port"); p != "" {
		ports, portUnknown = b.ports(p)
	}
	return
}

// ports reads a port field: a port, lo-hi (lo:hi in aliases), or a port
// alias.
func (b *reader) ports(p string) ([]ruleset.Value, string) {
	var out []ruleset.Value
	var unk []string
	b.portEntry(p, &out, &unk, 0, map[string]bool{})
	if len(unk) > 0 {
		return out, strings.Join(unk, ", ")
	}
	return out, ""
}

func (b *reader) portEntry(p string, out *[]ruleset.Value, unk *[]string, depth int, seen map[string]bool) {
	num := func(s string) (uint16, bool) {
		n, err := strconv.Atoi(s)
		return uint16(n), err == nil && n >= 0 && n <= 65535
	}
	if n, ok := num(p); ok {
		*out = append(*out, ruleset.PortValue(n, n))
		return
	}
	for _, sep := range []string{"-", ":"} {
		if lo, hi, ok := strings.Cut(p, sep); ok {
			l, ok1 := num(lo)
			h, ok2 := num(hi)
			if ok1 && ok2 && l <= h {
				*out = append(*out, ruleset.PortValue(l, h))
				return
			}
		}
	}
	if d, ok := b.aliases[p]; ok && d.typ == "port" && depth < MaxAliasDepth {
		if seen[p] {
			return // taken in already
		}
		seen[p] = true
		for _, e := range d.entries {
			b.portEntry(e, out, unk, depth+1, seen)
		}
		return
	}
	if n, ok := wellKnown[strings.ToLower(p)]; ok {
		*out = append(*out, ruleset.PortValue(n, n))
		return
	}
	*unk = append(*unk, fmt.Sprintf("port %q (not a port, range or port alias of this file)", p))
}

// wellKnown are the service names the products' port fields offer.
var wellKnown = map[string]uint16{"http": 80, "https": 443, "ssh": 22, "dns": 53, "domain": 53, "ntp": 123,
	"sip": 5060, "smtp": 25, "imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995, "ftp": 21, "telnet": 23,
	"snmp": 161, "ldap": 389, "ldaps": 636, "rdp": 3389, "ms-wbt-server": 3389, "submission": 587}

// cond is one alternative of a side: a term, or a DNS name, or an unknown
// condition; several together for a negated side (a conjunction).
type cond struct {
	terms   []ruleset.Term
	names   []string
	unknown []string
	neg     bool
}

// alternatives splits a side into the disjunction of its parts: the
// addresses, each name, each unknown part; a negated side is one
// conjunction of negations.
func alternatives(f ruleset.Field, a addrs, neg bool) []cond {
	if a.any {
		if neg {
			return nil // not any: matches nothing
		}
		return []cond{{}}
	}
	if neg {
		c := cond{neg: true, names: a.names, unknown: a.unknown}
		for _, u := range a.famUnknown {
			c.unknown = append(c.unknown, u.what)
		}
		if len(a.vals) > 0 {
			c.terms = []ruleset.Term{ruleset.Single(f, true, a.vals...)}
		}
		return []cond{c}
	}
	var out []cond
	if len(a.vals) > 0 {
		out = append(out, cond{terms: []ruleset.Term{ruleset.Single(f, false, a.vals...)}})
	}
	for _, n := range a.names {
		out = append(out, cond{names: []string{n}})
	}
	for _, u := range a.unknown {
		out = append(out, cond{unknown: []string{u}})
	}
	for _, u := range a.famUnknown {
		out = append(out, cond{terms: []ruleset.Term{ruleset.Single(ruleset.NfProto, false, ruleset.NumValue(uint32(u.fam)))}, unknown: []string{u.what}})
	}
	return out // none: an empty alias matches nothing
}

func (c cond) apply(r *ruleset.Rule, f ruleset.Field) {
	r.Terms = append(r.Terms, c.terms...)
	for _, n := range c.names {
		ruleset.MatchName(r, f, n, c.neg)
	}
	for _, u := range c.unknown {
		desc := fmt.Sprintf("%s %s", f, u)
		if c.neg {
			desc = "! " + desc
		}
		r.AddUnknown(desc)
		x := r.Ext()
		x.Conds = append(x.Conds, ruleset.Cond{Key: fmt.Sprintf("%s %s", f, u), Neg: c.neg})
	}
}

// spec is one configuration rule read: what every ruleset rule made of it
// shares.
type spec struct {
	node     *Node
	pos      ruleset.Pos
	verdict  ruleset.Verdict
	ifaces   []string
	fam      int // 0 for both
	protos   []uint32
	protoUnk string
	src, dst addrs
	srcNeg   bool
	dstNeg   bool
	sports   []ruleset.Value
	dports   []ruleset.Value
	unknown  []string
}

func (b *reader) ifValues(names []string) []ruleset.Value {
	var vs []ruleset.Value
	var expanded []string
	for _, n := range names {
		if ms, ok := b.groups[n]; ok {
			expanded = append(expanded, ms...)
		} else {
			expanded = append(expanded, n)
		}
	}
	for _, n := range expanded {
		vs = append(vs, ruleset.NameValue(n, false))
		d, ok := b.ifaces[n]
		if !ok {
			continue
		}
		for _, alt := range []string{d.dev, d.descr} {
			if alt != "" && alt != n && !strings.ContainsAny(alt, " \t") {
				vs = append(vs, ruleset.NameValue(alt, false))
			}
		}
	}
	return vs
}

// emit adds the rules of s to ch, matching the interface on field ifF
// (IIfName inbound, OIfName outbound), with extra terms first.
func (b *reader) emit(ch *ruleset.Chain, s *spec, ifF ruleset.Field, extra ...ruleset.Term) {
	srcAlts := alternatives(ruleset.SrcAddr, s.src, s.srcNeg)
	dstAlts := alternatives(ruleset.DstAddr, s.dst, s.dstNeg)
	if len(srcAlts)*len(dstAlts) > maxAlternatives {
		b.note(fmt.Sprintf("%s: line %d: more than %d host names on both sides: read as an unknown condition", b.name, s.node.Line, maxAlternatives))
		srcAlts = []cond{{unknown: []string{"too many host names"}}}
		dstAlts = []cond{{}}
	}
	for _, sa := range srcAlts {
		for _, da := range dstAlts {
			r := &ruleset.Rule{Chain: ch, Index: len(ch.Rules), Verdict: s.verdict, Pos: s.pos}
			var terms []ruleset.Term
			terms = append(terms, extra...)
			if len(s.ifaces) > 0 {
				terms = append(terms, ruleset.Single(ifF, false, b.ifValues(s.ifaces)...))
			}
			if s.fam != 0 {
				terms = append(terms, ruleset.Single(ruleset.NfProto, false, ruleset.NumValue(uint32(s.fam))))
			}
			if len(s.protos) > 0 {
				var vs []ruleset.Value
				for _, p := range s.protos {
					vs = append(vs, ruleset.NumValue(p))
				}
				terms = append(terms, ruleset.Single(ruleset.L4Proto, false, vs...))
			}
			if len(s.sports) > 0 {
				terms = append(terms, ruleset.Single(ruleset.SrcPort, false, s.sports...))
			}
			if len(s.dports) > 0 {
				terms = append(terms, ruleset.Single(ruleset.DstPort, false, s.dports...))
			}
			r.Terms = terms
			sa.apply(r, ruleset.SrcAddr)
			da.apply(r, ruleset.DstAddr)
			for _, u := range s.unknown {
				r.AddUnknown(u)
				x := r.Ext()
				x.Conds = append(x.Conds, ruleset.Cond{Key: u})
			}
			b.intern.Rule(r)
			ch.Rules = append(ch.Rules, r)
		}
	}
}

// common reads what filter and NAT rules share: interfaces, family,
// protocol, source and destination. ok is false for a rule that matches
// no forwarded packet (to or from the firewall itself).
func (b *reader) common(n *Node, s *spec) (ok bool, err error) {
	for _, i := range strings.Split(n.Get("interface"), ",") {
		if i = strings.TrimSpace(i); i != "" {
			s.ifaces = append(s.ifaces, i)
		}
	}
	switch v := n.Get("ipprotocol"); v {
	case "", "inet":
		s.fam = 4
	case "inet6":
		s.fam = 6
	case "inet46":
	default:
		return false, b.errf(n, "ipprotocol %q: inet, inet6 or inet46", v)
	}
	switch v := strings.ToLower(n.Get("protocol")); v {
	case "", "any":
	case "tcp/udp":
		s.protos = []uint32{ruleset.ProtoTCP, ruleset.ProtoUDP}
	default:
		num, ok := ruleset.ProtoNumbers[v]
		if !ok {
			s.unknown = append(s.unknown, fmt.Sprintf("protocol %q", v))
			break
		}
		s.protos = []uint32{num}
	}
	var selfS, selfD bool
	var pu1, pu2 string
	s.src, s.srcNeg, s.sports, pu1, selfS = b.side(n.Child("source"))
	s.dst, s.dstNeg, s.dports, pu2, selfD = b.side(n.Child("destination"))
	for _, u := range []string{pu1, pu2} {
		if u != "" {
			s.unknown = append(s.unknown, u)
		}
	}
	if (selfS || selfD) && !s.srcNeg && !s.dstNeg {
		b.note(fmt.Sprintf("%s: line %d: a rule to or from This Firewall (self) concerns the firewall itself, not the forward path: not read", b.name, n.Line))
		return false, nil
	}
	if selfS || selfD {
		s.unknown = append(s.unknown, "not (self): the firewall's own addresses")
	}
	return true, nil
}

type chains struct {
	in, out, nat *ruleset.Chain
}

func (b *reader) chain(name, typ, hook string, prio int, policy ruleset.Kind) *ruleset.Chain {
	ch := &ruleset.Chain{Family: "inet", Table: Table, Name: name, Base: true, Type: typ, Hook: hook, Prio: prio, Policy: policy}
	b.rs.Chains = append(b.rs.Chains, ch)
	return ch
}

func (b *reader) build(filter, nat *Node) error {
	c := chains{
		nat: b.chain("pf_rdr", "nat", "prerouting", -100, ruleset.Accept),
		in:  b.chain("pf_in", "filter", "forward", 0, ruleset.Drop),
		out: b.chain("pf_out", "filter", "forward", 10, ruleset.Accept),
	}
	state := ruleset.Single(ruleset.CtState, false, ruleset.NumValue(ruleset.CtEstablished), ruleset.NumValue(ruleset.CtRelated))
	statePos := ruleset.Pos{Text: "pf state table: packets of connections a pass rule let through (keep state)"}
	for _, ch := range []*ruleset.Chain{c.in, c.out} {
		ch.Rules = append(ch.Rules, &ruleset.Rule{Chain: ch, Index: 0, Terms: []ruleset.Term{state}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Pos: statePos})
	}
	var registered []*spec
	if nat != nil {
		var err error
		if registered, err = b.readNAT(nat, c); err != nil {
			return err
		}
	}
	b.blockPrivate(c.in)
	var floating, group, iface []*spec
	var outQuick, outLast, inLast []*spec
	var nodes []*Node
	if filter != nil {
		nodes = filter.All("rule")
	}
	if mvc := b.mvc; mvc != nil {
		// OPNsense's Firewall > Rules (new): the same classes as the
		// legacy rules, by sequence, read after them in each class.
		rules := mvc.All("rule")
		sort.SliceStable(rules, func(i, j int) bool { return seq(rules[i]) < seq(rules[j]) })
		for _, r := range rules {
			nodes = append(nodes, legacyShape(r))
		}
		if len(rules) > 0 && filter != nil && len(filter.All("rule")) > 0 {
			b.note(fmt.Sprintf("%s: rules of both Firewall > Rules (new) and the legacy <filter>: within each class (floating, group, interface) the new ones are read after the legacy ones", b.name))
		}
	}
	if len(nodes) > 0 {
		for _, n := range nodes {
			s, float, dir, quick, err := b.filterRule(n)
			if err != nil {
				return err
			}
			if s == nil {
				continue
			}
			if !float {
				if len(s.ifaces) == 1 && b.groups[s.ifaces[0]] != nil {
					group = append(group, s) // interface group rules come before the interfaces' own
				} else {
					iface = append(iface, s)
				}
				continue
			}
			if dir == "in" || dir == "any" {
				if quick {
					floating = append(floating, s)
				} else {
					inLast = append(inLast, s)
				}
			}
			if dir == "out" || dir == "any" {
				if quick {
					outQuick = append(outQuick, s)
				} else {
					outLast = append(outLast, s)
				}
			}
		}
		if len(b.aliases) == 0 && !b.hasAl {
			b.note(fmt.Sprintf("%s: no aliases section: alias names in rules are unknown", b.name))
		}
	}
	for _, s := range floating {
		b.emit(c.in, s, ruleset.IIfName)
	}
	for _, s := range group {
		b.emit(c.in, s, ruleset.IIfName)
	}
	for _, s := range iface {
		b.emit(c.in, s, ruleset.IIfName)
	}
	for _, s := range registered {
		b.emit(c.in, s, ruleset.IIfName)
	}
	for i := len(inLast) - 1; i >= 0; i-- {
		b.emit(c.in, inLast[i], ruleset.IIfName)
	}
	c.in.Rules = append(c.in.Rules, &ruleset.Rule{Chain: c.in, Index: len(c.in.Rules), Verdict: ruleset.Verdict{Kind: ruleset.Drop},
		Pos: ruleset.Pos{Text: "default deny rule (block in all: what no rule passes)"}})
	for _, s := range outQuick {
		b.emit(c.out, s, ruleset.OIfName)
	}
	for i := len(outLast) - 1; i >= 0; i-- {
		b.emit(c.out, outLast[i], ruleset.OIfName)
	}
	c.out.Rules = append(c.out.Rules, &ruleset.Rule{Chain: c.out, Index: len(c.out.Rules), Verdict: ruleset.Verdict{Kind: ruleset.Accept},
		Pos: ruleset.Pos{Text: "default pass out (pass out all keep state)"}})
	for i, r := range c.in.Rules {
		r.Index = i
	}
	for i, r := range c.out.Rules {
		r.Index = i
	}
	return nil
}

// blockPrivate adds the rules of the interfaces' "Block private
// networks" and "Block bogon networks" options, first on the interface.
func (b *reader) blockPrivate(ch *ruleset.Chain) {
	private := []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "100.64.0.0/10", "fc00::/7"}
	// Each rule is on its own interface: their order does not matter.
	for _, name := range slices.Sorted(maps.Keys(b.ifaceNode)) {
		iface := b.ifaceNode[name]
		if iface == nil {
			continue
		}
		if iface.Has("blockpriv") {
			var vs []ruleset.Value
			for _, p := range private {
				vs = append(vs, ruleset.PrefixValue(netip.MustParsePrefix(p)))
			}
			r := &ruleset.Rule{Chain: ch, Index: len(ch.Rules), Verdict: ruleset.Verdict{Kind: ruleset.Drop},
				Terms: []ruleset.Term{ruleset.Single(ruleset.IIfName, false, b.ifValues([]string{name})...), ruleset.Single(ruleset.SrcAddr, false, vs...)},
				Pos:   ruleset.Pos{Line: iface.Line, Text: fmt.Sprintf("interface %s: Block private networks", name)}}
			ch.Rules = append(ch.Rules, r)
		}
		if iface.Has("blockbogons") {
			r := &ruleset.Rule{Chain: ch, Index: len(ch.Rules), Verdict: ruleset.Verdict{Kind: ruleset.Drop},
				Terms: []ruleset.Term{ruleset.Single(ruleset.IIfName, false, b.ifValues([]string{name})...)},
				Pos:   ruleset.Pos{Line: iface.Line, Text: fmt.Sprintf("interface %s: Block bogon networks", name)}}
			u := "saddr in the bogons table (the product's list of unassigned and reserved networks)"
			r.AddUnknown(u)
			r.Ext().Conds = append(r.Ext().Conds, ruleset.Cond{Key: u})
			ch.Rules = append(ch.Rules, r)
		}
	}
}

func seq(n *Node) int {
	v, err := strconv.Atoi(n.Get("sequence"))
	if err != nil {
		return 1 << 30
	}
	return v
}

// legacyShape turns a rule of OPNsense's Firewall > Rules (new)
// (models/OPNsense/Firewall/Filter.xml: action, enabled, quick,
// interface, interfacenot, direction, source_net, source_port…) into the
// legacy <filter><rule> shape the reader knows, keeping its line. As
// OPNsense does, a rule of several interfaces (or none, or "not") is a
// floating one.
func legacyShape(r *Node) *Node {
	out := &Node{Name: "rule", Line: r.Line}
	add := func(name, text string) {
		out.Children = append(out.Children, &Node{Name: name, Text: text, Line: r.Line})
	}
	add("type", r.Get("action"))
	if r.Has("enabled") && r.Get("enabled") != "1" {
		add("disabled", "1")
	}
	ifs := strings.Split(r.Get("interface"), ",")
	if r.Get("interface") == "" {
		ifs = nil
	}
	add("interface", r.Get("interface"))
	if len(ifs) != 1 || flag(r, "interfacenot") {
		add("floating", "yes")
		if !r.Has("quick") || flag(r, "quick") {
			add("quick", "1")
		}
		dir := r.Get("direction")
		if dir == "" {
			dir = "in"
		}
		add("direction", dir)
	}
	if flag(r, "interfacenot") {
		add("interfacenot", "1")
	}
	for _, f := range []string{"ipprotocol", "protocol", "sched"} {
		if v := r.Get(f); v != "" {
			add(f, v)
		}
	}
	side := func(name, prefix string) {
		n := &Node{Name: name, Line: r.Line}
		put := func(k, v string) { n.Children = append(n.Children, &Node{Name: k, Text: v, Line: r.Line}) }
		switch v := r.Get(prefix + "_net"); {
		case v == "" || v == "any":
			put("any", "")
		case v == "(self)" || ifNameRE.MatchString(strings.TrimSuffix(v, "ip")):
			put("network", v)
		default:
			put("address", v)
		}
		if flag(r, prefix+"_not") {
			put("not", "")
		}
		if v := r.Get(prefix + "_port"); v != "" {
			put("port", v)
		}
		out.Children = append(out.Children, n)
	}
	side("source", "source")
	side("destination", "destination")
	add("descr", r.Get("description"))
	return out
}
