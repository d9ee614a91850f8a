package audit

import (
	"strings"
	"testing"

	"github.com/portolan/portolan/resolve"
)

// TestLoadAll checks rulesets given together: iptables-nft tables shown by
// nft -j without their matches' arguments are read from iptables-save
// when it is given, and a hint says so when it is not; ipset save fills
// in the sets of -m set matches.
func TestLoadAll(t *testing.T) {
	rules, skips := plan(t, "starleaf", resolve.Selection{Params: []string{"company=acme"}}, gateway)
	js := iptablesNft(ctEst, `{"xt": {"type": "match", "name": "set"}}, {"drop": null}`, tcp443)
	// The same tables as iptables-save prints them, the set dropping.
	save := header + "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" +
		"-A POSTROUTING -o wan0 -j MASQUERADE\nCOMMIT\n" + header + "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
		"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A FORWARD -m set --match-set ext dst -j DROP\n" +
		"-A FORWARD -p tcp -m tcp --dport 443 -j ACCEPT\nCOMMIT\n"
	sets := func(elems ...string) string {
		s := "create ext hash:net family inet hashsize 1024 maxelem 65536\n"
		for _, e := range elems {
			s += "add ext " + e + "\n"
		}
		return s
	}
	// An nft table of its own beside the iptables-nft ones: it stays.
	own := nftDoc(`{"chain": {"family": "inet", "table": "mine", "name": "fw", "handle": 1, "type": "filter", "hook": "forward", "prio": 10, "policy": "accept"}}`,
		`{"rule": {"family": "inet", "table": "mine", "chain": "fw", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "192.0.2.66"}}, {"drop": null}]}}`)
	for _, tt := range []struct {
		name    string
		in      []Input
		verdict Verdict
		why     string // in the summary
		note    string // in the report's notes
	}{
		{name: "nft JSON alone", in: []Input{{"ruleset.json", []byte(js)}}, verdict: Unknown, why: `xt match "set"`,
			note: "tables ip filter, ip nat hold iptables-nft rules whose matches nft -j does not print: run `iptables-save > iptables.save`"},
		{name: "with iptables-save", in: []Input{{"ruleset.json", []byte(js)}, {"iptables.save", []byte(save)}}, verdict: Unknown, why: "line 15: -A FORWARD -m set --match-set ext dst -j DROP",
			note: "read from iptables-save, not nft JSON: ip filter, ip nat"},
		{name: "with the set, not holding the address", in: []Input{{"ruleset.json", []byte(js)}, {"iptables.save", []byte(save)}, {"ipsets", []byte(sets("203.0.113.0/24"))}},
			verdict: Allowed, why: "accepted by line 16"},
		{name: "with the set holding it", in: []Input{{"ruleset.json", []byte(js)}, {"iptables.save", []byte(save)}, {"ipsets", []byte(sets("198.51.100.0/24"))}},
			verdict: Blocked, why: "dropped by line 15"},
		{name: "an empty set", in: []Input{{"iptables.save", []byte(save)}, {"ipsets", []byte(sets())}}, verdict: Allowed},
		{name: "a set not given", in: []Input{{"iptables.save", []byte(save)}, {"ipsets", []byte("create other hash:ip family inet\n")}}, verdict: Unknown,
			note: "ipset ext: not in the ipset save output given"},
		{name: "an nft table of its own stays", in: []Input{{"own.json", []byte(own)}, {"iptables.save", []byte(save)}, {"ipsets", []byte(sets())}}, verdict: Partial,
			why: "inet mine fw handle 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := LoadAll(tt.in, "auto")
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(rs, gateway)
			if err != nil {
				t.Fatal(err)
			}
			rep := a.Audit(rules, skips, Options{})
			f := flow(t, rep, "tunnel-https")
			if f.Verdict != tt.verdict {
				t.Fatalf("verdict %s, want %s: %s", f.Verdict, tt.verdict, f.Summary)
			}
			if !strings.Contains(f.Summary, tt.why) {
				t.Errorf("summary %q lacks %q", f.Summary, tt.why)
			}
			if tt.note != "" && !strings.Contains(strings.Join(rep.Notes, "\n"), tt.note) {
				t.Errorf("notes %q lack %q", rep.Notes, tt.note)
			}
			if tt.note == "" && strings.Contains(strings.Join(rep.Notes, "\n"), "iptables-nft rules") {
				t.Errorf("notes %q", rep.Notes)
			}
		})
	}
}

func TestLoadAllErrors(t *testing.T) {
	save := filter("ACCEPT")
	for _, tt := range []struct {
		name string
		in   []Input
		want string
	}{
		{"a table twice", []Input{{"a.save", []byte(save)}, {"b.save", []byte(save)}}, "b.save: table ip filter is in a.save too"},
		{"sets only", []Input{{"sets", []byte("create x hash:ip\n")}, {"more", []byte("create y hash:ip\n")}}, "only ipset save output"},
		{"a bad set file", []Input{{"a.save", []byte(save)}, {"sets", []byte("create x hash:ip\nadd x nonsense\n")}}, "sets:2: nonsense: "},
		{"a set twice", []Input{{"a.save", []byte(save)}, {"s1", []byte("create x hash:ip\n")}, {"s2", []byte("create x hash:ip\n")}}, "set x is in s1 too"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadAll(tt.in, "auto")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
