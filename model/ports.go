package model

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/portolan/portolan/internal/lazyre"
)

// PortRange is an inclusive range of ports, Lo ≤ Hi, both in 1..65535.
type PortRange struct{ Lo, Hi uint16 }

// String writes "443" or "10000-20000".
func (r PortRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return strconv.Itoa(int(r.Lo)) + "-" + strconv.Itoa(int(r.Hi))
}

// Len is the number of ports in the range.
func (r PortRange) Len() int { return int(r.Hi) - int(r.Lo) + 1 }

// Contains reports whether p is in the range.
func (r PortRange) Contains(p uint16) bool { return r.Lo <= p && p <= r.Hi }

// ParsePortRange parses "443" or "10000-20000": the one port grammar of
// profiles, params and the JSON Schema (its "port" pattern). Digits only,
// no sign, no leading zero, no space; port 0, ports above 65535 and
// reversed ranges are errors.
func ParsePortRange(s string) (PortRange, error) {
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return PortRange{}, fmt.Errorf("port range %q has a space; write ports and ranges as 443 or 10000-20000", s)
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := parsePort(lo)
	if err != nil {
		return PortRange{}, err
	}
	if !isRange {
		return PortRange{a, a}, nil
	}
	b, err := parsePort(hi)
	if err != nil {
		return PortRange{}, err
	}
	if b < a {
		return PortRange{}, fmt.Errorf("reversed range %q: %d is above %d", s, a, b)
	}
	return PortRange{a, b}, nil
}

func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("empty port")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("port %q is not a number", s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("port %q has a leading zero", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > 65535 {
		return 0, fmt.Errorf("port %s is above 65535", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("port 0 is not a port")
	}
	return uint16(n), nil
}

// ParsePortList parses a comma-separated list of ports and ranges, as a
// ports param is written ("36000-59999,60010"); spaces may stand around
// the commas, not inside a range.
func ParsePortList(s string) ([]PortRange, error) {
	var out []PortRange
	for _, part := range strings.Split(s, ",") {
		r, err := ParsePortRange(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// PortSet is a set of ports kept as sorted, disjoint, non-adjacent ranges.
// The zero value is the empty set.
type PortSet struct{ rs []PortRange }

// NewPortSet returns the union of the given ranges.
func NewPortSet(rs ...PortRange) PortSet {
	var s PortSet
	for _, r := range rs {
		s = s.Add(r)
	}
	return s
}

// AllPorts is 1-65535.
func AllPorts() PortSet { return PortSet{[]PortRange{{1, 65535}}} }

// Ranges returns the set's ranges, sorted; the caller must not modify them.
func (s PortSet) Ranges() []PortRange { return s.rs }

// Empty reports whether the set has no port.
func (s PortSet) Empty() bool { return len(s.rs) == 0 }

// Len counts the ports in the set.
func (s PortSet) Len() int {
	n := 0
	for _, r := range s.rs {
		n += r.Len()
	}
	return n
}

// Contains reports whether p is in the set.
func (s PortSet) Contains(p uint16) bool {
	i := sort.Search(len(s.rs), func(i int) bool { return s.rs[i].Hi >= p })
	return i < len(s.rs) && s.rs[i].Lo <= p
}

// Add returns the set with r added, merging overlapping and adjacent ranges.
func (s PortSet) Add(r PortRange) PortSet {
	out := make([]PortRange, 0, len(s.rs)+1)
	i := 0
	for ; i < len(s.rs) && int(s.rs[i].Hi)+1 < int(r.Lo); i++ {
		out = append(out, s.rs[i])
	}
	for ; i < len(s.rs) && int(s.rs[i].Lo) <= int(r.Hi)+1; i++ {
		r.Lo = min(r.Lo, s.rs[i].Lo)
		r.Hi = max(r.Hi, s.rs[i].Hi)
	}
	out = append(out, r)
	out = append(out, s.rs[i:]...)
	return PortSet{out}
}

// Union returns s ∪ t.
func (s PortSet) Union(t PortSet) PortSet {
	for _, r := range t.rs {
		s = s.Add(r)
	}
	return s
}

// Intersect returns s ∩ t.
func (s PortSet) Intersect(t PortSet) PortSet {
	var out []PortRange
	i, j := 0, 0
	for i < len(s.rs) && j < len(t.rs) {
		a, b := s.rs[i], t.rs[j]
		lo, hi := max(a.Lo, b.Lo), min(a.Hi, b.Hi)
		if lo <= hi {
			out = append(out, PortRange{lo, hi})
		}
		if a.Hi < b.Hi {
			i++
		} else {
			j++
		}
	}
	return PortSet{out}
}

// Subtract returns s \ t.
func (s PortSet) Subtract(t PortSet) PortSet {
	var out []PortRange
	j := 0
	for _, r := range s.rs {
		lo := int(r.Lo)
		for j < len(t.rs) && t.rs[j].Hi < r.Lo {
			j++
		}
		for k := j; k < len(t.rs) && t.rs[k].Lo <= r.Hi; k++ {
			if int(t.rs[k].Lo) > lo {
				out = append(out, PortRange{uint16(lo), t.rs[k].Lo - 1})
			}
			lo = int(t.rs[k].Hi) + 1
		}
		if lo <= int(r.Hi) {
			out = append(out, PortRange{uint16(lo), r.Hi})
		}
	}
	return PortSet{out}
}

// Equal reports whether s and t hold the same ports.
func (s PortSet) Equal(t PortSet) bool {
	if len(s.rs) != len(t.rs) {
		return false
	}
	for i := range s.rs {
		if s.rs[i] != t.rs[i] {
			return false
		}
	}
	return true
}

// Strings writes each range as "443" or "lo-hi".
func (s PortSet) Strings() []string {
	out := make([]string, len(s.rs))
	for i, r := range s.rs {
		out[i] = r.String()
	}
	return out
}

// String writes the set as a comma-separated list.
func (s PortSet) String() string { return strings.Join(s.Strings(), ",") }

// PortExpr is a port range one of whose ends a number param gives:
// "10000-{rtp_end}" (the param is the last port) or "10000+2*{calls}"
// (the range holds Mult times the param's ports, from Lo on). A vendor
// that sizes its RTP range by the number of concurrent calls is written
// with the second form.
type PortExpr struct {
	Raw   string
	Lo    uint16
	Param string
	// Count: the param counts ports (times Mult); otherwise it is Hi.
	Count bool
	Mult  int
}

var portExprRE = lazyre.New(`^([0-9]+)(?:-|\+(?:([0-9]+)\*)?)\{([a-z][a-z0-9_]*)\}$`)

// IsPortExpr reports whether s is written as a port expression (a port,
// "-" or "+", a param) rather than a port, a range or a whole param.
func IsPortExpr(s string) bool {
	return strings.ContainsAny(s, "{}") && !strings.HasPrefix(s, "{")
}

// ParsePortExpr parses "LO-{param}", "LO+{param}" or "LO+K*{param}".
func ParsePortExpr(s string) (PortExpr, error) {
	m := portExprRE.FindStringSubmatch(s)
	if m == nil {
		return PortExpr{}, fmt.Errorf("port expression %q: write LO-{param} (the param is the last port), LO+{param} or LO+K*{param} (that many ports from LO)", s)
	}
	lo, err := parsePort(m[1])
	if err != nil {
		return PortExpr{}, fmt.Errorf("port expression %q: %v", s, err)
	}
	e := PortExpr{Raw: s, Lo: lo, Param: m[3], Mult: 1, Count: strings.Contains(s, "+")}
	if m[2] != "" {
		if len(m[2]) > 1 && m[2][0] == '0' {
			return PortExpr{}, fmt.Errorf("port expression %q: factor %s has a leading zero", s, m[2])
		}
		k, err := strconv.Atoi(m[2])
		if err != nil || k < 1 || k > 65535 {
			return PortExpr{}, fmt.Errorf("port expression %q: factor %s is not in 1..65535", s, m[2])
		}
		e.Mult = k
	}
	return e, nil
}

// Eval returns the range for the param's value n, or an error naming the
// param when the range is empty, reversed or goes past 65535.
func (e PortExpr) Eval(n int) (PortRange, error) {
	if !e.Count {
		if n < 1 || n > 65535 {
			return PortRange{}, fmt.Errorf("%s=%d: %s: port %d is not in 1..65535", e.Param, n, e.Raw, n)
		}
		if n < int(e.Lo) {
			return PortRange{}, fmt.Errorf("%s=%d: %s is a reversed range (%d is below %d)", e.Param, n, e.Raw, n, e.Lo)
		}
		return PortRange{e.Lo, uint16(n)}, nil
	}
	size := e.Mult * n
	if n < 1 {
		return PortRange{}, fmt.Errorf("%s=%d: %s holds no port", e.Param, n, e.Raw)
	}
	if hi := int(e.Lo) + size - 1; hi > 65535 {
		return PortRange{}, fmt.Errorf("%s=%d: %s would end at port %d, above 65535", e.Param, n, e.Raw, hi)
	}
	return PortRange{e.Lo, e.Lo + uint16(size-1)}, nil
}
