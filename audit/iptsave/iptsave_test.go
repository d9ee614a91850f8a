package iptsave

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit/ruleset"
)

func load(t *testing.T) *ruleset.Ruleset {
	t.Helper()
	data, err := os.ReadFile("testdata/router.rules")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Parse("router.rules", data)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func term(r *ruleset.Rule, f ruleset.Field) *ruleset.Term {
	for i := range r.Terms {
		if len(r.Terms[i].Fields) == 1 && r.Terms[i].Fields[0] == f {
			return &r.Terms[i]
		}
	}
	return nil
}

// byLine finds the rule on a line of the file.
func byLine(rs *ruleset.Ruleset, line int) *ruleset.Rule {
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if r.Pos.Line == line {
				return r
			}
		}
	}
	return nil
}

func TestParseTables(t *testing.T) {
	rs := load(t)
	if rs.Format != ruleset.IptablesSave || !rs.HasFamily(4) || !rs.HasFamily(6) {
		t.Fatalf("format %s families %v", rs.Format, rs.Families)
	}
	fw := rs.Lookup("ip", "filter", "FORWARD")
	if fw == nil || !fw.Base || fw.Hook != "forward" || fw.Prio != 0 || fw.Policy != ruleset.Drop || fw.Pos.Line != 16 {
		t.Fatalf("FORWARD = %+v", fw)
	}
	if c := rs.Lookup("ip6", "filter", "FORWARD"); c == nil || len(c.Rules) != 2 {
		t.Errorf("ip6tables FORWARD = %+v", c)
	}
	if c := rs.Lookup("ip", "nat", "PREROUTING"); c == nil || c.Type != "nat" || c.Prio != -100 {
		t.Errorf("nat PREROUTING = %+v", c)
	}
	if c := rs.Lookup("ip", "nat", "POSTROUTING"); c == nil || c.Prio != 100 || c.Hook != "postrouting" {
		t.Errorf("nat POSTROUTING = %+v", c)
	}
	if c := rs.Lookup("ip", "filter", "LAN-OUT"); c == nil || c.Base || len(c.Rules) != 12 {
		t.Errorf("LAN-OUT = %+v", c)
	}
}

func TestParseRules(t *testing.T) {
	rs := load(t)
	r := byLine(rs, 7)
	if r.Verdict.Kind != ruleset.DNAT || r.Verdict.To != netip.MustParseAddr("192.0.2.10") || r.Verdict.Port != 0 {
		t.Errorf("DNAT = %v", r.Verdict)
	}
	if tm := term(r, ruleset.IIfName); tm == nil || tm.Set[0][0].Name != "wan0" || tm.Set[0][0].Prefix {
		t.Errorf("-i wan0 = %+v", tm)
	}
	if v := byLine(rs, 8).Verdict; v.Port != 443 || v.To != netip.MustParseAddr("192.0.2.20") {
		t.Errorf("DNAT to :443 = %v", v)
	}
	if v := byLine(rs, 9).Verdict; v.Kind != ruleset.DNAT || v.To.IsValid() || !strings.Contains(v.Why, "range") {
		t.Errorf("DNAT to a range = %v", v)
	}
	if v := byLine(rs, 10).Verdict; v.Kind != ruleset.SNAT {
		t.Errorf("MASQUERADE = %v", v)
	}
	if tm := term(byLine(rs, 20), ruleset.CtState); tm == nil || len(tm.Set) != 2 || tm.Neg {
		t.Errorf("--ctstate RELATED,ESTABLISHED = %+v", tm)
	}
	if tm := term(byLine(rs, 21), ruleset.CtState); tm == nil || tm.Set[0][0].Num != ruleset.CtInvalid {
		t.Errorf("--state INVALID = %+v", tm)
	}
	if r := byLine(rs, 22); r.Verdict.Kind != ruleset.Jump || r.Verdict.Chain != "LAN-OUT" {
		t.Errorf("-j LAN-OUT = %v", r.Verdict)
	}
	r = byLine(rs, 23)
	if tm := term(r, ruleset.IIfName); tm == nil || tm.Set[0][0].Name != "wan" || !tm.Set[0][0].Prefix {
		t.Errorf("-i wan+ = %+v", tm)
	}
	if tm := term(r, ruleset.DstAddr); tm == nil || tm.Set[0][0].Lo != tm.Set[0][0].Hi {
		t.Errorf("-d 192.0.2.10/32 = %+v", tm)
	}
	if r := byLine(rs, 24); len(r.Unknown()) != 1 || !strings.Contains(r.Unknown()[0], "DNAT") {
		t.Errorf("--ctstate DNAT is a virtual state portolan does not follow: %v", r.Unknown())
	}
	if tm := term(byLine(rs, 25), ruleset.CtStatus); tm == nil || tm.Mask != ruleset.CtStatusConfirmed || !tm.Neg {
		t.Errorf("--ctstatus CONFIRMED = %+v", tm)
	}
	if tm := term(byLine(rs, 26), ruleset.SrcAddr); tm == nil || !tm.Neg || tm.Set[0][0].Hi != netip.MustParseAddr("192.0.2.255") {
		t.Errorf("! -s 192.0.2.0/255.255.255.0 = %+v", tm)
	}
	r = byLine(rs, 27)
	if tm := term(r, ruleset.DstPort); tm == nil || len(tm.Set) != 3 || tm.Set[2][0].PLo != 8000 || tm.Set[2][0].PHi != 8100 {
		t.Errorf("--dports 80,443,8000:8100 = %+v", tm)
	}
	if !strings.HasPrefix(r.Pos.Text, "[5:300] -A LAN-OUT") || len(r.Unknown()) != 0 {
		t.Errorf("line text %q, unknown %v", r.Pos.Text, r.Unknown())
	}
	if tm := byLine(rs, 28).Terms; len(tm) != 2 || len(tm[1].Fields) != 2 || len(tm[1].Set) != 2 {
		t.Errorf("--ports 3478: sport or dport: %+v", tm)
	}
	if tm := term(byLine(rs, 29), ruleset.TCPFlags); tm == nil || !tm.Neg || tm.Mask != 0x17 || tm.Set[0][0].Num != ruleset.TCPSyn {
		t.Errorf("! --tcp-flags FIN,SYN,RST,ACK SYN = %+v", tm)
	}
	if tm := term(byLine(rs, 30), ruleset.DstAddr); tm == nil || tm.Set[0][0].Hi != netip.MustParseAddr("198.51.100.20") {
		t.Errorf("--dst-range = %+v", tm)
	}
	if r := byLine(rs, 31); len(r.Unknown()) != 1 || !strings.Contains(r.Unknown()[0], "-m set --match-set blocked dst") {
		t.Errorf("ipset: %v", r.Unknown())
	}
	if r := byLine(rs, 32); len(r.Unknown()) != 1 || !strings.Contains(r.Unknown()[0], "limit") || r.Verdict.Kind != ruleset.Accept {
		t.Errorf("limit: %v %v", r.Unknown(), r.Verdict)
	}
	if r := byLine(rs, 33); r.Verdict.Kind != ruleset.Continue {
		t.Errorf("LOG goes on: %v", r.Verdict)
	}
	if r := byLine(rs, 34); r.Verdict.Kind != ruleset.Reject {
		t.Errorf("REJECT: %v", r.Verdict)
	}
	if r := byLine(rs, 35); r.Verdict.Kind != ruleset.Goto || r.Verdict.Chain != "LAN-OUT2" {
		t.Errorf("-g: %v", r.Verdict)
	}
	if r := byLine(rs, 36); r.Verdict.Kind != ruleset.Unknown || !strings.Contains(r.Verdict.Why, "NFQUEUE") {
		t.Errorf("NFQUEUE: %v", r.Verdict)
	}
	if r := byLine(rs, 37); len(r.Terms) != 1 || len(r.Terms[0].Set) != 0 {
		t.Errorf("-f matches no whole packet: %+v", r.Terms)
	}
	if r := byLine(rs, 38); r.Verdict.Kind != ruleset.Return || r.String() != "line 38: -A LAN-OUT -j RETURN" {
		t.Errorf("RETURN: %v %s", r.Verdict, r)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     string
	}{
		{"empty", "", "rules: no table"},
		{"rule first", "-A FORWARD -j ACCEPT\n", "rules:1: a rule outside a table"},
		{"unknown table", "*filtr\nCOMMIT\n", `rules:1: *filtr: unknown table "filtr"`},
		{"no commit", "*filter\n:FORWARD DROP [0:0]\n", "rules:1: *filter: the table has no COMMIT line"},
		{"two tables open", "*filter\n*nat\nCOMMIT\n", "rules:2: *nat: table filter (line 1) has no COMMIT"},
		{"bad policy", "*filter\n:FORWARD REJECT [0:0]\nCOMMIT\n", `rules:2: :FORWARD: policy "REJECT": ACCEPT or DROP`},
		{"user chain policy", "*filter\n:mine DROP [0:0]\nCOMMIT\n", `rules:2: :mine: a user chain has no policy`},
		{"undeclared chain", "*filter\n:FORWARD DROP [0:0]\n-A FWD -j ACCEPT\nCOMMIT\n", `rules:3: -A FWD: chain "FWD" is not declared`},
		{"jump nowhere", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -j mychain\nCOMMIT\n", `rules:3: -j mychain: chain "mychain" is not declared`},
		{"bad address", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -s 192.0.2.300 -j ACCEPT\nCOMMIT\n", `rules:3: -s: "192.0.2.300" is not an address`},
		{"bad mask", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -s 192.0.2.0/33 -j ACCEPT\nCOMMIT\n", `rules:3: -s: "192.0.2.0/33": prefix length out of range`},
		{"bad port", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p tcp -m tcp --dport 70000 -j ACCEPT\nCOMMIT\n", `rules:3: --dport: "70000" is not a port number`},
		{"no value", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p tcp -m tcp --dport\nCOMMIT\n", `rules:3: --dport: needs a value`},
		{"bad state", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -m state --state NEWISH -j ACCEPT\nCOMMIT\n", `rules:3: --state: unknown state "NEWISH"`},
		{"open quote", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -m comment --comment \"x -j ACCEPT\nCOMMIT\n", `rules:3: a quote is not closed`},
		{"not -A", "*filter\n:FORWARD DROP [0:0]\n-I FORWARD 1 -j ACCEPT\nCOMMIT\n", `rules:3: -I: only -A rules are read`},
		{"mixed families", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -s 192.0.2.1 -j ACCEPT\n-A FORWARD -s 2001:db8::1 -j ACCEPT\nCOMMIT\n", "rules:1: *filter: the table mixes IPv4 and IPv6"},
		{"commit alone", "COMMIT\n", "rules:1: COMMIT: COMMIT outside a table"},
		{"chain first", ":FORWARD DROP [0:0]\n", "rules:1: :FORWARD DROP [0:0]: a chain outside a table"},
		{"double !", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD ! ! -s 192.0.2.1 -j ACCEPT\nCOMMIT\n", "rules:3: !: two ! in a row"},
		{"no DNAT target", "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j DNAT\nCOMMIT\n", "rules:3: -j DNAT: needs --to-destination"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("rules", []byte(tt.in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%q lacks %q", err, tt.want)
			}
		})
	}
}

func TestFamilies(t *testing.T) {
	// Without a "Generated by" line the addresses say the family.
	rs, err := Parse("x", []byte("*filter\n:FORWARD DROP [0:0]\n-A FORWARD -d 2001:db8::/32 -j ACCEPT\nCOMMIT\n"))
	if err != nil || !rs.HasFamily(6) || rs.HasFamily(4) {
		t.Errorf("v6 by address: %v %v", err, rs)
	}
	rs, err = Parse("x", []byte("*filter\n:FORWARD DROP [0:0]\n-A FORWARD -j ACCEPT\nCOMMIT\n"))
	if err != nil || !rs.HasFamily(4) || len(rs.Notes) != 1 {
		t.Errorf("no addresses, no comment: %v %v", err, rs)
	}
	_, err = Parse("x", []byte("# Generated by ip6tables-save v1.8.9\n*filter\n:FORWARD DROP [0:0]\n-A FORWARD -s 192.0.2.1 -j ACCEPT\nCOMMIT\n"))
	if err == nil || !strings.Contains(err.Error(), "IPv6 table with addresses of the other family") {
		t.Errorf("v4 address in ip6tables output: %v", err)
	}
}

func TestLooks(t *testing.T) {
	data, _ := os.ReadFile("testdata/router.rules")
	if !Looks(data) || !Looks([]byte("\n*filter\n")) || Looks([]byte(`{"nftables": []}`)) || Looks([]byte("hello\n")) {
		t.Error("Looks")
	}
}
