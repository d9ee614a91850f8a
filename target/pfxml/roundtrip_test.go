package pfxml_test

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/pfxml"
	"github.com/portolan/portolan/target/targettest"
	"github.com/portolan/portolan/target/targettest/readback"
)

var products = []pfxml.Product{pfxml.PfSense, pfxml.OPNsense}

func readBack(t testing.TB, p pfxml.Product, doc, pins string) *ruleset.Ruleset {
	t.Helper()
	rs, err := p.Read("config.xml", []byte(doc))
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	if left := readback.Bind(t, rs, pins); len(left) > 0 {
		t.Fatalf("names the pins do not hold: %v", left)
	}
	return rs
}

func render(t testing.TB, p pfxml.Product, in *target.Input) string {
	t.Helper()
	s, _, err := pfxml.Render(p, in, false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func auditDoc(t testing.TB, p pfxml.Product, doc, pins string, in *target.Input) *audit.Report {
	t.Helper()
	return readback.Audit(t, readBack(t, p, doc, pins), in)
}

// TestRoundTrip: for every gateway case, the document each product's
// target writes, read back by its reader, (a) allows every flow of the
// plan and (b) gives every probe of the plan its verdict: the permitted
// packet space is the plan's, no more, no less.
func TestRoundTrip(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, p := range products {
		for _, c := range targettest.GatewayCases {
			for _, names := range []bool{false, true} {
				name := p.Name + "/" + c.Name
				if names {
					name += "/resolve-names"
				}
				t.Run(name, func(t *testing.T) { roundTrip(t, p, c, lab, names) })
			}
		}
	}
}

// roundTrip is TestRoundTrip for one case, with host names in the
// aliases or (resolveNames) the addresses they resolve to.
func roundTrip(t *testing.T, p pfxml.Product, c targettest.Case, lab string, resolveNames bool) {
	in, pins := c.InputOn(t, lab, "lan", "wan")
	doc, _, err := pfxml.Render(p, in, resolveNames)
	if err != nil {
		t.Fatal(err)
	}
	if resolveNames {
		root, err := pfxml.Parse("out.xml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		walk(root, "", func(path string, n *pfxml.Node) {
			if n.Name == "address" || n.Name == "content" {
				for _, e := range strings.Fields(n.Text) {
					if strings.Contains(e, ".") && !strings.Contains(e, ":") && !ipOrPrefix(e) {
						t.Errorf("--resolve-names: line %d: host name %s written", n.Line, e)
					}
				}
			}
		})
	}
	rep := auditDoc(t, p, doc, pins, in)
	n := 0
	for _, f := range rep.Flows {
		if c.Name == "forward-order" {
			// Overlapping forwards to two hosts: the first wins, the
			// others are partial or blocked by design (the plan warns);
			// the probes below say where each packet goes.
			n++
			continue
		}
		if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped {
			t.Errorf("%s/%s %s %s: %s: %s", f.Service, f.Flow, f.Proto, f.Ports, f.Verdict, f.Summary)
		}
		if f.Verdict == audit.Allowed {
			n++
		}
	}
	if n == 0 {
		t.Fatal("no flow allowed: the test tested nothing")
	}
	if got := readback.Probes(t, readBack(t, p, doc, pins), in); got == 0 {
		t.Error("no probe")
	}
}

func ipOrPrefix(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// block is one <rule> (filter or NAT) or <alias> the target wrote; the
// rule's descr or the alias's descr names the flow(s).
var block = regexp.MustCompile(`(?s)\n\t*(?:<!--[^>]*-->\n\t*)?<(rule|alias)[ >].*?</(?:rule|alias)>`)

var flowRef = regexp.MustCompile(`(?:portolan|also) ([a-z0-9-]+)/([a-z0-9-]+)`)

// TestRemovingOneBreaksItsFlows: take one rule, NAT rule or alias out of
// the written document, read it back, and exactly the flows it served
// are no longer allowed; every other flow still is (but flows whose
// packets another flow opens too: same protocol and ports).
func TestRemovingOneBreaksItsFlows(t *testing.T) {
	lab := targettest.LabCatalog(t)
	for _, p := range products {
		for _, c := range targettest.GatewayCases {
			switch c.Name {
			case "tw-solutions", "starface-all", "starface-scenario1-v6", "pexip-sbc-h323":
			default:
				continue
			}
			t.Run(p.Name+"/"+c.Name, func(t *testing.T) {
				in, pins := c.InputOn(t, lab, "lan", "wan")
				doc := render(t, p, in)
				removed, broke := 0, 0
				for _, m := range block.FindAllStringSubmatchIndex(doc, -1) {
					text := doc[m[0]:m[1]]
					if doc[m[2]:m[3]] == "rule" && strings.Contains(text, "<staticnatport/>") {
						continue // outbound NAT: changes sources, not what passes
					}
					served := map[string]bool{}
					for _, r := range flowRef.FindAllStringSubmatch(text, -1) {
						served[r[1]+"/"+r[2]] = true
					}
					if len(served) == 0 {
						t.Fatalf("a block names no flow: %s", text)
					}
					cut := doc[:m[0]] + doc[m[1]:]
					rep := auditDoc(t, p, cut, pins, in)
					removed++
					// A served flow may stay allowed when another flow opens
					// the same packets (same protocol and ports): a stand-in.
					others := map[string]bool{}
					for _, f := range rep.Flows {
						if !served[f.Service+"/"+f.Flow] {
							others[f.Proto+fmt.Sprint(f.Ports)] = true
						}
					}
					sig := map[string]bool{}
					lost := false
					for _, f := range rep.Flows {
						ref := f.Service + "/" + f.Flow
						if !served[ref] {
							continue
						}
						sig[f.Proto+fmt.Sprint(f.Ports)] = true
						switch {
						case f.Verdict != audit.Allowed && f.Verdict != audit.Skipped:
							lost = true
						case !others[f.Proto+fmt.Sprint(f.Ports)]:
							t.Errorf("without %.200q…, %s is still allowed and no other flow opens its packets", text, ref)
						}
					}
					for _, f := range rep.Flows {
						ref := f.Service + "/" + f.Flow
						if served[ref] || sig[f.Proto+fmt.Sprint(f.Ports)] {
							continue
						}
						if f.Verdict != audit.Allowed && f.Verdict != audit.Skipped {
							t.Errorf("without %.200q…, %s is %s: %s", text, ref, f.Verdict, f.Summary)
						}
					}
					if lost {
						broke++
					}
				}
				if removed == 0 || broke == 0 {
					t.Fatalf("%d blocks taken out, %d broke their flows: the test tested nothing", removed, broke)
				}
				t.Logf("%d rules and aliases taken out one at a time, %d broke their flows and nothing else", removed, broke)
			})
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
