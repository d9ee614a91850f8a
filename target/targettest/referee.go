package targettest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target"
)

// Probe is one packet (a TCP connection or a UDP datagram) across the
// lab's router, with what the plan says should happen to it.
type Probe struct {
	Proto   string
	Inbound bool           // from the cloud to the router's WAN address
	Src     netip.Addr     // the client's address
	Dst     netip.AddrPort // where the client sends
	Want    bool           // the plan lets it through
	Sink    netip.Addr     // where it arrives when it passes (Dst, or the DNAT address)
	Why     string
}

func (p Probe) key() string {
	return fmt.Sprintf("%s %s>%s", p.Proto, p.Src, p.Dst)
}

func (p Probe) String() string {
	dir := "out"
	if p.Inbound {
		dir = "in"
	}
	s := fmt.Sprintf("%s %s %s -> %s", dir, p.Proto, p.Src, p.Dst)
	if p.Inbound && p.Sink.IsValid() {
		s += " (forward to " + p.Sink.String() + ")"
	}
	return s + " [" + p.Why + "]"
}

func lanHost(fam int) netip.Addr {
	if fam == 6 {
		return netlab.LANHost6
	}
	return netlab.LANHost
}

func cloudHost(fam int) netip.Addr {
	if fam == 6 {
		return netlab.CloudHost6
	}
	return netlab.CloudHost
}

func wanRouter(fam int) netip.Addr {
	if fam == 6 {
		return netlab.WANRouter6
	}
	return netlab.WANRouter
}

// samplePorts are the ports a probe tries of a set: for each range its
// first, last and middle port.
func samplePorts(ps model.PortSet) []uint16 {
	var out []uint16
	for _, r := range ps.Ranges() {
		for _, p := range []uint16{r.Lo, r.Hi, uint16((int(r.Lo) + int(r.Hi)) / 2)} {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// neighbours are ports just outside each range of the set.
func neighbours(ps model.PortSet) []uint16 {
	var out []uint16
	for _, r := range ps.Ranges() {
		if r.Lo > 1 {
			out = append(out, r.Lo-1)
		}
		if r.Hi < 65535 {
			out = append(out, r.Hi+1)
		}
	}
	return out
}

// sampleAddrs are the addresses a probe tries of a remote side: the first
// and last address of each range of each set, or the cloud host for any.
func sampleAddrs(in *target.Input, r *policy.Rule) ([]netip.Addr, error) {
	sets, err := in.Remote(r)
	if err != nil {
		return nil, err
	}
	if _, _, any := target.RemoteSide(r); any {
		return []netip.Addr{cloudHost(r.Match.Family)}, nil
	}
	var out []netip.Addr
	add := func(a netip.Addr) {
		if a.IsValid() && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, s := range sets {
		for _, rg := range s.IPSet().Ranges() {
			// The ends of the range, stepping over the lab's own
			// addresses (the router, the cloud subnet's first and last).
			a, b := rg.From(), rg.To()
			for a.IsValid() && reserved(a) && a.Less(b) {
				a = a.Next()
			}
			for b.IsValid() && reserved(b) && a.Less(b) {
				b = b.Prev()
			}
			if !reserved(a) {
				add(a)
			}
			if !reserved(b) {
				add(b)
			}
			if ch := cloudHost(r.Match.Family); rg.Contains(ch) {
				add(ch)
			}
		}
	}
	return out, nil
}

// reserved are addresses a probe must not take as its own: the router's,
// and the first and last of the subnets the lab's veths are on.
func reserved(a netip.Addr) bool {
	switch a {
	case netlab.WANRouter, netlab.WANRouter6, netlab.LANGateway, netlab.LANGateway6,
		netlab.CloudNet.Addr(), netlab.CloudNet6.Addr(), netlab.LANNet.Addr(), netlab.LANNet6.Addr(),
		netip.MustParseAddr("198.51.100.255"), netip.MustParseAddr("192.0.2.255"):
		return true
	}
	return false
}

// localAddr is the LAN address an outbound rule's packets come from.
func localAddr(r *policy.Rule) netip.Addr {
	fam := r.Match.Family
	h := lanHost(fam)
	local := target.LocalSide(r)
	if len(local) == 0 {
		return h
	}
	for _, p := range local {
		if p.Contains(h) {
			return h
		}
	}
	return local[0].Addr()
}

// Probes derives the probes of an input's gateway plan: for every rule,
// the ports it opens to sampled addresses of its sets, and around them
// packets the plan may refuse (neighbouring ports, the alternatives of a
// one-of group not chosen, the other protocol, an address outside every
// set, a few ports nobody asks for). Each probe's Want is the plan's
// verdict.
func Probes(in *target.Input) ([]Probe, error) {
	if in.Site.Mode != policy.Gateway {
		return nil, fmt.Errorf("probes: gateway mode only")
	}
	var out []Probe
	seen := map[string]bool{}
	add := func(p Probe) {
		if seen[p.key()] {
			return
		}
		seen[p.key()] = true
		p.Want, p.Sink = Expect(in, p)
		out = append(out, p)
	}
	other := map[string]string{model.TCP: model.UDP, model.UDP: model.TCP}
	for i := range in.Rules {
		r := &in.Rules[i]
		m := r.Match
		fam := m.Family
		why := target.FlowRef(r.Flow)
		switch {
		case r.Hook == policy.Forward && target.IsOutbound(r):
			src := localAddr(r)
			dsts, err := sampleAddrs(in, r)
			if err != nil {
				return nil, err
			}
			for j, d := range dsts {
				for _, port := range samplePorts(m.DstPorts) {
					add(Probe{Proto: m.Proto, Src: src, Dst: netip.AddrPortFrom(d, port), Why: why})
				}
				if j > 0 {
					continue
				}
				for _, port := range neighbours(m.DstPorts) {
					add(Probe{Proto: m.Proto, Src: src, Dst: netip.AddrPortFrom(d, port), Why: why + " neighbour port"})
				}
				for _, port := range samplePorts(r.Flow.Ports.Subtract(m.DstPorts)) {
					add(Probe{Proto: m.Proto, Src: src, Dst: netip.AddrPortFrom(d, port), Why: why + " alternative not chosen"})
				}
				lo := m.DstPorts.Ranges()[0].Lo
				add(Probe{Proto: other[m.Proto], Src: src, Dst: netip.AddrPortFrom(d, lo), Why: why + " other protocol"})
				add(Probe{Proto: m.Proto, Src: src, Dst: netip.AddrPortFrom(Outside[fam], lo), Why: why + " address outside the sets"})
			}
		case r.Hook == policy.Prerouting:
			srcs, err := sampleAddrs(in, r)
			if err != nil {
				return nil, err
			}
			wan := wanRouter(fam)
			for j, s := range srcs {
				for _, port := range samplePorts(m.DstPorts) {
					add(Probe{Proto: m.Proto, Inbound: true, Src: s, Dst: netip.AddrPortFrom(wan, port), Why: why})
				}
				if j > 0 {
					continue
				}
				for _, port := range neighbours(m.DstPorts) {
					add(Probe{Proto: m.Proto, Inbound: true, Src: s, Dst: netip.AddrPortFrom(wan, port), Why: why + " neighbour port"})
				}
				lo := m.DstPorts.Ranges()[0].Lo
				add(Probe{Proto: other[m.Proto], Inbound: true, Src: s, Dst: netip.AddrPortFrom(wan, lo), Why: why + " other protocol"})
				add(Probe{Proto: m.Proto, Inbound: true, Src: Outside[fam], Dst: netip.AddrPortFrom(wan, lo), Why: why + " source outside the sets"})
			}
		}
	}
	// Ports nobody asks for, from the LAN to the cloud host.
	for _, fam := range []int{4, 6} {
		for _, proto := range []string{model.TCP, model.UDP} {
			for _, port := range []uint16{22, 3389, 8081} {
				add(Probe{Proto: proto, Src: lanHost(fam), Dst: netip.AddrPortFrom(cloudHost(fam), port), Why: "a port no flow needs"})
			}
		}
	}
	return out, nil
}

// Expect is the plan's verdict on a probe: whether it passes, and where
// it arrives. An outbound packet passes when a forward rule from the LAN
// interface to the WAN interface accepts it; an inbound one when the
// first port forward that matches it moves it to an address a forward
// rule then accepts.
func Expect(in *target.Input, p Probe) (bool, netip.Addr) {
	fam := 4
	if p.Dst.Addr().Is6() {
		fam = 6
	}
	// The site's interfaces: the lab's (lan0, wan0) for the kernel, a
	// platform's own names (port1, wan1) for a configuration read back.
	iif, oif := in.Site.LANIf, in.Site.WANIf
	dst := p.Dst.Addr()
	if p.Inbound {
		iif, oif = in.Site.WANIf, in.Site.LANIf
		var to netip.Addr
		for i := range in.Rules {
			r := &in.Rules[i]
			if r.Hook == policy.Prerouting && matches(r.Match, fam, p.Proto, iif, "", p.Src, dst, p.Dst.Port()) {
				to = r.DNAT
				break
			}
		}
		if !to.IsValid() {
			return false, netip.Addr{}
		}
		dst = to
	}
	for i := range in.Rules {
		r := &in.Rules[i]
		if r.Hook == policy.Forward && matches(r.Match, fam, p.Proto, iif, oif, p.Src, dst, p.Dst.Port()) {
			return true, dst
		}
	}
	return false, dst
}

func matches(m policy.Match, fam int, proto, iif, oif string, src, dst netip.Addr, port uint16) bool {
	if m.Family != fam || m.Proto != proto || !m.SrcPorts.Empty() {
		return false
	}
	if m.IIf != "" && iif != "" && m.IIf != iif || oif != "" && m.OIf != "" && m.OIf != oif {
		return false
	}
	if !m.DstPorts.Contains(port) {
		return false
	}
	return (m.AnySrc() || contains(m.SrcAddrs(), src)) && (m.AnyDst() || contains(m.DstAddrs(), dst))
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Timeout is how long a probe waits before it counts as dropped.
const Timeout = time.Second

// Parallel is how many probes run at once.
const Parallel = 48

// Referee prepares the lab for the probes: addresses on the cloud and the
// LAN for every sampled address, and listeners for every port.
type Referee struct {
	lab   *netlab.Lab
	mu    sync.Mutex
	got   map[string]netip.Addr // token -> the address it arrived at (UDP: invalid)
	done  map[string]chan struct{}
	close []func()
}

// NewReferee readies lab for probes; everything it opens closes when the
// test ends.
func NewReferee(t testing.TB, l *netlab.Lab, probes []Probe) *Referee {
	t.Helper()
	rf := &Referee{lab: l, got: map[string]netip.Addr{}, done: map[string]chan struct{}{}}
	t.Cleanup(rf.Close)
	cloud, lan := map[netip.Addr]bool{}, map[netip.Addr]bool{}
	sinks := map[string]bool{}
	for _, p := range probes {
		if p.Inbound {
			cloud[p.Src] = true
			lan[p.Sink] = true
			// Every address of the LAN listens on the port: a packet
			// forwarded to the wrong host arrives too, and is caught.
			sinks["lan "+p.Proto+" "+fmt.Sprint(p.Dst.Port())] = true
			if p.Proto == model.UDP && p.Sink.IsValid() {
				// A datagram does not say where it arrived: a socket
				// bound to the sink's address does.
				sinks["lan "+p.Proto+" "+fmt.Sprint(p.Dst.Port())+" "+p.Sink.String()] = true
			}
		} else {
			lan[p.Src] = true
			cloud[p.Dst.Addr()] = true
			sinks["cloud "+p.Proto+" "+fmt.Sprint(p.Dst.Port())] = true
		}
	}
	for a := range cloud {
		if !a.IsValid() || a == netlab.CloudHost || a == netlab.CloudHost6 {
			continue
		}
		if err := l.AddCloudAddr(a); err != nil {
			t.Fatalf("cloud address %s: %v", a, err)
		}
	}
	for a := range lan {
		if !a.IsValid() || a == netlab.LANHost || a == netlab.LANHost6 {
			continue
		}
		if err := l.AddLANAddr(a); err != nil {
			t.Fatalf("lan address %s: %v", a, err)
		}
	}
	keys := make([]string, 0, len(sinks))
	for k := range sinks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := strings.Fields(k)
		ns := l.Cloud
		if f[0] == "lan" {
			ns = l.LAN
		}
		var at netip.Addr
		if len(f) > 3 {
			at = netip.MustParseAddr(f[3])
		}
		if err := rf.sink(ns, f[1], f[2], at); err != nil {
			t.Fatalf("listener %s: %v", k, err)
		}
	}
	return rf
}

// Close stops the listeners.
func (rf *Referee) Close() {
	for _, c := range rf.close {
		c()
	}
	rf.close = nil
}

func (rf *Referee) record(token string, at netip.Addr) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if _, ok := rf.got[token]; ok {
		return
	}
	rf.got[token] = at
	if ch, ok := rf.done[token]; ok {
		close(ch)
	}
}

func (rf *Referee) wait(token string) chan struct{} {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	ch := make(chan struct{})
	if _, ok := rf.got[token]; ok {
		close(ch)
	} else {
		rf.done[token] = ch
	}
	return ch
}

func (rf *Referee) arrived(token string) (netip.Addr, bool) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	a, ok := rf.got[token]
	return a, ok
}

// sink listens on port of every address of ns, or of address at only
// when it is valid (UDP), and records the tokens that arrive.
func (rf *Referee) sink(ns *netlab.NS, proto, port string, at netip.Addr) error {
	addr := ":" + port
	if at.IsValid() {
		addr = net.JoinHostPort(at.String(), port)
	}
	if proto == model.TCP {
		ln, err := ns.Listen("tcp", addr)
		if err != nil {
			return err
		}
		rf.close = append(rf.close, func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					c.SetReadDeadline(time.Now().Add(2 * Timeout))
					buf := make([]byte, 64)
					n, _ := c.Read(buf)
					local, _ := netip.ParseAddrPort(c.LocalAddr().String())
					rf.record(string(buf[:n]), local.Addr().Unmap())
				}()
			}
		}()
		return nil
	}
	// SO_REUSEADDR lets a socket of one address share the port with the
	// one of every address; a datagram goes to the more specific.
	var pc net.PacketConn
	err := ns.Do(func() (err error) {
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			}); err != nil {
				return err
			}
			return serr
		}}
		pc, err = lc.ListenPacket(context.Background(), "udp", addr)
		return err
	})
	if err != nil {
		return err
	}
	rf.close = append(rf.close, func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			rf.record(string(buf[:n]), at)
		}
	}()
	return nil
}

func token() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Send sends one probe and reports whether it arrived where it should.
func (rf *Referee) Send(p Probe) (bool, error) {
	ns := rf.lab.LAN
	if p.Inbound {
		ns = rf.lab.Cloud
	}
	tok := token()
	done := rf.wait(tok)
	dst := net.UDPAddrFromAddrPort(p.Dst)
	switch p.Proto {
	case model.TCP:
		var c net.Conn
		err := ns.Do(func() (err error) {
			d := net.Dialer{Timeout: Timeout, LocalAddr: &net.TCPAddr{IP: p.Src.AsSlice()}}
			c, err = d.Dial("tcp", p.Dst.String())
			return err
		})
		if err != nil {
			return false, nil // refused or timed out: it did not pass
		}
		defer c.Close()
		if _, err := c.Write([]byte(tok)); err != nil {
			return false, nil
		}
	case model.UDP:
		var c *net.UDPConn
		err := ns.Do(func() (err error) {
			c, err = net.DialUDP("udp", &net.UDPAddr{IP: p.Src.AsSlice()}, dst)
			return err
		})
		if err != nil {
			return false, err
		}
		defer c.Close()
		go func() {
			for _, d := range []time.Duration{0, 150 * time.Millisecond, 300 * time.Millisecond} {
				time.Sleep(d)
				if _, ok := rf.arrived(tok); ok {
					return
				}
				c.Write([]byte(tok))
			}
		}()
	default:
		return false, fmt.Errorf("probe: protocol %q", p.Proto)
	}
	select {
	case <-done:
	case <-time.After(Timeout):
		return false, nil
	}
	// A connection says where it arrived; a datagram only at a forward's
	// sink, where a socket of that address listens.
	if at, _ := rf.arrived(tok); (p.Proto == model.TCP || p.Inbound) && at != p.Sink {
		where := at.String()
		if !at.IsValid() {
			where = "another address"
		}
		return false, fmt.Errorf("arrived at %s, not %s", where, p.Sink)
	}
	return true, nil
}

// Outcome is one probe and what the kernel did with it.
type Outcome struct {
	Probe
	Got bool
	Err error
}

// Run sends every probe, Parallel at a time, and returns the outcomes in
// the probes' order.
func (rf *Referee) Run(probes []Probe) []Outcome {
	out := make([]Outcome, len(probes))
	sem := make(chan struct{}, Parallel)
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			got, err := rf.Send(p)
			out[i] = Outcome{Probe: p, Got: got, Err: err}
		}()
	}
	wg.Wait()
	return out
}

// Check sends the probes and fails the test for each one the kernel
// treats otherwise than the plan says; it logs what passed and dropped.
func Check(t testing.TB, rf *Referee, probes []Probe) {
	t.Helper()
	pass, drop := 0, 0
	outs := rf.Run(probes)
	// A probe the plan passes that seemed dropped goes once more, alone:
	// on a busy machine a handshake or a datagram can be late, while a
	// rule that drops it drops it again.
	for i, o := range outs {
		if o.Err == nil && o.Want && !o.Got {
			outs[i].Got, outs[i].Err = rf.Send(o.Probe)
		}
	}
	for _, o := range outs {
		switch {
		case o.Err != nil:
			t.Errorf("%s: %v", o.Probe, o.Err)
		case o.Got != o.Want:
			verdict := map[bool]string{true: "passed", false: "was dropped"}
			t.Errorf("%s %s, the plan says it should %s", o.Probe, verdict[o.Got], map[bool]string{true: "pass", false: "be dropped"}[o.Want])
		case o.Got:
			pass++
		default:
			drop++
		}
	}
	t.Logf("%d probes: %d passed and %d were dropped, as planned", len(probes), pass, drop)
}

// Baseline sends up to n probes that the plan drops before any rule is
// loaded and fails the test unless they all pass: a drop must come from
// the rules, not from a lab that cannot deliver the packet.
func Baseline(t testing.TB, rf *Referee, probes []Probe, n int) {
	t.Helper()
	var sample []Probe
	for _, p := range probes {
		if !p.Want && len(sample) < n && !p.Inbound {
			q := p
			q.Want = true
			sample = append(sample, q)
		}
	}
	for _, o := range rf.Run(sample) {
		if o.Err == nil && !o.Got {
			// A second chance, as Check gives a probe that should pass: on
			// a busy machine the first packet to a new IPv6 neighbour can
			// be lost while neighbour discovery runs.
			o.Got, o.Err = rf.Send(o.Probe)
		}
		if o.Err != nil || !o.Got {
			t.Errorf("without rules, %s did not arrive twice (%v): the lab cannot deliver it", o.Probe, o.Err)
		}
	}
}

// KernelGateway is the kernel's test of a packet-filter target: for each
// of GatewayCases, in parallel, a lab; the probes of the plan pass the
// router before the rules (some of them), then load puts the rules on the
// router and every probe must meet the plan's verdict.
func KernelGateway(t *testing.T, load func(t testing.TB, l *netlab.Lab, in *target.Input)) {
	dir := LabCatalog(t)
	for _, c := range GatewayCases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			in, _ := c.Input(t, dir)
			probes, err := Probes(in)
			if err != nil {
				t.Fatal(err)
			}
			l := netlab.New(t)
			rf := NewReferee(t, l, probes)
			Baseline(t, rf, probes, 6)
			load(t, l, in)
			Check(t, rf, probes)
		})
	}
}
