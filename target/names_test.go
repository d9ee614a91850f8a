package target_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/portolan/portolan/target"
)

func TestObjectName(t *testing.T) {
	alnum := func(r rune) bool { return r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') }
	long := strings.Repeat("x", 80)
	tests := []struct {
		max   int
		parts []string
		want  string
	}{
		{63, []string{"portolan", "starface", "s1-sip-in"}, "portolan-starface-s1-sip-in"},
		{63, []string{"portolan", "", "a b/c"}, "portolan-a-b-c"},
		{63, []string{"portolan", "hé llo", "--x--"}, "portolan-h-llo-x"},
		{20, []string{"portolan", long}, "portolan-xx-" + hashOf(t, alnum, long)},
	}
	for _, tc := range tests {
		got := target.ObjectName(tc.max, alnum, tc.parts...)
		if got != tc.want {
			t.Errorf("ObjectName(%d, %q) = %q, want %q", tc.max, tc.parts, got, tc.want)
		}
		if len(got) > tc.max {
			t.Errorf("%q longer than %d", got, tc.max)
		}
	}
	// Long names that differ only at the end stay distinct, and stable.
	a := target.ObjectName(30, alnum, "portolan", long+"a")
	b := target.ObjectName(30, alnum, "portolan", long+"b")
	if a == b || a != target.ObjectName(30, alnum, "portolan", long+"a") {
		t.Errorf("cut names: %q %q", a, b)
	}
}

// hashOf is the 8 hex digits ObjectName ends a cut name with, read from a
// cut of the same name: the test then checks only the cut and the join.
func hashOf(t *testing.T, allowed func(rune) bool, long string) string {
	s := target.ObjectName(20, allowed, "portolan", long)
	i := strings.LastIndexByte(s, '-')
	if i < 0 || len(s)-i-1 != 8 {
		t.Fatalf("cut name %q has no hash", s)
	}
	return s[i+1:]
}
