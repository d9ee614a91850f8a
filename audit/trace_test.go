package audit

import (
	"bufio"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// traceEvent is one decision nft monitor trace reports: a rule's verdict
// (with its handle) or a base chain's policy.
type traceEvent struct {
	chain   string // "inet t1 c2": where the rule stands, or the base chain
	handle  int64  // 0 for a policy
	verdict string // accept, drop
}

func (e traceEvent) String() string {
	if e.handle == 0 {
		return e.chain + " policy " + e.verdict
	}
	return e.chain + " handle " + strconv.FormatInt(e.handle, 10) + " " + e.verdict
}

// tracedPacket is one packet nft monitor trace followed.
type tracedPacket struct {
	tuple  string // "tcp 192.0.2.10:1234>198.51.100.10:80 syn"
	events []traceEvent
	chains map[string]bool // base chains it was seen at
}

var (
	traceLine = regexp.MustCompile(`^trace id ([0-9a-f]+) (\S+) (\S+) (\S+) (.*)$`)
	verdictRe = regexp.MustCompile(`# handle (\d+) \(verdict (\w+)`)
	policyRe  = regexp.MustCompile(`^policy (\w+)`)
	addrRe    = regexp.MustCompile(`ip6? saddr (\S+) ip6? daddr (\S+)`)
	portRe    = regexp.MustCompile(`(tcp|udp) sport (\d+) (?:tcp|udp) dport (\d+)`)
)

// parseTrace reads `nft -a monitor trace` output into packets, in order.
// A trace id names one packet; the packet line repeats at each base chain.
func parseTrace(out string) []*tracedPacket {
	var pkts []*tracedPacket
	cur := map[string]*tracedPacket{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := traceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		id, chain, rest := m[1], m[2]+" "+m[3]+" "+m[4], m[5]
		if strings.HasPrefix(rest, "packet: ") {
			tu := tupleOf(rest)
			// Packets of one flow share a trace id. The same packet at a
			// base chain it has not crossed yet, its destination perhaps
			// rewritten by DNAT, goes on; otherwise a new packet starts.
			if p := cur[id]; p != nil && sameSource(p.tuple, tu) && !p.chains[chain] {
				p.chains[chain] = true
				continue
			}
			p := &tracedPacket{tuple: tu, chains: map[string]bool{chain: true}}
			cur[id] = p
			pkts = append(pkts, p)
			continue
		}
		p := cur[id]
		if p == nil {
			continue
		}
		if v := verdictRe.FindStringSubmatch(rest); v != nil {
			if v[2] == "accept" || v[2] == "drop" {
				h, _ := strconv.ParseInt(v[1], 10, 64)
				p.events = append(p.events, traceEvent{chain: chain, handle: h, verdict: v[2]})
			}
			continue
		}
		if v := policyRe.FindStringSubmatch(rest); v != nil {
			p.events = append(p.events, traceEvent{chain: chain, verdict: v[1]})
		}
	}
	return pkts
}

// tupleOf writes the packet's protocol, addresses, ports and, for TCP,
// whether it is a bare SYN, from a trace packet line.
func tupleOf(s string) string {
	a := addrRe.FindStringSubmatch(s)
	p := portRe.FindStringSubmatch(s)
	if a == nil || p == nil {
		return ""
	}
	t := p[1] + " " + joinHP(a[1], p[2]) + ">" + joinHP(a[2], p[3])
	switch {
	case strings.Contains(s, "tcp flags == syn "):
		t += " syn"
	case strings.Contains(s, "tcp flags == 0x12 ") || strings.Contains(s, "tcp flags == syn | ack "):
		t += " synack"
	}
	return t
}

func joinHP(h, p string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]:" + p
	}
	return h + ":" + p
}

// sameSource reports whether two trace tuples have the same protocol and
// source: the same packet seen again, its destination perhaps rewritten.
func sameSource(a, b string) bool {
	src := func(t string) string {
		s, _, _ := strings.Cut(t, ">")
		return s
	}
	return a != "" && src(a) == src(b)
}

// passed reports whether a traced packet got through every base chain it
// met: it has decisions, and none is a drop.
func (tp *tracedPacket) passed() bool {
	if tp == nil || len(tp.events) == 0 {
		return false
	}
	for _, e := range tp.events {
		if e.verdict == "drop" {
			return false
		}
	}
	return true
}

// replyTuple is the tuple of a probe's first reply as the trace writes it.
func replyTuple(p probe) string {
	t := p.proto + " " + netip.AddrPortFrom(p.dst, p.dpt).String() + ">" + netip.AddrPortFrom(p.src, p.sport).String()
	if p.proto == "tcp" {
		t += " synack"
	}
	return t
}
