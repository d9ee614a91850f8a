package audit

import (
	"reflect"
	"testing"
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
