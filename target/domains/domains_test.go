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

func TestDomainList(t *testing.T) {
	cat, _ := catalog.Embedded()
	svcs, _ := cat.Select([]string{"onsight", "starleaf"})
	cs, err := resolve.Choose(svcs, resolve.Selection{AllFeatures: true, Params: []string{"company=acme", "custom_domains=onsight.example.com,203.0.113.9"}})
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
	want := "*.librestream.com\n*.librestreamtech.cn\nonsight.example.com\nsip.librestream.com\nconfig.starleaf.com\nacme.call.sl\n"
	if b.String() != want {
		t.Errorf("list:\n%s\nwant:\n%s", b.String(), want)
	}
	if res.Stats.Names != 6 || len(res.Notes) != 2 || !strings.Contains(res.Notes[0], "onsight/stun") || !strings.Contains(res.Notes[1], "onsight/redirect-http: optional") {
		t.Errorf("stats %+v, notes %q", res.Stats, res.Notes)
	}
}
