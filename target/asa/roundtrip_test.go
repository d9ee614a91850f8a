package asa_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/asa"
	"github.com/portolan/portolan/target/targettest"
	"github.com/portolan/portolan/target/targettest/readback"
)

func write(t testing.TB, in *target.Input) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := (asa.Target{}).Write(&b, in); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// load reads text back as portolan audit --hosts does; every fqdn object
// is resolved by the case's pins.
func load(t testing.TB, text, pins string) *ruleset.Ruleset {
	t.Helper()
	rs, left := readback.Load(t, "asa.txt", text, asa.Format, pins)
	if len(left) > 0 {
		t.Fatalf("names left: %q", left)
	}
	return rs
}

// conflicted are the flows whose port forward the plan itself gives to an
// earlier flow (policy.ForwardConflicts): they cannot be allowed anywhere.
func conflicted(in *target.Input) map[string]bool {
	out := map[string]bool{}
	for _, c := range policy.ForwardConflicts(in.Rules) {
		out[c.Second.Flow.Service+"/"+c.Second.Flow.ID] = true
	}
	return out
}

// TestRoundTrip: the configuration written for every gateway case, read
// back by the reader, (a) allows every flow of the plan, and (b) permits
// the plan's packet space: every probe around its ports and addresses gets
// the plan's verdict.
func TestRoundTrip(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		for _, resolveNames := range []bool{false, true} {
			name := c.Name
			if resolveNames {
				name += "/resolve-names"
			}
			t.Run(name, func(t *testing.T) {
				in, pins := c.InputOn(t, lab, "inside", "outside")
				target.ResolveNames = resolveNames
				text := write(t, in)
				target.ResolveNames = false
				if resolveNames && strings.Contains(text, "\n fqdn v") {
					t.Fatal("--resolve-names wrote fqdn objects")
				}
				rs := load(t, text, pins)
				skip := conflicted(in)
				n := 0
				for _, f := range readback.Audit(t, rs, in).Flows {
					if skip[f.Service+"/"+f.Flow] {
						continue
					}
					n++
					if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped {
						t.Errorf("%s/%s %s %s: %s: %s", f.Service, f.Flow, f.Proto, f.Ports, f.Verdict, f.Summary)
					}
				}
				if n == 0 {
					t.Fatal("no flow audited")
				}
				if p := readback.Probes(t, rs, in); p == 0 {
					t.Error("no probe")
				}
			})
		}
	}
}

// entry is one removable piece of the written text: an access list entry
// (with the remark before it naming its flow) or a NAT object or line.
var (
	aceRE    = regexp.MustCompile(`(?m)^access-list \S+ remark (\S+)/(\S+) .*\n((?:access-list \S+ extended .*\n)+)`)
	objNatRE = regexp.MustCompile(`(?m)^object network \S+\n host \S+\n description (\S+)/(\S+) .*\n nat .*\n`)
	twiceRE  = regexp.MustCompile(`(?m)^nat \(\S+\) source static .* description (\S+)/(\S+) .*\n`)
)

// TestRemovingBreaksItsFlow: taking one access list entry or one NAT
// entry out of the written text breaks exactly the flows it served: that
// flow is no longer allowed (unless another flow opens the same packets),
// and every other flow still is.
func TestRemovingBreaksItsFlow(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		switch c.Name {
		case "starleaf", "starface-all", "starface-scenario1-v6", "pexip-sbc-h323", "tw-solutions":
		default:
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			in, pins := c.InputOn(t, lab, "inside", "outside")
			text := write(t, in)
			removed, broke := 0, 0
			for i, re := range []*regexp.Regexp{aceRE, objNatRE, twiceRE} {
				for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
					svc, flow := text[m[2]:m[3]], text[m[4]:m[5]]
					// A NAT entry serves every flow forwarded to the same
					// host on its ports: they may break with it.
					shares := map[string]bool{}
					if i > 0 {
						shares = sharedForward(in, svc, flow)
					}
					cut := text[:m[0]] + text[m[1]:]
					rep := readback.Audit(t, load(t, cut, pins), in)
					removed++
					var proto, ports string
					var still, named bool
					for _, f := range rep.Flows {
						if f.Service == svc && f.Flow == flow {
							named, still = true, f.Verdict == audit.Allowed
							proto, ports = f.Proto, f.Ports
						}
					}
					if !named {
						t.Fatalf("entry of %s/%s names no audited flow", svc, flow)
					}
					standIn := false
					for _, f := range rep.Flows {
						switch {
						case f.Service == svc && f.Flow == flow:
						case shares[f.Service+"/"+f.Flow]:
						case f.Proto == proto && f.Ports == ports:
							standIn = true
							fallthrough
						default:
							if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped {
								t.Errorf("without an entry of %s/%s, %s/%s is %s: %s", svc, flow, f.Service, f.Flow, f.Verdict, f.Summary)
							}
						}
					}
					if still && !standIn {
						t.Errorf("without its entry %q, %s/%s is still allowed", strings.SplitN(text[m[0]:m[1]], "\n", 3)[1], svc, flow)
					}
					if !still {
						broke++
					}
				}
			}
			if removed == 0 || broke == 0 {
				t.Fatalf("%d entries taken out, %d broke their flow: the test tested nothing", removed, broke)
			}
			t.Logf("%d entries taken out one at a time, %d broke their flow and nothing else", removed, broke)
		})
	}
}

// sharedForward lists the flows whose port forwards go to the same host
// on the same family, protocol and some of the same ports as flow's.
func sharedForward(in *target.Input, svc, flow string) map[string]bool {
	out := map[string]bool{}
	for _, a := range in.Rules {
		if a.Hook != policy.Prerouting || a.Flow.Service != svc || a.Flow.ID != flow {
			continue
		}
		for _, b := range in.Rules {
			if b.Hook == policy.Prerouting && b.DNAT == a.DNAT && b.Match.Family == a.Match.Family && b.Match.Proto == a.Match.Proto &&
				!b.Match.DstPorts.Intersect(a.Match.DstPorts).Empty() {
				out[b.Flow.Service+"/"+b.Flow.ID] = true
			}
		}
	}
	return out
}

// TestHostModeRefused: an ASA has no host rules for a service of its own.
func TestHostModeRefused(t *testing.T) {
	err := (asa.Target{}).CheckSite(policy.Site{Mode: policy.Host}, target.Options{})
	if err == nil || !strings.Contains(err.Error(), "gateway rules only") {
		t.Fatalf("CheckSite(host) = %v", err)
	}
	if err := (asa.Target{}).CheckSite(policy.Site{Mode: policy.Gateway, WANIf: "inside"}, target.Options{}); err == nil {
		t.Error("the LAN and the WAN on one interface accepted")
	}
	in, _ := targettest.HostCase(t)
	if _, err := (asa.Target{}).Write(&bytes.Buffer{}, in); err == nil {
		t.Fatal("host mode written")
	}
}

// groupRE is an object group the writer made for a host set, memberRE
// one of its members, remarkRE the remark that names an entry's flow.
var (
	groupRE  = regexp.MustCompile(`(?m)^object-group network (\S+)\n description .*\n((?: network-object .*\n)+)`)
	memberRE = regexp.MustCompile(`(?m)^ network-object .*\n`)
	remarkRE = regexp.MustCompile(`(?m)^access-list \S+ remark (\S+) `)
)

// TestRemovingAnObjectBreaksItsFlows: taking one member (an address or an
// fqdn object) out of a host set's object group breaks the flows whose
// entries use that group, and only those.
func TestRemovingAnObjectBreaksItsFlows(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		switch c.Name {
		case "starleaf", "tw-solutions", "starface-scenario1-v6":
		default:
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			in, pins := c.InputOn(t, lab, "inside", "outside")
			text := write(t, in)
			// The flows of the entries that name each group.
			users := map[string]map[string]bool{}
			flow := ""
			for _, l := range strings.Split(text, "\n") {
				if m := remarkRE.FindStringSubmatch(l); m != nil {
					flow = m[1]
					continue
				}
				for _, f := range strings.Fields(l) {
					if strings.HasPrefix(l, "access-list ") && strings.HasPrefix(f, "portolan-") {
						if users[f] == nil {
							users[f] = map[string]bool{}
						}
						users[f][flow] = true
					}
				}
			}
			removed, broke := 0, 0
			for _, g := range groupRE.FindAllStringSubmatchIndex(text, -1) {
				group := text[g[2]:g[3]]
				if len(users[group]) == 0 || strings.HasPrefix(group, "portolan-lan-") {
					continue // unused, or the LAN's group, which every outbound flow uses
				}
				body := text[g[4]:g[5]]
				for _, m := range memberRE.FindAllStringIndex(body, -1) {
					cut := text[:g[4]+m[0]] + text[g[4]+m[1]:]
					rep := readback.Audit(t, load(t, cut, pins), in)
					removed++
					anyBroke := false
					for _, f := range rep.Flows {
						ref := f.Service + "/" + f.Flow
						if users[group][ref] {
							if f.Verdict != audit.Allowed {
								anyBroke = true
							}
							continue
						}
						if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped {
							t.Errorf("without %q in %s, %s is %s: %s", strings.TrimSpace(body[m[0]:m[1]]), group, ref, f.Verdict, f.Summary)
						}
					}
					if anyBroke {
						broke++
					} else {
						t.Errorf("without %q in %s, every flow of it is still allowed", strings.TrimSpace(body[m[0]:m[1]]), group)
					}
				}
			}
			if removed == 0 {
				t.Fatal("no group member taken out")
			}
			t.Logf("%d group members taken out one at a time, %d broke their group's flows and nothing else", removed, broke)
		})
	}
}
