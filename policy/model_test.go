package policy

import (
	"context"
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
