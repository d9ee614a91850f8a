package resolve

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/portolan/portolan/model"
)

// TestFeedAddresses: a feed's addresses join its host set in flows, as
// literal addresses of the concrete flow, but not in HostEntries (which
// comments list) nor in constraints; a set whose feed gave nothing has
// only its entries, never "any".
func TestFeedAddresses(t *testing.T) {
	svc := &model.Service{
		Info:  model.Info{Slug: "demo"},
		Roles: []model.Role{{Name: "client"}},
		Hosts: []model.HostSet{
			{Name: "relays", Entries: []string{"203.0.113.200"}, Feed: &model.Feed{Format: model.FeedCIDR, URL: "https://lists.example.com/r.txt"}},
			{Name: "empty", Feed: &model.Feed{Format: model.FeedCIDR, URL: "https://lists.example.com/e.txt"}},
		},
		Flows: []model.Flow{
			{ID: "media", Direction: model.Outbound, Proto: model.StringList{"udp"}, Ports: []string{"8801-8810"}, Local: model.StringList{"client"}, Remote: []string{"relays"}, Necessity: model.Required},
			{ID: "none", Direction: model.Outbound, Proto: model.StringList{"udp"}, Ports: []string{"9000"}, Local: model.StringList{"client"}, Remote: []string{"empty"}, Necessity: model.Required},
		},
		Constraints: []model.Constraint{{ID: "no-ssl", Kind: model.KindSSLInspectionOff, Hosts: []string{"relays"}}},
	}
	cs, err := Choose([]*model.Service{svc}, Selection{})
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	c.Feeds = map[string]*Feed{
		"relays": {Prefixes: []netip.Prefix{netip.MustParsePrefix("203.0.113.64/27"), netip.MustParsePrefix("203.0.113.10/32"), netip.MustParsePrefix("2001:db8:64::/48")}, About: "source x"},
		"empty":  {Err: "feed https://lists.example.com/e.txt: 503"},
	}
	flows, err := c.Flows(true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"203.0.113.200", "203.0.113.64/27", "203.0.113.10", "2001:db8:64::/48"}
	if !slices.Equal(flows[0].Dest, want) {
		t.Errorf("dest %v, want %v", flows[0].Dest, want)
	}
	if got := c.HostEntries("relays"); !slices.Equal(got, []string{"203.0.113.200"}) {
		t.Errorf("HostEntries %v, want the written entry only", got)
	}
	if k := c.Constraints(); !slices.Equal(k[0].Hosts, []string{"203.0.113.200"}) {
		t.Errorf("constraint hosts %v", k[0].Hosts)
	}
	con, _, err := Concretize(context.Background(), flows, NoResolve{})
	if err != nil {
		t.Fatal(err)
	}
	if got := con[0].LiteralPrefixes(4); !slices.Equal(got, []netip.Prefix{netip.MustParsePrefix("203.0.113.10/32"), netip.MustParsePrefix("203.0.113.64/27"), netip.MustParsePrefix("203.0.113.200/32")}) {
		t.Errorf("literal IPv4 %v", got)
	}
	if n := con[1]; n.Any || len(n.Prefixes(4)) > 0 || len(n.Prefixes(6)) > 0 {
		t.Errorf("a set whose feed gave nothing: any=%v %v %v", n.Any, n.Prefixes(4), n.Prefixes(6))
	}
}
