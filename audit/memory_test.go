package audit

import (
	"reflect"
	"runtime"
	"slices"
	"testing"

	"github.com/portolan/portolan/internal/testenv"
)

// Issue 9: what an auditor of the synthetic rulesets of 10k rules holds
// per rule once compiled, its ruleset's terms dropped (the CLI's state
// while it audits), and what auditing every planned flow then allocates
// per rule.
//
// Held: about 650 and 550 bytes (nft JSON, iptables-save) before the rules
// of the other family were left out of each program and one-value sets
// shared, 419 and 459 after, 353 and 407 once compiled rules held their
// sets by pointer (88 bytes a compiled rule instead of 152).
//
// Allocated auditing: 3,556 and 5,714 bytes when a rule's matched parts
// copied and indexed their region's holes and each step of the
// evaluation made its own list of outcomes; 1,828 and 2,381 since they
// share them, the outcomes go to one list per run, and only the regions
// of the parts a report gives are written as cubes.
func TestMemoryPerRule(t *testing.T) {
	rules, skips, err := planAll()
	if err != nil {
		t.Fatal(err)
	}
	const n = 10000
	for _, tt := range []struct {
		format         string
		synth          func(int) []byte
		held, auditing float64
	}{
		{"nft-json", synthNftJSON, 450, 2300},
		{"iptables-save", synthIptables, 450, 3000},
	} {
		t.Run(tt.format, func(t *testing.T) {
			// A copy of its own size: the generator's buffer is larger.
			data := slices.Clone(tt.synth(n))
			var m0, m1 runtime.MemStats
			// Twice: encoding/json's pooled buffer (the generator's)
			// outlives one collection in the pool's victim cache.
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&m0)
			rs, err := Load("x", data, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(rs, benchSite)
			if err != nil {
				t.Fatal(err)
			}
			a.DropTerms()
			runtime.GC()
			runtime.ReadMemStats(&m1)
			runtime.KeepAlive(data) // held counts the auditor, beside the input
			held := float64(m1.HeapAlloc-min(m1.HeapAlloc, m0.HeapAlloc)) / n
			total, _ := testenv.Allocs(func() any { return a.Audit(rules, skips, Options{}) })
			auditing := float64(total) / n
			t.Logf("%.0f bytes held per rule, %.0f allocated per rule auditing", held, auditing)
			if held > tt.held {
				t.Errorf("%.0f bytes held per rule, want at most %.0f", held, tt.held)
			}
			if auditing > tt.auditing {
				t.Errorf("%.0f bytes allocated per rule auditing, want at most %.0f", auditing, tt.auditing)
			}
		})
	}
}

// Issue 9: an evaluation shared by flows is kept until the last of them is
// done, not to the end of the audit; a second audit reads the same.
func TestEvaluationsFreed(t *testing.T) {
	rules, skips, err := planAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		format string
		data   []byte
	}{
		{"nft-json", synthNftJSON(1000)},
		{"iptables-save", synthIptables(1000)},
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
			first := a.Audit(rules, skips, Options{})
			if len(a.cache) != 0 || len(a.uses) != 0 {
				t.Errorf("after the audit, %d evaluations held (%d counted)", len(a.cache), len(a.uses))
			}
			if again := a.Audit(rules, skips, Options{}); !reflect.DeepEqual(first, again) {
				t.Errorf("a second audit differs")
			}
		})
	}
}
