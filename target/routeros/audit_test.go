package routeros_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/routeros"
	"github.com/portolan/portolan/target/targettest"
	"github.com/portolan/portolan/target/targettest/readback"
)

// The platform's own interface names: the default configuration's LAN
// bridge and WAN port.
const lanIf, wanIf = "bridge", "ether1"

func write(t testing.TB, in *target.Input) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := (&routeros.Target{}).Write(&b, in); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// parse reads text back as portolan audit --hosts does.
func parse(t testing.TB, text, pins string) *ruleset.Ruleset {
	t.Helper()
	rs, _ := readback.Load(t, "portolan.rsc", text, routeros.Format, pins)
	return rs
}

func auditText(t testing.TB, text, pins string, in *target.Input) *audit.Report {
	t.Helper()
	return readback.Audit(t, parse(t, text, pins), in)
}

// TestRoundTrip: for every gateway case, the script written, read back
// as an export, (a) allows every flow of the plan, and (b) gives every
// probe of the plan its verdict: the ports opened, their neighbours, the
// addresses outside, the other family. Both with names kept as names
// (RouterOS resolves them; the audit binds the pins) and with
// --resolve-names.
func TestRoundTrip(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, resolveNames := range []bool{false, true} {
		for _, c := range targettest.GatewayCases {
			name := c.Name
			if resolveNames {
				name += "/resolve-names"
			}
			t.Run(name, func(t *testing.T) {
				target.ResolveNames = resolveNames
				defer func() { target.ResolveNames = false }()
				in, pins := c.InputOn(t, lab, lanIf, wanIf)
				text := write(t, in)
				if !resolveNames && strings.Contains(c.Name, "starleaf") && !strings.Contains(text, "address=acme.call.sl") {
					t.Error("the name acme.call.sl is not kept as a name in an address list")
				}
				rep := auditText(t, text, pins, in)
				for _, f := range rep.Flows {
					if c.Name == "forward-order" {
						// Overlapping forwards: the first that matches wins, as
						// the plan warns: 5060 goes to the PBX, 5061 to the SBC.
						want := map[string]audit.Verdict{"sbc-sip": audit.Partial, "pbx-tls": audit.Blocked}[strings.TrimSuffix(strings.TrimSuffix(f.Flow, "-udp"), "-tcp")]
						if want != "" {
							if f.Verdict != want {
								t.Errorf("%s/%s: %s, want %s (the first forward wins): %s", f.Service, f.Flow, f.Verdict, want, f.Summary)
							}
							continue
						}
					}
					if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped {
						t.Errorf("%s/%s %s %s: %s: %s", f.Service, f.Flow, f.Proto, f.Ports, f.Verdict, f.Summary)
					}
				}
				if n := readback.Probes(t, parse(t, text, pins), in); n == 0 {
					t.Error("no probe")
				}
			})
		}
	}
}

// flowRE finds the flow a filter or nat item stands for, by its comment.
var flowRE = regexp.MustCompile(`comment="portolan: ([^/" ]+)/([^ "]+) `)

// listRE finds the address list an item adds to or matches.
var listRE = regexp.MustCompile(`(?:^add list=|-address-list=)(\S+)`)

// TestRemovingAnItemBreaksItsFlows (c): take one item out of the script
// — a filter rule, a dst-nat rule, an address-list entry — read it back,
// and the flows it served are no longer allowed, while every other flow
// still is. The flows an item serves are read from the script: a rule's
// comment, or the comments of the rules that match the entry's list. A
// flow another flow's rule also opens (same protocol and ports) may stay.
func TestRemovingAnItemBreaksItsFlows(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		switch c.Name {
		case "starleaf", "starface-all", "starface-scenario1-v6", "tw-solutions":
		default:
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			in, pins := c.InputOn(t, lab, lanIf, wanIf)
			text := write(t, in)
			lines := strings.Split(text, "\n")
			// the flows of each list: the rules that match it
			listFlows := map[string]map[string]bool{}
			for _, l := range lines {
				if !strings.HasPrefix(l, "add chain=") {
					continue
				}
				m := flowRE.FindStringSubmatch(l)
				for _, lm := range listRE.FindAllStringSubmatch(l, -1) {
					if m == nil {
						continue
					}
					if listFlows[lm[1]] == nil {
						listFlows[lm[1]] = map[string]bool{}
					}
					listFlows[lm[1]][m[1]+"/"+m[2]] = true
				}
			}
			removed, broke := 0, 0
			for i, l := range lines {
				served := map[string]bool{}
				switch {
				case strings.HasPrefix(l, "add chain="):
					m := flowRE.FindStringSubmatch(l)
					if m == nil {
						continue // established, invalid, the final drop
					}
					served[m[1]+"/"+m[2]] = true
				case strings.HasPrefix(l, "add list="):
					m := listRE.FindStringSubmatch(l)
					served = listFlows[m[1]]
				default:
					continue
				}
				cut := strings.Join(append(append([]string{}, lines[:i]...), lines[i+1:]...), "\n")
				rep := auditText(t, cut, pins, in)
				removed++
				shares := map[string]string{} // proto ports → a flow served
				for _, f := range rep.Flows {
					if served[f.Service+"/"+f.Flow] {
						shares[f.Proto+" "+f.Ports] = f.Service + "/" + f.Flow
					}
				}
				lost := false
				for _, f := range rep.Flows {
					ref := f.Service + "/" + f.Flow
					switch {
					case served[ref]:
						if f.Verdict != audit.Allowed {
							lost = true
						}
					case f.Verdict != audit.Allowed && f.Verdict != audit.Skipped:
						if _, shared := shares[f.Proto+" "+f.Ports]; !shared {
							t.Errorf("line %d taken out (%s): %s is %s: %s", i+1, l, ref, f.Verdict, f.Summary)
						}
					}
				}
				standIn := false
				for _, f := range rep.Flows {
					if _, ok := shares[f.Proto+" "+f.Ports]; ok && !served[f.Service+"/"+f.Flow] {
						standIn = true
					}
				}
				switch {
				case lost:
					broke++
				case !standIn:
					t.Errorf("line %d taken out (%s): every flow it served is still allowed", i+1, l)
				default:
					t.Logf("line %d taken out: its flows have a stand-in: %.120s", i+1, l)
				}
			}
			if removed == 0 || broke == 0 {
				t.Fatalf("%d items taken out, %d broke their flows: the test tested nothing", removed, broke)
			}
			t.Logf("%d items taken out one at a time, %d broke their own flows (the others have a stand-in), none broke another", removed, broke)
		})
	}
}

// TestHostModeRefused: RouterOS filters what the router forwards; host
// mode is refused before any name is resolved.
func TestHostModeRefused(t *testing.T) {
	in, _ := targettest.HostCase(t)
	var sc target.SiteChecker = &routeros.Target{}
	if err := sc.CheckSite(in.Site, in.Options); err == nil || !strings.Contains(err.Error(), "--mode gateway") {
		t.Errorf("host mode: %v", err)
	}
	if _, err := (&routeros.Target{}).Write(&bytes.Buffer{}, in); err == nil {
		t.Error("Write took a host-mode input")
	}
}

// TestConstraints: the script's constraint commands, read back, satisfy
// the audit of tw-solutions' constraints (SIP ALG off, UDP bindings of
// 90 s); without the line that turns the SIP helper off, RouterOS's
// default (on) fails it; an export whose udp-stream-timeout is below the
// minimum fails the other.
func TestConstraints(t *testing.T) {
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
		a, err := audit.New(parse(t, text, pins), in.Site)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]audit.ConstraintResult{}
		for _, r := range a.Audit(in.Rules, in.Skips, audit.Options{Constraints: in.Constraints}).Constraints {
			out[r.Kind] = r
		}
		return out
	}
	for _, tc := range []struct {
		name, from, to string
		kind           string
		want           string
		why            string
	}{
		{"as written", "", "", "alg-off", audit.ConstraintOK, ""},
		{"as written", "", "", "nat-timeout", audit.ConstraintOK, "udp-stream-timeout"},
		{"sip helper left on", "set sip disabled=yes\n", "", "alg-off", audit.ConstraintFail, "sip (on by RouterOS's default)"},
		{"an export's lower timeout", "/ip firewall connection tracking\n", "/ip firewall connection tracking\nset udp-stream-timeout=1m\n", "nat-timeout", audit.ConstraintFail, "udp-stream-timeout\" (line"},
		{"the script's raise over it", "/ip firewall connection tracking\n", "/ip firewall connection tracking\nset udp-stream-timeout=00:01:00\n:if ([/ip firewall connection tracking get udp-stream-timeout] < [:totime \"120s\"]) do={ /ip firewall connection tracking set udp-stream-timeout=120s }\n", "nat-timeout", audit.ConstraintOK, "120s"},
	} {
		t.Run(tc.name+"/"+tc.kind, func(t *testing.T) {
			x := text
			if tc.from != "" {
				if !strings.Contains(x, tc.from) {
					t.Fatalf("the script has no %q", tc.from)
				}
				x = strings.Replace(x, tc.from, tc.to, 1)
				if strings.HasPrefix(tc.from, "/ip firewall connection tracking") {
					// the writer's own raises go: the test's lines decide
					x = x[:strings.Index(x, tc.to)+len(tc.to)]
				}
			}
			r, ok := status(x)[tc.kind]
			if !ok {
				t.Fatalf("no %s constraint audited", tc.kind)
			}
			if r.Status != tc.want || !strings.Contains(r.Why, tc.why) {
				t.Errorf("%s: %s: %s, want %s with %q", tc.kind, r.Status, r.Why, tc.want, tc.why)
			}
			// The fix is RouterOS's own command, not nft's.
			if tc.kind == "alg-off" && tc.want == audit.ConstraintFail && !strings.Contains(r.Fix, "/ip firewall service-port set sip disabled=yes") {
				t.Errorf("alg-off fix: %s", r.Fix)
			}
		})
	}
}

// hook is what a user adds once to jump to the --chain-only chains, in
// both families: after their accept of established packets, before their
// drop.
const hook = `
/%[1]s firewall filter
add chain=forward action=accept connection-state=established,related comment="mine: replies"
add chain=forward action=jump jump-target=portolan-forward comment="mine: jump to portolan"
add chain=forward action=drop comment="mine: the rest"
/%[1]s firewall nat
add chain=dstnat action=jump jump-target=portolan-dstnat comment="mine: jump to portolan"
`

// TestChainOnly: the --chain-only chains, jumped to as the header says
// from a user's own chain forward and dstnat, give the plan's verdicts:
// jump, the end of a user chain returning, the user's own drop.
func TestChainOnly(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, c := range targettest.GatewayCases {
		switch c.Name {
		case "starface-all", "starface-scenario1-v6", "tw-solutions", "pexip-sbc-h323":
		default:
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			c.Options.ChainOnly, c.Options.Table = true, "inet filter" // --table is nftables's, checked for every target
			in, pins := c.InputOn(t, lab, lanIf, wanIf)
			text := write(t, in)
			if strings.Contains(text, "\nadd chain=forward ") || !strings.Contains(text, "\nadd chain=portolan-forward ") {
				t.Fatal("--chain-only writes into chain forward")
			}
			// Alone, nothing hooks the chains in: RouterOS forwards every
			// outbound flow, and forwards no port.
			rep := auditText(t, text, pins, in)
			for _, f := range rep.Flows {
				want := audit.Allowed
				if f.Direction == "inbound" {
					want = audit.Blocked
				}
				if f.Verdict != want && f.Verdict != audit.Skipped {
					t.Errorf("without the jump: %s/%s is %s, want %s", f.Service, f.Flow, f.Verdict, want)
				}
			}
			text += fmt.Sprintf(hook, "ip") + fmt.Sprintf(hook, "ipv6")
			rep = auditText(t, text, pins, in)
			for _, f := range rep.Flows {
				if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped {
					t.Errorf("%s/%s %s %s: %s: %s", f.Service, f.Flow, f.Proto, f.Ports, f.Verdict, f.Summary)
				}
			}
			if n := readback.Probes(t, parse(t, text, pins), in); n == 0 {
				t.Error("no probe")
			}
		})
	}
}

// TestImportTwice: importing the script on a router that has it already
// replaces portolan's items and keeps the user's: read as RouterOS runs
// it (the removes of the second import take the first one's items), the
// export after two imports holds the same rules as after one, behind the
// user's own.
func TestImportTwice(t *testing.T) {
	lab := targettest.LabCatalog(t)
	in, pins := targettest.GatewayCases[2].InputOn(t, lab, lanIf, wanIf) // starface-all: lists, forwards, constraints
	text := write(t, in)
	mine := "/ip firewall filter\nadd chain=forward action=drop protocol=icmp src-address=192.0.2.66 comment=\"mine: a blocked host\"\n" +
		"/ip firewall address-list\nadd list=mine address=192.0.2.0/24 comment=\"mine\"\n"
	count := func(s string) (rules, entries int, first string) {
		rs, err := routeros.Parse("x.rsc", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rs.Chains {
			rules += len(c.Rules)
			if c.Family == "ip" && c.Name == "forward" && len(c.Rules) > 0 && first == "" {
				first = c.Rules[0].Pos.Text
			}
		}
		sc, _ := routeros.ParseScript("x.rsc", []byte(s))
		for _, c := range sc.Cmds {
			if c.Verb == "add" && strings.HasSuffix(c.Path, "address-list") {
				entries++
			}
		}
		return rules, entries, first
	}
	once, _, first := count(mine + text)
	twice, added, first2 := count(mine + text + text)
	// the second import's rules are read, not the first's: the same
	// number, and every flow still allowed
	rep := auditText(t, mine+text+text, pins, in)
	for _, f := range rep.Flows {
		if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped {
			t.Errorf("after two imports: %s/%s is %s: %s", f.Service, f.Flow, f.Verdict, f.Summary)
		}
	}
	if once != twice {
		t.Errorf("%d rules after one import, %d after two", once, twice)
	}
	if !strings.Contains(first, "mine: a blocked host") || first2 != first {
		t.Errorf("the user's rule is not first: %q, then %q", first, first2)
	}
	if added == 0 {
		t.Error("no address-list entry added: the test tested nothing")
	}
}
