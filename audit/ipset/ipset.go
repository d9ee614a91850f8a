// Package ipset reads the output of `ipset save`: the sets iptables rules
// match with -m set, so that the audit can follow those rules instead of
// calling them unknown. Input that is not ipset save output is an error
// naming the line and the field.
package ipset

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/portolan/portolan/audit/ruleset"
)

// MaxSize bounds the input Parse accepts.
const MaxSize = 1 << 30

// Set is one set of addresses.
type Set struct {
	Name   string
	Type   string // hash:net, hash:ip…
	Family int    // 4 or 6
	// Addrs are its elements, when the audit can follow it: a static set
	// (no timeout, no nomatch entries) of one address dimension.
	Addrs []ruleset.Value
	// Why says why the set cannot be followed, "" when it can.
	Why  string
	Line int
}

// Error is input that is not ipset save output.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// Looks reports whether data looks like ipset save output.
func Looks(data []byte) bool {
	for _, l := range bytes.Split(data[:min(len(data), 1<<16)], []byte("\n")) {
		t := bytes.TrimSpace(l)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		return bytes.HasPrefix(t, []byte("create ")) || bytes.HasPrefix(t, []byte("-N "))
	}
	return false
}

// Parse reads `ipset save` output; file names it in errors.
func Parse(file string, data []byte) (map[string]*Set, error) {
	if len(data) > MaxSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("larger than %d bytes", MaxSize)}
	}
	sets := map[string]*Set{}
	for i, l := range strings.Split(string(data), "\n") {
		line := i + 1
		f := strings.Fields(strings.TrimRight(l, "\r"))
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		errf := func(field, format string, args ...any) error {
			return &Error{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
		}
		switch f[0] {
		case "create", "-N":
			if len(f) < 3 {
				return nil, errf(f[0], "needs a name and a type")
			}
			if sets[f[1]] != nil {
				return nil, errf(f[1], "set created twice (line %d)", sets[f[1]].Line)
			}
			s := &Set{Name: f[1], Type: f[2], Family: 4, Line: line}
			switch f[2] {
			case "hash:ip", "hash:net", "bitmap:ip":
			default:
				s.Why = "a set of type " + f[2]
			}
			for j := 3; j < len(f); j++ {
				switch f[j] {
				case "family":
					if j+1 < len(f) && f[j+1] == "inet6" {
						s.Family = 6
					}
					j++
				case "timeout":
					if s.Why == "" {
						s.Why = "a set whose entries expire"
					}
					j++
				case "counters", "comment", "skbinfo", "forceadd":
				default:
					j++ // an option and its value: hashsize 1024, maxelem…
				}
			}
			sets[f[1]] = s
		case "add", "-A":
			if len(f) < 3 {
				return nil, errf(f[0], "needs a set and an entry")
			}
			s := sets[f[1]]
			if s == nil {
				return nil, errf(f[1], "set %q is not created before", f[1])
			}
			if s.Why != "" {
				continue
			}
			for _, o := range f[3:] {
				if o == "nomatch" {
					s.Why, s.Addrs = "a set with nomatch entries", nil
				}
			}
			if s.Why != "" {
				continue
			}
			v, err := entry(f[2], s.Family)
			if err != nil {
				return nil, errf(f[2], "%v", err)
			}
			s.Addrs = append(s.Addrs, v)
		default:
			return nil, errf(f[0], "not a line of ipset save output (create or add)")
		}
	}
	if len(sets) == 0 {
		return nil, &Error{File: file, Msg: "no set: expected ipset save output (create NAME TYPE …)"}
	}
	return sets, nil
}

// entry reads an address, a prefix or a range of the set's family.
func entry(s string, fam int) (ruleset.Value, error) {
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(lo)
		b, err2 := netip.ParseAddr(hi)
		if err1 != nil || err2 != nil || b.Less(a) || a.Is4() != b.Is4() || a.Is4() != (fam == 4) {
			return ruleset.Value{}, fmt.Errorf("%q is not an address range of the set's family", s)
		}
		return ruleset.AddrValue(a, b), nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Is4() != (fam == 4) {
			return ruleset.Value{}, fmt.Errorf("%q is not a prefix of the set's family", s)
		}
		return ruleset.PrefixValue(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Unmap().Is4() != (fam == 4) {
		return ruleset.Value{}, fmt.Errorf("%q is not an address of the set's family", s)
	}
	a = a.Unmap()
	return ruleset.AddrValue(a, a), nil
}
