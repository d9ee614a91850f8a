package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/resolve"
)

// showModel renders `show` of a service of the catalog overlaid with dir.
func showModel(t *testing.T, dir, slug string, sel resolve.Selection) string {
	t.Helper()
	c, err := catalog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := c.Select([]string{slug})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := resolve.Choose(svcs, sel)
	if err != nil {
		t.Fatal(err)
	}
	flows, err := cs[0].Flows(false)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ShowTable(&buf, []ServiceView{{Choice: cs[0], Flows: flows, Constraints: cs[0].Constraints()}}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestShowModelFields checks that show's table says what the fields of
// issue 8 items 23-29 mean.
func TestShowModelFields(t *testing.T) {
	tests := []struct {
		name, dir, slug string
		sel             resolve.Selection
		want            []string
	}{
		{"local source ports", "", "onsight", resolve.Selection{},
			[]string{"media: the client usually sends from ports 6000-6200; rules do not match on them [004_6ded30d48ad6275a.txt line 118:"}},
		{"port-preserving NAT", "../catalog/testdata/model", "8x8", resolve.Selection{},
			[]string{"! trunk-nat  NAT must keep source ports udp 5060 unchanged (static port mapping) towards 198.51.100.0/24"}},
		{"platforms", "../catalog/testdata/model", "8x8", resolve.Selection{AllFeatures: true},
			[]string{"  platforms windows, ios, android (flows of every platform; --platform NAME to choose)",
				"push: used by only ios, android clients", "desktop-share: used by all but ios, android clients"}},
		{"glob", "../catalog/testdata/model", "8x8", resolve.Selection{},
			[]string{"router-https: router*.vendor.example is a host-name pattern: proxies and name lists allow it widened to *.vendor.example"}},
		{"roles", "../catalog/testdata/model", "8x8", resolve.Selection{Params: []string{"sbc_address=192.0.2.1"}},
			[]string{"room (role)",
				"pairing-room-udp: between roles of the site, room to room (lan): inside the site, not through the gateway",
				"sbc-media: between roles of the site, sbc (192.0.2.1) to room",
				"cloud-control-controller", "cloud-control-room"}},
		{"platform chosen", "../catalog/testdata/model", "8x8", resolve.Selection{Platforms: []string{"ios"}},
			[]string{"  platforms ios chosen, of windows, ios, android"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := showModel(t, tt.dir, tt.slug, tt.sel)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in\n%s", w, out)
				}
			}
		})
	}
}
