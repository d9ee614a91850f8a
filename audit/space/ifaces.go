package space

import (
	"math/bits"
	"slices"
	"strings"
)

// Ifaces divides interface names into the classes a ruleset can tell
// apart. Every name a rule compares with (exactly, or as a prefix such as
// "eth*" or "eth+") and every name the site gives is considered; names
// that match the same rules fall into one class, and each class has a
// representative name for witness packets. The empty name stands for "no
// interface" (the input interface of a locally sent packet).
type Ifaces struct {
	exact    []string
	prefixes []string
	reps     []string
	sigs     []string
	index    map[string]int // signature -> class
	// all and real are All and Real, made once (sets are immutable)
	all, real IfSet
}

// NewIfaces builds the classes for the names rules compare with (exact),
// the prefixes they match, and other names of interest (the site's).
func NewIfaces(exact, prefixes, extra []string) *Ifaces {
	u := &Ifaces{index: map[string]int{}}
	// The loopback is a class of its own: traffic from elsewhere never
	// comes in on it, whatever the rules say about it.
	u.exact = uniq(append(slices.Clone(exact), "lo"))
	u.prefixes = uniq(prefixes)
	cands := []string{""}
	cands = append(cands, extra...)
	cands = append(cands, u.exact...)
	cands = append(cands, "lo")
	for _, p := range u.prefixes {
		cands = append(cands, p)
		for _, c := range []string{"0", "1", "9", "x", "_", "-", ".", "z", "Z"} {
			cands = append(cands, p+c)
		}
	}
	for _, o := range []string{"other0", "if0", "zz0", "q0", "_0", "0", "~"} {
		cands = append(cands, o)
	}
	for _, c := range cands {
		u.add(c)
	}
	u.all = u.Empty()
	for i := range u.reps {
		u.all.w[i/64] |= 1 << (i % 64)
	}
	u.real = u.all.Subtract(u.Of("")).Subtract(u.Of("lo"))
	return u
}

func uniq(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

func (u *Ifaces) signature(name string) string {
	var b strings.Builder
	for _, e := range u.exact {
		if e == name {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	b.WriteByte('|')
	for _, p := range u.prefixes {
		if strings.HasPrefix(name, p) {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	if name == "" {
		b.WriteString("|none")
	}
	return b.String()
}

func (u *Ifaces) add(name string) int {
	s := u.signature(name)
	if i, ok := u.index[s]; ok {
		return i
	}
	u.index[s] = len(u.reps)
	u.reps = append(u.reps, name)
	u.sigs = append(u.sigs, s)
	return len(u.reps) - 1
}

// Len is the number of classes.
func (u *Ifaces) Len() int { return len(u.reps) }

// Name returns the representative name of class i ("" for no interface).
func (u *Ifaces) Name(i int) string { return u.reps[i] }

// Class returns the class of a name, and false when the name falls in no
// class known (it cannot, for names given to NewIfaces).
func (u *Ifaces) Class(name string) (int, bool) {
	i, ok := u.index[u.signature(name)]
	return i, ok
}

// Of returns the set holding the class of name.
func (u *Ifaces) Of(name string) IfSet {
	s := u.Empty()
	if i, ok := u.Class(name); ok {
		s.w[i/64] |= 1 << (i % 64)
	}
	return s
}

// Match returns the classes whose names equal name, or start with it
// when prefix is set.
func (u *Ifaces) Match(name string, prefix bool) IfSet {
	s := u.Empty()
	for i, r := range u.reps {
		if r == name || (prefix && strings.HasPrefix(r, name)) {
			s.w[i/64] |= 1 << (i % 64)
		}
	}
	return s
}

// Empty is the empty set of classes.
func (u *Ifaces) Empty() IfSet { return IfSet{make([]uint64, (len(u.reps)+63)/64)} }

// All is every class, "no interface" included.
func (u *Ifaces) All() IfSet { return u.all }

// Real is every class of a real interface that traffic from elsewhere can
// use: neither "no interface" nor the loopback.
func (u *Ifaces) Real() IfSet { return u.real }

// IfSet is a set of interface classes of one Ifaces. Values are immutable.
type IfSet struct{ w []uint64 }

// Empty reports whether the set has no class.
func (s IfSet) Empty() bool {
	for _, w := range s.w {
		if w != 0 {
			return false
		}
	}
	return true
}

// Overlaps reports whether s ∩ t is not empty.
func (s IfSet) Overlaps(t IfSet) bool {
	for i := range s.w {
		if s.w[i]&t.w[i] != 0 {
			return true
		}
	}
	return false
}

// SubsetOf reports whether s ⊆ t.
func (s IfSet) SubsetOf(t IfSet) bool {
	for i := range s.w {
		if s.w[i]&^t.w[i] != 0 {
			return false
		}
	}
	return true
}

// Equal reports whether s and t hold the same classes.
func (s IfSet) Equal(t IfSet) bool { return slices.Equal(s.w, t.w) }

// Intersect returns s ∩ t: one of them, shared, when it lies in the other.
func (s IfSet) Intersect(t IfSet) IfSet {
	if s.SubsetOf(t) {
		return s
	}
	if t.SubsetOf(s) {
		return t
	}
	out := make([]uint64, len(s.w))
	for i := range s.w {
		out[i] = s.w[i] & t.w[i]
	}
	return IfSet{out}
}

// Subtract returns s \ t.
func (s IfSet) Subtract(t IfSet) IfSet {
	out := make([]uint64, len(s.w))
	for i := range s.w {
		out[i] = s.w[i] &^ t.w[i]
	}
	return IfSet{out}
}

// Union returns s ∪ t.
func (s IfSet) Union(t IfSet) IfSet {
	out := make([]uint64, len(s.w))
	for i := range s.w {
		out[i] = s.w[i] | t.w[i]
	}
	return IfSet{out}
}

// Classes lists the classes in the set.
func (s IfSet) Classes() []int {
	var out []int
	for i, w := range s.w {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			out = append(out, i*64+b)
			w &^= 1 << b
		}
	}
	return out
}

// Next returns the lowest class in the set from class i on, or -1.
func (s IfSet) Next(i int) int {
	for w := i / 64; w < len(s.w); w++ {
		x := s.w[w]
		if w == i/64 {
			x &^= 1<<(i%64) - 1
		}
		if x != 0 {
			return w*64 + bits.TrailingZeros64(x)
		}
	}
	return -1
}

// First returns the lowest class in the set, or -1.
func (s IfSet) First() int {
	for i, w := range s.w {
		if w != 0 {
			return i*64 + bits.TrailingZeros64(w)
		}
	}
	return -1
}
