package model

import "testing"

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
