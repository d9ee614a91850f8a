package firewalld_test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/firewalld"
	"github.com/portolan/portolan/target/targettest"
	"github.com/portolan/portolan/target/targettest/readback"
)

// The audit reads firewalld trees through package firewalld, so these
// tests stand outside it (package firewalld_test) and have their own
// small helpers.

func newTarget() *firewalld.Target {
	return &firewalld.Target{Zone: "public", LANZone: "internal", WANZone: "external"}
}

func writeTree(t testing.TB, tg *firewalld.Target, in *target.Input) string {
	t.Helper()
	files, _, err := tg.WriteTree(in)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func checkConfig(t testing.TB, dir string) error {
	t.Helper()
	if _, err := exec.LookPath("firewall-offline-cmd"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("firewall-offline-cmd is not installed (Debian package firewalld)")
		}
		t.Skip("firewall-offline-cmd is not installed")
	}
	out, err := exec.Command("firewall-offline-cmd", "--system-config", dir, "--default-config", firewalld.DefaultConfig, "--check-config").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// bindZones puts the lab's interfaces into the gateway's zones, as the
// header asks: zones/internal.xml and zones/external.xml with the stock
// zones' content and an <interface>.
func bindZones(t testing.TB, dir string, zones map[string]string) {
	t.Helper()
	for zone, ifname := range zones {
		data, err := os.ReadFile(filepath.Join(firewalld.DefaultConfig, "zones", zone+".xml"))
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

func auditTree(t *testing.T, dir string, in *target.Input) *audit.Report {
	t.Helper()
	rs, err := audit.LoadDir(dir) // the hook portolan audit --ruleset DIR takes
	if err != nil {
		t.Fatal(err)
	}
	a, err := audit.New(rs, in.Site)
	if err != nil {
		t.Fatal(err)
	}
	return a.Audit(in.Rules, in.Skips, audit.Options{Constraints: in.Constraints})
}

// TestAuditReadsWhatItWrote: the tree the target writes, read back as a
// firewalld configuration (over the stock one) by the audit, allows every
// flow of the plan: write → read → the same packet space.
func TestAuditReadsWhatItWrote(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		if c.Name == "forward-order" {
			// Overlapping forwards to two hosts: the first wins, the
			// second is partial or blocked by design (the plan warns).
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			in, _ := c.Input(t, lab)
			dir := writeTree(t, newTarget(), in)
			bindZones(t, dir, map[string]string{"internal": in.Site.LANIf, "external": in.Site.WANIf})
			rep := auditTree(t, dir, in)
			for _, f := range rep.Flows {
				if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped {
					t.Errorf("%s/%s %s %s: %s: %s", f.Service, f.Flow, f.Proto, f.Ports, f.Verdict, f.Summary)
				}
			}
			// No more than the plan either: the probes around its ports
			// and addresses are refused.
			rs, err := audit.LoadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if n := readback.Probes(t, rs, in); n == 0 {
				t.Error("no probe")
			}
		})
	}
	t.Run("host", func(t *testing.T) {
		in, _ := targettest.HostCase(t)
		dir := writeTree(t, newTarget(), in)
		rep := auditTree(t, dir, in)
		for _, f := range rep.Flows {
			if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped {
				t.Errorf("%s/%s %s %s: %s: %s", f.Service, f.Flow, f.Proto, f.Ports, f.Verdict, f.Summary)
			}
		}
	})
}

// TestAuditFirewalldBlocks: what the tree does not open, the audit finds
// blocked: TW Solutions' flows against StarLeaf's tree (gateway), and
// StarLeaf's inbound-free host tree against a flow to the machine.
func TestAuditFirewalldBlocks(t *testing.T) {
	lab := targettest.LabCatalog(t)
	var starleaf, tw *target.Input
	for _, c := range targettest.GatewayCases {
		switch c.Name {
		case "starleaf":
			starleaf, _ = c.Input(t, lab)
		case "tw-solutions":
			tw, _ = c.Input(t, lab)
		}
	}
	dir := writeTree(t, newTarget(), starleaf)
	bindZones(t, dir, map[string]string{"internal": starleaf.Site.LANIf, "external": starleaf.Site.WANIf})
	rep := auditTree(t, dir, tw)
	n := 0
	for _, f := range rep.Flows {
		if f.Verdict == audit.Skipped {
			continue
		}
		n++
		// Only 443/tcp to StarLeaf's addresses is open: TW Solutions'
		// flows are blocked, or partial where they share 443 and "any".
		if f.Verdict == audit.Allowed {
			t.Errorf("%s/%s %s %s: allowed by StarLeaf's tree: %s", f.Service, f.Flow, f.Proto, f.Ports, f.Summary)
		}
	}
	if n == 0 {
		t.Fatal("no flow audited")
	}
}

// TestAuditFirewalldHelper: a policy that accepts firewalld's stock sip
// service attaches the SIP helper (its <helper name="sip"/>) to the
// connections it accepts, and the audit's alg-off constraint says so; the
// tree portolan writes alone passes it. TW Solutions on the PBX itself
// (host mode), whose SIP to the provider goes out through a policy from
// HOST.
func TestAuditFirewalldHelper(t *testing.T) {
	in := targettest.Prepare(t, []string{"tw-solutions"}, resolve.Selection{}, "", policy.Site{Mode: policy.Host, LAN: targettest.Site.LAN}, target.Options{})
	alg := func(rep *audit.Report) *audit.ConstraintResult {
		for i, c := range rep.Constraints {
			if c.Kind == string(model.KindALGOff) {
				return &rep.Constraints[i]
			}
		}
		t.Fatal("no alg-off constraint audited")
		return nil
	}
	dir := writeTree(t, newTarget(), in)
	if c := alg(auditTree(t, dir, in)); c.Status != audit.ConstraintOK {
		t.Errorf("portolan's own tree: alg-off %s: %s", c.Status, c.Why)
	}
	if _, err := os.Stat(filepath.Join(firewalld.DefaultConfig, "services", "sip.xml")); err != nil {
		t.Fatalf("firewalld's stock sip service: %v", err)
	}
	pol := `<?xml version="1.0" encoding="utf-8"?>
<policy target="CONTINUE" priority="-10">
  <ingress-zone name="HOST"/>
  <egress-zone name="ANY"/>
  <service name="sip"/>
</policy>
`
	if err := os.WriteFile(filepath.Join(dir, "policies", "sip-out.xml"), []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkConfig(t, dir); err != nil {
		t.Fatalf("the tree with policy sip-out: %v", err)
	}
	c := alg(auditTree(t, dir, in))
	if c.Status != audit.ConstraintFail || !strings.Contains(c.Fix, "firewalld") {
		t.Errorf("policy sip-out with the stock sip service: alg-off %s: %s (fix: %s)", c.Status, c.Why, c.Fix)
	}
	t.Logf("alg-off: %s: %s; fix: %s", c.Status, c.Why, c.Fix)
}

// fixture writes files (path: content) under a new directory.
func fixture(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(`<?xml version="1.0" encoding="utf-8"?>`+"\n"+data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type fxFlow struct {
	id       string
	inbound  bool
	proto    string
	port     uint16
	src, dst string // prefixes, "" for any
	dnat     string // gateway inbound: the address forwarded to
	want     audit.Verdict
}

func fxRules(site policy.Site, fs []fxFlow) []policy.Rule {
	var out []policy.Rule
	pfx := func(s string) []netip.Prefix {
		if s == "" {
			return nil
		}
		return []netip.Prefix{netip.MustParsePrefix(s)}
	}
	for _, f := range fs {
		dir := model.Outbound
		if f.inbound {
			dir = model.Inbound
		}
		c := &resolve.Concrete{Flow: resolve.Flow{Service: "fx", ID: f.id, Direction: dir, Proto: f.proto, Necessity: model.Required}}
		m := policy.Match{Family: 4, Proto: f.proto, DstPorts: model.NewPortSet(model.PortRange{Lo: f.port, Hi: f.port}), Src: pfx(f.src), Dst: pfx(f.dst)}
		switch {
		case site.Mode == policy.Host && f.inbound:
			out = append(out, policy.Rule{Flow: c, Hook: policy.Input, Match: m})
		case site.Mode == policy.Host:
			out = append(out, policy.Rule{Flow: c, Hook: policy.Output, Match: m})
		case f.inbound:
			to := netip.MustParseAddr(f.dnat)
			pre := m
			pre.IIf = site.WANIf
			out = append(out, policy.Rule{Flow: c, Hook: policy.Prerouting, Match: pre, DNAT: to})
			fw := m
			fw.IIf, fw.OIf, fw.Dst = site.WANIf, site.LANIf, []netip.Prefix{netip.PrefixFrom(to, 32)}
			out = append(out, policy.Rule{Flow: c, Hook: policy.Forward, Match: fw})
		default:
			m.IIf, m.OIf = site.LANIf, site.WANIf
			out = append(out, policy.Rule{Flow: c, Hook: policy.Forward, Match: m})
		}
	}
	return out
}

// TestAuditFirewalldFixtures: hand-written configurations (the stock one
// beneath them) and the verdicts firewalld's semantics give: zones by
// source before the default zone, a rich reject before the service it
// shadows, the zone's default target, a policy from HOST of negative
// priority, a policy's ACCEPT target between zones, a zone's
// forward-port.
func TestAuditFirewalldFixtures(t *testing.T) {
	host := policy.Site{Mode: policy.Host, LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	gw := policy.Site{Mode: policy.Gateway, LANIf: "lan0", WANIf: "wan0", LAN: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	for _, c := range []struct {
		name  string
		site  policy.Site
		files map[string]string
		flows []fxFlow
	}{
		{"host", host, map[string]string{
			"zones/public.xml": `<zone><service name="ssh"/><port port="8080" protocol="tcp"/>
  <rule family="ipv4"><source address="198.51.100.0/24"/><service name="ssh"/><reject/></rule></zone>`,
			"zones/trusted.xml":      `<zone target="ACCEPT"><source address="203.0.113.0/24"/></zone>`,
			"policies/block-out.xml": `<policy target="CONTINUE" priority="-5"><ingress-zone name="HOST"/><egress-zone name="ANY"/><rule family="ipv4"><destination address="203.0.113.66"/><reject/></rule></policy>`,
		}, []fxFlow{
			{id: "ssh-lan", inbound: true, proto: "tcp", port: 22, src: "192.0.2.0/24", want: audit.Allowed},
			{id: "ssh-rejected", inbound: true, proto: "tcp", port: 22, src: "198.51.100.0/24", want: audit.Blocked},
			{id: "ssh-any", inbound: true, proto: "tcp", port: 22, want: audit.Partial},
			{id: "port-8080", inbound: true, proto: "tcp", port: 8080, want: audit.Allowed},
			{id: "port-8081", inbound: true, proto: "tcp", port: 8081, src: "192.0.2.0/24", want: audit.Blocked},
			{id: "trusted-source", inbound: true, proto: "udp", port: 5000, src: "203.0.113.0/24", want: audit.Allowed},
			{id: "out-rejected", proto: "tcp", port: 443, dst: "203.0.113.66/32", want: audit.Blocked},
			{id: "out-other", proto: "tcp", port: 443, dst: "203.0.113.67/32", want: audit.Allowed},
		}},
		{"gateway", gw, map[string]string{
			"zones/internal.xml":    `<zone><interface name="lan0"/><service name="ssh"/><forward/></zone>`,
			"zones/external.xml":    `<zone><interface name="wan0"/><masquerade/><forward-port port="5060" protocol="udp" to-addr="192.0.2.10"/></zone>`,
			"policies/lan-out.xml":  `<policy target="ACCEPT"><ingress-zone name="internal"/><egress-zone name="external"/></policy>`,
			"policies/no-smtp.xml":  `<policy target="CONTINUE" priority="-100"><ingress-zone name="internal"/><egress-zone name="external"/><port port="25" protocol="tcp"/><rule><port port="25" protocol="tcp"/><drop/></rule></policy>`,
			"services/unused-x.xml": `<service><port port="9" protocol="udp"/></service>`,
		}, []fxFlow{
			{id: "lan-https", proto: "tcp", port: 443, src: "192.0.2.0/24", want: audit.Allowed},
			{id: "lan-smtp", proto: "tcp", port: 25, src: "192.0.2.0/24", want: audit.Blocked},
			{id: "sip-forward", inbound: true, proto: "udp", port: 5060, dnat: "192.0.2.10", want: audit.Allowed},
			{id: "no-forward", inbound: true, proto: "udp", port: 5062, dnat: "192.0.2.10", want: audit.Blocked},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := fixture(t, c.files)
			if err := checkConfig(t, dir); err != nil {
				t.Fatalf("firewalld refuses the fixture: %v", err)
			}
			rs, err := audit.LoadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			a, err := audit.New(rs, c.site)
			if err != nil {
				t.Fatal(err)
			}
			rep := a.Audit(fxRules(c.site, c.flows), nil, audit.Options{})
			got := map[string]audit.FlowResult{}
			for _, f := range rep.Flows {
				got[f.Flow] = f
			}
			for _, f := range c.flows {
				if g := got[f.id]; g.Verdict != f.want {
					t.Errorf("%s: %s, want %s: %s", f.id, g.Verdict, f.want, g.Summary)
				}
			}
		})
	}
}

// ruleBlock is one commented <rule> of a policy the target writes: the
// comment names the flow ("tw-solutions/http 002_….txt:10").
var ruleBlock = regexp.MustCompile(`(?s)  <!-- ([^ ]+)/([^ ]+) [^\n]*-->\n  <rule[ >].*?</rule>\n`)

// TestAuditRemovingARuleBreaksItsFlow: take one rule out of the policies
// the target wrote, read the tree back, and exactly that rule's flow is no
// longer allowed; every other flow still is. A flow whose packets another
// flow also opens (same protocol and ports) may stay allowed.
func TestAuditRemovingARuleBreaksItsFlow(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		switch c.Name {
		case "starleaf", "tw-solutions", "starface-scenario1-v6":
		default:
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			in, _ := c.Input(t, lab)
			dir := writeTree(t, newTarget(), in)
			bindZones(t, dir, map[string]string{"internal": in.Site.LANIf, "external": in.Site.WANIf})
			pols, err := filepath.Glob(filepath.Join(dir, "policies", "portolan-*.xml"))
			if err != nil || len(pols) == 0 {
				t.Fatalf("no policies written: %v", err)
			}
			removed, broke := 0, 0
			for _, pol := range pols {
				orig, err := os.ReadFile(pol)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range ruleBlock.FindAllSubmatchIndex(orig, -1) {
					svc, flow := string(orig[m[2]:m[3]]), string(orig[m[4]:m[5]])
					cut := append(append([]byte{}, orig[:m[0]]...), orig[m[1]:]...)
					if err := os.WriteFile(pol, cut, 0o644); err != nil {
						t.Fatal(err)
					}
					rep := auditTree(t, dir, in)
					removed++
					named, stillAllowed, standIn := false, false, false
					var proto, ports string
					for _, f := range rep.Flows {
						if f.Service == svc && f.Flow == flow {
							named, proto, ports = true, f.Proto, fmt.Sprint(f.Ports)
							stillAllowed = f.Verdict == audit.Allowed
						}
					}
					if !named {
						t.Fatalf("%s: rule of %s/%s names no audited flow", filepath.Base(pol), svc, flow)
					}
					for _, f := range rep.Flows {
						switch {
						case f.Service == svc && f.Flow == flow:
						case f.Proto == proto && fmt.Sprint(f.Ports) == ports:
							standIn = true
							fallthrough
						default:
							if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped {
								t.Errorf("without the rule of %s/%s, %s/%s is %s: %s", svc, flow, f.Service, f.Flow, f.Verdict, f.Summary)
							}
						}
					}
					if stillAllowed && !standIn {
						t.Errorf("without its rule in %s, %s/%s is still allowed", filepath.Base(pol), svc, flow)
					}
					if !stillAllowed {
						broke++
					}
				}
				if err := os.WriteFile(pol, orig, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if removed == 0 || broke == 0 {
				t.Fatalf("%d rules taken out, %d broke their flow: the test tested nothing", removed, broke)
			}
			t.Logf("%d rules taken out one at a time, %d broke their flow and nothing else", removed, broke)
		})
	}
}
