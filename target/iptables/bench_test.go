package iptables_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/iptables"
	"github.com/portolan/portolan/target/targettest"
)

// allInput is every embedded service with every feature on, as in
// nftables' benchmarks.
func allInput(b *testing.B) *target.Input {
	b.Helper()
	cat, err := catalog.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	var params []string
	for _, s := range cat.Services() {
		for _, p := range s.Params {
			v := p.Example
			if v == "" && p.Default != nil {
				v = *p.Default
			}
			params = append(params, s.Slug()+":"+p.Name+"="+v)
		}
	}
	cs, err := resolve.Choose(cat.Services(), resolve.Selection{AllFeatures: true, Params: params})
	if err != nil {
		b.Fatal(err)
	}
	h, _ := resolve.ParseHosts("pins", strings.NewReader(targettest.Pins(b, cs)))
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: h, Site: targettest.Site,
		Options: target.Options{Options: policy.Options{Optional: true, AllAlternatives: true}}})
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkWrite writes both families' restore files.
func BenchmarkWrite(b *testing.B) {
	in := allInput(b)
	var st target.Stats
	for b.Loop() {
		st = target.Stats{}
		for _, fam := range []int{4, 6} {
			var buf bytes.Buffer
			res, err := (iptables.Target{Family: fam}).Write(&buf, in)
			if err != nil {
				b.Fatal(err)
			}
			st.Rules += res.Stats.Rules
		}
	}
	b.ReportMetric(float64(st.Rules), "rules")
}

// BenchmarkRestore loads both files with iptables-restore --noflush and
// ip6tables-restore --noflush into a namespace.
func BenchmarkRestore(b *testing.B) {
	in := allInput(b)
	files := map[string][]byte{}
	for fam, prog := range map[int]string{4: "iptables-restore", 6: "ip6tables-restore"} {
		var buf bytes.Buffer
		if _, err := (iptables.Target{Family: fam}).Write(&buf, in); err != nil {
			b.Fatal(err)
		}
		files[prog] = buf.Bytes()
	}
	l := netlab.New(b)
	for b.Loop() {
		for prog, data := range files {
			if _, err := l.Router.RunInput(data, prog, "--noflush"); err != nil {
				b.Fatal(err)
			}
		}
	}
}
