package reflector

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"
)

// A TCP connection must deliver its request within headerTimeout of
// being accepted, and is done within sessionTimeout.
const (
	headerTimeout  = 2 * time.Second
	sessionTimeout = 5 * time.Second
)

// WriteFrame writes one message on a stream: its length in 2 bytes, then it.
func WriteFrame(w io.Writer, msg []byte) error {
	b := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(msg)), uint16(len(msg)))
	_, err := w.Write(append(b, msg...))
	return err
}

// ReadFrame reads one message written by WriteFrame.
func ReadFrame(r io.Reader) ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	l := int(binary.BigEndian.Uint16(n[:]))
	if l < MinLen || l > MaxLen {
		return nil, errors.New("frame length out of bounds")
	}
	b := make([]byte, l)
	_, err := io.ReadFull(r, b)
	return b, err
}

func (s *Server) serveTCP(l net.Listener) {
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		from := c.RemoteAddr().(*net.TCPAddr).AddrPort()
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		tc, evicted := s.conns.add(c, sourceKey(from.Addr()))
		s.st.evicted.Add(uint64(evicted))
		if tc == nil {
			s.st.refused.Add(1)
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.conns.done(tc)
			defer c.Close()
			s.handleTCP(tc, from, port)
		}()
	}
}

// handleTCP answers one echo or info request on a connection, then closes.
func (s *Server) handleTCP(tc *tcpConn, from netip.AddrPort, port uint16) {
	c := tc.c
	t0 := time.Now()
	c.SetDeadline(t0.Add(headerTimeout))
	pkt, err := ReadFrame(c)
	if err != nil {
		// Closed for room, or silent past the deadline: counted apart
		// from a client that sent something else.
		var ne net.Error
		switch {
		case s.conns.evicted(tc):
		case errors.As(err, &ne) && ne.Timeout():
			s.st.evicted.Add(1)
		default:
			s.st.badMAC.Add(1)
		}
		return
	}
	s.st.received.Add(1)
	s.st.bytesIn.Add(uint64(len(pkt)))
	msg, ok := s.accept(pkt, from, port)
	if !ok {
		return
	}
	s.conns.proven(tc)
	c.SetDeadline(t0.Add(sessionTimeout))
	var r []byte
	switch msg.Type {
	case TypeEcho:
		r = Encode(s.cfg.Token, TypeEchoReply, msg.Nonce, time.Now(), AppendObserved(nil, Observed{from, port}), 0)
	case TypeInfo:
		info := s.info
		info.Observed = from
		r = Encode(s.cfg.Token, TypeInfoReply, msg.Nonce, time.Now(), info.Encode(), 0)
	default:
		s.st.badMAC.Add(1)
		return
	}
	if b := (&budget{s, msg.Size}); !b.spend(len(r)) {
		return
	}
	if WriteFrame(c, r) == nil {
		s.st.answered.Add(1)
		s.st.bytesOut.Add(uint64(len(r)))
	}
}
