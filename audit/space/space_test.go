package space

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/portolan/portolan/model"
)

// The set operations are checked against plain bitmaps over a small
// universe (the first 64 IPv4 addresses, ports 0-63).

func randAddrs(r *rand.Rand) (Addrs, uint64) {
	var rs []Range
	var bits uint64
	for i := 0; i < r.IntN(4); i++ {
		lo := uint64(r.IntN(64))
		hi := lo + uint64(r.IntN(int(64-lo)))
		rs = append(rs, Range{U128{0, lo}, U128{0, hi}})
		for x := lo; x <= hi; x++ {
			bits |= 1 << x
		}
	}
	return AddrsOf(rs...), bits
}

func bitsOf(a Addrs) uint64 {
	var bits uint64
	for _, r := range a.Ranges() {
		if r.Lo.Hi != 0 || r.Hi.Hi != 0 || r.Hi.Lo > 63 {
			panic("out of the small universe")
		}
		for x := r.Lo.Lo; x <= r.Hi.Lo; x++ {
			bits |= 1 << x
		}
	}
	return bits
}

func wellFormed(t *testing.T, a Addrs) {
	t.Helper()
	rs := a.Ranges()
	for i, r := range rs {
		if r.Hi.Less(r.Lo) {
			t.Fatalf("reversed range %v", r)
		}
		if i > 0 && !rs[i-1].Hi.Next().Less(r.Lo) {
			t.Fatalf("ranges %v and %v touch or overlap", rs[i-1], r)
		}
	}
}

func TestAddrsAgainstBitmaps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	small := Addrs{[]Range{{U128{}, U128{0, 63}}}}
	for i := 0; i < 5000; i++ {
		a, x := randAddrs(r)
		b, y := randAddrs(r)
		for _, s := range []Addrs{a, b} {
			wellFormed(t, s)
		}
		if got := bitsOf(a.Intersect(b)); got != x&y {
			t.Fatalf("%v ∩ %v = %b, want %b", a, b, got, x&y)
		}
		if got := bitsOf(a.Subtract(b)); got != x&^y {
			t.Fatalf("%v \\ %v = %b, want %b", a, b, got, x&^y)
		}
		if got := bitsOf(a.Union(b)); got != x|y {
			t.Fatalf("%v ∪ %v = %b, want %b", a, b, got, x|y)
		}
		if got := bitsOf(small.Subtract(a)); got != ^x {
			t.Fatalf("complement of %v = %b", a, got)
		}
		if a.Overlaps(b) != (x&y != 0) {
			t.Fatalf("Overlaps(%v, %v) = %v", a, b, a.Overlaps(b))
		}
		if a.SubsetOf(b) != (x&^y == 0) {
			t.Fatalf("SubsetOf(%v, %v) = %v", a, b, a.SubsetOf(b))
		}
		for p := uint64(0); p < 64; p++ {
			if a.Contains(U128{0, p}) != (x&(1<<p) != 0) {
				t.Fatalf("Contains(%v, %d)", a, p)
			}
		}
		wellFormed(t, a.Intersect(b))
		wellFormed(t, a.Subtract(b))
		wellFormed(t, a.Union(b))
	}
}

func TestAddrsEdges(t *testing.T) {
	all6 := AllAddrs(6)
	top := Single(netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
	if !top.SubsetOf(all6) || all6.Subtract(top).Contains(FromAddr(netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))) {
		t.Error("the last IPv6 address")
	}
	if got := all6.Subtract(all6); !got.Empty() {
		t.Errorf("all minus all = %v", got)
	}
	// Adjacent ranges at a 64-bit boundary merge.
	a := AddrsOf(PrefixRange(netip.MustParsePrefix("2001:db8::/64")), PrefixRange(netip.MustParsePrefix("2001:db8:0:1::/64")))
	if len(a.Ranges()) != 1 || a.Format(6) != "2001:db8::/63" {
		t.Errorf("adjacent /64s: %v", a.Format(6))
	}
	for _, tt := range []struct {
		in   []string
		fam  int
		want string
	}{
		{[]string{"192.0.2.0/24"}, 4, "192.0.2.0/24"},
		{[]string{"192.0.2.10/32", "192.0.2.11/32"}, 4, "192.0.2.10/31"},
		{[]string{"0.0.0.0/0"}, 4, "any"},
		{[]string{"192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/30"}, 4, "192.0.2.1-192.0.2.7"},
		{[]string{"2001:db8::1/128"}, 6, "2001:db8::1"},
	} {
		var ps []netip.Prefix
		for _, s := range tt.in {
			ps = append(ps, netip.MustParsePrefix(s))
		}
		if got := FromPrefixes(ps).Format(tt.fam); got != tt.want {
			t.Errorf("Format(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := AllAddrs(4).Pick(4); got.String() != "203.0.113.1" {
		t.Errorf("witness from any = %v", got)
	}
	if got := FromPrefixes([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}).Pick(4); got.String() != "192.0.2.1" {
		t.Errorf("witness from a /24 = %v", got)
	}
	if got := Single(netip.MustParseAddr("192.0.2.0")).Pick(4); got.String() != "192.0.2.0" {
		t.Errorf("witness from one address = %v", got)
	}
}

func TestIfaces(t *testing.T) {
	u := NewIfaces([]string{"lan0", "wan0", "eth1"}, []string{"eth", "e", "ppp"}, []string{"site0"})
	// every name gets a class, and names that match the same rules share one
	same := func(a, b string) bool {
		x, _ := u.Class(a)
		y, _ := u.Class(b)
		return x == y
	}
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"lan0", "wan0", false},
		{"eth7", "eth9", true},
		{"eth1", "eth7", false}, // eth1 is compared with exactly
		{"eth7", "em0", false},  // em0 matches e* only
		{"em0", "ex1", true},
		{"ppp0", "eth7", false},
		{"site0", "zz9", true}, // the site's name matches no rule
		{"lo", "zz9", false},   // the loopback stands apart
		{"", "zz9", false},     // no interface stands apart
	} {
		if got := same(tt.a, tt.b); got != tt.same {
			t.Errorf("%q and %q in one class: %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
	eth := u.Match("eth", true)
	for _, n := range []string{"eth1", "eth7"} {
		if !u.Of(n).SubsetOf(eth) {
			t.Errorf("%s not in eth*", n)
		}
	}
	if u.Of("em0").Overlaps(eth) || u.Of("").Overlaps(eth) {
		t.Error("em0 or no interface in eth*")
	}
	if !u.Of("em0").SubsetOf(u.Match("e", true)) {
		t.Error("em0 not in e*")
	}
	real := u.Real()
	if real.Overlaps(u.Of("")) || real.Overlaps(u.Of("lo")) || !u.Of("site0").SubsetOf(real) {
		t.Error("Real() holds no interface or the loopback, or lacks a real one")
	}
	// a name must also have a class when it is long
	if _, ok := u.Class("averyveryverylong"); !ok {
		t.Error("no class for an unseen name")
	}
}

// TestIfSetNext: Next steps through the classes of a set as Classes
// lists them, over words of 64 classes.
func TestIfSetNext(t *testing.T) {
	for _, w := range [][]uint64{nil, {0}, {1}, {1 << 63}, {0b1011, 0, 1<<5 | 1<<63}, {0, 0, 1}} {
		s := IfSet{w}
		var got []int
		for c := s.Next(0); c >= 0; c = s.Next(c + 1) {
			got = append(got, c)
		}
		if want := s.Classes(); !slices.Equal(got, want) {
			t.Errorf("%b: Next gives %v, Classes %v", w, got, want)
		}
	}
}

// A cube's difference is a partition: disjoint pieces that cover exactly
// what the subtrahend does not.
func TestCubeSubtractPartitions(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	u := NewIfaces([]string{"a", "b"}, nil, nil)
	randPorts := func() model.PortSet {
		var s model.PortSet
		for i := 0; i < 1+r.IntN(2); i++ {
			lo := uint16(r.IntN(8))
			s = s.Add(model.PortRange{Lo: lo, Hi: lo + uint16(r.IntN(int(8-lo)))})
		}
		return s
	}
	randIfs := func() IfSet {
		s := u.Empty()
		for i := 0; i < u.Len(); i++ {
			if r.IntN(2) == 0 {
				s = s.Union(u.Match(u.Name(i), false))
			}
		}
		if s.Empty() {
			s = u.All()
		}
		return s
	}
	randCube := func() Cube {
		a, _ := randAddrs(r)
		b, _ := randAddrs(r)
		if a.Empty() {
			a = Addrs{[]Range{{U128{}, U128{0, 3}}}}
		}
		if b.Empty() {
			b = Addrs{[]Range{{U128{}, U128{0, 3}}}}
		}
		return Cube{Src: a, Dst: b, SPort: randPorts(), DPort: randPorts(), IIf: randIfs(), OIf: randIfs()}
	}
	type point struct {
		s, d   uint64
		sp, dp uint16
		i, o   int
	}
	in := func(c Cube, p point) bool {
		return c.Src.Contains(U128{0, p.s}) && c.Dst.Contains(U128{0, p.d}) && c.SPort.Contains(p.sp) &&
			c.DPort.Contains(p.dp) && c.IIf.Overlaps(u.Match(u.Name(p.i), false)) && c.OIf.Overlaps(u.Match(u.Name(p.o), false))
	}
	for n := 0; n < 300; n++ {
		c, d := randCube(), randCube()
		pieces := c.Subtract(d)
		merged := Merge(append([]Cube(nil), pieces...))
		for k := 0; k < 400; k++ {
			p := point{uint64(r.IntN(64)), uint64(r.IntN(64)), uint16(r.IntN(8)), uint16(r.IntN(8)), r.IntN(u.Len()), r.IntN(u.Len())}
			want := in(c, p) && !in(d, p)
			hits := 0
			for _, x := range pieces {
				if in(x, p) {
					hits++
				}
			}
			if (hits == 1) != want || hits > 1 {
				t.Fatalf("point %+v: in %d pieces, want %v", p, hits, want)
			}
			mhits := 0
			for _, x := range merged {
				if in(x, p) {
					mhits++
				}
			}
			if (mhits == 1) != want || mhits > 1 {
				t.Fatalf("point %+v: in %d merged pieces, want %v", p, mhits, want)
			}
			if in(c, p) && in(d, p) != in(c.Intersect(d), p) {
				t.Fatalf("intersection at %+v", p)
			}
		}
		if c.Overlaps(d) == c.Intersect(d).Empty() {
			t.Fatalf("Overlaps disagrees with Intersect")
		}
	}
}
