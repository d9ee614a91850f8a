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
// of the parts a report gives are written as cubes; 616 and 771 since
// outcomes are tallied into the groups a report can list as they are
// decided, not listed (allocations: 5.7 and 7.1 a rule, were 15.9 and
// 23.3).
func TestMemoryPerRule(t *testing.T) {
	rules, skips, err := planAll()
	if err != nil {
		t.Fatal(err)
	}
	const n = 10000
	for _, tt := range []struct {
		format                 string
		synth                  func(int) []byte
		held, auditing, allocs float64
	}{
		{"nft-json", synthNftJSON, 450, 850, 7.5},
		{"iptables-save", synthIptables, 450, 1050, 9},
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
			runtime.ReadMemStats(&m0)
			total, _ := testenv.Allocs(func() any { return a.Audit(rules, skips, Options{}) })
			runtime.ReadMemStats(&m1)
			auditing := float64(total) / n
			allocs := float64(m1.Mallocs-m0.Mallocs) / n
			t.Logf("%.0f bytes held per rule, %.0f allocated per rule auditing in %.1f allocations", held, auditing, allocs)
			if held > tt.held {
				t.Errorf("%.0f bytes held per rule, want at most %.0f", held, tt.held)
			}
			if auditing > tt.auditing {
				t.Errorf("%.0f bytes allocated per rule auditing, want at most %.0f", auditing, tt.auditing)
			}
			if allocs > tt.allocs {
				t.Errorf("%.1f allocations per rule auditing, want at most %.1f", allocs, tt.allocs)
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

// Issue 9: what the evaluation of a flow holds once done, until the flows
// that share it are written: the groups of outcomes a report can list,
// not every outcome. The heaviest flows of the synthetic 10k rules (any
// port to any address, through every zone chain of the LAN) held 532,
// 439, 317 and 267 KB as lists of outcomes; tallied, 202, 56, 139 and 47
// KB (their first packets' holes, which the groups' regions share, most
// of it).
func TestEvaluationHolds(t *testing.T) {
	rules, _, err := planAll()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Load("x", synthIptables(10000), "iptables-save")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(rs, benchSite)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{MaxShadowed: 20, MaxParts: 40}
	n := 0
	for _, r := range rules {
		if r.Flow.ID != "arbitrary-tcp" && r.Flow.ID != "arbitrary-udp" {
			continue
		}
		n++
		_, held := testenv.Allocs(func() any {
			e, _ := a.evalCached(a.key(r, nil, opt), r, nil, opt, newShadows(opt.MaxShadowed))
			return e
		})
		_, list := testenv.Allocs(func() any {
			outs, _ := a.evalPath(r, nil, opt, newShadows(opt.MaxShadowed), false)
			return outs
		})
		t.Logf("%s IPv%d: %d bytes held (its outcomes as a list: %d)", r.Flow.ID, r.Match.Family, held, list)
		if held > 300<<10 {
			t.Errorf("%s IPv%d: %d bytes held, want at most %d", r.Flow.ID, r.Match.Family, held, 300<<10)
		}
	}
	if n != 4 {
		t.Fatalf("%d evaluations of the arbitrary flows, want 4", n)
	}
}
