package pfxml

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
)

// flag reports whether a flag element is set: present and not "0"/"no"
// (<quick>yes</quick>, <disabled/>, <disabled>1</disabled>).
func flag(n *Node, name string) bool {
	c := n.Child(name)
	if c == nil {
		return false
	}
	v := strings.ToLower(strings.TrimSpace(c.Text))
	return v != "0" && v != "no" && v != "false"
}

func quoteDescr(n *Node) string {
	d := strings.Join(strings.Fields(n.Get("descr")), " ")
	if len(d) > 80 {
		d = d[:80] + "…"
	}
	return strconv.Quote(d)
}

// filterRule reads one <filter><rule>; nil when it matches no forwarded
// packet (disabled, to the firewall itself, a match rule).
func (b *reader) filterRule(n *Node) (s *spec, float bool, dir string, quick bool, err error) {
	if flag(n, "disabled") {
		return nil, false, "", false, nil
	}
	s = &spec{node: n}
	switch t := n.Get("type"); t {
	case "", "pass":
		s.verdict = ruleset.Verdict{Kind: ruleset.Accept}
	case "block":
		s.verdict = ruleset.Verdict{Kind: ruleset.Drop}
	case "reject":
		s.verdict = ruleset.Verdict{Kind: ruleset.Reject}
	case "match":
		b.note(fmt.Sprintf("%s: line %d: a match rule (queues, gateways) passes and blocks nothing: not read", b.name, n.Line))
		return nil, false, "", false, nil
	default:
		s.verdict = ruleset.Verdict{Kind: ruleset.Unknown, Why: fmt.Sprintf("rule type %q", t)}
	}
	float = flag(n, "floating")
	dir = "in"
	quick = true
	if float {
		dir = n.Get("direction")
		if dir == "" {
			dir = "any"
		}
		if dir != "in" && dir != "out" && dir != "any" {
			return nil, false, "", false, b.errf(n, "direction %q: in, out or any", dir)
		}
		quick = flag(n, "quick")
	}
	ok, err := b.common(n, s)
	if err != nil || !ok {
		return nil, false, "", false, err
	}
	if v := n.Get("sched"); v != "" {
		s.unknown = append(s.unknown, fmt.Sprintf("schedule %s (the rule is active only at its times)", v))
	}
	if v := n.Get("tagged"); v != "" {
		s.unknown = append(s.unknown, fmt.Sprintf("tagged %s (a tag another rule sets)", v))
	}
	if flag(n, "interfacenot") {
		s.unknown = append(s.unknown, fmt.Sprintf("interface not %s (the rule's interfaces inverted)", n.Get("interface")))
	}
	if v := n.Get("os"); v != "" {
		s.unknown = append(s.unknown, fmt.Sprintf("os %s (the sender's operating system)", v))
	}
	where := "on " + strings.Join(s.ifaces, ",")
	if len(s.ifaces) == 0 {
		where = "on any interface"
	}
	what := "filter rule"
	if float {
		what = "floating rule"
		where += " " + dir
		if quick {
			where += " quick"
		}
	}
	text := fmt.Sprintf("%s %s %s", what, where, quoteDescr(n))
	if t := n.Get("tracker"); t != "" {
		text += " (tracker " + t + ")"
	}
	s.pos = ruleset.Pos{Line: n.Line, Text: text}
	return s, float, dir, quick, nil
}

// readNAT reads the port forwards into the nat chain; those whose filter
// rule association is "pass" go into the inbound chain at once (rdr
// pass), OPNsense's "register rule" ones are returned for after the
// interface rules.
func (b *reader) readNAT(nat *Node, c chains) (registered []*spec, err error) {
	if n := nat.Child("outbound"); n != nil && len(n.All("rule")) > 0 {
		b.note(fmt.Sprintf("%s: line %d: %d outbound NAT rules change sources, not what passes: not modelled", b.name, n.Line, len(n.All("rule"))))
	}
	for _, sec := range []string{"onetoone", "npt"} {
		if ns := nat.All(sec); len(ns) > 0 {
			b.note(fmt.Sprintf("%s: line %d: %d %s NAT rules are not modelled", b.name, ns[0].Line, len(ns), sec))
		}
	}
	for _, n := range nat.All("rule") {
		if flag(n, "disabled") {
			continue
		}
		s := &spec{node: n}
		ok, err := b.common(n, s)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		s.pos = ruleset.Pos{Line: n.Line, Text: fmt.Sprintf("port forward on %s %s", strings.Join(s.ifaces, ","), quoteDescr(n))}
		if flag(n, "nordr") {
			s.verdict = ruleset.Verdict{Kind: ruleset.Accept}
			b.emit(c.nat, s, ruleset.IIfName)
			continue
		}
		to, toOK, why := b.target(n.Get("target"))
		lp := n.Get("local-port")
		port, shifted, perr := translatedPort(s.dports, lp)
		switch {
		case !toOK:
			s.verdict = ruleset.Verdict{Kind: ruleset.DNAT, Why: why}
		case perr != "":
			s.verdict = ruleset.Verdict{Kind: ruleset.DNAT, Why: perr}
		default:
			s.verdict = ruleset.Verdict{Kind: ruleset.DNAT, To: to, Port: port}
		}
		b.emit(c.nat, s, ruleset.IIfName)
		assoc := n.Get("associated-rule-id")
		passOpt := n.Get("pass")
		if assoc != "pass" && passOpt != "pass" && passOpt != "rule" {
			continue
		}
		// The filter rule the product makes for it: on the same
		// interfaces, to the forwarded address and ports.
		fr := *s
		fr.verdict = ruleset.Verdict{Kind: ruleset.Accept}
		fr.dstNeg = false
		fr.dst = addrs{}
		if toOK {
			fr.dst.vals = []ruleset.Value{ruleset.AddrValue(to, to)}
		} else {
			fr.dst.unknown = []string{"the forwarded address (" + why + ")"}
		}
		if shifted != nil {
			fr.dports = shifted
		}
		if passOpt == "rule" {
			fr.pos.Text += " (its registered filter rule)"
			registered = append(registered, &fr)
			continue
		}
		fr.pos.Text += " (filter rule association: pass)"
		dnat := ruleset.Term{Fields: ruleset.One(ruleset.CtStatus), Mask: ruleset.CtStatusDNAT, Set: []ruleset.Tuple{{ruleset.NumValue(0)}}, Neg: true}
		b.emit(c.in, &fr, ruleset.IIfName, dnat)
	}
	return registered, nil
}

// target reads a port forward's target: an address, or an alias of one.
func (b *reader) target(v string) (netip.Addr, bool, string) {
	if a, err := netip.ParseAddr(v); err == nil {
		return a.Unmap(), true, ""
	}
	if _, ok := b.aliases[v]; ok {
		var a addrs
		b.entry(v, &a, 0, map[string]bool{})
		if len(a.vals) == 1 && len(a.names) == 0 && len(a.unknown) == 0 && a.vals[0].Lo == a.vals[0].Hi {
			return a.vals[0].Lo, true, ""
		}
		return netip.Addr{}, false, fmt.Sprintf("target alias %s is not one address", v)
	}
	if v == "" {
		return netip.Addr{}, false, "no target"
	}
	return netip.Addr{}, false, fmt.Sprintf("target %q", v)
}

// translatedPort is the DNAT port of a forward of dports to local-port
// lp (0: unchanged), and the forwarded ports the filter rule sees when
// they change; why says what cannot be followed.
func translatedPort(dports []ruleset.Value, lp string) (uint16, []ruleset.Value, string) {
	if lp == "" {
		return 0, nil, ""
	}
	n, err := strconv.Atoi(lp)
	if err != nil || n < 1 || n > 65535 {
		return 0, nil, fmt.Sprintf("local port %q", lp)
	}
	l := uint16(n)
	if len(dports) != 1 {
		if len(dports) == 0 {
			return l, []ruleset.Value{ruleset.PortValue(l, l)}, ""
		}
		return 0, nil, fmt.Sprintf("local port %d for several port ranges", l)
	}
	d := dports[0]
	switch {
	case d.PLo == l:
		return 0, nil, ""
	case d.PLo == d.PHi:
		return l, []ruleset.Value{ruleset.PortValue(l, l)}, ""
	}
	return 0, nil, fmt.Sprintf("ports %d-%d moved to %d and on", d.PLo, d.PHi, l)
}
