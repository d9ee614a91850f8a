package resolve

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestMappedAnswers checks that an IPv4-mapped IPv6 address from a hosts
// file or a DNS AAAA answer comes out as the IPv4 address it names, never
// as an IPv6 address that an IPv6 rule would be written for.
func TestMappedAnswers(t *testing.T) {
	addr := startDNS(t, map[string][]dns.RR{
		"mapped.call.sl.": {rr(t, "mapped.call.sl. 60 IN AAAA ::ffff:198.51.100.20")},
		"both.call.sl.": {
			rr(t, "both.call.sl. 60 IN A 198.51.100.21"),
			rr(t, "both.call.sl. 60 IN AAAA ::ffff:198.51.100.21"),
			rr(t, "both.call.sl. 60 IN AAAA 2001:db8::21"),
		},
	})
	d, err := NewDNS(addr)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHosts("hosts", strings.NewReader("::ffff:203.0.113.30 pinned.call.sl\n203.0.113.31 twice.call.sl\n::ffff:203.0.113.31 twice.call.sl\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		r    Resolver
		name string
		want string
	}{
		{d, "mapped.call.sl", "[198.51.100.20]"},
		{d, "both.call.sl", "[198.51.100.21 2001:db8::21]"},
		{h, "pinned.call.sl", "[203.0.113.30]"},
		{h, "twice.call.sl", "[203.0.113.31]"},
	}
	for _, tt := range tests {
		a, err := tt.r.Lookup(context.Background(), tt.name)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := fmt.Sprint(a.Addrs); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
		for _, x := range a.Addrs {
			if x.Is4In6() || x == (netip.Addr{}) {
				t.Errorf("%s: answer holds %v", tt.name, x)
			}
		}
	}
}

// FuzzHostsUnmapped checks that a hosts file never pins an IPv4-mapped
// IPv6 address nor the same address twice, and that its errors name the
// file and hold no control character.
//
//	go test ./resolve -run '^$' -fuzz FuzzHostsUnmapped -fuzztime 30s
func FuzzHostsUnmapped(f *testing.F) {
	f.Add("::ffff:198.51.100.7 a.example\n198.51.100.7 a.example\n")
	f.Add("::FFFF:c633:6407 b.example # mapped, hex\n")
	f.Add("::ffff:198.51.100.7%eth0 a.example\n")
	f.Add("198.51.100.7\x1b[2J a.example\n")
	f.Fuzz(func(t *testing.T, src string) {
		h, err := ParseHosts("fuzz", strings.NewReader(src))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz:") || strings.ContainsFunc(err.Error(), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("error %q", err)
			}
			return
		}
		for name, as := range h.addrs {
			seen := map[netip.Addr]bool{}
			for _, a := range as {
				if a.Is4In6() || seen[a] {
					t.Fatalf("%s pinned to %v", name, as)
				}
				seen[a] = true
			}
		}
	})
}
