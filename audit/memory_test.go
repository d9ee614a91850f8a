package audit

import (
	"reflect"
	"runtime"
	"slices"
	"testing"
)

// Issue 9: what an auditor of the synthetic rulesets holds per rule once
// compiled, its ruleset's terms dropped (the CLI's state while it audits):
// about 650 and 550 bytes before the rules of the other family were left
// out of each program and one-value sets shared, 419 and 459 after, 353
// and 407 once compiled rules held their sets by pointer (88 bytes a
// compiled rule instead of 152).
func TestCompiledMemoryPerRule(t *testing.T) {
	const n = 10000
	for _, tt := range []struct {
		format string
		synth  func(int) []byte
		max    float64
	}{
		{"nft-json", synthNftJSON, 450},
		{"iptables-save", synthIptables, 450},
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
			runtime.KeepAlive(a)
			runtime.KeepAlive(data) // held counts the auditor, beside the input
			perRule := float64(m1.HeapAlloc-min(m1.HeapAlloc, m0.HeapAlloc)) / n
			t.Logf("%.0f bytes held per rule", perRule)
			if perRule > tt.max {
				t.Errorf("%.0f bytes held per rule, want at most %.0f", perRule, tt.max)
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
