package firewalld

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/target"
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
	fw := ns.Command("firewalld", "--nofork", "--nopid", "--system-config", dir, "--default-config", DefaultConfig)
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
		bindStockZones(t, dir, map[string]string{"internal": netlab.RouterLANIf, "external": netlab.RouterWANIf})
		startFirewalld(t, l.Router, dir, PolicyFwd)
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
	bindStockZones(t, dir, map[string]string{"drop": netlab.HostIf})
	startFirewalld(t, l.LAN, dir, PolicyIn, PolicyOut)
	targettest.FlushNeighbours(t, l)
	targettest.Check(t, rf, probes)
}

// bindStockZones writes the stock zones with an interface each.
func bindStockZones(t testing.TB, dir string, zones map[string]string) {
	t.Helper()
	for zone, ifname := range zones {
		data, err := os.ReadFile(filepath.Join(DefaultConfig, "zones", zone+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.Replace(string(data), "</zone>", `  <interface name="`+ifname+`"/>`+"\n</zone>", 1)
		if err := os.MkdirAll(filepath.Join(dir, "zones"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "zones", zone+".xml"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
