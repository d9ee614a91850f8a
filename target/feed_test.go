package target

import (
	"net/netip"
	"testing"
	"time"

	"github.com/portolan/portolan/resolve"
)

// TestResolvedFeed: a set's comment says where its feed's addresses come
// from, after its names' resolution when it has names, and why it has
// none when the list could not be had; a fed set is dynamic (sync
// refreshes it).
func TestResolvedFeed(t *testing.T) {
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	name := resolve.NameAddrs{Name: "relay.example.com", Answer: resolve.Answer{Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.9")}, TTL: 300 * time.Second, At: at}}
	about := "source https://lists.example.com/r.txt version sha256:0123 fetched 2026-12-03T11:00:00Z"
	tests := []struct {
		name    string
		set     AddrSet
		want    string
		dynamic bool
	}{
		{"literal only", AddrSet{}, "", false},
		{"names", AddrSet{Names: []resolve.NameAddrs{name}}, "resolved 2026-12-03T12:00:00Z, TTL 300s", true},
		{"feed", AddrSet{Feed: &resolve.Feed{About: about}}, about, true},
		{"names and feed", AddrSet{Names: []resolve.NameAddrs{name}, Feed: &resolve.Feed{About: about}}, "resolved 2026-12-03T12:00:00Z, TTL 300s; " + about, true},
		{"feed failed", AddrSet{Feed: &resolve.Feed{Err: "feed https://lists.example.com/r.txt: 503 Service Unavailable"}}, "feed: no address (feed https://lists.example.com/r.txt: 503 Service Unavailable)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.set.Resolved(); got != tt.want {
				t.Errorf("Resolved() = %q, want %q", got, tt.want)
			}
			if got := tt.set.Dynamic(); got != tt.dynamic {
				t.Errorf("Dynamic() = %v, want %v", got, tt.dynamic)
			}
		})
	}
}
