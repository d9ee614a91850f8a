package fortigate_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/fortigate"
	"github.com/portolan/portolan/target/targettest"
	"github.com/portolan/portolan/target/targettest/readback"
)

// The lab gateway on a FortiGate's own interface names.
const lanIf, wanIf = "port1", "wan1"

// wanIP6 is the lab router's IPv6 address on the WAN, where the
// referee's inbound probes go (netlab).
const wanIP6 = "2001:db8:2::1"

func write(t testing.TB, in *target.Input) string {
	t.Helper()
	return writeWith(t, &fortigate.Target{}, in)
}

func writeWith(t testing.TB, tg *fortigate.Target, in *target.Input) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := tg.Write(&b, in); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// withoutV6Forwards is the input less its IPv6 port forwards (the
// Prerouting rule and the Forward rule after it), which the script leaves
// out without --wan-ip6; it returns the flows they served.
func withoutV6Forwards(in *target.Input) (*target.Input, map[string]bool) {
	out := *in
	out.Rules = nil
	gone := map[string]bool{}
	for _, r := range in.Rules {
		if r.Match.Family == 6 && r.Flow.Direction == model.Inbound {
			gone[target.FlowRef(r.Flow)] = true
			continue
		}
		out.Rules = append(out.Rules, r)
	}
	return &out, gone
}

// load reads text back as portolan audit --hosts does.
func load(t testing.TB, text, pins string) *ruleset.Ruleset {
	t.Helper()
	rs, _ := readback.Load(t, "script.conf", text, fortigate.Format, pins)
	return rs
}

// TestRoundTrip: the script of every gateway case, read back by the
// reader, (a) allows every flow of the plan, and (b) permits the plan's
// packet space, no more and no less, on the kernel referee's probes.
func TestRoundTrip(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		for _, resolveNames := range []bool{false, true} {
			name := c.Name
			if resolveNames {
				name += "/resolve-names"
			}
			t.Run(name, func(t *testing.T) {
				target.ResolveNames = resolveNames
				defer func() { target.ResolveNames = false }()
				in, pins := c.InputOn(t, lab, lanIf, wanIf)
				text := write(t, in)
				if resolveNames && strings.Contains(text, "set type fqdn") {
					t.Error("--resolve-names wrote fqdn addresses")
				}
				rs := load(t, text, pins)
				// IPv6 port forwards need --wan-ip6 (TestIPv6Forwards): the
				// script says it leaves them out, and they are all it leaves.
				in4, gone := withoutV6Forwards(in)
				for ref := range gone {
					if !strings.Contains(text, "skipped: "+ref+": IPv6 port forward") {
						t.Errorf("%s: its IPv6 port forward is left out without a note", ref)
					}
				}
				if c.Name != "forward-order" {
					// Overlapping forwards to two hosts: the first wins, the
					// later one is partial or blocked by design (the plan warns).
					for _, f := range readback.Audit(t, rs, in).Flows {
						if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped && !gone[f.Service+"/"+f.Flow] {
							t.Errorf("%s/%s %s %s: %s: %s", f.Service, f.Flow, f.Proto, f.Ports, f.Verdict, f.Summary)
						}
					}
				}
				if n := readback.Probes(t, rs, in4); n == 0 {
					t.Error("no probe")
				}
			})
		}
	}
}

// TestIPv6Forwards: with --wan-ip6, IPv6 port forwards are vip6 entries
// for that address, and the referee's probes, which go to the router's
// WAN address, get the plan's verdicts, IPv6 forwards included.
func TestIPv6Forwards(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		if c.Name != "starface-scenario1-v6" && c.Name != "pexip-sbc-h323" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			in, pins := c.InputOn(t, lab, lanIf, wanIf)
			text := writeWith(t, &fortigate.Target{WANIP6: wanIP6}, in)
			if !strings.Contains(text, "config firewall vip6\n") && c.Name == "starface-scenario1-v6" {
				t.Fatal("no vip6")
			}
			if n := readback.Probes(t, load(t, text, pins), in); n == 0 {
				t.Error("no probe")
			}
		})
	}
}

// policyBlock is one policy of the script with the comment lines above
// it; group 1 is the flow ("service/flow") its comments name.
var policyBlock = regexp.MustCompile(`(?m)^    edit [0-9]+\n        set name "[^"]*"\n(?:        .*\n)*?        set comments "portolan ([^ ]+) [^\n]*\n    next\n`)

var vipBlock = regexp.MustCompile(`(?m)^    edit "([^"]+)"\n(?:        .*\n)*?        set comment "portolan ([^ ]+) [^\n]*\n    next\n`)

// TestRemovingBreaksItsFlow: taking one policy, or one VIP (and its name
// from the policy that uses it, as FortiOS requires), out of the script
// breaks its flow, and only flows that share its protocol and ports may
// stand in: every other flow stays allowed.
func TestRemovingBreaksItsFlow(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		switch c.Name {
		case "starleaf", "tw-solutions", "starface-all", "starface-scenario1-v6", "pexip-sbc-h323":
		default:
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			in, pins := c.InputOn(t, lab, lanIf, wanIf)
			text := write(t, in)
			_, gone := withoutV6Forwards(in) // left out, said so (TestRoundTrip)
			pstart := strings.Index(text, "config firewall policy\n")
			if pstart < 0 {
				t.Fatal("no policy table")
			}
			type cut struct {
				what, flow string
				text       string
			}
			var cuts []cut
			for _, m := range policyBlock.FindAllStringSubmatchIndex(text[pstart:], -1) {
				cuts = append(cuts, cut{"policy", text[pstart+m[2] : pstart+m[3]], text[:pstart+m[0]] + text[pstart+m[1]:]})
			}
			for _, sec := range []string{"config firewall vip\n", "config firewall vip6\n"} {
				vs := strings.Index(text, sec)
				if vs < 0 {
					continue
				}
				ve := vs + strings.Index(text[vs:], "\nend\n")
				for _, m := range vipBlock.FindAllStringSubmatchIndex(text[vs:ve+1], -1) {
					name := text[vs+m[2] : vs+m[3]]
					rest := text[:vs+m[0]] + text[vs+m[1]:]
					rest = strings.ReplaceAll(rest, ` "`+name+`"`, "")
					cuts = append(cuts, cut{"vip " + name, text[vs+m[4] : vs+m[5]], rest})
				}
			}
			if len(cuts) == 0 {
				t.Fatal("nothing to take out")
			}
			broke := 0
			for _, k := range cuts {
				rep := readback.Audit(t, load(t, k.text, pins), in)
				var proto, ports string
				named, still := false, false
				for _, f := range rep.Flows {
					if f.Service+"/"+f.Flow == k.flow {
						named, still = true, f.Verdict == audit.Allowed
						proto, ports = f.Proto, f.Ports
					}
				}
				if !named {
					t.Fatalf("%s names flow %s, which the audit does not know", k.what, k.flow)
				}
				standIn := false
				for _, f := range rep.Flows {
					if f.Service+"/"+f.Flow == k.flow || gone[f.Service+"/"+f.Flow] {
						continue
					}
					if f.Proto == proto && fmt.Sprint(f.Ports) == ports {
						standIn = true
					}
					if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped && !(f.Proto == proto && f.Ports == ports) {
						t.Errorf("without %s of %s, %s/%s is %s: %s", k.what, k.flow, f.Service, f.Flow, f.Verdict, f.Summary)
					}
				}
				if still && !standIn {
					t.Errorf("without %s, %s is still allowed", k.what, k.flow)
				}
				if !still {
					broke++
				}
			}
			if broke == 0 {
				t.Fatalf("%d objects taken out, none broke its flow", len(cuts))
			}
			t.Logf("%d policies and VIPs taken out one at a time, %d broke their flow and nothing else", len(cuts), broke)
		})
	}
}

// TestConstraintsReadBack: TW Solutions' script, read back, keeps its UDP
// bindings as long as the document asks (the session-ttl port entries it
// writes); as a bare script it does not show the SIP ALG, which the audit
// then leaves unknown rather than passing; with the backup's settings in
// front (kernel-helper-based, the SIP session helper deleted) the ALG
// check passes, and with the factory's SIP session helper it fails at
// that helper's line.
func TestConstraintsReadBack(t *testing.T) {
	lab := targettest.LabCatalog(t)
	var c targettest.Case
	for _, x := range targettest.GatewayCases {
		if x.Name == "tw-solutions" {
			c = x
		}
	}
	in, pins := c.InputOn(t, lab, lanIf, wanIf)
	text := write(t, in)
	status := func(text string) map[string]audit.ConstraintResult {
		rs := load(t, text, pins)
		a, err := audit.New(rs, in.Site)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]audit.ConstraintResult{}
		for _, r := range a.Audit(in.Rules, in.Skips, audit.Options{Constraints: in.Constraints}).Constraints {
			out[r.Kind] = r
		}
		return out
	}
	got := status(text)
	if r := got["nat-timeout"]; r.Status != audit.ConstraintOK {
		t.Errorf("nat-timeout: %s: %s", r.Status, r.Why)
	}
	if r := got["alg-off"]; r.Status == audit.ConstraintFail {
		t.Errorf("alg-off on a bare script: %s: %s", r.Status, r.Why)
	}
	backup := "#config-version=FGT60F-7.2.5-FW-build1517-230606:opmode=0:vdom=0:user=admin\n" + text
	if r := status(backup)["alg-off"]; r.Status != audit.ConstraintOK {
		t.Errorf("alg-off, helper deleted: %s: %s", r.Status, r.Why)
	}
	helper := strings.Replace(backup, "config system settings\n", "config system session-helper\n    edit 13\n        set name sip\n        set protocol 17\n        set port 5060\n    next\nend\nconfig system settings\n", 1)
	if r := status(helper)["alg-off"]; r.Status != audit.ConstraintFail || r.Rule == nil || r.Rule.Line == 0 {
		t.Errorf("alg-off with the SIP session helper: %s (%v): %s", r.Status, r.Rule, r.Why)
	}
}
