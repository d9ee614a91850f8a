package nftables_test

import (
	"strings"
	"testing"

	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/nftables"
)

const listSets = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
{"set": {"family": "inet", "name": "starleaf_tunnel_v4", "table": "portolan", "type": "ipv4_addr", "handle": 5, "flags": ["interval"],
  "elem": [{"elem": {"val": "203.0.113.21", "comment": "acme.call.sl"}}, "203.0.113.22", {"prefix": {"addr": "198.51.100.0", "len": 25}}, {"range": ["203.0.113.30", "203.0.113.40"]},
           {"elem": {"val": {"prefix": {"addr": "192.0.2.128", "len": 25}}, "comment": "x"}}]}},
{"set": {"family": "inet", "name": "starleaf_tunnel_v6", "table": "portolan", "type": "ipv6_addr", "handle": 6, "flags": ["interval"]}},
{"set": {"family": "inet", "name": "ports", "table": "portolan", "type": "inet_service", "handle": 7, "elem": [443]}},
{"set": {"family": "inet", "name": "other", "table": "filter", "type": "ipv4_addr", "handle": 8, "elem": ["192.0.2.1"]}}]}`

func TestParseSets(t *testing.T) {
	sets, err := nftables.ParseSets([]byte(listSets), "inet", "portolan")
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 {
		t.Fatalf("%d sets, want the two address sets of inet portolan: %v", len(sets), sets)
	}
	got := strings.Join(target.Elements(sets["starleaf_tunnel_v4"]), " ")
	if want := "192.0.2.128/25 198.51.100.0/25 203.0.113.21-203.0.113.22 203.0.113.30-203.0.113.40"; got != want {
		t.Errorf("elements %s, want %s", got, want)
	}
	if s := sets["starleaf_tunnel_v6"]; s == nil || len(s.Prefixes()) != 0 {
		t.Errorf("empty set: %v", s)
	}
	for _, bad := range []string{
		`{"nftables": [{"set": {"family": "inet", "name": "x", "table": "portolan", "type": "ipv4_addr", "elem": ["not an address"]}}]}`,
		`{"nftables": [{"set": {"family": "inet", "name": "x", "table": "portolan", "type": "ipv4_addr", "elem": [{"prefix": {"addr": "192.0.2.0", "len": 99}}]}}]}`,
		`{"nftables": [{"set": {"family": "inet", "name": "x", "table": "portolan", "type": "ipv4_addr", "elem": [{"range": ["192.0.2.9", "192.0.2.1"]}]}}]}`,
		`{"nftables": [{"set": {"family": "inet", "name": "x", "table": "portolan", "type": "ipv4_addr", "elem": [{"what": 1}]}}]}`,
		`not json`,
	} {
		if _, err := nftables.ParseSets([]byte(bad), "inet", "portolan"); err == nil {
			t.Errorf("no error for %s", bad)
		}
	}
}

func FuzzParseSets(f *testing.F) {
	f.Add([]byte(listSets))
	f.Add([]byte(`{"nftables": []}`))
	f.Add([]byte(`{"nftables": [{"set": {"family": "inet", "name": "x", "table": "portolan", "type": "ipv6_addr", "elem": [{"elem": {"val": {"elem": {"val": "::1"}}}}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sets, err := nftables.ParseSets(data, "inet", "portolan")
		if err != nil {
			return
		}
		for name, s := range sets {
			if s == nil {
				t.Fatalf("set %s is nil", name)
			}
			_ = target.Elements(s)
		}
	})
}
