package asa_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/asa"
	"github.com/portolan/portolan/target/iptables"
	"github.com/portolan/portolan/target/nftables"
	"github.com/portolan/portolan/target/targettest"
)

// benchACEs is the size of the benchmark's access list: a big site's
// allow-list (targettest.Large), one flow per entry, each to a host set
// of two IPv6 addresses of its own.
const benchACEs = 10000

func benchInput(b *testing.B) *target.Input {
	b.Helper()
	cfg := targettest.Large(b, benchACEs, 2, false)
	cfg.Site.LANIf, cfg.Site.WANIf = "inside", "outside"
	in, err := target.Prepare(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkRead reads the ASA configuration of 10k access list entries
// (and as many object groups) into chains ("parse"), and audits
// 100 flows of its plan against it ("audit": parse, compile, evaluate); beside
// it, the same for the plan's nftables ruleset (loaded into a namespace,
// read back as nft -j list ruleset prints it; needs root) and its
// ip6tables-restore output read as iptables-save.
func BenchmarkRead(b *testing.B) {
	in := benchInput(b)
	var asaText, ipt bytes.Buffer
	if _, err := (asa.Target{}).Write(&asaText, in); err != nil {
		b.Fatal(err)
	}
	if _, err := (iptables.Target{Family: 6}).Write(&ipt, in); err != nil {
		b.Fatal(err)
	}
	// ip6tables-restore --noflush input is iptables-save output but for
	// its -F lines, which empty the chains first.
	var lines []string
	for _, l := range strings.Split(ipt.String(), "\n") {
		if !strings.HasPrefix(l, "-F ") {
			lines = append(lines, l)
		}
	}
	iptText := []byte(strings.Join(lines, "\n"))
	// The audit evaluates every 100th flow (100 flows, spread over the
	// list) against the whole configuration: each of them is decided
	// after the entries before its own.
	var sample []policy.Rule
	for i, r := range in.Rules {
		if i%100 == 0 {
			sample = append(sample, r)
		}
	}
	run := func(b *testing.B, data []byte, format string, audit1 bool) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			rs, err := audit.Load("bench", data, format)
			if err != nil {
				b.Fatal(err)
			}
			if !audit1 {
				continue
			}
			a, err := audit.New(rs, in.Site)
			if err != nil {
				b.Fatal(err)
			}
			a.DropTerms()
			rep := a.Audit(sample, nil, audit.Options{})
			if len(rep.Flows) != len(sample) {
				b.Fatalf("%d flows audited, want %d", len(rep.Flows), len(sample))
			}
			for _, f := range rep.Flows {
				if f.Verdict != audit.Allowed {
					b.Fatalf("%s: %s/%s %s: %s", format, f.Service, f.Flow, f.Verdict, f.Summary)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchACEs, "ns/entry")
	}
	// The nftables ruleset of the same plan, loaded into a namespace and
	// listed as nft -j list ruleset prints it (what portolan audit reads).
	var nftJSON []byte
	{
		var nb bytes.Buffer
		if _, err := (nftables.Target{}).Write(&nb, in); err != nil {
			b.Fatal(err)
		}
		l := netlab.New(b)
		if err := l.Router.Nft(nb.String()); err != nil {
			b.Fatal(err)
		}
		out, err := l.Router.Run("nft", "-j", "list", "ruleset")
		if err != nil {
			b.Fatal(err)
		}
		nftJSON = []byte(out)
	}
	b.Run("asa/parse", func(b *testing.B) { run(b, asaText.Bytes(), "asa", false) })
	b.Run("asa/audit", func(b *testing.B) { run(b, asaText.Bytes(), "asa", true) })
	b.Run("nft-json/parse", func(b *testing.B) { run(b, nftJSON, "nft-json", false) })
	b.Run("nft-json/audit", func(b *testing.B) { run(b, nftJSON, "nft-json", true) })
	b.Run("ip6tables/parse", func(b *testing.B) { run(b, iptText, "iptables-save", false) })
	b.Run("ip6tables/audit", func(b *testing.B) { run(b, iptText, "iptables-save", true) })
}
