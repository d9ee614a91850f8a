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

	networks := []struct{ in, want, err string }{
		{"::ffff:192.0.2.0/120", "192.0.2.0/24", ""},
		{"::ffff:0:0/96", "0.0.0.0/0", ""},
		{"::ffff:192.0.2.10", "192.0.2.10/32", ""},
		{"::ffff:192.0.2.10/128", "192.0.2.10/32", ""},
		{"192.0.2.0/24", "192.0.2.0/24", ""},
		{"2001:db8:1::/64", "2001:db8:1::/64", ""},
		{"::/80", "::/80", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"fe80::1%eth0", "", "has a zone"},
		{"192.0.2.0/33", "", "not a CIDR block"},
		{"lan0", "", "not a CIDR block"},
	}
	for _, tt := range networks {
		p, err := ParseNetwork(tt.in)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseNetwork(%q) = %v, %v; want error %q", tt.in, p, err, tt.err)
			}
		case err != nil || p.String() != tt.want:
			t.Errorf("ParseNetwork(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
}

// FuzzParseNetwork checks that ParseNetwork never panics and never
// returns an IPv4-mapped block or a zone.
//
//	go test ./model -run '^$' -fuzz FuzzParseNetwork -fuzztime 30s
func FuzzParseNetwork(f *testing.F) {
	for _, s := range []string{"192.0.2.0/24", "::ffff:192.0.2.0/120", "::ffff:0:0/96", "::ffff:1.2.3.4", "fe80::1%eth0", "2001:db8::/32", "::/0", "", "/", "::ffff:0:0/95"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseNetwork(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p.Addr().Zone() != "" || (p.Addr().Is4In6() && p.Bits() >= 96) {
			t.Fatalf("ParseNetwork(%q) = %v", s, p)
		}
		if want, err := netip.ParsePrefix(s); err == nil && want.Addr().Is4() && want != p {
			t.Fatalf("ParseNetwork(%q) = %v, not the block as written", s, p)
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
