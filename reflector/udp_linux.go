//go:build linux

package reflector

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The reflector answers on every port of a range with one UDP socket per
// port, all watched by one epoll set and read by one goroutine.
//
// Why sockets and not an nftables redirect of the range to one socket:
// sockets need no firewall changes and no root on the reflector's host
// (above port 1024), leave the host's ruleset alone, answer from the very
// port the probe aimed at without conntrack in between, and put no cap on
// the flows one client may have open. Behind a redirect every flow of a
// client shares one reply tuple space on the one socket's port: one live
// flow per client source port (64,512 per client, measured), so a probe
// would have to spread a scan over tens of thousands of source ports,
// each a NAT binding on the site's firewall. The cost of sockets is one
// file descriptor and a few hundred bytes of kernel memory per port, and
// reading them through epoll keeps the Go side at one goroutine and one
// buffer, not one per port. Where one process may not open 50,001 files
// (a hard RLIMIT_NOFILE it cannot raise, as in containers without
// CAP_SYS_RESOURCE), portolan reflect runs shards: processes that each
// open every n-th port (Config.Shard).

type udpSock struct {
	fd     int
	port   uint16
	family int
	// pktinfo: bound to every address, the reply must leave from the
	// address the request reached.
	pktinfo bool
}

type udpSet struct {
	epfd    int
	wake    int // eventfd that stops serve
	socks   map[int32]*udpSock
	handler func(pkt []byte, from netip.AddrPort, port uint16, send func([]byte))

	mu     sync.RWMutex // held for reading while sending, for writing by close
	closed bool
	done   chan struct{}
}

// listenUDPSet opens one socket per port on host (invalid: every address).
func listenUDPSet(host netip.Addr, ports []uint16, h func([]byte, netip.AddrPort, uint16, func([]byte))) (*udpSet, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %v", err)
	}
	s := &udpSet{epfd: epfd, wake: -1, socks: map[int32]*udpSock{}, handler: h, done: make(chan struct{})}
	if s.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		s.closeFDs()
		return nil, fmt.Errorf("eventfd: %v", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, s.wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(s.wake)}); err != nil {
		s.closeFDs()
		return nil, err
	}
	for _, p := range ports {
		sk, err := openUDP(host, p)
		if err != nil {
			s.closeFDs()
			return nil, err
		}
		s.socks[int32(sk.fd)] = sk
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, sk.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(sk.fd)}); err != nil {
			s.closeFDs()
			return nil, fmt.Errorf("epoll add udp %d: %v", p, err)
		}
	}
	return s, nil
}

func openUDP(host netip.Addr, port uint16) (*udpSock, error) {
	family := unix.AF_INET6
	if host.IsValid() && host.Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil && !host.IsValid() && errors.Is(err, unix.EAFNOSUPPORT) {
		// No IPv6 here: every IPv4 address instead.
		family = unix.AF_INET
		fd, err = unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("udp socket: %v", err)
	}
	sk := &udpSock{fd: fd, port: port, family: family, pktinfo: !host.IsValid() || host.IsUnspecified()}
	fail := func(what string, err error) (*udpSock, error) {
		unix.Close(fd)
		if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
			return nil, fmt.Errorf("udp %d: %s: %v (too many open files: raise the limit with ulimit -n, or serve fewer ports)", port, what, err)
		}
		return nil, fmt.Errorf("udp %d: %s: %v", port, what, err)
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		a := [4]byte{}
		if host.IsValid() {
			a = host.As4()
		}
		sa = &unix.SockaddrInet4{Port: int(port), Addr: a}
		if sk.pktinfo {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
				return fail("IP_PKTINFO", err)
			}
		}
	} else {
		a := [16]byte{}
		v6only := 0
		if host.IsValid() {
			a = host.As16()
			if !host.IsUnspecified() {
				v6only = 1
			}
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			return fail("IPV6_V6ONLY", err)
		}
		sa = &unix.SockaddrInet6{Port: int(port), Addr: a}
		if sk.pktinfo {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
				return fail("IPV6_RECVPKTINFO", err)
			}
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	return sk, nil
}

// serve reads every socket until close.
func (s *udpSet) serve() {
	defer close(s.done)
	events := make([]unix.EpollEvent, 256)
	buf := make([]byte, MaxSIPLen+1)
	oob := make([]byte, 128)
	for {
		n, err := unix.EpollWait(s.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == s.wake {
				return
			}
			sk := s.socks[ev.Fd]
			if sk == nil {
				continue
			}
			// Drain a bounded number per wake-up, so that one busy port
			// cannot starve the others; level-triggered epoll comes back.
			for range 64 {
				n, oobn, _, from, err := unix.Recvmsg(sk.fd, buf, oob, unix.MSG_DONTWAIT)
				if err != nil {
					break
				}
				if n > MaxSIPLen {
					continue // truncated: more than anything we answer
				}
				src, ok := addrPortOf(from)
				if !ok {
					continue
				}
				var reply []byte
				if sk.pktinfo {
					reply = replyPktinfo(oob[:oobn])
				}
				s.handler(buf[:n], src, sk.port, s.sender(sk, from, reply))
			}
		}
	}
}

// sender returns the function that sends replies to to through sk, from
// the address the request reached.
func (s *udpSet) sender(sk *udpSock, to unix.Sockaddr, oob []byte) func([]byte) {
	return func(b []byte) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.closed {
			return
		}
		// A Sockaddr keeps its raw form inside and writes it on every
		// send: the acknowledgement and a delayed reply may go at once.
		unix.SendmsgN(sk.fd, b, oob, copySockaddr(to), unix.MSG_DONTWAIT)
	}
}

// replyPktinfo turns a received packet's destination into the control
// message that sends a reply from it.
func replyPktinfo(oob []byte) []byte {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= unix.SizeofInet4Pktinfo:
			var in unix.Inet4Pktinfo
			copy(in.Addr[:], m.Data[8:12])
			out := &unix.Inet4Pktinfo{Spec_dst: in.Addr}
			return unix.PktInfo4(out)
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= unix.SizeofInet6Pktinfo:
			out := &unix.Inet6Pktinfo{}
			copy(out.Addr[:], m.Data[:16])
			return unix.PktInfo6(out)
		}
	}
	return nil
}

func copySockaddr(sa unix.Sockaddr) unix.Sockaddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &unix.SockaddrInet4{Port: a.Port, Addr: a.Addr}
	case *unix.SockaddrInet6:
		return &unix.SockaddrInet6{Port: a.Port, ZoneId: a.ZoneId, Addr: a.Addr}
	}
	return sa
}

func addrPortOf(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)), true
	}
	return netip.AddrPort{}, false
}

// close stops serve and closes every socket; senders after it do nothing.
func (s *udpSet) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	var one = []byte{1, 0, 0, 0, 0, 0, 0, 0}
	unix.Write(s.wake, one)
	<-s.done
	s.closeFDs()
}

func (s *udpSet) closeFDs() {
	for fd := range s.socks {
		unix.Close(int(fd))
	}
	s.socks = nil
	if s.wake >= 0 {
		unix.Close(s.wake)
	}
	unix.Close(s.epfd)
}

// fileLimit is the most files this process may open (the hard limit).
func fileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Max > 1<<30 {
		return 1 << 30
	}
	return int(l.Max)
}

// raiseFileLimit lifts the open-file limit to at least n when it is
// lower: the soft limit up to the hard one, and the hard one too when the
// process may (root).
func raiseFileLimit(n int) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return nil
	}
	if l.Cur >= uint64(n) {
		return nil
	}
	want := syscall.Rlimit{Cur: uint64(n), Max: max(l.Max, uint64(n))}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
		return nil
	}
	if l.Max >= uint64(n) {
		l.Cur = uint64(n)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%d ports need %d open files, but the limit is %d (hard %d): raise it (ulimit -n %d, as root), serve fewer ports, or run shards (portolan reflect does by itself)", n-fileReserve, n, l.Cur, l.Max, n)
}
