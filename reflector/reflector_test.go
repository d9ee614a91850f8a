package reflector

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/model"
)

var testToken = []byte("reflector-test-token")

// freePorts returns n ports free for both UDP and TCP on loopback now.
func freePorts(t *testing.T, n int) []uint16 {
	t.Helper()
	var out []uint16
	for len(out) < n {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		l, err := net.Listen("tcp4", "127.0.0.1:"+itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		out = append(out, uint16(p))
	}
	return out
}

func itoa(p int) string { return strconv.Itoa(p) }

func set(ports ...uint16) model.PortSet {
	var s model.PortSet
	for _, p := range ports {
		s = s.Add(model.PortRange{Lo: p, Hi: p})
	}
	return s
}

// startServer runs a reflector on loopback: control port ps[0], UDP ports
// ps[1:], TCP port tcp (0 for none).
func startServer(t *testing.T, cfg Config, ps []uint16, tcp uint16) *Server {
	t.Helper()
	cfg.Listen = "127.0.0.1:" + itoa(int(ps[0]))
	cfg.UDPPorts = set(ps[1:]...)
	if tcp != 0 {
		cfg.TCPPorts = set(tcp)
	}
	if cfg.Token == nil {
		cfg.Token = testToken
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// exchange sends msg to port and collects every datagram that comes back
// within wait.
func exchange(t *testing.T, c *net.UDPConn, port uint16, msg []byte, wait time.Duration) [][]byte {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(msg, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	deadline := time.Now().Add(wait)
	buf := make([]byte, 9000)
	for {
		c.SetReadDeadline(deadline)
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return out
		}
		out = append(out, append([]byte(nil), buf[:n]...))
	}
}

func client(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestInfoEchoDelay(t *testing.T) {
	t.Parallel()
	ps := freePorts(t, 4)
	s := startServer(t, Config{MaxDelay: 5 * time.Second}, ps[:3], ps[3])
	c := client(t)
	local := c.LocalAddr().(*net.UDPAddr).AddrPort()

	n := NewNonce()
	req := Encode(testToken, TypeInfo, n, time.Now(), RequestBody(ps[0]), InfoRequestLen)
	got := exchange(t, c, ps[0], req, 500*time.Millisecond)
	if len(got) != 1 {
		t.Fatalf("info: %d replies", len(got))
	}
	m, err := Decode(testToken, got[0])
	if err != nil || m.Type != TypeInfoReply || m.Nonce != n {
		t.Fatalf("info reply %v %v", m, err)
	}
	info, err := ParseInfo(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !info.UDP.Equal(set(ps[:3]...)) || !info.TCP.Equal(set(ps[0], ps[3])) || info.Observed != local || info.MaxDelay != 5*time.Second {
		t.Errorf("info = %+v", info)
	}

	for _, p := range ps[:3] {
		n := NewNonce()
		req := Encode(testToken, TypeEcho, n, time.Now(), RequestBody(p), EchoRequestLen)
		got := exchange(t, c, p, req, 300*time.Millisecond)
		if len(got) != 1 {
			t.Fatalf("echo on %d: %d replies", p, len(got))
		}
		if len(got[0]) > len(req) {
			t.Errorf("echo reply of %d bytes to a request of %d", len(got[0]), len(req))
		}
		m, err := Decode(testToken, got[0])
		if err != nil || m.Type != TypeEchoReply || m.Nonce != n {
			t.Fatalf("echo reply %v %v", m, err)
		}
		o, err := ParseObserved(m.Body)
		if err != nil || o.Source != local || o.Port != p {
			t.Errorf("observed %+v, want %s on %d", o, local, p)
		}
	}

	// Delay: an acknowledgement at once, the reply after the delay.
	n = NewNonce()
	t0 := time.Now()
	req = Encode(testToken, TypeDelay, n, time.Now(), DelayBody(ps[1], 700*time.Millisecond), DelayRequestLen)
	got = exchange(t, c, ps[1], req, 1500*time.Millisecond)
	if len(got) != 2 {
		t.Fatalf("delay: %d replies, want ack and reply", len(got))
	}
	if got, want := len(got[0])+len(got[1]), len(req); got > want {
		t.Errorf("delay replies %d bytes for a request of %d", got, want)
	}
	a, _ := Decode(testToken, got[0])
	b, _ := Decode(testToken, got[1])
	if a.Type != TypeDelayAck || b.Type != TypeDelayReply || b.Nonce != n {
		t.Errorf("delay replies %v then %v", a.Type, b.Type)
	}
	if d := b.Time.Sub(t0); d < 650*time.Millisecond {
		t.Errorf("delayed reply stamped %s after the request, want ≥ 700ms", d)
	}
	if s.Pending() != 0 {
		t.Errorf("%d pending after the reply", s.Pending())
	}

	// TCP echo.
	tc, err := net.Dial("tcp4", "127.0.0.1:"+itoa(int(ps[3])))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	n = NewNonce()
	req = Encode(testToken, TypeEcho, n, time.Now(), RequestBody(ps[3]), EchoRequestLen)
	WriteFrame(tc, req)
	tc.SetDeadline(time.Now().Add(2 * time.Second))
	rb, err := ReadFrame(tc)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := Decode(testToken, rb); err != nil || m.Nonce != n || len(rb) > len(req) {
		t.Errorf("tcp echo: %v %v (%d bytes for %d)", m.Type, err, len(rb), len(req))
	}
	if st := s.Stats(); st.BytesOut > st.BytesIn {
		t.Errorf("sent %d bytes for %d received", st.BytesOut, st.BytesIn)
	}
}

// TestWrongTokenGetsNothing: no message type, over no transport, is
// answered without the token.
func TestWrongTokenGetsNothing(t *testing.T) {
	t.Parallel()
	ps := freePorts(t, 3)
	s := startServer(t, Config{}, ps[:2], ps[2])
	c := client(t)
	wrong := []byte("not-the-reflector-token")
	for _, typ := range []Type{TypeInfo, TypeEcho, TypeDelay} {
		body := RequestBody(ps[1])
		if typ == TypeDelay {
			body = DelayBody(ps[1], 100*time.Millisecond)
		}
		req := Encode(wrong, typ, NewNonce(), time.Now(), body, InfoRequestLen)
		if got := exchange(t, c, ps[1], req, 300*time.Millisecond); len(got) != 0 {
			t.Errorf("%v with a wrong token: %d replies", typ, len(got))
		}
	}
	// A SIP request signed with the wrong token.
	sip := testInvite()
	SignSIPRequest(wrong, sip, NewNonce(), time.Now(), ps[1])
	sip.Set(HdrPad, strings.Repeat("x", 1500))
	if got := exchange(t, c, ps[1], sip.Bytes(), 300*time.Millisecond); len(got) != 0 {
		t.Errorf("SIP with a wrong token: %d replies", len(got))
	}
	// Garbage.
	if got := exchange(t, c, ps[0], bytes.Repeat([]byte{0xff}, 200), 200*time.Millisecond); len(got) != 0 {
		t.Errorf("garbage: %d replies", len(got))
	}
	// TCP.
	tc, err := net.Dial("tcp4", "127.0.0.1:"+itoa(int(ps[2])))
	if err != nil {
		t.Fatal(err)
	}
	WriteFrame(tc, Encode(wrong, TypeEcho, NewNonce(), time.Now(), RequestBody(ps[2]), EchoRequestLen))
	tc.SetDeadline(time.Now().Add(time.Second))
	if b, err := ReadFrame(tc); err == nil {
		t.Errorf("tcp with a wrong token answered %d bytes", len(b))
	}
	tc.Close()
	st := s.Stats()
	if st.Answered != 0 || st.BadMAC < 6 {
		t.Errorf("stats %+v: want nothing answered, 6 refused", st)
	}
}

// TestNoAmplification: a request that does not pay for its replies gets
// none; over many sizes the reflector never sends more than it received.
func TestNoAmplification(t *testing.T) {
	t.Parallel()
	ps := freePorts(t, 2)
	s := startServer(t, Config{Rate: 100000, Burst: 100000}, ps, 0)
	c := client(t)
	port := RequestBody(ps[1])
	for _, tc := range []struct {
		typ  Type
		body []byte
		size int
		want int
	}{
		{TypeEcho, port, 0, 0},                  // bare: 66 bytes, the reply needs 85
		{TypeEcho, port, EchoRequestLen - 1, 0}, // one byte short
		{TypeEcho, port, EchoRequestLen, 1},
		{TypeInfo, port, 0, 0},
		{TypeInfo, port, 400, 1},
		{TypeDelay, DelayBody(ps[1], 10*time.Millisecond), DelayReplyLen, 0}, // pays for one reply of two
		{TypeDelay, DelayBody(ps[1], 10*time.Millisecond), DelayRequestLen, 2},
	} {
		req := Encode(testToken, tc.typ, NewNonce(), time.Now(), tc.body, tc.size)
		got := exchange(t, c, ps[1], req, 300*time.Millisecond)
		if len(got) != tc.want {
			t.Errorf("%v of %d bytes: %d replies, want %d", tc.typ, len(req), len(got), tc.want)
		}
		sum := 0
		for _, g := range got {
			sum += len(g)
		}
		if sum > len(req) {
			t.Errorf("%v of %d bytes: %d bytes back", tc.typ, len(req), sum)
		}
	}
	// An unpadded SIP request gets no answer: the answer carries it back.
	sip := testInvite()
	SignSIPRequest(testToken, sip, NewNonce(), time.Now(), ps[1])
	if got := exchange(t, c, ps[1], sip.Bytes(), 300*time.Millisecond); len(got) != 0 {
		t.Errorf("unpadded SIP: %d replies", len(got))
	}
	st := s.Stats()
	if st.BytesOut > st.BytesIn || st.TooLarge < 5 {
		t.Errorf("stats %+v", st)
	}
}

// TestReplayAndStale: a nonce is answered once; an old timestamp never.
func TestReplayAndStale(t *testing.T) {
	t.Parallel()
	ps := freePorts(t, 2)
	s := startServer(t, Config{}, ps, 0)
	c := client(t)
	req := Encode(testToken, TypeEcho, NewNonce(), time.Now(), RequestBody(ps[1]), EchoRequestLen)
	if got := exchange(t, c, ps[1], req, 300*time.Millisecond); len(got) != 1 {
		t.Fatalf("first: %d replies", len(got))
	}
	if got := exchange(t, c, ps[1], req, 300*time.Millisecond); len(got) != 0 {
		t.Errorf("replayed: %d replies", len(got))
	}
	// A request aimed at one port is not answered on another.
	if got := exchange(t, c, ps[0], Encode(testToken, TypeEcho, NewNonce(), time.Now(), RequestBody(ps[1]), EchoRequestLen), 300*time.Millisecond); len(got) != 0 {
		t.Errorf("aimed at %d, sent to %d: %d replies", ps[1], ps[0], len(got))
	}
	for _, at := range []time.Time{time.Now().Add(-10 * time.Minute), time.Now().Add(10 * time.Minute)} {
		old := Encode(testToken, TypeEcho, NewNonce(), at, RequestBody(ps[1]), EchoRequestLen)
		if got := exchange(t, c, ps[1], old, 300*time.Millisecond); len(got) != 0 {
			t.Errorf("timestamp %s: %d replies", at, len(got))
		}
	}
	if st := s.Stats(); st.Replayed != 1 || st.Stale != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestRateLimitUnderFlood floods from one source (a bounded flood: 4,000
// valid requests as fast as they go) and counts the replies against the
// bucket: burst plus rate × time.
func TestRateLimitUnderFlood(t *testing.T) {
	t.Parallel()
	ps := freePorts(t, 2)
	const rate, burst = 200, 50
	s := startServer(t, Config{Rate: rate, Burst: burst}, ps, 0)
	c := client(t)
	c.SetReadBuffer(1 << 20)
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ps[1])
	// The replies and when the last came: the server answered nothing
	// after that, so its bucket cannot have filled for longer.
	type count struct {
		n    int
		last time.Time
	}
	replies := make(chan count, 1)
	go func() {
		var k count
		buf := make([]byte, 2048)
		for {
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
				replies <- k
				return
			}
			k.n, k.last = k.n+1, time.Now()
		}
	}()
	t0 := time.Now()
	const flood = 4000
	for range flood {
		c.WriteToUDPAddrPort(Encode(testToken, TypeEcho, NewNonce(), time.Now(), RequestBody(ps[1]), EchoRequestLen), dst)
	}
	k := <-replies
	got, elapsed := k.n, k.last.Sub(t0)
	// The bucket, made at the first request (after t0): the burst, and
	// the rate for as long as replies were sent; one more for rounding.
	max := burst + int(rate*elapsed.Seconds()) + 1
	if got > max || got < burst/2 {
		t.Errorf("%d replies to a flood of %d, the last %s after the first request; the bucket allows at most %d", got, flood, elapsed, max)
	}
	if st := s.Stats(); st.RateLimited == 0 || int(st.Answered) != got {
		t.Errorf("stats %+v, %d replies seen", st, got)
	}
	t.Logf("%d of %d answered in %s (bucket: %d + %d/s)", got, flood, elapsed, burst, rate)
}

// TestBounds: delays beyond the maximum, and pending replies beyond the
// per-source bound, are refused.
func TestBounds(t *testing.T) {
	t.Parallel()
	ps := freePorts(t, 2)
	s := startServer(t, Config{MaxDelay: time.Second, MaxPendingPerSource: 2}, ps, 0)
	c := client(t)
	req := Encode(testToken, TypeDelay, NewNonce(), time.Now(), DelayBody(ps[1], 2*time.Second), DelayRequestLen)
	if got := exchange(t, c, ps[1], req, 200*time.Millisecond); len(got) != 0 {
		t.Errorf("delay above the maximum: %d replies", len(got))
	}
	// Four delayed replies asked at once, two acknowledged; the replies
	// come 800 ms later, after the acknowledgements are counted.
	for range 3 {
		req := Encode(testToken, TypeDelay, NewNonce(), time.Now(), DelayBody(ps[1], 800*time.Millisecond), DelayRequestLen)
		c.WriteToUDPAddrPort(req, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ps[1]))
	}
	req = Encode(testToken, TypeDelay, NewNonce(), time.Now(), DelayBody(ps[1], 800*time.Millisecond), DelayRequestLen)
	if acks := len(exchange(t, c, ps[1], req, 300*time.Millisecond)); acks != 2 || s.Pending() != 2 {
		t.Errorf("%d acknowledged, %d pending; want 2 and 2", acks, s.Pending())
	}
}

// TestConfigErrors: what New refuses, with the flag to fix named.
func TestConfigErrors(t *testing.T) {
	var many []uint16
	for p := uint16(40001); p < 40400; p += 2 {
		many = append(many, p)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Listen: ":1", Token: []byte("short")}, "at least 12"},
		{Config{Listen: ":1", Token: testToken, UDPPorts: model.AllPorts(), MaxPorts: 1000}, "--max-ports"},
		{Config{Listen: ":1", Token: testToken, MaxSessions: -1}, "--max-sessions must not be negative"},
		{Config{Listen: ":1", Token: testToken, Rate: -5}, "--rate-limit must not be negative"},
		{Config{Listen: ":1", Token: testToken, MaxDelay: -time.Second}, "--max-delay must not be negative"},
		// 200 separate ports: an info reply could not tell them.
		{Config{Listen: ":1", Token: testToken, UDPPorts: set(many...)}, "merge them into fewer, wider ranges"},
		{Config{Listen: "nowhere", Token: testToken}, "--listen"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want %q", tc.cfg, err, tc.want)
		}
	}
	// As many ranges as fit are told: from the longest source address,
	// the info reply fits in what a probe pays for it.
	s, err := New(Config{Listen: ":1", Token: testToken, UDPPorts: set(many[:50]...)})
	if err != nil {
		t.Fatal(err)
	}
	info := s.info
	info.Observed = netip.MustParseAddrPort("[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535")
	if n := len(Encode(testToken, TypeInfoReply, NewNonce(), time.Now(), info.Encode(), 0)); n > InfoRequestLen {
		t.Errorf("info reply of %d bytes, more than the %d a probe pays", n, InfoRequestLen)
	}
}

// TestStartFails: a TCP port already taken makes Start fail, and return,
// with the UDP sockets it had opened closed again.
func TestStartFails(t *testing.T) {
	t.Parallel()
	ps := freePorts(t, 2)
	busy, err := net.Listen("tcp4", "127.0.0.1:"+itoa(int(ps[1])))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s, err := New(Config{Listen: "127.0.0.1:" + itoa(int(ps[0])), Token: testToken, TCPPorts: set(ps[1])})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Start() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "tcp 127.0.0.1:"+itoa(int(ps[1]))) {
			t.Errorf("Start: %v, want the busy TCP port named", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Start does not return when a TCP port is taken")
	}
	// The control port's UDP socket was closed: it can be bound again.
	c, err := net.ListenPacket("udp4", "127.0.0.1:"+itoa(int(ps[0])))
	if err != nil {
		t.Errorf("the UDP control port stays bound after the failed start: %v", err)
	} else {
		c.Close()
	}
}

// TestManyPorts answers on 3,000 ports at once.
func TestManyPorts(t *testing.T) {
	ctl := freePorts(t, 1)[0]
	// A block of ports high enough to be free, below the ephemeral range
	// start of most systems; skip ports in use.
	var ports []uint16
	for p := uint16(20000); len(ports) < 3000 && p < 30000; p++ {
		if c, err := net.ListenPacket("udp4", "127.0.0.1:"+itoa(int(p))); err == nil {
			c.Close()
			ports = append(ports, p)
		}
	}
	s := startServer(t, Config{Rate: 1e6, Burst: 1e6}, append([]uint16{ctl}, ports...), 0)
	c := client(t)
	c.SetReadBuffer(4 << 20)
	seen := map[uint16]bool{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			c.SetReadDeadline(time.Now().Add(time.Second))
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if _, err := Decode(testToken, buf[:n]); err == nil {
				seen[from.Port()] = true
			}
		}
	}()
	for _, p := range ports {
		c.WriteToUDPAddrPort(Encode(testToken, TypeEcho, NewNonce(), time.Now(), RequestBody(p), EchoRequestLen), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), p))
		if p%500 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	<-done
	if len(seen) != len(ports) {
		t.Errorf("%d of %d ports answered", len(seen), len(ports))
	}
	if s.UDPPorts().Len() != len(ports)+1 {
		t.Errorf("serves %d ports", s.UDPPorts().Len())
	}
}

func testInvite() *SIP {
	m := &SIP{StartLine: "INVITE sip:reflector@198.51.100.10:5060 SIP/2.0"}
	m.Headers = []Header{
		{"Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc;rport"},
		{"Max-Forwards", "70"},
		{"From", "<sip:portolan@192.0.2.10>;tag=1"},
		{"To", "<sip:reflector@198.51.100.10:5060>"},
		{"Call-ID", "abc@portolan.invalid"},
		{"CSeq", "1 INVITE"},
		{"Contact", "<sip:portolan@192.0.2.10:5060>"},
		{"Content-Type", "application/sdp"},
	}
	m.Body = []byte("v=0\r\no=portolan 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 5062 RTP/AVP 0\r\n")
	m.SetLength()
	return m
}

// TestSIPAnswer: a signed, padded INVITE is answered 603 with the request
// as it arrived in the body, signed, no larger than the request.
func TestSIPAnswer(t *testing.T) {
	t.Parallel()
	ps := freePorts(t, 2)
	startServer(t, Config{}, ps, 0)
	c := client(t)
	m := testInvite()
	n := NewNonce()
	SignSIPRequest(testToken, m, n, time.Now(), ps[1])
	m.Set(HdrPad, strings.Repeat("x", 900))
	req := m.Bytes()
	got := exchange(t, c, ps[1], req, 500*time.Millisecond)
	if len(got) != 1 {
		t.Fatalf("%d answers", len(got))
	}
	if len(got[0]) > len(req) {
		t.Errorf("answer of %d bytes to %d", len(got[0]), len(req))
	}
	resp, err := ParseSIP(got[0])
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status() != 603 || VerifySIPResponse(testToken, resp, n) != nil {
		t.Errorf("answer %q, verify %v", resp.StartLine, VerifySIPResponse(testToken, resp, n))
	}
	r, err := DecodeReceived(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := m.Without(HdrPad).Bytes(); !bytes.Equal(r.Raw, want) {
		t.Errorf("received:\n%s\nwant:\n%s", r.Raw, want)
	}
	if r.Source != c.LocalAddr().(*net.UDPAddr).AddrPort() || r.Port != ps[1] {
		t.Errorf("received from %s on %d", r.Source, r.Port)
	}
	// Tampered answers do not verify.
	resp.Body[len(resp.Body)-3] ^= 1
	if VerifySIPResponse(testToken, resp, n) == nil {
		t.Error("a tampered answer verified")
	}
}

// TestShards: two shards split the ports between them (every other one,
// the control port in shard 0), both tell the whole set, and each keeps
// half the rate.
func TestShards(t *testing.T) {
	t.Parallel()
	ps := freePorts(t, 7)
	cfg := Config{Listen: "127.0.0.1:" + itoa(int(ps[0])), UDPPorts: set(ps[1:]...), Token: testToken, Rate: 1000, Shards: 2}
	var srvs []*Server
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
		srvs = append(srvs, s)
	}
	if srvs[0].Own()+srvs[1].Own() != len(ps) {
		t.Errorf("shards open %d and %d ports, want %d in all", srvs[0].Own(), srvs[1].Own(), len(ps))
	}
	c := client(t)
	for _, p := range ps {
		if got := exchange(t, c, p, Encode(testToken, TypeEcho, NewNonce(), time.Now(), RequestBody(p), EchoRequestLen), 300*time.Millisecond); len(got) != 1 {
			t.Errorf("port %d: %d replies", p, len(got))
		}
	}
	got := exchange(t, c, ps[0], Encode(testToken, TypeInfo, NewNonce(), time.Now(), RequestBody(ps[0]), InfoRequestLen), 300*time.Millisecond)
	if len(got) != 1 {
		t.Fatalf("info from shard 0: %d replies", len(got))
	}
	m, _ := Decode(testToken, got[0])
	info, _ := ParseInfo(m.Body)
	if !info.UDP.Equal(set(ps...)) || info.Rate != 1000 {
		t.Errorf("info from shard 0: %+v", info)
	}
	if r := float64(srvs[1].src.rate); r != 500 {
		t.Errorf("shard 1 rate %v, want 500", r)
	}
	if _, err := New(Config{Listen: ":1", Token: testToken, Shard: 2, Shards: 2}); err == nil {
		t.Error("shard 2 of 2 accepted")
	}
}
