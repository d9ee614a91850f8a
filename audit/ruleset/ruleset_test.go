package ruleset

import (
	"testing"
	"unsafe"
)

// A ruleset may hold 100k rules, and the audit keeps them all while it
// evaluates (reports name them): what few rules have stays out of the
// struct, in Extras.
func TestRuleSize(t *testing.T) {
	if s := unsafe.Sizeof(Rule{}); s > 144 {
		t.Errorf("a Rule is %d bytes, want at most 144", s)
	}
}

// Unknown conditions and a verdict map live in the extras, made when the
// first is added.
func TestRuleExtras(t *testing.T) {
	var r Rule
	r.AddUnknown()
	if r.Unknown() != nil || r.Map() != nil || r.X != nil {
		t.Fatal("a new rule has extras")
	}
	r.AddUnknown("a", "b")
	r.AddUnknown("c")
	if got := r.Unknown(); len(got) != 3 || got[2] != "c" || r.X == nil {
		t.Errorf("unknown %q", got)
	}
	m := &VMap{Fields: One(DstPort)}
	r.Ext().Map = m
	if r.Map() != m {
		t.Error("the map is not the rule's")
	}
}
