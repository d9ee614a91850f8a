package fortigate

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/model"
)

// Format is the ruleset format of a FortiGate configuration.
const Format ruleset.Format = "fortigate"

// Table is the table the chains read from a configuration stand in.
const Table = "fortigate"

// Limits of the reader besides the parser's.
const (
	MaxGroupDepth = 8       // groups of groups
	MaxRules      = 2000000 // rules one configuration expands to
)

func init() {
	ruleset.RegisterReader(ruleset.Reader{
		Format:   Format,
		Describe: "a FortiGate configuration (backup or show full-configuration), or a FortiOS CLI script",
		Looks:    Looks,
		Parse:    Read,
	})
}

// Looks reports whether data is a FortiGate backup (#config-version=FG…)
// or a FortiOS CLI script: its first line that is not a comment starts a
// "config firewall" or "config system" block.
func Looks(data []byte) bool {
	if bytes.HasPrefix(data, []byte("#config-version=FG")) {
		return true
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		return bytes.HasPrefix(line, []byte("config firewall ")) || bytes.HasPrefix(line, []byte("config system ")) || bytes.Equal(line, []byte("config vdom")) || bytes.Equal(line, []byte("config global"))
	}
	return false
}

// Read parses a FortiGate configuration and turns it into the audit's
// chains, with FortiOS's semantics:
//
//   - the forward chain: replies of accepted sessions pass (the session
//     table); then the policies in the order the configuration lists them
//     (first match), each matching its source and destination interfaces
//     (zones stand for their interfaces, "any" for all), addresses
//     (IPv4 srcaddr/dstaddr, IPv6 srcaddr6/dstaddr6; groups, "all"), and
//     services (custom TCP/UDP port ranges, groups, ALL, ALL_TCP,
//     ALL_UDP); disabled policies do not count; last, the implicit deny;
//   - a policy whose destination is a VIP matches the sessions that VIP
//     translated, after translation (the mapped address and ports);
//   - the nat chain at prerouting: each VIP translates what arrives on
//     its extintf for its extip (0.0.0.0: any) and, with portforward, its
//     protocol and extport, to its mappedip and mappedport;
//   - fqdn addresses are DNS names the audit resolves (--hosts first);
//     wildcard-fqdn ones stay unknown;
//   - SIP: with default-voip-alg-mode proxy-based (FortiOS's default) the
//     VoIP ALG takes SIP on its ports (5060); with kernel-helper-based,
//     each session-helper entry named sip does; session-ttl port entries
//     set the idle timeout of their ports.
//
// What it does not model (schedules other than always, internet
// services, users and groups, negated services, geography and dynamic
// addresses…) is an unknown condition of the policy, never dropped.
// Local-in policies (the FortiGate's own traffic) are not read: the audit
// runs in gateway mode.
func Read(name string, data []byte) (*ruleset.Ruleset, error) {
	t, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	return t.Ruleset(name)
}

type addr struct {
	kind   string // ipmask, iprange, fqdn, wildcard-fqdn, group, vip, other
	vals   []ruleset.Value
	fqdn   string
	why    string // other: what it is
	vip    *vip
	member []string
	excl   bool
}

type vip struct {
	name     string
	line     int
	fam      int
	extintf  string
	extip    string
	mapped   string
	forward  bool
	proto    string
	extport  string
	mapport  string
	filter   []string
	srcintf  []string
	disabled bool
}

type portSpec struct {
	proto    uint32 // 0: any protocol
	dst, src []ruleset.Value
	unknown  string
}

type svc struct {
	specs  []portSpec
	member []string
	group  bool
}

type reader struct {
	name   string
	t      *Tree
	nodes  []*Node // the scope read: the whole file, or one VDOM with the global part
	rs     *ruleset.Ruleset
	addrs  [2]map[string]*addr // IPv4, IPv6
	svcs   map[string]*svc
	zones  map[string][]string
	in     ruleset.Interner
	noted  map[string]bool
	nrules int
}

func (r *reader) note(s string) {
	if r.noted == nil {
		r.noted = map[string]bool{}
	}
	if !r.noted[s] {
		r.noted[s] = true
		r.rs.Notes = append(r.rs.Notes, s)
	}
}

func (r *reader) find(path string) []*Node {
	var out []*Node
	for _, n := range r.nodes {
		if n.Path == path {
			out = append(out, n)
		}
	}
	return out
}

func (r *reader) entries(path string) []*Entry {
	var out []*Entry
	for _, n := range r.find(path) {
		out = append(out, n.Entries...)
	}
	return out
}

// Ruleset turns the tree into the audit's chains.
func (t *Tree) Ruleset(name string) (*ruleset.Ruleset, error) {
	r := &reader{name: name, t: t, rs: &ruleset.Ruleset{Format: Format, Families: []int{4, 6}},
		svcs: map[string]*svc{}, zones: map[string][]string{}}
	r.addrs[0], r.addrs[1] = map[string]*addr{}, map[string]*addr{}
	r.scope()
	for _, s := range t.Skipped {
		r.note(fmt.Sprintf("fortigate: %s: %s, not a configuration command: not read", name, s))
	}
	if err := r.objects(); err != nil {
		return nil, err
	}
	fwd := &ruleset.Chain{Family: "inet", Table: Table, Name: "forward", Base: true, Type: "filter", Hook: "forward", Policy: ruleset.Drop}
	nat := &ruleset.Chain{Family: "inet", Table: Table, Name: "prerouting", Base: true, Type: "nat", Hook: "prerouting", Prio: -100, Policy: ruleset.Accept}
	r.rs.Chains = []*ruleset.Chain{fwd, nat}
	add(fwd, &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Pos: ruleset.Pos{Text: "session table: replies of accepted sessions"},
		Terms: []ruleset.Term{ruleset.Single(ruleset.CtState, false, ruleset.NumValue(ruleset.CtEstablished), ruleset.NumValue(ruleset.CtRelated))}})
	r.helpers(fwd)
	if err := r.policies(fwd); err != nil {
		return nil, err
	}
	// The implicit deny stands at the policy table's head line, so that the
	// report names it by line and text.
	deny := ruleset.Pos{Text: "implicit deny (policy 0)"}
	if ns := r.find("firewall policy"); len(ns) > 0 {
		deny.Line = ns[len(ns)-1].Line
	}
	add(fwd, &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Pos: deny})
	if err := r.vips(nat); err != nil {
		return nil, err
	}
	r.note("fortigate: local-in policies (the FortiGate's own traffic) are not read: audit in gateway mode")
	return r.rs, nil
}

func add(c *ruleset.Chain, x *ruleset.Rule) *ruleset.Rule {
	x.Chain, x.Index = c, len(c.Rules)
	c.Rules = append(c.Rules, x)
	return x
}

// scope picks what is read: with VDOMs, the global part and the first
// VDOM that has firewall policies.
func (r *reader) scope() {
	r.nodes = nil
	var vdoms []*Node
	for _, n := range r.t.Nodes {
		switch n.Path {
		case "vdom":
			vdoms = append(vdoms, n)
		case "global":
			r.nodes = append(r.nodes, n.Sub...)
		default:
			r.nodes = append(r.nodes, n)
		}
	}
	var chosen *Entry
	var names []string
	for _, v := range vdoms {
		for _, e := range v.Entries {
			names = append(names, e.Name)
			if chosen == nil && e.Child("firewall policy") != nil {
				chosen = e
			}
		}
	}
	if chosen != nil {
		r.nodes = append(r.nodes, chosen.Sub...)
		if len(names) > 1 {
			r.note(fmt.Sprintf("fortigate: VDOM %s read (the first with firewall policies); the others (%s) are not", chosen.Name, strings.Join(names, ", ")))
		}
	}
}

func famIdx(fam int) int { return fam/2 - 2 } // 4 -> 0, 6 -> 1

// objects reads addresses, groups, VIPs, services and zones.
func (r *reader) objects() error {
	all4 := ruleset.PrefixValue(netip.MustParsePrefix("0.0.0.0/0"))
	all6 := ruleset.PrefixValue(netip.MustParsePrefix("::/0"))
	r.addrs[0]["all"] = &addr{kind: "ipmask", vals: []ruleset.Value{all4}}
	r.addrs[1]["all"] = &addr{kind: "ipmask", vals: []ruleset.Value{all6}}
	r.addrs[0]["none"] = &addr{kind: "ipmask"}
	r.addrs[1]["none"] = &addr{kind: "ipmask"}
	for _, e := range r.entries("firewall address") {
		a, err := r.address(e, 4)
		if err != nil {
			return err
		}
		r.addrs[0][e.Name] = a
	}
	for _, e := range r.entries("firewall address6") {
		a, err := r.address(e, 6)
		if err != nil {
			return err
		}
		r.addrs[1][e.Name] = a
	}
	for i, path := range []string{"firewall addrgrp", "firewall addrgrp6"} {
		for _, e := range r.entries(path) {
			a := &addr{kind: "group", member: e.Get("member")}
			if e.One("exclude") == "enable" {
				a.excl = true
			}
			r.addrs[i][e.Name] = a
		}
	}
	for i, path := range []string{"firewall vip", "firewall vip6"} {
		fam := 4 + 2*i
		for _, e := range r.entries(path) {
			v := &vip{name: e.Name, line: e.Line, fam: fam, extintf: e.One("extintf"), extip: e.One("extip"), mapped: strings.Join(e.Get("mappedip"), " "),
				forward: e.One("portforward") == "enable", proto: e.One("protocol"), extport: e.One("extport"), mapport: e.One("mappedport"),
				filter: e.Get("src-filter"), srcintf: e.Get("srcintf-filter"), disabled: e.One("status") == "disable"}
			if v.proto == "" {
				v.proto = "tcp"
			}
			if t := e.One("type"); t != "" && t != "static-nat" {
				r.addrs[i][e.Name] = &addr{kind: "other", why: fmt.Sprintf("VIP %q of type %s", e.Name, t)}
				continue
			}
			r.addrs[i][e.Name] = &addr{kind: "vip", vip: v}
		}
		for _, e := range r.entries([]string{"firewall vipgrp", "firewall vipgrp6"}[i]) {
			r.addrs[i][e.Name] = &addr{kind: "group", member: e.Get("member")}
		}
	}
	for _, e := range r.entries("firewall service custom") {
		s, err := r.service(e)
		if err != nil {
			return err
		}
		r.svcs[e.Name] = s
	}
	for _, e := range r.entries("firewall service group") {
		r.svcs[e.Name] = &svc{group: true, member: e.Get("member")}
	}
	for _, e := range r.entries("system zone") {
		r.zones[e.Name] = e.Get("interface")
	}
	return nil
}

func (r *reader) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s: line %d: %s", r.name, line, fmt.Sprintf(format, args...))
}

func setLine(e *Entry, key string) int {
	if s := e.Sets[key]; s != nil {
		return s.Line
	}
	return e.Line
}

func (r *reader) address(e *Entry, fam int) (*addr, error) {
	typ := e.One("type")
	if typ == "" {
		typ = map[int]string{4: "ipmask", 6: "ipprefix"}[fam]
	}
	switch typ {
	case "ipmask", "ipprefix":
		key := map[int]string{4: "subnet", 6: "ip6"}[fam]
		v := e.Get(key)
		if len(v) == 0 {
			return &addr{kind: "ipmask", vals: []ruleset.Value{ruleset.PrefixValue(netip.PrefixFrom(map[int]netip.Addr{4: netip.IPv4Unspecified(), 6: netip.IPv6Unspecified()}[fam], 0))}}, nil
		}
		p, err := parseSubnet(v)
		if err != nil || (fam == 4) != p.Addr().Is4() {
			return nil, r.errorf(setLine(e, key), "address %q: %s %q is not an IPv%d subnet", e.Name, key, strings.Join(v, " "), fam)
		}
		return &addr{kind: "ipmask", vals: []ruleset.Value{ruleset.PrefixValue(p)}}, nil
	case "iprange":
		lo, err1 := netip.ParseAddr(e.One("start-ip"))
		hi, err2 := netip.ParseAddr(e.One("end-ip"))
		if err1 != nil || err2 != nil || lo.Is4() != hi.Is4() || (fam == 4) != lo.Is4() || hi.Less(lo) {
			return nil, r.errorf(e.Line, "address %q: start-ip %q end-ip %q is not an IPv%d range", e.Name, e.One("start-ip"), e.One("end-ip"), fam)
		}
		return &addr{kind: "ipmask", vals: []ruleset.Value{ruleset.AddrValue(lo, hi)}}, nil
	case "fqdn":
		n := e.One("fqdn")
		if n == "" {
			return nil, r.errorf(e.Line, "address %q: type fqdn without fqdn", e.Name)
		}
		return &addr{kind: "fqdn", fqdn: n}, nil
	case "wildcard-fqdn":
		return &addr{kind: "wildcard-fqdn", fqdn: e.One("wildcard-fqdn")}, nil
	}
	return &addr{kind: "other", why: fmt.Sprintf("address %q of type %s", e.Name, typ)}, nil
}

// parseSubnet reads "A MASK", "A/BITS" or an IPv6 prefix.
func parseSubnet(v []string) (netip.Prefix, error) {
	if len(v) == 2 {
		a, err := netip.ParseAddr(v[0])
		if err != nil {
			return netip.Prefix{}, err
		}
		m, err := netip.ParseAddr(v[1])
		if err != nil || !m.Is4() {
			return netip.Prefix{}, fmt.Errorf("bad mask")
		}
		b := m.As4()
		bits, seenZero := 0, false
		for _, x := range b {
			for i := 7; i >= 0; i-- {
				if x&(1<<i) != 0 {
					if seenZero {
						return netip.Prefix{}, fmt.Errorf("mask not contiguous")
					}
					bits++
				} else {
					seenZero = true
				}
			}
		}
		return netip.PrefixFrom(a, bits).Masked(), nil
	}
	if len(v) == 1 {
		if p, err := netip.ParsePrefix(v[0]); err == nil {
			return p.Masked(), nil
		}
		a, err := netip.ParseAddr(v[0])
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("bad subnet")
}

// service reads a custom service.
func (r *reader) service(e *Entry) (*svc, error) {
	s := &svc{}
	proto := strings.ToUpper(e.One("protocol"))
	switch proto {
	case "", "TCP/UDP/SCTP", "TCP/UDP/UDP-LITE/SCTP":
	case "IP":
		n := e.One("protocol-number")
		num, err := strconv.ParseUint(n, 10, 8)
		if n == "" {
			num = 0
		} else if err != nil {
			return nil, r.errorf(setLine(e, "protocol-number"), "service %q: protocol-number %q", e.Name, n)
		}
		s.specs = append(s.specs, portSpec{proto: uint32(num)})
		return s, nil
	default:
		s.specs = append(s.specs, portSpec{unknown: fmt.Sprintf("service %q: protocol %s", e.Name, proto)})
		return s, nil
	}
	if e.One("iprange") != "" && e.One("iprange") != "0.0.0.0" || e.One("fqdn") != "" {
		s.specs = append(s.specs, portSpec{unknown: fmt.Sprintf("service %q: a destination address (iprange or fqdn)", e.Name)})
		return s, nil
	}
	for _, p := range []struct {
		key   string
		proto uint32
	}{{"tcp-portrange", ruleset.ProtoTCP}, {"udp-portrange", ruleset.ProtoUDP}, {"sctp-portrange", 132}} {
		byDst := map[string]int{}
		for _, v := range e.Get(p.key) {
			dst, src, hasSrc := strings.Cut(v, ":")
			d, err := portRange(dst)
			if err != nil {
				return nil, r.errorf(setLine(e, p.key), "service %q: %s %q: %v", e.Name, p.key, v, err)
			}
			var sv []ruleset.Value
			if hasSrc {
				sr, err := portRange(src)
				if err != nil {
					return nil, r.errorf(setLine(e, p.key), "service %q: %s %q: source ports: %v", e.Name, p.key, v, err)
				}
				sv = []ruleset.Value{sr}
			}
			// Ranges without source ports share one spec.
			k := "any"
			if hasSrc {
				k = src
			}
			if i, ok := byDst[k]; ok {
				s.specs[i].dst = append(s.specs[i].dst, d)
				continue
			}
			byDst[k] = len(s.specs)
			s.specs = append(s.specs, portSpec{proto: p.proto, dst: []ruleset.Value{d}, src: sv})
		}
	}
	if len(s.specs) == 0 {
		s.specs = append(s.specs, portSpec{unknown: fmt.Sprintf("service %q: no port range", e.Name)})
	}
	return s, nil
}

func portRange(s string) (ruleset.Value, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return ruleset.Value{}, fmt.Errorf("not a port: %q", lo)
	}
	h := l
	if isRange {
		if h, err = strconv.ParseUint(hi, 10, 16); err != nil {
			return ruleset.Value{}, fmt.Errorf("not a port: %q", hi)
		}
	}
	if h < l {
		return ruleset.Value{}, fmt.Errorf("range %d-%d is empty", l, h)
	}
	if l == 0 {
		l = 1 // 0 stands for any in FortiOS ranges
		if !isRange {
			h = 65535
		}
	}
	return ruleset.PortValue(uint16(l), uint16(h)), nil
}

// side is one alternative of a policy's address side: addresses, one DNS
// name, or something unknown; a VIP's mapped side.
type side struct {
	vals    []ruleset.Value
	name    string
	unknown string
	vip     *vip
}

// expand resolves the members of an address list into alternatives:
// every plain address in one, each name, VIP and unknown member alone.
func (r *reader) expand(fam int, members []string, line int) ([]side, error) {
	var addrs []ruleset.Value
	var out []side
	seen := map[string]bool{}
	var walk func(n string, depth int) error
	walk = func(n string, depth int) error {
		if depth > MaxGroupDepth {
			return r.errorf(line, "address group %q: groups nested deeper than %d (a cycle?)", n, MaxGroupDepth)
		}
		if seen[n] {
			return nil
		}
		seen[n] = true
		a := r.addrs[famIdx(fam)][n]
		if a == nil {
			if fam == 6 && r.addrs[0][n] != nil || fam == 4 && r.addrs[1][n] != nil {
				return r.errorf(line, "address %q is of the other family", n)
			}
			return r.errorf(line, "address %q is not defined", n)
		}
		switch a.kind {
		case "ipmask":
			addrs = append(addrs, a.vals...)
		case "fqdn":
			out = append(out, side{name: a.fqdn})
		case "wildcard-fqdn":
			out = append(out, side{name: a.fqdn})
		case "vip":
			out = append(out, side{vip: a.vip})
		case "group":
			if a.excl {
				out = append(out, side{unknown: fmt.Sprintf("address group %q with exclude members", n)})
				return nil
			}
			for _, m := range a.member {
				if err := walk(m, depth+1); err != nil {
					return err
				}
			}
		default:
			out = append(out, side{unknown: a.why})
		}
		return nil
	}
	for _, m := range members {
		if err := walk(m, 0); err != nil {
			return nil, err
		}
	}
	if len(addrs) > 0 {
		out = append([]side{{vals: addrs}}, out...)
	}
	return out, nil
}

// services resolves a policy's services into port specs.
func (r *reader) services(names []string, line int) ([]portSpec, error) {
	var out []portSpec
	seen := map[string]bool{}
	var walk func(n string, depth int) error
	walk = func(n string, depth int) error {
		if depth > MaxGroupDepth {
			return r.errorf(line, "service group %q: groups nested deeper than %d (a cycle?)", n, MaxGroupDepth)
		}
		if seen[n] {
			return nil
		}
		seen[n] = true
		s := r.svcs[n]
		if s == nil {
			switch n {
			case "ALL":
				out = append(out, portSpec{})
			case "ALL_TCP":
				out = append(out, portSpec{proto: ruleset.ProtoTCP, dst: []ruleset.Value{ruleset.PortValue(1, 65535)}})
			case "ALL_UDP":
				out = append(out, portSpec{proto: ruleset.ProtoUDP, dst: []ruleset.Value{ruleset.PortValue(1, 65535)}})
			default:
				out = append(out, portSpec{unknown: fmt.Sprintf("service %q is not defined in this configuration (a predefined service of the box?)", n)})
			}
			return nil
		}
		if !s.group {
			out = append(out, s.specs...)
			return nil
		}
		for _, m := range s.member {
			if err := walk(m, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		if err := walk(n, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// intfTerm matches a list of interfaces and zones; nil for any.
func (r *reader) intfTerm(f ruleset.Field, names []string) *ruleset.Term {
	var vs []ruleset.Value
	for _, n := range names {
		if n == "any" {
			return nil
		}
		vs = append(vs, ruleset.NameValue(n, false))
		for _, m := range r.zones[n] {
			vs = append(vs, ruleset.NameValue(m, false))
		}
	}
	if len(vs) == 0 {
		return nil
	}
	t := r.in.Single(f, false, vs...)
	return &t
}

// ignored are policy settings that do not change which packets a policy
// accepts or denies (profiles, logging, NAT of the reply path, shaping…);
// any other setting that narrows the match is an unknown condition.
var narrowing = map[string]string{
	"internet-service":            "enable",
	"internet-service-src":        "enable",
	"internet-service6":           "enable",
	"internet-service6-src":       "enable",
	"service-negate":              "enable",
	"ztna-status":                 "enable",
	"users":                       "",
	"groups":                      "",
	"fsso-groups":                 "",
	"src-vendor-mac":              "",
	"reputation-minimum":          "",
	"srcaddr-negate":              "",
	"dstaddr-negate":              "",
	"srcaddr6-negate":             "",
	"dstaddr6-negate":             "",
	"internet-service-negate":     "",
	"network-service-dynamic":     "",
	"network-service-src-dynamic": "",
}

var narrowingKeys = func() []string {
	var ks []string
	for k := range narrowing {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}()

// policies writes the forward chain's rules from config firewall policy
// (and the IPv6 policy table of FortiOS 6.x), in the configuration's order.
func (r *reader) policies(fwd *ruleset.Chain) error {
	type pol struct {
		e    *Entry
		fams []int
		v6   bool // from firewall policy6
	}
	var ps []pol
	for _, e := range r.entries("firewall policy") {
		ps = append(ps, pol{e: e, fams: []int{4, 6}})
	}
	for _, e := range r.entries("firewall policy6") {
		ps = append(ps, pol{e: e, fams: []int{6}, v6: true})
	}
	for _, p := range ps {
		e := p.e
		if e.One("status") == "disable" {
			continue
		}
		id := e.Name
		pos := ruleset.Pos{Line: e.Line, Text: fmt.Sprintf("policy %s", id)}
		if n := e.One("name"); n != "" {
			pos.Text = fmt.Sprintf("policy %s %q", id, n)
		}
		var v ruleset.Verdict
		switch act := e.One("action"); act {
		case "accept":
			v.Kind = ruleset.Accept
		case "", "deny":
			v.Kind = ruleset.Drop
		default:
			v = ruleset.Verdict{Kind: ruleset.Unknown, Why: "action " + act}
		}
		var unknown []string
		if s := e.One("schedule"); s != "" && s != "always" {
			unknown = append(unknown, fmt.Sprintf("schedule %q", s))
		}
		for _, k := range narrowingKeys {
			want := narrowing[k]
			val := e.One(k)
			if val == "" || strings.HasSuffix(k, "-negate") {
				continue
			}
			if want == "" || val == want {
				unknown = append(unknown, fmt.Sprintf("set %s %s", k, strings.Join(e.Get(k), " ")))
			}
		}
		srcI := r.intfTerm(ruleset.IIfName, e.Get("srcintf"))
		dstI := r.intfTerm(ruleset.OIfName, e.Get("dstintf"))
		specs, err := r.services(e.Get("service"), setLine(e, "service"))
		if err != nil {
			return err
		}
		if len(e.Get("service")) == 0 {
			specs = []portSpec{{unknown: "no service"}}
		}
		for _, fam := range p.fams {
			sk, dk := "srcaddr", "dstaddr"
			if fam == 6 && !p.v6 {
				sk, dk = "srcaddr6", "dstaddr6"
			}
			sm, dm := e.Get(sk), e.Get(dk)
			if len(sm) == 0 || len(dm) == 0 {
				continue
			}
			srcs, err := r.expand(fam, sm, setLine(e, sk))
			if err != nil {
				return err
			}
			dsts, err := r.expand(fam, dm, setLine(e, dk))
			if err != nil {
				return err
			}
			sneg, dneg := e.One(sk+"-negate") == "enable", e.One(dk+"-negate") == "enable"
			// A negated list of several alternatives is a conjunction of
			// negations: not one rule per alternative.
			if sneg && len(srcs) > 1 {
				srcs = []side{{unknown: "negated list of names or objects"}}
			}
			if dneg && len(dsts) > 1 {
				dsts = []side{{unknown: "negated list of names or objects"}}
			}
			for _, s := range srcs {
				for _, d := range dsts {
					for _, sp := range specs {
						x := &ruleset.Rule{Verdict: v, Pos: pos}
						x.AddUnknown(unknown...) // a copy
						x.Terms = append(x.Terms, r.in.Single(ruleset.NfProto, false, ruleset.NumValue(uint32(fam))))
						if srcI != nil {
							x.Terms = append(x.Terms, *srcI)
						}
						if dstI != nil {
							x.Terms = append(x.Terms, *dstI)
						}
						r.sideTerms(x, ruleset.SrcAddr, s, sneg, sk)
						r.sideTerms(x, ruleset.DstAddr, d, dneg, dk)
						if sp.unknown != "" {
							x.AddUnknown(sp.unknown)
						} else {
							if sp.proto != 0 {
								x.Terms = append(x.Terms, r.in.Single(ruleset.L4Proto, false, ruleset.NumValue(sp.proto)))
							}
							if len(sp.dst) > 0 {
								x.Terms = append(x.Terms, ruleset.Single(ruleset.DstPort, false, sp.dst...))
							}
							if len(sp.src) > 0 {
								x.Terms = append(x.Terms, ruleset.Single(ruleset.SrcPort, false, sp.src...))
							}
						}
						r.in.Rule(x)
						add(fwd, x)
						if r.nrules++; r.nrules > MaxRules {
							return r.errorf(e.Line, "the policies expand to more than %d rules", MaxRules)
						}
					}
				}
			}
		}
	}
	return nil
}

// sideTerms adds the terms of one address alternative to x.
func (r *reader) sideTerms(x *ruleset.Rule, f ruleset.Field, s side, neg bool, key string) {
	switch {
	case s.unknown != "":
		x.AddUnknown(fmt.Sprintf("%s: %s", key, s.unknown))
	case s.vip != nil:
		v := s.vip
		if neg || f != ruleset.DstAddr {
			x.AddUnknown(fmt.Sprintf("%s: VIP %q negated or as a source", key, v.name))
			return
		}
		lo, hi, ok := addrRange(v.mapped)
		if !ok {
			x.AddUnknown(fmt.Sprintf("%s: VIP %q mappedip %q", key, v.name, v.mapped))
			return
		}
		x.Terms = append(x.Terms, ruleset.Single(ruleset.DstAddr, false, ruleset.AddrValue(lo, hi)))
		// Only the sessions a VIP translated match it.
		x.Terms = append(x.Terms, ruleset.Term{Fields: ruleset.One(ruleset.CtStatus), Mask: ruleset.CtStatusDNAT, Set: []ruleset.Tuple{{ruleset.NumValue(0)}}, Neg: true})
		if v.forward {
			mp := v.mapport
			if mp == "" {
				mp = v.extport
			}
			if pv, err := portRange(mp); err == nil {
				x.Terms = append(x.Terms, ruleset.Single(ruleset.L4Proto, false, ruleset.NumValue(protoNum(v.proto))))
				x.Terms = append(x.Terms, ruleset.Single(ruleset.DstPort, false, pv))
			}
		}
	case s.name != "":
		if strings.Contains(s.name, "*") {
			// A wildcard is learnt from DNS answers: no resolver says it.
			x.AddUnknown(fmt.Sprintf("%s: wildcard-fqdn %s (learnt from DNS answers on the box: not resolved here)", key, s.name))
			return
		}
		ruleset.MatchName(x, f, s.name, neg)
	default:
		x.Terms = append(x.Terms, ruleset.Single(f, neg, s.vals...))
	}
}

func protoNum(p string) uint32 {
	switch p {
	case "udp":
		return ruleset.ProtoUDP
	case "sctp":
		return 132
	case "icmp":
		return 1
	}
	return ruleset.ProtoTCP
}

func addrRange(s string) (netip.Addr, netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, " ") {
		return netip.Addr{}, netip.Addr{}, false
	}
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := netip.ParseAddr(lo)
	if err != nil {
		if p, err := netip.ParsePrefix(lo); err == nil && !isRange {
			v := ruleset.PrefixValue(p)
			return v.Lo, v.Hi, true
		}
		return netip.Addr{}, netip.Addr{}, false
	}
	h := l
	if isRange {
		if h, err = netip.ParseAddr(hi); err != nil || h.Less(l) || h.Is4() != l.Is4() {
			return netip.Addr{}, netip.Addr{}, false
		}
	}
	return l.Unmap(), h.Unmap(), true
}

// vips writes the nat chain: one DNAT rule per VIP, in order.
func (r *reader) vips(nat *ruleset.Chain) error {
	for i := range r.addrs {
		for _, e := range r.entries([]string{"firewall vip", "firewall vip6"}[i]) {
			a := r.addrs[i][e.Name]
			if a == nil || a.kind != "vip" || a.vip.disabled {
				continue
			}
			v := a.vip
			x := &ruleset.Rule{Pos: ruleset.Pos{Line: v.line, Text: fmt.Sprintf("vip %q", v.name)}}
			if i == 1 {
				x.Pos.Text = fmt.Sprintf("vip6 %q", v.name)
			}
			x.Terms = append(x.Terms, ruleset.Single(ruleset.NfProto, false, ruleset.NumValue(uint32(v.fam))))
			if t := r.intfTerm(ruleset.IIfName, strings.Fields(v.extintf)); t != nil {
				x.Terms = append(x.Terms, *t)
			}
			if t := r.intfTerm(ruleset.IIfName, v.srcintf); t != nil {
				x.Terms = append(x.Terms, *t)
			}
			if v.extip != "" && v.extip != "0.0.0.0" && v.extip != "::" {
				lo, hi, ok := addrRange(v.extip)
				if !ok {
					return r.errorf(setLine(e, "extip"), "vip %q: extip %q is not an address or range", v.name, v.extip)
				}
				x.Terms = append(x.Terms, ruleset.Single(ruleset.DstAddr, false, ruleset.AddrValue(lo, hi)))
			}
			if len(v.filter) > 0 {
				var vs []ruleset.Value
				for _, f := range v.filter {
					lo, hi, ok := addrRange(f)
					if !ok {
						return r.errorf(setLine(e, "src-filter"), "vip %q: src-filter %q is not an address, prefix or range", v.name, f)
					}
					vs = append(vs, ruleset.AddrValue(lo, hi))
				}
				x.Terms = append(x.Terms, ruleset.Single(ruleset.SrcAddr, false, vs...))
			}
			lo, hi, ok := addrRange(v.mapped)
			if !ok {
				return r.errorf(setLine(e, "mappedip"), "vip %q: mappedip %q is not an address or range", v.name, v.mapped)
			}
			x.Verdict = ruleset.Verdict{Kind: ruleset.DNAT, To: lo}
			if lo != hi {
				x.Verdict = ruleset.Verdict{Kind: ruleset.DNAT, Why: "to a range of addresses"}
			}
			if v.forward {
				ext, err := portRange(orDefault(v.extport, "0"))
				if err != nil {
					return r.errorf(setLine(e, "extport"), "vip %q: extport %q: %v", v.name, v.extport, err)
				}
				x.Terms = append(x.Terms, ruleset.Single(ruleset.L4Proto, false, ruleset.NumValue(protoNum(v.proto))))
				x.Terms = append(x.Terms, ruleset.Single(ruleset.DstPort, false, ext))
				if v.mapport != "" && v.mapport != v.extport {
					mp, err := portRange(v.mapport)
					if err != nil {
						return r.errorf(setLine(e, "mappedport"), "vip %q: mappedport %q: %v", v.name, v.mapport, err)
					}
					if mp.PLo != mp.PHi || ext.PLo != ext.PHi {
						x.Verdict.Why = "ports mapped range to range"
						x.Verdict.To = netip.Addr{}
					} else {
						x.Verdict.Port = mp.PLo
					}
				}
			}
			add(nat, x)
		}
	}
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// helpers writes, before the policies, the rules that attach the SIP ALG
// or session helper and the session TTLs of ports: they do not decide,
// they mark what the policies accept.
func (r *reader) helpers(fwd *ruleset.Chain) {
	mode := ""
	var settings *Node
	for _, n := range r.find("system settings") {
		settings = n
		if s := n.Sets["default-voip-alg-mode"]; s != nil && len(s.Values) > 0 {
			mode = s.Values[0]
		}
	}
	line := 0
	if settings != nil {
		line = settings.Line
		if s := settings.Sets["default-voip-alg-mode"]; s != nil {
			line = s.Line
		}
	}
	sipPorts := func(key, def string) []string {
		if settings != nil {
			if s := settings.Sets[key]; s != nil && len(s.Values) > 0 {
				return s.Values
			}
		}
		return []string{def}
	}
	// off says how to take the helper away, for the audit's fix.
	attach := func(pos ruleset.Pos, proto uint32, port ruleset.Value, helper, off string, to *ruleset.Timeout) {
		x := &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.Continue}, Pos: pos}
		x.Terms = []ruleset.Term{ruleset.Single(ruleset.L4Proto, false, ruleset.NumValue(proto)), ruleset.Single(ruleset.DstPort, false, port)}
		x.Ext().Helper, x.Ext().HelperOff, x.Ext().Timeout, x.Ext().Mutates = helper, off, to, true
		add(fwd, x)
	}
	switch {
	case mode == "" && !r.t.Backup:
		r.note("fortigate: a CLI script, not a backup: it does not say default-voip-alg-mode nor the session helpers, so the SIP ALG is not audited; audit a backup (show full-configuration) for it")
	case mode == "" || mode == "proxy-based":
		why := "system settings: default-voip-alg-mode proxy-based (FortiOS's default): the VoIP ALG takes SIP"
		for _, p := range []struct {
			key   string
			proto uint32
		}{{"sip-udp-port", ruleset.ProtoUDP}, {"sip-tcp-port", ruleset.ProtoTCP}} {
			for _, v := range sipPorts(p.key, "5060") {
				if pv, err := portRange(v); err == nil {
					attach(ruleset.Pos{Line: line, Text: why}, p.proto, pv, "sip",
						"FortiGate: config system settings, set default-voip-alg-mode kernel-helper-based, then delete the sip entry of config system session-helper", nil)
				}
			}
		}
	case mode == "kernel-helper-based":
		for _, e := range r.entries("system session-helper") {
			if e.One("name") != "sip" {
				continue
			}
			n, err1 := strconv.ParseUint(e.One("protocol"), 10, 8)
			pv, err2 := portRange(e.One("port"))
			if err1 != nil || err2 != nil {
				r.note(fmt.Sprintf("fortigate: %s: line %d: session-helper %s: protocol or port not read", r.name, e.Line, e.Name))
				continue
			}
			attach(ruleset.Pos{Line: e.Line, Text: fmt.Sprintf("session-helper %s (sip, default-voip-alg-mode kernel-helper-based)", e.Name)}, uint32(n), pv, "sip",
				"FortiGate: config system session-helper, delete "+e.Name, nil)
		}
	}
	for _, n := range r.find("system session-ttl") {
		for _, port := range n.Sub {
			if port.Path != "port" {
				continue
			}
			for _, e := range port.Entries {
				proto, err := strconv.ParseUint(e.One("protocol"), 10, 8)
				lo, err1 := strconv.ParseUint(e.One("start-port"), 10, 16)
				hi, err2 := strconv.ParseUint(e.One("end-port"), 10, 16)
				secs, err3 := strconv.Atoi(e.One("timeout"))
				if e.One("timeout") == "never" {
					secs, err3 = 1<<31-1, nil
				}
				if err != nil || err1 != nil || err2 != nil || err3 != nil || hi < lo {
					r.note(fmt.Sprintf("fortigate: %s: line %d: session-ttl port %s not read", r.name, e.Line, e.Name))
					continue
				}
				pn := map[uint64]string{6: model.TCP, 17: model.UDP}[proto]
				to := &ruleset.Timeout{Name: "session-ttl port " + e.Name, Proto: pn,
					Policy: map[string]int{"replied": secs, "unreplied": secs, "established": secs}}
				attach(ruleset.Pos{Line: e.Line, Text: fmt.Sprintf("session-ttl port %s (%s %d-%d, %ds)", e.Name, pn, lo, hi, secs)}, uint32(proto), ruleset.PortValue(uint16(lo), uint16(hi)), "", "", to)
			}
		}
	}
	for _, e := range r.entries("firewall policy") {
		if vp := e.One("voip-profile"); vp != "" && e.One("status") != "disable" {
			r.note(fmt.Sprintf("fortigate: %s: line %d: policy %s uses voip-profile %q: the VoIP ALG takes its SIP whatever default-voip-alg-mode says (not modelled per policy)", r.name, e.Line, e.Name, vp))
		}
	}
}
