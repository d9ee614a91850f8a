package audit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
)

// hostListeners listens on every port of the universe in a namespace, TCP
// and UDP, notes each probe id and echoes datagrams.
func hostListeners(t *testing.T, ns *netlab.NS, got func(string)) {
	for _, p := range ports {
		pc, err := ns.ListenPacket("udp", fmt.Sprintf(":%d", p))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := ns.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close(); ln.Close() })
		go func() {
			buf := make([]byte, 256)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				got(string(buf[:n]))
				pc.WriteTo(buf[:n], from)
			}
		}()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					c.(*net.TCPConn).SetLinger(0)
					defer c.Close()
					c.SetReadDeadline(time.Now().Add(3 * time.Second))
					if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
						got(strings.TrimSpace(line))
					}
				}()
			}
		}()
	}
}

// sendFrom sends a probe from a namespace: UDP with an echo and a second
// datagram, TCP with the id as data.
func sendFrom(ns *netlab.NS, p probe) seen {
	var s seen
	dst := netip.AddrPortFrom(p.dst, p.dpt).String()
	if p.proto == "udp" {
		var c net.Conn
		err := ns.Do(func() (err error) {
			d := net.Dialer{LocalAddr: &net.UDPAddr{IP: p.src.AsSlice(), Port: int(p.sport)}, Control: reuse}
			c, err = d.Dial("udp", dst)
			return err
		})
		if err != nil {
			s.err = err.Error()
			return s
		}
		defer c.Close()
		c.Write([]byte(p.id + "#1"))
		c.SetReadDeadline(time.Now().Add(800 * time.Millisecond))
		buf := make([]byte, 256)
		if n, err := c.Read(buf); err == nil && string(buf[:n]) == p.id+"#1" {
			s.reply = true
			c.Write([]byte(p.id + "#2"))
		}
		return s
	}
	var c net.Conn
	err := ns.Do(func() (err error) {
		d := net.Dialer{Timeout: 1500 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: p.src.AsSlice(), Port: int(p.sport)}, Control: reuse}
		c, err = d.Dial("tcp", dst)
		return err
	})
	if errors.Is(err, syscall.ECONNRESET) {
		s.reply = true
		return s
	}
	if err != nil {
		return s
	}
	s.reply = true
	c.Write([]byte(p.id + "\n"))
	time.Sleep(200 * time.Millisecond)
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	return s
}

// TestKernelAgreesHost checks host mode: random rulesets on the input and
// output hooks of the router itself, connections from the LAN to the
// router (input) and from the router to the cloud (output).
func TestKernelAgreesHost(t *testing.T) {
	lab := newKernelLab(t)
	var mu sync.Mutex
	got := map[string]bool{}
	note := func(id string) { mu.Lock(); got[id] = true; mu.Unlock() }
	hostListeners(t, lab.Router, note)
	site := policy.Site{Mode: policy.Host}
	total, traced := 0, 0
	for i, seed := range kernelSeeds(t, "testdata/kernel-seeds-host.txt", 6) {
		label := fmt.Sprintf("host seed %d", seed)
		lab.reset(t)
		lab.listen(t, 100+i)
		if _, err := lab.Router.Run("nft", "flush", "ruleset"); err != nil {
			t.Fatal(err)
		}
		text := genNftHost(seed, 120)
		trace := "table inet trace {\n chain tin {\n  type filter hook prerouting priority -500; policy accept;\n  meta nftrace set 1\n }\n" +
			" chain tout {\n  type filter hook output priority -500; policy accept;\n  meta nftrace set 1\n }\n}\n"
		if err := lab.Router.Nft(trace + text); err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		js, err := lab.Router.Run("nft", "-j", "list", "ruleset")
		if err != nil {
			t.Fatal(err)
		}
		rs, err := Load("router.json", []byte(js), "auto")
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(rs, site)
		if err != nil {
			t.Fatal(err)
		}
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
		ctx, cancel := context.WithCancel(context.Background())
		mon := lab.Router.CommandContext(ctx, "nft", "-a", "monitor", "trace")
		var buf bytes.Buffer
		mon.Stdout = &buf
		if err := mon.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		res := make([]seen, len(probes))
		var wg sync.WaitGroup
		for j, p := range probes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if hooks[j] == policy.Input {
					res[j] = sendFrom(lab.LAN, p)
				} else {
					res[j] = sendFrom(lab.Router, p)
				}
			}()
		}
		wg.Wait()
		time.Sleep(500 * time.Millisecond)
		cancel()
		mon.Wait()
		byTuple := map[string]*tracedPacket{}
		for _, tp := range parseTrace(buf.String()) {
			if _, ok := byTuple[tp.tuple]; !ok {
				byTuple[tp.tuple] = tp
			}
		}
		bad := 0
		for j, p := range probes {
			m := policy.Match{Family: p.fam, Proto: p.proto,
				Src: []netip.Prefix{netip.PrefixFrom(p.src, p.src.BitLen())}, Dst: []netip.Prefix{netip.PrefixFrom(p.dst, p.dst.BitLen())},
				SrcPorts: model.NewPortSet(model.PortRange{Lo: p.sport, Hi: p.sport}), DstPorts: model.NewPortSet(model.PortRange{Lo: p.dpt, Hi: p.dpt})}
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
			first := !(o.kind == origNew && o.res != accepted)
			reply := first && !(o.kind == replyEst && o.res != accepted)
			later := o.res == accepted
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
			if p.proto == "tcp" && !res[j].reply && byTuple[replyTuple(p)].passed() {
				res[j].reply = true // see compare
			}
			if res[j].reply != reply {
				diffs = append(diffs, fmt.Sprintf("reply: kernel %v, portolan %v", res[j].reply, reply))
			}
			if k2 != later {
				diffs = append(diffs, fmt.Sprintf("later: kernel %v, portolan %v", k2, later))
			}
			total++
			if tp := byTuple[p.tuple()]; tp != nil {
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
