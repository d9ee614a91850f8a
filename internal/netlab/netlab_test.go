package netlab

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestLabForwards checks that the LAN reaches the cloud through the router,
// over IPv4 and IPv6, TCP and UDP, and that an nftables drop on the router
// really stops a flow.
func TestLabForwards(t *testing.T) {
	l := New(t)
	extra := netip.MustParseAddr("203.0.113.7")
	if err := l.AddCloudAddr(extra); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"198.51.100.10:8080", "[2001:db8:2::10]:8080", "203.0.113.7:8080"} {
		ln, err := l.Cloud.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err == nil {
				io.WriteString(c, "hello")
				c.Close()
			}
		}()
		c, err := l.LAN.Dial("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("dial %s from the lan: %v", addr, err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		ln.Close()
		if string(b) != "hello" {
			t.Errorf("%s: read %q", addr, b)
		}
	}

	pc, err := l.Cloud.ListenPacket("udp", "198.51.100.10:5060")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	send := func() bool {
		c, err := l.LAN.Dial("udp", "198.51.100.10:5060", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("ping"))
		pc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 16)
		n, _, err := pc.ReadFrom(buf)
		return err == nil && string(buf[:n]) == "ping"
	}
	if !send() {
		t.Fatal("udp datagram did not arrive before any rule")
	}
	if err := l.Router.Nft("table inet t {\n chain f {\n  type filter hook forward priority 0;\n  udp dport 5060 drop\n }\n}\n"); err != nil {
		t.Fatal(err)
	}
	if send() {
		t.Error("udp datagram arrived through a drop rule")
	}
	if _, err := l.LAN.Dial("tcp", net.JoinHostPort("198.51.100.10", "1"), time.Second); err == nil {
		t.Error("connected to a closed port")
	}
}
