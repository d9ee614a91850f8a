// Package probetest starts the peers only the probe's tests talk to —
// coturn, TLS origins, a portolan reflector — inside netlab namespaces,
// and stops them when the test ends; squid, the test CA and the process
// handling are internal/peers'. Like net/http/httptest, it is for tests
// only.
package probetest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/internal/peers"
	"github.com/portolan/portolan/reflector"
)

// Network makes the probe's sockets inside a namespace.
type Network struct{ NS *netlab.NS }

// DialContext dials from inside the namespace.
func (n Network) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := n.NS.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, address)
		return
	})
	return c, err
}

// ListenPacket listens inside the namespace.
func (n Network) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	var c net.PacketConn
	err := n.NS.Do(func() (err error) {
		var lc net.ListenConfig
		c, err = lc.ListenPacket(ctx, network, address)
		return
	})
	return c, err
}

// TLSServer accepts TLS connections at addr inside ns with cert and the
// versions between min and max, completes each handshake and closes.
func TLSServer(t testing.TB, ns *netlab.NS, addr string, cert tls.Certificate, min, max uint16) {
	t.Helper()
	l, err := ns.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("tls server %s: %v", addr, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: min, MaxVersion: max}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil {
					io.Copy(io.Discard, tc)
				}
			}()
		}
	}()
}

// Reflector starts a reflector inside ns.
func Reflector(t testing.TB, ns *netlab.NS, cfg reflector.Config) *reflector.Server {
	t.Helper()
	srv, err := reflector.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Do(srv.Start); err != nil {
		t.Fatalf("reflector: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// Coturn starts turnserver as a STUN server at addr:port inside ns.
func Coturn(t testing.TB, ns *netlab.NS, addr netip.Addr, port int) *peers.Proc {
	t.Helper()
	peers.Need(t, "turnserver")
	dir := peers.Dir(t, "portolan-coturn-")
	log := filepath.Join(dir, "turn.log")
	conf := fmt.Sprintf(`listening-ip=%s
listening-port=%d
no-tls
no-dtls
no-cli
stun-only
fingerprint
pidfile=%s
userdb=%s
log-file=%s
simple-log
no-stdout-log
`, addr, port, filepath.Join(dir, "turnserver.pid"), filepath.Join(dir, "turndb"), log)
	cf := peers.WriteFile(t, dir, "turnserver.conf", []byte(conf))
	p := peers.Start(t, ns, dir, log, "turnserver", "-c", cf)
	// Wait until it answers a binding request.
	deadline := time.Now().Add(10 * time.Second)
	req := []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	for time.Now().Before(deadline) {
		c, err := ns.Dial("udp", netip.AddrPortFrom(addr, uint16(port)).String(), time.Second)
		if err == nil {
			c.Write(req)
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			buf := make([]byte, 512)
			n, err := c.Read(buf)
			c.Close()
			if err == nil && n >= 20 {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("coturn does not answer on %s:%d", addr, port)
	return nil
}
