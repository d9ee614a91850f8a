package nftjson

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/testenv"
)

// Issue 8, item 4: an overlong string (a 100 MB comment, on the one line
// nft -j prints) is refused where it begins, before it is copied.
func TestLongStringRefused(t *testing.T) {
	chain := `{"chain": {"family": "inet", "table": "t", "name": "c", "hook": "forward", "prio": 0}}`
	for _, tt := range []struct {
		name, in, want string
	}{
		{"100 MB comment", `{"nftables": [` + chain + `, {"rule": {"family": "inet", "table": "t", "chain": "c", "comment": "` +
			strings.Repeat("x", 100<<20) + `", "expr": []}}]}`, "x.json:1:170: a string longer than 1 MiB"},
		{"escaped", `{"nftables": [` + "\n" + `{"` + strings.Repeat(`\n`, MaxString+1) + `": 1}]}`, "x.json:2:2: a string longer than 1 MiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.in)
			var err error
			total, _ := testenv.Allocs(func() any { _, err = Parse("x.json", data); return nil })
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if total > 16<<20 {
				t.Errorf("refusing it allocated %d bytes", total)
			}
		})
	}
}

// Issue 8, item 4: what a parsed ruleset holds per rule, and what reading
// it allocates per input byte, are bounded: the document is not held as a
// tree, and terms of one value share their set. (Issue 9: 3.5 bytes
// allocated per input byte before rules were read straight from the text,
// 1.7 after.)
func TestMemoryPerRule(t *testing.T) {
	const n = 20000
	var b bytes.Buffer
	b.WriteString(`{"nftables": [{"table": {"family": "inet", "name": "t", "handle": 1}}, {"chain": {"family": "inet", "table": "t", "name": "c", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}}`)
	for i := range n {
		fmt.Fprintf(&b, `, {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": %d, "expr": [`+
			`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "192.0.2.%d"}}, `+
			`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "198.51.100.%d"}}, `+
			`{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lan0"}}, `+
			`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": %d}}, `+
			`{"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}}`, i+3, i%250+1, i/250%250+1, 1000+i%100)
	}
	b.WriteString("]}\n")
	data := b.Bytes()
	total, held := testenv.Allocs(func() any {
		rs, err := Parse("x.json", data)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs.Chains) != 1 || len(rs.Chains[0].Rules) != n || len(rs.Chains[0].Rules[n-1].Terms) < 4 {
			t.Fatalf("read %v", rs.Chains)
		}
		return rs
	})
	runtime.KeepAlive(data) // held counts what the ruleset holds, beside the input
	perRule, perByte := float64(held)/n, float64(total)/float64(len(data))
	t.Logf("%d rules, %d bytes: %.0f bytes held per rule, %.1f allocated per input byte", n, len(data), perRule, perByte)
	if perRule > 650 {
		t.Errorf("%.0f bytes held per rule, want at most 650", perRule)
	}
	if perByte > 2.5 {
		t.Errorf("%.1f bytes allocated per input byte, want at most 2.5", perByte)
	}
}

// Issue 9: reading a rule allocates for what the rule keeps, not for the
// JSON paths errors would name (spelled out only for an error), nor for
// each object of the document (copied into slabs, small ones shared by
// their text) or the operands and dependencies every payload match
// shares: 62 allocations a rule before those, about 22 after; about 4
// since the rules and their common statements are read straight from the
// text, without a tree of objects (fastRule, fastStmt).
func TestAllocsPerRule(t *testing.T) {
	const n = 2000
	var b bytes.Buffer
	b.WriteString(`{"nftables": [{"table": {"family": "inet", "name": "t", "handle": 1}}, {"chain": {"family": "inet", "table": "t", "name": "c", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}}`)
	for i := range n {
		fmt.Fprintf(&b, `, {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": %d, "expr": [`+
			`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "192.0.2.%d"}}, `+
			`{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lan0"}}, `+
			`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": %d}}, `+
			`{"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}}`, i+3, i%250+1, 1000+i%100)
	}
	b.WriteString("]}\n")
	data := b.Bytes()
	per := testing.AllocsPerRun(3, func() {
		if _, err := Parse("x.json", data); err != nil {
			t.Fatal(err)
		}
	}) / n
	t.Logf("%.1f allocations per rule", per)
	if per > 8 {
		t.Errorf("%.1f allocations per rule, want at most 8", per)
	}
}
