package reflector

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// clientFrom is a UDP client bound to a loopback address of its own
// (127.0.0.0/8 is all loopback on Linux): one more source.
func clientFrom(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// signedInvite is a padded INVITE signed for port, as a probe sends it.
func signedInvite(port uint16) []byte {
	m := testInvite()
	SignSIPRequest(testToken, m, NewNonce(), time.Now(), port)
	m.Set(HdrPad, strings.Repeat("x", 1200))
	return m.Bytes()
}

// TestSIPReplayAcrossShards: one signed SIP request sent to a port of
// each shard is answered once (shards keep separate nonces; the
// signature names the port).
func TestSIPReplayAcrossShards(t *testing.T) {
	t.Parallel()
	// The control port, then ports until both shards (port mod 2) own one.
	ps := freePorts(t, 2)
	var a, b uint16 // a port of shard 0 and one of shard 1
	for len(ps) < 40 && (a == 0 || b == 0) {
		for _, p := range ps[1:] {
			if p%2 == 0 && a == 0 {
				a = p
			}
			if p%2 == 1 && b == 0 {
				b = p
			}
		}
		if a == 0 || b == 0 {
			ps = append(ps, freePorts(t, 1)...)
		}
	}
	if a == 0 || b == 0 {
		t.Fatalf("no free port of each parity among %v", ps)
	}
	cfg := Config{Listen: "127.0.0.1:" + itoa(int(ps[0])), UDPPorts: set(a, b), Token: testToken, Shards: 2}
	for i := range 2 {
		c := cfg
		c.Shard = i
		s, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
	}
	c := client(t)
	req := signedInvite(a)
	answers := len(exchange(t, c, a, req, 300*time.Millisecond)) + len(exchange(t, c, b, req, 300*time.Millisecond))
	if answers != 1 {
		t.Errorf("one SIP request sent to ports %d and %d (two shards): %d answers, want 1", a, b, answers)
	}
}

// TestNonceFloodLeavesOthersServed: one source sending more fresh
// requests than the nonce store holds leaves every other source served.
func TestNonceFloodLeavesOthersServed(t *testing.T) {
	t.Parallel()
	ps := freePorts(t, 2)
	const store = 2000
	s := startServer(t, Config{Rate: 1e6, Burst: 1e6, MaxNonces: store}, ps, 0)
	flooder := clientFrom(t, "127.0.0.1")
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ps[1])
	for i := range 3 * store {
		flooder.WriteToUDPAddrPort(Encode(testToken, TypeEcho, NewNonce(), time.Now(), RequestBody(ps[1]), EchoRequestLen), dst)
		if i%200 == 0 {
			time.Sleep(2 * time.Millisecond) // let the socket drain
		}
	}
	time.Sleep(100 * time.Millisecond)
	for _, addr := range []string{"127.0.0.2", "127.0.0.3"} {
		c := clientFrom(t, addr)
		got := exchange(t, c, ps[1], Encode(testToken, TypeEcho, NewNonce(), time.Now(), RequestBody(ps[1]), EchoRequestLen), 300*time.Millisecond)
		if len(got) != 1 {
			t.Errorf("after a nonce flood from 127.0.0.1, %s gets %d replies, want 1 (stats %+v)", addr, len(got), s.Stats())
		}
	}
	if st := s.Stats(); st.Refused == 0 {
		t.Errorf("the flooding source was never refused: %+v", st)
	}
}

// allocPerDatagram is the heap bytes the server allocates handling pkt.
func allocPerDatagram(s *Server, pkt []byte, n int) uint64 {
	from := netip.MustParseAddrPort("192.0.2.10:5060")
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for range n {
		s.handleUDP(pkt, from, 5060, func([]byte) {})
	}
	runtime.ReadMemStats(&m1)
	return (m1.TotalAlloc - m0.TotalAlloc) / uint64(n)
}

// unauthenticatedSIP are datagrams without the token's proof, as a flood
// would send them: a plain INVITE and 8 KB shaped to cost the most.
func unauthenticatedSIP() []struct {
	name string
	pkt  []byte
} {
	plain := testInvite()
	SignSIPRequest([]byte("not-the-reflector-token"), plain, NewNonce(), time.Now(), 5060)
	plain.Set(HdrPad, strings.Repeat("x", 900))
	fill := func(head, line string) []byte {
		var b strings.Builder
		b.WriteString(head)
		for b.Len()+len(line)+64 < MaxSIPLen {
			b.WriteString(line)
		}
		b.WriteString("Content-Length: 0\r\n\r\n")
		return []byte(b.String())
	}
	start := "INVITE sip:r@198.51.100.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nX-Portolan-Auth: nonce=00000000000000000000000000000000;ts=0;mac=00\r\nSubject: s\r\n"
	return []struct {
		name string
		pkt  []byte
	}{
		{"plain", plain.Bytes()},
		{"continuation-8k", fill(start, " x\r\n")},
		{"headers-8k", fill(start, "a:b\r\n")},
		{"callid-continuation-8k", fill("INVITE sip:r@198.51.100.10 SIP/2.0\r\nCall-ID: c\r\n", " x\r\n")},
	}
}

// TestUnauthenticatedSIPBoundedWork: what a datagram without the token
// costs the reflector is bounded by its size (heap bytes allocated, a
// deterministic stand-in for the work; the time is in
// BenchmarkUnauthenticatedSIP).
func TestUnauthenticatedSIPBoundedWork(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:5060", Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range unauthenticatedSIP() {
		got := allocPerDatagram(s, tc.pkt, 20)
		if limit := uint64(2*len(tc.pkt) + 4096); got > limit {
			t.Errorf("%s (%d bytes): %d bytes allocated, more than %d", tc.name, len(tc.pkt), got, limit)
		}
	}
	if st := s.Stats(); st.Answered != 0 {
		t.Errorf("answered %d", st.Answered)
	}
}

// BenchmarkUnauthenticatedSIP is the CPU cost of one datagram without
// the token, by shape.
func BenchmarkUnauthenticatedSIP(b *testing.B) {
	s, err := New(Config{Listen: "127.0.0.1:5060", Token: testToken})
	if err != nil {
		b.Fatal(err)
	}
	from := netip.MustParseAddrPort("192.0.2.10:5060")
	for _, tc := range unauthenticatedSIP() {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.pkt)))
			b.ReportAllocs()
			for b.Loop() {
				s.handleUDP(tc.pkt, from, 5060, func([]byte) {})
			}
		})
	}
}

// tcpEcho asks for one echo over TCP from the local address from and
// reports whether it was answered.
func tcpEcho(port uint16, from string) error {
	d := net.Dialer{Timeout: time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp4", "127.0.0.1:"+itoa(int(port)))
	if err != nil {
		return err
	}
	defer c.Close()
	n := NewNonce()
	if err := WriteFrame(c, Encode(testToken, TypeEcho, n, time.Now(), RequestBody(port), EchoRequestLen)); err != nil {
		return err
	}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := ReadFrame(c)
	if err != nil {
		return err
	}
	if m, err := Decode(testToken, b); err != nil || m.Nonce != n {
		return fmt.Errorf("reply %v", err)
	}
	return nil
}

// TestTCPSlowloris: 20 addresses holding as many connections as they may
// open, each sending one byte and then nothing, leave a legitimate echo
// served.
func TestTCPSlowloris(t *testing.T) {
	ps := freePorts(t, 2)
	startServer(t, Config{}, ps[:1], ps[1])
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	var wg sync.WaitGroup
	for a := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(a+1))}}
			for range DefaultConfig.MaxSessionsPerSource + 4 {
				c, err := d.Dial("tcp4", "127.0.0.1:"+itoa(int(ps[1])))
				if err != nil {
					continue
				}
				c.Write([]byte{0})
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond)
	for _, from := range []string{"127.0.0.1", "127.0.2.1"} {
		if err := tcpEcho(ps[1], from); err != nil {
			t.Errorf("echo from %s while 20 addresses hold %d connections: %v", from, len(held), err)
		}
	}
}

// TestTCPSourceTableFill: connections from 300 addresses, each closed
// with a reset before sending anything, do not fill the source table:
// a new legitimate source is served.
func TestTCPSourceTableFill(t *testing.T) {
	ps := freePorts(t, 2)
	s := startServer(t, Config{MaxSources: 64}, ps[:1], ps[1])
	for a := range 300 {
		d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 3+byte(a/250), byte(a%250+1))}}
		c, err := d.Dial("tcp4", "127.0.0.1:"+itoa(int(ps[1])))
		if err != nil {
			continue
		}
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	time.Sleep(50 * time.Millisecond)
	if err := tcpEcho(ps[1], "127.0.9.1"); err != nil {
		t.Errorf("a new source after connect/reset from 300 addresses: %v (sources %d)", err, s.src.len())
	}
}

// TestNonceStore: a nonce is forgotten when its timestamp leaves the
// window, not later; one source's share is bounded apart from the store.
func TestNonceStore(t *testing.T) {
	const w = time.Minute
	t0 := time.Unix(1_700_000_000, 0)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for _, tc := range []struct {
		name string
		run  func(c *nonces) (got, want string)
	}{
		{"forgotten when its timestamp is stale", func(c *nonces) (string, string) {
			n := NewNonce()
			c.remember(n, a, t0.Add(-50*time.Second), t0) // stale at t0+10s
			c.remember(NewNonce(), a, t0, t0)
			c.expire(t0.Add(11 * time.Second))
			return fmt.Sprint(c.len()), "1"
		}},
		{"replay within the window", func(c *nonces) (string, string) {
			n := NewNonce()
			c.remember(n, a, t0, t0)
			return c.remember(n, b, t0, t0.Add(30*time.Second)), "replay"
		}},
		{"a source over its share", func(c *nonces) (string, string) {
			for range 4 {
				c.remember(NewNonce(), a, t0, t0)
			}
			return c.remember(NewNonce(), a, t0, t0) + "|" + c.remember(NewNonce(), b, t0, t0), "source full|"
		}},
		{"its share again once its nonces expire", func(c *nonces) (string, string) {
			for range 4 {
				c.remember(NewNonce(), a, t0, t0)
			}
			return c.remember(NewNonce(), a, t0.Add(w), t0.Add(w+time.Second)), ""
		}},
		{"the store full", func(c *nonces) (string, string) {
			for i := range 10 {
				c.remember(NewNonce(), netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), t0, t0)
			}
			return c.remember(NewNonce(), b, t0, t0), "full"
		}},
	} {
		c := newNonces(w, 10, 4)
		if got, want := tc.run(c); got != want {
			t.Errorf("%s: %q, want %q", tc.name, got, want)
		}
	}
}

// TestListenAddr: an address alone takes the default port.
func TestListenAddr(t *testing.T) {
	for _, tc := range [][2]string{
		{"198.51.100.10", "198.51.100.10:7478"},
		{"2001:db8::1", "[2001:db8::1]:7478"},
		{"[2001:db8::1]", "[2001:db8::1]:7478"},
		{"198.51.100.10:9000", "198.51.100.10:9000"},
		{":7000", ":7000"},
		{"nowhere", "nowhere"},
	} {
		if got := ListenAddr(tc[0]); got != tc[1] {
			t.Errorf("ListenAddr(%q) = %q, want %q", tc[0], got, tc[1])
		}
	}
}
