package policy

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/resolve"
)

// modelConcrete expands a test profile of catalog/testdata/model with
// every feature and its example params, names pinned.
func modelConcrete(t *testing.T, slug string, params ...string) []resolve.Concrete {
	t.Helper()
	c, err := catalog.Open("../catalog/testdata/model")
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := c.Select([]string{slug})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := resolve.Choose(svcs, resolve.Selection{AllFeatures: true, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	flows, err := cs[0].Flows(true)
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolve.ParseHosts("pins", strings.NewReader("198.51.100.80 media.vendor.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	con, _, err := resolve.Concretize(context.Background(), flows, r)
	if err != nil {
		t.Fatal(err)
	}
	return con
}

// planSummary plans flows and writes each rule and skip compactly.
func planSummary(t *testing.T, con []resolve.Concrete, site Site) (rules, skips map[string][]string) {
	t.Helper()
	rs, sk, err := Plan(con, site, Options{Optional: true})
	if err != nil {
		t.Fatal(err)
	}
	rules, skips = map[string][]string{}, map[string][]string{}
	for _, r := range rs {
		rules[r.Flow.ID] = append(rules[r.Flow.ID], summary(r))
	}
	for _, s := range sk {
		skips[s.Flow.ID] = append(skips[s.Flow.ID], s.Reason)
	}
	return rules, skips
}

// TestPlanGlob checks that packet filters leave a flow to host-name
// patterns out, with the reason (issue 8 item 24).
func TestPlanGlob(t *testing.T) {
	con := modelConcrete(t, "8x8", "sbc_address=192.0.2.10", "calls=50")
	for _, site := range []Site{{Mode: Gateway}, {Mode: Host}} {
		rules, skips := planSummary(t, con, site)
		if len(rules["router-https"]) > 0 || len(skips["router-https"]) != 1 || !strings.Contains(skips["router-https"][0], "router*.vendor.example, edge-*.eu.vendor.example") {
			t.Errorf("%s: router-https rules %v, skips %v", site.Mode, rules["router-https"], skips["router-https"])
		}
	}
}

// TestPlanRoleToRole checks flows with several local roles and flows
// between roles of the site (issue 8 item 23): in gateway mode those
// between roles are left out as traffic inside the site; in host mode
// they are the machine's output to, or input from, the peer role's
// address, or the site's networks when the role has none.
func TestPlanRoleToRole(t *testing.T) {
	con := modelConcrete(t, "8x8", "sbc_address=192.0.2.10", "calls=50")
	lan := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:1::/64")}
	tests := []struct {
		site  Site
		rules map[string]string // flow id → its rules, joined by " | "
		skips map[string]string // flow id → reason contains
	}{
		{Site{Mode: Gateway, LANIf: "lan0", WANIf: "wan0", LAN: lan},
			map[string]string{
				"cloud-control-controller": "cloud-control-controller: forward tcp/4 lan0>wan0 src=192.0.2.0/24 dst=198.51.100.0/24 dport=8443 dname=media.vendor.example | cloud-control-controller: forward tcp/6 lan0>wan0 src=2001:db8:1::/64 dst=2001:db8:8::/48 dport=8443",
				"cloud-control-room":       "cloud-control-room: forward tcp/4 lan0>wan0 src=192.0.2.0/24 dst=198.51.100.0/24 dport=8443 dname=media.vendor.example | cloud-control-room: forward tcp/6 lan0>wan0 src=2001:db8:1::/64 dst=2001:db8:8::/48 dport=8443",
			},
			map[string]string{
				"pairing-controller-tcp": "between roles of the site (controller and room): stays inside the site",
				"pairing-room-udp":       "between roles of the site (room and room)",
				"sbc-media":              "between roles of the site (room and sbc)",
			}},
		{Site{Mode: Host, LAN: lan},
			map[string]string{
				"pairing-controller-tcp": "pairing-controller-tcp: output tcp/4 > src=any dst=192.0.2.0/24 dport=6970 | pairing-controller-tcp: output tcp/6 > src=any dst=2001:db8:1::/64 dport=6970",
				"pairing-room-udp":       "pairing-room-udp: output udp/4 > src=any dst=192.0.2.0/24 dport=6970 | pairing-room-udp: output udp/6 > src=any dst=2001:db8:1::/64 dport=6970",
				"sbc-media":              "sbc-media: input udp/4 > src=192.0.2.10/32 dst=any dport=20000-20999",
			}, nil},
		{Site{Mode: Host}, // no --lan: the site's networks are any address
			map[string]string{
				"pairing-room-tcp": "pairing-room-tcp: output tcp/4 > src=any dst=any dport=6970 | pairing-room-tcp: output tcp/6 > src=any dst=any dport=6970",
				"sbc-media":        "sbc-media: input udp/4 > src=192.0.2.10/32 dst=any dport=20000-20999",
			}, nil},
	}
	for _, tt := range tests {
		rules, skips := planSummary(t, con, tt.site)
		for id, want := range tt.rules {
			if got := strings.Join(rules[id], " | "); got != want {
				t.Errorf("%s %s:\n got %s\nwant %s", tt.site.Mode, id, got, want)
			}
		}
		for id, want := range tt.skips {
			if len(rules[id]) > 0 || len(skips[id]) != 1 || !strings.Contains(skips[id][0], want) {
				t.Errorf("%s %s: rules %v, skips %v; want skipped: %s", tt.site.Mode, id, rules[id], skips[id], want)
			}
		}
	}
}
