// Package space is the packet-set algebra of the audit: sets of addresses
// of one family, sets of interface classes, and cubes — the product of
// source and destination addresses, source and destination ports and input
// and output interfaces — that a ruleset's rules split into the parts they
// accept and the parts they drop.
package space

import (
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"
)

// U128 is an address as a number: IPv4 addresses use the low 32 bits.
type U128 struct{ Hi, Lo uint64 }

// Less reports a < b.
func (a U128) Less(b U128) bool { return a.Hi < b.Hi || (a.Hi == b.Hi && a.Lo < b.Lo) }

// Next returns a+1 (wrapping).
func (a U128) Next() U128 {
	lo, c := bits.Add64(a.Lo, 1, 0)
	return U128{a.Hi + c, lo}
}

// Prev returns a-1 (wrapping).
func (a U128) Prev() U128 {
	lo, b := bits.Sub64(a.Lo, 1, 0)
	return U128{a.Hi - b, lo}
}

// FromAddr converts an address; an IPv4-mapped IPv6 address counts as IPv4.
func FromAddr(a netip.Addr) U128 {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return U128{0, uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[i+8])
	}
	return U128{hi, lo}
}

// Addr converts back to an address of family fam (4 or 6).
func (a U128) Addr(fam int) netip.Addr {
	if fam == 4 {
		v := uint32(a.Lo)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[7-i] = byte(a.Hi >> (8 * i))
		b[15-i] = byte(a.Lo >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

func maxOf(fam int) U128 {
	if fam == 4 {
		return U128{0, 0xffffffff}
	}
	return U128{^uint64(0), ^uint64(0)}
}

// Range is an inclusive range of addresses.
type Range struct{ Lo, Hi U128 }

// Addrs is a set of addresses of one family kept as sorted, disjoint,
// non-adjacent ranges. Values are immutable: operations return new sets.
// The zero value is the empty set.
type Addrs struct{ rs []Range }

// AllAddrs is every address of family fam.
func AllAddrs(fam int) Addrs { return Addrs{[]Range{{U128{}, maxOf(fam)}}} }

// AddrsOf builds a set from ranges in any order, overlapping or not.
func AddrsOf(rs ...Range) Addrs {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Range) int {
		if a.Lo.Less(b.Lo) {
			return -1
		}
		if b.Lo.Less(a.Lo) {
			return 1
		}
		return 0
	})
	out := rs[:0]
	for _, r := range rs {
		if r.Hi.Less(r.Lo) {
			continue
		}
		if n := len(out); n > 0 {
			last := &out[n-1]
			// adjacent or overlapping: merge (careful at the top of the space)
			if !last.Hi.Less(r.Lo) || last.Hi.Next() == r.Lo {
				if last.Hi.Less(r.Hi) {
					last.Hi = r.Hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	return Addrs{out}
}

// PrefixRange converts a prefix to a range.
func PrefixRange(p netip.Prefix) Range {
	r := netipx.RangeOfPrefix(p.Masked())
	return Range{FromAddr(r.From()), FromAddr(r.To())}
}

// AddrRange converts two addresses to a range.
func AddrRange(lo, hi netip.Addr) Range { return Range{FromAddr(lo), FromAddr(hi)} }

// Single is the set of one address.
func Single(a netip.Addr) Addrs {
	x := FromAddr(a)
	return Addrs{[]Range{{x, x}}}
}

// FromPrefixes builds a set from prefixes.
func FromPrefixes(ps []netip.Prefix) Addrs {
	rs := make([]Range, len(ps))
	for i, p := range ps {
		rs[i] = PrefixRange(p)
	}
	return AddrsOf(rs...)
}

// Ranges returns the set's ranges; the caller must not modify them.
func (a Addrs) Ranges() []Range { return a.rs }

// Empty reports whether the set has no address.
func (a Addrs) Empty() bool { return len(a.rs) == 0 }

// Contains reports whether x is in the set.
func (a Addrs) Contains(x U128) bool {
	i, _ := slices.BinarySearchFunc(a.rs, x, func(r Range, x U128) int {
		if r.Hi.Less(x) {
			return -1
		}
		if x.Less(r.Lo) {
			return 1
		}
		return 0
	})
	return i < len(a.rs) && !x.Less(a.rs[i].Lo) && !a.rs[i].Hi.Less(x)
}

// Equal reports whether the sets hold the same addresses.
func (a Addrs) Equal(b Addrs) bool { return slices.Equal(a.rs, b.rs) }

// Overlaps reports whether a ∩ b is not empty, without building it.
func (a Addrs) Overlaps(b Addrs) bool {
	i, j := 0, 0
	for i < len(a.rs) && j < len(b.rs) {
		x, y := a.rs[i], b.rs[j]
		if x.Hi.Less(y.Lo) {
			i++
		} else if y.Hi.Less(x.Lo) {
			j++
		} else {
			return true
		}
	}
	return false
}

// SubsetOf reports whether every address of a is in b.
func (a Addrs) SubsetOf(b Addrs) bool {
	j := 0
	for _, r := range a.rs {
		for j < len(b.rs) && b.rs[j].Hi.Less(r.Lo) {
			j++
		}
		if j == len(b.rs) || r.Lo.Less(b.rs[j].Lo) || b.rs[j].Hi.Less(r.Hi) {
			return false
		}
	}
	return true
}

// Intersect returns a ∩ b: one of them, shared, when it lies in the other
// (a rule's host within a flow's networks), else a new set.
func (a Addrs) Intersect(b Addrs) Addrs {
	if len(b.rs) == 1 && a.covers(b.rs[0]) {
		return b
	}
	if len(a.rs) == 1 && b.covers(a.rs[0]) {
		return a
	}
	var out []Range
	i, j := 0, 0
	for i < len(a.rs) && j < len(b.rs) {
		x, y := a.rs[i], b.rs[j]
		lo, hi := x.Lo, x.Hi
		if lo.Less(y.Lo) {
			lo = y.Lo
		}
		if y.Hi.Less(hi) {
			hi = y.Hi
		}
		if !hi.Less(lo) {
			out = append(out, Range{lo, hi})
		}
		if x.Hi.Less(y.Hi) {
			i++
		} else {
			j++
		}
	}
	return Addrs{out}
}

// covers reports whether one range of a holds all of r.
func (a Addrs) covers(r Range) bool {
	for _, x := range a.rs {
		if r.Lo.Less(x.Lo) {
			return false // sorted: no later range starts at or below r.Lo
		}
		if !x.Hi.Less(r.Hi) {
			return true
		}
	}
	return false
}

// Subtract returns a \ b.
func (a Addrs) Subtract(b Addrs) Addrs {
	var out []Range
	j := 0
	for _, r := range a.rs {
		lo := r.Lo
		done := false
		for j < len(b.rs) && b.rs[j].Hi.Less(r.Lo) {
			j++
		}
		for k := j; k < len(b.rs) && !r.Hi.Less(b.rs[k].Lo); k++ {
			if lo.Less(b.rs[k].Lo) {
				out = append(out, Range{lo, b.rs[k].Lo.Prev()})
			}
			if !b.rs[k].Hi.Less(r.Hi) {
				done = true
				break
			}
			lo = b.rs[k].Hi.Next()
		}
		if !done {
			out = append(out, Range{lo, r.Hi})
		}
	}
	return Addrs{out}
}

// Union returns a ∪ b.
func (a Addrs) Union(b Addrs) Addrs {
	if len(b.rs) == 0 {
		return a
	}
	if len(a.rs) == 0 {
		return b
	}
	return AddrsOf(append(slices.Clone(a.rs), b.rs...)...)
}

// Complement returns the addresses of family fam not in a.
func (a Addrs) Complement(fam int) Addrs { return AllAddrs(fam).Subtract(a) }

// Example addresses for witnesses from very large sets (documentation
// ranges, RFC 5737 and RFC 3849).
var (
	example4 = FromAddr(netip.MustParseAddr("203.0.113.1"))
	example6 = FromAddr(netip.MustParseAddr("2001:db8::1"))
)

// Pick returns an address of the set for a witness packet: the first one,
// or the second when the first is a network's zero address; from a very
// large set (any address) a documentation address when it holds one.
func (a Addrs) Pick(fam int) netip.Addr {
	if len(a.rs) == 0 {
		return netip.Addr{}
	}
	return a.pick(fam).Addr(fam)
}

// pick is Pick as a number, for a set that is not empty.
func (a Addrs) pick(fam int) U128 {
	ex := example4
	if fam == 6 {
		ex = example6
	}
	if a.Size() > 1<<24 && a.Contains(ex) {
		return ex
	}
	r := a.rs[0]
	// Skip a network's zero address when the range holds more than it.
	if r.Lo.Next() != r.Hi && r.Lo != r.Hi && r.Lo.Lo&3 == 0 {
		return r.Lo.Next()
	}
	return r.Lo
}

// Size is the number of addresses, saturated at 2^64.
func (a Addrs) Size() uint64 {
	var n uint64
	for _, r := range a.rs {
		d := U128{r.Hi.Hi - r.Lo.Hi, 0}
		lo, b := bits.Sub64(r.Hi.Lo, r.Lo.Lo, 0)
		d.Hi -= b
		d.Lo = lo
		if d.Hi != 0 || d.Lo == ^uint64(0) {
			return ^uint64(0)
		}
		s, c := bits.Add64(n, d.Lo+1, 0)
		if c != 0 {
			return ^uint64(0)
		}
		n = s
	}
	return n
}

// Prefixes writes the set as prefixes of family fam.
func (a Addrs) Prefixes(fam int) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range a.rs {
		out = append(out, netipx.IPRangeFrom(r.Lo.Addr(fam), r.Hi.Addr(fam)).Prefixes()...)
	}
	return out
}

// Format writes the set for people: "any" for the whole family, else
// ranges as prefixes or lo-hi, comma-separated.
func (a Addrs) Format(fam int) string {
	if len(a.rs) == 1 && a.rs[0] == (Range{U128{}, maxOf(fam)}) {
		return "any"
	}
	if len(a.rs) == 0 {
		return "none"
	}
	if len(a.rs) == 1 {
		if s, ok := formatPrefix(a.rs[0], fam); ok {
			return s
		}
	}
	var parts []string
	for _, r := range a.rs {
		if s, ok := formatPrefix(r, fam); ok {
			parts = append(parts, s)
			continue
		}
		rr := netipx.IPRangeFrom(r.Lo.Addr(fam), r.Hi.Addr(fam))
		if ps := rr.Prefixes(); len(ps) <= 2 {
			for _, p := range ps {
				parts = append(parts, p.String())
			}
			continue
		}
		parts = append(parts, rr.From().String()+"-"+rr.To().String())
	}
	return strings.Join(parts, ",")
}

// formatPrefix writes a range that is one prefix: an address alone, or
// the prefix.
func formatPrefix(r Range, fam int) (string, bool) {
	p, ok := netipx.IPRangeFrom(r.Lo.Addr(fam), r.Hi.Addr(fam)).Prefix()
	if !ok {
		return "", false
	}
	if p.IsSingleIP() {
		return p.Addr().String(), true
	}
	return p.String(), true
}
