package audit

import (
	"testing"

	"github.com/portolan/portolan/internal/testenv"
)

// Issue 9: what auditing every planned flow allocates against the
// synthetic rulesets of 10k rules, per rule (parse and compile apart):
// 3,556 bytes for nft JSON and 5,714 for iptables-save when a rule's
// matched parts copied and indexed their region's holes and each step of
// the evaluation made its own list of outcomes; 2,045 and 2,642 since they
// share them and the outcomes go to one list per run.
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
		{"nft-json", synthNftJSON(n), 2600},
		{"iptables-save", synthIptables(n), 3300},
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
