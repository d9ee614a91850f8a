package model

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in      string
		want    PortRange
		wantErr string
	}{
		{"443", PortRange{443, 443}, ""},
		{"1", PortRange{1, 1}, ""},
		{"65535", PortRange{65535, 65535}, ""},
		{"10000-20000", PortRange{10000, 20000}, ""},
		{"5060-5060", PortRange{5060, 5060}, ""},
		{"0", PortRange{}, "port 0 is not a port"},
		{"65536", PortRange{}, "above 65535"},
		{"99999999999999999999", PortRange{}, "above 65535"},
		{"20000-10000", PortRange{}, "reversed range"},
		{"-5", PortRange{}, "empty port"},
		{"5-", PortRange{}, "empty port"},
		{"+5", PortRange{}, "not a number"},
		{"1e3", PortRange{}, "not a number"},
		{"", PortRange{}, "empty port"},
		// One grammar with the JSON Schema: no spaces, no leading zeros.
		{"5590 - 5600", PortRange{}, "has a space"},
		{"5590 -5600", PortRange{}, "has a space"},
		{" 443", PortRange{}, "has a space"},
		{"443\t", PortRange{}, "has a space"},
		{"0443", PortRange{}, "leading zero"},
		{"10000-020000", PortRange{}, "leading zero"},
	}
	for _, tt := range tests {
		got, err := ParsePortRange(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePortRange(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePortRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if got.String() != strings.Replace(tt.in, "5060-5060", "5060", 1) {
			t.Errorf("String() = %q", got.String())
		}
	}
}

func TestPortSetMerges(t *testing.T) {
	s := NewPortSet(PortRange{443, 443}, PortRange{80, 80}, PortRange{81, 100}, PortRange{90, 95}, PortRange{444, 500})
	if got := s.String(); got != "80-100,443-500" {
		t.Errorf("merged = %s, want 80-100,443-500", got)
	}
	if s.Len() != 21+58 {
		t.Errorf("Len = %d", s.Len())
	}
}

// bitmap is the obvious model a PortSet must agree with.
type bitmap [65536]bool

func randSet(r *rand.Rand) (PortSet, *bitmap) {
	var s PortSet
	b := new(bitmap)
	for range r.IntN(6) {
		lo := 1 + r.IntN(65535)
		hi := min(65535, lo+r.IntN(3000))
		if r.IntN(4) == 0 {
			hi = lo
		}
		s = s.Add(PortRange{uint16(lo), uint16(hi)})
		for p := lo; p <= hi; p++ {
			b[p] = true
		}
	}
	return s, b
}

func checkSet(t *testing.T, what string, s PortSet, want func(p int) bool) {
	t.Helper()
	rs := s.Ranges()
	for i := 1; i < len(rs); i++ {
		if int(rs[i-1].Hi)+1 >= int(rs[i].Lo) {
			t.Fatalf("%s: ranges %v and %v overlap or touch", what, rs[i-1], rs[i])
		}
	}
	for p := 1; p <= 65535; p++ {
		if s.Contains(uint16(p)) != want(p) {
			t.Fatalf("%s: port %d in set = %v, want %v (set %s)", what, p, s.Contains(uint16(p)), want(p), s)
		}
	}
}

func TestPortSetAlgebra(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		a, am := randSet(r)
		b, bm := randSet(r)
		checkSet(t, "a", a, func(p int) bool { return am[p] })
		checkSet(t, "union", a.Union(b), func(p int) bool { return am[p] || bm[p] })
		checkSet(t, "intersect", a.Intersect(b), func(p int) bool { return am[p] && bm[p] })
		checkSet(t, "subtract", a.Subtract(b), func(p int) bool { return am[p] && !bm[p] })
		if !a.Union(b).Equal(b.Union(a)) {
			t.Fatal("union is not commutative")
		}
	}
	if !AllPorts().Subtract(AllPorts()).Empty() {
		t.Error("all minus all is not empty")
	}
}

func TestParseEntry(t *testing.T) {
	tests := []struct {
		in      string
		kind    EntryKind
		wantErr string
	}{
		{"config.starleaf.com", EntryName, ""},
		{"*.librestream.com", EntryWildcard, ""},
		{"{company}.call.sl", EntryTemplate, ""},
		{"{service_network}", EntryTemplate, ""},
		{"198.51.100.7", EntryAddr, ""},
		{"2001:db8::1", EntryAddr, ""},
		{"203.0.113.0/24", EntryPrefix, ""},
		{"2001:db8::/32", EntryPrefix, ""},
		{"17.0.0.0/8", EntryPrefix, ""},
		{"any", EntryAny, ""},
		{"lan", EntryLAN, ""},
		{"198.51.100.256", 0, "bad address"},
		{"198.51.100.1/24", 0, "host bits set"},
		{"198.51.100.0/33", 0, "bad CIDR"},
		{"fe80::1%eth0", 0, "zone"},
		{"localhost", 0, "not a fully qualified name"},
		{"Config.starleaf.com", 0, "not lower-case"},
		{"exa_mple.com", 0, "not a DNS label"},
		{"*.com.", 0, "bad wildcard"},
		{"{Company}.call.sl", 0, "bad template"},
		{"{company.call.sl", 0, "bad template"},
		{"", 0, "empty"},
	}
	for _, tt := range tests {
		e, err := ParseEntry(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseEntry(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || e.Kind != tt.kind {
			t.Errorf("ParseEntry(%q) = %v, %v; want kind %v", tt.in, e.Kind, err, tt.kind)
		}
	}
}

func TestSubstitute(t *testing.T) {
	vals := map[string]string{"company": "acme"}
	lookup := func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	if got, miss := Substitute("{company}.call.sl", lookup); got != "acme.call.sl" || len(miss) != 0 {
		t.Errorf("Substitute = %q %v", got, miss)
	}
	if got, miss := Substitute("{site}.{company}.example", lookup); got != "{site}.acme.example" || strings.Join(miss, ",") != "site" {
		t.Errorf("Substitute = %q %v", got, miss)
	}
	if name, ok := IsWholeParam("{sbc_media_ports}"); !ok || name != "sbc_media_ports" {
		t.Errorf("IsWholeParam = %q %v", name, ok)
	}
	if _, ok := IsWholeParam("{a}.b"); ok {
		t.Error("IsWholeParam accepted a templated name")
	}
}

func TestPortExpr(t *testing.T) {
	tests := []struct {
		expr    string
		n       int
		want    string
		wantErr string
	}{
		{"10000+2*{calls}", 50, "10000-10099", ""},
		{"10000+{calls}", 1, "10000", ""},
		{"10000-{rtp_end}", 20000, "10000-20000", ""},
		{"10000-{rtp_end}", 10000, "10000", ""},
		{"10000+2*{calls}", 30000, "", "calls=30000: 10000+2*{calls} would end at port 69999, above 65535"},
		{"10000+2*{calls}", 0, "", "calls=0: 10000+2*{calls} holds no port"},
		{"10000-{rtp_end}", 5000, "", "rtp_end=5000: 10000-{rtp_end} is a reversed range"},
		{"10000-{rtp_end}", 0, "", "rtp_end=0: 10000-{rtp_end}: port 0 is not in 1..65535"},
		{"10000 + 2*{calls}", 1, "", "write LO-{param}"},
		{"10000*2+{calls}", 1, "", "write LO-{param}"},
		{"0+{calls}", 1, "", "port 0 is not a port"},
		{"70000+{calls}", 1, "", "above 65535"},
		{"10000+0*{calls}", 1, "", "factor 0 is not in 1..65535"},
		{"10000+02*{calls}", 1, "", "leading zero"},
		{"{a}-{b}", 1, "", "write LO-{param}"},
	}
	for _, tt := range tests {
		e, err := ParsePortExpr(tt.expr)
		var r PortRange
		if err == nil {
			r, err = e.Eval(tt.n)
		}
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s with %d: err = %v, want %q", tt.expr, tt.n, err, tt.wantErr)
			}
			continue
		}
		if err != nil || r.String() != tt.want {
			t.Errorf("%s with %d = %v, %v; want %s", tt.expr, tt.n, r, err, tt.want)
		}
	}
}

func TestParseGlob(t *testing.T) {
	tests := []struct {
		in, widened, wantErr string
		match, nomatch       []string
	}{
		{"router*.vendor.com", "*.vendor.com", "", []string{"router1.vendor.com", "router.vendor.com", "router-eu-2.vendor.com"}, []string{"edge.vendor.com", "router1.x.vendor.com", "vendor.com"}},
		{"edge-*.eu.vendor.com", "*.eu.vendor.com", "", []string{"edge-7.eu.vendor.com"}, []string{"edge-7.us.vendor.com"}},
		{"a.*.vendor.com", "*.vendor.com", "", []string{"a.b.vendor.com"}, []string{"a.vendor.com"}},
		{"*-media.vendor.com", "*.vendor.com", "", []string{"eu-media.vendor.com"}, nil},
		{"*.librestream.com", "*.librestream.com", "", nil, nil}, // a wildcard, not a glob
		{"*vendor.com", "", "would widen to .com", nil, nil},
		{"router*.com", "", "would widen to .com", nil, nil},
		{"vendor.co*", "", "would widen to .", nil, nil},
		{"Router*.vendor.com", "", "not lower-case", nil, nil},
		{"router_*.vendor.com", "", "not a DNS label", nil, nil},
		{"*.*.vendor.com", "*.vendor.com", "", []string{"a.b.vendor.com"}, nil},
	}
	for _, tt := range tests {
		e, err := ParseEntry(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseEntry(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || e.Widened() != tt.widened {
			t.Errorf("ParseEntry(%q) = %v (%s), %v; want widened %s", tt.in, e.Kind, e.Widened(), err, tt.widened)
			continue
		}
		for _, n := range tt.match {
			if !e.MatchGlob(n) {
				t.Errorf("%s does not match %s", tt.in, n)
			}
		}
		for _, n := range tt.nomatch {
			if e.MatchGlob(n) {
				t.Errorf("%s matches %s", tt.in, n)
			}
		}
	}
}
