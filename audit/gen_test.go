package audit

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strings"
)

// Two "!=" on neighbouring fields in one rule are ambiguous in nft JSON
// (see nftjson's mergedInequality); the random rulesets leave them out,
// TestKernelMergedInequality covers them.
var (
	neqPorts = [2]*regexp.Regexp{regexp.MustCompile(`sport != (\{ )?\d+( \})?( |$)`), regexp.MustCompile(`dport != (\{ )?\d+( \})?( |$)`)}
	neqAddrs = [2]*regexp.Regexp{regexp.MustCompile(`saddr != (\{ )?[0-9a-f:.]+( \})?( |$)`), regexp.MustCompile(`daddr != (\{ )?[0-9a-f:.]+( \})?( |$)`)}
)

func ambiguous(rule string) bool {
	return (neqPorts[0].MatchString(rule) && neqPorts[1].MatchString(rule)) ||
		(neqAddrs[0].MatchString(rule) && neqAddrs[1].MatchString(rule))
}

// The address and port universe of the differential tests: the lab's
// documentation addresses, and ports that rules and probes share so that
// both hit and miss.
var (
	lan4   = []string{"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"}
	cloud4 = []string{"198.51.100.10", "198.51.100.11", "198.51.100.12", "203.0.113.5", "203.0.113.6"}
	lan6   = []string{"2001:db8:1::10", "2001:db8:1::11", "2001:db8:1::12"}
	cloud6 = []string{"2001:db8:2::10", "2001:db8:2::11", "2001:db8:3::5"}
	ports  = []int{22, 53, 80, 443, 1000, 1024, 3478, 5060, 5061, 8080, 10000, 20000, 33000, 40000, 50000, 65535}

	lanPfx4   = []string{"192.0.2.8/30", "192.0.2.12/31", "192.0.2.0/24", "192.0.2.10/32", "192.0.2.0/28"}
	cloudPfx4 = []string{"198.51.100.8/29", "198.51.100.0/24", "203.0.113.0/24", "203.0.113.4/30", "198.51.100.12/30"}
	lanPfx6   = []string{"2001:db8:1::/64", "2001:db8:1::10/127", "2001:db8:1::12/128"}
	cloudPfx6 = []string{"2001:db8:2::/64", "2001:db8:3::/48", "2001:db8:2::10/126", "2001:db8::/32"}
)

// nftGen writes random nftables rulesets for the differential test.
type nftGen struct {
	r     *rand.Rand
	b     strings.Builder
	nUser int
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (g *nftGen) chance(p float64) bool { return g.r.Float64() < p }

func (g *nftGen) port() int { return pick(g.r, ports) }

func (g *nftGen) portExpr() string {
	switch g.r.IntN(6) {
	case 0, 1:
		return fmt.Sprint(g.port())
	case 2:
		a, b := g.port(), g.port()
		if a > b {
			a, b = b, a
		}
		if a == b {
			return fmt.Sprint(a)
		}
		return fmt.Sprintf("%d-%d", a, b)
	case 3:
		return "@ports"
	default:
		seen := map[int]bool{}
		var parts []string
		for i := 0; i < 1+g.r.IntN(4); i++ {
			p := g.port()
			if seen[p] {
				continue
			}
			seen[p] = true
			parts = append(parts, fmt.Sprint(p))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
}

func (g *nftGen) addrExpr(addrs, prefixes []string, named string) string {
	switch g.r.IntN(7) {
	case 0, 1:
		return pick(g.r, addrs)
	case 2:
		return pick(g.r, prefixes)
	case 3:
		a, b := netip.MustParseAddr(pick(g.r, addrs)), netip.MustParseAddr(pick(g.r, addrs))
		if b.Less(a) {
			a, b = b, a
		}
		if a == b {
			return a.String()
		}
		return a.String() + "-" + b.String()
	case 4:
		return "@" + named
	default:
		seen := map[string]bool{}
		var parts []string
		for i := 0; i < 1+g.r.IntN(3); i++ {
			x := pick(g.r, addrs)
			if g.chance(0.3) {
				x = pick(g.r, prefixes)
			}
			if seen[x] {
				continue
			}
			seen[x] = true
			parts = append(parts, x)
		}
		if overlaps(parts) {
			return parts[0]
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
}

// overlaps reports whether set elements overlap (nft refuses those).
func overlaps(parts []string) bool {
	var ps []netip.Prefix
	for _, p := range parts {
		if x, err := netip.ParsePrefix(p); err == nil {
			ps = append(ps, x)
		} else {
			a := netip.MustParseAddr(p)
			ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	for i := range ps {
		for j := i + 1; j < len(ps); j++ {
			if ps[i].Overlaps(ps[j]) {
				return true
			}
		}
	}
	return false
}

func (g *nftGen) neg() string {
	if g.chance(0.2) {
		return "!= "
	}
	return ""
}

// match writes one random condition for packets of one family and
// protocol (nft refuses rules that mix them).
func (g *nftGen) match(v6 bool, proto string) string {
	switch g.r.IntN(13) {
	case 0, 1:
		if v6 {
			return "ip6 saddr " + g.neg() + g.addrExpr(lan6, lanPfx6, "lan6")
		}
		return "ip saddr " + g.neg() + g.addrExpr(lan4, lanPfx4, "lan4")
	case 2, 3:
		if v6 {
			return "ip6 daddr " + g.neg() + g.addrExpr(cloud6, cloudPfx6, "cloud6")
		}
		return "ip daddr " + g.neg() + g.addrExpr(cloud4, cloudPfx4, "cloud4")
	case 4, 5, 6:
		return proto + " dport " + g.neg() + g.portExpr()
	case 7:
		return proto + " sport " + g.neg() + g.portExpr()
	case 8:
		return "meta l4proto " + proto + " th dport " + g.neg() + g.portExpr()
	case 9:
		return pick(g.r, []string{"iifname", "oifname"}) + " " + g.neg() + pick(g.r, []string{`"lan0"`, `"wan0"`, `"lan*"`, `"eth*"`, `{ "lan0", "x0" }`})
	case 10:
		return "ct state " + pick(g.r, []string{"new", "established", "established,related", "!= established", "{ new, established }", "invalid"})
	case 11:
		if proto != "tcp" {
			return "meta l4proto udp"
		}
		return pick(g.r, []string{"tcp flags & (syn | ack) == syn", "tcp flags & (syn | ack) == syn | ack", "tcp flags & (fin | syn | rst | ack) != syn"})
	default:
		if v6 {
			return "ip6 saddr . " + proto + " dport { " + pick(g.r, lan6) + " . " + fmt.Sprint(g.port()) + ", " + pick(g.r, lan6) + " . " + fmt.Sprint(g.port()) + " }"
		}
		return "ip saddr . " + proto + " dport { " + pick(g.r, lan4) + " . " + fmt.Sprint(g.port()) + ", " + pick(g.r, lan4) + " . " + fmt.Sprint(g.port()) + " }"
	}
}

// verdict writes a random verdict for a rule of chain number from (0:
// base); jumps go only to later chains, so there are no loops.
func (g *nftGen) verdict(from int, base bool, proto string) string {
	target := func() (string, bool) {
		if from >= g.nUser {
			return "", false
		}
		return fmt.Sprintf("c%d", from+1+g.r.IntN(g.nUser-from)), true
	}
	for {
		switch x := g.r.IntN(100); {
		case x < 30:
			return "accept"
		case x < 50:
			return "drop"
		case x < 57:
			return pick(g.r, []string{"reject", "reject with tcp reset", "reject with icmpx type admin-prohibited"})
		case x < 70:
			if t, ok := target(); ok {
				return "jump " + t
			}
		case x < 76:
			if t, ok := target(); ok {
				return "goto " + t
			}
		case x < 82:
			if !base || g.chance(0.3) {
				return "return"
			}
		case x < 90:
			return "counter"
		default:
			var elems []string
			used := map[int]bool{}
			for i := 0; i < 1+g.r.IntN(3); i++ {
				p := g.port()
				if used[p] {
					continue
				}
				used[p] = true
				v := pick(g.r, []string{"accept", "drop"})
				if t, ok := target(); ok && g.chance(0.4) {
					v = pick(g.r, []string{"jump ", "goto "}) + t
				}
				elems = append(elems, fmt.Sprintf("%d : %s", p, v))
			}
			return proto + " dport vmap { " + strings.Join(elems, ", ") + " }"
		}
	}
}

func (g *nftGen) rule(from int, base bool) string {
	for {
		if r := g.rule1(from, base); !ambiguous(r) {
			return r
		}
	}
}

func (g *nftGen) rule1(from int, base bool) string {
	v6 := g.chance(0.3)
	proto := pick(g.r, []string{"tcp", "udp"})
	var ms []string
	for i := 0; i < g.r.IntN(4); i++ {
		ms = append(ms, g.match(v6, proto))
	}
	if len(ms) == 0 && g.chance(0.7) {
		ms = append(ms, g.match(v6, proto))
	}
	v := g.verdict(from, base, proto)
	if strings.Contains(v, "reject with tcp reset") {
		ms = append(ms, "meta l4proto tcp")
		if proto != "tcp" {
			v = "reject"
		}
	}
	return strings.Join(append(ms, v), " ")
}

// genNft writes a random ruleset: an inet table with a forward base
// chain, user chains, a prerouting chain and a raw-priority one, and an ip
// table with a second forward chain; several hundred rules in all.
func genNft(seed uint64, nRules int) string {
	g := &nftGen{r: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), nUser: 4}
	b := &g.b
	fmt.Fprintf(b, "table inet t1 {\n")
	fmt.Fprintf(b, "  set lan4 { type ipv4_addr; flags interval; elements = { 192.0.2.10-192.0.2.11, 192.0.2.13 } }\n")
	fmt.Fprintf(b, "  set cloud4 { type ipv4_addr; flags interval; elements = { 198.51.100.8/30, 203.0.113.6 } }\n")
	fmt.Fprintf(b, "  set lan6 { type ipv6_addr; flags interval; elements = { 2001:db8:1::11 } }\n")
	fmt.Fprintf(b, "  set cloud6 { type ipv6_addr; flags interval; elements = { 2001:db8:2::10-2001:db8:2::11 } }\n")
	fmt.Fprintf(b, "  set ports { type inet_service; flags interval; elements = { 443, 5060-5061, 40000-50000 } }\n")
	per := max(nRules/8, 4)
	for i := g.nUser; i >= 1; i-- {
		fmt.Fprintf(b, "  chain c%d {\n", i)
		for j := 0; j < per/2+g.r.IntN(per); j++ {
			fmt.Fprintf(b, "    %s\n", g.rule(i, false))
		}
		fmt.Fprintf(b, "  }\n")
	}
	pol := pick(g.r, []string{"accept", "drop"})
	fmt.Fprintf(b, "  chain forward {\n    type filter hook forward priority 0; policy %s;\n", pol)
	if g.chance(0.7) {
		fmt.Fprintf(b, "    ct state established,related accept\n")
	}
	for j := 0; j < 2*per+g.r.IntN(2*per); j++ {
		fmt.Fprintf(b, "    %s\n", g.rule(0, true))
	}
	fmt.Fprintf(b, "  }\n")
	fmt.Fprintf(b, "  chain pre {\n    type filter hook prerouting priority -150; policy accept;\n")
	for j := 0; j < g.r.IntN(5); j++ {
		fmt.Fprintf(b, "    %s %s\n", g.match(g.chance(0.3), pick(g.r, []string{"tcp", "udp"})), pick(g.r, []string{"accept", "drop", "counter"}))
	}
	fmt.Fprintf(b, "  }\n")
	fmt.Fprintf(b, "  chain raw {\n    type filter hook prerouting priority -300; policy accept;\n")
	for j := 0; j < g.r.IntN(3); j++ {
		fmt.Fprintf(b, "    meta l4proto { tcp, udp } th dport %d %s %s\n", g.port(), pick(g.r, []string{"ct state invalid", "ct state new", "ct state != established"}), pick(g.r, []string{"accept", "drop"}))
	}
	fmt.Fprintf(b, "  }\n}\n")
	fmt.Fprintf(b, "table ip t2 {\n  chain forward2 {\n    type filter hook forward priority 10; policy %s;\n", pick(g.r, []string{"accept", "accept", "drop"}))
	for j := 0; j < g.r.IntN(per); j++ {
		m := g.match(false, pick(g.r, []string{"tcp", "udp"}))
		for strings.Contains(m, "@") {
			m = g.match(false, pick(g.r, []string{"tcp", "udp"}))
		}
		fmt.Fprintf(b, "    %s %s\n", m, pick(g.r, []string{"accept", "drop", "counter"}))
	}
	fmt.Fprintf(b, "  }\n}\n")
	return b.String()
}

// genNftDNAT writes a random ruleset of port forwards: DNAT rules in nat
// prerouting chains (to LAN addresses, some with another port, some
// accepted or dropped untranslated) and a forward chain that filters what
// they forward.
func genNftDNAT(seed uint64, nRules int) string {
	g := &nftGen{r: rand.New(rand.NewPCG(seed, 0xdeadbeef)), nUser: 1}
	var b strings.Builder
	nat := func(v6 bool) {
		lan, cloud, cpfx := lan4, cloud4, cloudPfx4
		fam, tbl := "ip", "nat"
		if v6 {
			lan, cloud, cpfx = lan6, cloud6, cloudPfx6
			fam, tbl = "ip6", "nat6"
		}
		fmt.Fprintf(&b, "table %s %s {\n  chain pre {\n    type nat hook prerouting priority dstnat; policy accept;\n", fam, tbl)
		for j := 0; j < nRules/6+g.r.IntN(nRules/6+1); j++ {
			proto := pick(g.r, []string{"tcp", "udp"})
			var ms []string
			if g.chance(0.4) {
				ms = append(ms, "iifname "+g.neg()+pick(g.r, []string{`"wan0"`, `"lan0"`, `"wan*"`}))
			}
			if g.chance(0.3) {
				ms = append(ms, fam+" saddr "+g.neg()+g.addrPlain(cloud, cpfx))
			}
			ms = append(ms, proto+" dport "+g.neg()+g.portPlain())
			if g.chance(0.2) {
				ms = append(ms, proto+" sport "+g.neg()+g.portPlain())
			}
			v := "dnat to " + pick(g.r, lan)
			if v6 {
				v = "dnat to " + pick(g.r, lan)
			}
			switch x := g.r.IntN(10); {
			case x < 2:
				p := g.port()
				if v6 {
					v = fmt.Sprintf("dnat to [%s]:%d", pick(g.r, lan), p)
				} else {
					v = fmt.Sprintf("dnat to %s:%d", pick(g.r, lan), p)
				}
			case x < 3:
				v = "accept"
			case x < 4:
				v = "counter"
			}
			if ambiguous(strings.Join(ms, " ")) {
				continue
			}
			fmt.Fprintf(&b, "    %s %s\n", strings.Join(ms, " "), v)
		}
		fmt.Fprintf(&b, "  }\n}\n")
	}
	nat(false)
	nat(true)
	fmt.Fprintf(&b, "table inet t1 {\n  chain c1 {\n")
	for j := 0; j < nRules/4; j++ {
		fmt.Fprintf(&b, "    %s\n", g.fwdRule(1))
	}
	fmt.Fprintf(&b, "  }\n  chain forward {\n    type filter hook forward priority 0; policy %s;\n", pick(g.r, []string{"accept", "drop"}))
	if g.chance(0.7) {
		fmt.Fprintf(&b, "    ct state established,related accept\n")
	}
	for j := 0; j < nRules/2; j++ {
		fmt.Fprintf(&b, "    %s\n", g.fwdRule(0))
	}
	fmt.Fprintf(&b, "  }\n}\n")
	return b.String()
}

func (g *nftGen) portPlain() string {
	s := g.portExpr()
	for s == "@ports" {
		s = g.portExpr()
	}
	return s
}

func (g *nftGen) addrPlain(addrs, pfx []string) string {
	s := g.addrExpr(addrs, pfx, "")
	for strings.HasPrefix(s, "@") {
		s = g.addrExpr(addrs, pfx, "")
	}
	return s
}

// fwdRule writes a rule of the forward chain behind port forwards: it
// sees the translated destination, and ct status says what was NATed.
func (g *nftGen) fwdRule(chain int) string {
	for {
		if r := g.fwdRule1(chain); !ambiguous(r) {
			return r
		}
	}
}

func (g *nftGen) fwdRule1(chain int) string {
	v6 := g.chance(0.3)
	proto := pick(g.r, []string{"tcp", "udp"})
	var ms []string
	for i := 0; i < 1+g.r.IntN(3); i++ {
		switch g.r.IntN(7) {
		case 0:
			if v6 {
				ms = append(ms, "ip6 daddr "+g.neg()+g.addrPlain(lan6, lanPfx6))
			} else {
				ms = append(ms, "ip daddr "+g.neg()+g.addrPlain(lan4, lanPfx4))
			}
		case 1:
			if v6 {
				ms = append(ms, "ip6 saddr "+g.neg()+g.addrPlain(cloud6, cloudPfx6))
			} else {
				ms = append(ms, "ip saddr "+g.neg()+g.addrPlain(cloud4, cloudPfx4))
			}
		case 2:
			// "ct status != dnat" compares every bit, "assured" too, which
			// for UDP depends on timing: TestAssuredUDP covers it.
			st := pick(g.r, []string{"dnat", "snat", "!= dnat"})
			if st == "!= dnat" && proto == "udp" {
				st = "dnat"
			}
			if st == "!= dnat" {
				st += " meta l4proto tcp"
			}
			ms = append(ms, "ct status "+st)
		case 3:
			ms = append(ms, pick(g.r, []string{"iifname", "oifname"})+" "+g.neg()+pick(g.r, []string{`"lan0"`, `"wan0"`}))
		case 4:
			ms = append(ms, "ct state "+pick(g.r, []string{"new", "established", "!= established"}))
		default:
			ms = append(ms, proto+" "+pick(g.r, []string{"dport", "dport", "sport"})+" "+g.neg()+g.portPlain())
		}
	}
	v := pick(g.r, []string{"accept", "accept", "drop", "reject", "counter"})
	if chain == 0 && g.chance(0.15) {
		v = "jump c1"
	}
	if chain == 1 && g.chance(0.15) {
		v = "return"
	}
	return strings.Join(append(ms, v), " ")
}

// genNftHost writes a random ruleset for a host's own traffic: input and
// output base chains (each letting ICMPv6 through, which neighbour
// discovery needs) with user chains, rules on both interfaces (the input
// interface of a sent packet is empty), ports, addresses and states.
func genNftHost(seed uint64, nRules int) string {
	g := &nftGen{r: rand.New(rand.NewPCG(seed, 0xfeedface)), nUser: 2}
	var b strings.Builder
	fmt.Fprintf(&b, "table inet t1 {\n")
	fmt.Fprintf(&b, "  set lan4 { type ipv4_addr; flags interval; elements = { 192.0.2.10-192.0.2.11, 192.0.2.13 } }\n")
	fmt.Fprintf(&b, "  set cloud4 { type ipv4_addr; flags interval; elements = { 198.51.100.8/30, 203.0.113.6 } }\n")
	fmt.Fprintf(&b, "  set lan6 { type ipv6_addr; flags interval; elements = { 2001:db8:1::11 } }\n")
	fmt.Fprintf(&b, "  set cloud6 { type ipv6_addr; flags interval; elements = { 2001:db8:2::10-2001:db8:2::11 } }\n")
	fmt.Fprintf(&b, "  set ports { type inet_service; flags interval; elements = { 443, 5060-5061, 40000-50000 } }\n")
	per := max(nRules/6, 4)
	for i := g.nUser; i >= 1; i-- {
		fmt.Fprintf(&b, "  chain c%d {\n", i)
		for j := 0; j < per/2+g.r.IntN(per); j++ {
			fmt.Fprintf(&b, "    %s\n", g.rule(i, false))
		}
		fmt.Fprintf(&b, "  }\n")
	}
	for _, hook := range []string{"input", "output"} {
		fmt.Fprintf(&b, "  chain %s_chain {\n    type filter hook %s priority 0; policy %s;\n    meta l4proto ipv6-icmp accept\n", hook, hook, pick(g.r, []string{"accept", "drop"}))
		if g.chance(0.6) {
			fmt.Fprintf(&b, "    ct state established,related accept\n")
		}
		for j := 0; j < 2*per+g.r.IntN(per); j++ {
			fmt.Fprintf(&b, "    %s\n", g.rule(0, true))
		}
		fmt.Fprintf(&b, "  }\n")
	}
	fmt.Fprintf(&b, "}\n")
	return b.String()
}
