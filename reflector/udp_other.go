//go:build !linux

package reflector

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
)

// Outside Linux the reflector reads each port's socket from a goroutine of
// its own: simpler, heavier for wide ranges, and without replies from the
// reached address when bound to every address.
type udpSet struct {
	conns   []*net.UDPConn
	handler func([]byte, netip.AddrPort, uint16, func([]byte))
	wg      sync.WaitGroup
}

func listenUDPSet(host netip.Addr, ports []uint16, h func([]byte, netip.AddrPort, uint16, func([]byte))) (*udpSet, error) {
	s := &udpSet{handler: h}
	for _, p := range ports {
		c, err := net.ListenPacket("udp", net.JoinHostPort(hostString(host), strconv.Itoa(int(p))))
		if err != nil {
			s.close()
			return nil, err
		}
		s.conns = append(s.conns, c.(*net.UDPConn))
	}
	return s, nil
}

func (s *udpSet) serve() {
	for _, c := range s.conns {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			port := uint16(c.LocalAddr().(*net.UDPAddr).Port)
			buf := make([]byte, MaxSIPLen+1)
			for {
				n, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				if n > MaxSIPLen {
					continue
				}
				s.handler(buf[:n], from, port, func(b []byte) { c.WriteToUDPAddrPort(b, from) })
			}
		}()
	}
	s.wg.Wait()
}

func (s *udpSet) close() {
	for _, c := range s.conns {
		c.Close()
	}
}

func raiseFileLimit(int) error { return nil }

func fileLimit() int { return 1 << 30 }
