package nftjson

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit/ruleset"
)

// The statements read straight from the text (fastStmt) give what the
// generic reading gives, also when written in ways the straight reading
// leaves to it.
func TestStraightAsGeneric(t *testing.T) {
	stmts := []string{
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "192.0.2.1"}}`,
		`{"match":{"right":"192.0.2.1","left":{"payload":{"field":"daddr","protocol":"ip"}},"op":"=="}}`,
		` { "match" : { "left" : { "payload" : { "field" : "dport" , "protocol" : "tcp" } } , "op" : "==" , "right" : 0 } } `,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 65535}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 65535}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "dport"}}, "right": 65535}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "sport"}}, "right": 65535}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "192.0.2.1"}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": 6}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": 6}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "nexthdr"}}, "right": 6}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 65536}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 1e3}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22.0}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "22"}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 1234567890123}}`,
		`{"match": {"op": "!=", "left": {"payload": {"protocol": "tcp", "field": "sport"}}, "right": 1}}`,
		`{"match": {"op": "!=", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 2}}`,
		`{"match": {"op": "==", "op": "!=", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr", "protocol": "ip6"}}, "right": "192.0.2.1"}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "192.0.2.01"}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "192.0.2.256"}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "2001:db8::1"}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "2001:db8::1"}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "::ffff:192.0.2.1"}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "fe80::1%eth0"}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@s"}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "ttl"}}, "right": 1}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "icmp", "field": "type"}}, "right": "echo-request"}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": "tcp"}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "nexthdr"}}, "right": 17}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": 256}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "nonesuch"}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth*"}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "eth\\*"}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "w\u00e9"}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": 3}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 3}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}}`,
		`{"match": {"op": "in", "left": {"meta": {"key": "iifname"}}, "right": {"set": ["a", "b"]}}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lan0", "x": 1}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"range": [5060, 5142]}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"range": [5142, 5060]}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"range": [1, 70000]}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"range": [1, 2, 3]}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"range": [1, 2], "x": 1}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"range": ["192.0.2.1", "192.0.2.9"]}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"range": ["192.0.2.9", "192.0.2.1"]}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": {"range": ["2001:db8::1", "2001:db8::ff"]}}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": {"range": ["a", "b"]}}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": {"range": [1, 6]}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "192.0.2.0", "len": 24}}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"len": 30, "addr": "192.0.2.7"}}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "192.0.2.0", "len": 33}}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "192.0.2.0", "len": "24"}}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "2001:db8::", "len": 32}}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": {"prefix": {"addr": "2001:db8::", "len": 32}}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": {"prefix": {"addr": "::ffff:192.0.2.0", "len": 120}}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"prefix": {"addr": "192.0.2.0", "len": 24}}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "192.0.2.0", "len": 24, "x": 0}}}}`,
		`{"counter": {"packets": 0, "bytes": 0}}`, `{"counter": null}`, `{"counter": {}}`, `{"counter": {"packets": 1.5}}`,
		`{"counter": {"packets": -1}}`, `{"counter": "named"}`,
		`{"accept": null}`, `{"drop": null}`, `{"return": null}`, `{"continue": null}`, `{"acc\u0065pt": null}`, `{"drop": 1}`,
		`{"jump": {"target": "c"}}`,
	}
	head := `{"nftables": [{"set": {"family": "inet", "table": "t", "name": "s", "type": "ipv4_addr", "elem": ["192.0.2.1"]}}, ` +
		`{"chain": {"family": "inet", "table": "t", "name": "c", "hook": "forward", "prio": 0}}`
	rule := func(i int, exprs ...string) string {
		return fmt.Sprintf(`, {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": %d, "expr": [%s]}}`, i, strings.Join(exprs, ", "))
	}
	var b strings.Builder
	b.WriteString(head)
	for i, s := range stmts {
		b.WriteString(rule(i+1, s))
		// after a verdict, and before one
		b.WriteString(rule(i+1000, `{"drop": null}`, s))
		b.WriteString(rule(i+2000, s, `{"accept": null}`))
		if i > 0 {
			b.WriteString(rule(i+3000, stmts[i-1], s))
		}
	}
	b.WriteString("]}")
	in := []byte(b.String())
	rs, err := Parse("x.json", in)
	want, werr := parseTree("x.json", in)
	if err != nil || werr != nil {
		t.Fatalf("%v, %v", err, werr)
	}
	if !reflect.DeepEqual(rs, want) {
		t.Errorf("streamed and straight:\n%v\nas a tree:\n%v", rs, want)
	}
	if len(rs.Chains[0].Rules) < 4*len(stmts)-1 {
		t.Errorf("%d rules", len(rs.Chains[0].Rules))
	}
	// sets of one value are shared, whichever reading made them
	shared := map[string]*ruleset.Tuple{}
	for _, r := range rs.Chains[0].Rules {
		for _, tm := range r.Terms {
			if len(tm.Set) != 1 || len(tm.Set[0]) != 1 {
				continue
			}
			k := fmt.Sprint(tm.Set[0][0])
			if p, ok := shared[k]; ok && p != &tm.Set[0] {
				t.Errorf("rule %d: set %s not shared", r.Pos.Handle, k)
			}
			shared[k] = &tm.Set[0]
		}
	}
	// rules written otherwise
	stmt := `[{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lan0"}}, {"accept": null}]`
	var c strings.Builder
	c.WriteString(`{"nftables": [{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 1, "expr": ` + stmt + `}}, ` + head[len(`{"nftables": [`):])
	for _, r := range []string{
		`"family": "inet", "table": "t", "chain": "c", "expr": ` + stmt,
		`"expr": ` + stmt + `, "comment": "a \"b\"", "chain": "c", "table": "t", "family": "inet", "handle": 7`,
		`"family": "inet", "table": "t", "chain": "c", "handle": 8, "comment": "plain", "expr": ` + stmt,
		`"family": "inet", "table": "t", "chain": "c", "handle": 9, "comment": "\u00e9", "expr": ` + stmt,
		`"family": "inet", "table": "t", "chain": "\u0063", "handle": 10, "expr": ` + stmt,
		`"family": "inet", "table": "t", "chain": "c", "handle": 1e1, "expr": ` + stmt,
		`"family": "inet", "table": "t", "chain": "c", "handle": 12345678901, "expr": ` + stmt,
		`"family": "inet", "table": "t", "chain": "c", "handle": -3, "expr": ` + stmt,
		`"family": "inet", "table": "t", "chain": "c", "handle": 1.5, "expr": ` + stmt,
		`"family": "inet", "table": "t", "chain": "c", "handle": "x", "expr": ` + stmt,
		`"family": "inet", "table": "t", "chain": "c", "handle": 11, "x": [1], "expr": ` + stmt,
		`"family": "inet", "family": "ip", "table": "t", "chain": "c", "handle": 12, "expr": ` + stmt,
		`"family": "inet", "table": "t", "chain": "c", "handle": 13, "expr": ` + stmt + `, "expr": []`,
		`"family": "inet", "table": "t", "chain": "c", "handle": 14, "expr": []`,
	} {
		c.WriteString(`, {"rule": {` + r + `}}`)
	}
	c.WriteString(`, {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": []}, "x": 1}]}`)
	in = []byte(c.String())
	_, err = Parse("x.json", in)
	_, werr = parseTree("x.json", in)
	if err == nil || fmt.Sprint(err) != fmt.Sprint(werr) {
		t.Errorf("%v, as a tree %v", err, werr)
	}
	in = []byte(strings.TrimSuffix(c.String(), `, {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": []}, "x": 1}]}`) + "]}")
	rs, err = Parse("x.json", in)
	want, werr = parseTree("x.json", in)
	if err != nil || werr != nil {
		t.Fatalf("%v, %v", err, werr)
	}
	if !reflect.DeepEqual(rs, want) {
		t.Errorf("streamed and straight:\n%v\nas a tree:\n%v", rs, want)
	}

	// errors of statements the straight reading starts and leaves
	for _, s := range []string{
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "192.0.2.1"}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "192.0.2.1"}}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 012}}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 12`,
		`{"match": {"op": "==", "left": {"meta": {"key": 1}}, "right": "x"}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}}}`,
		`{"counter": {"packets": 0, "bytes": 0,}}`, `{"accept": nul}`, `{"accept": null`, `{"accept": null, "drop": null}`,
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@nope"}}`,
		`{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "a` + "\x01" + `"}}`,
	} {
		if _, err := Parse("x.json", []byte(head+rule(1, s)+"]}")); err == nil {
			t.Errorf("%s: no error", s)
		}
		for _, in := range [][]byte{[]byte(head + rule(1, s) + "]}"), []byte(head + rule(1, `{"accept": null}`, s) + "]}"),
			[]byte(head + strings.Replace(rule(1, s), `"inet"`, `"ip"`, 1) + "]}"),
			[]byte(head + strings.Replace(rule(1, s), `"handle": 1,`, "", 1) + "]}")} {
			// (after a verdict, the statement is not read: no error)
			_, err := Parse("x.json", in)
			_, werr := parseTree("x.json", in)
			if fmt.Sprint(err) != fmt.Sprint(werr) {
				t.Errorf("%s: %v, as a tree %v", in, err, werr)
			}
		}
	}
}
