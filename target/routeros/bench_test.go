package routeros_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/iptsave"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/iptables"
	"github.com/portolan/portolan/target/routeros"
	"github.com/portolan/portolan/target/targettest"
)

// benchInputs writes the same plan — targettest.Large: n outbound flows,
// each to one IPv6 address and a port of its own — as a RouterOS script
// and as ip6tables-restore input (which iptables-save prints alike): n
// accept rules each, the rules a user would otherwise audit with
// iptables-save.
func benchInputs(b *testing.B, n int) (*target.Input, []byte, []byte) {
	b.Helper()
	in, err := target.Prepare(context.Background(), targettest.Large(b, n, 1, false))
	if err != nil {
		b.Fatal(err)
	}
	var ros, ipt bytes.Buffer
	if _, err := (&routeros.Target{}).Write(&ros, in); err != nil {
		b.Fatal(err)
	}
	if _, err := (iptables.Target{Family: 6}).Write(&ipt, in); err != nil {
		b.Fatal(err)
	}
	// iptables-save prints no -F lines: the restore file's flushes go
	var save []byte
	for _, l := range bytes.SplitAfter(ipt.Bytes(), []byte("\n")) {
		if !bytes.HasPrefix(l, []byte("-F ")) {
			save = append(save, l...)
		}
	}
	return in, ros.Bytes(), save
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// BenchmarkRead parses the RouterOS script and the iptables-save text of
// the same rules; heap-MB is the heap the ruleset read holds.
func BenchmarkRead(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		_, ros, ipt := benchInputs(b, n)
		for _, c := range []struct {
			name  string
			data  []byte
			parse func() (any, error)
		}{
			{"routeros", ros, func() (any, error) { return routeros.Parse("b.rsc", ros) }},
			{"iptables-save", ipt, func() (any, error) { return iptsave.Parse("b.rules", ipt) }},
		} {
			b.Run(fmt.Sprintf("%s/%dk", c.name, n/1000), func(b *testing.B) {
				b.SetBytes(int64(len(c.data)))
				base := heapMB()
				var keep any
				for b.Loop() {
					rs, err := c.parse()
					if err != nil {
						b.Fatal(err)
					}
					keep = rs
				}
				b.ReportMetric(heapMB()-base, "heap-MB")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/rule")
				runtime.KeepAlive(keep)
			})
		}
	}
}

// BenchmarkAudit reads each and audits 100 of the plan's flows, spread
// over the chain (every n/100th), against it: what portolan audit
// --ruleset does with the file.
func BenchmarkAudit(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		in, ros, ipt := benchInputs(b, n)
		var rules []policy.Rule
		flows := map[string]bool{}
		for _, r := range in.Rules {
			var i int
			if _, err := fmt.Sscanf(r.Flow.ID, "f%d", &i); err == nil && i%(n/100) == 0 {
				rules = append(rules, r)
				flows[r.Flow.ID] = true
			}
		}
		for _, c := range []struct {
			name, format string
			data         []byte
		}{{"routeros", "routeros", ros}, {"iptables-save", "iptables-save", ipt}} {
			b.Run(fmt.Sprintf("%s/%dk", c.name, n/1000), func(b *testing.B) {
				for b.Loop() {
					rs, err := audit.Load("b", c.data, c.format)
					if err != nil {
						b.Fatal(err)
					}
					a, err := audit.New(rs, in.Site)
					if err != nil {
						b.Fatal(err)
					}
					a.DropTerms()
					rep := a.Audit(rules, nil, audit.Options{})
					if len(rep.Flows) != len(flows) {
						b.Fatalf("%d flows", len(rep.Flows))
					}
					for _, f := range rep.Flows {
						if f.Verdict != audit.Allowed {
							b.Fatalf("%s: %s: %s", f.Flow, f.Verdict, f.Summary)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(flows)), "ns/flow")
			})
		}
	}
}
