package nftjson

import (
	"bytes"
	"fmt"
	"testing"
)

// benchInput is a ruleset of n rules of the shape of the audit's
// synthetic ones (audit/synth_test.go, another package): a forward chain
// dispatching to zone chains of host and port rules, as nft -j prints
// them.
func benchInput(n int) []byte {
	var w bytes.Buffer
	w.WriteString(`{"nftables":[{"metainfo":{"json_schema_version":1,"release_name":"Lester Gooch #5","version":"1.0.6"}},{"table":{"family":"inet","handle":1,"name":"fw"}},`)
	w.WriteString(`{"set":{"elem":[{"prefix":{"addr":"203.0.113.0","len":30}},{"prefix":{"addr":"203.0.113.4","len":30}}],"family":"inet","flags":["interval"],"handle":3,"name":"blocked","table":"fw","type":"ipv4_addr"}},`)
	w.WriteString(`{"chain":{"family":"inet","handle":4,"hook":"forward","name":"forward","policy":"drop","prio":0,"table":"fw","type":"filter"}}`)
	for z := range 5 {
		fmt.Fprintf(&w, `,{"chain":{"family":"inet","handle":%d,"name":"zone%d","table":"fw"}}`, 5+z, z)
	}
	w.WriteString(`,{"rule":{"chain":"forward","expr":[{"match":{"left":{"ct":{"key":"state"}},"op":"in","right":["established","related"]}},{"accept":null}],"family":"inet","handle":10,"table":"fw"}}`)
	w.WriteString(`,{"rule":{"chain":"forward","expr":[{"match":{"left":{"payload":{"field":"daddr","protocol":"ip"}},"op":"==","right":"@blocked"}},{"counter":{"bytes":0,"packets":0}},{"drop":null}],"family":"inet","handle":11,"table":"fw"}}`)
	for z := range 5 {
		fmt.Fprintf(&w, `,{"rule":{"chain":"forward","expr":[{"match":{"left":{"meta":{"key":"iifname"}},"op":"==","right":"zone%d"}},{"jump":{"target":"zone%d"}}],"family":"inet","handle":%d,"table":"fw"}}`, z, z, 12+z)
	}
	verdicts := []string{`,{"accept":null}`, `,{"drop":null}`, ``}
	protos := []string{"tcp", "udp"}
	for i := range n - 7 {
		fmt.Fprintf(&w, `,{"rule":{"chain":"zone%d","expr":[`, i%5)
		if i%3 == 1 {
			fmt.Fprintf(&w, `{"match":{"left":{"payload":{"field":"saddr","protocol":"ip6"}},"op":"==","right":"2001:db8:1::%x"}},`, i%65536)
			fmt.Fprintf(&w, `{"match":{"left":{"payload":{"field":"daddr","protocol":"ip6"}},"op":"==","right":"2001:db8:6::%x"}},`, i*7%65536)
		} else {
			if i%2 == 0 {
				fmt.Fprintf(&w, `{"match":{"left":{"payload":{"field":"saddr","protocol":"ip"}},"op":"==","right":"192.0.2.%d"}},`, i%250)
			}
			fmt.Fprintf(&w, `{"match":{"left":{"payload":{"field":"daddr","protocol":"ip"}},"op":"==","right":"198.51.100.%d"}},`, i*7%250)
		}
		fmt.Fprintf(&w, `{"match":{"left":{"payload":{"field":"dport","protocol":"%s"}},"op":"==","right":%d}},{"counter":{"bytes":0,"packets":0}}%s],"family":"inet","handle":%d,"table":"fw"}}`,
			protos[i%2], 1+i*13%2000, verdicts[i%3], 20+i)
	}
	w.WriteString("]}\n")
	return w.Bytes()
}

// BenchmarkParse is the reading alone of the audit's synthetic rulesets.
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			data := benchInput(n)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse("x.json", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
