package reflector

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portolan/portolan/model"
)

// Version is the reflector protocol's version, told in Info.
const Version = "1"

// MinTokenLen is the shortest token a reflector accepts.
const MinTokenLen = 12

// Config is what a reflector serves and the bounds it keeps. Zero fields
// take the defaults of DefaultConfig.
type Config struct {
	// Listen is HOST:PORT. HOST may be empty or "::" (every address, IPv4
	// and IPv6), "0.0.0.0" (every IPv4 address) or one address; PORT is
	// the control port, UDP and TCP, which also answers like any other.
	Listen string
	// UDPPorts are the further UDP ports to answer on; TCPPorts the TCP
	// ports to accept echo connections on.
	UDPPorts, TCPPorts model.PortSet
	Token              []byte

	// Rate is how many replies per second one source gets, Burst how many
	// at once. A source is an IPv4 address or an IPv6 /64.
	Rate  float64
	Burst int
	// MaxSources bounds the sources remembered at once.
	MaxSources int
	// MaxDelay is the longest delay a TypeDelay request may ask.
	MaxDelay time.Duration
	// MaxPending bounds the delayed replies waiting, in all and per source.
	MaxPending, MaxPendingPerSource int
	// MaxPorts bounds how many ports (UDP and TCP) the reflector opens.
	MaxPorts int
	// MaxSessions bounds open TCP connections, in all and per source.
	MaxSessions, MaxSessionsPerSource int
	// Window is how far a request's timestamp may be from the
	// reflector's clock; MaxNonces bounds the nonces remembered against
	// replay within it, in all, and MaxNoncesPerSource for one source
	// (default MaxNonces/16), so that one source cannot fill the store
	// for the others. A nonce is remembered until its own timestamp
	// leaves the window.
	Window                        time.Duration
	MaxNonces, MaxNoncesPerSource int

	// Shard and Shards split one reflector over several processes when
	// one process may not open a socket per port (RLIMIT_NOFILE): shard i
	// of n answers the UDP ports p with p mod n = i, shard 0 also the
	// control port and TCP, and each shard keeps 1/n of the rate, burst
	// and bounds, so that the shards together keep the configured ones.
	// Zero Shards means one process.
	Shard, Shards int
}

// DefaultConfig holds the defaults.
var DefaultConfig = Config{
	Rate: 1000, Burst: 1000, MaxSources: 4096,
	MaxDelay: 10 * time.Minute, MaxPending: 4096, MaxPendingPerSource: 64,
	MaxPorts: 65535, MaxSessions: 256, MaxSessionsPerSource: 16,
	Window: 2 * time.Minute, MaxNonces: 1 << 20,
}

func (c *Config) defaults() {
	d := DefaultConfig
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setI := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setF(&c.Rate, d.Rate)
	setI(&c.Burst, max(d.Burst, int(c.Rate)))
	setI(&c.MaxSources, d.MaxSources)
	if c.MaxDelay == 0 {
		c.MaxDelay = d.MaxDelay
	}
	setI(&c.MaxPending, d.MaxPending)
	setI(&c.MaxPendingPerSource, d.MaxPendingPerSource)
	setI(&c.MaxPorts, d.MaxPorts)
	setI(&c.MaxSessions, d.MaxSessions)
	setI(&c.MaxSessionsPerSource, d.MaxSessionsPerSource)
	if c.Window == 0 {
		c.Window = d.Window
	}
	setI(&c.MaxNonces, d.MaxNonces)
	setI(&c.MaxNoncesPerSource, max(1, c.MaxNonces/16))
}

// Stats count what a reflector did; every field only grows.
type Stats struct {
	Received    uint64 // datagrams and TCP requests
	Answered    uint64 // replies sent
	BytesIn     uint64
	BytesOut    uint64
	BadMAC      uint64 // not proving the token, or not a reflector message
	Stale       uint64 // timestamp outside the window
	Replayed    uint64 // nonce seen before
	RateLimited uint64
	TooLarge    uint64 // a reply would have been larger than its request
	Refused     uint64 // a bound was reached (pending, sessions, sources, nonces)
	SIP         uint64 // SIP requests answered
	// SIPACK counts the signed ACKs probes send after a final answer:
	// proven and not answered, neither a request nor an attack.
	SIPACK uint64
	// Evicted counts TCP connections closed before they proved the
	// token: silent past the deadline, or closed to make room for new
	// ones (slow or silent clients).
	Evicted uint64
}

type counters struct {
	received, answered, bytesIn, bytesOut, badMAC, stale, replayed,
	rateLimited, tooLarge, refused, sip, sipACK, evicted atomic.Uint64
}

// Server is a running reflector.
type Server struct {
	cfg     Config
	host    netip.Addr
	ctl     uint16
	udp     model.PortSet // every UDP port of the reflector, control port included
	own     []uint16      // the UDP ports this shard opens
	info    Info
	src     *sources
	nonces  *nonces
	pending atomic.Int64
	// pendingMax is this shard's share of MaxPending.
	pendingMax int
	st         counters
	conns      *tcpConns

	mu     sync.Mutex
	closed bool
	set    *udpSet
	tcp    []net.Listener
	wg     sync.WaitGroup
	timers map[*time.Timer]struct{}
}

// New checks cfg and returns a server; Start opens its sockets.
func New(cfg Config) (*Server, error) {
	for _, l := range []struct {
		flag string
		v    float64
	}{
		{"--rate-limit", cfg.Rate}, {"--burst", float64(cfg.Burst)}, {"--max-sources", float64(cfg.MaxSources)},
		{"--max-delay", float64(cfg.MaxDelay)}, {"--max-pending", float64(cfg.MaxPending)},
		{"--max-pending-per-source", float64(cfg.MaxPendingPerSource)}, {"--max-ports", float64(cfg.MaxPorts)},
		{"--max-sessions", float64(cfg.MaxSessions)}, {"max sessions per source", float64(cfg.MaxSessionsPerSource)},
		{"window", float64(cfg.Window)}, {"max nonces", float64(cfg.MaxNonces)}, {"max nonces per source", float64(cfg.MaxNoncesPerSource)},
	} {
		if l.v < 0 {
			return nil, fmt.Errorf("%s must not be negative", l.flag)
		}
	}
	cfg.defaults()
	if len(cfg.Token) < MinTokenLen {
		return nil, fmt.Errorf("the token must have at least %d characters (make one with: openssl rand -hex 16)", MinTokenLen)
	}
	cfg.Listen = ListenAddr(cfg.Listen)
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %v (write HOST:PORT or an address alone, e.g. :%d or 198.51.100.10)", cfg.Listen, err, DefaultPort)
	}
	s := &Server{cfg: cfg, timers: map[*time.Timer]struct{}{}}
	if host != "" {
		if s.host, err = netip.ParseAddr(host); err != nil || s.host.Zone() != "" {
			return nil, fmt.Errorf("--listen %q: %q is not an IP address", cfg.Listen, host)
		}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return nil, fmt.Errorf("--listen %q: %q is not a port (1-65535)", cfg.Listen, port)
	}
	s.ctl = uint16(p)
	s.udp = cfg.UDPPorts.Add(model.PortRange{Lo: s.ctl, Hi: s.ctl})
	if n := s.udp.Len() + cfg.TCPPorts.Len(); n > cfg.MaxPorts {
		return nil, fmt.Errorf("%d ports asked, more than the %d allowed (--max-ports)", n, cfg.MaxPorts)
	}
	n := max(1, cfg.Shards)
	if cfg.Shard < 0 || cfg.Shard >= n {
		return nil, fmt.Errorf("shard %d of %d", cfg.Shard, n)
	}
	for _, r := range s.udp.Ranges() {
		for p := int(r.Lo); p <= int(r.Hi); p++ {
			if p == int(s.ctl) && cfg.Shard == 0 || p != int(s.ctl) && p%n == cfg.Shard {
				s.own = append(s.own, uint16(p))
			}
		}
	}
	share := func(v int) int { return max(1, v/n) }
	s.src = newSources(cfg.Rate/float64(n), share(cfg.Burst), share(cfg.MaxSources))
	s.nonces = newNonces(cfg.Window, share(cfg.MaxNonces), share(cfg.MaxNoncesPerSource))
	s.conns = newTCPConns(cfg.MaxSessions, cfg.MaxSessionsPerSource)
	s.pendingMax = share(cfg.MaxPending)
	s.info = Info{Version: Version, UDP: s.udp, TCP: s.TCPPorts(), Rate: cfg.Rate, Burst: cfg.Burst, MaxDelay: cfg.MaxDelay}
	// The info reply must fit in what a probe pays for it, from any
	// source address, or the reflector would never tell what it serves.
	longest := s.info
	longest.Observed = netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")
	if n := HeaderLen + len(longest.Encode()) + MACLen; n > InfoRequestLen {
		return nil, fmt.Errorf("--udp-ports and --tcp-ports: %d ranges are too many to tell a probe in one reply; merge them into fewer, wider ranges",
			len(s.udp.Ranges())+len(s.info.TCP.Ranges()))
	}
	return s, nil
}

// ListenAddr completes a listen address: an address alone (IPv6 with or
// without brackets) takes DefaultPort; anything else is returned as is.
func ListenAddr(s string) string {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil && a.Zone() == "" {
		return net.JoinHostPort(a.String(), strconv.Itoa(DefaultPort))
	}
	return s
}

// Addr is the control address the server listens on, HOST:PORT.
func (s *Server) Addr() string { return s.cfg.Listen }

// NewToken returns a random token, 32 hex digits.
func NewToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Start opens every socket and starts answering. The sockets belong to
// the network namespace of the calling thread.
func (s *Server) Start() error {
	tcp := s.TCPPorts()
	if s.cfg.Shard != 0 {
		tcp = model.PortSet{}
	}
	if err := raiseFileLimit(len(s.own) + tcp.Len() + fileReserve); err != nil {
		return err
	}
	set, err := listenUDPSet(s.host, s.own, s.handleUDP)
	if err != nil {
		return err
	}
	s.set = set
	// Served from now on: Close, also on a failure below, waits for it.
	s.wg.Add(1)
	go func() { defer s.wg.Done(); set.serve() }()
	// The control port takes TCP too, so that a probe behind a firewall
	// that blocks UDP still learns what the reflector serves.
	for _, r := range tcp.Ranges() {
		for p := int(r.Lo); p <= int(r.Hi); p++ {
			addr := net.JoinHostPort(hostString(s.host), strconv.Itoa(p))
			l, err := net.Listen(tcpNetwork(s.host), addr)
			if err != nil {
				s.Close()
				return fmt.Errorf("tcp %s: %v", addr, err)
			}
			s.tcp = append(s.tcp, l)
		}
	}
	for _, l := range s.tcp {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.serveTCP(l) }()
	}
	return nil
}

func hostString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func tcpNetwork(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "tcp"
	case a.Is4():
		return "tcp4"
	}
	return "tcp6"
}

// Close stops the server: sockets closed, pending replies dropped.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for t := range s.timers {
		if t.Stop() {
			s.pending.Add(-1)
		}
	}
	s.mu.Unlock()
	for _, l := range s.tcp {
		l.Close()
	}
	if s.set != nil {
		s.set.close()
	}
	s.wg.Wait()
	return nil
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	return Stats{
		Received: s.st.received.Load(), Answered: s.st.answered.Load(),
		BytesIn: s.st.bytesIn.Load(), BytesOut: s.st.bytesOut.Load(),
		BadMAC: s.st.badMAC.Load(), Stale: s.st.stale.Load(), Replayed: s.st.replayed.Load(),
		RateLimited: s.st.rateLimited.Load(), TooLarge: s.st.tooLarge.Load(),
		Refused: s.st.refused.Load(), SIP: s.st.sip.Load(),
		SIPACK: s.st.sipACK.Load(), Evicted: s.st.evicted.Load(),
	}
}

// UDPPorts returns every UDP port the reflector answers on (all shards).
func (s *Server) UDPPorts() model.PortSet { return s.udp }

// Own returns how many UDP ports this shard opens.
func (s *Server) Own() int { return len(s.own) }

// FileLimit is how many files one process may open here, the hard
// limit: what decides the shards.
func FileLimit() int { return fileLimit() }

// fileReserve is the file descriptors kept free beside the sockets.
const fileReserve = 64

// ShardsFor returns how many processes it takes to open a socket for
// each of ports (UDP and TCP) under this process's open-file limit, which
// it first raises as far as it may.
func ShardsFor(ports int) int {
	if raiseFileLimit(ports+fileReserve) == nil {
		return 1
	}
	per := fileLimit() - fileReserve
	if per < 1 {
		return 1
	}
	return (ports + per - 1) / per
}

// TCPPorts returns every TCP port the server accepts on, control port
// included.
func (s *Server) TCPPorts() model.PortSet {
	return s.cfg.TCPPorts.Add(model.PortRange{Lo: s.ctl, Hi: s.ctl})
}

// Pending returns the number of delayed replies waiting.
func (s *Server) Pending() int { return int(s.pending.Load()) }

// sourceKey is what rate limits count by: an IPv4 address or an IPv6 /64.
func sourceKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// budget is what a request has paid for its replies.
type budget struct {
	s    *Server
	left int
}

// spend reports whether a reply of n bytes still fits, and spends it.
func (b *budget) spend(n int) bool {
	if n > b.left {
		b.s.st.tooLarge.Add(1)
		return false
	}
	b.left -= n
	return true
}

// handleUDP answers one datagram that reached port from the source from;
// send sends a reply back the way it came.
func (s *Server) handleUDP(pkt []byte, from netip.AddrPort, port uint16, send func([]byte)) {
	s.st.received.Add(1)
	s.st.bytesIn.Add(uint64(len(pkt)))
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	out := func(b []byte) {
		send(b)
		s.st.answered.Add(1)
		s.st.bytesOut.Add(uint64(len(b)))
	}
	if !IsMessage(pkt) {
		if r := s.answerSIP(pkt, from, port); r != nil {
			out(r)
		}
		return
	}
	msg, ok := s.accept(pkt, from, port)
	if !ok {
		return
	}
	b := &budget{s, msg.Size}
	switch msg.Type {
	case TypeInfo:
		info := s.info
		info.Observed = from
		if r := Encode(s.cfg.Token, TypeInfoReply, msg.Nonce, time.Now(), info.Encode(), 0); b.spend(len(r)) {
			out(r)
		}
	case TypeEcho:
		body := AppendObserved(nil, Observed{from, port})
		if r := Encode(s.cfg.Token, TypeEchoReply, msg.Nonce, time.Now(), body, 0); b.spend(len(r)) {
			out(r)
		}
	case TypeDelay:
		d, err := ParseDelay(msg.Body)
		if err != nil || d > s.cfg.MaxDelay {
			s.st.refused.Add(1)
			return
		}
		body := append(AppendObserved(nil, Observed{from, port}), msg.Body[2:6]...)
		ack := Encode(s.cfg.Token, TypeDelayAck, msg.Nonce, time.Now(), body, 0)
		if !b.spend(len(ack)) || !b.spend(DelayReplyLen) {
			return
		}
		nonce := msg.Nonce
		if !s.schedule(d, from.Addr(), func() { out(Encode(s.cfg.Token, TypeDelayReply, nonce, time.Now(), body, 0)) }) {
			return
		}
		out(ack)
	default:
		s.st.badMAC.Add(1)
	}
}

// accept decodes and checks a request: token, the port it was aimed at
// (so that a nonce is good on one port only), then admit.
func (s *Server) accept(pkt []byte, from netip.AddrPort, port uint16) (Message, bool) {
	msg, err := Decode(s.cfg.Token, pkt)
	if err != nil || msg.Type%2 == 0 {
		s.st.badMAC.Add(1)
		return msg, false
	}
	if aimed, err := AimedPort(msg.Body); err != nil || aimed != port {
		s.st.badMAC.Add(1)
		return msg, false
	}
	return msg, s.admit(msg.Nonce, msg.Time, from.Addr())
}

// admit decides on a request that proved the token: its timestamp within
// the window, then the source's rate, and only then its nonce stored, so
// that a source over its rate stores nothing; a source's nonces are
// bounded apart from the others'.
func (s *Server) admit(nonce [16]byte, at time.Time, from netip.Addr) bool {
	now := time.Now()
	if s.nonces.stale(at, now) {
		s.st.stale.Add(1)
		return false
	}
	// A replay (its source may be spoofed) spends no one's rate.
	if s.nonces.has(nonce) {
		s.st.replayed.Add(1)
		return false
	}
	key := sourceKey(from)
	if !s.src.allow(key, 1) {
		s.st.rateLimited.Add(1)
		return false
	}
	switch s.nonces.remember(nonce, key, at, now) {
	case "":
		return true
	case "replay":
		s.st.replayed.Add(1)
	default:
		s.st.refused.Add(1)
	}
	return false
}

// schedule runs fn after d, unless the bounds on pending replies are
// reached or the server closes first.
func (s *Server) schedule(d time.Duration, from netip.Addr, fn func()) bool {
	key := sourceKey(from)
	if s.pending.Add(1) > int64(s.pendingMax) {
		s.pending.Add(-1)
		s.st.refused.Add(1)
		return false
	}
	if !s.src.addPending(key, s.cfg.MaxPendingPerSource) {
		s.pending.Add(-1)
		s.st.refused.Add(1)
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.pending.Add(-1)
		s.src.donePending(key)
		return false
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		closed := s.closed
		delete(s.timers, t)
		s.mu.Unlock()
		if !closed {
			fn()
		}
		s.pending.Add(-1)
		s.src.donePending(key)
	})
	s.timers[t] = struct{}{}
	return true
}

// answerSIP answers a SIP request that proves the token with what
// arrived: a response whose body carries the request as received. It
// returns nil for anything else. The proof is checked before the
// datagram is parsed. A signed ACK (a probe's, after the 603) is counted
// apart and not answered.
func (s *Server) answerSIP(pkt []byte, from netip.AddrPort, port uint16) []byte {
	auth, method, err := VerifySIPDatagram(s.cfg.Token, pkt)
	if err != nil || auth.Port != port {
		s.st.badMAC.Add(1)
		return nil
	}
	if method == "ACK" {
		s.st.sipACK.Add(1)
		return nil
	}
	req, err := ParseSIP(pkt)
	if err != nil || req.Method() == "" {
		s.st.badMAC.Add(1)
		return nil
	}
	if !s.admit(auth.Nonce, auth.Time, from.Addr()) {
		return nil
	}
	resp := BuildSIPAnswer(s.cfg.Token, req, from, port, auth.Nonce, time.Now())
	out := resp.Bytes()
	b := &budget{s, len(pkt)}
	if !b.spend(len(out)) {
		return nil
	}
	s.st.sip.Add(1)
	return out
}

// BuildSIPAnswer builds the reflector's answer to a SIP request: 603
// Decline to an INVITE (a final answer ends the transaction at once, no
// dialog to remember), 200 OK to anything else; its body carries the
// request as it arrived. Probes use it to size their padding.
func BuildSIPAnswer(token []byte, req *SIP, from netip.AddrPort, port uint16, nonce [16]byte, now time.Time) *SIP {
	status := "200 OK"
	if req.Method() == "INVITE" {
		status = "603 Decline"
	}
	resp := &SIP{StartLine: "SIP/2.0 " + status}
	for _, v := range req.All("Via") {
		resp.Headers = append(resp.Headers, Header{"Via", v})
	}
	to := req.Get("To")
	if !containsParam(to, "tag") {
		to += ";tag=" + hex.EncodeToString(nonce[:4])
	}
	resp.Headers = append(resp.Headers,
		Header{"From", req.Get("From")},
		Header{"To", to},
		Header{"Call-ID", req.Get("Call-ID")},
		Header{"CSeq", req.Get("CSeq")},
		Header{"Server", "portolan-reflector/" + Version},
		Header{"Content-Type", ReceivedType},
	)
	resp.Body = EncodeReceived(Received{Source: from, Port: port, Raw: req.Without(HdrPad).Bytes()})
	resp.SetLength()
	SignSIPResponse(token, resp, nonce, now)
	return resp
}

func containsParam(v, name string) bool {
	for i := 0; i+len(name)+1 < len(v); i++ {
		if v[i] == ';' && v[i+1:i+1+len(name)] == name {
			return true
		}
	}
	return false
}
