package iptsave

import (
	"errors"
	"fmt"
	"os"
	"strings"
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

// tokensByBuilder is tokens as it was written first, a byte at a time into
// a builder: the reference the faster one is checked against.
func tokensByBuilder(s string) ([]string, error) {
	var out []string
	var b strings.Builder
	in, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		case c == '"':
			quoted = !quoted
			in = true
		case !quoted && (c == ' ' || c == '\t'):
			if in {
				out = append(out, b.String())
				b.Reset()
				in = false
			}
		default:
			b.WriteByte(c)
			in = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("a quote is not closed")
	}
	if in {
		out = append(out, b.String())
	}
	return out, nil
}

// FuzzTokens checks the splitting of rule lines against the reference.
func FuzzTokens(f *testing.F) {
	for _, s := range []string{`-A X -m comment --comment "a \"b\" c" -j ACCEPT`, `""`, ` a  "b"c\ d"e f" `, "\t\"x\\\\\"", `"open`,
		"-A FORWARD -s 192.0.2.1/32 -j ACCEPT", "  two  spaces  ", "x", " ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := tokens(s)
		want, werr := tokensByBuilder(s)
		if (err == nil) != (werr == nil) || len(got) != len(want) {
			t.Fatalf("%q: %q, %v; want %q, %v", s, got, err, want, werr)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%q: %q; want %q", s, got, want)
			}
		}
	})
}
