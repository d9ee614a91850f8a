// Package netlab builds small networks of Linux network namespaces for
// tests: a site's LAN, its router and "the internet" (cloud), joined by veth
// pairs and addressed from the documentation ranges, so that real packets
// cross a real kernel's firewall and NAT.
//
//	lan  eth0 192.0.2.10/24  2001:db8:1::10/64
//	      │
//	router lan0 192.0.2.1/24  2001:db8:1::1/64   (forwarding on)
//	       wan0 198.51.100.1/24 2001:db8:2::1/64
//	      │
//	cloud eth0 198.51.100.10/24 2001:db8:2::10/64 (more with AddCloudAddr)
//
// Every test gets namespaces of its own, named uniquely, and removes them
// when it ends. It needs root and iproute2; without them the test is
// skipped, or fails under CI=true.
package netlab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/portolan/portolan/internal/testenv"
)

// Documentation addresses of the lab.
var (
	LANHost    = netip.MustParseAddr("192.0.2.10")
	LANGateway = netip.MustParseAddr("192.0.2.1")
	LANNet     = netip.MustParsePrefix("192.0.2.0/24")
	WANRouter  = netip.MustParseAddr("198.51.100.1")
	CloudHost  = netip.MustParseAddr("198.51.100.10")
	CloudNet   = netip.MustParsePrefix("198.51.100.0/24")

	LANHost6    = netip.MustParseAddr("2001:db8:1::10")
	LANGateway6 = netip.MustParseAddr("2001:db8:1::1")
	LANNet6     = netip.MustParsePrefix("2001:db8:1::/64")
	WANRouter6  = netip.MustParseAddr("2001:db8:2::1")
	CloudHost6  = netip.MustParseAddr("2001:db8:2::10")
	CloudNet6   = netip.MustParsePrefix("2001:db8:2::/64")
)

// Interface names inside the namespaces.
const (
	RouterLANIf = "lan0"
	RouterWANIf = "wan0"
	HostIf      = "eth0"
)

// Lab is three namespaces: LAN, Router, Cloud.
type Lab struct {
	ID                 string
	LAN, Router, Cloud *NS
}

// NS is one network namespace.
type NS struct {
	Name string
}

// Available reports why labs cannot be built here, or "" when they can.
func Available() string {
	if os.Geteuid() != 0 {
		return "network namespaces need root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "iproute2 (ip) is not installed"
	}
	return ""
}

// New builds a lab and removes it when the test ends.
func New(t testing.TB) *Lab {
	t.Helper()
	if why := Available(); why != "" {
		testenv.SkipOrFail(t, "%s", why)
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := "pl" + hex.EncodeToString(b)
	l := &Lab{ID: id, LAN: &NS{id + "-lan"}, Router: &NS{id + "-rtr"}, Cloud: &NS{id + "-cld"}}
	t.Cleanup(l.Close)
	if err := l.build(); err != nil {
		t.Fatalf("netlab: %v", err)
	}
	return l
}

// Close removes the lab's namespaces; everything in them goes too.
func (l *Lab) Close() {
	for _, ns := range []*NS{l.LAN, l.Router, l.Cloud} {
		exec.Command("ip", "netns", "del", ns.Name).Run()
	}
}

func (l *Lab) build() error {
	for _, ns := range []*NS{l.LAN, l.Router, l.Cloud} {
		if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
			return fmt.Errorf("ip netns add %s: %v: %s", ns.Name, err, out)
		}
		// No duplicate address detection: addresses are usable at once.
		for _, k := range []string{"net.ipv6.conf.default.accept_dad", "net.ipv6.conf.all.accept_dad"} {
			if err := ns.Sysctl(k, "0"); err != nil {
				return err
			}
		}
	}
	r, lan, cloud := l.Router.Name, l.LAN.Name, l.Cloud.Name
	steps := [][]string{
		{"-n", r, "link", "add", RouterLANIf, "type", "veth", "peer", "name", HostIf, "netns", lan},
		{"-n", r, "link", "add", RouterWANIf, "type", "veth", "peer", "name", HostIf, "netns", cloud},
	}
	for _, ns := range []string{lan, r, cloud} {
		steps = append(steps, []string{"-n", ns, "link", "set", "lo", "up"})
	}
	steps = append(steps,
		[]string{"-n", r, "addr", "add", "192.0.2.1/24", "dev", RouterLANIf},
		[]string{"-n", r, "addr", "add", "2001:db8:1::1/64", "dev", RouterLANIf, "nodad"},
		[]string{"-n", r, "addr", "add", "198.51.100.1/24", "dev", RouterWANIf},
		[]string{"-n", r, "addr", "add", "2001:db8:2::1/64", "dev", RouterWANIf, "nodad"},
		[]string{"-n", r, "link", "set", RouterLANIf, "up"},
		[]string{"-n", r, "link", "set", RouterWANIf, "up"},
		[]string{"-n", lan, "addr", "add", "192.0.2.10/24", "dev", HostIf},
		[]string{"-n", lan, "addr", "add", "2001:db8:1::10/64", "dev", HostIf, "nodad"},
		[]string{"-n", lan, "link", "set", HostIf, "up"},
		[]string{"-n", lan, "route", "add", "default", "via", "192.0.2.1"},
		[]string{"-n", lan, "-6", "route", "add", "default", "via", "2001:db8:1::1"},
		[]string{"-n", cloud, "addr", "add", "198.51.100.10/24", "dev", HostIf},
		[]string{"-n", cloud, "addr", "add", "2001:db8:2::10/64", "dev", HostIf, "nodad"},
		[]string{"-n", cloud, "link", "set", HostIf, "up"},
		[]string{"-n", cloud, "route", "add", "default", "via", "198.51.100.1"},
		[]string{"-n", cloud, "-6", "route", "add", "default", "via", "2001:db8:2::1"},
	)
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	if err := l.Router.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
		return err
	}
	return l.Router.Sysctl("net.ipv6.conf.all.forwarding", "1")
}

// AddCloudAddr gives the cloud another address, reachable from the LAN
// through the router: for "internet" hosts beyond 198.51.100.0/24 (use
// 203.0.113.0/24 or 2001:db8:3::/64). The router learns the route.
func (l *Lab) AddCloudAddr(a netip.Addr) error {
	bits := 32
	gw, via := "198.51.100.10", "-4"
	if a.Is6() {
		bits, gw, via = 128, "2001:db8:2::10", "-6"
	}
	if _, err := l.Cloud.Run("ip", "addr", "add", fmt.Sprintf("%s/%d", a, bits), "dev", "lo"); err != nil {
		return err
	}
	_, err := l.Router.Run("ip", via, "route", "replace", fmt.Sprintf("%s/%d", a, bits), "via", gw)
	return err
}

// AddLANAddr gives the LAN host another address (for a PBX or SBC that
// sits in the LAN beside the client), routed by the router.
func (l *Lab) AddLANAddr(a netip.Addr) error {
	bits := 32
	gw, via := "192.0.2.10", "-4"
	if a.Is6() {
		bits, gw, via = 128, "2001:db8:1::10", "-6"
	}
	if LANNet.Contains(a) || LANNet6.Contains(a) {
		_, err := l.LAN.Run("ip", "addr", "add", fmt.Sprintf("%s/%d", a, bits), "dev", HostIf, "nodad")
		return err
	}
	if _, err := l.LAN.Run("ip", "addr", "add", fmt.Sprintf("%s/%d", a, bits), "dev", "lo"); err != nil {
		return err
	}
	_, err := l.Router.Run("ip", via, "route", "replace", fmt.Sprintf("%s/%d", a, bits), "via", gw)
	return err
}

// Run runs a command inside the namespace and returns its combined output.
func (n *NS) Run(name string, args ...string) (string, error) {
	return n.RunInput(nil, name, args...)
}

// RunInput runs a command inside the namespace with stdin.
func (n *NS) RunInput(stdin []byte, name string, args ...string) (string, error) {
	cmd := n.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in %s: %v: %s", name, strings.Join(args, " "), n.Name, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// Command returns a command that runs inside the namespace.
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// CommandContext is Command with a context.
func (n *NS) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Sysctl sets a sysctl inside the namespace.
func (n *NS) Sysctl(key, value string) error {
	_, err := n.Run("sysctl", "-q", "-w", key+"="+value)
	return err
}

// Nft loads an nftables ruleset (nft -f -) inside the namespace.
func (n *NS) Nft(ruleset string) error {
	_, err := n.RunInput([]byte(ruleset), "nft", "-f", "-")
	return err
}

// Do runs fn on an OS thread switched into the namespace. Sockets fn
// creates stay in the namespace after it returns.
func (n *NS) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(n.Name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("namespace %s: %v", n.Name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread is stuck in the namespace: keep it locked so that it
		// dies with this goroutine instead of serving others.
		return fmt.Errorf("restoring the namespace: %v", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Listen opens a listener ("tcp", "tcp4", "tcp6") inside the namespace.
func (n *NS) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() (err error) { l, err = net.Listen(network, addr); return })
	return l, err
}

// ListenPacket opens a packet socket ("udp", "udp4", "udp6") inside the namespace.
func (n *NS) ListenPacket(network, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := n.Do(func() (err error) { c, err = net.ListenPacket(network, addr); return })
	return c, err
}

// Dial connects from inside the namespace. The socket is made inside it;
// the connection itself proceeds on any thread.
func (n *NS) Dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() (err error) { c, err = net.DialTimeout(network, addr, timeout); return })
	return c, err
}
