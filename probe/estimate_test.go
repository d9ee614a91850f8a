package probe

import (
	"testing"
	"time"
)

// TestNATDuration: the expected length of a nat-timeout check, from its
// plan: the quick trial, and a measurement's worst case.
func TestNATDuration(t *testing.T) {
	g := natGrace
	for _, tc := range []struct {
		quick            bool
		least, maxD      time.Duration
		typical, longest time.Duration
	}{
		{true, 90 * time.Second, 0, 90*time.Second + g, 90*time.Second + g},
		// Waves 1,2,4,8 | 16,32,64,128 | 180: 316 s and three graces when
		// every binding lives; at worst the lifetime lies just under
		// 180 s: three more waves of 169.6, 177.92 and 179.584 s.
		{false, 90 * time.Second, 180 * time.Second, 316*time.Second + 3*g, 316*time.Second + 3*g + 527104*time.Millisecond + 3*g},
		// 1,2,3: gone at 3 after 2 alive needs no split (1 s wide).
		{false, 0, 3 * time.Second, 3*time.Second + g, 3*time.Second + g},
	} {
		typical, longest := natDuration(tc.quick, tc.least, tc.maxD)
		if typical != tc.typical || longest != tc.longest {
			t.Errorf("natDuration(%v, %s, %s) = %s, %s; want %s, %s", tc.quick, tc.least, tc.maxD, typical, longest, tc.typical, tc.longest)
		}
	}
}
