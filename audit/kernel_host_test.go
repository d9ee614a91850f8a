package audit

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
)

// TestKernelAgreesHost checks host mode: random rulesets on the input and
// output hooks of the router itself, connections from the LAN to the
// router (input) and from the router to the cloud (output).
func TestKernelAgreesHost(t *testing.T) {
	lab := newKernelLab(t)
	var mu sync.Mutex
	got := map[string]bool{}
	note := func(id string) { mu.Lock(); got[id] = true; mu.Unlock() }
	for _, p := range ports {
		serve(t, lab.Router, fmt.Sprintf(":%d", p), note)
	}
	site := policy.Site{Mode: policy.Host}
	total, traced := 0, 0
	for i, seed := range kernelSeeds(t, "testdata/kernel-seeds-host.txt", 6) {
		label := fmt.Sprintf("host seed %d", seed)
		lab.reset(t)
		lab.listen(t, 100+i)
		text := genNftHost(seed, 120)
		trace := "table inet trace {\n chain tin {\n  type filter hook prerouting priority -500; policy accept;\n  meta nftrace set 1\n }\n" +
			" chain tout {\n  type filter hook output priority -500; policy accept;\n  meta nftrace set 1\n }\n}\n"
		a := lab.loadNft(t, label, trace+text, site)
		// Half the probes come in from the LAN, half go out to the cloud.
		probes := genProbes(seed+3<<32, 140)
		hooks := make([]policy.Hook, len(probes))
		for j := range probes {
			p := &probes[j]
			p.id = fmt.Sprintf("h%d-%d", i, j)
			p.dpt = uint16(ports[j%len(ports)])
			p.sport = uint16(20000 + i*200 + j)
			if j%2 == 0 {
				hooks[j] = policy.Input
				p.dst = netlab.LANGateway
				if p.fam == 6 {
					p.dst = netlab.LANGateway6
				}
			} else {
				hooks[j] = policy.Output
				p.src = netlab.WANRouter
				if p.fam == 6 {
					p.src = netlab.WANRouter6
				}
			}
		}
		res, tr := traceRun(t, lab.Router, len(probes), func(j int) seen {
			if hooks[j] == policy.Input {
				return send(lab.LAN, probes[j])
			}
			return send(lab.Router, probes[j])
		})
		traces := byTuple(tr)
		bad := 0
		for j, p := range probes {
			m := probeMatch(p)
			if hooks[j] == policy.Input {
				m.IIf = netlab.RouterLANIf
			} else {
				m.OIf = netlab.RouterWANIf
			}
			os, _ := a.evalRule(policy.Rule{Hook: hooks[j], Flow: &resolve.Concrete{Flow: resolve.Flow{Proto: p.proto}}, Match: m}, nil, Options{}, nil)
			os = nonEmpty(os)
			if len(os) != 1 {
				t.Errorf("%s %s: %d outcomes for one packet", label, p.tuple(), len(os))
				continue
			}
			o := os[0]
			if o.res == unknown {
				t.Errorf("%s %s: unknown: %s", label, p.tuple(), o.why)
				continue
			}
			first, reply, later := o.passes()
			seenBy := func(id string) bool {
				if hooks[j] == policy.Output {
					return lab.received(id) // the cloud's listeners
				}
				mu.Lock()
				defer mu.Unlock()
				return got[id]
			}
			k1, k2 := seenBy(p.id+"#1"), seenBy(p.id+"#2")
			if p.proto == "tcp" {
				k2 = seenBy(p.id)
			}
			var diffs []string
			if p.proto == "udp" && k1 != first {
				diffs = append(diffs, fmt.Sprintf("first packet: kernel %v, portolan %v", k1, first))
			}
			if p.proto == "tcp" && !res[j].reply && traces[replyTuple(p)].passed() {
				res[j].reply = true // see compare
			}
			if res[j].reply != reply {
				diffs = append(diffs, fmt.Sprintf("reply: kernel %v, portolan %v", res[j].reply, reply))
			}
			if k2 != later {
				diffs = append(diffs, fmt.Sprintf("later: kernel %v, portolan %v", k2, later))
			}
			total++
			if tp := traces[p.tuple()]; tp != nil {
				traced++
				if g, w := eventsString(tp.events), eventsString(portolanTrail(o, nftHandle)); g != w {
					diffs = append(diffs, fmt.Sprintf("first packet's decisions:\n      kernel   %s\n      portolan %s", g, w))
				}
			}
			if len(diffs) > 0 {
				bad++
				if bad <= 8 {
					t.Errorf("%s %s %s: %s (portolan: %s %s by %s)", label, hooks[j], p.tuple(), strings.Join(diffs, "; "), o.res, o.kind, decision(o))
				}
			}
		}
		if t.Failed() {
			t.Logf("%s failed; the ruleset:\n%s", label, text)
			return
		}
	}
	t.Logf("%d host probes agree; %d first packets' decisions compared with nft monitor trace", total, traced)
	if traced < total*9/10 {
		t.Errorf("only %d of %d probes were traced", traced, total)
	}
}
