package audit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/audit/space"
	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
)

// kernelLab is a netlab lab as the differential tests need it: more
// addresses on both sides, and in the cloud one TCP and one UDP listener
// behind a redirect of every port, which note every probe id they get and
// echo UDP datagrams back.
type kernelLab struct {
	*netlab.Lab
	mu  sync.Mutex
	got map[string]bool
}

func newKernelLab(t *testing.T) *kernelLab {
	l := netlab.New(t)
	k := &kernelLab{Lab: l, got: map[string]bool{}}
	for _, a := range append(lan4[1:], lan6[1:]...) {
		if err := l.AddLANAddr(netip.MustParseAddr(a)); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range append(cloud4[1:], cloud6[1:]...) {
		if err := l.AddCloudAddr(netip.MustParseAddr(a)); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// listen points every port of the cloud at fresh listeners on port; each
// seed takes a new port, so that connections of an earlier seed, which
// the redirect gives the same ends, cannot meet the new ones.
func (k *kernelLab) listen(t *testing.T, port int) {
	k.Cloud.Run("nft", "delete", "table", "inet", "redir")
	if err := k.Cloud.Nft(fmt.Sprintf("table inet redir {\n chain pre {\n  type nat hook prerouting priority dstnat; policy accept;\n  meta l4proto { tcp, udp } redirect to :%d\n }\n}\n", port)); err != nil {
		t.Fatal(err)
	}
	serve(t, k.Cloud, fmt.Sprintf(":%d", port), k.note)
}

// serve listens on addr in ns, UDP and TCP, until the test ends: it
// passes every probe id it gets to note and echoes datagrams back.
func serve(t *testing.T, ns *netlab.NS, addr string, note func(id string)) {
	pc, err := ns.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := ns.Listen("tcp", addr)
	if err != nil {
		pc.Close()
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
			note(string(buf[:n]))
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
					note(strings.TrimSpace(line))
				}
			}()
		}
	}()
}

func (k *kernelLab) note(id string) {
	k.mu.Lock()
	k.got[id] = true
	k.mu.Unlock()
}

func (k *kernelLab) received(id string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.got[id]
}

// loadNft replaces the router's ruleset with text and compiles for site
// what nft -j list ruleset gives back.
func (k *kernelLab) loadNft(t *testing.T, label, text string, site policy.Site) *Auditor {
	t.Helper()
	if _, err := k.Router.Run("nft", "flush", "ruleset"); err != nil {
		t.Fatal(err)
	}
	if err := k.Router.Nft(text); err != nil {
		t.Fatalf("%s: loading: %v", label, err)
	}
	js, err := k.Router.Run("nft", "-j", "list", "ruleset")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Load("router.json", []byte(js), "auto")
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	a, err := New(rs, site)
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	return a
}

// reset forgets connections on both sides of the router.
func (k *kernelLab) reset(t *testing.T) {
	for _, ns := range []*netlab.NS{k.Router, k.Cloud} {
		ns.Run("conntrack", "-F") // "0 flow entries" is not an error
	}
}

// probe is one connection attempt from the LAN to the cloud.
type probe struct {
	id         string
	fam        int
	proto      string
	src, dst   netip.Addr
	sport, dpt uint16
}

func (p probe) tuple() string {
	t := p.proto + " " + netip.AddrPortFrom(p.src, p.sport).String() + ">" + netip.AddrPortFrom(p.dst, p.dpt).String()
	if p.proto == "tcp" {
		t += " syn"
	}
	return t
}

// seen is what the kernel did with a probe: whether the first packet, the
// first reply and a later packet got through.
type seen struct {
	first, reply, later bool
	err                 string
}

func reuse(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// probeWait is how long a probe waits for an answer before it counts as
// dropped: long, so that a busy machine does not turn a late answer into a
// drop, and the same for UDP and TCP, so that the wait costs a batch of
// probes no more than its slowest TCP connect.
const probeWait = 1500 * time.Millisecond

// send sends one probe from namespace ns. UDP: a datagram, which the
// other end echoes; on the echo a second one. TCP: a connect, then the id
// as data.
func send(ns *netlab.NS, p probe) seen {
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
		c.SetReadDeadline(time.Now().Add(probeWait))
		buf := make([]byte, 256)
		for {
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			if string(buf[:n]) == p.id+"#1" {
				s.reply = true
				c.Write([]byte(p.id + "#2"))
				break
			}
		}
		return s
	}
	var c net.Conn
	err := ns.Do(func() (err error) {
		d := net.Dialer{Timeout: probeWait, LocalAddr: &net.TCPAddr{IP: p.src.AsSlice(), Port: int(p.sport)}, Control: reuse}
		c, err = d.Dial("tcp", dst)
		return err
	})
	if errors.Is(err, syscall.ECONNRESET) {
		// The handshake completed and the next packet drew a reset
		// (reject with tcp reset) before connect reported it.
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

// genProbes draws n probes with distinct local ends.
func genProbes(seed uint64, n int) []probe {
	r := rand.New(rand.NewPCG(seed, 77))
	used := map[string]bool{}
	var out []probe
	for len(out) < n {
		p := probe{id: fmt.Sprintf("s%d-p%d", seed, len(out)), fam: 4, proto: pick(r, []string{"tcp", "udp"})}
		src, dst := lan4, cloud4
		if r.IntN(10) < 3 {
			p.fam, src, dst = 6, lan6, cloud6
		}
		p.src, p.dst = netip.MustParseAddr(pick(r, src)), netip.MustParseAddr(pick(r, dst))
		p.dpt = uint16(pick(r, ports))
		if r.IntN(10) < 2 {
			p.dpt = uint16(1 + r.IntN(65535))
		}
		p.sport = uint16(1025 + r.IntN(60000))
		if r.IntN(10) < 3 {
			p.sport = uint16(pick(r, ports))
		}
		if p.dpt < 100 && p.dpt != 22 && p.dpt != 53 && p.dpt != 80 {
			continue // the listeners' ports
		}
		key := p.proto + netip.AddrPortFrom(p.src, p.sport).String()
		if used[key] {
			continue
		}
		used[key] = true
		out = append(out, p)
	}
	return out
}

// expect is what portolan says of a probe: from the part of the symbolic
// evaluation that holds the probe's packet.
type expect struct {
	o                   outcome
	first, reply, later bool
}

func (e expect) String() string {
	return fmt.Sprintf("first %v reply %v later %v (%s %s by %s)", e.first, e.reply, e.later, e.o.res, e.o.kind, decision(e.o))
}

func decision(o outcome) string {
	switch {
	case o.rule != nil:
		return o.rule.String()
	case o.chain != nil:
		return "policy of " + o.chain.String()
	}
	return "-"
}

// partition evaluates every packet from the LAN addresses to the cloud
// addresses, any ports, as one cube per family and protocol.
func partition(t *testing.T, a *Auditor, site policy.Site) map[string][]outcome {
	out := map[string][]outcome{}
	for _, fam := range []int{4, 6} {
		src, dst := lan4, cloud4
		if fam == 6 {
			src, dst = lan6, cloud6
		}
		for _, proto := range []string{"tcp", "udp"} {
			r := policy.Rule{Hook: policy.Forward, Flow: &resolve.Concrete{Flow: resolve.Flow{Proto: proto}},
				Match: policy.Match{Family: fam, Proto: proto, IIf: site.LANIf, OIf: site.WANIf, Src: hostPrefixes(src), Dst: hostPrefixes(dst)}}
			os, note := a.evalRule(r, nil, Options{}, nil)
			if note != "" {
				t.Fatalf("IPv%d %s: %s", fam, proto, note)
			}
			out[fmt.Sprint(fam, proto)] = os
		}
	}
	return out
}

func hostPrefixes(as []string) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range as {
		x := netip.MustParseAddr(a)
		out = append(out, netip.PrefixFrom(x, x.BitLen()))
	}
	return out
}

// lookup finds the part holding the probe's packet and says what portolan
// expects of it.
func lookup(t *testing.T, a *Auditor, parts map[string][]outcome, p probe, lanIf, wanIf string) (expect, bool) {
	var hit []outcome
	pc := pointCube(a, p, lanIf, wanIf)
	for _, o := range parts[fmt.Sprint(p.fam, p.proto)] {
		if o.reg.Contains(pc) {
			hit = append(hit, o)
		}
	}
	if len(hit) != 1 {
		t.Errorf("%s: %d parts hold the packet, want exactly 1", p.tuple(), len(hit))
		return expect{}, false
	}
	o := hit[0]
	e := expect{o: o}
	e.first, e.reply, e.later = o.passes()
	return e, o.res != unknown
}

// passes says which packets of a connection in outcome o get through:
// the first, the first reply, the ones after.
func (o outcome) passes() (first, reply, later bool) {
	first = !(o.kind == origNew && o.res != accepted)
	reply = first && !(o.kind == replyEst && o.res != accepted)
	return first, reply, o.res == accepted
}

// probeMatch is the match of exactly the probe's packet.
func probeMatch(p probe) policy.Match {
	return policy.Match{Family: p.fam, Proto: p.proto,
		Src: []netip.Prefix{netip.PrefixFrom(p.src, p.src.BitLen())}, Dst: []netip.Prefix{netip.PrefixFrom(p.dst, p.dst.BitLen())},
		SrcPorts: model.NewPortSet(model.PortRange{Lo: p.sport, Hi: p.sport}), DstPorts: model.NewPortSet(model.PortRange{Lo: p.dpt, Hi: p.dpt})}
}

// portolanTrail writes the first packet's decisions as the trace would;
// handle says how a rule is named there.
func portolanTrail(o outcome, handle func(*ruleset.Rule) int64) []traceEvent {
	t := o.trail
	if o.kind != origNew {
		t = o.first
	}
	var out []traceEvent
	for _, s := range t.steps() {
		ev := traceEvent{verdict: "accept"}
		if s.rule != nil {
			ev.chain, ev.handle = s.rule.Chain.String(), handle(s.rule)
		} else {
			ev.chain = s.chain.String()
		}
		out = append(out, ev)
	}
	if o.kind == origNew && o.res == dropped {
		if o.rule != nil {
			out = append(out, traceEvent{chain: o.rule.Chain.String(), handle: handle(o.rule), verdict: "drop"})
		} else {
			out = append(out, traceEvent{chain: o.chain.String(), verdict: "drop"})
		}
	}
	return out
}

func eventsString(es []traceEvent) string {
	var s []string
	for _, e := range es {
		s = append(s, e.String())
	}
	return strings.Join(s, "; ")
}

// traceTable marks every packet for nft monitor trace; it is part of the
// ruleset portolan reads, as it would be on a real firewall being traced.
const traceTable = "table inet trace {\n chain tracing {\n  type filter hook prerouting priority -500; policy accept;\n  meta nftrace set 1\n }\n}\n"

// kernelSeeds are the seeds the differential tests run: the regression
// seeds in testdata (seeds that once failed), then n more.
func kernelSeeds(t *testing.T, file string, n int) []uint64 {
	var out []uint64
	if data, err := os.ReadFile(file); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			s, err := strconv.ParseUint(strings.Fields(l)[0], 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", file, l, err)
			}
			out = append(out, s)
		}
	}
	base := uint64(1000)
	if v := os.Getenv("PORTOLAN_AUDIT_SEED"); v != "" {
		b, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("PORTOLAN_AUDIT_SEED=%q: %v", v, err)
		}
		base = b
	}
	if v := os.Getenv("PORTOLAN_AUDIT_SEEDS"); v != "" {
		if x, err := strconv.Atoi(v); err == nil {
			n = x
		}
	}
	for i := 0; i < n; i++ {
		out = append(out, base+uint64(i))
	}
	return out
}

// traceRun sends n probes with send, many at once, while nft monitor
// trace listens in ns; it returns what each probe saw and the packets the
// trace followed.
func traceRun(t *testing.T, ns *netlab.NS, n int, send func(i int) seen) ([]seen, []*tracedPacket) {
	ctx, cancel := context.WithCancel(context.Background())
	mon := ns.CommandContext(ctx, "nft", "-a", "monitor", "trace")
	var buf bytes.Buffer
	mon.Stdout = &buf
	if err := mon.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	res := make([]seen, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 192)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res[i] = send(i)
		}()
	}
	wg.Wait()
	time.Sleep(500 * time.Millisecond)
	cancel()
	mon.Wait()
	return res, parseTrace(buf.String())
}

// byTuple indexes traced packets by tuple, the first of each.
func byTuple(tr []*tracedPacket) map[string]*tracedPacket {
	out := map[string]*tracedPacket{}
	for _, tp := range tr {
		if _, ok := out[tp.tuple]; !ok {
			out[tp.tuple] = tp
		}
	}
	return out
}

// probeAll sends probes from the LAN to the cloud under trace; the
// cloud's listeners say which first and later packets arrived.
func (k *kernelLab) probeAll(t *testing.T, probes []probe) ([]seen, []*tracedPacket) {
	res, tr := traceRun(t, k.Router, len(probes), func(i int) seen { return send(k.LAN, probes[i]) })
	for i, p := range probes {
		if p.proto == "udp" {
			res[i].first = k.received(p.id + "#1")
			res[i].later = k.received(p.id + "#2")
		} else {
			res[i].later = k.received(p.id)
		}
	}
	return res, tr
}

// compare checks the kernel's verdicts against portolan's, probe by probe;
// it returns how many probes and traces it compared. A probe whose only
// difference is in the trace is sent again alone before it counts: nft
// monitor trace can lose or mix events when many packets cross at once.
func compare(t *testing.T, k *kernelLab, label string, a *Auditor, parts map[string][]outcome, probes []probe, res []seen, traced []*tracedPacket, site policy.Site, handle func(*ruleset.Rule) int64, fix func([]*tracedPacket)) (int, int) {
	t.Helper()
	traces := byTuple(traced)
	bad, n, nt := 0, 0, 0
	for i, p := range probes {
		e, known := lookup(t, a, parts, p, site.LANIf, site.WANIf)
		if !known {
			t.Errorf("%s %s: portolan says unknown: %s", label, p.tuple(), e.o.why)
			continue
		}
		// The same packet alone gives the same answer as the whole space.
		m := probeMatch(p)
		m.IIf, m.OIf = site.LANIf, site.WANIf
		single := policy.Rule{Hook: policy.Forward, Flow: &resolve.Concrete{Flow: resolve.Flow{Proto: p.proto}}, Match: m}
		os, _ := a.evalRule(single, nil, Options{}, nil)
		os = nonEmpty(os)
		if len(os) != 1 || os[0].res != e.o.res || os[0].kind != e.o.kind || os[0].rule != e.o.rule || os[0].chain != e.o.chain {
			t.Errorf("%s %s: the packet alone ends otherwise than in the whole space: %v", label, p.tuple(), os)
		}
		got := res[i]
		if p.proto == "tcp" && !got.reply && traces[replyTuple(p)].passed() {
			// connect failed, yet the router let the SYN-ACK through: the
			// next packet's reject reached the socket first.
			got.reply = true
		}
		n++
		var diffs []string
		if p.proto == "udp" && got.first != e.first {
			diffs = append(diffs, fmt.Sprintf("first packet: kernel %v, portolan %v", got.first, e.first))
		}
		if got.reply != e.reply {
			diffs = append(diffs, fmt.Sprintf("reply: kernel %v, portolan %v", got.reply, e.reply))
		}
		if got.later != e.later {
			diffs = append(diffs, fmt.Sprintf("later: kernel %v, portolan %v", got.later, e.later))
		}
		want := portolanTrail(e.o, handle)
		if tp := traces[p.tuple()]; tp != nil {
			nt++
			if eventsString(tp.events) != eventsString(want) && len(diffs) == 0 {
				k.reset(t)
				again := p
				again.id += "-again"
				_, tr := k.probeAll(t, []probe{again})
				fix(tr)
				t.Logf("%s %s: the trace said %s; sent again alone", label, p.tuple(), eventsString(tp.events))
				tp = nil
				for _, x := range tr {
					if x.tuple == p.tuple() {
						tp = x
						break
					}
				}
			}
			if tp != nil && eventsString(tp.events) != eventsString(want) {
				diffs = append(diffs, fmt.Sprintf("first packet's decisions:\n      kernel   %s\n      portolan %s", eventsString(tp.events), eventsString(want)))
			}
		}
		if len(diffs) > 0 {
			if tp := traces[replyTuple(p)]; tp != nil {
				diffs = append(diffs, "kernel on the reply: "+eventsString(tp.events))
			}
			bad++
			if bad <= 8 {
				t.Errorf("%s %s (%s): %s; portolan: %s", label, p.tuple(), p.id, strings.Join(diffs, "; "), e)
			}
		}
	}
	if bad > 8 {
		t.Errorf("%s: %d probes disagree in all", label, bad)
	}
	return n, nt
}

// TestKernelAgreesNft loads seeded random nftables rulesets (ranges, sets,
// negation, concatenations, vmaps, jumps, gotos, returns, several chains,
// tables and policies, a raw-priority chain) into the router, sends real
// TCP and UDP connections through it, and checks that the kernel and
// portolan agree on every packet: the first, the reply and the one after,
// and — from nft monitor trace — on each base chain's deciding rule.
func TestKernelAgreesNft(t *testing.T) {
	k := newKernelLab(t)
	site := policy.Site{Mode: policy.Gateway, LANIf: netlab.RouterLANIf, WANIf: netlab.RouterWANIf}
	total, traced := 0, 0
	for i, seed := range kernelSeeds(t, "testdata/kernel-seeds-nft.txt", 10) {
		label := fmt.Sprintf("nft seed %d", seed)
		k.reset(t)
		k.listen(t, 10+i%80)
		text := genNft(seed, 300)
		a := k.loadNft(t, label, traceTable+text, site)
		parts := partition(t, a, site)
		probes := genProbes(seed, 180)
		res, tr := k.probeAll(t, probes)
		n, nt := compare(t, k, label, a, parts, probes, res, tr, site, nftHandle, func([]*tracedPacket) {})
		total += n
		traced += nt
		if t.Failed() {
			t.Logf("%s failed; the ruleset:\n%s", label, text)
			return
		}
	}
	t.Logf("%d probes agree; %d first packets' decisions compared with nft monitor trace", total, traced)
	if traced < total*9/10 {
		t.Errorf("only %d of %d probes were traced", traced, total)
	}
}

func nftHandle(r *ruleset.Rule) int64 { return r.Pos.Handle }

// iptIndex names an iptables rule by its place in its chain, from 1.
func iptIndex(r *ruleset.Rule) int64 { return int64(r.Index + 1) }

// iptablesNftHandles maps the nft handles of the rules iptables-nft made
// to their place in their chain, from 1: nft monitor trace names rules by
// handle, iptables-save by order.
func iptablesNftHandles(t *testing.T, ns *netlab.NS) map[string]map[int64]int64 {
	out := map[string]map[int64]int64{}
	text, err := ns.Run("nft", "-a", "list", "ruleset")
	if err != nil {
		t.Fatal(err)
	}
	var table, chain string
	n := 0
	handleRe := regexp.MustCompile(`# handle (\d+)$`)
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[0] == "table":
			table = f[1] + " " + f[2]
		case len(f) >= 2 && f[0] == "chain":
			chain, n = table+" "+f[1], 0
			out[chain] = map[int64]int64{}
		case chain != "" && handleRe.MatchString(l) && !strings.HasPrefix(strings.TrimSpace(l), "type "):
			m := handleRe.FindStringSubmatch(l)
			h, _ := strconv.ParseInt(m[1], 10, 64)
			n++
			out[chain][h] = int64(n)
		}
	}
	return out
}

// TestKernelAgreesIptables does for iptables-save what TestKernelAgreesNft
// does for nft: random iptables and ip6tables rulesets (filter with user
// chains, goto, RETURN, multiport, iprange, conntrack and state, tcp
// flags, negation; mangle drops; raw) loaded with iptables-restore in the
// router, dumped with iptables-save and ip6tables-save for portolan to
// read, and real connections through them.
func TestKernelAgreesIptables(t *testing.T) {
	k := newKernelLab(t)
	site := policy.Site{Mode: policy.Gateway, LANIf: netlab.RouterLANIf, WANIf: netlab.RouterWANIf}
	total, traced := 0, 0
	for i, seed := range kernelSeeds(t, "testdata/kernel-seeds-iptables.txt", 8) {
		label := fmt.Sprintf("iptables seed %d", seed)
		k.reset(t)
		k.listen(t, 10+i%80)
		if _, err := k.Router.Run("nft", "flush", "ruleset"); err != nil {
			t.Fatal(err)
		}
		v4, v6 := genIpt(seed, false, 300), genIpt(seed, true, 300)
		if _, err := k.Router.RunInput([]byte(v4), "iptables-restore"); err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		if _, err := k.Router.RunInput([]byte(v6), "ip6tables-restore"); err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		s4, err := k.Router.Run("iptables-save")
		if err != nil {
			t.Fatal(err)
		}
		s6, err := k.Router.Run("ip6tables-save")
		if err != nil {
			t.Fatal(err)
		}
		rs, err := Load("router.rules", []byte(s4+s6), "auto")
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		if rs.Format != ruleset.IptablesSave {
			t.Fatalf("detected %s", rs.Format)
		}
		a, err := New(rs, site)
		if err != nil {
			t.Fatal(err)
		}
		handles := iptablesNftHandles(t, k.Router)
		fix := func(tps []*tracedPacket) {
			for _, tp := range tps {
				for j, ev := range tp.events {
					if ev.handle != 0 {
						tp.events[j].handle = handles[ev.chain][ev.handle]
					}
				}
			}
		}
		parts := partition(t, a, site)
		probes := genProbes(seed+1<<32, 180)
		res, tr := k.probeAll(t, probes)
		fix(tr)
		n, nt := compare(t, k, label, a, parts, probes, res, tr, site, iptIndex, fix)
		total += n
		traced += nt
		if t.Failed() {
			t.Logf("%s failed; the ruleset:\n%s%s", label, s4, s6)
			return
		}
	}
	t.Logf("%d probes agree; %d first packets' decisions compared with nft monitor trace", total, traced)
	if traced < total*9/10 {
		t.Errorf("only %d of %d probes were traced", traced, total)
	}
}

func rngFor(seed uint64, j int) *rand.Rand { return rand.New(rand.NewPCG(seed, uint64(j))) }

// nonEmpty drops outcomes whose region holds no packet (a rule on a
// concatenation may leave one behind, holes over all of it).
func nonEmpty(os []outcome) []outcome {
	var out []outcome
	for _, o := range os {
		if _, _, empty, _ := pieces(o.reg); !empty {
			out = append(out, o)
		}
	}
	return out
}

// pointCube is the cube of one probe's first packet.
func pointCube(a *Auditor, p probe, in, out string) space.Cube {
	return space.Cube{Src: space.Single(p.src), Dst: space.Single(p.dst),
		SPort: model.NewPortSet(model.PortRange{Lo: p.sport, Hi: p.sport}), DPort: model.NewPortSet(model.PortRange{Lo: p.dpt, Hi: p.dpt}),
		IIf: a.ifaces.Of(in), OIf: a.ifaces.Of(out)}
}

// TestKernelMergedInequality loads "tcp sport != 1024 tcp dport != 22
// drop": some nft versions (1.0.6 here) merge the two into one comparison
// that holds when either port differs, and nft -j list prints them apart
// again. Where the two readings agree portolan must say what the kernel
// does; where they differ it must say unknown, whichever this nft did.
func TestKernelMergedInequality(t *testing.T) {
	k := newKernelLab(t)
	k.listen(t, 9)
	site := policy.Site{Mode: policy.Gateway, LANIf: netlab.RouterLANIf, WANIf: netlab.RouterWANIf}
	a := k.loadNft(t, "merged", "table inet t {\n chain forward {\n  type filter hook forward priority 0; policy accept;\n  tcp sport != 1024 tcp dport != 22 drop\n }\n}\n", site)
	parts := partition(t, a, site)
	src, dst := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("198.51.100.10")
	probes := []probe{
		{id: "m1", fam: 4, proto: "tcp", src: src, dst: dst, sport: 1024, dpt: 22},  // both equal: no match
		{id: "m2", fam: 4, proto: "tcp", src: src, dst: dst, sport: 30001, dpt: 80}, // both differ: drop
		{id: "m3", fam: 4, proto: "tcp", src: src, dst: dst, sport: 30002, dpt: 22}, // one differs
		{id: "m4", fam: 4, proto: "tcp", src: src, dst: dst, sport: 1024, dpt: 80},  // the other
		{id: "m5", fam: 4, proto: "udp", src: src, dst: dst, sport: 30003, dpt: 80}, // not tcp
	}
	res, _ := k.probeAll(t, probes)
	for i, p := range probes {
		var hit *outcome
		pc := pointCube(a, p, site.LANIf, site.WANIf)
		for _, o := range parts[fmt.Sprint(p.fam, p.proto)] {
			if o.reg.Contains(pc) {
				hit = &o
				break
			}
		}
		if hit == nil {
			t.Fatalf("%s: no part", p.tuple())
		}
		ambiguous := p.proto == "tcp" && (p.sport == 1024) != (p.dpt == 22)
		if ambiguous {
			if hit.res != unknown {
				t.Errorf("%s: portolan says %s, want unknown (the kernel: reply %v)", p.tuple(), hit.res, res[i].reply)
			}
			continue
		}
		want := hit.res == accepted
		if res[i].reply != want {
			t.Errorf("%s: kernel connects %v, portolan %s", p.tuple(), res[i].reply, hit.res)
		}
		if p.id == "m2" && (hit.res != dropped || hit.rule == nil) {
			t.Errorf("m2: %s by %v", hit.res, hit.rule)
		}
	}
}
