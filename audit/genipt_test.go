package audit

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
)

// iptGen writes random iptables-save rulesets for the differential test.
type iptGen struct {
	r     *rand.Rand
	v6    bool
	nUser int
}

func (g *iptGen) chance(p float64) bool { return g.r.Float64() < p }

func (g *iptGen) not() string {
	if g.chance(0.2) {
		return "! "
	}
	return ""
}

func (g *iptGen) ports(multi bool) string {
	if multi {
		var ps []string
		for i := 0; i < 1+g.r.IntN(4); i++ {
			ps = append(ps, g.portRange())
		}
		return strings.Join(ps, ",")
	}
	return g.portRange()
}

func (g *iptGen) portRange() string {
	a := pick(g.r, ports)
	if g.chance(0.3) {
		b := pick(g.r, ports)
		if a > b {
			a, b = b, a
		}
		if a != b {
			return fmt.Sprintf("%d:%d", a, b)
		}
	}
	return fmt.Sprint(a)
}

func (g *iptGen) addr(src bool) string {
	addrs, pfx := cloud4, cloudPfx4
	if src {
		addrs, pfx = lan4, lanPfx4
	}
	if g.v6 {
		addrs, pfx = cloud6, cloudPfx6
		if src {
			addrs, pfx = lan6, lanPfx6
		}
	}
	if g.chance(0.6) {
		return pick(g.r, addrs)
	}
	return pick(g.r, pfx)
}

// rule writes the options of one random rule.
func (g *iptGen) rule(chain int) string {
	var parts []string
	proto := ""
	if g.chance(0.75) {
		proto = pick(g.r, []string{"tcp", "udp"})
		parts = append(parts, g.not()+"-p "+proto)
		if strings.HasPrefix(parts[0], "!") {
			proto = ""
		}
	}
	// One -m tcp/-m udp per rule, each option once: iptables-save of
	// iptables-nft 1.8.9 prints two "-m udp --dport" of one rule as one,
	// losing a condition the kernel keeps.
	var protoOpts []string
	seenOpt := map[string]bool{}
	protoOpt := func(opt string) {
		f := strings.Fields(opt)
		name := f[0]
		if name == "!" {
			name = f[1]
		}
		if !seenOpt[name] {
			seenOpt[name] = true
			protoOpts = append(protoOpts, opt)
		}
	}
	used := map[int]bool{}
	for i := 0; i < g.r.IntN(4); i++ {
		k := g.r.IntN(10)
		if k == 2 && g.chance(0.5) {
			k = 10 // -o rather than -i
		}
		if used[k] {
			continue
		}
		used[k] = true
		switch k {
		case 0:
			parts = append(parts, g.not()+"-s "+g.addr(true))
		case 1:
			parts = append(parts, g.not()+"-d "+g.addr(false))
		case 2, 10:
			f := "-i"
			if k == 10 {
				f = "-o"
			}
			parts = append(parts, g.not()+f+" "+pick(g.r, []string{"lan0", "wan0", "lan+", "eth+"}))
		case 3, 4:
			if proto != "" {
				protoOpt(g.not() + pick(g.r, []string{"--dport", "--sport", "--dport"}) + " " + g.portRange())
			}
		case 5:
			if proto != "" {
				parts = append(parts, "-m multiport "+g.not()+pick(g.r, []string{"--dports", "--sports", "--ports"})+" "+g.ports(true))
			}
		case 6:
			parts = append(parts, "-m conntrack "+g.not()+"--ctstate "+pick(g.r, []string{"NEW", "ESTABLISHED", "RELATED,ESTABLISHED", "INVALID", "NEW,ESTABLISHED"}))
		case 7:
			parts = append(parts, "-m state "+g.not()+"--state "+pick(g.r, []string{"NEW", "ESTABLISHED", "RELATED,ESTABLISHED"}))
		case 8:
			if proto == "tcp" && !seenOpt["--syn"] && !seenOpt["--tcp-flags"] {
				protoOpt(pick(g.r, []string{"--tcp-flags SYN,ACK SYN", "! --tcp-flags SYN,ACK SYN", "--syn", "--tcp-flags FIN,SYN,RST,ACK SYN,ACK"}))
			}
		default:
			as := lan4
			dir := "--src-range"
			if g.chance(0.5) {
				as, dir = cloud4, "--dst-range"
			}
			if g.v6 {
				as = lan6
				if dir == "--dst-range" {
					as = cloud6
				}
			}
			a, b := netip.MustParseAddr(pick(g.r, as)), netip.MustParseAddr(pick(g.r, as))
			if b.Less(a) {
				a, b = b, a
			}
			parts = append(parts, "-m iprange "+g.not()+dir+" "+a.String()+"-"+b.String())
		}
	}
	if len(protoOpts) > 0 {
		parts = append(parts, "-m "+proto+" "+strings.Join(protoOpts, " "))
	}
	if g.chance(0.1) {
		parts = append(parts, `-m comment --comment "rule `+fmt.Sprint(g.r.IntN(100))+`"`)
	}
	target := func() (string, bool) {
		if chain >= g.nUser {
			return "", false
		}
		return fmt.Sprintf("c%d", chain+1+g.r.IntN(g.nUser-chain)), true
	}
	for {
		switch x := g.r.IntN(100); {
		case x < 32:
			return strings.Join(append(parts, "-j ACCEPT"), " ")
		case x < 52:
			return strings.Join(append(parts, "-j DROP"), " ")
		case x < 60:
			rej := "icmp-port-unreachable"
			if g.v6 {
				rej = "icmp6-port-unreachable"
			}
			if proto == "tcp" && g.chance(0.5) {
				rej = "tcp-reset"
			}
			return strings.Join(append(parts, "-j REJECT --reject-with "+rej), " ")
		case x < 74:
			if t, ok := target(); ok {
				return strings.Join(append(parts, "-j "+t), " ")
			}
		case x < 80:
			if t, ok := target(); ok {
				return strings.Join(append(parts, "-g "+t), " ")
			}
		case x < 88:
			if chain > 0 {
				return strings.Join(append(parts, "-j RETURN"), " ")
			}
		case x < 94:
			return strings.Join(append(parts, `-j LOG --log-prefix "x "`), " ")
		default:
			return strings.Join(parts, " ") // no target: counts only
		}
	}
}

// genIpt writes random iptables-restore input for one family: a filter
// table with a FORWARD chain and user chains, a mangle table that drops
// a little in PREROUTING and FORWARD, and a raw table that marks packets
// for tracing.
func genIpt(seed uint64, v6 bool, nRules int) string {
	g := &iptGen{r: rand.New(rand.NewPCG(seed, 0x5bd1e995)), v6: v6, nUser: 4}
	if v6 {
		g.r = rand.New(rand.NewPCG(seed, 0x1b873593))
	}
	var b strings.Builder
	b.WriteString("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -j TRACE\nCOMMIT\n")
	b.WriteString("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n")
	for i := 0; i < g.r.IntN(3); i++ {
		p := pick(g.r, []string{"tcp", "udp"})
		fmt.Fprintf(&b, "-A %s -p %s -m %s --dport %d -j %s\n", pick(g.r, []string{"PREROUTING", "FORWARD"}), p, p, pick(g.r, ports), pick(g.r, []string{"DROP", "ACCEPT"}))
	}
	b.WriteString("COMMIT\n")
	fmt.Fprintf(&b, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD %s [0:0]\n:OUTPUT ACCEPT [0:0]\n", pick(g.r, []string{"ACCEPT", "DROP"}))
	for i := 1; i <= g.nUser; i++ {
		fmt.Fprintf(&b, ":c%d - [0:0]\n", i)
	}
	per := max(nRules/8, 4)
	if g.chance(0.7) {
		b.WriteString("-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n")
	}
	for j := 0; j < 2*per+g.r.IntN(2*per); j++ {
		fmt.Fprintf(&b, "-A FORWARD %s\n", g.rule(0))
	}
	for i := 1; i <= g.nUser; i++ {
		for j := 0; j < per/2+g.r.IntN(per); j++ {
			fmt.Fprintf(&b, "-A c%d %s\n", i, g.rule(i))
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}
