package policy_test

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/nftables"
)

// modelPins gives the test profiles' names documentation addresses.
const modelPins = `198.51.100.80 media.vendor.example
2001:db8:8::80 media.vendor.example
`

// modelInput builds the target input of a test profile of
// catalog/testdata/model for a site.
func modelInput(t *testing.T, slug string, sel resolve.Selection, site policy.Site) *target.Input {
	t.Helper()
	cat, err := catalog.Open("../catalog/testdata/model")
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := cat.Select([]string{slug})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := resolve.Choose(svcs, sel)
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolve.ParseHosts("pins", strings.NewReader(modelPins))
	if err != nil {
		t.Fatal(err)
	}
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: r, Site: site, Generated: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestModelProfilesNft has nft check (nft -c) the rules generated for the
// test profiles of the new model fields, in gateway and host mode,
// standalone and --chain-only.
func TestModelProfilesNft(t *testing.T) {
	l := netlab.New(t)
	lan := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:1::/64")}
	sites := map[string]policy.Site{
		"gateway": {Mode: policy.Gateway, LANIf: "lan0", WANIf: "wan0", LAN: lan},
		"host":    {Mode: policy.Host, LAN: lan},
	}
	for _, slug := range []string{"8x8"} {
		for name, site := range sites {
			for _, chainOnly := range []bool{false, true} {
				in := modelInput(t, slug, resolve.Selection{AllFeatures: true, Params: []string{"sbc_address=192.0.2.10", "calls=50"}}, site)
				in.Options.ChainOnly = chainOnly
				if chainOnly {
					in.Options.Table = "inet filter"
				}
				var b bytes.Buffer
				if _, err := (nftables.Target{}).Write(&b, in); err != nil {
					t.Fatalf("%s/%s: %v", slug, name, err)
				}
				text := b.String()
				if chainOnly {
					text = "table inet filter {}\n" + text
				}
				if out, err := l.Router.RunInput([]byte(text), "nft", "-c", "-f", "-"); err != nil {
					t.Errorf("%s/%s chain-only=%v: nft -c: %v\n%s\n%s", slug, name, chainOnly, err, out, text)
				}
			}
		}
	}
}
