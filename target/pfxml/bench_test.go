package pfxml_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/nftables"
	"github.com/portolan/portolan/target/pfxml"
	"github.com/portolan/portolan/target/targettest"
)

// BenchmarkRead reads the largest configuration portolan makes: 10k
// outbound flows, each to a host alias of its own of two IPv6 addresses
// (targettest.Large), written by each product's target: 10k filter
// rules and 10k aliases. "read" is the reader alone (XML, aliases,
// chains); "audit" adds the audit of 100 of the flows (every 100th)
// against it, as portolan audit --ruleset config.xml does. Beside them,
// the same audit of the nftables ruleset of the same plan (nft -j list
// ruleset after loading it into a namespace: the format portolan audit
// reads from a Linux box), when the benchmark runs as root.
func BenchmarkRead(b *testing.B) {
	const flows = 10000
	cfg := targettest.Large(b, flows, 2, false)
	cfg.Site.LANIf, cfg.Site.WANIf = "lan", "wan"
	in, err := target.Prepare(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	var sample []policy.Rule
	for i := 0; i < len(in.Rules); i += 100 {
		sample = append(sample, in.Rules[i])
	}
	auditRun := func(b *testing.B, read func() (*ruleset.Ruleset, error)) {
		b.ReportAllocs()
		for b.Loop() {
			rs, err := read()
			if err != nil {
				b.Fatal(err)
			}
			a, err := audit.New(rs, in.Site)
			if err != nil {
				b.Fatal(err)
			}
			a.DropTerms() // as the CLI does
			rep := a.Audit(sample, nil, audit.Options{})
			for _, f := range rep.Flows {
				if f.Verdict != audit.Allowed {
					b.Fatal(fmt.Sprintf("%s: %s: %s", f.Flow, f.Verdict, f.Summary))
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/flows, "ns/rule")
	}
	if os.Geteuid() == 0 {
		var nft bytes.Buffer
		if _, err := (nftables.Target{}).Write(&nft, in); err != nil {
			b.Fatal(err)
		}
		lab := netlab.New(b)
		if out, err := lab.Router.RunInput(nft.Bytes(), "nft", "-f", "-"); err != nil {
			b.Fatalf("nft -f: %v: %.500s", err, out)
		}
		js, err := lab.Router.Run("nft", "-j", "list", "ruleset")
		if err != nil {
			b.Fatal(err)
		}
		b.Run("nft-json/audit/10k", func(b *testing.B) {
			auditRun(b, func() (*ruleset.Ruleset, error) { return audit.Load("ruleset.json", []byte(js), "nft-json") })
		})
	}
	for _, p := range products {
		doc, _, err := pfxml.Render(p, in, false)
		if err != nil {
			b.Fatal(err)
		}
		data := []byte(doc)
		b.Run(p.Name+"/read/10k", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				rs, err := p.Read("config.xml", data)
				if err != nil {
					b.Fatal(err)
				}
				if n := len(rs.Chains[1].Rules); n < flows {
					b.Fatalf("%d rules read", n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/flows, "ns/rule")
		})
		b.Run(p.Name+"/audit/10k", func(b *testing.B) {
			auditRun(b, func() (*ruleset.Ruleset, error) { return p.Read("config.xml", data) })
		})
	}
}
