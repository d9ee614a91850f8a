package ruleset

import (
	"net/netip"
	"testing"
)

// Equal values share one set, whatever map holds them; different values
// never do (an address range, a port range and a number of the same bits
// are different values).
func TestInternerShares(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.9")
	vals := []Value{
		AddrValue(a, a), AddrValue(a, b), AddrValue(netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::1")),
		PortValue(80, 80), PortValue(0, 80), PortValue(80, 0), NumValue(80), NumValue(80 << 16), NumValue(0), NumValue(6),
		{Num: 1, NumHi: 9, NumIsRange: true}, {Num: 1, NumHi: 9}, NameValue("eth0", false), NameValue("eth0", true),
		{Lo: a, Hi: a, Num: 6}, {PLo: 1, PHi: 2, Num: 3},
	}
	var in Interner
	sets := make([][]Tuple, len(vals))
	for i, v := range vals {
		sets[i] = in.Single(DstPort, false, v).Set
		if got := sets[i][0][0]; got != v {
			t.Errorf("set of %+v holds %+v", v, got)
		}
	}
	for i, v := range vals {
		if again := in.Single(SrcAddr, true, v).Set; &again[0][0] != &sets[i][0][0] {
			t.Errorf("%+v: a second set", v)
		}
		for j := range i {
			if &sets[j][0][0] == &sets[i][0][0] {
				t.Errorf("%+v and %+v share a set", vals[j], v)
			}
		}
	}
}
