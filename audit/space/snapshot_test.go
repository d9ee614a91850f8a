package space

import (
	"slices"
	"testing"

	"github.com/portolan/portolan/model"
)

// tagsOver lists the tags of the holes of h that overlap q, in order.
func tagsOver(h *Holes, q Cube) []int32 {
	var out []int32
	h.Overlapping(q, func(_ Cube, tag int32) bool { out = append(out, tag); return true })
	return out
}

// TestHolesSnapshot: a snapshot has the holes its original had when it was
// taken, in their order, then its own; neither sees what the other gains
// afterwards, nor does a clone of the snapshot, nor a snapshot of it.
// Holes are of 23 destinations, so that the index is used from 16 on.
func TestHolesSnapshot(t *testing.T) {
	u := NewIfaces([]string{"a"}, nil, nil)
	var cubes []Cube
	for x := range 3*chunkLen + 40 {
		cubes = append(cubes, hostCube(u, uint64(x%23)))
	}
	hole := func(i int) *Cube { return &cubes[i%len(cubes)] }
	for _, n := range []int{0, 1, indexFrom - 1, indexFrom, 40, chunkLen + 3} {
		h := &Holes{}
		for i := range n {
			h.AddRef(hole(i), int32(i))
		}
		s := h.Snapshot()
		for i := range 30 {
			h.AddRef(hole(n+i), int32(1000+i)) // after: not the snapshot's
			s.AddRef(hole(i), int32(2000+i))   // the snapshot's own
		}
		s2 := s.Snapshot() // of a snapshot
		c := s.Clone()
		for i := range 20 {
			s.AddRef(hole(i), int32(3000+i))
			c.AddRef(hole(i), int32(4000+i))
			s2.AddRef(hole(i), int32(5000+i))
		}
		// want lists the tags of holes (tag, cube index) overlapping q.
		type entry struct {
			tag int32
			i   int
		}
		var base, after, own, later, clone, own2 []entry
		for i := range n {
			base = append(base, entry{int32(i), i})
		}
		for i := range 30 {
			after = append(after, entry{int32(1000 + i), n + i})
			own = append(own, entry{int32(2000 + i), i})
		}
		for i := range 20 {
			later = append(later, entry{int32(3000 + i), i})
			clone = append(clone, entry{int32(4000 + i), i})
			own2 = append(own2, entry{int32(5000 + i), i})
		}
		want := func(q Cube, lists ...[]entry) []int32 {
			var out []int32
			for _, l := range lists {
				for _, e := range l {
					if hole(e.i).Overlaps(q) {
						out = append(out, e.tag)
					}
				}
			}
			return out
		}
		for x := range 25 {
			q := hostCube(u, uint64(x))
			for _, tt := range []struct {
				name string
				h    *Holes
				want []int32
			}{
				{"snapshot", s, want(q, base, own, later)},
				{"clone", c, want(q, base, own, clone)},
				{"snapshot of the snapshot", s2, want(q, base, own, own2)},
			} {
				if got := tagsOver(tt.h, q); !slices.Equal(got, tt.want) {
					t.Fatalf("%d holes, %s, query 192.0.2.%d: holes %v, want %v", n, tt.name, x, got, tt.want)
				}
			}
			if got, want := tagsOver(h, q), want(q, base, after); !slices.Equal(got, want) {
				t.Fatalf("%d holes, original, query 192.0.2.%d: holes %v, want %v", n, x, got, want)
			}
		}
		if s.Len() != n+50 || s2.Len() != n+50 || c.Len() != n+50 || h.Len() != n+30 {
			t.Errorf("%d holes: Len %d, %d, %d, %d; want %d, %d, %d, %d", n, s.Len(), s2.Len(), c.Len(), h.Len(), n+50, n+50, n+50, n+30)
		}
		// A region of a snapshot finds a packet outside the holes it has,
		// and none of those the original gained after.
		r := Region{Base: hostCube(u, uint64(n%23)), Holes: s}
		if p, ok, _ := r.Find(64); ok && !r.Contains(p) {
			t.Errorf("%d holes: Find gave %v, which the region does not hold", n, p)
		}
	}
}

// TestSnapshotShares: a snapshot costs the same whatever the number of
// holes it shares (the matched parts of a region many rules carved once
// copied and indexed them all: the larger part of what an evaluation held).
func TestSnapshotShares(t *testing.T) {
	u := NewIfaces([]string{"a"}, nil, nil)
	for _, n := range []int{100, 100_000} {
		h := &Holes{}
		for i := range n {
			h.Add(hostCube(u, uint64(i%200)), int32(i))
		}
		var s *Holes
		if a := testing.AllocsPerRun(100, func() { s = h.Snapshot() }); a > 1 {
			t.Errorf("%d holes: a snapshot makes %.0f allocations, want 1", n, a)
		}
		if s.Len() != n {
			t.Errorf("%d holes: the snapshot has %d", n, s.Len())
		}
	}
}

// TestHolesCovering: Covering finds the first hole, in the order they were
// added, that holds all of a cube, and says whether any overlaps it, as
// Overlapping does, through snapshots and with or without the index, for
// a host, a /28, a /24, a /16 and every address.
func TestHolesCovering(t *testing.T) {
	u := NewIfaces([]string{"a"}, nil, nil)
	// Holes of a host, of its /28, of its /24 and of every address, some of
	// one port only: some hold a query, some overlap it, some neither.
	var cubes []Cube
	for x := range 600 {
		c := hostCube(u, uint64(x*7%256))
		switch x % 5 {
		case 1:
			c.Dst = Addrs{[]Range{{U128{0, 0xc0000200 + uint64(x%16)*16}, U128{0, 0xc0000200 + uint64(x%16)*16 + 15}}}}
		case 2:
			c.DPort = model.NewPortSet(model.PortRange{Lo: uint16(x), Hi: uint16(x)})
		case 3:
			c.Dst = Addrs{[]Range{{U128{0, 0xc0000200}, U128{0, 0xc00002ff}}}}
			c.DPort = model.NewPortSet(model.PortRange{Lo: 80, Hi: 80})
		}
		if x == 599 {
			c = wideCube(u)
		}
		cubes = append(cubes, c)
	}
	for _, n := range []int{0, 3, indexFrom + 1, 300, 600} {
		h := &Holes{}
		for i := range min(n, 200) {
			h.AddRef(&cubes[i], int32(i))
		}
		s := h.Snapshot()
		for i := min(n, 200); i < n; i++ {
			s.AddRef(&cubes[i], int32(i))
			h.AddRef(&cubes[(i+1)%len(cubes)], -2) // not the snapshot's
		}
		for x := range 400 {
			q := hostCube(u, uint64(x%256))
			if x >= 256 {
				q.DPort = model.NewPortSet(model.PortRange{Lo: 80, Hi: uint16(80 + x%3)})
			}
			switch lo := uint64(0xc0000200 + x%16*16); {
			case x >= 390:
				q.Dst = AllAddrs(4)
			case x >= 380:
				q.Dst = Addrs{[]Range{{U128{0, 0xc0000000}, U128{0, 0xc000ffff}}}}
			case x >= 350:
				q.Dst = Addrs{[]Range{{U128{0, 0xc0000200}, U128{0, 0xc00002ff}}}}
			case x >= 300:
				q.Dst = Addrs{[]Range{{U128{0, lo}, U128{0, lo + 15}}}}
			}
			wantTag, wantCov, wantOver := int32(-1), false, false
			s.Overlapping(q, func(hole Cube, tag int32) bool {
				wantOver = true
				if hole.Covers(q) {
					wantTag, wantCov = tag, true
					return false
				}
				return true
			})
			tag, cov, over := s.Covering(q)
			if tag != wantTag || cov != wantCov || over != wantOver {
				t.Fatalf("%d holes, query %d: Covering %d %v %v, want %d %v %v", n, x, tag, cov, over, wantTag, wantCov, wantOver)
			}
		}
	}
}

// TestRegionHolds: a region Holds says holds a packet is one Find finds a
// packet of, and Cubes writes as cubes; an empty one is never said to.
func TestRegionHolds(t *testing.T) {
	u := NewIfaces([]string{"a"}, nil, nil)
	base := wideCube(u)
	base.Dst = Addrs{[]Range{{U128{0, 0xc0000200}, U128{0, 0xc0000203}}}}
	said, notSaid := 0, 0
	for mask := range 1 << 6 {
		// Holes of some of four hosts, of all ports or of port 80.
		h := &Holes{}
		for x := range 6 {
			if mask&(1<<x) == 0 {
				continue
			}
			c := hostCube(u, uint64(x%4))
			if x >= 4 {
				c = base
				c.DPort = model.NewPortSet(model.PortRange{Lo: uint16(80 + x), Hi: uint16(80 + x)})
			}
			h.Add(c, int32(x))
		}
		r := Region{Base: base, Holes: h}
		_, found, _ := r.Find(1 << 12)
		cs, ok := r.Cubes(1 << 12)
		if !ok {
			t.Fatalf("holes %06b: Cubes gave up", mask)
		}
		if found != (len(cs) > 0) {
			t.Fatalf("holes %06b: Find found %v, Cubes %d cubes", mask, found, len(cs))
		}
		if r.Holds() {
			said++
			if !found {
				t.Errorf("holes %06b: Holds, and Find finds no packet", mask)
			}
		} else if found {
			notSaid++
		}
	}
	if said == 0 || notSaid == 0 {
		t.Errorf("Holds said yes %d times and no of a region holding packets %d times: the test tests too little", said, notSaid)
	}
}
