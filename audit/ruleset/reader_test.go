package ruleset

import (
	"net/netip"
	"testing"
)

func TestBindNames(t *testing.T) {
	c := &Chain{Family: "inet", Table: "t", Name: "fwd", Base: true, Hook: "forward"}
	r := &Rule{Chain: c, Verdict: Verdict{Kind: Accept}}
	MatchName(r, DstAddr, "SIP.Example.com.", false)
	MatchName(r, SrcAddr, "other.example.com", true)
	c.Rules = []*Rule{r}
	rs := &Ruleset{Chains: []*Chain{c}}
	if got := rs.Names(); len(got) != 2 || got[0] != "other.example.com" || got[1] != "sip.example.com" {
		t.Fatalf("Names = %q", got)
	}
	if len(r.Unknown()) != 2 || len(r.X.Conds) != 2 {
		t.Fatalf("before binding: unknown %q conds %v", r.Unknown(), r.X.Conds)
	}
	rs.BindNames(map[string][]netip.Addr{"sip.example.com": {netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")}})
	if len(r.Unknown()) != 1 || len(r.X.Conds) != 1 || len(r.X.Sets) != 1 || r.X.Sets[0].Name != NamePrefix+"other.example.com" {
		t.Fatalf("after binding: unknown %q conds %v sets %v", r.Unknown(), r.X.Conds, r.X.Sets)
	}
	if len(r.Terms) != 1 || r.Terms[0].Fields[0] != DstAddr || len(r.Terms[0].Set) != 2 {
		t.Fatalf("terms %+v", r.Terms)
	}
	// An ip-family chain keeps the IPv4 address only.
	c.Family = "ip"
	r2 := &Rule{Chain: c}
	MatchName(r2, DstAddr, "sip.example.com", false)
	c.Rules = []*Rule{r2}
	rs.BindNames(map[string][]netip.Addr{"sip.example.com": {netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")}})
	if len(r2.Terms) != 1 || len(r2.Terms[0].Set) != 1 || r2.Terms[0].Set[0][0].Lo != netip.MustParseAddr("192.0.2.7") {
		t.Fatalf("ip chain terms %+v", r2.Terms)
	}
}

func TestRegisterReader(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("an incomplete reader was registered")
		}
	}()
	RegisterReader(Reader{Format: "x"})
}
