package space

import "github.com/portolan/portolan/model"

// Dim is one dimension of a cube.
type Dim uint8

// Dimensions of a cube.
const (
	Src Dim = iota
	Dst
	SPort
	DPort
	IIf
	OIf
	NumDims
)

var dimNames = [...]string{"src", "dst", "sport", "dport", "iif", "oif"}

func (d Dim) String() string { return dimNames[d] }

// Cube is a set of packets of one family and protocol: every combination
// of its source and destination addresses, ports and interfaces. Values are
// immutable.
type Cube struct {
	Src, Dst     Addrs
	SPort, DPort model.PortSet
	IIf, OIf     IfSet
}

// Empty reports whether the cube holds no packet.
func (c Cube) Empty() bool {
	return c.Src.Empty() || c.Dst.Empty() || c.SPort.Empty() || c.DPort.Empty() || c.IIf.Empty() || c.OIf.Empty()
}

// Equal reports whether two cubes are the same.
func (c Cube) Equal(d Cube) bool {
	return c.Src.Equal(d.Src) && c.Dst.Equal(d.Dst) && c.SPort.Equal(d.SPort) && c.DPort.Equal(d.DPort) &&
		c.IIf.Equal(d.IIf) && c.OIf.Equal(d.OIf)
}

// Intersect returns c ∩ d. A dimension of one that lies in the other's
// is shared, not copied (sets are never changed in place).
func (c Cube) Intersect(d Cube) Cube {
	return Cube{
		Src: c.Src.Intersect(d.Src), Dst: c.Dst.Intersect(d.Dst),
		SPort: intersectPorts(c.SPort, d.SPort), DPort: intersectPorts(c.DPort, d.DPort),
		IIf: c.IIf.Intersect(d.IIf), OIf: c.OIf.Intersect(d.OIf),
	}
}

// intersectPorts returns a ∩ b: one of them when it lies in the other.
func intersectPorts(a, b model.PortSet) model.PortSet {
	if PortsSubset(a, b) {
		return a
	}
	if PortsSubset(b, a) {
		return b
	}
	return a.Intersect(b)
}

// Overlaps reports whether c ∩ d is not empty.
func (c Cube) Overlaps(d Cube) bool {
	return c.Src.Overlaps(d.Src) && c.Dst.Overlaps(d.Dst) && PortsOverlap(c.SPort, d.SPort) &&
		PortsOverlap(c.DPort, d.DPort) && c.IIf.Overlaps(d.IIf) && c.OIf.Overlaps(d.OIf)
}

// Covers reports whether every packet of d is in c.
func (c Cube) Covers(d Cube) bool {
	return d.Src.SubsetOf(c.Src) && d.Dst.SubsetOf(c.Dst) && PortsSubset(d.SPort, c.SPort) &&
		PortsSubset(d.DPort, c.DPort) && d.IIf.SubsetOf(c.IIf) && d.OIf.SubsetOf(c.OIf)
}

// Subtract returns c \ d as disjoint cubes (at most one per dimension).
func (c Cube) Subtract(d Cube) []Cube {
	if !c.Overlaps(d) {
		return []Cube{c}
	}
	return c.appendSubtract(nil, d)
}

// appendSubtract appends c \ d to out, c and d overlapping. A dimension
// of c that lies in d's leaves nothing: it is not subtracted.
func (c Cube) appendSubtract(out []Cube, d Cube) []Cube {
	rest := c
	if !rest.Src.SubsetOf(d.Src) {
		p := rest
		p.Src = rest.Src.Subtract(d.Src)
		out = append(out, p)
		rest.Src = rest.Src.Intersect(d.Src)
	}
	if !rest.Dst.SubsetOf(d.Dst) {
		p := rest
		p.Dst = rest.Dst.Subtract(d.Dst)
		out = append(out, p)
		rest.Dst = rest.Dst.Intersect(d.Dst)
	}
	if !PortsSubset(rest.SPort, d.SPort) {
		p := rest
		p.SPort = rest.SPort.Subtract(d.SPort)
		out = append(out, p)
		rest.SPort = rest.SPort.Intersect(d.SPort)
	}
	if !PortsSubset(rest.DPort, d.DPort) {
		p := rest
		p.DPort = rest.DPort.Subtract(d.DPort)
		out = append(out, p)
		rest.DPort = rest.DPort.Intersect(d.DPort)
	}
	if !rest.IIf.SubsetOf(d.IIf) {
		p := rest
		p.IIf = rest.IIf.Subtract(d.IIf)
		out = append(out, p)
		rest.IIf = rest.IIf.Intersect(d.IIf)
	}
	if !rest.OIf.SubsetOf(d.OIf) {
		p := rest
		p.OIf = rest.OIf.Subtract(d.OIf)
		out = append(out, p)
	}
	return out
}

// PortsOverlap reports whether two port sets share a port, without
// building the intersection.
func PortsOverlap(a, b model.PortSet) bool {
	x, y := a.Ranges(), b.Ranges()
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		if x[i].Hi < y[j].Lo {
			i++
		} else if y[j].Hi < x[i].Lo {
			j++
		} else {
			return true
		}
	}
	return false
}

// PortsSubset reports whether every port of a is in b.
func PortsSubset(a, b model.PortSet) bool {
	y := b.Ranges()
	j := 0
	for _, r := range a.Ranges() {
		for j < len(y) && y[j].Hi < r.Lo {
			j++
		}
		if j == len(y) || r.Lo < y[j].Lo || y[j].Hi < r.Hi {
			return false
		}
	}
	return true
}

// AllPortsWithZero is 0-65535: the complement base for rules, which may
// name port 0.
func AllPortsWithZero() model.PortSet { return model.NewPortSet(model.PortRange{Lo: 0, Hi: 65535}) }

// Merge joins cubes that differ in one dimension only, repeatedly, so that
// a partition split by many rules reads as few cubes. Cubes must be
// disjoint; the result covers the same packets.
func Merge(cs []Cube) []Cube {
	for changed := true; changed && len(cs) > 1; {
		changed = false
		for i := 0; i < len(cs); i++ {
			for j := i + 1; j < len(cs); j++ {
				if m, ok := mergeTwo(cs[i], cs[j]); ok {
					cs[i] = m
					cs = append(cs[:j], cs[j+1:]...)
					j--
					changed = true
				}
			}
		}
	}
	return cs
}

func mergeTwo(a, b Cube) (Cube, bool) {
	diff := -1
	eq := [NumDims]bool{
		a.Src.Equal(b.Src), a.Dst.Equal(b.Dst), a.SPort.Equal(b.SPort),
		a.DPort.Equal(b.DPort), a.IIf.Equal(b.IIf), a.OIf.Equal(b.OIf),
	}
	for d, e := range eq {
		if !e {
			if diff >= 0 {
				return Cube{}, false
			}
			diff = d
		}
	}
	m := a
	switch Dim(diff) {
	case Src:
		m.Src = a.Src.Union(b.Src)
	case Dst:
		m.Dst = a.Dst.Union(b.Dst)
	case SPort:
		m.SPort = a.SPort.Union(b.SPort)
	case DPort:
		m.DPort = a.DPort.Union(b.DPort)
	case IIf:
		m.IIf = a.IIf.Union(b.IIf)
	case OIf:
		m.OIf = a.OIf.Union(b.OIf)
	}
	return m, true
}
