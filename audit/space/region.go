package space

import (
	"maps"
	"slices"
	"sync"

	"github.com/portolan/portolan/model"
)

// Holes are cubes taken out of a region, indexed so that the holes a cube
// overlaps are found without looking at all of them. A hole is filed by
// its destination addresses at the finest of several granularities (a
// single address, blocks of 2^8, 2^16… addresses) where it spans few
// blocks; a hole whose destination is (nearly) any address is filed by
// its destination ports when those are few, else in a list every query
// reads. Rules mostly name hosts and ports, so a region many rules carve
// stays cheap to query. Each hole carries a tag (the rule that made it,
// for the caller).
type Holes struct {
	// base holds the first holes: the first baseLen of base's, shared
	// rather than copied (see Snapshot). base may gain more holes, which
	// these do not have.
	base    *Holes
	baseLen int
	// cubes are the holes after those, never written once added: a hole
	// taken from other Holes (AddRef) is shared with them, not copied.
	cubes []*Cube
	// slab is where Add puts new holes: arrays of up to chunkLen cubes,
	// never grown in place, so the holes in them never move.
	slab []Cube
	tags []int32
	ix   *holeIndex // from indexFrom holes on
}

// holeIndex files the holes of Holes.cubes by their destination.
type holeIndex struct {
	dst    blockTable       // a block's last filing in links, +1
	levels uint32           // bit i: some hole is filed at level i
	port   map[uint32]int32 // a port bucket's last filing in links, +1
	wide   []int32
	// links are the filings of holes in blocks and buckets, each bucket's
	// a list from its last one back: one array for them all rather than a
	// slice per bucket.
	links []link
}

// chunkLen is the most cubes of one array of Holes.slab.
const chunkLen = 512

// link files hole in a bucket; prev is the bucket's filing before, +1 (0
// none).
type link struct{ hole, prev int32 }

// file adds hole i to the bucket whose last filing is head, and returns
// the new head.
func (h *holeIndex) file(head, i int32) int32 {
	h.links = append(h.links, link{i, head})
	return int32(len(h.links))
}

// appendBucket appends the holes of the bucket whose last filing is head.
func (h *holeIndex) appendBucket(out []int32, head int32) []int32 {
	for head != 0 {
		l := h.links[head-1]
		out = append(out, l.hole)
		head = l.prev
	}
	return out
}

// levels of the destination index, as shifts of the address.
var levelShift = [...]uint{0, 4, 8, 12, 16, 24, 32, 48, 64, 96}

const maxBuckets = 8 // a set spanning more blocks than this at a level goes up

type dstKey struct {
	level  uint8
	hi, lo uint64
}

// blockTable maps blocks to an int32 (0 for a block never set): open
// addressing with linear probing, for the lookups of the index, which a
// map of 24-byte keys made the larger part of its cost.
type blockTable struct {
	slots []blockSlot // a power of two of them, or none
	n     int
}

// blockSlot is a block's key, flattened (24 bytes, not 32), and value.
type blockSlot struct {
	hi, lo uint64
	val    int32 // 0: the slot is free
	level  uint8
}

func (s *blockSlot) is(k dstKey) bool { return s.lo == k.lo && s.hi == k.hi && s.level == k.level }

func (k dstKey) hash() uint64 {
	x := k.lo*0x9e3779b97f4a7c15 ^ k.hi*0xc2b2ae3d27d4eb4f ^ uint64(k.level)*0x165667b19e3779f9
	return x ^ x>>29
}

// get returns the value of block k, 0 when it has none.
func (t *blockTable) get(k dstKey) int32 {
	if len(t.slots) == 0 {
		return 0
	}
	mask := uint64(len(t.slots) - 1)
	for i := k.hash() & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.val == 0 {
			return 0
		}
		if s.is(k) {
			return s.val
		}
	}
}

// slot returns where the value of block k is kept, made when absent (0
// then); it stays valid until the next call to slot. The value set there
// must not be 0.
func (t *blockTable) slot(k dstKey) *int32 {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := k.hash() & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.val == 0 {
			s.hi, s.lo, s.level = k.hi, k.lo, k.level
			t.n++
			return &s.val
		}
		if s.is(k) {
			return &s.val
		}
	}
}

func (t *blockTable) grow() {
	old := t.slots
	t.slots = make([]blockSlot, max(32, 2*len(old)))
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.val == 0 {
			continue
		}
		i := dstKey{s.level, s.hi, s.lo}.hash() & mask
		for t.slots[i].val != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

func (t blockTable) clone() blockTable { return blockTable{slots: slices.Clone(t.slots), n: t.n} }

func shr(x U128, n uint) U128 {
	switch {
	case n == 0:
		return x
	case n >= 128:
		return U128{}
	case n >= 64:
		return U128{0, x.Hi >> (n - 64)}
	}
	return U128{x.Hi >> n, x.Lo>>n | x.Hi<<(64-n)}
}

// span is the lowest and highest address of a set.
func span(a Addrs) (lo, hi U128, ok bool) {
	if len(a.rs) == 0 {
		return lo, hi, false
	}
	return a.rs[0].Lo, a.rs[len(a.rs)-1].Hi, true
}

// maxQueryBlocks bounds the blocks a query looks up at one level.
const maxQueryBlocks = 1024

// blocks gives the first block of level l that lo..hi touches and how
// many it touches, or false when they are at least max.
func blocks(lo, hi U128, l int, max uint64) (dstKey, uint64, bool) {
	a, b := shr(lo, levelShift[l]), shr(hi, levelShift[l])
	if a.Hi != b.Hi || b.Lo-a.Lo >= max {
		return dstKey{}, 0, false
	}
	return dstKey{uint8(l), a.Hi, a.Lo}, b.Lo - a.Lo + 1, true
}

// maxShift is the coarsest level a hole is filed at by address: blocks of
// 2^16 IPv4 addresses, 2^64 IPv6 ones.
func maxShift(x U128) uint {
	if x.Hi == 0 && x.Lo <= 0xffffffff {
		return 16
	}
	return 64
}

// portBuckets appends to out the port buckets of p (out has room for
// 2*maxBuckets, its caller's array), or false when they are too many.
func portBuckets(out []uint32, p model.PortSet) ([]uint32, bool) {
	for _, r := range p.Ranges() {
		lo, hi := uint32(r.Lo)>>6, uint32(r.Hi)>>6
		if hi-lo >= maxBuckets || len(out) >= maxBuckets {
			return nil, false
		}
		for b := lo; b <= hi; b++ {
			out = append(out, b)
		}
	}
	return out, len(out) <= maxBuckets
}

// Len is the number of holes.
func (h *Holes) Len() int {
	if h == nil {
		return 0
	}
	return h.baseLen + len(h.cubes)
}

// Snapshot returns the holes h has now, for a region inside h's: they
// are shared, not copied, and neither sees the holes the other gains
// afterwards.
func (h *Holes) Snapshot() *Holes {
	if h == nil {
		return &Holes{}
	}
	if len(h.cubes) == 0 {
		return &Holes{base: h.base, baseLen: h.baseLen}
	}
	return &Holes{base: h, baseLen: h.Len()}
}

// Add takes cube c out, with a tag.
func (h *Holes) Add(c Cube, tag int32) {
	if len(h.slab) == cap(h.slab) {
		h.slab = make([]Cube, 0, min(max(2*cap(h.slab), 1), chunkLen))
	}
	h.slab = append(h.slab, c)
	h.AddRef(&h.slab[len(h.slab)-1], tag)
}

// AddRef takes hole c out, with a tag, sharing it: c is one that
// OverlappingRefs gave, or another that nothing changes any more.
func (h *Holes) AddRef(c *Cube, tag int32) {
	h.cubes = append(h.cubes, c)
	h.tags = append(h.tags, tag)
	// Fewer than indexFrom holes are scanned, not looked up: the index is
	// built when the holes reach that many.
	switch n := len(h.cubes); {
	case n == indexFrom:
		h.ix = &holeIndex{}
		for i := range h.cubes {
			h.index(int32(i))
		}
	case n > indexFrom:
		h.index(int32(n - 1))
	}
}

// indexFrom is the fewest holes that are indexed.
const indexFrom = 16

// index files hole i in the index.
func (h *Holes) index(i int32) {
	c := h.cubes[i]
	x := h.ix
	if lo, hi, ok := span(c.Dst); ok {
		for l := range levelShift[:len(levelShift)-1] {
			if levelShift[l] > maxShift(hi) {
				break // (nearly) any address: by port
			}
			if b, n, ok := blocks(lo, hi, l, maxBuckets); ok {
				for range n {
					head := x.dst.slot(b)
					*head = x.file(*head, i)
					b.lo++
				}
				x.levels |= 1 << l
				return
			}
		}
	}
	var buf [2 * maxBuckets]uint32
	if bs, ok := portBuckets(buf[:0], c.DPort); ok {
		if x.port == nil {
			x.port = map[uint32]int32{}
		}
		for _, b := range bs {
			x.port[b] = x.file(x.port[b], i)
		}
		return
	}
	x.wide = append(x.wide, i)
}

// within returns the holes that overlap c, shared, in their order.
func (h *Holes) within(c Cube) *Holes {
	w := &Holes{}
	h.OverlappingRefs(c, func(x *Cube, tag int32) bool {
		w.AddRef(x, tag)
		return true
	})
	return w
}

// Clone copies the holes; the copy and the original then grow apart.
func (h *Holes) Clone() *Holes {
	if h == nil {
		return nil
	}
	// The holes are shared; the copy's slab is its own.
	c := &Holes{base: h.base, baseLen: h.baseLen, cubes: slices.Clone(h.cubes), tags: slices.Clone(h.tags)}
	if x := h.ix; x != nil {
		c.ix = &holeIndex{dst: x.dst.clone(), levels: x.levels, port: maps.Clone(x.port),
			wide: slices.Clone(x.wide), links: slices.Clone(x.links)}
	}
	return c
}

// Overlapping calls fn with each hole that overlaps c, in the order they
// were added, until fn returns false.
func (h *Holes) Overlapping(c Cube, fn func(hole Cube, tag int32) bool) {
	h.OverlappingRefs(c, func(hole *Cube, tag int32) bool { return fn(*hole, tag) })
}

// OverlappingRefs is Overlapping giving the holes themselves, for AddRef;
// fn must not change them.
func (h *Holes) OverlappingRefs(c Cube, fn func(hole *Cube, tag int32) bool) {
	if h == nil {
		return
	}
	h.visit(c, h.Len(), fn)
}

// visit calls fn with each of the first n holes that overlaps c, in order,
// until fn returns false; it returns false when fn did.
func (h *Holes) visit(c Cube, n int, fn func(hole *Cube, tag int32) bool) bool {
	if h.baseLen > 0 && !h.base.visit(c, min(n, h.baseLen), fn) {
		return false
	}
	n = min(n-h.baseLen, len(h.cubes))
	if n <= 0 {
		return true
	}
	if len(h.cubes) < indexFrom {
		for i, x := range h.cubes[:n] {
			if x.Overlaps(c) && !fn(x, h.tags[i]) {
				return false
			}
		}
		return true
	}
	// The candidates' list is scratch, reused: it is the larger part of a
	// query's garbage otherwise.
	pc := candPool.Get().(*[]int32)
	var ok bool
	*pc, ok = h.overlapping(c, int32(n), fn, (*pc)[:0])
	candPool.Put(pc)
	return ok
}

// Covering looks for a hole that holds all of c: it returns the tag of
// the first that does (in the order they were added), and whether any
// hole overlaps c. It is Overlapping stopping at the first hole that
// covers c, without the order of the others.
func (h *Holes) Covering(c Cube) (tag int32, covered, overlapped bool) {
	if h == nil {
		return -1, false, false
	}
	return h.covering(c, h.Len())
}

// covering is Covering among the first n holes.
func (h *Holes) covering(c Cube, n int) (tag int32, covered, overlapped bool) {
	tag = -1
	if h.baseLen > 0 {
		if tag, covered, overlapped = h.base.covering(c, min(n, h.baseLen)); covered {
			return tag, true, true
		}
	}
	n = min(n-h.baseLen, len(h.cubes))
	if n <= 0 {
		return tag, false, overlapped
	}
	scan := func() (int32, bool, bool) {
		for i, x := range h.cubes[:n] {
			if x.Overlaps(c) {
				overlapped = true
				if x.Covers(c) {
					return h.tags[i], true, true
				}
			}
		}
		return -1, false, overlapped
	}
	if len(h.cubes) < indexFrom {
		return scan()
	}
	lo, hi, ok := span(c.Dst)
	if !ok {
		return -1, false, overlapped // no packet: no hole overlaps
	}
	// A hole that covers c holds c's lowest destination: it is filed in
	// that address's block at its level, or by c's first port, or among
	// the wide ones. The first that covers c is the one of the lowest
	// index.
	x := h.ix
	first := int32(n)
	check := func(head int32) {
		for head != 0 {
			l := x.links[head-1]
			if i := l.hole; i < first {
				if y := h.cubes[i]; y.Overlaps(c) {
					overlapped = true
					if y.Covers(c) {
						first = i
					}
				}
			}
			head = l.prev
		}
	}
	for l := range levelShift[:len(levelShift)-1] {
		if x.levels&(1<<l) != 0 {
			b, _, _ := blocks(lo, lo, l, 1)
			check(x.dst.get(b))
		}
	}
	if ps := c.DPort.Ranges(); len(ps) > 0 {
		check(x.port[uint32(ps[0].Lo)>>6])
	}
	for _, i := range x.wide {
		if i < first {
			if y := h.cubes[i]; y.Overlaps(c) {
				overlapped = true
				if y.Covers(c) {
					first = i
				}
			}
		}
	}
	if first < int32(n) {
		return h.tags[first], true, true
	}
	if !overlapped {
		overlapped = h.anyOverlaps(c, int32(n), lo, hi)
	}
	return -1, false, overlapped
}

// anyOverlaps reports whether one of the first n holes, which are
// indexed, overlaps c, whose destinations span lo..hi.
func (h *Holes) anyOverlaps(c Cube, n int32, lo, hi U128) bool {
	x := h.ix
	in := func(head int32) bool {
		for head != 0 {
			l := x.links[head-1]
			if l.hole < n && h.cubes[l.hole].Overlaps(c) {
				return true
			}
			head = l.prev
		}
		return false
	}
	for l := range levelShift[:len(levelShift)-1] {
		if x.levels&(1<<l) == 0 {
			continue
		}
		b, k, ok := blocks(lo, hi, l, maxQueryBlocks)
		if !ok {
			for _, y := range h.cubes[:n] {
				if y.Overlaps(c) {
					return true
				}
			}
			return false
		}
		for range k {
			if in(x.dst.get(b)) {
				return true
			}
			b.lo++
		}
	}
	var buf [2 * maxBuckets]uint32
	if pb, ok := portBuckets(buf[:0], c.DPort); ok {
		for _, b := range pb {
			if in(x.port[b]) {
				return true
			}
		}
	} else {
		for _, head := range x.port {
			if in(head) {
				return true
			}
		}
	}
	for _, i := range x.wide {
		if i < n && h.cubes[i].Overlaps(c) {
			return true
		}
	}
	return false
}

var candPool = sync.Pool{New: func() any { s := make([]int32, 0, 1024); return &s }}

// overlapping is visit of the own holes, which are indexed, gathering
// candidates in cand, which it returns (grown, perhaps).
func (h *Holes) overlapping(c Cube, n int32, fn func(hole *Cube, tag int32) bool, cand []int32) ([]int32, bool) {
	cand, all := h.ix.candidates(c, n, cand)
	if all {
		for i, x := range h.cubes[:n] {
			if x.Overlaps(c) && !fn(x, h.tags[i]) {
				return cand, false
			}
		}
		return cand, true
	}
	slices.Sort(cand)
	prev := int32(-1)
	for _, i := range cand {
		if i == prev || i >= n {
			continue
		}
		prev = i
		if x := h.cubes[i]; x.Overlaps(c) && !fn(x, h.tags[i]) {
			return cand, false
		}
	}
	return cand, true
}

// candidates appends to cand the holes of the index that may overlap c,
// perhaps more than once and some at n or after; all says to scan the
// first n holes instead (c spans too many blocks, or the candidates are
// more than half of them).
func (x *holeIndex) candidates(c Cube, n int32, cand []int32) (_ []int32, all bool) {
	lo, hi, ok := span(c.Dst)
	if !ok {
		return cand, false // no packet: no hole overlaps
	}
	// Every level holes are filed at: the blocks c touches there.
	for l := range levelShift[:len(levelShift)-1] {
		if x.levels&(1<<l) == 0 {
			continue
		}
		b, k, ok := blocks(lo, hi, l, maxQueryBlocks)
		if !ok {
			return cand, true
		}
		for range k {
			cand = x.appendBucket(cand, x.dst.get(b))
			b.lo++
		}
	}
	var buf [2 * maxBuckets]uint32
	if pb, pok := portBuckets(buf[:0], c.DPort); pok {
		for _, b := range pb {
			cand = x.appendBucket(cand, x.port[b])
		}
	} else {
		for _, head := range x.port {
			cand = x.appendBucket(cand, head)
		}
	}
	cand = append(cand, x.wide...)
	return cand, len(cand) > int(n)/2
}

// Region is a cube without its holes: the packets of Base that no hole
// holds. The zero Holes (nil) means none.
type Region struct {
	Base  Cube
	Holes *Holes
}

// Whole is a region of one cube.
func Whole(c Cube) Region { return Region{Base: c} }

// Contains reports whether the region holds packet p (a cube of one
// packet): in the base and in no hole.
func (r Region) Contains(p Cube) bool {
	if !r.Base.Overlaps(p) {
		return false
	}
	in := false
	r.Holes.Overlapping(p, func(Cube, int32) bool { in = true; return false })
	return !in
}

// Intersect returns the region's packets that are also in c.
func (r Region) Intersect(c Cube) Region {
	return Region{Base: r.Base.Intersect(c), Holes: r.Holes}
}

// Holds reports whether the region surely holds a packet, from one look:
// the first packet Find tries is in no hole. False says nothing.
func (r Region) Holds() bool {
	if r.Base.Empty() {
		return false
	}
	// A hole that overlaps a packet holds it. The packet's sets are on
	// the stack: Holds is asked of every region a report may list.
	var b pointBuf
	_, in, _ := r.Holes.Covering(r.Base.pointIn(&b))
	return !in
}

// pointBuf holds the sets of a packet that does not outlive it.
type pointBuf struct {
	src, dst [1]Range
	iif, oif [1]uint64
}

// Find looks for a packet of the region and returns it as a cube of one
// packet. It tries the base's natural witness, then steps past the holes
// that hold it, then seeded random packets, then an exact search bounded
// by budget subtractions. ok false with exhausted false: the region holds
// no packet; with exhausted true: portolan could not tell.
func (r Region) Find(budget int) (c Cube, ok, exhausted bool) {
	if r.Base.Empty() {
		return c, false, false
	}
	if r.Holes != nil && r.Holes.base != nil {
		// Shared holes may be many more than those in the base, which the
		// search queries again and again: it queries those alone.
		r.Holes = r.Holes.within(r.Base)
	}
	holder := func(p Cube) (Cube, bool) {
		var hole Cube
		found := false
		r.Holes.Overlapping(p, func(h Cube, _ int32) bool { hole, found = h, true; return false })
		return hole, found
	}
	p := r.Base.point(nil)
	for i := 0; i < 64; i++ {
		h, in := holder(p)
		if !in {
			return p, true, false
		}
		var next *Cube
		for d := Dim(0); d < NumDims; d++ {
			q, ok := r.Base.beside(p, h, d)
			if !ok {
				continue
			}
			if _, in := holder(q); !in {
				return q, true, false
			}
			if next == nil {
				next = &q
			}
		}
		if next == nil {
			break // the hole covers the base in every dimension
		}
		p = *next
	}
	rng := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < 256; i++ {
		q := r.Base.point(&rng)
		if _, in := holder(q); !in {
			return q, true, false
		}
	}
	// Exact: split the base by the holes that overlap each piece.
	stack := []Cube{r.Base}
	for len(stack) > 0 {
		piece := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		h, in := holderOf(r.Holes, piece)
		if !in {
			return piece.point(nil), true, false
		}
		if budget--; budget < 0 {
			return c, false, true
		}
		pieces := piece.Subtract(h)
		for i := len(pieces) - 1; i >= 0; i-- {
			stack = append(stack, pieces[i])
		}
	}
	return c, false, false
}

func holderOf(h *Holes, p Cube) (Cube, bool) {
	var hole Cube
	found := false
	h.Overlapping(p, func(x Cube, _ int32) bool { hole, found = x, true; return false })
	return hole, found
}

// point returns one packet of a non-empty cube: the natural witness
// (first port, Pick address…), or a random one when rng is set.
func (c Cube) point(rng *uint64) Cube {
	next := func() uint64 {
		*rng ^= *rng << 13
		*rng ^= *rng >> 7
		*rng ^= *rng << 17
		return *rng
	}
	var p Cube
	if rng == nil {
		p.Src, p.Dst = c.Src.pickSet(), c.Dst.pickSet()
		p.SPort, p.DPort = firstPort(c.SPort), firstPort(c.DPort)
		p.IIf, p.OIf = firstIf(c.IIf), firstIf(c.OIf)
		return p
	}
	p.Src, p.Dst = c.Src.randomSet(next()), c.Dst.randomSet(next())
	p.SPort, p.DPort = randomPort(c.SPort, next()), randomPort(c.DPort, next())
	p.IIf, p.OIf = randomIf(c.IIf, next()), randomIf(c.OIf, next())
	return p
}

// pointIn is point(nil) with its address and interface sets in b.
func (c Cube) pointIn(b *pointBuf) Cube {
	p := Cube{SPort: firstPort(c.SPort), DPort: firstPort(c.DPort)}
	p.Src, p.Dst = c.Src.pickSetIn(&b.src), c.Dst.pickSetIn(&b.dst)
	p.IIf, p.OIf = firstIfIn(c.IIf, &b.iif), firstIfIn(c.OIf, &b.oif)
	return p
}

// beside moves point p out of hole h along dimension d, staying in c.
func (c Cube) beside(p, h Cube, d Dim) (Cube, bool) {
	q := p
	switch d {
	case Src:
		rest := c.Src.Subtract(h.Src)
		if rest.Empty() {
			return q, false
		}
		q.Src = rest.pickSet()
	case Dst:
		rest := c.Dst.Subtract(h.Dst)
		if rest.Empty() {
			return q, false
		}
		q.Dst = rest.pickSet()
	case SPort:
		rest := c.SPort.Subtract(h.SPort)
		if rest.Empty() {
			return q, false
		}
		q.SPort = firstPort(rest)
	case DPort:
		rest := c.DPort.Subtract(h.DPort)
		if rest.Empty() {
			return q, false
		}
		q.DPort = firstPort(rest)
	case IIf:
		rest := c.IIf.Subtract(h.IIf)
		if rest.Empty() {
			return q, false
		}
		q.IIf = firstIf(rest)
	case OIf:
		rest := c.OIf.Subtract(h.OIf)
		if rest.Empty() {
			return q, false
		}
		q.OIf = firstIf(rest)
	}
	return q, true
}

// pickSet is the set of the address Pick chooses (the family told by the
// set's highest address).
func (a Addrs) pickSet() Addrs {
	if len(a.rs) == 0 {
		return a
	}
	x := a.pickAny()
	return Addrs{[]Range{{x, x}}}
}

// pickSetIn is pickSet in b.
func (a Addrs) pickSetIn(b *[1]Range) Addrs {
	if len(a.rs) == 0 {
		return a
	}
	x := a.pickAny()
	b[0] = Range{x, x}
	return Addrs{b[:]}
}

// pickAny is Pick of a non-empty set, the family told by its highest
// address.
func (a Addrs) pickAny() U128 {
	fam := 6
	if top := a.rs[len(a.rs)-1].Hi; top.Hi == 0 && top.Lo <= 0xffffffff {
		fam = 4
	}
	return a.pick(fam)
}

func (a Addrs) randomSet(r uint64) Addrs {
	if len(a.rs) == 0 {
		return a
	}
	rg := a.rs[r%uint64(len(a.rs))]
	r = r*0x2545f4914f6cdd1d + 1
	x := rg.Lo
	if rg.Hi.Hi == rg.Lo.Hi {
		if span := rg.Hi.Lo - rg.Lo.Lo; span != ^uint64(0) {
			x.Lo += r % (span + 1)
		} else {
			x.Lo = r
		}
	} else {
		x.Lo = r
		if x.Less(rg.Lo) || rg.Hi.Less(x) {
			x = rg.Lo
		}
	}
	return Addrs{[]Range{{x, x}}}
}

func firstPort(s model.PortSet) model.PortSet {
	rs := s.Ranges()
	if len(rs) == 0 {
		return s
	}
	// Sets are immutable: a set of one port, and those of port 0 and 1
	// (the first of any port), are shared rather than made again.
	switch lo := rs[0].Lo; {
	case len(rs) == 1 && rs[0].Hi == lo:
		return s
	case lo == 0:
		return port0
	case lo == 1:
		return port1
	}
	return model.NewPortSet(model.PortRange{Lo: rs[0].Lo, Hi: rs[0].Lo})
}

var port0, port1 = model.NewPortSet(model.PortRange{Lo: 0, Hi: 0}), model.NewPortSet(model.PortRange{Lo: 1, Hi: 1})

func randomPort(s model.PortSet, r uint64) model.PortSet {
	rs := s.Ranges()
	if len(rs) == 0 {
		return s
	}
	rg := rs[r%uint64(len(rs))]
	x := rg.Lo + uint16((r>>16)%uint64(rg.Len()))
	return model.NewPortSet(model.PortRange{Lo: x, Hi: x})
}

func firstIf(s IfSet) IfSet {
	i := s.First()
	out := IfSet{make([]uint64, len(s.w))}
	if i >= 0 {
		out.w[i/64] |= 1 << (i % 64)
	}
	return out
}

// firstIfIn is firstIf in b, when the set has one word.
func firstIfIn(s IfSet, b *[1]uint64) IfSet {
	if len(s.w) != 1 {
		return firstIf(s)
	}
	b[0] = 0
	if i := s.First(); i >= 0 {
		b[0] = 1 << i
	}
	return IfSet{b[:]}
}

func randomIf(s IfSet, r uint64) IfSet {
	cs := s.Classes()
	out := IfSet{make([]uint64, len(s.w))}
	if len(cs) > 0 {
		i := cs[r%uint64(len(cs))]
		out.w[i/64] |= 1 << (i % 64)
	}
	return out
}

// Cubes writes the region as disjoint cubes, or gives up (false) when that
// takes more than limit cubes or subtractions.
func (r Region) Cubes(limit int) ([]Cube, bool) {
	if r.Base.Empty() {
		return nil, true
	}
	if r.Holes.Len() == 0 {
		return []Cube{r.Base}, true
	}
	// Two lists in turn: the pieces, and those left of them by a hole.
	pieces, next := []Cube{r.Base}, []Cube(nil)
	steps := 0
	ok := true
	r.Holes.Overlapping(r.Base, func(hole Cube, _ int32) bool {
		next = next[:0]
		for _, p := range pieces {
			if steps++; steps > limit {
				ok = false
				return false
			}
			if !p.Overlaps(hole) {
				next = append(next, p)
				continue
			}
			next = p.appendSubtract(next, hole)
		}
		pieces, next = next, pieces
		if len(pieces) > limit {
			ok = false
			return false
		}
		return len(pieces) > 0
	})
	if !ok {
		return nil, false
	}
	return pieces, true
}
