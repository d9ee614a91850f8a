package asa

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
)

// Table is the table the chains of an ASA configuration stand in.
const Table = "asa"

// Port names the ASA prints in place of numbers (the "TCP and UDP ports"
// table of the ASA general operations configuration guide).
var tcpPorts = map[string]uint16{
	"aol": 5190, "bgp": 179, "chargen": 19, "cifs": 3020, "citrix-ica": 1494, "cmd": 514, "ctiqbe": 2748,
	"daytime": 13, "discard": 9, "domain": 53, "echo": 7, "exec": 512, "finger": 79, "ftp": 21, "ftp-data": 20,
	"gopher": 70, "h323": 1720, "hostname": 101, "http": 80, "https": 443, "ident": 113, "imap4": 143, "irc": 194,
	"kerberos": 88, "klogin": 543, "kshell": 544, "ldap": 389, "ldaps": 636, "login": 513, "lotusnotes": 1352,
	"lpd": 515, "netbios-ssn": 139, "nfs": 2049, "nntp": 119, "pcanywhere-data": 5631, "pim-auto-rp": 496,
	"pop2": 109, "pop3": 110, "pptp": 1723, "rsh": 514, "rtsp": 554, "sip": 5060, "smtp": 25, "sqlnet": 1521,
	"ssh": 22, "sunrpc": 111, "tacacs": 49, "talk": 517, "telnet": 23, "uucp": 540, "whois": 43, "www": 80,
}

var udpPorts = map[string]uint16{
	"biff": 512, "bootpc": 68, "bootps": 67, "cifs": 3020, "discard": 9, "dnsix": 195, "domain": 53, "echo": 7,
	"http": 80, "isakmp": 500, "kerberos": 750, "mobile-ip": 434, "nameserver": 42, "netbios-dgm": 138,
	"netbios-ns": 137, "nfs": 2049, "ntp": 123, "pcanywhere-status": 5632, "pim-auto-rp": 496, "radius": 1645,
	"radius-acct": 1646, "rip": 520, "secureid-udp": 5510, "sip": 5060, "snmp": 161, "snmptrap": 162,
	"sunrpc": 111, "syslog": 514, "tacacs": 49, "talk": 517, "tftp": 69, "time": 37, "vxlan": 4789, "who": 513,
	"www": 80, "xdmcp": 177,
}

// protoNames are the protocol literals of the ASA besides numbers.
var protoNames = map[string]uint32{
	"ah": 51, "eigrp": 88, "esp": 50, "gre": 47, "icmp": 1, "icmp6": 58, "igmp": 2, "igrp": 9, "ipinip": 4,
	"ipsec": 50, "nos": 94, "ospf": 89, "pcp": 108, "pim": 103, "pptp": 47, "sctp": 132, "snp": 109,
	"tcp": 6, "udp": 17,
}

func portNum(proto, s string) (uint16, error) {
	if v, err := strconv.ParseUint(s, 10, 16); err == nil {
		return uint16(v), nil
	}
	switch proto {
	case "tcp":
		if v, ok := tcpPorts[s]; ok {
			return v, nil
		}
	case "udp":
		if v, ok := udpPorts[s]; ok {
			return v, nil
		}
	default: // tcp-udp, sctp: a name both know
		if v, ok := tcpPorts[s]; ok && udpPorts[s] == v {
			return v, nil
		}
	}
	return 0, fmt.Errorf("port %q is neither a number nor an ASA port name", s)
}

// portOpAt reads a port operator at toks[0]: eq|neq|lt|gt P, range A B.
func portOpAt(proto string, toks []string) (portOp, int, error) {
	if len(toks) < 2 {
		return portOp{}, 0, fmt.Errorf("port operator %v: want a port", toks)
	}
	p, err := portNum(proto, toks[1])
	if err != nil {
		return portOp{}, 0, err
	}
	switch toks[0] {
	case "eq":
		return portOp{lo: p, hi: p}, 2, nil
	case "neq":
		return portOp{lo: p, hi: p, neg: true}, 2, nil
	case "lt":
		if p == 0 {
			return portOp{}, 0, fmt.Errorf("lt 0 matches no port")
		}
		return portOp{lo: 0, hi: p - 1}, 2, nil
	case "gt":
		if p == 65535 {
			return portOp{}, 0, fmt.Errorf("gt 65535 matches no port")
		}
		return portOp{lo: p + 1, hi: 65535}, 2, nil
	case "range":
		if len(toks) < 3 {
			return portOp{}, 0, fmt.Errorf("range: want two ports")
		}
		q, err := portNum(proto, toks[2])
		if err != nil {
			return portOp{}, 0, err
		}
		if q < p {
			return portOp{}, 0, fmt.Errorf("range %d %d: the first port is above the second", p, q)
		}
		return portOp{lo: p, hi: q}, 3, nil
	}
	return portOp{}, 0, fmt.Errorf("%q is not a port operator", toks[0])
}

func isPortOp(s string) bool {
	switch s {
	case "eq", "neq", "lt", "gt", "range":
		return true
	}
	return false
}

// serviceEntry reads PROTO [source OP] [destination OP] (an object
// service's service line, a service-object), or PROTO OP (the older form,
// the destination port).
func (c *Config) serviceEntry(n int, toks []string, def string) (*svcEntry, error) {
	if len(toks) == 0 {
		return nil, c.errf(n, "service: want a protocol")
	}
	e := &svcEntry{proto: toks[0]}
	rest := toks[1:]
	if e.proto == "icmp" || e.proto == "icmp6" {
		if len(rest) > 0 {
			e.unknown = "ICMP type " + strings.Join(rest, " ")
		}
		return e, nil
	}
	for len(rest) > 0 {
		switch {
		case rest[0] == "source" || rest[0] == "destination":
			if len(rest) < 2 {
				return nil, c.errf(n, "service %s: want a port operator", rest[0])
			}
			op, k, err := portOpAt(e.proto, rest[1:])
			if err != nil {
				return nil, c.errf(n, "service %s: %v", strings.Join(toks, " "), err)
			}
			if rest[0] == "source" {
				e.sport = append(e.sport, op)
			} else {
				e.dport = append(e.dport, op)
			}
			rest = rest[1+k:]
		case isPortOp(rest[0]):
			op, k, err := portOpAt(e.proto, rest)
			if err != nil {
				return nil, c.errf(n, "service %s: %v", strings.Join(toks, " "), err)
			}
			e.dport = append(e.dport, op)
			rest = rest[k:]
		case rest[0] == "description":
			rest = nil
		default:
			e.unknown = "service " + strings.Join(toks, " ")
			rest = nil
		}
	}
	return e, nil
}

// addrSide is one side (source or destination) of an ACE: any address,
// or addresses and names; fam restricts it to a family (any4, any6).
type addrSide struct {
	any     bool
	fam     int
	vals    []ruleset.Value
	names   []addr
	unknown string
}

// expandNet adds the addresses of network object or group name to s.
func (c *Config) expandNet(n int, name string, s *addrSide, depth int, seen map[string]bool) error {
	if o, ok := c.objects[name]; ok {
		if len(o.addrs) == 0 {
			return c.errf(n, "object %s has no address (host, subnet, range or fqdn)", name)
		}
		for _, a := range o.addrs {
			if a.name != "" {
				s.names = append(s.names, a)
			} else {
				s.vals = append(s.vals, ruleset.AddrValue(a.lo, a.hi))
			}
		}
		return nil
	}
	g, ok := c.groups[name]
	if !ok {
		return c.errf(n, "network object or group %q is not defined", name)
	}
	if g.kind != "network" {
		return c.errf(n, "object-group %s is a %s group, not a network group", name, g.kind)
	}
	if depth > maxDepth {
		return c.errf(n, "object-group %s: groups nested deeper than %d", name, maxDepth)
	}
	if seen[name] {
		return c.errf(n, "object-group %s contains itself", name)
	}
	seen[name] = true
	defer delete(seen, name)
	for i, m := range g.members {
		ln := g.lines[i]
		t := strings.Fields(m)
		if len(s.vals)+len(s.names) > maxValues {
			return c.errf(ln, "object-group %s expands into more than %d addresses", name, maxValues)
		}
		switch {
		case t[0] == "group-object" && len(t) == 2:
			if err := c.expandNet(ln, t[1], s, depth+1, seen); err != nil {
				return err
			}
		case t[0] == "network-object" && len(t) == 3 && t[1] == "object":
			if err := c.expandNet(ln, t[2], s, depth+1, seen); err != nil {
				return err
			}
		case t[0] == "network-object" && len(t) >= 2:
			sub := &addrSide{}
			k, err := c.literalAddr(ln, t[1:], sub)
			if err != nil {
				return err
			}
			if k != len(t)-1 || sub.any {
				return c.errf(ln, "object-group %s: %q: not a network object", name, m)
			}
			s.vals = append(s.vals, sub.vals...)
		case t[0] == "description":
		default:
			return c.errf(ln, "object-group network %s: %q is not a member of a network group", name, m)
		}
	}
	return nil
}

// literalAddr reads an address argument that is not an object: host A,
// A MASK, an IPv6 prefix, any, any4, any6 (A may be a name of the names
// command). It returns the tokens it took.
func (c *Config) literalAddr(n int, toks []string, s *addrSide) (int, error) {
	parse := func(x string) (netip.Addr, error) {
		if a, ok := c.names[x]; ok {
			return a, nil
		}
		a, err := netip.ParseAddr(x)
		return a.Unmap(), err
	}
	switch toks[0] {
	case "any":
		s.any = true
		return 1, nil
	case "any4":
		s.any, s.fam = true, 4
		return 1, nil
	case "any6":
		s.any, s.fam = true, 6
		return 1, nil
	case "host":
		if len(toks) < 2 {
			return 0, c.errf(n, "host: want an address")
		}
		a, err := parse(toks[1])
		if err != nil {
			return 0, c.errf(n, "host %q: not an address", toks[1])
		}
		s.vals = append(s.vals, ruleset.AddrValue(a, a))
		return 2, nil
	}
	if p, err := netip.ParsePrefix(toks[0]); err == nil {
		s.vals = append(s.vals, ruleset.PrefixValue(p))
		return 1, nil
	}
	if len(toks) >= 2 {
		if a, err := parse(toks[0]); err == nil && a.Is4() {
			p, err := maskPrefix(a.String(), toks[1])
			if err != nil {
				return 0, c.errf(n, "%s %s: %v", toks[0], toks[1], err)
			}
			s.vals = append(s.vals, ruleset.PrefixValue(p))
			return 2, nil
		}
	}
	return 0, c.errf(n, "%q: not an address argument (any, any4, any6, host A, A MASK, PREFIX, object, object-group)", toks[0])
}

// addrArg reads one address argument of an ACE.
func (c *Config) addrArg(n int, toks []string) (addrSide, int, error) {
	var s addrSide
	if len(toks) == 0 {
		return s, 0, c.errf(n, "access list entry: an address is missing")
	}
	switch toks[0] {
	case "object", "object-group":
		if len(toks) < 2 {
			return s, 0, c.errf(n, "%s: want a name", toks[0])
		}
		// A group is expanded once; its entries share its addresses.
		if cached, ok := c.netCache[toks[1]]; ok {
			return cached, 2, nil
		}
		if err := c.expandNet(n, toks[1], &s, 0, map[string]bool{}); err != nil {
			return s, 0, err
		}
		if c.netCache == nil {
			c.netCache = map[string]addrSide{}
		}
		c.netCache[toks[1]] = s
		return s, 2, nil
	case "interface":
		if len(toks) < 2 {
			return s, 0, c.errf(n, "interface: want a name")
		}
		s.any, s.unknown = true, "address of interface "+toks[1]
		return s, 2, nil
	case "user", "user-group", "object-group-user", "security-group", "object-group-security":
		if len(toks) < 2 {
			return s, 0, c.errf(n, "%s: want a name", toks[0])
		}
		// An identity condition before the address: unknown, then the address.
		rest, k, err := c.addrArg(n, toks[2:])
		if err != nil {
			return s, 0, err
		}
		rest.unknown = toks[0] + " " + toks[1]
		return rest, k + 2, nil
	}
	k, err := c.literalAddr(n, toks, &s)
	return s, k, err
}

// portGroup returns the port operators of a service group of port-objects
// (object-group service NAME tcp|udp|tcp-udp), or false when name is not one.
func (c *Config) portGroup(n int, name string, depth int) ([]portOp, bool, error) {
	g, ok := c.groups[name]
	if !ok || g.kind != "service" || g.proto == "" {
		return nil, false, nil
	}
	if depth > maxDepth {
		return nil, true, c.errf(n, "object-group %s: groups nested deeper than %d", name, maxDepth)
	}
	var out []portOp
	for i, m := range g.members {
		t := strings.Fields(m)
		switch {
		case t[0] == "port-object" && len(t) >= 3:
			op, _, err := portOpAt(g.proto, t[1:])
			if err != nil {
				return nil, true, c.errf(g.lines[i], "object-group %s: %v", name, err)
			}
			out = append(out, op)
		case t[0] == "group-object" && len(t) == 2:
			sub, ok, err := c.portGroup(g.lines[i], t[1], depth+1)
			if err != nil {
				return nil, true, err
			}
			if !ok {
				return nil, true, c.errf(g.lines[i], "object-group %s: %s is not a port group", name, t[1])
			}
			out = append(out, sub...)
		default:
			return nil, true, c.errf(g.lines[i], "object-group %s: %q is not a port-object", name, m)
		}
	}
	return out, true, nil
}

// serviceAlts expands the protocol argument of an ACE: a protocol, an
// object service, or a service or protocol object group.
func (c *Config) serviceAlts(n int, toks []string) ([]*svcEntry, int, bool, error) {
	if len(toks) == 0 {
		return nil, 0, false, c.errf(n, "access list entry: the protocol is missing")
	}
	switch toks[0] {
	case "object":
		if len(toks) < 2 {
			return nil, 0, false, c.errf(n, "object: want a name")
		}
		e, ok := c.services[toks[1]]
		if !ok {
			return nil, 0, false, c.errf(n, "service object %q is not defined", toks[1])
		}
		return []*svcEntry{e}, 2, true, nil
	case "object-group":
		if len(toks) < 2 {
			return nil, 0, false, c.errf(n, "object-group: want a name")
		}
		var out []*svcEntry
		if err := c.expandSvc(n, toks[1], &out, 0, map[string]bool{}); err != nil {
			return nil, 0, false, err
		}
		return out, 2, true, nil
	}
	return []*svcEntry{{proto: toks[0]}}, 1, false, nil
}

func (c *Config) expandSvc(n int, name string, out *[]*svcEntry, depth int, seen map[string]bool) error {
	g, ok := c.groups[name]
	if !ok {
		return c.errf(n, "service or protocol object-group %q is not defined", name)
	}
	if depth > maxDepth {
		return c.errf(n, "object-group %s: groups nested deeper than %d", name, maxDepth)
	}
	if seen[name] {
		return c.errf(n, "object-group %s contains itself", name)
	}
	seen[name] = true
	defer delete(seen, name)
	switch {
	case g.kind == "protocol":
		for i, m := range g.members {
			t := strings.Fields(m)
			switch {
			case t[0] == "protocol-object" && len(t) == 2:
				*out = append(*out, &svcEntry{proto: t[1]})
			case t[0] == "group-object" && len(t) == 2:
				if err := c.expandSvc(g.lines[i], t[1], out, depth+1, seen); err != nil {
					return err
				}
			default:
				return c.errf(g.lines[i], "object-group protocol %s: %q", name, m)
			}
		}
		return nil
	case g.kind == "service" && g.proto != "":
		return c.errf(n, "object-group %s is a port group (%s): it stands after an address, not for the protocol", name, g.proto)
	case g.kind != "service":
		return c.errf(n, "object-group %s is a %s group, not a service group", name, g.kind)
	}
	for i, m := range g.members {
		t := strings.Fields(m)
		ln := g.lines[i]
		if len(*out) > maxValues {
			return c.errf(ln, "object-group %s expands into more than %d services", name, maxValues)
		}
		switch {
		case t[0] == "service-object" && len(t) == 3 && t[1] == "object":
			e, ok := c.services[t[2]]
			if !ok {
				return c.errf(ln, "service object %q is not defined", t[2])
			}
			*out = append(*out, e)
		case t[0] == "service-object" && len(t) >= 2:
			e, err := c.serviceEntry(ln, t[1:], "")
			if err != nil {
				return err
			}
			*out = append(*out, e)
		case t[0] == "group-object" && len(t) == 2:
			if err := c.expandSvc(ln, t[1], out, depth+1, seen); err != nil {
				return err
			}
		default:
			return c.errf(ln, "object-group service %s: %q is not a service-object", name, m)
		}
	}
	return nil
}

// aceParsed is an extended ACE, expanded.
type aceParsed struct {
	permit   bool
	svcs     []*svcEntry
	src, dst addrSide
	unknown  []string
	inactive bool
}

// parseACE reads an access list entry; ok is false for entries that are
// not extended (standard, webtype, ethertype): they are unknown.
func (c *Config) parseACE(a *ace) (*aceParsed, bool, error) {
	if a.done {
		return a.parsed, a.parsed != nil, nil
	}
	p, ok, err := c.parseACE1(a)
	if err != nil {
		return nil, false, err
	}
	a.done = true
	if ok {
		a.parsed = p
	}
	return p, ok, nil
}

func (c *Config) parseACE1(a *ace) (*aceParsed, bool, error) {
	toks := a.toks
	n := a.line
	if toks[0] != "extended" {
		return nil, false, nil
	}
	toks = toks[1:]
	if len(toks) < 2 {
		return nil, false, c.errf(n, "access-list %s: want permit|deny and a protocol", a.acl)
	}
	p := &aceParsed{}
	switch toks[0] {
	case "permit":
		p.permit = true
	case "deny":
	default:
		return nil, false, c.errf(n, "access-list %s: %q: want permit or deny", a.acl, toks[0])
	}
	svcs, k, named, err := c.serviceAlts(n, toks[1:])
	if err != nil {
		return nil, false, err
	}
	if len(svcs) == 0 {
		return nil, false, c.errf(n, "access-list %s: the service group %s is empty", a.acl, toks[2])
	}
	p.svcs = svcs
	rest := toks[1+k:]
	proto := svcs[0].proto
	ports := !named && (proto == "tcp" || proto == "udp" || proto == "sctp")
	p.src, k, err = c.addrArg(n, rest)
	if err != nil {
		return nil, false, err
	}
	rest = rest[k:]
	var sport, dport []portOp
	readPorts := func() ([]portOp, error) {
		if !ports || len(rest) == 0 {
			return nil, nil
		}
		if isPortOp(rest[0]) {
			op, k, err := portOpAt(proto, rest)
			if err != nil {
				return nil, c.errf(n, "access-list %s: %v", a.acl, err)
			}
			rest = rest[k:]
			return []portOp{op}, nil
		}
		if rest[0] == "object-group" && len(rest) >= 2 {
			ops, ok, err := c.portGroup(n, rest[1], 0)
			if err != nil {
				return nil, err
			}
			if ok {
				rest = rest[2:]
				return ops, nil
			}
		}
		return nil, nil
	}
	if sport, err = readPorts(); err != nil {
		return nil, false, err
	}
	p.dst, k, err = c.addrArg(n, rest)
	if err != nil {
		return nil, false, err
	}
	rest = rest[k:]
	if dport, err = readPorts(); err != nil {
		return nil, false, err
	}
	if sport != nil || dport != nil {
		p.svcs = []*svcEntry{{proto: proto, sport: sport, dport: dport}}
	}
	if proto == "icmp" || proto == "icmp6" {
		// An ICMP type may follow the destination.
		for len(rest) > 0 && rest[0] != "log" && rest[0] != "time-range" && rest[0] != "inactive" {
			p.unknown = append(p.unknown, "ICMP type "+rest[0])
			rest = rest[1:]
		}
	}
	for len(rest) > 0 {
		switch rest[0] {
		case "log":
			rest = rest[1:]
			for len(rest) > 0 && rest[0] != "time-range" && rest[0] != "inactive" {
				rest = rest[1:] // level, interval N, disable, default
			}
		case "time-range":
			if len(rest) < 2 {
				return nil, false, c.errf(n, "time-range: want a name")
			}
			p.unknown = append(p.unknown, "time-range "+rest[1]+" (active only at some times)")
			rest = rest[2:]
		case "inactive":
			p.inactive = true
			rest = rest[1:]
		default:
			p.unknown = append(p.unknown, "not understood: "+strings.Join(rest, " "))
			rest = nil
		}
	}
	return p, true, nil
}

// Ruleset turns the configuration into the audit's chains with the ASA's
// semantics (ASA 9.x, routed mode):
//
//   - the ASA is stateful: replies and related packets of permitted
//     connections pass (ct state established,related accept);
//   - a packet entering interface X is checked against X's inbound access
//     list, then the global one (access-group … global), then the
//     implicit deny; without either, its security level decides: from a
//     higher level to a lower one allowed, lower to higher denied, equal
//     denied unless same-security-traffic permit inter-interface (an
//     interface without a security-level line has 100 when named inside,
//     else 0); and the egress interface's out access list, if any, must
//     permit it too (evaluated first here, so that a permitted packet is
//     reported with the ingress entry that permits it);
//   - the first entry that matches decides; inactive entries are skipped;
//     time-range, ICMP types, identity and anything not understood stay
//     unknown conditions; standard, webtype and ethertype entries unknown;
//   - static object NAT and static twice NAT are DNAT in a prerouting nat
//     chain: twice NAT first (section 1), then object NAT (section 2,
//     static before dynamic, fewer real addresses first), then twice NAT
//     after-auto (section 3); access lists see the real addresses, as ASA
//     8.3 and later have them; dynamic NAT and PAT change only sources and
//     are left out (noted);
//   - fqdn objects are DNS names the audit resolves (ruleset.MatchName);
//   - timeout udp and timeout conn (or their defaults) are the idle
//     timeouts of every UDP and TCP connection;
//   - inspect sip and inspect h323 (h225, ras) in class
//     inspection_default of the policy applied with service-policy …
//     global attach the helper to their default ports.
func (c *Config) Ruleset() (*ruleset.Ruleset, error) {
	rs := &ruleset.Ruleset{Format: Format, Families: []int{4, 6}}
	b := &rsBuilder{c: c, rs: rs}
	if err := b.build(); err != nil {
		return nil, err
	}
	rs.Notes = append(rs.Notes, c.notes...)
	return rs, nil
}

type rsBuilder struct {
	c     *Config
	rs    *ruleset.Ruleset
	in    ruleset.Interner
	rules int
	terms map[termKey]ruleset.Term
}

func (b *rsBuilder) chain(name string, base bool, typ, hook string, prio int, pol ruleset.Kind) *ruleset.Chain {
	ch := &ruleset.Chain{Family: "inet", Table: Table, Name: name, Base: base, Type: typ, Hook: hook, Prio: prio, Policy: pol}
	b.rs.Chains = append(b.rs.Chains, ch)
	return ch
}

func (b *rsBuilder) add(ch *ruleset.Chain, line int, text string, v ruleset.Verdict, terms ...ruleset.Term) *ruleset.Rule {
	r := &ruleset.Rule{Chain: ch, Index: len(ch.Rules), Terms: terms, Verdict: v, Pos: ruleset.Pos{Line: line, Text: text}}
	ch.Rules = append(ch.Rules, r)
	b.rules++
	return r
}

func ifTerm(f ruleset.Field, name string) ruleset.Term {
	return ruleset.Single(f, false, ruleset.NameValue(name, false))
}

func numTerm(f ruleset.Field, ns ...uint32) ruleset.Term {
	vs := make([]ruleset.Value, len(ns))
	for i, n := range ns {
		vs[i] = ruleset.NumValue(n)
	}
	return ruleset.Single(f, false, vs...)
}

// level is an interface's security level.
func (c *Config) level(name string) int {
	if i := c.ifaces[name]; i != nil && i.hasLvl {
		return i.level
	}
	if name == "inside" {
		return 100
	}
	return 0
}

// interfaces lists the nameifs: defined ones, then those only named by
// access-group or NAT.
func (c *Config) interfaces() []string {
	out := slices.Clone(c.ifOrder)
	add := func(n string) {
		if n != "" && n != "any" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for _, bd := range c.bindings {
		add(bd.ifname)
	}
	for _, o := range c.objOrder {
		if nat := c.objects[o].nat; nat != nil {
			add(nat.realIf)
			add(nat.mappedIf)
		}
	}
	for _, t := range c.twice {
		add(t.realIf)
		add(t.mappedIf)
	}
	return out
}

func (b *rsBuilder) build() error {
	c := b.c
	for _, bd := range c.bindings {
		if _, ok := c.acls[bd.acl]; !ok {
			return c.errf(bd.line, "%s: access list %s is not defined", bd.text, bd.acl)
		}
	}
	// Every entry is read, bound or not, as the ASA checks them all.
	for _, name := range c.aclOrder {
		for _, a := range c.acls[name] {
			if _, _, err := c.parseACE(a); err != nil {
				return err
			}
		}
	}
	ifs := c.interfaces()
	fw := b.chain("forward", true, "filter", "forward", 0, ruleset.Drop)
	b.add(fw, 0, "stateful: replies and related packets of permitted connections", ruleset.Verdict{Kind: ruleset.Accept},
		numTerm(ruleset.CtState, ruleset.CtEstablished, ruleset.CtRelated))
	b.inspections(fw)
	b.timeouts(fw)
	var global *binding
	var out []binding
	in := map[string]*binding{}
	for i := range c.bindings {
		bd := &c.bindings[i]
		switch {
		case bd.global:
			global = bd
		case bd.dir == "out":
			out = append(out, *bd)
		default:
			in[bd.ifname] = bd
		}
	}
	// Both the ingress check and the egress interface's out list must
	// permit a packet. The out lists are evaluated first (a permit
	// returns, a deny drops), so that a packet both permit is accepted by,
	// and reported with, the ingress entry that permits it; a packet both
	// deny is reported with the out list's deny.
	permit := ruleset.Verdict{Kind: ruleset.Accept}
	for _, bd := range out {
		name := "out-" + bd.ifname
		ch := b.chain(name, false, "", "", 0, ruleset.Accept)
		if err := b.aclRules(ch, bd.acl, ruleset.Verdict{Kind: ruleset.Return}); err != nil {
			return err
		}
		b.add(ch, bd.line, "implicit deny: "+bd.text, ruleset.Verdict{Kind: ruleset.Drop})
		b.add(fw, bd.line, bd.text, ruleset.Verdict{Kind: ruleset.Jump, Chain: name}, ifTerm(ruleset.OIfName, bd.ifname))
	}
	if global != nil {
		ch := b.chain("global", false, "", "", 0, ruleset.Accept)
		if err := b.aclRules(ch, global.acl, permit); err != nil {
			return err
		}
		b.add(ch, global.line, "implicit deny: "+global.text, ruleset.Verdict{Kind: ruleset.Drop})
	}
	for _, x := range ifs {
		name := "in-" + x
		ch := b.chain(name, false, "", "", 0, ruleset.Accept)
		b.add(fw, 0, "interface "+x, ruleset.Verdict{Kind: ruleset.Goto, Chain: name}, ifTerm(ruleset.IIfName, x))
		switch bd := in[x]; {
		case bd != nil:
			if err := b.aclRules(ch, bd.acl, permit); err != nil {
				return err
			}
			if global != nil {
				b.add(ch, global.line, global.text, ruleset.Verdict{Kind: ruleset.Goto, Chain: "global"})
			} else {
				b.add(ch, bd.line, "implicit deny: "+bd.text, ruleset.Verdict{Kind: ruleset.Drop})
			}
		case global != nil:
			b.add(ch, global.line, global.text, ruleset.Verdict{Kind: ruleset.Goto, Chain: "global"})
		default:
			lx := c.level(x)
			line := 0
			if i := c.ifaces[x]; i != nil {
				line = i.line
			}
			for _, y := range ifs {
				if y == x {
					continue
				}
				ly := c.level(y)
				text := fmt.Sprintf("security levels, no access list on %s: %s (%d) to %s (%d)", x, x, lx, y, ly)
				v := ruleset.Verdict{Kind: ruleset.Drop}
				switch {
				case lx > ly:
					v = permit
					text += ": allowed"
				case lx == ly && c.sameSec:
					v = permit
					text += ": allowed by same-security-traffic permit inter-interface"
				case lx == ly:
					text += ": denied (same level)"
				default:
					text += ": denied (lower to higher)"
				}
				b.add(ch, line, text, v, ifTerm(ruleset.OIfName, y))
			}
			b.add(ch, line, "security levels: no other interface", ruleset.Verdict{Kind: ruleset.Drop})
		}
	}
	if err := b.natChain(); err != nil {
		return err
	}
	for _, ch := range b.rs.Chains {
		for _, r := range ch.Rules {
			b.in.Rule(r)
		}
	}
	return nil
}

// timeouts attaches the global idle timeouts of UDP and TCP connections
// (timeout udp, timeout conn; the ASA's defaults, 0:02:00 and 1:00:00,
// where the configuration has no line) to every connection of their
// protocol, for the audit of the services' NAT binding lifetimes.
func (b *rsBuilder) timeouts(fw *ruleset.Chain) {
	for _, x := range []struct {
		kind, proto, state string
		num                uint32
		def                int
	}{{"udp", "udp", "replied", ruleset.ProtoUDP, 120}, {"conn", "tcp", "established", ruleset.ProtoTCP, 3600}} {
		t, ok := b.c.timeouts[x.kind]
		if !ok {
			t = timeoutLine{secs: x.def, text: fmt.Sprintf("timeout %s %s (the ASA's default)", x.kind, hmsString(x.def))}
		}
		r := b.add(fw, t.line, t.text, ruleset.Verdict{Kind: ruleset.Continue}, numTerm(ruleset.L4Proto, x.num))
		pol := map[string]int{x.state: t.secs}
		if x.proto == "udp" {
			pol["unreplied"] = t.secs
		}
		r.Ext().Timeout = &ruleset.Timeout{Name: "timeout " + x.kind, Proto: x.proto, Policy: pol}
	}
}

func hmsString(s int) string { return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60) }

// inspections attaches the helpers of inspect sip and inspect h323 in the
// global policy's class inspection_default to their default ports.
func (b *rsBuilder) inspections(fw *ruleset.Chain) {
	type insp struct {
		helper string
		proto  []uint32
		lo, hi uint16
	}
	engines := map[string]insp{
		"sip":       {"sip", []uint32{ruleset.ProtoTCP, ruleset.ProtoUDP}, 5060, 5060},
		"h323 h225": {"h323", []uint32{ruleset.ProtoTCP}, 1720, 1720},
		"h323 ras":  {"h323", []uint32{ruleset.ProtoUDP}, 1718, 1719},
	}
	inspect := b.c.inspectBy[b.c.globalPol]
	keys := make([]string, 0, len(inspect))
	for k := range inspect {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e, ok := engines[k]
		if !ok {
			continue
		}
		line := inspect[k]
		r := b.add(fw, line, "policy-map "+b.c.globalPol+" class inspection_default: inspect "+k, ruleset.Verdict{Kind: ruleset.Continue},
			numTerm(ruleset.L4Proto, e.proto...), ruleset.Single(ruleset.DstPort, false, ruleset.PortValue(e.lo, e.hi)))
		x := r.Ext()
		x.Helper = e.helper
		x.HelperOff = "Cisco ASA: policy-map " + b.c.globalPol + ", class inspection_default, no inspect " + k
		x.Mutates = true
	}
}

// aclRules writes the entries of access list acl into ch: a permit takes
// permit, a deny drops.
func (b *rsBuilder) aclRules(ch *ruleset.Chain, acl string, permit ruleset.Verdict) error {
	c := b.c
	for _, a := range c.acls[acl] {
		p, ok, err := c.parseACE(a)
		if err != nil {
			return err
		}
		text := a.text
		if a.remark != "" {
			// The last remark before the entry says what it is for
			// (portolan writes the service, flow and document line
			// there): a remark stands for the entries after it.
			text += " (remark: " + a.remark + ")"
		}
		if !ok {
			r := b.add(ch, a.line, text, ruleset.Verdict{Kind: ruleset.Unknown, Why: a.toks[0] + " access list entry"})
			r.AddUnknown(a.toks[0] + " access list entry: not an extended one")
			continue
		}
		if p.inactive {
			continue
		}
		v := ruleset.Verdict{Kind: ruleset.Drop}
		if p.permit {
			v = permit
		}
		if err := b.expand(ch, a.line, text, v, p); err != nil {
			return err
		}
	}
	return nil
}

// alt is one alternative of an address side: its terms and, for a DNS
// name, the name.
type alt struct {
	vals []ruleset.Value
	name *addr
}

func alts(s addrSide) []alt {
	if s.any {
		return []alt{{}}
	}
	var out []alt
	if len(s.vals) > 0 {
		out = append(out, alt{vals: s.vals})
	}
	for i := range s.names {
		out = append(out, alt{name: &s.names[i]})
	}
	return out
}

func portTerm(f ruleset.Field, ops []portOp) (ruleset.Term, string) {
	if len(ops) == 1 && ops[0].neg {
		return ruleset.Single(f, true, ruleset.PortValue(ops[0].lo, ops[0].hi)), ""
	}
	var vs []ruleset.Value
	for _, o := range ops {
		if o.neg {
			return ruleset.Term{}, "neq among other port operators"
		}
		vs = append(vs, ruleset.PortValue(o.lo, o.hi))
	}
	return ruleset.Single(f, false, vs...), ""
}

type termKey struct {
	first *ruleset.Value
	n     int
	f     ruleset.Field
}

// addrTerm is the term of field f on vals, made once for each slice of
// addresses (a group's, shared by the entries that name it): rules share
// its set, which is never changed in place.
func (b *rsBuilder) addrTerm(f ruleset.Field, vals []ruleset.Value) ruleset.Term {
	k := termKey{&vals[0], len(vals), f}
	if t, ok := b.terms[k]; ok {
		return t
	}
	t := ruleset.Single(f, false, vals...)
	if b.terms == nil {
		b.terms = map[termKey]ruleset.Term{}
	}
	b.terms[k] = t
	return t
}

// expand writes one rule per service, source and destination
// alternative of an entry (DNS names are alternatives of their own).
func (b *rsBuilder) expand(ch *ruleset.Chain, line int, text string, v ruleset.Verdict, p *aceParsed) error {
	for _, svc := range p.svcs {
		var base []ruleset.Term
		var unknown []string
		unknown = append(unknown, p.unknown...)
		if svc.unknown != "" {
			unknown = append(unknown, svc.unknown)
		}
		switch svc.proto {
		case "ip":
		case "tcp-udp":
			base = append(base, numTerm(ruleset.L4Proto, ruleset.ProtoTCP, ruleset.ProtoUDP))
		default:
			n, ok := protoNames[svc.proto]
			if !ok {
				x, err := strconv.ParseUint(svc.proto, 10, 8)
				if err != nil {
					return b.c.errf(line, "protocol %q is neither a number nor an ASA protocol name", svc.proto)
				}
				n = uint32(x)
			}
			base = append(base, numTerm(ruleset.L4Proto, n))
		}
		if len(svc.sport) > 0 {
			t, why := portTerm(ruleset.SrcPort, svc.sport)
			if why != "" {
				unknown = append(unknown, why)
			} else {
				base = append(base, t)
			}
		}
		if len(svc.dport) > 0 {
			t, why := portTerm(ruleset.DstPort, svc.dport)
			if why != "" {
				unknown = append(unknown, why)
			} else {
				base = append(base, t)
			}
		}
		for _, side := range []*addrSide{&p.src, &p.dst} {
			if side.fam != 0 {
				base = append(base, numTerm(ruleset.NfProto, uint32(side.fam)))
			}
			if side.unknown != "" {
				unknown = append(unknown, side.unknown)
			}
		}
		for _, s := range alts(p.src) {
			for _, d := range alts(p.dst) {
				if b.rules >= maxRules {
					return b.c.errf(line, "the access lists expand into more than %d rules", maxRules)
				}
				terms := slices.Clone(base)
				r := b.add(ch, line, text, v)
				for _, x := range []struct {
					a alt
					f ruleset.Field
				}{{s, ruleset.SrcAddr}, {d, ruleset.DstAddr}} {
					switch {
					case x.a.name != nil:
						ruleset.MatchName(r, x.f, x.a.name.name, false)
						if x.a.name.fam != 0 {
							terms = append(terms, numTerm(ruleset.NfProto, uint32(x.a.name.fam)))
						}
					case len(x.a.vals) > 0:
						terms = append(terms, b.addrTerm(x.f, x.a.vals))
					}
				}
				r.Terms = terms
				r.AddUnknown(unknown...)
			}
		}
	}
	return nil
}

// natTarget is a static NAT's translation, read once.
type natRule struct {
	line       int
	text       string
	mappedIf   string
	realObj    string
	mapped     string
	proto      string
	realPorts  []portOp
	mappedPort []portOp
	unknown    string
	size       uint64
	realLo     netip.Addr
	name       string
	// dstMapped and dstReal are a twice NAT's destination static
	// objects; "" when it has none.
	dstMapped, dstReal string
}

func (b *rsBuilder) natChain() error {
	c := b.c
	var sec1, sec2, sec3 []natRule
	for _, t := range c.twice {
		r, ok, err := b.twiceRule(t)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if t.section == 3 {
			sec3 = append(sec3, r)
		} else {
			sec1 = append(sec1, r)
		}
	}
	for _, name := range c.objOrder {
		o := c.objects[name]
		if o.nat == nil {
			continue
		}
		if !o.nat.static {
			c.note(fmt.Sprintf("asa: line %d: %s: dynamic NAT or PAT changes sources only: not evaluated", o.nat.line, o.nat.text))
			continue
		}
		r := natRule{line: o.nat.line, text: o.nat.text, mappedIf: o.nat.mappedIf, realObj: name, mapped: o.nat.mapped, name: name}
		if o.nat.service {
			r.proto = o.nat.proto
			r.realPorts = []portOp{{lo: o.nat.realPort, hi: o.nat.realPort}}
			r.mappedPort = []portOp{{lo: o.nat.mappedPort, hi: o.nat.mappedPort}}
		}
		if len(o.addrs) == 1 && o.addrs[0].name == "" {
			r.realLo = o.addrs[0].lo
			r.size = rangeSize(o.addrs[0].lo, o.addrs[0].hi)
		} else {
			r.size = ^uint64(0)
		}
		sec2 = append(sec2, r)
	}
	// Section 2: static rules in order of fewer real addresses, then
	// address, then name.
	sort.SliceStable(sec2, func(i, j int) bool {
		a, b := sec2[i], sec2[j]
		if a.size != b.size {
			return a.size < b.size
		}
		if a.realLo != b.realLo {
			return a.realLo.Less(b.realLo)
		}
		return a.name < b.name
	})
	all := append(append(sec1, sec2...), sec3...)
	if len(all) == 0 {
		return nil
	}
	ch := b.chain("prerouting", true, "nat", "prerouting", -100, ruleset.Accept)
	for _, r := range all {
		if err := b.natRule(ch, r); err != nil {
			return err
		}
	}
	return nil
}

func rangeSize(lo, hi netip.Addr) uint64 {
	if lo.Is4() {
		a, b := lo.As4(), hi.As4()
		x := uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
		y := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		return y - x + 1
	}
	a, b := lo.As16(), hi.As16()
	var x, y uint64
	for i := 8; i < 16; i++ {
		x, y = x<<8|uint64(a[i]), y<<8|uint64(b[i])
	}
	if [8]byte(a[:8]) != [8]byte(b[:8]) {
		return ^uint64(0) - 1
	}
	return y - x + 1
}

// twiceRule reads `source static REAL MAPPED [destination static …]
// [service REAL_SVC MAPPED_SVC] …`; ok is false for dynamic rules.
func (b *rsBuilder) twiceRule(t *twiceNAT) (natRule, bool, error) {
	c := b.c
	toks := t.toks
	r := natRule{line: t.line, text: t.text, mappedIf: t.mappedIf, name: "twice"}
	if len(toks) < 4 {
		return r, false, c.errf(t.line, "nat: want source static|dynamic REAL MAPPED")
	}
	if toks[1] == "dynamic" {
		c.note(fmt.Sprintf("asa: line %d: %s: dynamic NAT or PAT changes sources only: not evaluated", t.line, t.text))
		return r, false, nil
	}
	if toks[1] != "static" {
		return r, false, c.errf(t.line, "nat source %q: want static or dynamic", toks[1])
	}
	r.realObj, r.mapped = toks[2], toks[3]
	rest := toks[4:]
	if r.mapped == "interface" && len(rest) > 0 && rest[0] == "ipv6" {
		r.mapped = "interface ipv6"
		rest = rest[1:]
	}
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case "destination":
			if i+3 >= len(rest) || rest[i+1] != "static" {
				return r, false, c.errf(t.line, "nat destination: want static MAPPED REAL")
			}
			r.dstMapped, r.dstReal = rest[i+2], rest[i+3]
			i += 3
		case "service":
			if i+2 >= len(rest) {
				return r, false, c.errf(t.line, "nat service: want REAL_SERVICE MAPPED_SERVICE")
			}
			rs, ok1 := c.services[rest[i+1]]
			ms, ok2 := c.services[rest[i+2]]
			if !ok1 || !ok2 {
				return r, false, c.errf(t.line, "nat service %s %s: a service object is not defined", rest[i+1], rest[i+2])
			}
			if rs.proto != ms.proto || len(rs.sport) != 1 || len(ms.sport) != 1 || rs.sport[0].neg || ms.sport[0].neg {
				r.unknown = "twice NAT service objects that are not one source port or range each, of one protocol"
			}
			r.proto, r.realPorts, r.mappedPort = rs.proto, rs.sport, ms.sport
			i += 2
		case "description":
			i = len(rest)
		}
	}
	return r, true, nil
}

// natRule writes the DNAT of a static rule, for packets that arrive on
// its mapped interface to its mapped address (and port).
func (b *rsBuilder) natRule(ch *ruleset.Chain, r natRule) error {
	c := b.c
	var terms []ruleset.Term
	if r.mappedIf != "" && r.mappedIf != "any" {
		terms = append(terms, ifTerm(ruleset.IIfName, r.mappedIf))
	}
	var unknown []string
	// The real side: one host for a fixed target.
	var real addrSide
	if r.realObj == "any" {
		real.any = true
	} else if err := c.expandNet(r.line, r.realObj, &real, 0, map[string]bool{}); err != nil {
		return err
	}
	same := func(a, b string) (bool, error) {
		if a == b {
			return true, nil
		}
		if a == "any" || b == "any" || strings.HasPrefix(b, "interface") {
			return false, nil
		}
		side := func(n string) (addrSide, error) {
			var x addrSide
			if ip, err := netip.ParseAddr(n); err == nil {
				x.vals = []ruleset.Value{ruleset.AddrValue(ip, ip)}
				return x, nil
			}
			return x, c.expandNet(r.line, n, &x, 0, map[string]bool{})
		}
		x, err := side(a)
		if err != nil {
			return false, err
		}
		y, err := side(b)
		if err != nil {
			return false, err
		}
		return slices.Equal(x.vals, y.vals) && len(x.names) == 0 && len(y.names) == 0, nil
	}
	// Identity NAT (the same addresses on both sides, as for a VPN's
	// traffic) changes nothing.
	idSrc, err := same(r.realObj, r.mapped)
	if err != nil {
		return err
	}
	idDst := true
	if r.dstMapped != "" {
		if idDst, err = same(r.dstMapped, r.dstReal); err != nil {
			return err
		}
	}
	if idSrc && idDst && r.proto == "" {
		return nil
	}
	if r.dstMapped != "" {
		// Packets back from the destination side: from its real
		// addresses, to the source's mapped ones.
		if r.dstReal != "any" {
			var d addrSide
			if err := c.expandNet(r.line, r.dstReal, &d, 0, map[string]bool{}); err != nil {
				return err
			}
			if len(d.vals) > 0 {
				terms = append(terms, ruleset.Single(ruleset.SrcAddr, false, d.vals...))
			}
		}
		if !idDst {
			r.unknown = "twice NAT that also translates the destination"
		}
	}
	v := ruleset.Verdict{Kind: ruleset.DNAT}
	switch {
	case r.unknown != "":
		v = ruleset.Verdict{Kind: ruleset.Unknown, Why: r.unknown}
	case len(real.names) > 0:
		v = ruleset.Verdict{Kind: ruleset.Unknown, Why: "NAT to an fqdn object"}
	case len(real.vals) == 1 && real.vals[0].Lo == real.vals[0].Hi:
		v.To = real.vals[0].Lo
	default:
		v.Why = "static NAT of several addresses"
	}
	fam := 0
	if v.To.IsValid() {
		fam = 4
		if v.To.Is6() {
			fam = 6
		}
	}
	switch r.mapped {
	case "interface", "interface ipv6":
		want := 4
		if r.mapped == "interface ipv6" {
			want = 6
		}
		terms = append(terms, numTerm(ruleset.NfProto, uint32(want)))
		var addrs []ruleset.Value
		if i := c.ifaces[r.mappedIf]; i != nil {
			for _, a := range i.addrs {
				if a.Is4() == (want == 4) {
					addrs = append(addrs, ruleset.AddrValue(a, a))
				}
			}
		}
		if len(addrs) > 0 {
			terms = append(terms, ruleset.Single(ruleset.DstAddr, false, addrs...))
		} else {
			c.note(fmt.Sprintf("asa: line %d: the address of interface %s is not in the configuration: its static NAT is taken for any destination that arrives there", r.line, r.mappedIf))
		}
	case "any":
	default:
		var m addrSide
		if a, err := netip.ParseAddr(r.mapped); err == nil {
			m.vals = []ruleset.Value{ruleset.AddrValue(a, a)}
		} else if err := c.expandNet(r.line, r.mapped, &m, 0, map[string]bool{}); err != nil {
			return err
		}
		if len(m.names) > 0 {
			unknown = append(unknown, "mapped to an fqdn object")
		}
		if len(m.vals) > 0 {
			terms = append(terms, ruleset.Single(ruleset.DstAddr, false, m.vals...))
		}
	}
	if fam != 0 {
		terms = append(terms, numTerm(ruleset.NfProto, uint32(fam)))
	}
	if r.proto != "" && v.Kind == ruleset.DNAT {
		switch r.proto {
		case "tcp-udp":
			terms = append(terms, numTerm(ruleset.L4Proto, ruleset.ProtoTCP, ruleset.ProtoUDP))
		default:
			n, ok := protoNames[r.proto]
			if !ok {
				return c.errf(r.line, "nat service %q: not a protocol", r.proto)
			}
			terms = append(terms, numTerm(ruleset.L4Proto, n))
		}
		mp, rp := r.mappedPort[0], r.realPorts[0]
		terms = append(terms, ruleset.Single(ruleset.DstPort, false, ruleset.PortValue(mp.lo, mp.hi)))
		switch {
		case mp == rp && mp.lo != mp.hi:
			// a range to the same range: ports unchanged
		case mp.lo == mp.hi && rp.lo == rp.hi:
			if rp.lo != mp.lo {
				v.Port = rp.lo
			}
		default:
			v = ruleset.Verdict{Kind: ruleset.Unknown, Why: "a port range mapped to another range"}
		}
	}
	rule := b.add(ch, r.line, r.text, v, terms...)
	rule.AddUnknown(unknown...)
	return nil
}
