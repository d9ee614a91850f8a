package firewalld_test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/firewalld"
	"github.com/portolan/portolan/target/targettest"
)

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=BUS</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
`

// startFirewalld runs the real firewalld on the configuration directory
// dir inside namespace ns, on a D-Bus system bus of its own, until the
// test ends, and waits until it has loaded dir: its policies are active.
func startFirewalld(t testing.TB, ns *netlab.NS, dir string, policies ...string) {
	t.Helper()
	for _, tool := range []string{"dbus-daemon", "firewalld", "firewall-cmd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v (Debian packages dbus-daemon, firewalld)", tool, err)
		}
	}
	run := t.TempDir()
	bus := filepath.Join(run, "bus")
	cfg := filepath.Join(run, "bus.conf")
	if err := os.WriteFile(cfg, []byte(strings.Replace(busConfig, "BUS", bus, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	d := exec.Command("dbus-daemon", "--config-file="+cfg, "--nofork", "--nopidfile")
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Process.Kill(); _ = d.Wait() })
	env := append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+bus)
	for i := 0; ; i++ {
		if _, err := os.Stat(bus); err == nil {
			break
		}
		if i > 100 {
			t.Fatal("dbus-daemon did not make its socket")
		}
		time.Sleep(50 * time.Millisecond)
	}
	logf, err := os.Create(filepath.Join(run, "firewalld.log"))
	if err != nil {
		t.Fatal(err)
	}
	fw := ns.Command("firewalld", "--nofork", "--nopid", "--system-config", dir, "--default-config", firewalld.DefaultConfig)
	fw.Env, fw.Stdout, fw.Stderr = env, logf, logf
	if err := fw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fw.Process.Kill(); _ = fw.Wait(); logf.Close() })
	fwcmd := func(args ...string) (string, error) {
		c := exec.Command("firewall-cmd", args...)
		c.Env = env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := fwcmd("--state")
		if err == nil && strings.TrimSpace(out) == "running" {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("firewalld did not start: %s %v; log: %s", out, err, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, err := fwcmd("--get-active-policies")
	if err != nil {
		t.Fatalf("firewall-cmd --get-active-policies: %v: %s", err, out)
	}
	for _, p := range policies {
		if !strings.Contains(out, p) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("firewalld did not load policy %s (active: %s); log: %s", p, out, log)
		}
	}
}

// TestKernelGateway: the real firewalld, on the router of a lab, loads
// the tree of each gateway case (its zones internal and external bound to
// the router's interfaces, as the header says), and the plan's real
// packets pass or are dropped as the plan says.
func TestKernelGateway(t *testing.T) {
	if r := netlab.Available(); r != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(r)
		}
		t.Skip(r)
	}
	targettest.KernelGateway(t, func(t testing.TB, l *netlab.Lab, in *target.Input) {
		dir := writeTree(t, newTarget(), in)
		bindZones(t, dir, map[string]string{"internal": netlab.RouterLANIf, "external": netlab.RouterWANIf})
		startFirewalld(t, l.Router, dir, firewalld.PolicyFwd)
	})
}

// TestKernelHost: the real firewalld on the endpoint itself (host mode).
func TestKernelHost(t *testing.T) {
	if r := netlab.Available(); r != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(r)
		}
		t.Skip(r)
	}
	in, probes := targettest.HostCase(t)
	l := netlab.New(t)
	rf := targettest.NewReferee(t, l, probes)
	// Zone drop: nothing of its own open, so that the machine's input is
	// the plan's (zone public would keep its ssh and dhcpv6-client).
	tg := newTarget()
	tg.Zone = "drop"
	dir := writeTree(t, tg, in)
	bindZones(t, dir, map[string]string{"drop": netlab.HostIf})
	startFirewalld(t, l.LAN, dir, firewalld.PolicyIn, firewalld.PolicyOut)
	targettest.FlushNeighbours(t, l)
	targettest.Check(t, rf, probes)
}

// TestReaderAgreesWithFirewalld: the audit's reading of a hand-written
// configuration and the real firewalld running it give every packet the
// same verdict. The endpoint of a lab runs firewalld on the host fixture
// (zone public on its interface: ssh with a rich reject for the cloud's
// network, port 8080; zone trusted by source; a policy from HOST that
// rejects one address); for each probe the audit decides first, and the
// kernel must agree.
func TestReaderAgreesWithFirewalld(t *testing.T) {
	if r := netlab.Available(); r != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(r)
		}
		t.Skip(r)
	}
	site := policy.Site{Mode: policy.Host, LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	dir := fixture(t, map[string]string{
		"zones/public.xml": `<zone><interface name="` + netlab.HostIf + `"/><service name="ssh"/><port port="8080" protocol="tcp"/>
  <rule family="ipv4"><source address="198.51.100.0/24"/><service name="ssh"/><reject/></rule></zone>`,
		"zones/trusted.xml":      `<zone target="ACCEPT"><source address="203.0.113.0/24"/></zone>`,
		"policies/block-out.xml": `<policy target="CONTINUE" priority="-5"><ingress-zone name="HOST"/><egress-zone name="ANY"/><rule family="ipv4"><destination address="203.0.113.66"/><reject/></rule></policy>`,
	})
	l := netlab.New(t)
	trustedSrc, blocked, open := netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("203.0.113.66"), netip.MustParseAddr("203.0.113.67")
	lan := netlab.LANHost
	ap := func(a netip.Addr, p uint16) netip.AddrPort { return netip.AddrPortFrom(a, p) }
	probes := []targettest.Probe{
		{Proto: "tcp", Inbound: true, Src: netlab.CloudHost, Dst: ap(lan, 22), Sink: lan, Why: "ssh from the rejected network"},
		{Proto: "tcp", Inbound: true, Src: trustedSrc, Dst: ap(lan, 22), Sink: lan, Why: "ssh from the trusted zone"},
		{Proto: "tcp", Inbound: true, Src: netlab.CloudHost, Dst: ap(lan, 8080), Sink: lan, Why: "port 8080 of zone public"},
		{Proto: "tcp", Inbound: true, Src: netlab.CloudHost, Dst: ap(lan, 8081), Sink: lan, Why: "a port zone public does not open"},
		{Proto: "udp", Inbound: true, Src: trustedSrc, Dst: ap(lan, 5000), Sink: lan, Why: "any port from the trusted zone"},
		{Proto: "udp", Inbound: true, Src: netlab.CloudHost, Dst: ap(lan, 5000), Sink: lan, Why: "udp to zone public"},
		{Proto: "tcp", Src: lan, Dst: ap(blocked, 443), Sink: blocked, Why: "the address policy block-out rejects"},
		{Proto: "tcp", Src: lan, Dst: ap(open, 443), Sink: open, Why: "output firewalld accepts"},
	}
	rs, err := audit.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := audit.New(rs, site)
	if err != nil {
		t.Fatal(err)
	}
	var fs []fxFlow
	for i, p := range probes {
		f := fxFlow{id: fmt.Sprint(i), inbound: p.Inbound, proto: p.Proto, port: p.Dst.Port(),
			src: netip.PrefixFrom(p.Src, 32).String(), dst: netip.PrefixFrom(p.Dst.Addr(), 32).String()}
		fs = append(fs, f)
	}
	rep := a.Audit(fxRules(site, fs), nil, audit.Options{})
	for _, f := range rep.Flows {
		i, _ := strconv.Atoi(f.Flow)
		switch f.Verdict {
		case audit.Allowed:
			probes[i].Want = true
		case audit.Blocked:
			probes[i].Want = false
		default:
			t.Fatalf("%s: the audit says %s: %s", probes[i].Why, f.Verdict, f.Summary)
		}
		t.Logf("%s: audit %s", probes[i].Why, f.Verdict)
	}
	rf := targettest.NewReferee(t, l, probes)
	startFirewalld(t, l.LAN, dir, "block-out")
	targettest.Check(t, rf, probes)
}
