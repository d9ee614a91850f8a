package audit

import (
	"reflect"
	"testing"

	"github.com/portolan/portolan/internal/testenv"
)

// Issue 9: what auditing every planned flow allocates against the
// synthetic rulesets of 10k rules, per rule (parse and compile apart):
// 3,556 bytes for nft JSON and 5,714 for iptables-save when a rule's
// matched parts copied and indexed their region's holes and each step of
// the evaluation made its own list of outcomes; 1,828 and 2,381 since they
// share them, the outcomes go to one list per run, and only the regions of
// the parts a report gives are written as cubes.
func TestEvaluationAllocsPerRule(t *testing.T) {
	rules, skips, err := planAll()
	if err != nil {
		t.Fatal(err)
	}
	const n = 10000
	for _, tt := range []struct {
		format string
		data   []byte
		max    float64
	}{
		{"nft-json", synthNftJSON(n), 2300},
		{"iptables-save", synthIptables(n), 3000},
	} {
		t.Run(tt.format, func(t *testing.T) {
			rs, err := Load("x", tt.data, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(rs, benchSite)
			if err != nil {
				t.Fatal(err)
			}
			a.DropTerms()
			total, _ := testenv.Allocs(func() any { return a.Audit(rules, skips, Options{}) })
			perRule := float64(total) / n
			t.Logf("%.0f bytes allocated per rule", perRule)
			if perRule > tt.max {
				t.Errorf("%.0f bytes allocated per rule auditing, want at most %.0f", perRule, tt.max)
			}
		})
	}
}

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
