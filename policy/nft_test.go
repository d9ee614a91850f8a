package policy_test

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/nftables"
	"github.com/portolan/portolan/target/targettest"
)

// modelPins gives the test profiles' names documentation addresses.
const modelPins = `198.51.100.80 media.vendor.example
2001:db8:8::80 media.vendor.example
`

// modelInput builds the target input of a test profile of
// catalog/testdata/model for a site.
func modelInput(t *testing.T, slug string, sel resolve.Selection, site policy.Site) *target.Input {
	t.Helper()
	return targettest.PrepareFrom(t, "../catalog/testdata/model", []string{slug}, sel, modelPins, site, target.Options{})
}

// TestModelProfilesNft has nft check (nft -c) the rules generated for the
// test profiles of the new model fields, in gateway and host mode,
// standalone and --chain-only.
func TestModelProfilesNft(t *testing.T) {
	l := netlab.New(t)
	lan := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:1::/64")}
	sites := map[string]policy.Site{
		"gateway": {Mode: policy.Gateway, LANIf: "lan0", WANIf: "wan0", LAN: lan},
		"host":    {Mode: policy.Host, LAN: lan},
	}
	for _, slug := range []string{"8x8"} {
		for name, site := range sites {
			for _, chainOnly := range []bool{false, true} {
				in := modelInput(t, slug, resolve.Selection{AllFeatures: true, Params: []string{"sbc_address=192.0.2.10", "calls=50"}}, site)
				in.Options.ChainOnly = chainOnly
				if chainOnly {
					in.Options.Table = "inet filter"
				}
				var b bytes.Buffer
				if _, err := (nftables.Target{}).Write(&b, in); err != nil {
					t.Fatalf("%s/%s: %v", slug, name, err)
				}
				text := b.String()
				if chainOnly {
					text = "table inet filter {}\n" + text
				}
				if out, err := l.Router.RunInput([]byte(text), "nft", "-c", "-f", "-"); err != nil {
					t.Errorf("%s/%s chain-only=%v: nft -c: %v\n%s\n%s", slug, name, chainOnly, err, out, text)
				}
			}
		}
	}
}

// TestRoleToRoleKernel loads the host-mode rules of the test profile on
// the lab's LAN host, as the room system, with the router's LAN side
// (192.0.2.1) playing the site's SBC and another room, and has the kernel
// decide (issue 8 item 23): the room reaches other rooms on the pairing
// port and takes media from the SBC, nothing else between them passes.
func TestRoleToRoleKernel(t *testing.T) {
	l := netlab.New(t)
	site := policy.Site{Mode: policy.Host, LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:1::/64")}}
	in := modelInput(t, "8x8", resolve.Selection{Params: []string{"sbc_address=192.0.2.1", "calls=50"}}, site)
	var b bytes.Buffer
	if _, err := (nftables.Target{}).Write(&b, in); err != nil {
		t.Fatal(err)
	}
	if err := l.LAN.Nft(b.String()); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	tests := []struct {
		name     string
		proto    string
		from, to *netlab.NS
		src      netip.Addr
		dst      string
		want     bool
	}{
		{"pairing to another room", "tcp", l.LAN, l.Router, netlab.LANHost, "192.0.2.1:6970", true},
		{"pairing over IPv6", "udp", l.LAN, l.Router, netlab.LANHost6, "[2001:db8:1::1]:6970", true},
		{"another port to a room", "tcp", l.LAN, l.Router, netlab.LANHost, "192.0.2.1:6971", false},
		{"media from the SBC", "udp", l.Router, l.LAN, netlab.LANGateway, "192.0.2.10:20000", true},
		{"media from the SBC, last port", "udp", l.Router, l.LAN, netlab.LANGateway, "192.0.2.10:20999", true},
		{"media from the SBC, a port above", "udp", l.Router, l.LAN, netlab.LANGateway, "192.0.2.10:21000", false},
		{"media from another room (IPv6)", "udp", l.Router, l.LAN, netlab.LANGateway6, "[2001:db8:1::10]:20000", false},
		{"pairing into the room (outbound only)", "tcp", l.Router, l.LAN, netlab.LANGateway, "192.0.2.10:6970", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := passes(t, tt.proto, tt.from, tt.to, tt.src, netip.MustParseAddrPort(tt.dst)); got != tt.want {
				t.Errorf("%s %s → %s: passed %v, want %v", tt.proto, tt.src, tt.dst, got, tt.want)
			}
		})
	}
}

// passes sends one connection or datagram from src in ns from to dst,
// where ns to listens, and reports whether it arrived.
func passes(t *testing.T, proto string, from, to *netlab.NS, src netip.Addr, dst netip.AddrPort) bool {
	t.Helper()
	const wait = 700 * time.Millisecond
	token := []byte("portolan " + dst.String())
	switch proto {
	case "tcp":
		ln, err := to.Listen("tcp", dst.String())
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got := make(chan bool, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- false
				return
			}
			defer c.Close()
			buf := make([]byte, len(token))
			c.SetReadDeadline(time.Now().Add(wait))
			n, _ := c.Read(buf)
			got <- bytes.Equal(buf[:n], token)
		}()
		var c net.Conn
		err = from.Do(func() (err error) {
			d := net.Dialer{Timeout: wait, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
			c, err = d.Dial("tcp", dst.String())
			return err
		})
		if err != nil {
			return false
		}
		defer c.Close()
		c.Write(token)
		select {
		case ok := <-got:
			return ok
		case <-time.After(wait):
			return false
		}
	default:
		pc, err := to.ListenPacket("udp", dst.String())
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		var c *net.UDPConn
		if err := from.Do(func() (err error) {
			c, err = net.DialUDP("udp", &net.UDPAddr{IP: src.AsSlice()}, net.UDPAddrFromAddrPort(dst))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(token)
		buf := make([]byte, 64)
		pc.SetReadDeadline(time.Now().Add(wait))
		n, _, err := pc.ReadFrom(buf)
		return err == nil && bytes.Equal(buf[:n], token)
	}
}
