package fortigate_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/fortigate"
	"github.com/portolan/portolan/target/targettest"
)

// The reader on the largest configuration the writer makes: targettest.Large
// with 10k flows, each to an IPv6 address of its own, is 10k policies,
// 10k addresses and 10k custom services (8.3 MB of CLI). Read parses
// it and builds the chains; Audit reads it and audits StarLeaf's plan
// (its flows meet every policy before the implicit deny).
//
//	go test ./target/fortigate -run '^$' -bench . -benchmem -benchtime 3x
func largeScript(b *testing.B, flows int) []byte {
	b.Helper()
	cfg := targettest.Large(b, flows, 1, false)
	cfg.Site.LANIf, cfg.Site.WANIf = "port1", "wan1"
	in, err := target.Prepare(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := (&fortigate.Target{}).Write(&buf, in); err != nil {
		b.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n        set action accept\n"); n != flows {
		b.Fatalf("%d policies, want %d", n, flows)
	}
	return buf.Bytes()
}

func BenchmarkRead(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		data := largeScript(b, n)
		b.Run(fmt.Sprintf("policies=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := fortigate.Read("large.conf", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAudit(b *testing.B) {
	data := largeScript(b, 10000)
	in := targettest.Prepare(b, []string{"starleaf"}, resolve.Selection{Params: []string{"company=acme"}},
		"203.0.113.20 acme.call.sl\n203.0.113.30 config.starleaf.com\n",
		policy.Site{Mode: policy.Gateway, LANIf: "port1", WANIf: "wan1", LAN: targettest.Site.LAN}, target.Options{})
	b.Run("policies=10000", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			rs, err := fortigate.Read("large.conf", data)
			if err != nil {
				b.Fatal(err)
			}
			a, err := audit.New(rs, in.Site)
			if err != nil {
				b.Fatal(err)
			}
			rep := a.Audit(in.Rules, in.Skips, audit.Options{})
			if len(rep.Flows) == 0 {
				b.Fatal("no flow")
			}
		}
	})
}
