package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// A synthetic firewall of n rules, as an enterprise router might have: a
// forward chain that dispatches by interface pair to zone chains, each
// zone chain a long list of host and port rules on documentation
// addresses, some sets, a verdict map, drops and logs in between. The same
// ruleset is written as nft JSON (as nft -j list ruleset prints it) and as
// iptables-save text.

type synthRule struct {
	chain   string
	saddr   string // "" any; a /32 or a /24
	daddr   string
	proto   string // tcp, udp or ""
	dport   int    // 0 any
	dportHi int
	verdict string // accept, drop, counter, jump Z
	v6      bool
}

func synthRules(n int) (zones []string, rules []synthRule) {
	r := rand.New(rand.NewPCG(uint64(n), 42))
	nz := max(2, n/2000)
	for i := 0; i < nz; i++ {
		zones = append(zones, fmt.Sprintf("zone%d", i))
	}
	addr := func(v6 bool, lan bool) string {
		if v6 {
			if lan {
				return fmt.Sprintf("2001:db8:1::%x", 1+r.IntN(0xfffe))
			}
			return fmt.Sprintf("2001:db8:%x::%x", 2+r.IntN(4000), 1+r.IntN(0xfffe))
		}
		if lan {
			return fmt.Sprintf("192.0.2.%d", 1+r.IntN(254))
		}
		if r.IntN(2) == 0 {
			return fmt.Sprintf("198.51.100.%d", 1+r.IntN(254))
		}
		return fmt.Sprintf("203.0.113.%d", 1+r.IntN(254))
	}
	for len(rules) < n {
		z := zones[r.IntN(nz)]
		v6 := r.IntN(5) == 0
		sr := synthRule{chain: z, v6: v6, proto: pick(r, []string{"tcp", "tcp", "udp"})}
		if r.IntN(3) > 0 {
			sr.saddr = addr(v6, true)
		}
		sr.daddr = addr(v6, false)
		if !v6 && r.IntN(10) == 0 {
			sr.daddr = pick(r, []string{"198.51.100.0/24", "203.0.113.0/24", "198.51.100.128/25"})
		}
		sr.dport = pick(r, []int{22, 25, 53, 80, 110, 123, 443, 993, 1194, 3389, 5060, 5061, 8080, 8443, 10000})
		if r.IntN(8) == 0 {
			sr.dportHi = sr.dport + 1 + r.IntN(100)
		}
		switch x := r.IntN(20); {
		case x < 14:
			sr.verdict = "accept"
		case x < 18:
			sr.verdict = "drop"
		default:
			sr.verdict = "counter"
		}
		rules = append(rules, sr)
	}
	return zones, rules
}

// synthNftJSON writes the synthetic ruleset as nft -j list ruleset would.
func synthNftJSON(n int) []byte {
	zones, rules := synthRules(n)
	var objs []any
	add := func(k string, v any) { objs = append(objs, map[string]any{k: v}) }
	add("metainfo", map[string]any{"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1})
	add("table", map[string]any{"family": "inet", "name": "fw", "handle": 1})
	handle := 2
	h := func() int { handle++; return handle }
	var blocked []any
	for i := 0; i < 200; i++ {
		blocked = append(blocked, map[string]any{"prefix": map[string]any{"addr": fmt.Sprintf("203.0.113.%d", i&0xfc), "len": 30}})
	}
	add("set", map[string]any{"family": "inet", "name": "blocked", "table": "fw", "type": "ipv4_addr", "handle": h(), "flags": []string{"interval"}, "elem": dedupe(blocked)})
	add("chain", map[string]any{"family": "inet", "table": "fw", "name": "forward", "handle": h(), "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"})
	for _, z := range zones {
		add("chain", map[string]any{"family": "inet", "table": "fw", "name": z, "handle": h()})
	}
	rule := func(chain string, expr ...any) {
		add("rule", map[string]any{"family": "inet", "table": "fw", "chain": chain, "handle": h(), "expr": expr})
	}
	match := func(op string, left, right any) any {
		return map[string]any{"match": map[string]any{"op": op, "left": left, "right": right}}
	}
	payload := func(p, f string) any { return map[string]any{"payload": map[string]any{"protocol": p, "field": f}} }
	meta := func(k string) any { return map[string]any{"meta": map[string]any{"key": k}} }
	counter := map[string]any{"counter": map[string]any{"packets": 0, "bytes": 0}}
	rule("forward", match("in", map[string]any{"ct": map[string]any{"key": "state"}}, []string{"established", "related"}), map[string]any{"accept": nil})
	rule("forward", match("in", map[string]any{"ct": map[string]any{"key": "state"}}, "invalid"), map[string]any{"drop": nil})
	rule("forward", match("==", payload("ip", "daddr"), "@blocked"), counter, map[string]any{"drop": nil})
	for i, z := range zones {
		in, out := "lan0", "wan0"
		if i%2 == 1 {
			in = fmt.Sprintf("vlan%d", i)
		}
		rule("forward", match("==", meta("iifname"), in), match("==", meta("oifname"), out), map[string]any{"jump": map[string]any{"target": z}})
	}
	for _, sr := range rules {
		var expr []any
		fam := "ip"
		if sr.v6 {
			fam = "ip6"
		}
		if sr.saddr != "" {
			expr = append(expr, match("==", payload(fam, "saddr"), addrJSON(sr.saddr)))
		}
		expr = append(expr, match("==", payload(fam, "daddr"), addrJSON(sr.daddr)))
		var port any = sr.dport
		if sr.dportHi != 0 {
			port = map[string]any{"range": []int{sr.dport, sr.dportHi}}
		}
		expr = append(expr, match("==", payload(sr.proto, "dport"), port), counter)
		switch sr.verdict {
		case "accept", "drop":
			expr = append(expr, map[string]any{sr.verdict: nil})
		}
		rule(sr.chain, expr...)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(map[string]any{"nftables": objs})
	return b.Bytes()
}

func dedupe(xs []any) []any {
	seen := map[string]bool{}
	var out []any
	for _, x := range xs {
		k := fmt.Sprint(x)
		if !seen[k] {
			seen[k] = true
			out = append(out, x)
		}
	}
	return out
}

func addrJSON(a string) any {
	if p, l, ok := strings.Cut(a, "/"); ok {
		var n int
		fmt.Sscan(l, &n)
		return map[string]any{"prefix": map[string]any{"addr": p, "len": n}}
	}
	return a
}

// synthIptables writes the same ruleset as iptables-save and
// ip6tables-save would, one after the other.
func synthIptables(n int) []byte {
	zones, rules := synthRules(n)
	var b strings.Builder
	for _, v6 := range []bool{false, true} {
		if v6 {
			b.WriteString("# Generated by ip6tables-save v1.8.9 (nf_tables)\n")
		} else {
			b.WriteString("# Generated by iptables-save v1.8.9 (nf_tables)\n")
		}
		b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n")
		for _, z := range zones {
			fmt.Fprintf(&b, ":%s - [0:0]\n", z)
		}
		b.WriteString("-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A FORWARD -m conntrack --ctstate INVALID -j DROP\n")
		if !v6 {
			for i := 0; i < 64; i++ {
				fmt.Fprintf(&b, "-A FORWARD -d 203.0.113.%d/30 -j DROP\n", i*4)
			}
		}
		for i, z := range zones {
			in := "lan0"
			if i%2 == 1 {
				in = fmt.Sprintf("vlan%d", i)
			}
			fmt.Fprintf(&b, "-A FORWARD -i %s -o wan0 -j %s\n", in, z)
		}
		for _, sr := range rules {
			if sr.v6 != v6 {
				continue
			}
			fmt.Fprintf(&b, "-A %s", sr.chain)
			if sr.saddr != "" {
				fmt.Fprintf(&b, " -s %s", hostCIDR(sr.saddr))
			}
			fmt.Fprintf(&b, " -d %s -p %s -m %s --dport %d", hostCIDR(sr.daddr), sr.proto, sr.proto, sr.dport)
			if sr.dportHi != 0 {
				fmt.Fprintf(&b, ":%d", sr.dportHi)
			}
			switch sr.verdict {
			case "accept":
				b.WriteString(" -j ACCEPT")
			case "drop":
				b.WriteString(" -j DROP")
			}
			b.WriteString("\n")
		}
		b.WriteString("COMMIT\n")
	}
	return []byte(b.String())
}

func hostCIDR(a string) string {
	if strings.Contains(a, "/") {
		return a
	}
	if strings.Contains(a, ":") {
		return a + "/128"
	}
	return a + "/32"
}
