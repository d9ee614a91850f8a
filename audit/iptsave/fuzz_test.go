package iptsave

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse feeds Parse arbitrary text: it must not panic, and every
// error must be an *Error naming the file (and a line, for a line's fault).
func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("testdata/router.rules")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p tcp -m multiport ! --ports 1:2,3 -m tcp --tcp-flags ALL SYN -j ACCEPT\nCOMMIT\n"))
	f.Add([]byte("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p udp -j DNAT --to-destination [2001:db8::1]:5060\nCOMMIT\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rs, err := Parse("fuzz.rules", in)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != "fuzz.rules" {
				t.Fatalf("error %T %v does not name the file", err, err)
			}
			return
		}
		for _, c := range rs.Chains {
			for i, r := range c.Rules {
				if r.Index != i || r.Pos.Line < 1 {
					t.Fatalf("rule %d of %s: index %d line %d", i, c, r.Index, r.Pos.Line)
				}
			}
		}
	})
}
