package model

import (
	"strings"
	"testing"
)

// FuzzParsePortRange checks that the port grammar never panics and that
// what it accepts prints back as written.
func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"443", "10000-20000", "5590 - 5600", "0443", "-", "65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePortRange(s)
		if err != nil {
			return
		}
		if r.Lo == 0 || r.Lo > r.Hi {
			t.Fatalf("%q gave %v", s, r)
		}
		// One grammar: what parses prints back as written, but for lo-lo.
		if back := r.String(); back != s && back+"-"+back != s {
			t.Fatalf("%q parses as %v but prints as %q", s, r, back)
		}
	})
}

// FuzzPortExpr checks that port expressions never panic and evaluate to
// ranges within 1..65535 or an error.
func FuzzPortExpr(f *testing.F) {
	for _, s := range []string{"10000+2*{calls}", "10000-{end}", "1+65535*{n}", "{a}"} {
		f.Add(s, 50)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		e, err := ParsePortExpr(s)
		if err != nil {
			return
		}
		if n < 0 || n > 65535 {
			n %= 65536
			if n < 0 {
				n = -n
			}
		}
		r, err := e.Eval(n)
		if err == nil && (r.Lo == 0 || r.Lo > r.Hi || r.Lo != e.Lo) {
			t.Fatalf("%q with %d gave %v", s, n, r)
		}
	})
}

// FuzzGlobEntry checks that host entries never panic, and that a
// host-name pattern widens to a domain of two labels or more that the
// pattern's names end in.
func FuzzGlobEntry(f *testing.F) {
	for _, s := range []string{"router*.vendor.com", "*.librestream.com", "a.*.b.example", "*vendor.com", "{company}.call.sl", "198.51.100.0/24", "any"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEntry(s)
		if err != nil || e.Kind != EntryGlob {
			return
		}
		if strings.Count(e.Domain, ".") < 1 || !strings.HasSuffix(s, "."+e.Domain) || strings.Contains(e.Domain, "*") {
			t.Fatalf("%q widens to %q", s, e.Widened())
		}
		if e.MatchGlob(e.Domain) {
			t.Fatalf("%q matches its own domain %q", s, e.Domain)
		}
	})
}
