package model

import (
	"net/netip"
	"strings"
	"testing"
)

// TestMappedAddresses checks that an IPv4-mapped IPv6 address or block in
// a profile or param is refused with its IPv4 spelling, since no IPv6
// packet carries it, and that a network named at run time is taken in its
// IPv4 form.
func TestMappedAddresses(t *testing.T) {
	entries := []struct{ in, want string }{
		{"::ffff:192.0.2.11", `address "::ffff:192.0.2.11" is IPv4-mapped IPv6, which no IPv6 packet carries; write it as IPv4: 192.0.2.11`},
		{"::FFFF:c000:20b", "write it as IPv4: 192.0.2.11"},
		{"::ffff:0:0/96", `CIDR "::ffff:0:0/96" is IPv4-mapped IPv6, which no IPv6 packet carries; write it as IPv4: 0.0.0.0/0`},
		{"::ffff:192.0.2.0/120", "write it as IPv4: 192.0.2.0/24"},
		{"::ffff:192.0.2.11/128", "write it as IPv4: 192.0.2.11/32"},
	}
	for _, tt := range entries {
		if _, err := ParseEntry(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseEntry(%q) = %v, want %q", tt.in, err, tt.want)
		}
		if !strings.Contains(tt.in, "/") {
			if _, err := ParseAddr(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseAddr(%q) = %v, want %q", tt.in, err, tt.want)
			}
		}
	}
	// IPv6 proper, mapped range within or not: kept.
	for _, in := range []string{"::/80", "::fffe:0:0/95", "::/0", "::192.0.2.11", "64:ff9b::192.0.2.11", "2001:db8::/32"} {
		e, err := ParseEntry(in)
		if err != nil || !e.Prefix.Addr().Is6() {
			t.Errorf("ParseEntry(%q) = %v, %v; want an IPv6 entry", in, e.Prefix, err)
		}
	}

	networks := []struct{ in, want string }{
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"::ffff:0:0/96", "0.0.0.0/0"},
		{"::ffff:192.0.2.10/128", "192.0.2.10/32"},
		{"::ffff:192.0.2.1/120", "192.0.2.1/24"}, // host bits kept for the caller to judge
		{"192.0.2.0/24", "192.0.2.0/24"},
		{"2001:db8:1::/64", "2001:db8:1::/64"},
		{"::/80", "::/80"},
		{"::fffe:0:0/95", "::fffe:0:0/95"},
	}
	for _, tt := range networks {
		if got := UnmapPrefix(netip.MustParsePrefix(tt.in)); got.String() != tt.want {
			t.Errorf("UnmapPrefix(%s) = %v, want %s", tt.in, got, tt.want)
		}
	}
	if got := UnmapPrefix(netip.Prefix{}); got.IsValid() {
		t.Errorf("UnmapPrefix(invalid) = %v", got)
	}
}

// FuzzUnmapPrefix checks that UnmapPrefix never returns an IPv4-mapped
// block, and that the block it returns holds the same hosts.
//
//	go test ./model -run '^$' -fuzz FuzzUnmapPrefix -fuzztime 30s
func FuzzUnmapPrefix(f *testing.F) {
	for _, s := range []string{"192.0.2.0/24", "::ffff:192.0.2.0/120", "::ffff:0:0/96", "::ffff:1.2.3.4/128", "2001:db8::/32", "::/0", "::ffff:0:0/95", "::ffff:192.0.2.1/97"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return
		}
		u := UnmapPrefix(p)
		if u.Addr().Is4In6() && u.Bits() >= 96 {
			t.Fatalf("UnmapPrefix(%v) = %v, still mapped", p, u)
		}
		if u == p {
			return
		}
		m := p.Masked()
		last := m.Addr().As16()
		for i := m.Bits(); i < 128; i++ {
			last[i/8] |= 0x80 >> (i % 8)
		}
		for _, a := range []netip.Addr{m.Addr(), netip.AddrFrom16(last), p.Addr()} {
			if !u.Contains(a.Unmap()) {
				t.Fatalf("UnmapPrefix(%v) = %v lacks %v", p, u, a.Unmap())
			}
		}
		if u.Bits() != p.Bits()-96 || !u.Addr().Is4() {
			t.Fatalf("UnmapPrefix(%v) = %v", p, u)
		}
	})
}

// FuzzParseEntry checks that ParseEntry never panics, and that an address
// entry it accepts is a valid block without zone or IPv4-mapped form.
//
//	go test ./model -run '^$' -fuzz FuzzParseEntry -fuzztime 30s
func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{"config.starleaf.com", "*.librestream.com", "{company}.call.sl", "198.51.100.7", "2001:db8::/32", "::ffff:192.0.2.1", "::ffff:0:0/96", "any", "lan", "fe80::1%eth0", "::/80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEntry(s)
		if err != nil || !e.IsAddress() {
			return
		}
		p := e.Prefix
		if !p.IsValid() || p.Masked() != p || p.Addr().Zone() != "" || UnmapPrefix(p) != p {
			t.Fatalf("ParseEntry(%q) = %v", s, p)
		}
	})
}
