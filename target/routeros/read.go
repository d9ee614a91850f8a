package routeros

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/internal/lazyre"
)

// Format is the reader's format name, --format routeros.
const Format ruleset.Format = "routeros"

// MaxAlternatives bounds the rules one configuration rule becomes when
// its address lists hold DNS names (one rule per name and one for the
// addresses, for each side).
const MaxAlternatives = 256

// MaxRules bounds the rules of the ruleset read, and MaxWork the items
// that removes and place-before move over, so that a hostile input costs
// time and memory in proportion to its size.
const (
	MaxRules = 1 << 22
	MaxWork  = 1 << 26
)

func init() {
	ruleset.RegisterReader(ruleset.Reader{
		Format:   Format,
		Describe: "a MikroTik RouterOS export (/export) or import script",
		Looks:    Looks,
		Parse:    Parse,
	})
}

// Looks reports whether data is a RouterOS export or script: a header
// comment "… by RouterOS …", or a first command that is a RouterOS menu
// path (/ip, /ipv6, /interface, /system…).
func Looks(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data[:min(len(data), 1<<16)]))
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "#") {
			if strings.Contains(l, "by RouterOS") || strings.Contains(l, "MikroTik RouterOS") {
				return true
			}
			continue
		}
		return menuStart.MatchString(l)
	}
	return false
}

var menuStart = lazyre.New(`^/(ip|ipv6|interface|system|routing|user|tool|certificate|queue|ppp|snmp|disk|container|file)([ /]|$)`)

// family is the reader's view of one address family's menus.
type family struct {
	num    int    // 4 or 6
	menu   string // "ip" or "ipv6"
	nft    string // "ip" or "ip6"
	lists  map[string]*addrList
	filled map[string]bool // lists rules add addresses to (add-src-to-address-list…)
}

// addrList is an address list of the export.
type addrList struct {
	vals  []ruleset.Value
	names []string
}

// entry is one item of a menu, in the menu's order.
type entry struct {
	cmd      *Cmd
	disabled bool
	comment  string
}

type reader struct {
	file    string
	notes   []string
	menus   map[string][]*entry // "ip firewall filter" → items
	ifLists map[string][]string // interface list → members
	ifUnk   map[string]string   // interface list → why its members are unknown
	ipsec   bool                // the configuration has IPsec policies, peers or identities
	work    int                 // items moved over by removes and place-before
	nrules  int
	helpers []*helper
	alts    []alt // scratch
	terms   []ruleset.Term
	// connection tracking timeouts set in the configuration (seconds), and
	// the line that set each
	timeouts map[string]int
	tLine    map[string]int
	in       ruleset.Interner
}

// Parse reads a RouterOS export or script into the audit's model.
// RouterOS's firewall works as iptables does: tables filter, nat and raw
// of chains (input, forward, output; dstnat, srcnat; prerouting, output)
// plus chains of the user's, reached by action=jump; unlike iptables,
// no chain has a policy: a packet no rule takes is accepted. Address
// lists are read from /ip firewall address-list (addresses, prefixes,
// ranges and DNS names, which the audit resolves), interface lists from
// /interface list member.
func Parse(file string, data []byte) (*ruleset.Ruleset, error) {
	sc, err := ParseScript(file, data)
	if err != nil {
		return nil, err
	}
	p := &reader{file: file, menus: map[string][]*entry{}, ifLists: map[string][]string{}, ifUnk: map[string]string{}, helpers: defaultHelpers(), timeouts: map[string]int{}, tLine: map[string]int{}}
	if err := p.collect(sc); err != nil {
		return nil, err
	}
	rs := &ruleset.Ruleset{Format: Format, Families: []int{4, 6}}
	for _, fam := range []*family{{num: 4, menu: "ip", nft: "ip"}, {num: 6, menu: "ipv6", nft: "ip6"}} {
		if err := p.family(rs, fam); err != nil {
			return nil, err
		}
	}
	if err := p.helperChains(rs); err != nil {
		return nil, err
	}
	p.conntrackTimeouts(rs)
	if len(sc.Skipped) > 0 {
		p.notes = append(p.notes, fmt.Sprintf("%d scripting commands not read (%s)", len(sc.Skipped), strings.Join(sc.Skipped[:min(3, len(sc.Skipped))], "; ")))
	}
	rs.Notes = append(rs.Notes, p.notes...)
	return rs, nil
}

func (p *reader) errf(line int, field, format string, args ...any) error {
	return &Error{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// read menus: the ones whose items the reader keeps
var keptMenus = map[string]bool{
	"ip firewall filter": true, "ip firewall nat": true, "ip firewall raw": true, "ip firewall address-list": true,
	"ipv6 firewall filter": true, "ipv6 firewall nat": true, "ipv6 firewall raw": true, "ipv6 firewall address-list": true,
	"ip firewall mangle": true, "ipv6 firewall mangle": true,
	"interface list member": true, "interface list": true,
	"ip ipsec policy": true, "ip ipsec peer": true, "ip ipsec identity": true,
	"ip firewall service-port": true, "ip firewall connection tracking": true,
}

// helper is a connection tracking helper of /ip firewall service-port:
// on by default in RouterOS, on its documented default ports.
type helper struct {
	name    string
	on      bool
	ports   string
	line    int // the line that last set it, 0 for RouterOS's default
	unknown string
}

func defaultHelpers() []*helper {
	return []*helper{{name: "sip", on: true, ports: "5060,5061"}, {name: "h323", on: true, ports: "1720"}}
}

// collect runs the commands of the kept menus: items added (in order, or
// where place-before puts them), removed by a find the reader follows.
func (p *reader) collect(sc *Script) error {
	for i := range sc.Cmds {
		c := &sc.Cmds[i]
		if !keptMenus[c.Path] {
			continue
		}
		if c.Path == "ip firewall service-port" {
			p.servicePort(c)
			continue
		}
		if c.Path == "ip firewall connection tracking" {
			if c.Verb == "set" || c.Verb == "raise" {
				for _, a := range c.Args {
					if a.Key == "" || !strings.HasSuffix(a.Key, "-timeout") {
						continue
					}
					d, ok := duration(a.Val)
					if !ok {
						return p.errf(c.Line, a.Key, "%q: not a RouterOS time (10s, 3m, 1d, 00:03:00)", a.Val)
					}
					if c.Verb == "raise" {
						cur, set := p.timeouts[a.Key]
						if !set {
							cur = defaultTimeouts[a.Key]
						}
						if d <= cur && (set || cur > 0) {
							continue
						}
					}
					p.timeouts[a.Key], p.tLine[a.Key] = d, c.Line
				}
			}
			continue
		}
		items := p.menus[c.Path]
		switch c.Verb {
		case "add":
			e := &entry{cmd: c}
			if v, ok := c.Get("disabled"); ok {
				e.disabled = v == "yes" || v == "true"
			}
			e.comment, _ = c.Get("comment")
			at := len(items)
			if v, ok := c.Get("place-before"); ok {
				n, err := strconv.Atoi(v)
				switch {
				case err == nil && n >= 0 && n <= len(items):
					at = n
				case err == nil:
				default:
					p.notes = append(p.notes, fmt.Sprintf("line %d: place-before=%s is not followed: the item is read at the end of /%s", c.Line, clip(v, 40), c.Path))
				}
			}
			if p.work += len(items) - at; p.work > MaxWork {
				return p.errf(c.Line, "place-before", "more items moved than the reader follows (%d)", MaxWork)
			}
			items = slices.Insert(items, at, e)
		case "remove":
			var arg *Arg
			for j := range c.Args {
				if c.Args[j].Key == "" || c.Args[j].Key == "numbers" {
					arg = &c.Args[j]
				}
			}
			match, ok := finder(arg)
			if !ok {
				p.notes = append(p.notes, fmt.Sprintf("line %d: /%s remove %s is not followed: the items it removes are read as present", c.Line, c.Path, clip(argText(arg), 60)))
				break
			}
			if p.work += len(items); p.work > MaxWork {
				return p.errf(c.Line, "remove", "more items searched than the reader follows (%d)", MaxWork)
			}
			items = slices.DeleteFunc(items, match)
		case "print", "export", "find":
		default:
			p.notes = append(p.notes, fmt.Sprintf("line %d: /%s %s is not followed", c.Line, c.Path, c.Verb))
		}
		p.menus[c.Path] = items
	}
	// interface lists
	for _, e := range p.menus["interface list"] {
		name, _ := e.cmd.Get("name")
		for _, k := range []string{"include", "exclude"} {
			if v, ok := e.cmd.Get(k); ok && v != "" && !e.disabled {
				p.ifUnk[name] = fmt.Sprintf("interface list %s %s=%s (line %d)", name, k, v, e.cmd.Line)
			}
		}
	}
	for _, e := range p.menus["interface list member"] {
		if e.disabled {
			continue
		}
		l, _ := e.cmd.Get("list")
		ifc, _ := e.cmd.Get("interface")
		if l == "" || ifc == "" {
			return p.errf(e.cmd.Line, "/interface list member", "needs list= and interface=")
		}
		p.ifLists[l] = append(p.ifLists[l], ifc)
	}
	for _, m := range []string{"ip ipsec policy", "ip ipsec peer", "ip ipsec identity"} {
		for _, e := range p.menus[m] {
			if v, _ := e.cmd.Get("template"); !e.disabled && v != "yes" {
				p.ipsec = true
			}
		}
	}
	if n := len(p.menus["ip firewall mangle"]) + len(p.menus["ipv6 firewall mangle"]); n > 0 {
		p.notes = append(p.notes, fmt.Sprintf("/ip firewall mangle: %d rules not read (they mark packets and connections; rules that match the marks are unknown)", n))
	}
	return nil
}

func argText(a *Arg) string {
	if a == nil {
		return ""
	}
	if a.Expr {
		return "[" + a.Val + "]"
	}
	return a.Val
}

var helperFind = lazyre.New(`^find\s+(?:where\s+)?name\s*=\s*"?([a-z0-9-]+)"?$`)

// servicePort follows set, enable and disable of the helpers.
func (p *reader) servicePort(c *Cmd) {
	var name string
	for _, a := range c.Args {
		switch {
		case a.Key == "" && !a.Expr, a.Key == "numbers" && !a.Expr:
			name = a.Val
		case a.Key == "" && a.Expr, a.Key == "numbers" && a.Expr:
			if m := helperFind.FindStringSubmatch(a.Val); m != nil {
				name = m[1]
			} else {
				name = "?"
			}
		}
	}
	for _, h := range p.helpers {
		if h.name != name && name != "?" {
			continue
		}
		if name == "?" {
			h.unknown = fmt.Sprintf("line %d: /ip firewall service-port %s %s is not followed", c.Line, c.Verb, clip(c.Text, 60))
			continue
		}
		h.line = c.Line
		switch c.Verb {
		case "disable":
			h.on = false
		case "enable":
			h.on = true
		case "set":
			if v, ok := c.Get("disabled"); ok {
				h.on = !(v == "yes" || v == "true")
			}
			if v, ok := c.Get("ports"); ok {
				h.ports = v
			}
		}
	}
}

// helperChains are the helpers that are on, as a chain of rules that
// attach them to the connections of their ports (IPv4: RouterOS's
// service-port is an /ip menu), after connection tracking.
func (p *reader) helperChains(rs *ruleset.Ruleset) error {
	for _, h := range p.helpers {
		if h.unknown != "" {
			p.notes = append(p.notes, h.unknown)
		}
		if !h.on {
			continue
		}
		vals, err := ports(h.ports)
		if err != nil {
			return p.errf(h.line, "ports", "%v", err)
		}
		name := h.name + " (on)"
		if h.line == 0 {
			name = h.name + " (on by RouterOS's default)"
		}
		c := &ruleset.Chain{Family: "ip", Table: "service-port", Name: name, Base: true, Type: "filter", Hook: "prerouting", Prio: -150, Policy: ruleset.Accept,
			Pos: ruleset.Pos{Line: h.line, Text: "/ip firewall service-port"}}
		rs.Chains = append(rs.Chains, c)
		text := fmt.Sprintf("/ip firewall service-port %s: on (RouterOS's default), ports %s", h.name, h.ports)
		if h.line > 0 {
			text = fmt.Sprintf("/ip firewall service-port %s: on, ports %s", h.name, h.ports)
		}
		r := &ruleset.Rule{Chain: c, Index: len(c.Rules), Pos: ruleset.Pos{Line: h.line, Text: text},
			Terms: []ruleset.Term{ruleset.Single(ruleset.L4Proto, false, ruleset.NumValue(ruleset.ProtoTCP), ruleset.NumValue(ruleset.ProtoUDP)),
				ruleset.Single(ruleset.DstPort, false, vals...)}}
		r.Ext().Helper = h.name
		r.Ext().HelperOff = "RouterOS: /ip firewall service-port set " + h.name + " disabled=yes"
		c.Rules = append(c.Rules, r)
		p.notes = append(p.notes, text+": the helper rewrites "+strings.ToUpper(h.name)+" of the connections to these ports")
	}
	return nil
}

// duration reads a RouterOS time: 1w2d3h4m5s (any of the units, ms
// ignored) or hh:mm:ss; whole seconds.
func duration(s string) (int, bool) {
	if h, rest, ok := strings.Cut(s, ":"); ok {
		m, sec, ok := strings.Cut(rest, ":")
		hh, e1 := strconv.Atoi(h)
		mm, e2 := strconv.Atoi(m)
		ss, e3 := strconv.ParseFloat(sec, 64)
		if !ok || e1 != nil || e2 != nil || e3 != nil || hh < 0 || mm < 0 || ss < 0 || hh > 1<<20 {
			return 0, false
		}
		return hh*3600 + mm*60 + int(ss), true
	}
	units := map[string]int{"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0}
	total, num := 0, -1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if num < 0 {
				num = 0
			}
			if num > 1<<24 {
				return 0, false
			}
			num = num*10 + int(c-'0')
			i++
		default:
			u := string(c)
			if strings.HasPrefix(s[i:], "ms") {
				u = "ms"
			}
			f, ok := units[u]
			if !ok || num < 0 {
				return 0, false
			}
			total += num * f
			num = -1
			i += len(u)
		}
	}
	if num >= 0 {
		total += num // a bare number is seconds
	}
	return total, s != ""
}

// defaultTimeouts are RouterOS's defaults that the reader relies on
// (the same in v6 and v7); 0 where it does not know one.
var defaultTimeouts = map[string]int{"udp-stream-timeout": 180, "tcp-established-timeout": 86400}

// conntrackTimeouts are RouterOS's UDP and TCP timeouts as a rule that
// attaches them to every connection: the configuration's, or the
// default (udp-stream-timeout 3m, tcp-established-timeout 1d) where it
// sets none.
func (p *reader) conntrackTimeouts(rs *ruleset.Ruleset) {
	for _, fam := range []string{"ip", "ip6"} {
		c := &ruleset.Chain{Family: fam, Table: "connection-tracking", Name: "timeouts", Base: true, Type: "filter", Hook: "prerouting", Prio: -140, Policy: ruleset.Accept,
			Pos: ruleset.Pos{Text: "/ip firewall connection tracking"}}
		for _, t := range []struct {
			proto, key, state string
			def               int
			num               uint32
		}{{"udp", "udp-stream-timeout", "replied", defaultTimeouts["udp-stream-timeout"], ruleset.ProtoUDP},
			{"tcp", "tcp-established-timeout", "established", defaultTimeouts["tcp-established-timeout"], ruleset.ProtoTCP}} {
			secs, line := t.def, p.tLine[t.key]
			text := fmt.Sprintf("/ip firewall connection tracking %s=%ds (RouterOS's default)", t.key, secs)
			if line > 0 {
				secs = p.timeouts[t.key]
				text = fmt.Sprintf("/ip firewall connection tracking set %s=%ds", t.key, secs)
			}
			pol := map[string]int{t.state: secs}
			if t.proto == "udp" {
				if v, ok := p.timeouts["udp-timeout"]; ok {
					pol["unreplied"] = v
				}
			}
			r := &ruleset.Rule{Chain: c, Index: len(c.Rules), Pos: ruleset.Pos{Line: line, Text: text},
				Terms: []ruleset.Term{ruleset.Single(ruleset.L4Proto, false, ruleset.NumValue(t.num))}}
			r.Ext().Timeout = &ruleset.Timeout{Name: "/ip firewall connection tracking " + t.key, Proto: t.proto, Policy: pol}
			c.Rules = append(c.Rules, r)
		}
		rs.Chains = append(rs.Chains, c)
	}
}

// findRE reads the find expressions the reader follows in a remove:
// [find where comment~"RE"], [find comment="X"], [find where list~"RE"],
// each optionally with "and dynamic=no".
var findRE = lazyre.New(`^find\s+(?:where\s+)?(comment|list)\s*(~|=)\s*"((?:[^"\\]|\\.)*)"(?:\s+(?:and\s+)?dynamic=no)?$`)

func finder(a *Arg) (func(*entry) bool, bool) {
	if a == nil || !a.Expr {
		return nil, false
	}
	m := findRE.FindStringSubmatch(a.Val)
	if m == nil {
		return nil, false
	}
	val, _, err := quoted(`"` + m[3] + `"`)
	if err != nil {
		return nil, false
	}
	get := func(e *entry) string {
		if m[1] == "comment" {
			return e.comment
		}
		v, _ := e.cmd.Get("list")
		return v
	}
	if m[2] == "=" {
		return func(e *entry) bool { return get(e) == val }, true
	}
	re, err2 := regexp.Compile(val)
	if err2 != nil {
		return nil, false
	}
	return func(e *entry) bool { return re.MatchString(get(e)) }, true
}

// tables are the firewall menus read, with their base chains' hooks and
// priorities (as iptables' tables of the same name).
var tables = []struct {
	menu, table, typ string
	base             map[string]builtin
}{
	{"raw", "raw", "filter", map[string]builtin{"prerouting": {"prerouting", -300}, "output": {"output", -300}}},
	{"nat", "nat", "nat", map[string]builtin{"dstnat": {"prerouting", -100}, "srcnat": {"postrouting", 100}}},
	{"filter", "filter", "filter", map[string]builtin{"input": {"input", 0}, "forward": {"forward", 0}, "output": {"output", 0}}},
}

type builtin struct {
	hook string
	prio int
}

func (p *reader) family(rs *ruleset.Ruleset, fam *family) error {
	fam.lists = map[string]*addrList{}
	fam.filled = map[string]bool{}
	for _, e := range p.menus[fam.menu+" firewall address-list"] {
		if e.disabled {
			continue
		}
		name, _ := e.cmd.Get("list")
		addr, _ := e.cmd.Get("address")
		if name == "" || addr == "" {
			return p.errf(e.cmd.Line, "/"+fam.menu+" firewall address-list", "needs list= and address=")
		}
		l := fam.lists[name]
		if l == nil {
			l = &addrList{}
			fam.lists[name] = l
		}
		v, isName, err := address(addr, fam.num, true)
		if err != nil {
			return p.errf(e.cmd.Line, "address", "%v", err)
		}
		if isName {
			l.names = append(l.names, addr)
		} else {
			l.vals = append(l.vals, v)
		}
	}
	for _, t := range tables {
		for _, e := range p.menus[fam.menu+" firewall "+t.menu] {
			a, _ := e.cmd.Get("action")
			if a == "add-src-to-address-list" || a == "add-dst-to-address-list" {
				l, _ := e.cmd.Get("address-list")
				fam.filled[l] = true
			}
		}
	}
	for _, t := range tables {
		chains := map[string]*ruleset.Chain{}
		var order []*ruleset.Chain
		get := func(name string, line int) *ruleset.Chain {
			if c := chains[name]; c != nil {
				return c
			}
			c := &ruleset.Chain{Family: fam.nft, Table: t.table, Name: name, Type: t.typ, Pos: ruleset.Pos{Line: line, Text: "/" + fam.menu + " firewall " + t.menu + " chain=" + name}}
			if b, ok := t.base[name]; ok {
				c.Base, c.Hook, c.Prio, c.Policy = true, b.hook, b.prio, ruleset.Accept
			}
			chains[name] = c
			order = append(order, c)
			return c
		}
		for _, name := range []string{"prerouting", "dstnat", "input", "forward", "output", "srcnat"} {
			if _, ok := t.base[name]; ok {
				get(name, 0)
			}
		}
		for _, e := range p.menus[fam.menu+" firewall "+t.menu] {
			if e.disabled {
				continue
			}
			name, ok := e.cmd.Get("chain")
			if !ok || name == "" {
				return p.errf(e.cmd.Line, "chain", "a rule needs chain=")
			}
			c := get(name, e.cmd.Line)
			rules, err := p.rule(fam, t.menu, c, e)
			if err != nil {
				return err
			}
			if p.nrules += len(rules); p.nrules > MaxRules {
				return p.errf(e.cmd.Line, "", "more than %d rules", MaxRules)
			}
			for _, r := range rules {
				if r.Verdict.Kind == ruleset.Jump {
					get(r.Verdict.Chain, e.cmd.Line)
				}
				c.Rules = append(c.Rules, r)
			}
		}
		for _, c := range order {
			for i, r := range c.Rules {
				r.Index = i
			}
			rs.Chains = append(rs.Chains, c)
		}
	}
	return nil
}

// address reads an address, prefix or range "a-b" of family fam, or,
// with names, a DNS name (isName).
func address(s string, fam int, names bool) (ruleset.Value, bool, error) {
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(lo)
		b, err2 := netip.ParseAddr(hi)
		if err1 == nil && err2 == nil {
			if famOf(a) != fam || famOf(b) != fam || b.Less(a) {
				return ruleset.Value{}, false, fmt.Errorf("%q: not a range of IPv%d addresses", s, fam)
			}
			return ruleset.AddrValue(a, b), false, nil
		}
	}
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			// RouterOS takes a host address with a mask and keeps its network
			a, bits, _ := strings.Cut(s, "/")
			ad, err1 := netip.ParseAddr(a)
			n, err2 := strconv.Atoi(bits)
			if err1 != nil || err2 != nil {
				return ruleset.Value{}, false, fmt.Errorf("%q: not an address or prefix", s)
			}
			if pf, err = ad.Prefix(n); err != nil {
				return ruleset.Value{}, false, fmt.Errorf("%q: %v", s, err)
			}
		}
		if famOf(pf.Addr()) != fam {
			return ruleset.Value{}, false, fmt.Errorf("%q: not an IPv%d prefix", s, fam)
		}
		return ruleset.PrefixValue(pf), false, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if famOf(a) != fam {
			return ruleset.Value{}, false, fmt.Errorf("%q: not an IPv%d address", s, fam)
		}
		return ruleset.AddrValue(a, a), false, nil
	}
	if names && validName(s) {
		return ruleset.Value{}, true, nil
	}
	return ruleset.Value{}, false, fmt.Errorf("%q: not an address, prefix, range or DNS name", s)
}

func famOf(a netip.Addr) int {
	if a.Unmap().Is4() {
		return 4
	}
	return 6
}

func validName(s string) bool {
	if s == "" || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// fixedConds are matchers whose answer is a fixed function of the packet
// and its connection on its way through the router: the same condition
// twice is the same answer.
var fixedConds = map[string]bool{
	"ipsec-policy": true, "connection-mark": true, "packet-mark": true, "routing-mark": true,
	"src-mac-address": true, "src-address-type": true, "dst-address-type": true, "connection-type": true,
	"hotspot": true, "layer7-protocol": true, "in-bridge-port": true, "out-bridge-port": true,
	"in-bridge-port-list": true, "out-bridge-port-list": true,
}

// ignored are properties that do not change which packets a rule matches
// or what it does with them.
var ignored = map[string]bool{
	"chain": true, "action": true, "comment": true, "disabled": true, "log": true, "log-prefix": true,
	"place-before": true, "jump-target": true, "to-addresses": true, "to-ports": true,
	"address-list": true, "address-list-timeout": true, "reject-with": true, "hw-offload": true,
	"copy-from": true,
}

// alt is one way a rule's address lists match: terms, and names the
// audit resolves.
type alt struct {
	terms []ruleset.Term
	names []nameRef
}

type nameRef struct {
	field ruleset.Field
	name  string
	neg   bool
}

// rule reads one item of a firewall menu into rules of chain c: one,
// or one per alternative of its address lists' DNS names.
func (p *reader) rule(fam *family, menu string, c *ruleset.Chain, e *entry) ([]*ruleset.Rule, error) {
	cmd := e.cmd
	base := &ruleset.Rule{Chain: c, Pos: ruleset.Pos{Line: cmd.Line, Text: "/" + fam.menu + " firewall " + menu + " " + clip(cmd.Text, 300)},
		Terms: p.terms[:0]} // scratch: Interner.Rule copies the terms out
	alts := p.alts[:0]
	alts = append(alts, alt{})
	defer func() { p.alts = alts[:0] }()
	var proto string
	var states []string
	statesNeg := false
	for _, a := range cmd.Args {
		if a.Key == "" {
			return nil, p.errf(cmd.Line, a.Val, "an argument without a name (add takes name=value)")
		}
		if ignored[a.Key] {
			continue
		}
		val, neg := a.Val, false
		if strings.HasPrefix(val, "!") {
			val, neg = val[1:], true
		}
		if a.Expr {
			base.AddUnknown(a.Key + "=[" + clip(a.Val, 40) + "]")
			continue
		}
		switch a.Key {
		case "protocol":
			n, ok := protoNumbers[val]
			if !ok {
				n, ok = ruleset.ProtoNumbers[val]
			}
			if !ok {
				x, err := strconv.ParseUint(val, 10, 8)
				if err != nil {
					base.AddUnknown("protocol=" + clip(a.Val, 40))
					continue
				}
				n = uint32(x)
			}
			if !neg {
				proto = val
			}
			base.Terms = append(base.Terms, p.in.Single(ruleset.L4Proto, neg, ruleset.NumValue(n)))
		case "src-address", "dst-address":
			v, _, err := address(val, fam.num, false)
			if err != nil {
				return nil, p.errf(cmd.Line, a.Key, "%v", err)
			}
			f := ruleset.SrcAddr
			if a.Key == "dst-address" {
				f = ruleset.DstAddr
			}
			base.Terms = append(base.Terms, p.in.Single(f, neg, v))
		case "src-port", "dst-port":
			vals, err := ports(val)
			if err != nil {
				return nil, p.errf(cmd.Line, a.Key, "%v", err)
			}
			f := ruleset.SrcPort
			if a.Key == "dst-port" {
				f = ruleset.DstPort
			}
			base.Terms = append(base.Terms, p.in.Single(f, neg, vals...))
		case "in-interface", "out-interface":
			f := ruleset.IIfName
			if a.Key == "out-interface" {
				f = ruleset.OIfName
			}
			if val == "" {
				return nil, p.errf(cmd.Line, a.Key, "no interface name")
			}
			if allIfs[val] {
				base.AddUnknown(a.Key + "=" + a.Val + " (RouterOS v6's interfaces of a kind)")
				continue
			}
			base.Terms = append(base.Terms, p.in.Single(f, neg, ruleset.NameValue(val, false)))
		case "in-interface-list", "out-interface-list":
			f := ruleset.IIfName
			if a.Key == "out-interface-list" {
				f = ruleset.OIfName
			}
			switch {
			case val == "all":
				if neg {
					base.Terms = append(base.Terms, ruleset.Single(f, false))
				}
			case val == "none":
				if !neg {
					base.Terms = append(base.Terms, ruleset.Single(f, false))
				}
			case p.ifUnk[val] != "":
				base.AddUnknown(a.Key + "=" + a.Val + ": " + p.ifUnk[val])
			case val == "dynamic" || val == "static":
				base.AddUnknown(a.Key + "=" + a.Val + " (interfaces RouterOS lists itself)")
			default:
				var vs []ruleset.Value
				for _, ifc := range p.ifLists[val] {
					vs = append(vs, ruleset.NameValue(ifc, false))
				}
				base.Terms = append(base.Terms, ruleset.Single(f, neg, vs...))
			}
		case "src-address-list", "dst-address-list":
			f := ruleset.SrcAddr
			if a.Key == "dst-address-list" {
				f = ruleset.DstAddr
			}
			l := fam.lists[val]
			switch {
			case fam.filled[val]:
				base.AddUnknown(a.Key + "=" + a.Val + " (rules add addresses to this list)")
				base.Ext().Conds = append(base.X.Conds, ruleset.Cond{Key: "address-list " + f.String() + " " + val, Neg: neg})
			case l == nil:
				base.AddUnknown(a.Key + "=" + a.Val + " (no such list in the configuration)")
			case neg:
				// not in the list: in none of its addresses and none of its names
				base.Terms = append(base.Terms, ruleset.Single(f, true, l.vals...))
				for i := range alts {
					for _, n := range l.names {
						alts[i].names = append(alts[i].names, nameRef{f, n, true})
					}
				}
			default:
				var next []alt
				for _, x := range alts {
					if len(l.vals) > 0 || len(l.names) == 0 {
						y := alt{terms: append(slices.Clone(x.terms), ruleset.Single(f, false, l.vals...)), names: slices.Clone(x.names)}
						next = append(next, y)
					}
					for _, n := range l.names {
						y := alt{terms: slices.Clone(x.terms), names: append(slices.Clone(x.names), nameRef{f, n, false})}
						next = append(next, y)
					}
				}
				if len(next) > MaxAlternatives {
					return nil, p.errf(cmd.Line, a.Key, "the address lists' DNS names make more than %d alternatives", MaxAlternatives)
				}
				alts = next
			}
		case "ipsec-policy":
			dir, kind, _ := strings.Cut(val, ",")
			if p.ipsec || (dir != "in" && dir != "out") || (kind != "ipsec" && kind != "none") {
				base.AddUnknown(a.Key + "=" + a.Val)
				base.Ext().Conds = append(base.X.Conds, ruleset.Cond{Key: a.Key + "=" + val, Neg: neg})
				break
			}
			// No IPsec policy, peer or identity in the configuration: no
			// packet is IPsec's, so "ipsec" matches none and "none" all.
			if (kind == "ipsec") != neg {
				base.Terms = append(base.Terms, ruleset.Single(ruleset.L4Proto, false))
			}
		case "connection-state":
			states = strings.Split(val, ",")
			statesNeg = neg
			var vs []ruleset.Value
			for _, s := range states {
				b, ok := ctStates[s]
				if !ok {
					return nil, p.errf(cmd.Line, a.Key, "%q: not a connection state (established, related, new, invalid, untracked)", s)
				}
				vs = append(vs, ruleset.NumValue(b))
			}
			base.Terms = append(base.Terms, p.in.Single(ruleset.CtState, neg, vs...))
		case "connection-nat-state":
			var bits uint32
			for _, s := range strings.Split(val, ",") {
				switch s {
				case "dstnat":
					bits |= ruleset.CtStatusDNAT
				case "srcnat":
					bits |= ruleset.CtStatusSNAT
				default:
					return nil, p.errf(cmd.Line, a.Key, "%q: srcnat or dstnat", s)
				}
			}
			// any of the bits set; ! none of them
			base.Terms = append(base.Terms, ruleset.Term{Fields: ruleset.One(ruleset.CtStatus), Mask: bits,
				Set: []ruleset.Tuple{{ruleset.NumValue(0)}}, Neg: !neg})
		default:
			desc := a.Key + "=" + clip(a.Val, 60)
			base.AddUnknown(desc)
			if fixedConds[a.Key] {
				base.Ext().Conds = append(base.X.Conds, ruleset.Cond{Key: a.Key + "=" + val, Neg: neg})
			}
		}
	}
	_ = proto
	if err := p.verdict(fam, menu, base, cmd, states, statesNeg); err != nil {
		return nil, err
	}
	if n := len(base.Unknown()); n > 0 && len(base.X.Conds) != n {
		// the audit keys conditions only when every unknown one is keyed
		base.X.Conds = nil
	}
	if len(alts) == 1 && len(alts[0].names) == 0 {
		// one way, the common case: the rule itself
		base.Terms = append(base.Terms, alts[0].terms...)
		p.terms = base.Terms[:0]
		p.in.Rule(base)
		return []*ruleset.Rule{base}, nil
	}
	p.terms = base.Terms[:0]
	var out []*ruleset.Rule
	for _, x := range alts {
		r := *base
		r.Terms = append(slices.Clone(base.Terms), x.terms...)
		if base.X != nil {
			ext := *base.X
			ext.Unknown = slices.Clone(base.X.Unknown)
			ext.Conds = slices.Clone(base.X.Conds)
			ext.Sets = slices.Clone(base.X.Sets)
			r.X = &ext
		}
		for _, n := range x.names {
			ruleset.MatchName(&r, n.field, n.name, n.neg)
		}
		p.in.Rule(&r)
		out = append(out, &r)
	}
	return out, nil
}

// protoNumbers are RouterOS's protocol names that differ from nft's.
var protoNumbers = map[string]uint32{
	"ipsec-esp": 50, "ipsec-ah": 51, "udp-lite": 136, "ipv6-encap": 41, "ipencap": 4, "etherip": 97,
	"encap": 98, "rsvp": 46, "ggp": 3, "st": 5, "egp": 8, "pup": 12, "hmp": 20, "xns-idp": 22, "rdp": 27,
	"iso-tp4": 29, "xtp": 36, "ddp": 37, "idpr-cmtp": 38, "ipv6-route": 43, "idrp": 45, "ipv6-nonxt": 59,
	"ipv6-opts": 60,
}

// allIfs are RouterOS v6's interface names that stand for every
// interface of a kind.
var allIfs = map[string]bool{"all-ethernet": true, "all-ppp": true, "all-wireless": true, "all-vlan": true}

var ctStates = map[string]uint32{
	"established": ruleset.CtEstablished, "related": ruleset.CtRelated, "new": ruleset.CtNew,
	"invalid": ruleset.CtInvalid, "untracked": ruleset.CtUntracked,
}

// ports reads a port list: ports and ranges "lo-hi", comma-separated.
func ports(s string) ([]ruleset.Value, error) {
	var out []ruleset.Value
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%q: not a port or range", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, fmt.Errorf("%q: not a port or range", part)
			}
		}
		out = append(out, ruleset.PortValue(uint16(a), uint16(b)))
	}
	return out, nil
}

// verdict reads the rule's action.
func (p *reader) verdict(fam *family, menu string, r *ruleset.Rule, cmd *Cmd, states []string, statesNeg bool) error {
	action, ok := cmd.Get("action")
	if !ok {
		action = "accept" // the documented default
	}
	v := &r.Verdict
	switch action {
	case "accept":
		v.Kind = ruleset.Accept
	case "drop":
		v.Kind = ruleset.Drop
	case "reject":
		v.Kind = ruleset.Reject
	case "tarpit":
		v.Kind = ruleset.Drop // holds TCP connections open, passes nothing
	case "return":
		v.Kind = ruleset.Return
	case "jump":
		t, _ := cmd.Get("jump-target")
		if t == "" {
			return p.errf(cmd.Line, "jump-target", "action=jump needs jump-target=")
		}
		v.Kind, v.Chain = ruleset.Jump, t
	case "passthrough", "log":
		v.Kind = ruleset.Continue
	case "add-src-to-address-list", "add-dst-to-address-list":
		v.Kind = ruleset.Continue
		r.Ext().Mutates = true
	case "fasttrack-connection":
		// FastTrack only speeds up packets of connections it marks; for
		// established and related packets it works as accept.
		only := !statesNeg && len(states) > 0
		for _, s := range states {
			if s != "established" && s != "related" {
				only = false
			}
		}
		if only {
			v.Kind = ruleset.Accept
		} else {
			*v = ruleset.Verdict{Kind: ruleset.Unknown, Why: "fasttrack-connection beyond established and related packets"}
		}
	case "dst-nat":
		*v = ruleset.Verdict{Kind: ruleset.DNAT}
		to, _ := cmd.Get("to-addresses")
		port, hasPort := cmd.Get("to-ports")
		switch {
		case to == "":
			v.Why = "dst-nat without to-addresses"
		case strings.Contains(to, "-") || strings.Contains(to, "/"):
			v.Why = "dst-nat to a range " + to
		default:
			a, err := netip.ParseAddr(to)
			if err != nil || famOf(a) != fam.num {
				return p.errf(cmd.Line, "to-addresses", "%q: not an IPv%d address", to, fam.num)
			}
			v.To = a.Unmap()
		}
		if hasPort {
			n, err := strconv.ParseUint(port, 10, 16)
			if err != nil || n == 0 {
				v.To, v.Why = netip.Addr{}, "dst-nat to ports "+port
			} else {
				v.Port = uint16(n)
			}
		}
	case "src-nat", "masquerade", "same":
		v.Kind = ruleset.SNAT
	case "redirect":
		v.Kind = ruleset.Redirect
	case "netmap":
		if menu == "nat" {
			if c := r.Chain; c.Name == "dstnat" {
				*v = ruleset.Verdict{Kind: ruleset.DNAT, Why: "netmap"}
				break
			}
			v.Kind = ruleset.SNAT
		}
	case "notrack":
		*v = ruleset.Verdict{Kind: ruleset.Unknown, Why: "notrack: the packet leaves connection tracking"}
	default:
		*v = ruleset.Verdict{Kind: ruleset.Unknown, Why: "action=" + clip(action, 40)}
	}
	return nil
}
