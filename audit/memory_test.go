package audit

import (
	"reflect"
	"runtime"
	"testing"
)

// Issue 9: what an auditor of the synthetic rulesets holds per rule once
// compiled, its ruleset's terms dropped (the CLI's state while it audits):
// about 650 and 550 bytes before the rules of the other family were left
// out of each program and one-value sets shared, 415 and 460 after.
func TestCompiledMemoryPerRule(t *testing.T) {
	const n = 10000
	for _, tt := range []struct {
		format string
		data   []byte
		max    float64
	}{
		{"nft-json", synthNftJSON(n), 550},
		{"iptables-save", synthIptables(n), 550},
	} {
		t.Run(tt.format, func(t *testing.T) {
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			rs, err := Load("x", tt.data, tt.format)
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
			runtime.KeepAlive(tt.data) // held counts the auditor, beside the input
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
