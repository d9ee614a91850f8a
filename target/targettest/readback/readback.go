// Package readback checks a ruleset read back from a platform's
// configuration (a firewalld tree, a FortiGate backup, a config.xml…)
// against the plan it was written from, with the audit's evaluator and no
// kernel. It stands apart from targettest because the audit imports some
// platform packages, whose own tests use targettest.
package readback

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/targettest"
)

// Probes evaluates every probe of the input's gateway plan (targettest.Probes:
// the ports the plan opens and the packets around them it refuses)
// against rs with the audit's evaluator, each probe as a flow of one
// packet, and fails t where the audit's verdict is not the plan's: a probe
// the plan passes must be allowed (and, inbound, arrive at the plan's
// forward address); one it refuses must not be allowed. It shows, without
// a kernel, that a ruleset read back from a platform's configuration
// permits the plan's packet space, no more and no less, on the samples the
// kernel referee uses. It returns the number of probes checked.
func Probes(t testing.TB, rs *ruleset.Ruleset, in *target.Input) int {
	t.Helper()
	probes, err := targettest.Probes(in)
	if err != nil {
		t.Fatal(err)
	}
	a, err := audit.New(rs, in.Site)
	if err != nil {
		t.Fatal(err)
	}
	var rules []policy.Rule
	want := map[*resolve.Concrete]targettest.Probe{}
	for i, p := range probes {
		rr, err := probeRules(in, p, i)
		if err != nil {
			t.Fatal(err)
		}
		want[rr[0].Flow] = p
		rules = append(rules, rr...)
	}
	rep := a.Audit(rules, nil, audit.Options{})
	n := 0
	for _, f := range rep.Flows {
		var p targettest.Probe
		found := false
		for c, q := range want {
			if c.ID == f.Flow {
				p, found = q, true
				break
			}
		}
		if !found {
			t.Errorf("audit reported a flow no probe made: %s", f.Flow)
			continue
		}
		n++
		got := f.Verdict == audit.Allowed
		if got != p.Want {
			t.Errorf("%s: the audit says %s (%s), the plan says pass=%v", p, f.Verdict, f.Summary, p.Want)
		}
	}
	if n != len(probes) {
		t.Errorf("the audit reported %d of %d probes", n, len(probes))
	}
	return n
}

// probeRules is the plan of one probe: a forward rule for an outbound
// packet; a port forward to the plan's address (or, for a packet the plan
// does not forward, to the first forward address of its family) and the
// forward rule after it for an inbound one.
func probeRules(in *target.Input, p targettest.Probe, i int) ([]policy.Rule, error) {
	fam := 4
	if p.Dst.Addr().Is6() {
		fam = 6
	}
	flow := &resolve.Concrete{}
	flow.Service, flow.ID, flow.Proto = "probe", fmt.Sprintf("probe-%d", i), p.Proto
	flow.Necessity = model.Required
	flow.Direction = model.Outbound
	flow.Ports = model.NewPortSet(model.PortRange{Lo: p.Dst.Port(), Hi: p.Dst.Port()})
	host := func(a netip.Addr) []netip.Prefix { return []netip.Prefix{netip.PrefixFrom(a, a.BitLen())} }
	ports := flow.Ports
	if !p.Inbound {
		return []policy.Rule{{Flow: flow, Hook: policy.Forward, Match: policy.Match{
			Family: fam, Proto: p.Proto, IIf: in.Site.LANIf, OIf: in.Site.WANIf,
			Src: host(p.Src), Dst: host(p.Dst.Addr()), DstPorts: ports}}}, nil
	}
	flow.Direction = model.Inbound
	to := p.Sink
	if !p.Want || !to.IsValid() {
		to = netip.Addr{}
		for _, r := range in.Rules {
			if r.Hook == policy.Prerouting && r.Match.Family == fam {
				to = r.DNAT
				break
			}
		}
		if !to.IsValid() {
			return nil, fmt.Errorf("%s: no port forward of family %d in the plan", p, fam)
		}
	}
	return []policy.Rule{
		{Flow: flow, Hook: policy.Prerouting, DNAT: to, Match: policy.Match{
			Family: fam, Proto: p.Proto, IIf: in.Site.WANIf,
			Src: host(p.Src), Dst: host(p.Dst.Addr()), DstPorts: ports}},
		{Flow: flow, Hook: policy.Forward, Match: policy.Match{
			Family: fam, Proto: p.Proto, IIf: in.Site.WANIf, OIf: in.Site.LANIf,
			Src: host(p.Src), Dst: host(to), DstPorts: ports}},
	}, nil
}

// Load reads a platform's configuration back as portolan audit does: the
// format detected (it must be want), then the DNS names of its address
// objects bound from pins (a hosts file's text, as --hosts gives). It
// returns the names the pins left unresolved.
func Load(t testing.TB, name, text string, want ruleset.Format, pins string) (*ruleset.Ruleset, []string) {
	t.Helper()
	rs, err := audit.Load(name, []byte(text), audit.FormatAuto)
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	if rs.Format != want {
		t.Fatalf("%s: detected as %s, not %s", name, rs.Format, want)
	}
	return rs, Bind(t, rs, pins)
}

// Bind binds the DNS names of rs's address objects from pins, as
// portolan audit --hosts does, and returns the names left unresolved.
func Bind(t testing.TB, rs *ruleset.Ruleset, pins string) []string {
	t.Helper()
	h, err := resolve.ParseHosts("pins", strings.NewReader(pins))
	if err != nil {
		t.Fatal(err)
	}
	return audit.ResolveNames(context.Background(), rs, h)
}

// Audit audits the plan of in against rs, as portolan audit does.
func Audit(t testing.TB, rs *ruleset.Ruleset, in *target.Input) *audit.Report {
	t.Helper()
	a, err := audit.New(rs, in.Site)
	if err != nil {
		t.Fatal(err)
	}
	return a.Audit(in.Rules, in.Skips, audit.Options{})
}

// Flow is one flow of a hand-written fixture's test: a port range (Hi 0:
// the port Lo alone) of one protocol between prefixes ("" for any),
// outbound from the LAN or, Inbound, forwarded to DNAT; WAN, when set, is
// the address inbound packets arrive at. Its family is 6 when an address
// is IPv6.
type Flow struct {
	ID       string
	Inbound  bool
	Proto    string
	Lo, Hi   uint16
	Src, Dst string
	DNAT     string
	WAN      string
	App      string
}

// FixtureRules is the plan of f at site, as policy.Plan shapes it: a
// forward rule from the LAN interface to the WAN one, or a port forward on
// the WAN interface and the forward rule after it.
func FixtureRules(site policy.Site, f Flow) []policy.Rule {
	pfx := func(s string) []netip.Prefix {
		if s == "" {
			return nil
		}
		if a, err := netip.ParseAddr(s); err == nil {
			return []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}
		}
		return []netip.Prefix{netip.MustParsePrefix(s)}
	}
	dir := model.Outbound
	if f.Inbound {
		dir = model.Inbound
	}
	hi := f.Hi
	if hi == 0 {
		hi = f.Lo
	}
	ports := model.NewPortSet(model.PortRange{Lo: f.Lo, Hi: hi})
	c := &resolve.Concrete{Flow: resolve.Flow{Service: "fx", ID: f.ID, Direction: dir, Proto: f.Proto, Necessity: model.Required, App: f.App}}
	c.Ports = ports
	fam := 4
	if strings.Contains(f.Src+f.Dst+f.DNAT, ":") {
		fam = 6
	}
	m := policy.Match{Family: fam, Proto: f.Proto, DstPorts: ports, Src: pfx(f.Src), Dst: pfx(f.Dst)}
	if !f.Inbound {
		m.IIf, m.OIf = site.LANIf, site.WANIf
		return []policy.Rule{{Flow: c, Hook: policy.Forward, Match: m}}
	}
	to := netip.MustParseAddr(f.DNAT)
	pre := m
	pre.IIf = site.WANIf
	if f.WAN != "" {
		pre.Dst = pfx(f.WAN)
	}
	fw := m
	fw.IIf, fw.OIf, fw.Dst = site.WANIf, site.LANIf, []netip.Prefix{netip.PrefixFrom(to, to.BitLen())}
	return []policy.Rule{{Flow: c, Hook: policy.Prerouting, Match: pre, DNAT: to}, {Flow: c, Hook: policy.Forward, Match: fw}}
}
