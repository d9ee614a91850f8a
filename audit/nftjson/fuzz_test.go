package nftjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes: it must not panic, every error
// must be an *Error naming the file, and the streamed reading must give
// what reading the whole document as one tree gives.
func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("testdata/constructs.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"nftables": []}`))
	f.Add([]byte(`{"nftables": [{"chain": {"family": "inet", "table": "t", "name": "c", "hook": "forward", "prio": 0, "policy": "drop"}}, {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 2, "expr": [{"match": {"op": "!=", "left": {"payload": {"protocol": "tcp", "field": "sport"}}, "right": 1}}, {"match": {"op": "!=", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 2}}, {"vmap": {"key": {"concat": [{"meta": {"key": "iifname"}}, {"payload": {"protocol": "ip", "field": "saddr"}}]}, "data": {"set": [[{"concat": ["eth*", {"prefix": {"addr": "192.0.2.0", "len": 24}}]}, {"accept": null}]]}}}]}}]}`))
	// rules before their chain and set, and a set declared after the rules
	// that name it: the order nft never prints, read all the same
	f.Add([]byte(`{"nftables": [{"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@s"}}, {"drop": null}]}}, {"chain": {"family": "ip", "table": "t", "name": "c", "hook": "input", "prio": 0}}, {"set": {"family": "ip", "table": "t", "name": "s", "type": "ipv4_addr", "elem": ["192.0.2.1"]}}]}`))
	f.Add([]byte(`{"nftables": [{"set": {"family": "ip", "table": "t", "name": "s", "type": "ipv4_addr", "elem": ["192.0.2.1"]}}, {"chain": {"family": "ip", "table": "t", "name": "c", "hook": "input", "prio": 0}}, {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@s"}}, {"drop": null}]}}, {"set": {"family": "ip", "table": "t", "name": "s", "type": "ipv4_addr", "elem": ["192.0.2.2"]}}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		rs, err := Parse("fuzz.json", in)
		// The streamed reading gives what reading one tree gives.
		want, werr := parseTree("fuzz.json", in)
		if fmt.Sprint(err) != fmt.Sprint(werr) || err == nil && !reflect.DeepEqual(rs, want) {
			t.Fatalf("streamed: %v, %v\nas a tree: %v, %v", rs, err, want, werr)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != "fuzz.json" {
				t.Fatalf("error %T %v does not name the file", err, err)
			}
			return
		}
		for _, c := range rs.Chains {
			for i, r := range c.Rules {
				if r.Index != i || r.Chain != c {
					t.Fatalf("rule %d of %s: index %d", i, c, r.Index)
				}
				for _, tm := range r.Terms {
					for _, tu := range tm.Set {
						if len(tu) != len(tm.Fields) {
							t.Fatalf("a tuple of %d values for %d fields", len(tu), len(tm.Fields))
						}
					}
				}
			}
		}
	})
}

// FuzzDecode checks the compact decoder against encoding/json: the same
// documents are valid, and they decode to the same values.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a": [1, -2.5e3, "x\u00e9\"", true, false, null, {}]}`, `[]`, `"\ud83d\ude00"`, `{"a":1,"a":2}`, `0`, `-0.0E+1`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := decode(in)
		var want any
		d := json.NewDecoder(bytes.NewReader(in))
		d.UseNumber()
		werr := d.Decode(&want)
		if werr == nil && d.More() {
			werr = errors.New("more")
		}
		if werr == nil {
			// encoding/json accepts trailing space only
			if _, err2 := d.Token(); err2 != io.EOF {
				werr = errors.New("trailing data")
			}
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("decode err %v, encoding/json err %v", err, werr)
		}
		if err != nil {
			return
		}
		if !sameJSON(got, want) {
			t.Fatalf("decode %#v, encoding/json %#v", got, want)
		}
	})
}

// sameJSON compares a decoded value with encoding/json's (objects: the
// last of duplicate keys wins there).
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case obj:
		m, ok := b.(map[string]any)
		if !ok {
			return false
		}
		last := map[string]any{}
		for _, mem := range x {
			last[mem.k] = mem.v
		}
		if len(last) != len(m) {
			return false
		}
		for k, v := range last {
			if !sameJSON(v, m[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}
