package fortigate_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/fortigate"
	"github.com/portolan/portolan/target/targettest"
	"github.com/portolan/portolan/target/targettest/readback"
)

// The lab gateway on a FortiGate's own interface names.
const lanIf, wanIf = "port1", "wan1"

func write(t testing.TB, in *target.Input) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := (fortigate.Target{}).Write(&b, in); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// load reads the script back as the audit does (detected, not forced),
// names bound from the case's pins.
func load(t testing.TB, text, pins string) *ruleset.Ruleset {
	t.Helper()
	rs, err := audit.Load("script.conf", []byte(text), audit.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Format != fortigate.Format {
		t.Fatalf("detected as %s", rs.Format)
	}
	h, err := resolve.ParseHosts("pins", strings.NewReader(pins))
	if err != nil {
		t.Fatal(err)
	}
	audit.ResolveNames(context.Background(), rs, h)
	return rs
}

func auditRS(t testing.TB, rs *ruleset.Ruleset, in *target.Input) *audit.Report {
	t.Helper()
	a, err := audit.New(rs, in.Site)
	if err != nil {
		t.Fatal(err)
	}
	return a.Audit(in.Rules, in.Skips, audit.Options{})
}

// TestRoundTrip: the script of every gateway case, read back by the
// reader, (a) allows every flow of the plan, and (b) permits the plan's
// packet space, no more and no less, on the kernel referee's probes.
func TestRoundTrip(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		t.Run(c.Name, func(t *testing.T) {
			in, pins := c.InputOn(t, lab, lanIf, wanIf)
			text := write(t, in)
			rs := load(t, text, pins)
			if c.Name != "forward-order" {
				// Overlapping forwards to two hosts: the first wins, the
				// later one is partial or blocked by design (the plan warns).
				for _, f := range auditRS(t, rs, in).Flows {
					if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped {
						t.Errorf("%s/%s %s %s: %s: %s", f.Service, f.Flow, f.Proto, f.Ports, f.Verdict, f.Summary)
					}
				}
			}
			if n := readback.Probes(t, rs, in); n == 0 {
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
				rep := auditRS(t, load(t, k.text, pins), in)
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
					if f.Service+"/"+f.Flow == k.flow {
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
