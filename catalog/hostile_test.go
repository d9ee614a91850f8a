package catalog

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// typeErrors is a profile whose one line holds n type errors: n lists
// where notes[0].about wants strings.
func typeErrors(n int) string {
	return "service: {slug: x}\nnotes:\n  - text: x\n    about: [" + strings.Repeat("[], ", n) + "[]]\n"
}

// unknownFields is a profile with n unknown fields, one per line.
func unknownFields(n int) string {
	var b strings.Builder
	b.WriteString("service: {slug: x}\nnotes:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {text: x, abot: [y]}\n")
	}
	return b.String()
}

// TestLoadCapsErrors checks that a profile with thousands of errors
// reports the first MaxErrors of them and counts the rest.
func TestLoadCapsErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		total int
		first string
	}{
		{"type errors", typeErrors(5000), 5001, "notes[0].about: cannot unmarshal !!seq into string"},
		{"unknown fields", unknownFields(3000), 3000, `notes[0].abot: unknown field "abot"`},
		{"just under", typeErrors(MaxErrors - 1), MaxErrors, "notes[0].about"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("x.yaml", []byte(tt.src))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want Errors", err)
			}
			if !strings.Contains(es[0].Error(), tt.first) {
				t.Errorf("first error %q, want one containing %q", es[0], tt.first)
			}
			if tt.total <= MaxErrors {
				if len(es) != tt.total {
					t.Errorf("%d errors reported, want all %d", len(es), tt.total)
				}
				return
			}
			if len(es) != MaxErrors+1 {
				t.Fatalf("%d errors reported, want %d and a count of the rest", len(es), MaxErrors+1)
			}
			last := es[len(es)-1]
			want := fmt.Sprintf("and %d more errors", tt.total-MaxErrors)
			if last.File != "x.yaml" || !strings.Contains(last.Msg, want) {
				t.Errorf("last error %q, want %q", last, want)
			}
		})
	}
}

// TestDecodeErrorsLinear counts the positions the naming of decode errors
// looks at: at 4N errors it must be about 4 times the work of N errors,
// not 16 times.
func TestDecodeErrorsLinear(t *testing.T) {
	steps := func(src string) int {
		root, err := parseNode("x.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		idx := newIndex("x.yaml", root)
		var v struct {
			Notes []struct{ About []string }
		}
		derr := root.Decode(&v)
		if derr == nil {
			t.Fatal("no decode error")
		}
		idx.decodeErrors(derr)
		return idx.steps
	}
	for _, mk := range []func(int) string{typeErrors, func(n int) string {
		return strings.Replace(typeErrors(n), "[], ", "[],\n      ", -1)
	}} {
		n := 2000
		a, b := steps(mk(n)), steps(mk(4*n))
		if b > 5*a || a == 0 {
			t.Errorf("naming %d errors took %d steps, %d errors %d steps: not linear", n, a, 4*n, b)
		}
	}
}
