package nftables_test

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/nftables"
	"github.com/portolan/portolan/target/targettest"
)

func generate(t testing.TB, in *target.Input) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := (nftables.Target{}).Write(&b, in); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestKernelGateway loads each case's gateway ruleset on a router between
// a LAN and a cloud namespace and checks, with real connections and
// datagrams, that what the plan opens passes and the rest is dropped.
func TestKernelGateway(t *testing.T) {
	targettest.KernelGateway(t, func(t testing.TB, l *netlab.Lab, in *target.Input) {
		if err := l.Router.Nft(generate(t, in)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestKernelNATTimeout checks the ct timeout object on the kernel: a SIP
// datagram of TW Solutions' phones gets a 90 s conntrack entry, an RTP
// one the default 30 s, and nothing in the ruleset attaches a helper.
func TestKernelNATTimeout(t *testing.T) {
	dir := targettest.LabCatalog(t)
	c := targettest.Case{Name: "tw", Services: []string{"tw-solutions"}}
	in, _ := c.Input(t, dir)
	l := netlab.New(t)
	sip := targettest.Probe{Proto: "udp", Src: netlab.LANHost, Dst: netip.MustParseAddrPort("203.0.113.5:5060"), Sink: netip.MustParseAddr("203.0.113.5"), Want: true}
	rtp := targettest.Probe{Proto: "udp", Src: netlab.LANHost, Dst: netip.MustParseAddrPort("198.51.100.10:10000"), Sink: netlab.CloudHost, Want: true}
	rf := targettest.NewReferee(t, l, []targettest.Probe{sip, rtp})
	text := generate(t, in)
	for _, line := range strings.Split(text, "\n") {
		if l := strings.TrimSpace(line); !strings.HasPrefix(l, "#") && strings.Contains(l, "ct helper") {
			t.Errorf("the ruleset assigns a helper: %s", l)
		}
	}
	if err := l.Router.Nft(text); err != nil {
		t.Fatal(err)
	}
	for _, p := range []targettest.Probe{sip, rtp} {
		if ok, err := rf.Send(p); !ok || err != nil {
			t.Fatalf("%s did not pass: %v", p, err)
		}
	}
	timeout := func(port string) int {
		out, err := l.Router.Run("conntrack", "-L", "-p", "udp", "--dport", port)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) > 2 && f[0] == "udp" {
				n, err := strconv.Atoi(f[2])
				if err != nil {
					t.Fatalf("conntrack line %q", line)
				}
				return n
			}
		}
		t.Fatalf("no conntrack entry for udp port %s:\n%s", port, out)
		return 0
	}
	sipT, rtpT := timeout("5060"), timeout("10000")
	t.Logf("conntrack timeouts: SIP %d s, RTP %d s", sipT, rtpT)
	if got := sipT; got < 80 || got > 90 {
		t.Errorf("SIP binding timeout %d s, want about 90 (ct timeout)", got)
	}
	if got := rtpT; got > 30 {
		t.Errorf("RTP binding timeout %d s, want the default 30 or less", got)
	}
	rs, err := l.Router.Run("nft", "list", "ruleset")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(rs, "\n") {
		if strings.Contains(line, "ct helper") {
			t.Errorf("loaded ruleset assigns a helper: %s", line)
		}
	}
}

// TestKernelHost loads StarLeaf's host-mode rules on the endpoint itself:
// its flows go out, other ports and inbound connections are dropped, and
// IPv6 works from empty neighbour caches (ND passes the policy).
func TestKernelHost(t *testing.T) {
	in, probes := targettest.HostCase(t)
	l := netlab.New(t)
	rf := targettest.NewReferee(t, l, probes)
	if err := l.LAN.Nft(generate(t, in)); err != nil {
		t.Fatal(err)
	}
	targettest.FlushNeighbours(t, l)
	targettest.Check(t, rf, probes)
}
