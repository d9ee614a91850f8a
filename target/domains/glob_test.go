package domains_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/domains"
	"github.com/portolan/portolan/target/targettest"
)

// TestGlobWidened checks that a host-name pattern (issue 8 item 24) is
// listed as its nearest safe form, the domain and all below it, with a
// note naming the flow.
func TestGlobWidened(t *testing.T) {
	cat, err := catalog.Open("../../catalog/testdata/model")
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ := cat.Select([]string{"8x8"})
	cs, err := resolve.Choose(svcs, resolve.Selection{Params: []string{"sbc_address=192.0.2.10", "calls=50"}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: resolve.NoResolve{}, AllowUnresolved: true, Site: targettest.Site})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	res, err := (domains.Target{}).Write(&b, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "media.vendor.example\n*.vendor.example\n*.eu.vendor.example\n"; b.String() != want {
		t.Errorf("list:\n%s\nwant:\n%s", b.String(), want)
	}
	notes := strings.Join(res.Notes, "\n")
	for _, w := range []string{
		"widened: 8x8/router-https: router*.vendor.example is listed as *.vendor.example",
		"widened: 8x8/router-https: edge-*.eu.vendor.example is listed as *.eu.vendor.example",
	} {
		if !strings.Contains(notes, w) {
			t.Errorf("missing note %q in\n%s", w, notes)
		}
	}
}
