package iptsave

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/testenv"
)

// Issue 8, item 4: an overlong line is refused with its number before it
// is copied or split (a 100 MB comment took 2.3 GB).
func TestLongLineRefused(t *testing.T) {
	head := "*filter\n:FORWARD DROP [0:0]\n"
	for _, tt := range []struct {
		name string
		line string
		want string
	}{
		{"100 MB comment", `-A FORWARD -m comment --comment "` + strings.Repeat("x", 100<<20) + `" -j ACCEPT`, "x.rules:3: the line is longer than 1 MiB"},
		{"a line of spaces", strings.Repeat(" ", MaxLine+1), "x.rules:3: the line is longer than 1 MiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(head + tt.line + "\nCOMMIT\n")
			var err error
			total, _ := testenv.Allocs(func() any { _, err = Parse("x.rules", data); return nil })
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if total > 1<<20 {
				t.Errorf("refusing it allocated %d bytes", total)
			}
		})
	}
	// a long line below the bound is read
	line := `-A FORWARD -m comment --comment "` + strings.Repeat("x", MaxLine-60) + `" -j ACCEPT`
	if _, err := Parse("x.rules", []byte(head+line+"\nCOMMIT\n")); err != nil {
		t.Fatal(err)
	}
}

// Issue 8, item 4: memory grows with rules, not with some multiple of the
// input: what a parsed ruleset holds per rule, and what reading it
// allocates per input byte, are bounded.
func TestMemoryPerRule(t *testing.T) {
	const n = 20000
	var b bytes.Buffer
	b.WriteString("*filter\n:FORWARD DROP [0:0]\n")
	for i := range n {
		fmt.Fprintf(&b, "-A FORWARD -s 192.0.2.%d/32 -d 198.51.100.%d/32 -i lan0 -p tcp -m tcp --dport %d -m comment --comment \"rule %d\" -j ACCEPT\n",
			i%250+1, i/250%250+1, 1000+i%100, i)
	}
	b.WriteString("COMMIT\n")
	data := b.Bytes()
	total, held := testenv.Allocs(func() any {
		rs, err := Parse("x.rules", data)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	})
	runtime.KeepAlive(data) // held counts what the ruleset holds, beside the input
	perRule, perByte := float64(held)/n, float64(total)/float64(len(data))
	t.Logf("%d rules, %d bytes: %.0f bytes held per rule, %.1f allocated per input byte", n, len(data), perRule, perByte)
	// A rule's line is kept as its text (~120 bytes here); its struct, its
	// five terms and their shared sets take about 500 more.
	if perRule > 700 {
		t.Errorf("%.0f bytes held per rule, want at most 700", perRule)
	}
	if perByte > 8 {
		t.Errorf("%.1f bytes allocated per input byte, want at most 8", perByte)
	}
	// The rules' texts are parts of one string of the input, and rules
	// and their terms come from slabs: a rule costs no allocation of its
	// own (3.3 each before; the sets of new values remain).
	allocs := testing.AllocsPerRun(2, func() {
		if _, err := Parse("x.rules", data); err != nil {
			t.Fatal(err)
		}
	})
	if allocs/n > 0.5 {
		t.Errorf("%.2f allocations per rule, want at most 0.5", allocs/n)
	}
}
