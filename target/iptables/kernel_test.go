package iptables_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/iptables"
	"github.com/portolan/portolan/target/targettest"
)

func generate(t testing.TB, in *target.Input, fam int) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := (iptables.Target{Family: fam}).Write(&b, in); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// load restores both families' rules in ns, as an administrator would:
// iptables-restore --noflush and ip6tables-restore --noflush.
func load(t testing.TB, ns *netlab.NS, in *target.Input) {
	t.Helper()
	for _, fam := range []int{4, 6} {
		prog := map[int]string{4: "iptables-restore", 6: "ip6tables-restore"}[fam]
		if _, err := ns.RunInput([]byte(generate(t, in, fam)), prog, "--noflush"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKernelGateway is nftables' kernel test for iptables: the same cases,
// the same probes, the rules loaded with iptables-restore.
func TestKernelGateway(t *testing.T) {
	targettest.KernelGateway(t, func(t testing.TB, l *netlab.Lab, in *target.Input) { load(t, l.Router, in) })
}

// TestReloadIdempotent loads the rules three times beside chains of
// someone else's and checks that the result is the same each time: one
// jump, the same PORTOLAN chains, the other chains untouched.
func TestReloadIdempotent(t *testing.T) {
	dir := targettest.LabCatalog(t)
	c := targettest.GatewayCases[2] // starface with port forwards
	in, _ := c.Input(t, dir)
	l := netlab.New(t)
	for _, cmd := range [][]string{
		{"iptables", "-N", "OTHER"}, {"iptables", "-A", "OTHER", "-s", "203.0.113.99", "-j", "ACCEPT"},
		{"iptables", "-t", "nat", "-N", "OTHER-NAT"}, {"iptables", "-t", "mangle", "-A", "PREROUTING", "-j", "RETURN"},
	} {
		if _, err := l.Router.Run(cmd[0], cmd[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	var saves []string
	for i := 0; i < 3; i++ {
		load(t, l.Router, in)
		out, err := l.Router.Run("iptables-save")
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "#") {
				keep = append(keep, line)
			}
		}
		saves = append(saves, strings.Join(keep, "\n"))
	}
	if saves[0] != saves[1] || saves[1] != saves[2] {
		t.Errorf("a reload changed the ruleset:\n%s\n---\n%s", saves[0], saves[2])
	}
	s := saves[2]
	for _, want := range []string{":FORWARD DROP", "-A OTHER -s 203.0.113.99/32 -j ACCEPT", ":OTHER-NAT - [0:0]", "-A PREROUTING -j RETURN"} {
		if !strings.Contains(s, want) {
			t.Errorf("after reloads, iptables-save lacks %q", want)
		}
	}
	if n := strings.Count(s, "-A FORWARD -j PORTOLAN-FORWARD"); n != 1 {
		t.Errorf("%d jumps to PORTOLAN-FORWARD, want 1", n)
	}
	if n := strings.Count(s, "-A PREROUTING -j PORTOLAN-PREROUTING"); n != 1 {
		t.Errorf("%d jumps to PORTOLAN-PREROUTING, want 1", n)
	}
}

// TestKernelHost is nftables' host-mode test for iptables and ip6tables.
func TestKernelHost(t *testing.T) {
	in, probes := targettest.HostCase(t)
	l := netlab.New(t)
	rf := targettest.NewReferee(t, l, probes)
	load(t, l.LAN, in)
	targettest.FlushNeighbours(t, l)
	targettest.Check(t, rf, probes)
}
