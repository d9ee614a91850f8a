package space

import (
	"runtime"
	"slices"
	"testing"

	"github.com/portolan/portolan/model"
)

// wideCube is a hole of any address and port, as many rules of a ruleset
// make; its sets are shared by every hole of the tests below.
func wideCube(u *Ifaces) Cube {
	return Cube{Src: AllAddrs(4), Dst: AllAddrs(4), SPort: model.AllPorts(), DPort: model.AllPorts(), IIf: u.All(), OIf: u.All()}
}

// TestHolesAllocation: a long list of holes is not copied to ever larger
// arrays of cubes as it grows (144 bytes a hole; growing by a quarter at a
// time that allocated about 750 bytes a hole over the list's life), and
// holes taken from other Holes by AddRef are shared, not copied.
func TestHolesAllocation(t *testing.T) {
	u := NewIfaces([]string{"a"}, nil, nil)
	c := wideCube(u)
	measure := func(f func()) float64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc - before.TotalAlloc)
	}
	for _, n := range []int{10_000, 100_000} {
		h, sub := &Holes{}, &Holes{}
		added := measure(func() {
			for i := range n {
				h.Add(c, int32(i))
			}
		}) / float64(n)
		shared := measure(func() {
			h.OverlappingRefs(c, func(x *Cube, tag int32) bool { sub.AddRef(x, tag); return true })
		}) / float64(n)
		if h.Len() != n || sub.Len() != n {
			t.Fatalf("%d holes: Len %d and %d", n, h.Len(), sub.Len())
		}
		if added > 260 {
			t.Errorf("%d holes: %.0f bytes allocated a hole by Add, want at most 260", n, added)
		}
		if shared > 120 {
			t.Errorf("%d holes: %.0f bytes allocated a hole by AddRef, want at most 120", n, shared)
		}
	}
}

// TestHolesCloneApart: a clone and its original share what neither will
// write again and grow apart, across chunk boundaries.
func TestHolesCloneApart(t *testing.T) {
	u := NewIfaces([]string{"a"}, nil, nil)
	c := wideCube(u)
	for _, n := range []int{0, 1, chunkLen - 1, chunkLen, chunkLen + 7, 3 * chunkLen} {
		h := &Holes{}
		for i := range n {
			h.Add(c, int32(i))
		}
		g := h.Clone()
		if n == 0 {
			g = &Holes{}
		}
		for i := range chunkLen + 3 {
			h.Add(c, int32(1_000_000+i))
			g.Add(c, int32(2_000_000+i))
		}
		for name, x := range map[string]*Holes{"original": h, "clone": g} {
			var tags []int32
			x.Overlapping(c, func(hole Cube, tag int32) bool {
				if !hole.Equal(c) {
					t.Fatalf("%d: %s: hole %v, want %v", n, name, hole, c)
				}
				tags = append(tags, tag)
				return true
			})
			base := int32(1_000_000)
			if name == "clone" {
				base = 2_000_000
			}
			if len(tags) != n+chunkLen+3 {
				t.Fatalf("%d: %s: %d holes, want %d", n, name, len(tags), n+chunkLen+3)
			}
			for i, tag := range tags {
				want := int32(i)
				if i >= n {
					want = base + int32(i-n)
				}
				if tag != want {
					t.Fatalf("%d: %s: hole %d has tag %d, want %d", n, name, i, tag, want)
				}
			}
		}
	}
}

// hostCube is a hole of one destination address, 192.0.2.x.
func hostCube(u *Ifaces, x uint64) Cube {
	c := wideCube(u)
	a := U128{0, 0xc0000200 + x}
	c.Dst = Addrs{[]Range{{a, a}}}
	return c
}

// TestHolesIndexedFromSixteen: fewer holes than are scanned anyway get no
// index (a region's holes taken by one rule are mostly few), and the
// index built when they reach that many finds what a scan finds.
func TestHolesIndexedFromSixteen(t *testing.T) {
	u := NewIfaces([]string{"a"}, nil, nil)
	var cubes []Cube
	for x := range 40 {
		cubes = append(cubes, hostCube(u, uint64(x%23)))
	}
	for _, n := range []int{1, indexFrom - 1, indexFrom, indexFrom + 1, 40} {
		build := func() *Holes {
			h := &Holes{}
			for i := range n {
				h.AddRef(&cubes[i], int32(i))
			}
			return h
		}
		if n < indexFrom {
			if a := testing.AllocsPerRun(20, func() { build() }); a > 12 {
				t.Errorf("%d holes: %.0f allocations, want at most 12 (no index)", n, a)
			}
		}
		h := build()
		for x := range 25 {
			q := hostCube(u, uint64(x))
			var got, want []int32
			h.Overlapping(q, func(_ Cube, tag int32) bool { got = append(got, tag); return true })
			for i := range n {
				if cubes[i].Overlaps(q) {
					want = append(want, int32(i))
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%d holes, query 192.0.2.%d: holes %v, want %v", n, x, got, want)
			}
		}
	}
}
