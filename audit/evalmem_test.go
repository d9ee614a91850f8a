package audit

import (
	"reflect"
	"testing"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
)

// TestPartsWrittenWhenReported: the regions of a flow are written as
// cubes only for the groups whose parts are reported; the parts of a
// report with few of them are the first of one with all, and the verdicts
// are the same.
func TestPartsWrittenWhenReported(t *testing.T) {
	rules, skips, err := planAll()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Load("x", synthIptables(1000), "iptables-save")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(rs, benchSite)
	if err != nil {
		t.Fatal(err)
	}
	few := a.Audit(rules, skips, Options{MaxParts: 3})
	all := a.Audit(rules, skips, Options{MaxParts: 1 << 20})
	more := 0
	for i := range few.Flows {
		f, g := few.Flows[i], all.Flows[i]
		if f.Verdict != g.Verdict || f.Flow != g.Flow {
			t.Fatalf("flow %s: verdict %s with 3 parts, %s with all", f.Flow, f.Verdict, g.Verdict)
		}
		if len(g.Parts) > 3 {
			more++
		}
		if want := g.Parts[:min(3, len(g.Parts))]; !reflect.DeepEqual(f.Parts, want) {
			t.Fatalf("flow %s: parts %+v, want the first of all: %+v", f.Flow, f.Parts, want)
		}
	}
	if more == 0 {
		t.Fatal("no flow has more than 3 parts: the test tests nothing")
	}
}

// TestPartsOfEvaluationsAlike: an evaluation keeps only the groups of
// outcomes a report can list, the first of each kind; where two
// evaluations of one family and hook may share a group (a flow of two
// plan rules there, one for its low ports and one for the others), the
// parts listed are still the first of all, whole.
func TestPartsOfEvaluationsAlike(t *testing.T) {
	// Two rules for the high ports come before the one both halves meet:
	// the evaluation of the high ports alone keeps not its group, with
	// two parts listed.
	text := filter("ACCEPT",
		"-A FORWARD -p tcp -d 198.51.100.3 --dport 1000:65535 -j DROP",
		"-A FORWARD -p tcp -d 198.51.100.4 --dport 1000:65535 -j DROP",
		"-A FORWARD -p tcp -d 198.51.100.1 --dport 0:999 -j DROP",
		"-A FORWARD -p tcp -d 198.51.100.2 -j DROP")
	f := &resolve.Concrete{Flow: resolve.Flow{Service: "x", ID: "any", Direction: "outbound", Proto: model.TCP}}
	var rules []policy.Rule
	for _, ports := range []model.PortRange{{Lo: 0, Hi: 999}, {Lo: 1000, Hi: 65535}} {
		rules = append(rules, policy.Rule{Hook: policy.Forward, Flow: f,
			Match: policy.Match{Family: 4, Proto: model.TCP, DstPorts: model.NewPortSet(ports)}})
	}
	all := flow(t, run(t, text, gateway, rules, nil, Options{MaxParts: 1 << 20}), "any")
	if len(all.Parts) < 4 || all.Parts[1].Dst != "198.51.100.2" || all.Parts[1].DstPorts != "any" {
		t.Fatalf("parts %+v, want the drop to 198.51.100.2 second, of any port", all.Parts)
	}
	for max := 1; max <= 4; max++ {
		few := flow(t, run(t, text, gateway, rules, nil, Options{MaxParts: max}), "any")
		if few.Verdict != all.Verdict {
			t.Errorf("verdict %s with %d parts, %s with all", few.Verdict, max, all.Verdict)
		}
		if want := all.Parts[:max]; !reflect.DeepEqual(few.Parts, want) {
			t.Errorf("%d parts: %+v, want the first of all: %+v", max, few.Parts, want)
		}
	}
}
