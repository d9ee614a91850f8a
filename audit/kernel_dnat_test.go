package audit

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
)

// lanListeners listens on every LAN address and every port of the
// universe, TCP and UDP, and notes where each probe id arrives.
type lanListeners struct {
	mu  sync.Mutex
	got map[string]string // id -> local address:port it arrived at
}

func (l *lanListeners) note(id, at string) {
	l.mu.Lock()
	l.got[id] = at
	l.mu.Unlock()
}

func (l *lanListeners) at(id string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.got[id]
	return a, ok
}

func listenLAN(t *testing.T, ns *netlab.NS) *lanListeners {
	l := &lanListeners{got: map[string]string{}}
	for _, a := range append(append([]string{}, lan4...), lan6...) {
		for _, p := range ports {
			ap := netip.AddrPortFrom(netip.MustParseAddr(a), uint16(p)).String()
			serve(t, ns, ap, func(id string) { l.note(id, ap) })
		}
	}
	return l
}

// TestKernelAgreesDNAT checks port forwards: random DNAT rules (to LAN
// addresses, some to another port, some left untranslated) and forward
// rules behind them that see the translated destination and ct status,
// against real connections from the cloud to the router's WAN address.
// Portolan must say whether each is forwarded, to which address and port,
// and whether the first packet, the reply and the next packet pass.
func TestKernelAgreesDNAT(t *testing.T) {
	lab := newKernelLab(t)
	lst := listenLAN(t, lab.LAN)
	site := policy.Site{Mode: policy.Gateway, LANIf: netlab.RouterLANIf, WANIf: netlab.RouterWANIf}
	total, traced := 0, 0
	for i, seed := range kernelSeeds(t, "testdata/kernel-seeds-dnat.txt", 8) {
		label := fmt.Sprintf("dnat seed %d", seed)
		lab.reset(t)
		text := genNftDNAT(seed, 60)
		a := lab.loadNft(t, label, traceTable+text, site)
		probes := genProbes(seed+2<<32, 160)
		for j := range probes {
			p := &probes[j]
			p.id = fmt.Sprintf("d%d-%d", i, j)
			p.dst, p.src = netlab.WANRouter, netip.MustParseAddr(pick(rngFor(seed, j), cloud4))
			if p.fam == 6 {
				p.dst, p.src = netlab.WANRouter6, netip.MustParseAddr(pick(rngFor(seed, j), cloud6))
			}
			p.dpt = uint16(ports[j%len(ports)])
			p.sport = uint16(20000 + i*200 + j)
		}
		// the whole space, to check that splitting gives what single packets give
		whole := map[string][]outcome{}
		for _, fam := range []int{4, 6} {
			src, dst := cloud4, netlab.WANRouter
			if fam == 6 {
				src, dst = cloud6, netlab.WANRouter6
			}
			for _, proto := range []string{"tcp", "udp"} {
				r := policy.Rule{Hook: policy.Prerouting, Flow: &resolve.Concrete{Flow: resolve.Flow{Proto: proto}},
					Match: policy.Match{Family: fam, Proto: proto, IIf: site.WANIf, Src: hostPrefixes(src), Dst: []netip.Prefix{netip.PrefixFrom(dst, dst.BitLen())}}}
				fw := policy.Rule{Hook: policy.Forward, Match: policy.Match{OIf: site.LANIf}}
				os, note := a.evalPath(r, &fw, Options{}, nil, true)
				if note != "" {
					t.Fatal(note)
				}
				whole[fmt.Sprint(fam, proto)] = os
			}
		}
		res, tr := traceRun(t, lab.Router, len(probes), func(j int) seen { return send(lab.Cloud, probes[j]) })
		traces := byTuple(tr)
		bad := 0
		for j, p := range probes {
			m := probeMatch(p)
			m.IIf = site.WANIf
			r := policy.Rule{Hook: policy.Prerouting, Flow: &resolve.Concrete{Flow: resolve.Flow{Proto: p.proto}}, Match: m}
			fw := policy.Rule{Hook: policy.Forward, Match: policy.Match{OIf: site.LANIf}}
			os, _ := a.evalPath(r, &fw, Options{}, nil, true)
			os = nonEmpty(os)
			if len(os) != 1 {
				t.Errorf("%s %s: %d outcomes for one packet", label, p.tuple(), len(os))
				continue
			}
			o := os[0]
			var inWhole []outcome
			pc := pointCube(a, p, site.WANIf, site.LANIf)
			for _, w := range whole[fmt.Sprint(p.fam, p.proto)] {
				if w.reg.Contains(pc) {
					inWhole = append(inWhole, w)
				}
			}
			if len(inWhole) != 1 || inWhole[0].res != o.res || inWhole[0].kind != o.kind || inWhole[0].rule != o.rule || !inWhole[0].nat.same(o.nat) {
				t.Errorf("%s %s: the packet alone ends otherwise than in the whole space", label, p.tuple())
			}
			if o.res == unknown {
				t.Errorf("%s %s: unknown: %s", label, p.tuple(), o.why)
				continue
			}
			first, reply, later := o.passes()
			want := ""
			if o.nat != nil && o.nat.dnat {
				port := p.dpt
				if o.nat.port != 0 {
					port = o.nat.port
				}
				want = netip.AddrPortFrom(o.nat.to, port).String()
			}
			id1, id2 := p.id+"#1", p.id+"#2"
			if p.proto == "tcp" {
				id1, id2 = "", p.id
			}
			var diffs []string
			if id1 != "" {
				at, ok := lst.at(id1)
				if ok != first || (ok && at != want) {
					diffs = append(diffs, fmt.Sprintf("first packet: kernel delivered %v at %q, portolan %v at %q", ok, at, first, want))
				}
			}
			if res[j].reply != reply {
				diffs = append(diffs, fmt.Sprintf("reply: kernel %v, portolan %v", res[j].reply, reply))
			}
			at, ok := lst.at(id2)
			if ok != later || (ok && at != want) {
				diffs = append(diffs, fmt.Sprintf("later: kernel delivered %v at %q, portolan %v at %q", ok, at, later, want))
			}
			total++
			if tp := traces[p.tuple()]; tp != nil {
				traced++
				if got, w := eventsString(tp.events), eventsString(portolanTrail(o, nftHandle)); got != w {
					diffs = append(diffs, fmt.Sprintf("first packet's decisions:\n      kernel   %s\n      portolan %s", got, w))
				}
			}
			if len(diffs) > 0 {
				bad++
				if bad <= 8 {
					t.Errorf("%s %s: %s (portolan: %s %s by %s, %s)", label, p.tuple(), strings.Join(diffs, "; "), o.res, o.kind, decision(o), o.why)
				}
			}
		}
		if t.Failed() {
			t.Logf("%s failed; the ruleset:\n%s", label, text)
			return
		}
	}
	t.Logf("%d port-forward probes agree; %d first packets' decisions compared with nft monitor trace", total, traced)
	if traced < total*9/10 {
		t.Errorf("only %d of %d probes were traced", traced, total)
	}
}
